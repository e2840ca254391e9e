// Tumbling, hopping and cumulate windows with keyed watermarks:
//
//   key_by(&trade::symbol) | tumbling(1s).aggregate(sum(&trade::qty)).keyed_watermarks(50ms)
//
// Each key keeps its own watermark as well as the stream's: the highest
// timestamp among its records (late ones excluded) minus out_of_orderness.
// A key's windows fire and close, and its records are judged late, by
// W(k) = max(its own watermark, the stream watermark). So
//   - a key whose timestamps lag the others' (a slow venue, a partition
//     behind) keeps its records as long as the stream watermark is kept
//     conservative: other keys' progress does not make them late;
//   - a busy key's windows fire as soon as its own records have moved
//     out_of_orderness past their end, without waiting for the stream
//     watermark, which the slowest key holds back;
//   - the stream watermark still fires and closes the windows of quiet keys.
// Within one key the rules are the slice-major stage's (sliced_window.hpp,
// emit.hpp) with W(k) in place of the stream watermark: a window fires
// (on_close) at end <= W(k) and closes (final_only emits it; its state is
// dropped) at end + allowed lateness <= W(k); a record is late when every
// window containing it has closed. Emit modes final_only, on_close and
// on_update; periodic is refused (each key fires on its own watermark, so
// there is no common period). A key's own watermark moves after the record
// that raised it has been added, as a stream watermark follows its record.
//
// Rows leave key by key: what one stream watermark fires goes out keys in
// order of their earliest deadline (then their slot in the table), each
// key's windows by end, the same after a restore from a checkpoint. What a
// key's own watermark fires goes out right after the record that moved it.
// The output watermark is the stream watermark minus the allowed lateness,
// as for the other windows: rows of busy keys are early against it, never
// late.
//
// State is key-major: a slot table (detail/session_table.hpp) from key to
// its open slices {start, accumulator, weight} by start, the newest inline
// in the key's slot, and one timer per key (detail/key_timers.hpp). A key
// whose slices have all closed leaves the table once the stream watermark
// has caught up with its own. Steady state allocates nothing per record.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "laminar/aggregate/aggregate.hpp"
#include "laminar/aggregate/changelog.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/window/assigners.hpp"
#include "laminar/window/detail/key_timers.hpp"
#include "laminar/window/detail/session_table.hpp"
#include "laminar/window/emit.hpp"
#include "laminar/window/late.hpp"
#include "laminar/window/sliced_window.hpp"  // window_key_of, deliver_late
#include "laminar/window/window_row.hpp"

namespace laminar::detail {

template <class Next, class Ctx, class Assigner, class Agg, class Late>
class keyed_sliced_window_stage {
 public:
  using in_type = typename Ctx::value_type;
  using key_type = window_key_t<Ctx>;
  using accumulator = typename Agg::accumulator;
  using result_type = aggregate_result_t<Agg>;
  using row_type = window_row<key_type, result_type>;
  static constexpr bool retracting = changelog_row<in_type>;

  keyed_sliced_window_stage(Next next, Ctx ctx, Assigner assigner, Agg agg, window_settings settings, Late late)
      : next_(std::move(next)),
        ctx_(std::move(ctx)),
        assigner_(assigner),
        agg_(std::move(agg)),
        late_(std::move(late)),
        unit_(assigner.slice_unit()),
        grid_offset_(assigner.grid_offset()),
        lateness_(settings.allowed_lateness),
        out_of_orderness_(settings.out_of_orderness),
        mode_(settings.mode) {}

  void on_event(const in_type& e) {
    const timestamp t = time_of(ctx_, e);
    const key_type key = window_key_of(ctx_, e);
    const std::uint32_t s = keys_.find(key);
    // Most records fall into their key's newest slice while it changes no
    // emitted result: one probe, one add.
    if (s != table::npos) [[likely]] {
      key_state& ks = keys_.state(s);
      if (!ks.slices.empty()) [[likely]] {
        slice& last = ks.slices.back();
        if (t >= last.start && t < last.end && effective_watermark(ks) < last.quiet_until) [[likely]] {
          apply(last, e, t);
          if (t > ks.highest) raise_key_watermark(s, ks, t);
          return;
        }
      }
    }
    on_other_event(e, t, key, s);
  }

  void on_watermark(timestamp w) {
    if (w <= watermark_) return;
    watermark_ = w;
    if (timers_.due_at(w)) [[unlikely]] on_timers();
    // w rose, so the output watermark rose too unless it is stuck at the
    // beginning of time (w - lateness saturated there).
    const timestamp out = w == timestamp::max() ? w : w - lateness_;
    if (out != timestamp::min()) next_.on_watermark(out);
  }

  void on_barrier(const checkpoint_barrier& barrier) {
    barrier.checkpoint(*this);
    next_.on_barrier(barrier);
  }

