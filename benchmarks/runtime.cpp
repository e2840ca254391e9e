// The runtime's figures: a source thread feeding a map/filter/keyed-sum
// chain on a second thread, against the same chain in one thread; an
// exchange by key to two parallel instances; and what the task budget does
// to the latency of a light chain sharing a worker with a heavy one.
//
// Cross-thread figures on a shared 2-vCPU VM are bimodal (see
// ../shared/PLATFORM.md), so each runs several trials and prints medians.
#include <laminar/laminar.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "support/bench.hpp"
#include "support/latency_histogram.hpp"
#include "support/trades.hpp"

namespace lb = laminar::bench;
using namespace laminar;

namespace {

using lb::trade;

constexpr std::uint32_t symbols = 1000;

// map -> filter -> key_by -> running notional per symbol (dense ids).
auto chain_body() {
  return map([](const trade& t) { return std::pair<std::uint32_t, double>{t.symbol, t.price * t.qty}; }) |
         filter([](const std::pair<std::uint32_t, double>& p) { return p.second > 100.0; }) |
         map([totals = std::vector<double>(symbols)](const std::pair<std::uint32_t, double>& p) mutable {
           return totals[p.first] += p.second;
         });
}

double single_thread_rate(const std::vector<trade>& trades, double& checksum) {
  double last = 0;
  lb::stopwatch sw;
  auto p = from(trades) | chain_body() | sink([&](double v) { last = v; });
  p.run();
  const double secs = sw.elapsed_s();
  checksum = last;
  return static_cast<double>(trades.size()) / secs;
}

double two_thread_rate(const std::vector<trade>& trades, std::uint64_t& delivered) {
  std::uint64_t n = 0;
  graph g(runtime_options{.workers = 2});
  auto src = g.source("trades", from(trades));
  g.node("chain", src, chain_body() | count_events(n), edge_options{4096});
  lb::stopwatch sw;
  g.run();
  const double secs = sw.elapsed_s();
  delivered = g.metrics()[1].events_in;
  return static_cast<double>(trades.size()) / secs;
}

double exchange_rate(const std::vector<trade>& trades, std::uint64_t& delivered) {
  graph g(runtime_options{.workers = 2});
  auto src = g.source("trades", from(trades) | key_by(&trade::symbol));
  g.parallel("sum", src, 2, chain_body() | sink([](double v) { lb::do_not_optimize(v); }), edge_options{4096});
  lb::stopwatch sw;
  g.run();
  const double secs = sw.elapsed_s();
  delivered = 0;
  for (const auto& m : g.metrics()) {
    if (m.node == "sum") delivered += m.events_in;
  }
  return static_cast<double>(trades.size()) / secs;
}

// One worker runs a source, a heavy chain and a light chain; the light
// chain's per-record latency (stamped at the source) shows how long the heavy
// chain keeps the worker per turn, i.e. what the task budget bounds.
lb::latency_histogram budget_latency(std::size_t budget, std::size_t records, const lb::cycle_timer& timer) {
  struct stamped {
    std::uint64_t t0;
    std::uint64_t i;
  };
  lb::latency_histogram h;
  graph g(runtime_options{.workers = 1, .budget = budget});
  auto src = g.source("stamps", generate([i = std::uint64_t{0}, records]() mutable -> std::optional<stamped> {
                        if (i == records) return std::nullopt;
                        return stamped{lb::cycle_timer::now(), i++};
                      }));
  g.node("heavy", src, sink([](const stamped& s) {
           std::uint64_t x = s.i;
           for (int k = 0; k < 200; ++k) x = x * 6364136223846793005ULL + 1;
           lb::do_not_optimize(x);
         }),
         edge_options{1 << 16});
  g.node("light", src, sink([&](const stamped& s) {
           h.record(static_cast<std::uint64_t>(timer.to_ns(lb::cycle_timer::now() - s.t0)));
         }),
         edge_options{64});  // small: the source runs only as far ahead of the light chain
  g.run();
  return h;
}

}  // namespace

int main() {
  const std::size_t records = lb::pick<std::size_t>(10'000'000, 100'000);
  const int trials = lb::pick(7, 1);
  const auto trades = lb::make_trades(records, 0x5eed'2024'0000'0001ULL, symbols);

  std::vector<double> single, two, exchange;
  for (int t = 0; t < trials; ++t) {
    double checksum = 0;
    std::uint64_t delivered = 0;
    single.push_back(single_thread_rate(trades, checksum));
    lb::do_not_optimize(checksum);
    two.push_back(two_thread_rate(trades, delivered));
    if (delivered != records) {
      std::fprintf(stderr, "pipeline_2threads: %llu of %zu records delivered\n",
                   static_cast<unsigned long long>(delivered), records);
      return 1;
    }
    exchange.push_back(exchange_rate(trades, delivered));
    if (delivered != records) {
      std::fprintf(stderr, "exchange_2workers: %llu of %zu records delivered\n",
                   static_cast<unsigned long long>(delivered), records);
      return 1;
    }
  }
  const double s = lb::median(single), p = lb::median(two), x = lb::median(exchange);
  lb::report("pipeline_single_thread_events_per_s", s, "events/s");
  lb::report("pipeline_2threads_events_per_s", p, "events/s");
  lb::report("pipeline_2threads_vs_single_thread", p / s, "x");
  lb::report("exchange_2workers_events_per_s", x, "events/s");
  lb::report("exchange_2workers_vs_single_thread", x / s, "x");

  const lb::cycle_timer timer;
  const std::size_t stamped = lb::pick<std::size_t>(300'000, 20'000);
  for (std::size_t budget : {16UL, 4096UL}) {
    const auto h = budget_latency(budget, stamped, timer);
    const std::string name = "task_budget_" + std::to_string(budget) + "_light_chain_latency_";
    lb::report(name + "p50_ns", static_cast<double>(h.percentile(50.0)), "ns", 0);
    lb::report(name + "p99_ns", static_cast<double>(h.percentile(99.0)), "ns", 0);
  }
}
