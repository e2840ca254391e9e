// Fused chain vs hand-written loop.
//
// The same work, map(price * qty) -> filter(notional > threshold) -> sum, over
// the same in-memory trades, done two ways in one process: a hand-written
// loop and the laminar chain from(trades) | map | filter | sink. The two are
// interleaved for several repetitions; the figures are the medians and the
// ratio of the medians (1.0 = the chain costs nothing over the loop). Both
// sums must be bit-identical.
//
// Then several signals from the same trades in one pass, two ways: a hand
// loop that computes them all per record, and one chain that fans out
// into a branch per signal (fan_out; one branch is a fan_in of two more).
// Every result must be the same.
//
// Then per-event latency through a push pipeline
// (push<trade>() | map | filter | sink), each push timed with the cycle
// timer. The timer's own cost and its resolution are printed beside the
// percentiles: every sample includes the one and is rounded to the other.
#include <laminar/laminar.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "support/bench.hpp"
#include "support/latency_histogram.hpp"
#include "support/trades.hpp"

namespace {

using laminar::bench::trade;
using laminar::bench::make_trades;


double notional(const trade& t) noexcept { return t.price * t.qty; }

// The notional below which a `fraction` of (up to) the first million records
// lie. The filter drops the smallest prints, as a desk's "ignore odd lots"
// rule does: most records pass, so the branch is predictable and the figure
// measures the chain's own cost, not branch mispredictions (with a 50% random
// filter both loops run ~5x slower with g++ and the chain's overhead would be
// lost in the noise).
double notional_quantile(const std::vector<trade>& trades, double fraction) {
  const std::size_t n = std::min<std::size_t>(trades.size(), 1'000'000);
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = notional(trades[i]);
  const auto k = static_cast<std::size_t>(fraction * static_cast<double>(n - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

[[gnu::noinline]] double hand_loop(const std::vector<trade>& trades, double threshold) {
  double sum = 0.0;
  for (const trade& t : trades) {
    const double n = t.price * t.qty;
    if (n > threshold) sum += n;
  }
  return sum;
}

[[gnu::noinline]] double fused_chain(std::vector<trade>& trades, double threshold) {
  double sum = 0.0;
  auto p = laminar::from(trades)                                               //
           | laminar::map([](const trade& t) { return t.price * t.qty; })      //
           | laminar::filter([threshold](double n) { return n > threshold; })  //
           | laminar::sink([&sum](double n) { sum += n; });
  p.run();
  return sum;
}

[[noreturn]] void mismatch(const char* what, double hand, double fused) {
  std::fprintf(stderr, "fused_chain: %s: the sums differ: hand loop %.17g (0x%016llx), fused chain %.17g (0x%016llx)\n",
               what, hand, static_cast<unsigned long long>(std::bit_cast<std::uint64_t>(hand)), fused,
               static_cast<unsigned long long>(std::bit_cast<std::uint64_t>(fused)));
  std::exit(1);
}

void throughput(std::vector<trade>& trades, double threshold) {
  namespace lb = laminar::bench;
  const int reps = lb::pick(7, 1);
  const auto events = static_cast<double>(trades.size());

  // Warm-up (and the first correctness check).
  const double expect = hand_loop(trades, threshold);
  const double got = fused_chain(trades, threshold);
  if (std::bit_cast<std::uint64_t>(expect) != std::bit_cast<std::uint64_t>(got)) mismatch("warm-up", expect, got);

  std::vector<double> hand_rates;
  std::vector<double> fused_rates;
  for (int r = 0; r < reps; ++r) {
    // Alternate which goes first, so neither always runs on a warmer machine.
    for (int k = 0; k < 2; ++k) {
      const bool hand = (k == 0) == (r % 2 == 0);
      lb::stopwatch sw;
      const double sum = hand ? hand_loop(trades, threshold) : fused_chain(trades, threshold);
      const double s = sw.elapsed_s();
      lb::do_not_optimize(sum);
      if (std::bit_cast<std::uint64_t>(sum) != std::bit_cast<std::uint64_t>(expect)) {
        mismatch(hand ? "hand loop repetition" : "fused chain repetition", expect, sum);
      }
      (hand ? hand_rates : fused_rates).push_back(events / s);
    }
  }
  const double fused = lb::median(fused_rates);
  const double hand = lb::median(hand_rates);
  lb::report("fused_chain_events_per_s", fused, "events/s", 0);
  lb::report("hand_loop_events_per_s", hand, "events/s", 0);
  lb::report("fused_chain_vs_hand_loop", fused / hand, "x", 3);
}

// The signals of the fan-out figure: the filtered notional sum, the count of
// block trades, a flow (the volume of round lots less that of odd lots of
// up to 5, through a fan_in of two branches) and a digest of the volume per
// symbol. As above, the filters mostly go one way: with a 50/50 random split
// into the fan_in (odd quantities one way, even the other) the hand loop's
// two ifs become one branch-free select, the chain's two branches mispredict,
// and the figure falls to ~0.65x.
struct signals {
  double notional = 0.0;
  std::uint64_t blocks = 0;
  std::int64_t flow = 0;
  std::uint64_t volume_digest = 0;
  friend bool operator==(const signals&, const signals&) = default;
};

std::uint64_t digest_of(const std::vector<std::int64_t>& volume) {
  std::uint64_t d = 0;
  for (std::size_t s = 0; s < volume.size(); ++s) d += laminar::bench::fmix(s * 0x9E3779B97F4A7C15ULL ^ static_cast<std::uint64_t>(volume[s]));
  return d;
}

[[gnu::noinline]] signals hand_signals(const std::vector<trade>& trades, double threshold) {
  signals out;
  std::vector<std::int64_t> volume(500, 0);
  for (const trade& t : trades) {
    const double n = t.price * t.qty;
    if (n > threshold) out.notional += n;
    if (t.qty > 90) ++out.blocks;
    if (t.qty > 5) out.flow += t.qty;
    if (t.qty <= 5) out.flow -= t.qty;
    volume[t.symbol] += t.qty;
  }
  out.volume_digest = digest_of(volume);
  return out;
}

[[gnu::noinline]] signals fanned_signals(std::vector<trade>& trades, double threshold) {
  namespace l = laminar;
  signals out;
  std::vector<std::int64_t> volume(500, 0);
  auto p = l::from(trades) |
           l::fan_out(l::map([](const trade& t) { return t.price * t.qty; }) |
                          l::filter([threshold](double n) { return n > threshold; }) |
                          l::sink([&out](double n) { out.notional += n; }),
                      l::filter([](const trade& t) { return t.qty > 90; }) | l::sink([&out](const trade&) { ++out.blocks; }),
                      l::fan_in(l::filter([](const trade& t) { return t.qty > 5; }) |
                                    l::map([](const trade& t) { return std::int64_t{t.qty}; }),
                                l::filter([](const trade& t) { return t.qty <= 5; }) |
                                    l::map([](const trade& t) { return -std::int64_t{t.qty}; })) |
                          l::sink([&out](std::int64_t q) { out.flow += q; }),
                      l::sink([v = volume.data()](const trade& t) { v[t.symbol] += t.qty; }));
  p.run();
  out.volume_digest = digest_of(volume);
  return out;
}

void fan_out_throughput(std::vector<trade>& trades, double threshold) {
  namespace lb = laminar::bench;
  constexpr std::string_view names[] = {"fan_out", "hand loop"};
  const signals want = hand_signals(trades, threshold);
  const auto rates = lb::interleaved_rates("fan_out", std::span<const std::string_view>(names), trades.size(),
                                           lb::pick(7, 1), want, [&](std::size_t i) {
                                             return i == 0 ? fanned_signals(trades, threshold)
                                                           : hand_signals(trades, threshold);
                                           });
  if (!rates) std::exit(1);
  lb::report("fan_out_events_per_s", (*rates)[0], "events/s", 0);
  lb::report("fan_out_hand_loop_events_per_s", (*rates)[1], "events/s", 0);
  lb::report("fan_out_vs_hand_loop", (*rates)[0] / (*rates)[1], "x", 3);
}

void push_latency(const std::vector<trade>& trades, double threshold) {
  namespace lb = laminar::bench;
  const lb::cycle_timer timer(lb::pick(std::chrono::milliseconds(20), std::chrono::milliseconds(2)));
  const double cost = lb::timer_cost_ns(timer, lb::pick<std::size_t>(200'000, 2'000));
  const double resolution = lb::timer_resolution_ns(timer, lb::pick<std::size_t>(100'000, 1'000));

  double sum = 0.0;
  auto p = laminar::push<trade>()                                              //
           | laminar::map([](const trade& t) { return t.price * t.qty; })      //
           | laminar::filter([threshold](double n) { return n > threshold; })  //
           | laminar::sink([&sum](double n) { sum += n; });

  const std::size_t n = std::min<std::size_t>(trades.size(), lb::pick<std::size_t>(2'000'000, 20'000));
  const std::size_t warm = n / 10;
  lb::latency_histogram h;
  for (std::size_t i = 0; i < n; ++i) {
    const auto t0 = lb::cycle_timer::start();
    p.push(trades[i]);
    const auto t1 = lb::cycle_timer::stop();
    if (i >= warm) h.record(timer.to_ns_rounded(t1 - t0));
  }
  p.finish();
  lb::do_not_optimize(sum);

  lb::report("fused_chain_push_latency_p50_ns", static_cast<double>(h.percentile(50.0)), "ns", 0);
  lb::report("fused_chain_push_latency_p99_ns", static_cast<double>(h.percentile(99.0)), "ns", 0);
  lb::report("fused_chain_push_latency_p999_ns", static_cast<double>(h.percentile(99.9)), "ns", 0);
  lb::report("timer_cost_ns", cost, "ns", 1);
  lb::report("timer_resolution_ns", resolution, "ns", 1);
}

}  // namespace

int main() {
  namespace lb = laminar::bench;
  const std::size_t records = lb::pick<std::size_t>(10'000'000, 200'000);
  std::vector<trade> trades = make_trades(records, 0x1a31'7a2e'5eed'0001ULL);
  const double threshold = notional_quantile(trades, 0.05);

  std::size_t passing = 0;
  for (const trade& t : trades) passing += notional(t) > threshold ? 1U : 0U;
  std::fprintf(stderr, "# fused_chain: %zu records of %zu bytes, threshold %.3f, %.1f%% pass%s\n", trades.size(),
               sizeof(trade), threshold, 100.0 * static_cast<double>(passing) / static_cast<double>(trades.size()),
               lb::smoke() ? " (smoke run)" : "");

  throughput(trades, threshold);
  fan_out_throughput(trades, threshold);
  push_latency(trades, threshold);
  return 0;
}
