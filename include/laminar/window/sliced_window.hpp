// The window stage of tumbling, hopping and cumulate windows, keyed
// (after key_by) or global. State is kept per slice (see assigners.hpp): a
// table of key -> (accumulator, net weight) per slice, ordered by slice
// start. A record updates one entry of one slice; a window's result is its
// slices merged (for tumbling windows: the one slice as it is). A slice is
// freed, and its table recycled, once the watermark passes the end of the
// last window that contains it plus the allowed lateness.
//
// Emit modes (emit.hpp): final, on_close and eager. Output rows
// carry the window's bounds and their event time is end - 1ns; the
// operator's output watermark is the input watermark minus the allowed
// lateness, so every row it emits (corrections of closed windows included)
// is on time downstream.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/aggregate/aggregate.hpp"
#include "laminar/core/changelog.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/operator/key_by.hpp"
#include "laminar/window/assigners.hpp"
#include "laminar/state/change_tracker.hpp"
#include "laminar/state/group_table.hpp"
#include "laminar/window/emit.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/window/window_row.hpp"

namespace laminar {

namespace detail {


/// Calls a late side output (a callable, or a pointer to one held by reference).
template <class Late, class T>
void deliver_late(Late& late, const T& record) {
  side_output_target(late)(record);
}

template <class Next, class Ctx, class Assigner, class Agg, class Late, bool Dense>
class sliced_window_stage {
 public:
  static constexpr std::string_view state_name = "window";
  using in_type = typename Ctx::value_type;
  using key_type = group_key_t<Ctx>;
  using accumulator = typename Agg::accumulator;
  /// What its state is made of (its layout fingerprint in a checkpoint).
  using state_types = laminar::state_types<key_type, accumulator>;
  using result_type = aggregate_result_t<Agg>;
  using row_type = window_row<key_type, result_type>;
  static constexpr bool retracting = changelog_row<in_type>;
  using table = std::conditional_t<Dense, dense_group_table<key_type, accumulator, retracting>,
                                   hashed_group_table<key_type, accumulator, retracting>>;
  using entry = typename table::entry;

  sliced_window_stage(Next next, Ctx ctx, Assigner assigner, Agg agg, window_settings settings, Late late)
      : next_(std::move(next)),
        ctx_(std::move(ctx)),
        assigner_(assigner),
        agg_(std::move(agg)),
        settings_(settings),
        late_(std::move(late)),
        unit_(assigner.slice_unit()),
        grid_offset_(assigner.grid_offset()) {}

  void on_event(const in_type& e) {
    const timestamp t = time_of(ctx_, e);
    // Most records belong to the slice the last one was in and change no
    // emitted result: one range check, one probe, one add.
    if (static_cast<std::uint64_t>(t.nanos()) - static_cast<std::uint64_t>(fast_lo_.nanos()) < fast_width_) [[likely]] {
      apply(fast_groups_->find_or_insert(group_key_of(ctx_, e), [this] { return agg_.init(); }), e, t);
      return;
    }
    on_other_event(e, t);
  }

  /// A watermark equal to the last one changes nothing, and costs no branch
  /// unless the stage after this one takes watermarks.
  static constexpr bool absorbs_repeated_watermarks = true;

  void on_watermark(timestamp w) {
    const std::int64_t before = watermark_.nanos();
    watermark_ = timestamp::from_nanos(std::max(w.nanos(), before));
    // next_check_ is above the previous watermark (but at the end of time),
    // so this compare alone tells a deadline; no branch on whether w rose.
    if (w >= next_check_) [[unlikely]] on_deadline(timestamp::from_nanos(before));
    // w rose, so the output watermark rose too unless it is stuck at the
    // beginning of time (w - lateness saturated there). Without a stage
    // after this one that takes watermarks, this is no code at all.
    if (w.nanos() > before) {
      const timestamp out = output_watermark(w);
      if (out != timestamp::min()) next_.on_watermark(out);
    }
  }