  void on_end() { next_.on_end(); }

  /// Records that arrived after every window they belong to had closed
  /// (by their key's watermark).
  [[nodiscard]] std::uint64_t late_count() const noexcept { return late_count_; }
  /// Keys holding state now.
  [[nodiscard]] std::size_t open_keys() const noexcept { return keys_.size(); }
  /// Slices held now, over all keys.
  [[nodiscard]] std::size_t open_slices() const noexcept {
    std::size_t n = 0;
    for (std::uint32_t s = 0; s < keys_.slot_count(); ++s) {
      if (keys_.live(s)) n += keys_.state(s).slices.size();
    }
    return n;
  }
  /// The watermark key k's windows and records are judged by now: the later
  /// of the stream watermark and the key's own.
  [[nodiscard]] timestamp key_watermark(const key_type& k) const noexcept {
    const std::uint32_t s = keys_.find(k);
    return s == table::npos ? watermark_ : effective_watermark(keys_.state(s));
  }
  /// The stream watermark (the operator's input).
  [[nodiscard]] timestamp watermark() const noexcept { return watermark_; }
  [[nodiscard]] Next& downstream() noexcept { return next_; }

  void save_state(state_writer& w) const {
    w(watermark_, late_count_, static_cast<std::uint64_t>(keys_.slot_count()));
    for (std::uint32_t s = 0; s < keys_.slot_count(); ++s) {
      const bool live = keys_.live(s);
      w(live);
      if (!live) continue;
      const key_state& ks = keys_.state(s);
      w(keys_.key(s), ks.highest, ks.fired_through, static_cast<std::uint64_t>(ks.slices.size()));
      for (std::size_t i = 0; i < ks.slices.size(); ++i) w(ks.slices[i].start, ks.slices[i].acc, ks.slices[i].n);
    }
    w(keys_.free_slots());
    if constexpr (stateful_side_output<Late>) side_output_target(late_).save_state(w);
  }

  void load_state(state_reader& r) {
    std::uint64_t slots = 0;
    r(watermark_, late_count_, slots);
    keys_.reset(static_cast<std::size_t>(slots));
    timers_.clear();
    for (std::uint32_t s = 0; s < slots; ++s) {
      bool live = false;
      r(live);
      if (!live) continue;
      key_type k{};
      timestamp highest;
      timestamp fired_through;
      std::uint64_t n = 0;
      r(k, highest, fired_through, n);
      keys_.restore(s, k);
      key_state& ks = keys_.state(s);
      ks.highest = highest;
      ks.fired_through = fired_through;
      for (std::uint64_t i = 0; i < n; ++i) {
        timestamp start;
        r(start);
        slice x = make_slice(start);
        r(x.acc, x.n);
        ks.slices.push_back(std::move(x));
      }
    }
    std::vector<std::uint32_t> free;
    r(free);
    keys_.restore_free_slots(std::move(free));
    for (std::uint32_t s = 0; s < slots; ++s) {
      if (!keys_.live(s)) continue;
      key_state& ks = keys_.state(s);
      ks.timer.due = earliest_deadline(ks);
      timers_.set(keys_, s, next_deadline(ks));
    }
    if constexpr (stateful_side_output<Late>) side_output_target(late_).load_state(r);
  }

 private:
  struct slice {
    timestamp start;
    timestamp end;          // start + the slice unit
    timestamp quiet_until;  // while the key's watermark is below this, a record here emits nothing
    accumulator acc;
    std::int64_t n = 0;  // net weight (kept only for changelog input)
  };
  // The fields the record path reads first: they share the key's cache line.
  struct key_state {
    timestamp highest = timestamp::min();  // the highest timestamp of its records
    inline_back_list<slice> slices;        // by start, all open
    timestamp fired_through = timestamp::min();  // every window due by this watermark has fired
    key_timer timer;
    void reset() noexcept {
      slices.clear();  // the buffers stay for the slot's next key
      highest = timestamp::min();
      fired_through = timestamp::min();
      timer = {};
    }
  };
  using table = slot_table<key_type, key_state>;

  struct group_value {
    accumulator acc;
    std::int64_t n = 0;
  };
  struct pending_change {
    timestamp end;
    std::optional<group_value> before;
  };

  // ---- watermarks and deadlines ----

  [[nodiscard]] timestamp own_watermark(const key_state& ks) const noexcept { return ks.highest - out_of_orderness_; }
  [[nodiscard]] timestamp effective_watermark(const key_state& ks) const noexcept {
    return std::max(own_watermark(ks), watermark_);
  }
  [[nodiscard]] bool closed(timestamp end, timestamp w) const noexcept { return end + lateness_ <= w; }
  // The watermark at which the window ending at `end` emits its result:
  // on_close at its end, final_only when it closes.
  [[nodiscard]] timestamp fires_at(timestamp end) const noexcept {
    return mode_ == emit_mode::final_only ? end + lateness_ : end;
  }

