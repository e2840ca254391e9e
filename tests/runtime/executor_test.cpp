// The executor on its own, with tasks that are not graph nodes: dealing,
// the two build phases, running to completion, the first error, stop.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <laminar/runtime/executor.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace laminar;

namespace {

// Counts to `steps` (or forever when steps is 0), one per step; throws at
// step `throw_at` when that is not 0.
class counting_task final : public detail::task {
 public:
  counting_task(detail::node_metrics& m, std::size_t steps, std::size_t throw_at)
      : task(m), steps_(steps), throw_at_(throw_at) {}
  bool step(std::size_t) override {
    ++done_steps_;
    if (throw_at_ != 0 && done_steps_ == throw_at_) throw std::runtime_error("bad step");
    if (steps_ != 0 && done_steps_ == steps_) finish_task();
    return true;
  }
  [[nodiscard]] bool ready() const override { return true; }
  [[nodiscard]] wait_policy blocked_policy() const override { return wait_policy::park; }
  void on_processing_time(timestamp) override {}

 private:
  std::size_t steps_;
  std::size_t throw_at_;
  std::size_t done_steps_ = 0;
};

struct shared_counts {
  std::size_t tasks = 0;
  std::atomic<std::size_t> prepared{0};
  std::atomic<std::size_t> built_before_all_prepared{0};
};

// Builds a counting_task named `name` (metrics node `name`, instance 0: a
// failure reads "node 'name#0' failed: ..."), and records its worker.
class counting_builder final : public detail::task_builder {
 public:
  counting_builder(std::string name, shared_counts& counts, std::size_t steps, std::size_t throw_at = 0)
      : name_(std::move(name)), counts_(&counts), steps_(steps), throw_at_(throw_at) {
    metrics_.node = name_;
  }
  [[nodiscard]] const std::string& name() const override { return name_; }
  void placed(detail::worker_context& w) override { metrics_.worker = w.id(); }
  void prepare(detail::worker_context&) override { counts_->prepared.fetch_add(1); }
  std::unique_ptr<detail::task> build(detail::worker_context&) override {
    if (counts_->prepared.load() != counts_->tasks) counts_->built_before_all_prepared.fetch_add(1);
    return std::make_unique<counting_task>(metrics_, steps_, throw_at_);
  }
  [[nodiscard]] int worker() const noexcept { return metrics_.worker; }

 private:
  std::string name_;
  shared_counts* counts_;
  std::size_t steps_;
  std::size_t throw_at_;
  detail::node_metrics metrics_;
};

}  // namespace

TEST_CASE("executor: deals tasks round robin, prepares all before building any, runs them to the end") {
  shared_counts counts;
  counts.tasks = 5;
  std::vector<std::unique_ptr<detail::task_builder>> builders;
  std::vector<counting_builder*> raw;
  for (std::size_t k = 0; k < counts.tasks; ++k) {
    std::string name = "t";
    name += std::to_string(k);  // not "t" + ...: g++ 12 -O2 warns falsely (-Wrestrict) on that
    auto b = std::make_unique<counting_builder>(std::move(name), counts, 1000);
    raw.push_back(b.get());
    builders.push_back(std::move(b));
  }
  detail::executor ex(runtime_options{.workers = 2, .pin = false, .idle_policy = wait_policy::park});
  ex.start(std::move(builders));
  CHECK(ex.workers() == 2);
  ex.wait();
  for (std::size_t k = 0; k < raw.size(); ++k) CHECK(raw[k]->worker() == static_cast<int>(k % 2));
  CHECK(counts.prepared.load() == counts.tasks);
  CHECK(counts.built_before_all_prepared.load() == 0);
}

TEST_CASE("executor: never more workers than tasks") {
  shared_counts counts;
  counts.tasks = 1;
  std::vector<std::unique_ptr<detail::task_builder>> builders;
  builders.push_back(std::make_unique<counting_builder>("only", counts, 10));
  detail::executor ex(runtime_options{.workers = 4, .pin = false});
  ex.start(std::move(builders));
  CHECK(ex.workers() == 1);
  ex.wait();
}

TEST_CASE("executor: the first failure stops every worker and wait() rethrows it as a node_error") {
  shared_counts counts;
  counts.tasks = 3;
  std::vector<std::unique_ptr<detail::task_builder>> builders;
  builders.push_back(std::make_unique<counting_builder>("forever0", counts, 0));
  builders.push_back(std::make_unique<counting_builder>("boom", counts, 0, 50));
  builders.push_back(std::make_unique<counting_builder>("forever1", counts, 0));
  detail::executor ex(runtime_options{.workers = 2, .pin = false});
  ex.start(std::move(builders));
  CHECK_THROWS_WITH_AS(ex.wait(), "node 'boom#0' failed: bad step", node_error);
}

TEST_CASE("executor: stop() ends tasks that would run forever") {
  shared_counts counts;
  counts.tasks = 2;
  std::vector<std::unique_ptr<detail::task_builder>> builders;
  builders.push_back(std::make_unique<counting_builder>("forever0", counts, 0));
  builders.push_back(std::make_unique<counting_builder>("forever1", counts, 0));
  detail::executor ex(runtime_options{.workers = 2, .pin = false});
  ex.start(std::move(builders));
  ex.stop();
  CHECK_NOTHROW(ex.wait());
}

namespace {

// A step costs `per_message` of busy time per message of its budget.
class timed_task final : public detail::task {
 public:
  explicit timed_task(detail::node_metrics& m) : task(m) {}
  bool step(std::size_t budget) override {
    budgets.push_back(budget);
    const auto until = std::chrono::steady_clock::now() + per_message * static_cast<long>(budget);
    while (std::chrono::steady_clock::now() < until) {
    }
    return true;
  }
  [[nodiscard]] bool ready() const override { return true; }
  [[nodiscard]] wait_policy blocked_policy() const override { return wait_policy::park; }
  void on_processing_time(timestamp) override {}

  std::chrono::nanoseconds per_message{0};
  std::vector<std::size_t> budgets;
};

}  // namespace

TEST_CASE("executor: a step's budget shrinks to the flush interval and grows back when steps are quick") {
  detail::run_state state;
  detail::worker_context w(0, state);
  w.set_budget(256);
  w.set_flush_interval(std::chrono::microseconds(100));
  detail::node_metrics m;
  timed_task t(m);

  // 5 us a message: a full step would hold its first record 1.28 ms. Time
  // only adds (a preempted step looks slower), so the bound cannot flake.
  t.per_message = std::chrono::microseconds(5);
  for (int k = 0; k < 4; ++k) w.run_step(t);
  CHECK(t.budgets.front() == 256);
  CHECK(t.step_budget() >= 1);
  CHECK(t.step_budget() <= 20);  // 100 us / 5 us

  // Quick steps double it back to the configured budget, never past it.
  t.per_message = std::chrono::nanoseconds(0);
  for (int k = 0; k < 40; ++k) w.run_step(t);
  CHECK(t.step_budget() == 256);
  for (std::size_t b : t.budgets) CHECK(b <= 256);

  // Off: the budget alone bounds a step.
  w.set_flush_interval(duration::max());
  t.per_message = std::chrono::microseconds(5);
  for (int k = 0; k < 2; ++k) w.run_step(t);
  CHECK(t.step_budget() == 256);
}

TEST_CASE("executor: a flush interval that is not positive is refused") {
  runtime_options o;
  o.flush_interval = duration::zero();
  const auto problem = detail::options_problem(o);
  REQUIRE(problem.has_value());
  CHECK(problem->find("flush_interval") != std::string::npos);
}
