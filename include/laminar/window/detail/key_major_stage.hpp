// What the key-major window stages share (session windows, and tumbling,
// hopping and cumulate windows with keyed watermarks): the key table, each
// key's own watermark, the timers, the stream-watermark path, late records
// and the checkpoint frame. The derived stage (CRTP) owns what a key's
// windows are and how they fire:
//
//   void settle(const key_type&, state&, timestamp w)  fire and close what w made due
//   timestamp earliest_deadline(const state&) const    the lowest watermark at which
//                                                      a window of the key fires or closes
//   void save_windows(state_writer&, const state&) const / load_windows(state_reader&, state&)
//
// A key's watermark is max(its own, the stream's), its own being the highest
// timestamp of its records minus out_of_orderness (with keyed watermarks;
// otherwise the beginning of time). Timers (key_timers.hpp) settle keys as
// the stream watermark passes their deadlines; a record that raises its
// key's own watermark past the key's deadline settles the key at once. A key
// with no windows left leaves the table once the stream watermark has
// caught up with its own.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/core/time.hpp"
#include "laminar/state/key_timers.hpp"
#include "laminar/state/slot_table.hpp"
#include "laminar/window/detail/inline_back_list.hpp"
#include "laminar/window/emit.hpp"
#include "laminar/window/sliced_window.hpp"  // group_key_t, deliver_late

namespace laminar::detail {

struct no_key_extra {
  template <class Archive>
  void serialize(Archive&) {}
};

/// A key's state in a key-major stage. The fields the record path reads
/// first (its own watermark's input, the newest window, inline) share the
/// key's cache line.
template <class Window, class Extra = no_key_extra>
struct key_windows {
  timestamp highest = timestamp::min();  // the highest timestamp of its records (late ones excluded)
  inline_back_list<Window> windows;      // by start, all open
  [[no_unique_address]] Extra extra{};   // what the derived stage keeps per key besides
  key_timer timer;
  void reset() noexcept {
    windows.clear();  // the buffers stay for the slot's next key
    highest = timestamp::min();
    extra = Extra{};
    timer = {};
  }
};

template <class Derived, class Next, class Ctx, class Late, class KeyState>
class key_major_stage {
 public:
  using key_type = group_key_t<Ctx>;
  using state = KeyState;
  using table = slot_table<key_type, KeyState>;

  key_major_stage(Next next, Ctx ctx, Late late, const window_settings& settings)
      : next_(std::move(next)),
        ctx_(std::move(ctx)),
        late_(std::move(late)),
        lateness_(settings.allowed_lateness),
        out_of_orderness_(settings.out_of_orderness),
        keyed_(settings.keyed_watermarks),
        mode_(settings.mode) {}

  /// One probe finds the record's key; Derived::add_to_newest adds it to
  /// the key's newest window if it belongs there (most records: one add),
  /// and Derived::on_other_event takes the rest, out of line.
  [[gnu::always_inline]] void on_event(const typename Ctx::value_type& e) {
    const timestamp t = time_of(ctx_, e);
    const key_type key = group_key_of(ctx_, e);
    const std::uint32_t s = keys_.find(key);
    if (s != table::npos) [[likely]] {
      state& ks = keys_.state(s);
      if (!ks.windows.empty() && derived().add_to_newest(ks, ks.windows.back(), e, t)) [[likely]] {
        note_key_time(s, ks, t);
        return;
      }
    }
    derived().on_other_event(e, t, key, s);
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
    barrier.checkpoint(derived());
    next_.on_barrier(barrier);
  }

  void on_end() { next_.on_end(); }
  void on_processing_time(timestamp now) { next_.on_processing_time(now); }
  void on_checkpoint_complete(std::uint64_t checkpoint_id) {
    capture_.complete(checkpoint_id, trackers());
    next_.on_checkpoint_complete(checkpoint_id);
  }
  void on_checkpoint_abort(std::uint64_t checkpoint_id) { next_.on_checkpoint_abort(checkpoint_id); }

  /// Records that arrived after every window they could belong to had closed.
  [[nodiscard]] std::uint64_t late_count() const noexcept { return late_count_; }
  /// Keys holding state now.
  [[nodiscard]] std::size_t open_keys() const noexcept { return keys_.size(); }
  /// The watermark key k's windows and records are judged by now: the
  /// stream watermark, or with keyed watermarks the later of that and the
  /// key's own.
  [[nodiscard]] timestamp key_watermark(const key_type& k) const noexcept {
    const std::uint32_t s = keys_.find(k);
    return s == table::npos ? watermark_ : effective_watermark(keys_.state(s));
  }
  /// The stream watermark (the operator's input).
  [[nodiscard]] timestamp watermark() const noexcept { return watermark_; }
  [[nodiscard]] Next& downstream() noexcept { return next_; }

