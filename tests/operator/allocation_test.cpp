#include <doctest/doctest.h>

#include <chrono>
#include <laminar/laminar.hpp>
#include <vector>

#include "support/counting_allocator.hpp"
#include "support/event_stream.hpp"

using namespace laminar;
using namespace std::chrono_literals;

TEST_CASE("source | map | filter | key_by | tap | sink: zero heap allocations per event after warm-up") {
  test::stream_options o;
  o.records = 100'000;
  const auto stream = test::make_stream(o);
  std::int64_t sum = 0;
  std::uint64_t tapped = 0;

  auto p = push<test::event>() | with_watermarks(&test::event::ts, bounded_out_of_orderness(10ms)) |
           map([](const test::event& e) { return test::event{e.key, e.ts, e.value * 2, e.seq}; }) |
           filter([](const test::event& e) { return e.value > 0; }) | key_by(&test::event::key) |
           tap([&](const test::event&) { ++tapped; }) | sink([&](const test::event& e) { sum += e.value; });
  for (std::size_t i = 0; i < 100; ++i) p.push(stream[i]);  // warm-up

  test::allocation_counter c;
  for (std::size_t i = 100; i < stream.size(); ++i) p.push(stream[i]);
  p.finish();
  CHECK(c.count() == 0);
  CHECK(tapped > 0);
  CHECK(sum > 0);
}

TEST_CASE("a range-driven fused chain allocates nothing while it runs") {
  std::vector<int> in(100'000, 3);
  std::uint64_t n = 0;
  auto p = from(in) | map([](int x) { return x * 2; }) | filter([](int x) { return x > 1; }) |
           key_by([](int x) { return x; }) | tap([](int) {}) | count_events(n);
  test::allocation_counter c;
  p.run();
  CHECK(c.count() == 0);
  CHECK(n == in.size());
}