  void on_barrier(const checkpoint_barrier& barrier) {
    barrier.checkpoint(*this);
    next_.on_barrier(barrier);
  }

  void on_end() { next_.on_end(); }

  /// Processing time, from the pipeline's tick(now): drives periodic
  /// emission in the processing-time domain, then passes on.
  void on_processing_time(timestamp now) {
    if (periodic_in(time_domain::processing_time) && now >= next_early_tick_) {
      emit_early();
      next_early_tick_ = now + settings_.period;
    }
    next_.on_processing_time(now);
  }
  void on_checkpoint_complete(std::uint64_t checkpoint_id) {
    // What the newest capture wrote is durable: its changes are owed no more.
    capture_.complete(checkpoint_id, trackers());
    next_.on_checkpoint_complete(checkpoint_id);
  }
  void on_checkpoint_abort(std::uint64_t checkpoint_id) { next_.on_checkpoint_abort(checkpoint_id); }

  /// Records that arrived after all their windows had closed.
  [[nodiscard]] std::uint64_t late_count() const noexcept { return late_count_; }
  /// Slices holding state now (for tests of state cleanup).
  [[nodiscard]] std::size_t open_slices() const noexcept { return slices_.size(); }
  /// Groups held across all slices now.
  [[nodiscard]] std::size_t open_groups() const noexcept {
    std::size_t n = 0;
    for (const slice& s : slices_) n += s.groups.size();
    for (const early_window& w : early_) n += w.emitted.size();
    return n;
  }
  [[nodiscard]] Next& downstream() noexcept { return next_; }

  /// Incremental checkpoints (state_writer::incremental()): a capture on a
  /// base it has kept track since writes each slice's changed groups only
  /// (every slice's start, and the early windows, in full).
  void save_state(state_writer& w) const {
    const bool delta = begin_capture(w);
    w(watermark_, late_count_, has_pending_, pending_end_);
    w(static_cast<std::uint64_t>(slices_.size()));
    for (const slice& s : slices_) {
      w(s.start);
      if (delta) {
        save_group_changes(w, s.groups);
      } else {
        save_groups(w, s.groups);
      }
    }
    w(next_early_, static_cast<std::uint64_t>(early_.size()));
    for (const early_window& ew : early_) {
      w(ew.end);
      save_groups(w, ew.emitted);
    }
    if constexpr (stateful_side_output<Late>) side_output_target(late_).save_state(w);
  }

  /// Restorable into another number of instances (state_reader::merging()):
  /// slices and early windows are merged by their time, groups by key.
  static constexpr bool rescalable = !stateful_side_output<Late>;

  void load_state(state_reader& r) {
    if (r.delta()) {
      apply_delta(r);
      return;
    }
    capture_.restart(trackers());  // restored: the next capture is whole
    if (r.merging()) {
      merge_state(r);
      return;
    }
    for (slice& s : slices_) recycle(std::move(s.groups));
    slices_.clear();
    for (early_window& ew : early_) recycle(std::move(ew.emitted));
    early_.clear();
    cached_ = false;
    refresh_fast_range();
    r(watermark_, late_count_, has_pending_, pending_end_);
    next_check_ = watermark_ + duration::from_nanos(1);  // recomputed at the next watermark
    const std::uint64_t n_slices = r.read_count("slices");
    for (std::uint64_t i = 0; i < n_slices; ++i) {
      slice s{timestamp{}, fresh_table()};
      r(s.start);
      load_groups(r, s.groups, [this] { return agg_.init(); });
      slices_.push_back(std::move(s));
    }
    load_early_and_late(r);
  }

 private:
  // The early windows (whole, into an empty list) and the late side output.
  void load_early_and_late(state_reader& r) {
    r(next_early_);
    const std::uint64_t n_early = r.read_count("early windows");
    for (std::uint64_t i = 0; i < n_early; ++i) {
      early_window ew{timestamp{}, fresh_table()};
      r(ew.end);
      load_groups(r, ew.emitted, [this] { return agg_.init(); });
      early_.push_back(std::move(ew));
    }
    if constexpr (stateful_side_output<Late>) side_output_target(late_).load_state(r);
  }

