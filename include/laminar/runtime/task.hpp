// What a worker runs: tasks (one per node instance) stepped in turn, each
// for a bounded budget. A step never blocks; a task whose output channel is
// full waits, without reading input, until its consumer makes room.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "laminar/channel/wait_policy.hpp"
#include "laminar/dag/metrics.hpp"
#include "laminar/dag/options.hpp"

namespace laminar::detail {

/// Wakes a parked worker. Producers ring it after a step that sent records;
/// the cost when nobody sleeps is one relaxed load. A sleeper waits at most
/// `nap` per check, so a wake-up lost to a race costs bounded latency only.
class doorbell {
 public:
  void ring() {
    if (!sleeping_.load(std::memory_order_relaxed)) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rung_ = true;
    }
    cv_.notify_one();
  }
  template <class Pred>
  void sleep_unless(Pred&& ready, std::chrono::microseconds nap) {
    std::unique_lock<std::mutex> lock(mu_);
    sleeping_.store(true, std::memory_order_seq_cst);
    if (!ready()) cv_.wait_for(lock, nap, [&] { return rung_; });
    rung_ = false;
    sleeping_.store(false, std::memory_order_relaxed);
  }

 private:
  std::atomic<bool> sleeping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool rung_ = false;
};

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

  [[nodiscard]] bool done() const noexcept { return done_; }
  [[nodiscard]] node_metrics& metrics() noexcept { return *metrics_; }

 protected:
  void finish_task() noexcept { done_ = true; }
  node_metrics* metrics_;

 private:
  bool done_ = false;
};

/// Shared by every worker of a running graph: the stop flag and the first
/// error.
struct run_state {
  std::atomic<bool> cancel{false};
  std::mutex mu;
  std::exception_ptr error;

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
    cancel.store(true, std::memory_order_release);
  }
};

/// A worker's own tasks and its doorbell.
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

  /// Runs one step of `t`; a failure is reported to the graph (which then
  /// stops) and counts as no progress.
  bool run_step(task& t) {
    bool progress = false;
    const auto start = std::chrono::steady_clock::now();
    try {
      progress = t.step(budget_);
    } catch (...) {
      state_->fail(t.metrics().node + "#" + std::to_string(t.metrics().instance), std::current_exception());
      return false;
    }
    if (progress) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start);
      t.metrics().busy_ns.fetch_add(ns.count(), std::memory_order_relaxed);
    }
    return progress;
  }

 private:
  int id_;
  run_state* state_;
  std::vector<task*> tasks_;
  doorbell bell_;
  std::size_t budget_ = 256;
};

}  // namespace laminar::detail
