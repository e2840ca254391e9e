// Watermark timers of keyed state in a slot table (the key-major window
// stages: sessions, and sliced windows with keyed watermarks): one timer
// per key, a lower bound of the watermark at which the key next needs the
// stage (a window fires or closes, or the key may leave the table), in a
// min-heap of (deadline, slot).
//
// Timers are lower bounds so that moving a deadline later (a session
// extended, a window fired) costs nothing: when a timer comes due the
// stage recomputes the key's actual deadline and settles it or sets a new
// timer. Moving a deadline earlier pushes a new timer; the key's older one
// becomes stale and is skipped when it surfaces. Keys are named by their
// slot in the stage's slot_table, which they keep while in the table.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "laminar/core/time.hpp"

namespace laminar {

/// A key's timer, held in the key's state as `timer` (after the fields
/// the record path reads).
struct key_timer {
  timestamp due = timestamp::max();  // nothing of the key fires or closes before its watermark reaches this
  timestamp scheduled{};             // its timer's deadline, if it has one
  bool has_timer = false;
};

class key_timers {
 public:
  struct timer {
    timestamp at;
    std::uint32_t slot;
    friend bool operator<(const timer& a, const timer& b) noexcept {
      return a.at != b.at ? a.at < b.at : a.slot < b.slot;
    }
    friend bool operator>(const timer& a, const timer& b) noexcept { return b < a; }
  };

  /// Some part of key s needs the stage at watermark d.
  template <class Keys>
  void schedule(Keys& keys, std::uint32_t s, timestamp d) {
    key_timer& k = keys.state(s).timer;
    if (d < k.due) k.due = d;
    if (!k.has_timer || d < k.scheduled) set(keys, s, d);
  }

  /// Key s's timer is at d; an earlier one still in the heap becomes stale.
  template <class Keys>
  void set(Keys& keys, std::uint32_t s, timestamp d) {
    key_timer& k = keys.state(s).timer;
    k.scheduled = d;
    k.has_timer = true;
    heap_.push_back({d, s});
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
    if (heap_.size() > 2 * keys.size() + 64) [[unlikely]] drop_stale(keys);
  }

  /// Whether a timer is due at watermark w (one compare: the per-watermark check).
  [[nodiscard]] bool due_at(timestamp w) const noexcept { return !heap_.empty() && heap_.front().at <= w; }

  /// Pops the keys whose timers are due at w. Returns them with their
  /// actual deadlines (deadline_of(state)), sorted by deadline then slot:
  /// the order in which to settle them, the same whether or not the timers
  /// were rebuilt from a checkpoint without their stale lower bounds.
  template <class Keys, class Deadline>
  const std::vector<timer>& take_due(Keys& keys, timestamp w, Deadline&& deadline_of) {
    due_.clear();
    while (!heap_.empty() && heap_.front().at <= w) {
      std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
      const timer tm = heap_.back();
      heap_.pop_back();
      if (!keys.live(tm.slot)) continue;
      auto& state = keys.state(tm.slot);
      if (!state.timer.has_timer || state.timer.scheduled != tm.at) continue;  // superseded by an earlier timer
      state.timer.has_timer = false;
      due_.push_back({deadline_of(state), tm.slot});
    }
    std::sort(due_.begin(), due_.end());
    return due_;
  }

  /// The stream watermark reached the earliest timer: for each key whose
  /// timer is due, in take_due's order, settle(slot, state) if its actual
  /// deadline has come; then the key leaves the table if leaves(state),
  /// or gets a timer at its next deadline.
  template <class Keys, class Deadline, class Settle, class Leaves>
  void fire_due(Keys& keys, timestamp w, Deadline&& deadline_of, Settle&& settle, Leaves&& leaves) {
    for (const timer& tm : take_due(keys, w, deadline_of)) {
      auto& state = keys.state(tm.slot);
      if (tm.at <= w) settle(tm.slot, state);
      if (leaves(state)) {
        keys.erase(tm.slot);
      } else {
        set(keys, tm.slot, deadline_of(state));
      }
    }
  }

  void clear() noexcept { heap_.clear(); }

 private:
  template <class Keys>
  [[gnu::cold, gnu::noinline]] void drop_stale(Keys& keys) {
    heap_.clear();
    for (std::uint32_t s = 0; s < keys.slot_count(); ++s) {
      if (keys.live(s) && keys.state(s).timer.has_timer) heap_.push_back({keys.state(s).timer.scheduled, s});
    }
    std::make_heap(heap_.begin(), heap_.end(), std::greater<>{});
  }

  std::vector<timer> heap_;  // a min-heap of (deadline, slot); stale entries skipped
  std::vector<timer> due_;   // scratch: the keys one watermark settles
};

}  // namespace laminar