  // f(change_tracker&) for every slice's table (incremental_capture).
  [[nodiscard]] auto trackers() const {
    return [this](auto&& f) {
      for (const slice& s : slices_) f(s.groups.changes());
    };
  }
  bool begin_capture(state_writer& w) const {
    std::size_t groups = 0;
    for (const slice& s : slices_) groups += s.groups.size();
    return capture_.begin(w, trackers(), groups);
  }

  // A delta on the state restored so far: slices not in it have closed
  // since; the others take their changed groups. (A rescaled restore
  // applies a chain before it splits it: snapshot::materialize.)
  void apply_delta(state_reader& r) {
    cached_ = false;
    r(watermark_, late_count_, has_pending_, pending_end_);
    next_check_ = watermark_ + duration::from_nanos(1);
    const std::uint64_t n_slices = r.read_count("slices");
    std::vector<slice> next;
    next.reserve(static_cast<std::size_t>(n_slices));
    std::vector<bool> kept(slices_.size(), false);
    for (std::uint64_t i = 0; i < n_slices; ++i) {
      timestamp start{};
      r(start);
      if (!next.empty() && start <= next.back().start) throw checkpoint_error("an incremental checkpoint's slices are out of order");
      auto at = std::lower_bound(slices_.begin(), slices_.end(), start,
                                 [](const slice& x, timestamp t) { return x.start < t; });
      if (at != slices_.end() && at->start == start) {
        kept[static_cast<std::size_t>(at - slices_.begin())] = true;
        next.push_back(std::move(*at));
      } else {
        next.push_back(slice{start, fresh_table()});
      }
      apply_group_changes(r, next.back().groups, [this] { return agg_.init(); });
    }
    for (std::size_t i = 0; i < slices_.size(); ++i) {
      if (!kept[i]) recycle(std::move(slices_[i].groups));
    }
    slices_ = std::move(next);
    refresh_fast_range();
    for (early_window& ew : early_) recycle(std::move(ew.emitted));
    early_.clear();
    load_early_and_late(r);
  }

  // A later part of a rescaled restore: another saved instance's slices and
  // groups added to these; its watermark and pending end taken where
  // earlier (they agree when the instances were aligned by one barrier).
  void merge_state(state_reader& r) {
    timestamp watermark{}, pending_end{}, next_early{};
    std::uint64_t late = 0;
    bool has_pending = false;
    r(watermark, late, has_pending, pending_end);
    watermark_ = std::min(watermark_, watermark);
    late_count_ += late;
    if (has_pending) pending_end_ = has_pending_ ? std::min(pending_end_, pending_end) : pending_end;
    has_pending_ = has_pending_ || has_pending;
    next_check_ = watermark_ + duration::from_nanos(1);
    cached_ = false;
    merge_tables(r, slices_, &slice::start, &slice::groups, "slices");
    refresh_fast_range();
    r(next_early);
    next_early_ = std::min(next_early_, next_early);
    merge_tables(r, early_, &early_window::end, &early_window::emitted, "early windows");
  }
  // Reads a count of (time, groups) and merges each into the item of
  // `items` (ordered by time) with that time, made where there is none.
  template <class Item>
  void merge_tables(state_reader& r, std::vector<Item>& items, timestamp Item::*time, table Item::*groups,
                    std::string_view what) {
    const std::uint64_t n = r.read_count(what);
    for (std::uint64_t i = 0; i < n; ++i) {
      timestamp t{};
      r(t);
      auto at = std::lower_bound(items.begin(), items.end(), t, [&](const Item& x, timestamp v) { return x.*time < v; });
      if (at == items.end() || (*at).*time != t) at = items.insert(at, Item{t, fresh_table()});
      load_groups(r, (*at).*groups, [this] { return agg_.init(); });
    }
  }

