// What watermark alignment costs a union per record.
//
// Two in-memory feeds with the same event-time rate (1 µs per record, so a
// 1 s max_drift never holds anything back) go through union_of into a sum,
// plain and aligned under each policy. The figures are the medians of
// interleaved repetitions and their ratios to the plain union (1.0 = free).
// The pause policy checks its cached limit after each record (the source
// stops on request at the bound); warn compares each watermark with the
// cached limit; drop compares each record's timestamp with it. Then the
// same with max_drift 0 between feeds of different rates, where the pause
// policy does hold the fast feed back (throughput there is the price of
// alternating, not of the check).
#include <laminar/laminar.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "support/bench.hpp"

namespace lb = laminar::bench;
using namespace laminar;
using namespace std::chrono_literals;

namespace {

struct event {
  std::int64_t ts;
  std::int64_t value;
};

std::vector<event> make_feed(std::size_t n, std::int64_t step_ns, std::int64_t seed) {
  std::vector<event> v;
  v.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::int64_t>(i);
    v.push_back({1'700'000'000'000'000'000 + (k + 1) * step_ns, (k * 7 + seed) % 1000});
  }
  return v;
}

enum class mode { plain, pause, warn, drop };

// One function per mode, so that no mode's code shapes another's.
template <mode M>
[[gnu::noinline]] std::int64_t run(const std::vector<event>& a, const std::vector<event>& b, duration drift) {
  std::int64_t sum = 0;
  auto sum_up = sink([&sum](const event& e) { sum += e.value; });
  auto fa = from(a) | with_watermarks(&event::ts, monotonous_timestamps());
  auto fb = from(b) | with_watermarks(&event::ts, monotonous_timestamps());
  if constexpr (M == mode::plain) {
    (void)drift;
    (union_of(std::move(fa), std::move(fb)) | sum_up).run();
  } else {
    constexpr alignment_policy policy = M == mode::pause ? alignment_policy::pause
                                        : M == mode::warn ? alignment_policy::warn
                                                          : alignment_policy::drop;
    (union_of(std::move(fa), std::move(fb)).aligned(drift, policy) | sum_up).run();
  }
  return sum;
}

std::int64_t run(const std::vector<event>& a, const std::vector<event>& b, mode m, duration drift) {
  switch (m) {
    case mode::plain:
      return run<mode::plain>(a, b, drift);
    case mode::pause:
      return run<mode::pause>(a, b, drift);
    case mode::warn:
      return run<mode::warn>(a, b, drift);
    case mode::drop:
      break;
  }
  return run<mode::drop>(a, b, drift);
}

void compare(const char* name, const std::vector<event>& a, const std::vector<event>& b, duration drift) {
  const int reps = lb::pick(9, 1);
  const auto events = static_cast<double>(a.size() + b.size());
  const std::int64_t expect = run(a, b, mode::plain, drift);  // warm-up
  std::vector<double> rates[4];
  for (int r = 0; r < reps; ++r) {
    for (int k = 0; k < 4; ++k) {
      const auto m = static_cast<mode>((k + r) % 4);  // rotate which runs first
      lb::stopwatch sw;
      const std::int64_t sum = run(a, b, m, drift);
      const double s = sw.elapsed_s();
      lb::do_not_optimize(sum);
      if (m != mode::drop && sum != expect) {
        std::fprintf(stderr, "alignment: %s: a run lost records (sum %lld, expected %lld)\n", name,
                     static_cast<long long>(sum), static_cast<long long>(expect));
        std::exit(1);
      }
      rates[static_cast<int>(m)].push_back(events / s);
    }
  }
  const double plain = lb::median(rates[0]);
  const double pause = lb::median(rates[1]);
  const double warn = lb::median(rates[2]);
  const double drop = lb::median(rates[3]);
  const std::string prefix(name);
  lb::report(prefix + "union_events_per_s", plain, "events/s", 0);
  lb::report(prefix + "aligned_union_events_per_s", pause, "events/s", 0);
  lb::report(prefix + "aligned_union_vs_union", pause / plain, "x", 3);
  lb::report(prefix + "aligned_union_added_ns_per_event", 1e9 / pause - 1e9 / plain, "ns", 2);
  lb::report(prefix + "aligned_union_warn_vs_union", warn / plain, "x", 3);
  lb::report(prefix + "aligned_union_drop_vs_union", drop / plain, "x", 3);
}

}  // namespace

int main() {
  const std::size_t n = lb::pick<std::size_t>(4'000'000, 20'000);
  // Same rates, 1 s max_drift: nothing is held back; the figure is the check's cost.
  compare("", make_feed(n, 1000, 1), make_feed(n, 1000, 2), 1s);
  // Rates 1:3, max_drift 0: the pause policy alternates the feeds record by record.
  compare("holding_", make_feed(n, 1000, 1), make_feed(n / 3, 3000, 2), duration::zero());
}
