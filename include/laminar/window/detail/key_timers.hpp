// Watermark timers of the key-major window stages (sessions, and the
// sliced windows with keyed watermarks): one timer per key, a lower bound
// of the watermark at which the key next needs the stage (a window fires
// or closes, or the key may leave the table), in a min-heap of
// (deadline, slot).
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

namespace laminar::detail {

/// A key's timer, held in the key's state as `timer` (after the fields
/// the record path reads).
struct key_timer {
  timestamp due = timestamp::max();  // nothing of the key fires or closes before its watermark reaches this
  timestamp scheduled{};             // its timer's deadline, if it has one
  bool has_timer = false;
};

/// Which key_timer of a key's state a key_timers heap drives: `timer` by
/// default; a stage with two kinds of deadline (a join: one per input's
/// watermark) keeps two heaps, each with its own accessor.
struct state_timer {
  template <class State>
  key_timer& operator()(State& s) const noexcept {
    return s.timer;
  }
};

template <class Access = state_timer>
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
    key_timer& k = Access{}(keys.state(s));
    if (d < k.due) k.due = d;
    if (!k.has_timer || d < k.scheduled) set(keys, s, d);
  }

  /// Key s's timer is at d; an earlier one still in the heap becomes stale.
  template <class Keys>
  void set(Keys& keys, std::uint32_t s, timestamp d) {
    key_timer& k = Access{}(keys.state(s));
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
      key_timer& kt = Access{}(state);
      if (!kt.has_timer || kt.scheduled != tm.at) continue;  // superseded by an earlier timer
      kt.has_timer = false;
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

  /// The key whose timer is earliest (stale timers are dropped on the
  /// way), or ~0u when no key has one. Where a stage keeps each timer at
  /// its key's exact deadline, this is the key that is due first.
  template <class Keys>
  std::uint32_t earliest(Keys& keys) {
    while (!heap_.empty()) {
      const timer tm = heap_.front();
      if (keys.live(tm.slot)) {
        const key_timer& kt = Access{}(keys.state(tm.slot));
        if (kt.has_timer && kt.scheduled == tm.at) return tm.slot;
      }
      std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
      heap_.pop_back();
    }
    return ~std::uint32_t{0};
  }

  /// Key s no longer has a timer here (its entry becomes stale).
  template <class Keys>
  void cancel(Keys& keys, std::uint32_t s) {
    Access{}(keys.state(s)).has_timer = false;
  }

  void clear() noexcept { heap_.clear(); }

 private:
  template <class Keys>
  [[gnu::cold, gnu::noinline]] void drop_stale(Keys& keys) {
    heap_.clear();
    for (std::uint32_t s = 0; s < keys.slot_count(); ++s) {
      if (keys.live(s) && Access{}(keys.state(s)).has_timer) heap_.push_back({Access{}(keys.state(s)).scheduled, s});
    }
    std::make_heap(heap_.begin(), heap_.end(), std::greater<>{});
  }

  std::vector<timer> heap_;  // a min-heap of (deadline, slot); stale entries skipped
  std::vector<timer> due_;   // scratch: the keys one watermark settles
};

}  // namespace laminar::detail