  struct slice {
    timestamp start;
    table groups;
  };
  // periodic: what a window that has not fired yet last emitted early, per key.
  struct early_window {
    timestamp end;
    table emitted;
  };

  [[nodiscard]] bool periodic_in(time_domain d) const noexcept {
    return settings_.periodic() && settings_.period_domain == d;
  }

  // The operator's output watermark for input watermark w: every row it
  // may still emit (corrections within the allowed lateness included) is
  // for a window ending after it.
  [[nodiscard]] timestamp output_watermark(timestamp w) const noexcept {
    return w == timestamp::max() ? w : w - settings_.allowed_lateness;
  }

  // ---- the record path ----

  // A record outside the fast range: another slice, a late record, or one
  // whose windows' changes are emitted now.
  [[gnu::noinline]] void on_other_event(const in_type& e, timestamp t) {
    if (!(cached_ && t >= cached_start_ && t < cached_end_)) {
      if (!locate(t)) {
        ++late_count_;
        deliver_late(late_, e);
        return;
      }
    }
    if (needs_changes()) {
      update_with_changes(group_key_of(ctx_, e), e, t);
    } else {
      apply(slices_[cached_index_].groups.find_or_insert(group_key_of(ctx_, e), [this] { return agg_.init(); }), e, t);
    }
  }

  // Finds or creates the slice for t and caches it; false if the record is
  // late (every window containing it has closed).
  bool locate(timestamp t) {
    const timestamp a = slice_start(t, unit_, grid_offset_);
    if (closed(assigner_.last_end(a))) return false;
    std::size_t i = slices_.size();
    while (i > 0 && slices_[i - 1].start > a) --i;  // records are mostly in the newest slice
    if (i == 0 || slices_[i - 1].start != a) {
      slices_.insert(slices_.begin() + static_cast<std::ptrdiff_t>(i), slice{a, fresh_table()});
      note_windows_of(a);
    } else {
      --i;
    }
    cached_ = true;
    cached_index_ = i;
    cached_start_ = a;
    cached_end_ = grid_after(a, unit_, grid_offset_);  // exact where a was clamped at the beginning of time
    refresh_fast_range();
    next_check_ = watermark_ + duration::from_nanos(1);  // the deadlines may have moved: recomputed at the next watermark
    return true;
  }

  // The fast path serves the cached slice while its records change no
  // emitted result.
  void refresh_fast_range() noexcept {
    if (cached_ && !needs_changes()) {
      fast_lo_ = cached_start_;
      fast_width_ = static_cast<std::uint64_t>(cached_end_.nanos()) - static_cast<std::uint64_t>(cached_start_.nanos());
      fast_groups_ = &slices_[cached_index_].groups;
    } else {
      fast_lo_ = timestamp::min();
      fast_width_ = 0;
      fast_groups_ = nullptr;
    }
  }

  // Without retractions a group's weight is only ever positive: it is not
  // kept (n stays 0) and every group counts as live.
  [[nodiscard]] static bool live(std::int64_t n) noexcept { return !retracting || n > 0; }

  [[gnu::always_inline]] void apply(entry& en, const in_type& e, timestamp t) {
    if constexpr (retracting) {
      const std::int64_t w = weight_of(e);
      for (std::int64_t k = 0; k < w; ++k) agg_add(agg_, en.acc, e, t);
      for (std::int64_t k = 0; k > w; --k) agg_retract(agg_, en.acc, e, t);
      en.n += w;
    } else {
      agg_add(agg_, en.acc, e, t);
    }
  }

