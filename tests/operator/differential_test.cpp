// Differential tests of the stateless operators and the watermark path
// against plain loops on seeded, randomized, out-of-order streams.
#include <doctest/doctest.h>

#include <chrono>
#include <laminar/laminar.hpp>
#include <vector>

#include "support/differential.hpp"
#include "support/event_stream.hpp"
#include "support/recording_sink.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using test::event;

namespace {
struct enriched {
  std::uint32_t key;
  std::int64_t ts;
  std::int64_t notional;
  friend bool operator==(const enriched&, const enriched&) = default;
  friend std::ostream& operator<<(std::ostream& os, const enriched& e) {
    return os << "{" << e.key << ", " << e.ts << ", " << e.notional << "}";
  }
};
}  // namespace

TEST_CASE("map | filter | flat_map | tap agree with a plain loop on random streams") {
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    test::stream_options o;
    o.seed = seed;
    o.records = 2000;
    o.keys = 1 + static_cast<std::uint32_t>(seed * 37 % 1000);
    const auto input = test::make_stream(o);
    CHECK(test::differential(
        input,
        [](const std::vector<event>& in) {
          std::vector<enriched> out;
          std::int64_t taps = 0;
          auto p = from(in) | filter([](const event& e) { return e.key % 3 != 0; }) |
                   map([](const event& e) { return enriched{e.key, e.ts, e.value * 100}; }) |
                   flat_map<enriched>([](const enriched& e, auto&& emit) {
                     if (e.notional < 0) return;
                     emit(e);
                     if (e.notional > 50'000) emit(enriched{e.key, e.ts, -e.notional});
                   }) |
                   tap([&](const enriched&) { ++taps; }) | collect(out);
          p.run();
          CHECK(taps == static_cast<std::int64_t>(out.size()));
          return out;
        },
        [](const std::vector<event>& in) {
          std::vector<enriched> out;
          for (const event& e : in) {
            if (e.key % 3 == 0) continue;
            const std::int64_t n = e.value * 100;
            if (n < 0) continue;
            out.push_back({e.key, e.ts, n});
            if (n > 50'000) out.push_back({e.key, e.ts, -n});
          }
          return out;
        }));
  }
}

TEST_CASE("bounded out-of-orderness watermarks agree with a reference model, message by message") {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    test::stream_options o;
    o.seed = seed;
    o.records = 3000;
    const auto input = test::make_stream(o);
    const std::int64_t bound = 20'000'000;
    using msg = test::message<event>;
    CHECK(test::differential(
        input,
        [&](const std::vector<event>& in) {
          std::vector<msg> trace;
          auto strategy = bounded_out_of_orderness(duration::from_nanos(bound)).with_max_future_skew(duration::max());
          auto p = from(in) | with_watermarks(&event::ts, strategy) | test::record(trace);
          p.run();
          return trace;
        },
        [&](const std::vector<event>& in) {
          std::vector<msg> trace;
          std::int64_t highest = 0;
          bool any = false;
          std::int64_t emitted = 0;
          for (const event& e : in) {
            trace.emplace_back(e);
            if (!any || e.ts > highest) highest = e.ts;
            const std::int64_t w = highest - bound;
            if (!any || w > emitted) {
              trace.emplace_back(timestamp::from_nanos(w));
              emitted = w;
            }
            any = true;
          }
          trace.emplace_back(timestamp::max());
          trace.emplace_back(test::end_seen{});
          return trace;
        },
        "trace"));
  }
}