  [[nodiscard]] slice make_slice(timestamp start) {
    // Records emit changes at once in on_update; in on_close once the
    // slice's first window has fired; never in final_only.
    timestamp quiet = timestamp::max();
    if (mode_ == emit_mode::on_update) quiet = timestamp::min();
    if (mode_ == emit_mode::on_close) quiet = assigner_.first_end(start);
    return slice{start, start + duration::from_nanos(unit_), quiet, agg_.init(), 0};
  }

  // Calls f(end) for the end of each window containing the slice at `a`,
  // in ascending order, until f returns false.
  template <class F>
  void for_each_window_end(timestamp a, F&& f) const {
    const timestamp last = assigner_.last_end(a);
    for (timestamp end = assigner_.first_end(a);; end = assigner_.next_end(end)) {
      if (!f(end) || end >= last || end == timestamp::max()) return;
    }
  }

  // The lowest watermark at which the slice at `a` needs the stage, its
  // windows fired up to watermark `fired`: its next window fires, or it closes.
  [[nodiscard]] timestamp slice_deadline(timestamp a, timestamp fired) const {
    timestamp d = assigner_.last_end(a) + lateness_;
    if (mode_ == emit_mode::on_update) return d;
    for_each_window_end(a, [&](timestamp end) {
      const timestamp f = fires_at(end);
      if (f <= fired) return true;
      d = std::min(d, f);
      return false;
    });
    return d;
  }
  [[nodiscard]] timestamp earliest_deadline(const key_state& ks) const {
    timestamp d = timestamp::max();
    for (std::size_t i = 0; i < ks.slices.size(); ++i) d = std::min(d, slice_deadline(ks.slices[i].start, ks.fired_through));
    return d;
  }
  // When the key next needs the stage: its earliest deadline, or with no
  // slices left, the stream watermark at which its own watermark no longer
  // matters and the key leaves the table.
  [[nodiscard]] timestamp next_deadline(const key_state& ks) const {
    return ks.slices.empty() ? own_watermark(ks) : earliest_deadline(ks);
  }

  // ---- the record path ----

  [[gnu::always_inline]] void apply(slice& x, const in_type& e, timestamp t) {
    if constexpr (retracting) {
      const std::int64_t w = weight_of(e);
      for (std::int64_t k = 0; k < w; ++k) agg_add(agg_, x.acc, e, t);
      for (std::int64_t k = 0; k > w; --k) agg_retract(agg_, x.acc, e, t);
      x.n += w;
    } else {
      agg_add(agg_, x.acc, e, t);
    }
  }

  // A record that needs more than the fast path: a new key or slice, a
  // change to emit, or a late record.
  [[gnu::noinline]] void on_other_event(const in_type& e, timestamp t, const key_type& key, std::uint32_t s) {
    const timestamp a = floor_to_grid(t, unit_, grid_offset_);
    const timestamp last_end = assigner_.last_end(a);
    if (s == table::npos) {
      if (closed(last_end, watermark_)) return on_late(e);
      s = keys_.insert(key);
    }
    key_state& ks = keys_.state(s);
    const timestamp w = effective_watermark(ks);
    if (closed(last_end, w)) return on_late(e);
    // Every window of this key due by w has fired (its timer or its own
    // watermark saw to it), so windows ending by w count as fired from now.
    ks.fired_through = std::max(ks.fired_through, w);
    inline_back_list<slice>& v = ks.slices;
    std::size_t i = v.size();
    while (i > 0 && v[i - 1].start > a) --i;  // records are mostly in the newest slice
    const bool fresh = i == 0 || v[i - 1].start != a;
    if (mode_ != emit_mode::final_only) note_results_before(ks, a, w);
    if (fresh) {
      v.insert(i, make_slice(a));
    } else {
      --i;
    }
    apply(v[i], e, t);
    if (mode_ != emit_mode::final_only) emit_changes(key, ks);
    if (fresh) timers_.schedule(keys_, s, slice_deadline(a, ks.fired_through));
    if (t > ks.highest) raise_key_watermark(s, ks, t);
  }

  // Before a record for the slice at `a` is added: the key's result in
  // each of the slice's windows that has a row out (on_update: each open one).
  void note_results_before(const key_state& ks, timestamp a, timestamp w) {
    changes_.clear();
    for_each_window_end(a, [&](timestamp end) {
      if (!closed(end, w) && (mode_ == emit_mode::on_update || end <= w)) changes_.push_back({end, group_result(ks, end)});
      return true;
    });
  }
  // After it: each of those windows' change.
  void emit_changes(const key_type& key, const key_state& ks) {
    for (const pending_change& c : changes_) emit_change(key, c.end, c.before, group_result(ks, c.end));
  }