  // A window has fired (emitted its first result) / closed (dropped its state).
  [[nodiscard]] bool fired(timestamp end) const noexcept {
    return settings_.mode == emit_mode::final ? closed(end) : end <= watermark_;
  }
  [[nodiscard]] bool closed(timestamp end) const noexcept {
    return watermark_ != timestamp::min() && end + settings_.allowed_lateness <= watermark_;
  }
  // Whether a record for the cached slice emits its windows' changes now:
  // always eager; on_close once one of the slice's windows has fired.
  [[nodiscard]] bool needs_changes() const noexcept {
    switch (settings_.mode) {
      case emit_mode::final: return false;
      case emit_mode::eager: return true;
      case emit_mode::on_close: break;
    }
    return assigner_.first_end(cached_start_) <= watermark_;
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

  // The slices inside the window ending at `end` (slices_ is ordered by start).
  std::span<slice> slices_of(timestamp end) noexcept {
    const timestamp start = assigner_.window_start(end);
    const auto by_start = [](const slice& s, timestamp t) { return s.start < t; };
    const auto first = std::lower_bound(slices_.begin(), slices_.end(), start, by_start);
    const auto last = std::lower_bound(first, slices_.end(), end, by_start);
    return {first, last};
  }

  // eager, and on_close for a slice some of whose windows have fired:
  // emit each affected window's change for this key.
  void update_with_changes(const key_type& key, const in_type& e, timestamp t) {
    changes_.clear();
    for_each_window_end(cached_start_, [&](timestamp end) {
      const bool affected = !closed(end) && (settings_.mode == emit_mode::eager || end <= watermark_);
      if (affected) changes_.push_back({end, group_result(key, end)});
      return true;
    });
    apply(slices_[cached_index_].groups.find_or_insert(key, [this] { return agg_.init(); }), e, t);
    for (auto& [end, before] : changes_) emit_change(key, end, before, group_result(key, end));
  }

  struct group_value {
    accumulator acc;
    std::int64_t n = 0;
  };
  struct pending_change {
    timestamp end;
    std::optional<group_value> before;
  };

  // One key's state in the window ending at `end`: its slices merged.
  std::optional<group_value> group_result(const key_type& key, timestamp end) {
    std::optional<group_value> out;
    for (slice& s : slices_of(end)) {
      if (entry* en = s.groups.find(key)) {
        if (!out) out.emplace(group_value{agg_.init(), 0});
        agg_.merge(out->acc, en->acc);
        out->n += en->n;
      }
    }
    return out;
  }

  void emit_change(const key_type& key, timestamp end, const std::optional<group_value>& before,
                   const std::optional<group_value>& after) {
    const bool had = before && live(before->n);
    const bool has = after && live(after->n);
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

  // ---- the watermark path ----

  // The watermark reached next_check_: fire what is due, free what closed,
  // and recompute the fast range and the next deadline (above the
  // watermark, or timestamp::max() once the watermark is there).
  [[gnu::noinline]] void on_deadline(timestamp before) {
    if (watermark_ == before) return;  // the end of time, repeated
    fire_and_free();
    if (periodic_in(time_domain::event_time) && watermark_ >= next_early_) {
      emit_early();
      next_early_ = floor_to_grid(watermark_, settings_.period.nanos(), 0) + settings_.period;
    }
    refresh_fast_range();
    next_check_ = next_deadline();
    if (periodic_in(time_domain::event_time) && next_early_ < next_check_) next_check_ = next_early_;
    // on_close: the cached slice's records emit changes once its first window fires.
    if (cached_ && settings_.mode == emit_mode::on_close) {
      const timestamp fires = assigner_.first_end(cached_start_);
      if (fires > watermark_ && fires < next_check_) next_check_ = fires;
    }
    if (next_check_ <= watermark_) next_check_ = watermark_ + duration::from_nanos(1);
  }

  // The lowest watermark at which fire_and_free() has anything to do.
  [[nodiscard]] timestamp next_deadline() const noexcept {
    timestamp d = timestamp::max();
    if (has_pending_ && settings_.mode != emit_mode::eager) {
      d = settings_.mode == emit_mode::final ? pending_end_ + settings_.allowed_lateness : pending_end_;
    }
    if (!slices_.empty()) {
      const timestamp c = assigner_.last_end(slices_.front().start) + settings_.allowed_lateness;
      if (c < d) d = c;
    }
    return d;
  }

  // A new slice at `a`: the earliest of its windows that has yet to fire
  // may come before the next one pending.
  void note_windows_of(timestamp a) {
    if (settings_.mode == emit_mode::eager) return;  // nothing fires on watermarks
    for_each_window_end(a, [&](timestamp end) {
      if (fired(end)) return true;
      if (!has_pending_ || end < pending_end_) {
        has_pending_ = true;
        pending_end_ = end;
      }
      return false;
    });
  }

  void fire_and_free() {
    if (settings_.mode != emit_mode::eager) {
      while (has_pending_ && fired(pending_end_)) {
        const timestamp end = pending_end_;
        emit_window(end);
        advance_pending(end);
      }
    }
    // Free the slices whose last window has closed (they are a prefix).
    std::size_t drop = 0;
    while (drop < slices_.size() && closed(assigner_.last_end(slices_[drop].start))) ++drop;
    if (drop > 0) {
      cached_ = false;  // the cached slice may have closed; its index moved
      for (std::size_t i = 0; i < drop; ++i) recycle(std::move(slices_[i].groups));
      slices_.erase(slices_.begin(), slices_.begin() + static_cast<std::ptrdiff_t>(drop));
    }
  }

  // The next window end after `end` that covers a slice.
  void advance_pending(timestamp end) {
    has_pending_ = false;
    if (end == timestamp::max()) return;
    const timestamp candidate = assigner_.next_end(end);
    // The first slice the candidate window (or a later one) contains.
    const auto it = std::lower_bound(slices_.begin(), slices_.end(), assigner_.window_start(candidate),
                                     [](const slice& s, timestamp t) { return s.start < t; });
    if (it == slices_.end()) return;
    has_pending_ = true;
    pending_end_ = std::max(assigner_.first_end(it->start), candidate);
  }

  // The groups of the window ending at `end`: its one slice's table, or its
  // slices merged into scratch_. Null when no slice holds data.
  const table* window_groups(timestamp end) {
    const std::span<slice> window = slices_of(end);
    if (window.empty()) return nullptr;
    if (window.size() == 1) return &window.front().groups;
    scratch_.clear();
    for (slice& s : window) {
      for (const entry& en : s.groups.entries()) {
        entry& into = scratch_.find_or_insert(en.key, [this] { return agg_.init(); });
        agg_.merge(into.acc, en.acc);
        if constexpr (retracting) into.n += en.n;
      }
    }
    return &scratch_;
  }

  void emit_window(timestamp end) {
    const table* groups = window_groups(end);
    if (groups == nullptr) return;
    if (settings_.periodic()) {
      const auto early = early_of(end);
      if (early != early_.end()) {
        emit_early_changes(end, *groups, early->emitted);  // the final result as one more change
        recycle(std::move(early->emitted));
        early_.erase(early);
        return;
      }
    }
    const timestamp start = assigner_.window_start(end);
    for (const entry& en : groups->entries()) {
      if (live(en.n)) next_.on_event(row_type{en.key, start, end, agg_.result(en.acc), change_kind::insert});
    }
  }

  // ---- periodic emission ----

  typename std::vector<early_window>::iterator early_of(timestamp end) {
    const auto it = std::lower_bound(early_.begin(), early_.end(), end,
                                     [](const early_window& w, timestamp t) { return w.end < t; });
    return it != early_.end() && it->end == end ? it : early_.end();
  }

  // Every window with data that has not fired emits its groups' changes
  // since its last early emission.
  void emit_early() {
    early_ends_.clear();
    for (const slice& s : slices_) {
      for_each_window_end(s.start, [&](timestamp end) {
        if (!fired(end)) early_ends_.push_back(end);
        return true;
      });
    }
    std::sort(early_ends_.begin(), early_ends_.end());
    early_ends_.erase(std::unique(early_ends_.begin(), early_ends_.end()), early_ends_.end());
    for (const timestamp end : early_ends_) {
      const table* groups = window_groups(end);
      if (groups == nullptr) continue;
      auto it = std::lower_bound(early_.begin(), early_.end(), end,
                                 [](const early_window& w, timestamp t) { return w.end < t; });
      if (it == early_.end() || it->end != end) it = early_.insert(it, early_window{end, fresh_table()});
      emit_early_changes(end, *groups, it->emitted);
    }
  }

  // Emits each group's change against what was emitted for it before, and
  // remembers the new state.
  void emit_early_changes(timestamp end, const table& groups, table& emitted) {
    for (const entry& en : groups.entries()) {
      entry* before = emitted.find(en.key);
      const std::optional<group_value> after{group_value{en.acc, en.n}};
      if (before == nullptr) {
        emit_change(en.key, end, std::nullopt, after);
        entry& mark = emitted.find_or_insert(en.key, [&] { return en.acc; });
        if constexpr (retracting) mark.n = en.n;
        continue;
      }
      if (same_result(*before, en)) continue;
      emit_change(en.key, end, group_value{before->acc, before->n}, after);
      before->acc = en.acc;
      if constexpr (retracting) before->n = en.n;
    }
  }

  // Whether two states of a group show the same row (both absent counts).
  [[nodiscard]] bool same_result(const entry& a, const entry& b) const {
    if (live(a.n) != live(b.n)) return false;
    if (!live(a.n)) return true;
    if constexpr (std::equality_comparable<result_type>) {
      return agg_.result(a.acc) == agg_.result(b.acc);
    } else {
      return false;  // cannot tell: emit the change
    }
  }

  // ---- tables ----

  table fresh_table() {
    if (pool_.empty()) {
      table t{};
      if constexpr (Dense) t.limit_keys(settings_.dense_keys);
      t.changes().track(capture_.tracking());
      return t;
    }
    table t = std::move(pool_.back());
    pool_.pop_back();
    t.changes().track(capture_.tracking());
    return t;
  }
  void recycle(table&& t) {
    t.clear();
    pool_.push_back(std::move(t));
  }

  [[no_unique_address]] Next next_;
  [[no_unique_address]] Ctx ctx_;
  Assigner assigner_;
  [[no_unique_address]] Agg agg_;
  window_settings settings_;
  [[no_unique_address]] Late late_;
  std::int64_t unit_;
  std::int64_t grid_offset_;

  std::vector<slice> slices_;  // by start
  mutable incremental_capture capture_;  // incremental checkpoints: which captures the tables track since
  std::vector<table> pool_;    // cleared tables, kept for reuse
  table scratch_;              // merging slices into a window
  std::vector<early_window> early_;     // periodic: by end
  std::vector<timestamp> early_ends_;   // scratch for emit_early
  timestamp next_early_ = timestamp::min();       // event time of the next early emission
  timestamp next_early_tick_ = timestamp::min();  // processing time of the next one (not checkpointed)
  std::vector<pending_change> changes_;

  timestamp watermark_ = timestamp::min();
  timestamp next_check_ = timestamp::min() + duration::from_nanos(1);  // > watermark_: see on_watermark
  std::uint64_t late_count_ = 0;
  bool has_pending_ = false;  // a window end waits to fire
  timestamp pending_end_{};

  // The fast path's slice: records in [fast_lo_, fast_lo_ + fast_width_) go
  // straight to fast_groups_ (width 0 when no slice qualifies). One unsigned
  // compare tests both ends: a t below fast_lo_ wraps to at least
  // max - fast_lo_ + 1, above any width (the range ends at or before max).
  timestamp fast_lo_ = timestamp::min();
  std::uint64_t fast_width_ = 0;
  table* fast_groups_ = nullptr;

  bool cached_ = false;
  std::size_t cached_index_ = 0;
  timestamp cached_start_{};
  timestamp cached_end_{};
};

}  // namespace detail

}  // namespace laminar
