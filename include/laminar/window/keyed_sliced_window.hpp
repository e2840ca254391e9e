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
// (on_close) at end <= W(k) and closes (final emits it; its state is
// dropped) at end + allowed lateness <= W(k); a record is late when every
// window containing it has closed. Emit modes final, on_close and
// eager; periodic is refused (each key fires on its own watermark, so
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
// State is key-major (detail/key_major_stage.hpp, shared with sessions): a
// slot table from key to its open slices {start, accumulator, weight} by
// start, the newest inline in the key's slot, and one timer per key. A key
// whose slices have all closed leaves the table once the stream watermark
// has caught up with its own. Steady state allocates nothing per record.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "laminar/aggregate/aggregate.hpp"
#include "laminar/core/changelog.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/window/assigners.hpp"
#include "laminar/window/detail/key_major_stage.hpp"
#include "laminar/window/emit.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/window/sliced_window.hpp"  // group_key_of, deliver_late
#include "laminar/window/window_row.hpp"

namespace laminar::detail {

// A slice of a key's windows: [start, end), its records' accumulator.
template <class Accumulator>
struct key_slice {
  timestamp start;
  timestamp end;          // start + the slice unit
  timestamp quiet_until;  // while the key's watermark is below this, a record here emits nothing
  Accumulator acc;
  std::int64_t n = 0;  // net weight (kept only for changelog input)
};

// What a key keeps besides its slices.
struct key_fired {
  timestamp through = timestamp::min();  // every window of the key due by this watermark has fired
  template <class Archive>
  void serialize(Archive& ar) {
    ar(through);
  }
};

template <class Next, class Ctx, class Assigner, class Agg, class Late>
class keyed_sliced_window_stage
    : public key_major_stage<keyed_sliced_window_stage<Next, Ctx, Assigner, Agg, Late>, Next, Ctx, Late,
                             key_windows<key_slice<typename Agg::accumulator>, key_fired>> {
  using base = key_major_stage<keyed_sliced_window_stage, Next, Ctx, Late,
                               key_windows<key_slice<typename Agg::accumulator>, key_fired>>;
  friend base;

 public:
  static constexpr std::string_view state_name = "keyed_window";
  using in_type = typename Ctx::value_type;
  using key_type = group_key_t<Ctx>;
  using accumulator = typename Agg::accumulator;
  /// What its state is made of (its layout fingerprint in a checkpoint).
  using state_types = laminar::state_types<key_type, accumulator>;
  using result_type = aggregate_result_t<Agg>;
  using row_type = window_row<key_type, result_type>;
  using slice = key_slice<accumulator>;
  static constexpr bool retracting = changelog_row<in_type>;

  keyed_sliced_window_stage(Next next, Ctx ctx, Assigner assigner, Agg agg, const window_settings& settings, Late late)
      : base(std::move(next), std::move(ctx), std::move(late), settings),
        assigner_(assigner),
        agg_(std::move(agg)),
        unit_(assigner.slice_unit()),
        grid_offset_(assigner.grid_offset()) {}

  /// The record path (key_major_stage::on_event): most records fall into
  /// their key's newest slice while it changes no emitted result.
  [[gnu::always_inline]] bool add_to_newest(const typename base::state& ks, slice& last, const in_type& e, timestamp t) {
    if (t < last.start || t >= last.end || effective_watermark(ks) >= last.quiet_until) return false;
    apply(last, e, t);
    return true;
  }

  /// Slices held now, over all keys.
  [[nodiscard]] std::size_t open_slices() const noexcept { return this->open_windows(); }

 private:
  using typename base::state;
  using typename base::table;
  using base::closed;
  using base::ctx_;
  using base::effective_watermark;
  using base::keys_;
  using base::lateness_;
  using base::mode_;
  using base::next_;
  using base::on_late;
  using base::timers_;
  using base::watermark_;

  struct group_value {
    accumulator acc;
    std::int64_t n = 0;
  };
  struct pending_change {
    timestamp end;
    std::optional<group_value> before;
  };

  // ---- deadlines ----

  // The watermark at which the window ending at `end` emits its result:
  // on_close at its end, final when it closes.
  [[nodiscard]] timestamp fires_at(timestamp end) const noexcept {
    return mode_ == emit_mode::final ? end + lateness_ : end;
  }

  [[nodiscard]] slice make_slice(timestamp start) {
    // Records emit changes at once in eager; in on_close once the
    // slice's first window has fired; never in final.
    timestamp quiet = timestamp::max();
    if (mode_ == emit_mode::eager) quiet = timestamp::min();
    if (mode_ == emit_mode::on_close) quiet = assigner_.first_end(start);
    return slice{start, grid_after(start, unit_, grid_offset_), quiet, agg_.init(), 0};
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
    if (mode_ == emit_mode::eager) return d;
    for_each_window_end(a, [&](timestamp end) {
      const timestamp f = fires_at(end);
      if (f <= fired) return true;
      d = std::min(d, f);
      return false;
    });
    return d;
  }
  [[nodiscard]] timestamp earliest_deadline(const state& ks) const {
    timestamp d = timestamp::max();
    for (std::size_t i = 0; i < ks.windows.size(); ++i) {
      d = std::min(d, slice_deadline(ks.windows[i].start, ks.extra.through));
    }
    return d;
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
    const timestamp a = slice_start(t, unit_, grid_offset_);
    const timestamp last_end = assigner_.last_end(a);
    if (s == table::npos) {
      if (closed(last_end, watermark_)) return on_late(e);
      s = keys_.insert(key);
    }
    state& ks = keys_.state(s);
    const timestamp w = effective_watermark(ks);
    if (closed(last_end, w)) return on_late(e);
    // Every window of this key due by w has fired (its timer or its own
    // watermark saw to it), so windows ending by w count as fired from now.
    ks.extra.through = std::max(ks.extra.through, w);
    inline_back_list<slice>& v = ks.windows;
    std::size_t i = v.size();
    while (i > 0 && v[i - 1].start > a) --i;  // records are mostly in the newest slice
    const bool fresh = i == 0 || v[i - 1].start != a;
    if (mode_ != emit_mode::final) note_results_before(ks, a, w);
    if (fresh) {
      v.insert(i, make_slice(a));
    } else {
      --i;
    }
    apply(v[i], e, t);
    if (mode_ != emit_mode::final) emit_changes(key, ks);
    if (fresh) timers_.schedule(keys_, s, slice_deadline(a, ks.extra.through));
    this->note_key_time(s, ks, t);
  }

  // Before a record for the slice at `a` is added: the key's result in
  // each of the slice's windows that has a row out (eager: each open one).
  void note_results_before(const state& ks, timestamp a, timestamp w) {
    changes_.clear();
    for_each_window_end(a, [&](timestamp end) {
      if (!closed(end, w) && (mode_ == emit_mode::eager || end <= w)) changes_.push_back({end, group_result(ks, end)});
      return true;
    });
  }
  // After it: each of those windows' change.
  void emit_changes(const key_type& key, const state& ks) {
    for (const pending_change& c : changes_) emit_change(key, c.end, c.before, group_result(ks, c.end));
  }

  // Fires the key's windows that watermark w has made due, then drops the
  // slices it has closed.
  void settle(const key_type& key, state& ks, timestamp w) {
    inline_back_list<slice>& v = ks.windows;
    if (mode_ != emit_mode::eager && w > ks.extra.through) {
      ends_.clear();
      for (std::size_t i = 0; i < v.size(); ++i) {
        for_each_window_end(v[i].start, [&](timestamp end) {
          const timestamp f = fires_at(end);
          if (f > w) return false;
          if (f > ks.extra.through) ends_.push_back(end);
          return true;
        });
      }
      std::sort(ends_.begin(), ends_.end());
      ends_.erase(std::unique(ends_.begin(), ends_.end()), ends_.end());
      for (const timestamp end : ends_) emit_change(key, end, std::nullopt, group_result(ks, end));
    }
    ks.extra.through = std::max(ks.extra.through, w);
    std::size_t closed_prefix = 0;  // last ends ascend with starts, so closed slices come first
    while (closed_prefix < v.size() && closed(assigner_.last_end(v[closed_prefix].start), w)) ++closed_prefix;
    v.erase(0, closed_prefix);
  }

  // ---- results ----

  // Without retractions a group's weight is not kept and every group is live.
  [[nodiscard]] static bool live(const std::optional<group_value>& g) noexcept {
    return g && (!retracting || g->n > 0);
  }

  // The key's state in the window ending at `end`: its slices merged.
  std::optional<group_value> group_result(const state& ks, timestamp end) const {
    const timestamp start = assigner_.window_start(end);
    std::optional<group_value> out;
    for (std::size_t i = 0; i < ks.windows.size(); ++i) {
      const slice& x = ks.windows[i];
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

  // ---- checkpoints (the frame is key_major_stage's) ----

  void save_windows(state_writer& w, const state& ks) const {
    for (std::size_t i = 0; i < ks.windows.size(); ++i) w(ks.windows[i].start, ks.windows[i].acc, ks.windows[i].n);
  }
  void load_windows(state_reader& r, state& ks, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      timestamp start;
      r(start);
      slice x = make_slice(start);
      r(x.acc, x.n);
      ks.windows.push_back(std::move(x));
    }
  }

  Assigner assigner_;
  [[no_unique_address]] Agg agg_;
  std::int64_t unit_;
  std::int64_t grid_offset_;
  std::vector<pending_change> changes_;  // scratch: one record's changes
  std::vector<timestamp> ends_;          // scratch: the window ends one settle fires
};

}  // namespace laminar::detail