  [[gnu::cold, gnu::noinline]] void on_late(const in_type& e) {
    ++late_count_;
    deliver_late(late_, e);
  }

  // A record raised its key's highest timestamp: the key's own watermark
  // moves, and what it passes fires and closes now.
  void raise_key_watermark(std::uint32_t s, key_state& ks, timestamp t) {
    ks.highest = t;
    if (own_watermark(ks) >= ks.timer.due) [[unlikely]] settle_key(s);
  }

  [[gnu::noinline]] void settle_key(std::uint32_t s) {
    key_state& ks = keys_.state(s);
    settle(keys_.key(s), ks, effective_watermark(ks));
    ks.timer.due = earliest_deadline(ks);
    // Its timer (a lower bound) stays: it frees the key later if need be.
  }

  // Fires the key's windows that watermark w has made due, then drops the
  // slices it has closed.
  void settle(const key_type& key, key_state& ks, timestamp w) {
    inline_back_list<slice>& v = ks.slices;
    if (mode_ != emit_mode::on_update && w > ks.fired_through) {
      ends_.clear();
      for (std::size_t i = 0; i < v.size(); ++i) {
        for_each_window_end(v[i].start, [&](timestamp end) {
          const timestamp f = fires_at(end);
          if (f > w) return false;
          if (f > ks.fired_through) ends_.push_back(end);
          return true;
        });
      }
      std::sort(ends_.begin(), ends_.end());
      ends_.erase(std::unique(ends_.begin(), ends_.end()), ends_.end());
      for (const timestamp end : ends_) emit_change(key, end, std::nullopt, group_result(ks, end));
    }
    ks.fired_through = std::max(ks.fired_through, w);
    std::size_t closed_prefix = 0;  // last ends ascend with starts, so closed slices come first
    while (closed_prefix < v.size() && closed(assigner_.last_end(v[closed_prefix].start), w)) ++closed_prefix;
    v.erase(0, closed_prefix);
  }

  // The stream watermark reached the earliest timer: settle the keys whose
  // timers are due; a key left with no slices and no watermark of its own
  // ahead of the stream's leaves the table.
  [[gnu::noinline]] void on_timers() {
    timers_.fire_due(
        keys_, watermark_, [this](const key_state& ks) { return next_deadline(ks); },
        [this](std::uint32_t s, key_state& ks) {
          settle(keys_.key(s), ks, effective_watermark(ks));
          ks.timer.due = earliest_deadline(ks);
        },
        [this](const key_state& ks) { return ks.slices.empty() && own_watermark(ks) <= watermark_; });
  }

  // ---- results ----

  // Without retractions a group's weight is not kept and every group is live.
  [[nodiscard]] static bool live(const std::optional<group_value>& g) noexcept {
    return g && (!retracting || g->n > 0);
  }

  // The key's state in the window ending at `end`: its slices merged.
  std::optional<group_value> group_result(const key_state& ks, timestamp end) const {
    const timestamp start = assigner_.window_start(end);
    std::optional<group_value> out;
    for (std::size_t i = 0; i < ks.slices.size(); ++i) {
      const slice& x = ks.slices[i];
      if (x.start < start) continue;
      if (x.start >= end) break;
      if (!out) out.emplace(group_value{agg_.init(), 0});
      agg_.merge(out->acc, x.acc);
      out->n += x.n;
    }
    return out;
  }

  void emit_change(const key_type& key, timestamp end, const std::optional<group_value>& before,
                   const std::optional<group_value>& after) {
    const bool had = live(before);
    const bool has = live(after);
    const timestamp start = assigner_.window_start(end);
    if (had && has) {
      next_.on_event(row_type{key, start, end, agg_.result(before->acc), change_kind::update_before});
      next_.on_event(row_type{key, start, end, agg_.result(after->acc), change_kind::update_after});
    } else if (has) {
      next_.on_event(row_type{key, start, end, agg_.result(after->acc), change_kind::insert});
    } else if (had) {
      next_.on_event(row_type{key, start, end, agg_.result(before->acc), change_kind::remove});
    }
  }

  [[no_unique_address]] Next next_;
  [[no_unique_address]] Ctx ctx_;
  Assigner assigner_;
  [[no_unique_address]] Agg agg_;
  [[no_unique_address]] Late late_;
  std::int64_t unit_;
  std::int64_t grid_offset_;
  duration lateness_;
  duration out_of_orderness_;
  emit_mode mode_;

  table keys_;
  key_timers timers_;
  std::vector<pending_change> changes_;  // scratch: one record's changes
  std::vector<timestamp> ends_;          // scratch: the window ends one settle fires
  timestamp watermark_ = timestamp::min();
  std::uint64_t late_count_ = 0;
};

}  // namespace laminar::detail
