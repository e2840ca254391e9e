#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "support/counting_allocator.hpp"
#include "support/differential.hpp"
#include "support/event_stream.hpp"

using namespace laminar::test;

TEST_CASE("counting allocator counts heap allocations") {
  allocation_counter c;
  // The empty asm makes the blocks escape, so the compiler cannot elide them.
  void* p = ::operator new(16);
  asm volatile("" : : "g"(p) : "memory");
  ::operator delete(p);
  std::vector<int> v(100);
  asm volatile("" : : "g"(v.data()) : "memory");
  CHECK(c.count() == 2);
}

TEST_CASE("event streams are seeded, out of order, with duplicates, late records and many keys") {
  stream_options o;
  o.records = 20'000;
  o.keys = 500;
  const auto a = make_stream(o);
  const auto b = make_stream(o);
  CHECK(a == b);
  o.seed = 2;
  CHECK(make_stream(o) != a);

  std::size_t out_of_order = 0, duplicates = 0, late = 0;
  std::int64_t front = a.front().ts;
  std::vector<bool> key_seen(o.keys);
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (i > 0 && a[i].ts < a[i - 1].ts) ++out_of_order;
    if (i > 0 && a[i].ts == a[i - 1].ts) ++duplicates;
    if (a[i].ts < front - o.max_disorder_ns - 2 * o.mean_step_ns) ++late;
    front = std::max(front, a[i].ts);
    key_seen[a[i].key] = true;
    CHECK(a[i].seq == i);
  }
  CHECK(out_of_order > a.size() / 10);
  CHECK(duplicates > a.size() / 50);
  CHECK(late > 0);
  CHECK(std::count(key_seen.begin(), key_seen.end(), true) == 500);
}

TEST_CASE("absurd timestamps appear when asked") {
  stream_options o;
  o.absurd_fraction = 0.01;
  const auto s = make_stream(o);
  CHECK(std::any_of(s.begin(), s.end(), [](const event& e) { return e.ts == std::numeric_limits<std::int64_t>::max(); }));
  CHECK(std::any_of(s.begin(), s.end(), [](const event& e) { return e.ts == std::numeric_limits<std::int64_t>::min(); }));
}

TEST_CASE("the differential harness passes equal outputs and reports the first difference") {
  std::vector<int> in{1, 2, 3};
  CHECK(differential(
      in, [](const std::vector<int>& v) { return v; }, [](const std::vector<int>& v) { return v; }));
}
