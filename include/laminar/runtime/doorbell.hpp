// How a parked worker is woken. A worker with nothing to do sleeps on its
// doorbell; whoever gives it work rings it: a producer after a step that
// sent it messages, an alignment-group member whose watermark rose (a source
// paused on the sleeper's worker may be free again), a checkpoint request,
// stop, a failure.
//
// No ring is lost. Both sides touch the bell's word with a read-modify-write:
// the sleeper announces itself before its last look at its tasks, the
// ringer after publishing the work. The two are ordered on the word, so
// either the ringer sees the sleeper and wakes it, or the sleeper's look
// sees the work. A ring is therefore one locked instruction, paid per step
// (never per record), plus a futex wake only while someone sleeps. The
// sleeper's nap only bounds waits that nobody rings for (and, off Linux,
// where there is no futex to wake, every wait).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "laminar/channel/detail/park.hpp"

namespace laminar::detail {

class doorbell {
 public:
  /// Wakes the sleeper, if there is one. Call it after publishing the work.
  void ring() noexcept {
    if (word_.exchange(awake, std::memory_order_acq_rel) == asleep) unpark_all(word_);
  }

  /// Sleeps for at most `nap` unless `ready()` (checked after announcing
  /// the sleep) says there is work; returns when rung, at the nap's end, or
  /// spuriously. Only the bell's own worker sleeps on it.
  template <class Pred>
  void sleep_unless(Pred&& ready, std::chrono::nanoseconds nap) {
    word_.exchange(asleep, std::memory_order_acq_rel);
    if (!ready()) park_on(word_, asleep, nap);
    word_.store(awake, std::memory_order_relaxed);
  }

 private:
  static constexpr std::uint32_t awake = 0;
  static constexpr std::uint32_t asleep = 1;
  std::atomic<std::uint32_t> word_{awake};
};

/// Several workers' doorbells, rung together. Filled before the workers run.
class bell_set {
 public:
  /// Adds `b` unless it is already in the set (each bell rings once).
  void add(doorbell* b) {
    if (std::find(bells_.begin(), bells_.end(), b) == bells_.end()) bells_.push_back(b);
  }
  /// Rings every bell but `except` (the caller's own: it is awake).
  void ring_all(const doorbell* except = nullptr) noexcept {
    for (doorbell* b : bells_) {
      if (b != except) b->ring();
    }
  }
  [[nodiscard]] bool empty() const noexcept { return bells_.empty(); }

 private:
  std::vector<doorbell*> bells_;
};

}  // namespace laminar::detail
