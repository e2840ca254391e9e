// The executor: the worker threads that run a set of tasks. It deals the
// tasks to its workers round robin, pins each worker to its own CPU and
// makes it allocate from its NUMA node, has each worker build its own tasks
// there (so their channels and state are local to it), then steps them until
// every task is done, the run is stopped, or a task fails. It knows tasks,
// not what they compute: a graph (dag/graph.hpp) turns its node instances
// into task builders and hands them to an executor.
#pragma once

#include <cstddef>
#include <exception>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "laminar/channel/wait_policy.hpp"
#include "laminar/runtime/affinity.hpp"
#include "laminar/runtime/clock.hpp"
#include "laminar/runtime/options.hpp"
#include "laminar/runtime/task.hpp"

namespace laminar::detail {

/// One task as the executor receives it: told its worker before any worker
/// runs, then built on that worker's thread in two phases, so that what a
/// task's producers write to exists before any task is built.
class task_builder {
 public:
  task_builder() = default;
  task_builder(const task_builder&) = delete;
  task_builder& operator=(const task_builder&) = delete;
  virtual ~task_builder() = default;

  /// Names the task in the error its failure reports ("node#instance").
  [[nodiscard]] virtual const std::string& name() const = 0;
  /// On the starting thread, before any worker runs: the worker it was dealt to.
  virtual void placed(worker_context& w) = 0;
  /// Phase 1, on its worker's thread: what other tasks write to (its input
  /// channels, whose consumer's doorbell is `w.bell()`).
  virtual void prepare(worker_context& w) = 0;
  /// Phase 2, on its worker's thread, once every task of every worker is
  /// prepared: the task.
  virtual std::unique_ptr<task> build(worker_context& w) = 0;
};

class executor {
 public:
  /// `options` must have no options_problem().
  explicit executor(runtime_options options = {}) : options_(std::move(options)) {}
  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;
  ~executor() { stop(); }

  [[nodiscard]] const runtime_options& options() const noexcept { return options_; }
  /// The worker threads started (0 before start()).
  [[nodiscard]] std::size_t workers() const noexcept { return threads_.size(); }

  /// Starts the workers: runtime_options::workers of them (0: one per CPU
  /// this process may use), never more than there are tasks. Task k runs on
  /// worker k % workers; worker w is pinned to the w-th allowed CPU (round
  /// robin when there are more workers than CPUs). Call once.
  void start(std::vector<std::unique_ptr<task_builder>> builders) {
    builders_ = std::move(builders);
    const std::vector<int> cpus = allowed_cpus();
    std::size_t n_workers = options_.workers ? options_.workers : cpus.size();
    if (n_workers > builders_.size()) n_workers = builders_.size();
    channels_ready_ = std::make_unique<std::latch>(static_cast<std::ptrdiff_t>(n_workers));
    tasks_ready_ = std::make_unique<std::latch>(static_cast<std::ptrdiff_t>(n_workers));
    for (std::size_t w = 0; w < n_workers; ++w) {
      contexts_.push_back(std::make_unique<worker_context>(static_cast<int>(w), state_));
      contexts_.back()->set_budget(options_.budget);
      contexts_.back()->set_flush_interval(options_.flush_interval);
      state_.bells.add(&contexts_.back()->bell());
    }
    std::vector<std::vector<task_builder*>> per_worker(n_workers);
    for (std::size_t k = 0; k < builders_.size(); ++k) {
      builders_[k]->placed(*contexts_[k % n_workers]);
      per_worker[k % n_workers].push_back(builders_[k].get());
    }
    for (std::size_t w = 0; w < n_workers; ++w) {
      const int cpu = cpus[w % cpus.size()];
      threads_.emplace_back([this, w, cpu, mine = std::move(per_worker[w])] { worker_main(*contexts_[w], cpu, mine); });
    }
  }

  /// Waits until every task is done (or the run was stopped or failed);
  /// rethrows the first task's error as a node_error.
  void wait() {
    join();
    if (state_.error) std::rethrow_exception(state_.error);
  }
  /// Stops the workers wherever they are and joins them; a no-op on an
  /// executor that is not running.
  void stop() {
    state_.stop();  // wakes parked workers
    join();
  }
  /// Rings every worker's doorbell: something they poll changed (a
  /// checkpoint request).
  void wake_all() noexcept { state_.bells.ring_all(); }

 private:
  void worker_main(worker_context& ctx, int cpu, const std::vector<task_builder*>& mine) {
    if (options_.pin) (void)pin_current_thread(cpu);
    if (options_.numa) (void)prefer_local_memory();
    // Phase 1, on this thread: what this worker's tasks are sent.
    const task_builder* current = nullptr;
    try {
      for (task_builder* b : mine) {
        current = b;
        b->prepare(ctx);
      }
    } catch (...) {
      state_.fail(current->name(), std::current_exception());
    }
    channels_ready_->arrive_and_wait();
    // Phase 2: the tasks (operator state), once every worker's phase 1 is done.
    std::vector<std::unique_ptr<task>> tasks;
    for (task_builder* b : mine) {
      try {
        tasks.push_back(b->build(ctx));
        ctx.add(*tasks.back());
      } catch (...) {
        state_.fail(b->name(), std::current_exception());
      }
    }
    ctx.set_ticks(tick_schedule(options_.clock, options_.tick_interval));
    tasks_ready_->arrive_and_wait();
    run_loop(ctx);
  }

  void run_loop(worker_context& ctx) {
    unsigned idle_rounds = 0;
    while (!state_.cancel.load(std::memory_order_acquire)) {
      ctx.begin_round();  // processing time: one clock read, a tick when due
      bool progress = false;
      bool all_done = true;
      wait_policy policy = options_.idle_policy;
      for (task* t : ctx.tasks()) {
        if (t->done()) continue;
        all_done = false;
        if (ctx.run_step(*t)) progress = true;
        if (!t->done() && t->blocked_policy() < policy) policy = t->blocked_policy();
      }
      if (all_done) return;
      if (progress) {
        idle_rounds = 0;
        continue;
      }
      // Nothing to do: wait by the most eager policy among the idle policy
      // and the edges this worker's tasks are blocked on.
      if (++idle_rounds < 64 || policy == wait_policy::spin) continue;
      if (policy == wait_policy::spin_then_yield) {
        std::this_thread::yield();
        continue;
      }
      // Parked: woken by whoever gives it work (doorbell.hpp), by its next
      // tick, or after park_recheck.
      const auto nap = ctx.nap(options_.park_recheck);
      if (nap.count() == 0) continue;
      ctx.bell().sleep_unless(
          [&] {
            if (state_.cancel.load(std::memory_order_relaxed)) return true;
            for (task* t : ctx.tasks()) {
              if (!t->done() && t->ready()) return true;
            }
            return false;
          },
          nap);
    }
  }

  void join() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  runtime_options options_;
  run_state state_;
  std::vector<std::unique_ptr<task_builder>> builders_;
  std::vector<std::unique_ptr<worker_context>> contexts_;
  std::unique_ptr<std::latch> channels_ready_;
  std::unique_ptr<std::latch> tasks_ready_;
  std::vector<std::thread> threads_;
};

}  // namespace laminar::detail
