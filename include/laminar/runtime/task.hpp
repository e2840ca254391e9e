// What a worker runs: tasks (one per node instance) stepped in turn, each
// for a bounded budget, and ticked with processing time. A step never
// blocks; a task whose output channel is full waits, without reading input,
// until its consumer makes room.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "laminar/channel/wait_policy.hpp"
#include "laminar/core/time.hpp"
#include "laminar/runtime/clock.hpp"
#include "laminar/runtime/doorbell.hpp"
#include "laminar/runtime/metrics.hpp"
#include "laminar/runtime/options.hpp"

namespace laminar::detail {

/// One node instance, as its worker sees it.
class task {
 public:
  explicit task(node_metrics& m) : metrics_(&m) {}
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  virtual ~task() = default;

  /// Handles up to `budget` input messages; returns true if it did anything.
  virtual bool step(std::size_t budget) = 0;
  /// Whether a step could make progress now (inputs waiting, room for a
  /// blocked output, or a source).
  [[nodiscard]] virtual bool ready() const = 0;
  /// How to wait while this task is blocked on a full output channel: the
  /// most eager policy among those edges (park if it is not blocked).
  [[nodiscard]] virtual wait_policy blocked_policy() const = 0;
  /// Processing time, on the worker's tick: a source's idle check, a
  /// fan-in's idle check, the chain's processing-time triggers.
  virtual void on_processing_time(timestamp now) = 0;

  [[nodiscard]] bool done() const noexcept { return done_; }
  [[nodiscard]] node_metrics& metrics() noexcept { return *metrics_; }
  /// The budget of this task's next step (worker_context::run_step adapts
  /// it to the flush interval).
  [[nodiscard]] std::size_t step_budget() const noexcept { return step_budget_; }
  void set_step_budget(std::size_t b) noexcept { step_budget_ = b ? b : 1; }

 protected:
  void finish_task() noexcept { done_ = true; }
  node_metrics* metrics_;

 private:
  bool done_ = false;
  std::size_t step_budget_ = 0;  // 0 until its worker first steps it
};

/// Shared by every worker of an executor: the stop flag, the first error,
/// and every worker's doorbell (so that stopping wakes them).
struct run_state {
  std::atomic<bool> cancel{false};
  std::mutex mu;
  std::exception_ptr error;
  bell_set bells;  // filled before the workers start

  void stop() noexcept {
    cancel.store(true, std::memory_order_release);
    bells.ring_all();
  }

  void fail(const std::string& node, std::exception_ptr e) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!error) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          error = std::make_exception_ptr(node_error(node, ex.what()));
        } catch (...) {
          error = std::make_exception_ptr(node_error(node, "unknown exception"));
        }
      }
    }
    stop();
  }
};

/// A worker's own tasks, its doorbell and its processing-time schedule.
class worker_context {
 public:
  worker_context(int id, run_state& state) : id_(id), state_(&state) {}

  [[nodiscard]] int id() const noexcept { return id_; }
  [[nodiscard]] run_state& state() noexcept { return *state_; }
  [[nodiscard]] doorbell& bell() noexcept { return bell_; }
  void add(task& t) { tasks_.push_back(&t); }
  [[nodiscard]] const std::vector<task*>& tasks() const noexcept { return tasks_; }
  [[nodiscard]] std::size_t budget() const noexcept { return budget_; }
  void set_budget(std::size_t b) noexcept { budget_ = b ? b : 1; }
  /// The latency budget of one step (runtime_options::flush_interval).
  void set_flush_interval(duration d) noexcept {
    flush_ns_ = d == duration::max() ? 0 : static_cast<std::uint64_t>(d.nanos());
  }

  /// Sets the processing-time schedule, once the tasks are added. Every
  /// stage takes processing time (core/stage.hpp), so a worker with tasks
  /// reads the clock once a round and ticks them, unless ticks are off.
  void set_ticks(tick_schedule s) {
    ticks_ = std::move(s);
    ticking_ = ticks_.enabled() && !tasks_.empty();
  }
  /// Starts a round of the loop: reads the clock (once) and, when a tick
  /// is due, delivers it to every task that has not ended.
  void begin_round() {
    if (!ticking_ || !ticks_.read()) return;
    for (task* t : tasks_) {
      if (!t->done()) run_tick(*t);
    }
  }
  /// Processing time at the start of this round (when ticking).
  [[nodiscard]] timestamp now() const noexcept { return ticks_.now(); }
  /// How long a parked worker may sleep: `recheck`, or less when a tick
  /// comes sooner; zero when one is due.
  [[nodiscard]] std::chrono::nanoseconds nap(duration recheck) const noexcept {
    duration d = recheck;
    if (ticking_ && ticks_.until_next() < d) d = ticks_.until_next();
    return d < duration::zero() ? std::chrono::nanoseconds(0) : d.to_chrono();
  }

  /// Runs one step of `t`; a failure is reported to the run state (the
  /// executor then stops) and counts as no progress.
  ///
  /// The step's budget follows its time: a step longer than the flush
  /// interval scales the task's next budget down by how much it overran
  /// (what it wrote waited that long for the step's end), and a step under
  /// half the interval doubles it, up to the configured budget.
  bool run_step(task& t) {
    bool progress = false;
    if (t.step_budget() == 0 || t.step_budget() > budget_) t.set_step_budget(budget_);
    const std::size_t b = t.step_budget();
    const auto start = std::chrono::steady_clock::now();
    try {
      progress = t.step(b);
    } catch (...) {
      state_->fail(t.metrics().node + "#" + std::to_string(t.metrics().instance), std::current_exception());
      return false;
    }
    if (progress) {
      const auto ns = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
      t.metrics().busy_ns.fetch_add(static_cast<std::int64_t>(ns), std::memory_order_relaxed);
      if (flush_ns_ != 0) {
        if (ns > flush_ns_) {
          t.set_step_budget(static_cast<std::size_t>(static_cast<double>(b) * static_cast<double>(flush_ns_) /
                                                     static_cast<double>(ns)));
        } else if (b < budget_ && ns < flush_ns_ / 2) {
          t.set_step_budget(b * 2 < budget_ ? b * 2 : budget_);
        }
      }
    }
    return progress;
  }

 private:
  void run_tick(task& t) {
    try {
      t.on_processing_time(ticks_.now());
    } catch (...) {
      state_->fail(t.metrics().node + "#" + std::to_string(t.metrics().instance), std::current_exception());
    }
  }

  int id_;
  run_state* state_;
  std::vector<task*> tasks_;
  doorbell bell_;
  std::size_t budget_ = 256;
  std::uint64_t flush_ns_ = 0;  // 0: steps are bounded by the budget alone
  tick_schedule ticks_;
  bool ticking_ = false;
};

}  // namespace laminar::detail
