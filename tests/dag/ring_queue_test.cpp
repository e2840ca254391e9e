// The grow-only ring behind a task's held messages: FIFO order against
// std::deque on seeded random pushes, pops and removals from the middle;
// growth while the ring has wrapped around; every element destroyed exactly
// once; and no allocation once it has reached its peak.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <variant>

#include <laminar/dag/detail/ring_queue.hpp>
#include <laminar/dag/message.hpp>

#include "support/counting_allocator.hpp"

using laminar::detail::ring_queue;

namespace {

// Counts the live instances, so a leak or a double destruction shows.
struct tracked {
  static inline int live = 0;
  std::uint64_t v = 0;
  explicit tracked(std::uint64_t x) : v(x) { ++live; }
  tracked(tracked&& o) noexcept : v(o.v) { ++live; }
  tracked(const tracked& o) : v(o.v) { ++live; }
  tracked& operator=(tracked&& o) noexcept {
    v = o.v;
    return *this;
  }
  tracked& operator=(const tracked&) = default;
  ~tracked() { --live; }
};

template <class T, class U>
void check_same(const ring_queue<T>& r, const std::deque<U>& d) {
  REQUIRE(r.size() == d.size());
  CHECK(r.empty() == d.empty());
  for (std::size_t k = 0; k < d.size(); ++k) REQUIRE(r[k].v == d[k]);
}

}  // namespace

TEST_CASE("ring_queue: pushes, pops and removals from the middle keep the order std::deque keeps") {
  std::mt19937_64 rng(7);
  {
    ring_queue<tracked> r;
    std::deque<std::uint64_t> d;
    std::uint64_t next = 0;
    for (int i = 0; i < 50'000; ++i) {
      const auto op = rng() % 16;
      // Phases that fill and phases that drain, so the ring wraps at many sizes.
      const bool filling = (i / 2000) % 2 == 0;
      if (op < (filling ? 10U : 5U)) {
        r.emplace_back(next);
        d.push_back(next++);
      } else if (op < 15 && !d.empty()) {
        CHECK(r.front().v == d.front());
        r.pop_front();
        d.pop_front();
      } else if (!d.empty()) {
        const std::size_t k = rng() % d.size();
        r.erase(k);
        d.erase(d.begin() + static_cast<std::ptrdiff_t>(k));
      }
      if (i % 97 == 0) check_same(r, d);
      CHECK(tracked::live == static_cast<int>(d.size()));
    }
    check_same(r, d);
    CHECK(r.capacity() >= d.size());
    CHECK((r.capacity() & (r.capacity() - 1)) == 0);
  }
  CHECK(tracked::live == 0);  // the destructor destroyed what was left
}

TEST_CASE("ring_queue: growing while wrapped around keeps the order") {
  ring_queue<tracked> r;
  std::deque<std::uint64_t> d;
  std::uint64_t next = 0;
  const auto push = [&] {
    r.push_back(tracked(next));
    d.push_back(next++);
  };
  for (int i = 0; i < 16; ++i) push();
  REQUIRE(r.capacity() == 16);
  // Move the head to the middle, then fill: the elements wrap past the end.
  for (int i = 0; i < 11; ++i) {
    r.pop_front();
    d.pop_front();
  }
  for (int i = 0; i < 11; ++i) push();
  REQUIRE(r.capacity() == 16);
  check_same(r, d);
  push();  // full and wrapped: grows
  CHECK(r.capacity() == 32);
  check_same(r, d);
  // Again at every head position of the larger ring.
  for (int round = 0; round < 32; ++round) {
    r.pop_front();
    d.pop_front();
    push();
    check_same(r, d);
  }
  while (r.size() < 32) push();
  push();
  CHECK(r.capacity() == 64);
  check_same(r, d);
  r.clear();
  CHECK(r.empty());
  CHECK(r.capacity() == 64);  // clear keeps the storage
  CHECK(tracked::live == 0);
}

TEST_CASE("ring_queue: no allocation once it has reached its peak size") {
  using message = laminar::stream_message<std::uint64_t>;
  ring_queue<message> r;
  std::mt19937_64 rng(11);
  // Warm-up: up to 300 held at once; the ring grows to 512.
  for (int i = 0; i < 300; ++i) r.emplace_back(std::in_place_index<0>, std::uint64_t(i));
  while (!r.empty()) r.pop_front();
  REQUIRE(r.capacity() == 512);
  laminar::test::allocation_counter allocations;
  std::uint64_t sum = 0;
  std::uint64_t expected = 0;
  std::uint64_t next = 0;
  for (int i = 0; i < 200'000; ++i) {
    if (r.size() < 300 && rng() % 2 == 0) {
      if (next % 64 == 0) {
        r.emplace_back(std::in_place_index<1>, laminar::timestamp::from_nanos(std::int64_t(next)));
      } else {
        r.emplace_back(std::in_place_index<0>, next);
        expected += next;
      }
      ++next;
    } else if (!r.empty()) {
      if (r.front().index() == 0) sum += std::get<0>(r.front());
      r.pop_front();
    }
  }
  CHECK(allocations.count() == 0);
  while (!r.empty()) {
    if (r.front().index() == 0) sum += std::get<0>(r.front());
    r.pop_front();
  }
  CHECK(sum == expected);
  CHECK(r.capacity() == 512);
}

TEST_CASE("ring_queue: moves hand over the elements, and a throwing constructor leaves the queue as it was") {
  ring_queue<std::unique_ptr<int>> a;
  for (int i = 0; i < 20; ++i) a.push_back(std::make_unique<int>(i));
  ring_queue<std::unique_ptr<int>> b(std::move(a));
  CHECK(a.empty());           // NOLINT(bugprone-use-after-move): a moved-from queue is empty
  CHECK(a.capacity() == 0);   // NOLINT(bugprone-use-after-move)
  REQUIRE(b.size() == 20);
  CHECK(*b[19] == 19);
  a = std::move(b);
  REQUIRE(a.size() == 20);
  CHECK(*a.front() == 0);
  a.push_back(std::make_unique<int>(20));  // a moved-into queue still grows
  CHECK(*a[20] == 20);

  struct fussy {
    std::string s;
    explicit fussy(const char* p) : s(p) {
      if (s.empty()) throw std::invalid_argument("empty");
    }
  };
  ring_queue<fussy> r;
  for (int i = 0; i < 16; ++i) r.emplace_back("x");
  r.pop_front();
  r.emplace_back("y");  // wrapped, full
  CHECK_THROWS_AS(r.emplace_back(""), std::invalid_argument);
  REQUIRE(r.size() == 16);
  CHECK(r.front().s == "x");
  CHECK(r[15].s == "y");
}
