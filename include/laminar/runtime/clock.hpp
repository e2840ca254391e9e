// Processing time in a graph: the clock its workers read and the schedule
// on which each worker delivers it to its nodes (runtime_options::clock and
// tick_interval). The clock is the system clock, as pipeline::tick()'s
// default, unless the program gives another: a manual_clock makes tests of
// processing-time behaviour deterministic.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <utility>

#include "laminar/core/time.hpp"

namespace laminar {

/// A processing-time clock that moves only when told, for tests and
/// simulations: `runtime_options{.clock = clock.reader()}`. Safe to move
/// from any thread while a graph reads it; it must outlive the graph.
class manual_clock {
 public:
  explicit manual_clock(timestamp start = timestamp::from_nanos(0)) noexcept : ns_(start.nanos()) {}
  manual_clock(const manual_clock&) = delete;
  manual_clock& operator=(const manual_clock&) = delete;

  [[nodiscard]] timestamp now() const noexcept { return timestamp::from_nanos(ns_.load(std::memory_order_acquire)); }
  void set(timestamp t) noexcept { ns_.store(t.nanos(), std::memory_order_release); }
  void advance(duration d) noexcept { ns_.fetch_add(d.nanos(), std::memory_order_acq_rel); }

  /// What runtime_options::clock takes: a function reading this clock.
  [[nodiscard]] std::function<timestamp()> reader() const {
    return [this] { return now(); };
  }

 private:
  std::atomic<std::int64_t> ns_;
};

namespace detail {

/// One worker's processing time: the clock is read once per round of the
/// worker's loop (a vDSO read, no syscall, never per record), and a tick is
/// due when `interval` has passed since the last one. The first reading
/// ticks at once, so a worker ticks before its nodes see any record.
class tick_schedule {
 public:
  tick_schedule() = default;
  tick_schedule(std::function<timestamp()> clock, duration interval) : clock_(std::move(clock)), interval_(interval) {}

  /// Whether ticks are delivered at all (interval duration::max() turns them off).
  [[nodiscard]] bool enabled() const noexcept { return interval_ != duration::max(); }

  /// Reads the clock; returns true when a tick is due now (and schedules the next).
  bool read() {
    now_ = clock_ ? clock_() : timestamp::now();
    // A wall clock stepped back by more than an interval ticks at once
    // rather than waiting for the clock to catch up.
    if (now_ < next_ && now_ + interval_ >= next_) return false;
    // From now, not from the missed tick: a stalled worker ticks once, not in a burst.
    next_ = now_ + interval_;
    return true;
  }
  /// The last reading.
  [[nodiscard]] timestamp now() const noexcept { return now_; }
  /// Processing time left until the next tick, from the last reading.
  [[nodiscard]] duration until_next() const noexcept { return next_ - now_; }

 private:
  std::function<timestamp()> clock_;
  duration interval_ = duration::max();
  timestamp now_ = timestamp::min();
  timestamp next_ = timestamp::min();
};

}  // namespace detail
}  // namespace laminar