  // Keys keep their slots across a restore, and timers are rebuilt from
  // the actual deadlines: what one watermark fires leaves in the same order.
  // Incremental checkpoints (state_writer::incremental()): a capture on a
  // base it has kept track since writes the keys changed only.
  void save_state(state_writer& w) const {
    const bool delta = capture_.begin(w, trackers(), keys_.size());
    w(watermark_, late_count_);
    const auto save_key = [&](const state& ks) {
      w(ks.highest, ks.extra, static_cast<std::uint64_t>(ks.windows.size()));
      derived().save_windows(w, ks);
    };
    save_table(w, keys_, delta, save_key);
    if constexpr (stateful_side_output<Late>) side_output_target(late_).save_state(w);
  }

  /// Restorable into another number of instances: keys merge by key
  /// (load_slots), the watermark is the earlier, timers are rebuilt.
  static constexpr bool rescalable = !stateful_side_output<Late>;

  void load_state(state_reader& r) {
    const auto load_key = [&](std::uint32_t, state& ks) {
      r(ks.highest, ks.extra);
      derived().load_windows(r, ks, r.read_count("windows"));
    };
    if (r.delta()) {
      r(watermark_, late_count_);
      apply_slot_changes(r, keys_, load_key);
    } else {
      capture_.restart(trackers());  // restored: the next capture is whole
      r.read_merged(earliest(watermark_), summed(late_count_));
      load_slots(r, keys_, load_key);
    }
    timers_.clear();
    for (std::uint32_t s = 0; s < keys_.slot_count(); ++s) {
      if (!keys_.live(s)) continue;
      state& ks = keys_.state(s);
      ks.timer.due = derived().earliest_deadline(ks);
      timers_.set(keys_, s, next_deadline(ks));
    }
    if constexpr (stateful_side_output<Late>) side_output_target(late_).load_state(r);
  }

 protected:
  // f(change_tracker&) for the key table (incremental_capture).
  [[nodiscard]] auto trackers() const {
    return [this](auto&& f) { f(keys_.changes()); };
  }
  [[nodiscard]] Derived& derived() noexcept { return static_cast<Derived&>(*this); }
  [[nodiscard]] const Derived& derived() const noexcept { return static_cast<const Derived&>(*this); }

  /// Windows held now, over all keys.
  [[nodiscard]] std::size_t open_windows() const noexcept {
    std::size_t n = 0;
    for (std::uint32_t s = 0; s < keys_.slot_count(); ++s) {
      if (keys_.live(s)) n += keys_.state(s).windows.size();
    }
    return n;
  }

  [[nodiscard]] timestamp own_watermark(const state& ks) const noexcept {
    return keyed_ ? ks.highest - out_of_orderness_ : timestamp::min();
  }
  [[nodiscard]] timestamp effective_watermark(const state& ks) const noexcept {
    return std::max(own_watermark(ks), watermark_);
  }
  // A window ending at `end` has closed under watermark w.
  [[nodiscard]] bool closed(timestamp end, timestamp w) const noexcept { return end + lateness_ <= w; }
  // When the key next needs the stage: its earliest deadline, or with no
  // windows left, the stream watermark at which its own watermark no longer
  // matters and the key leaves the table.
  [[nodiscard]] timestamp next_deadline(const state& ks) const {
    return ks.windows.empty() ? own_watermark(ks) : derived().earliest_deadline(ks);
  }

  [[gnu::cold, gnu::noinline]] void on_late(const typename Ctx::value_type& e) {
    ++late_count_;
    deliver_late(late_, e);
  }

  // A record at t was added to key s: a new highest timestamp moves the
  // key's own watermark, and what that passes fires and closes now.
  [[gnu::always_inline]] void note_key_time(std::uint32_t s, state& ks, timestamp t) {
    if (!keyed_ || t <= ks.highest) return;
    ks.highest = t;
    if (t - out_of_orderness_ >= ks.timer.due) [[unlikely]] settle_key(s);
  }

  [[gnu::noinline]] void settle_key(std::uint32_t s) {
    state& ks = keys_.state(s);
    derived().settle(keys_.key(s), ks, effective_watermark(ks));
    ks.timer.due = derived().earliest_deadline(ks);
    // A key left without windows stays for its own watermark, which is
    // ahead of the stream's: its timer (a lower bound) frees it later.
  }

  // The stream watermark reached the earliest timer: settle the keys whose
  // timers are due; a key left with no windows and no watermark of its own
  // ahead of the stream's leaves the table.
  [[gnu::noinline]] void on_timers() {
    timers_.fire_due(
        keys_, watermark_, [this](const state& ks) { return next_deadline(ks); },
        [this](std::uint32_t s, state& ks) {
          derived().settle(keys_.key(s), ks, effective_watermark(ks));
          ks.timer.due = derived().earliest_deadline(ks);
        },
        [this](const state& ks) { return ks.windows.empty() && own_watermark(ks) <= watermark_; });
  }

  [[no_unique_address]] Next next_;
  [[no_unique_address]] Ctx ctx_;
  [[no_unique_address]] Late late_;
  duration lateness_;
  duration out_of_orderness_;
  bool keyed_;
  emit_mode mode_;

  table keys_;
  key_timers timers_;
  mutable incremental_capture capture_;  // incremental checkpoints: which captures keys_ tracks since
  timestamp watermark_ = timestamp::min();
  std::uint64_t late_count_ = 0;
};

}  // namespace laminar::detail
