#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <laminar/laminar.hpp>
#include <vector>

#include "support/event_stream.hpp"
#include "support/recording_sink.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using test::event;

namespace {
struct tick {
  std::int64_t ts;
  int src;
  friend bool operator==(const tick&, const tick&) = default;
  friend std::ostream& operator<<(std::ostream& os, const tick& t) { return os << "{" << t.ts << ", " << t.src << "}"; }
};
using msg = test::message<tick>;
timestamp ns(std::int64_t v) { return timestamp::from_nanos(v); }
}  // namespace

TEST_CASE("union_of: the watermark is the minimum over the inputs that have not ended") {
  std::vector<tick> a{{10, 0}, {20, 0}, {30, 0}};
  std::vector<tick> b{{5, 1}, {100, 1}};
  std::vector<msg> trace;
  auto p = union_of_batched(1, from(a) | with_watermarks(&tick::ts, monotonous_timestamps()),
                            from(b) | with_watermarks(&tick::ts, monotonous_timestamps())) |
           test::record(trace);
  p.run();
  // Each input's first record waits for its second (future-skew policy).
  // a:10, b:5, a:20 (a at 20, b none: min stays), b:100 (b at 100) -> min 20,
  // a:30 -> 30, b ends -> 30 stays min over a, a ends -> max.
  CHECK(trace == std::vector<msg>{tick{10, 0}, tick{5, 1}, tick{20, 0}, tick{100, 1}, ns(20), tick{30, 0}, ns(30),
                                  timestamp::max(), test::end_seen{}});
}

TEST_CASE("union_of ends only when every input has ended, and passes one end") {
  std::vector<tick> a{{1, 0}};
  std::vector<tick> b{{2, 1}, {3, 1}, {4, 1}};
  std::vector<msg> trace;
  auto p = union_of_batched(1, from(a), from(b)) | test::record(trace);
  p.run();
  CHECK(std::count(trace.begin(), trace.end(), msg{test::end_seen{}}) == 1);
  CHECK(test::events_of(trace).size() == 4);
  CHECK(trace.back() == msg{test::end_seen{}});
}

TEST_CASE("union_of loses and duplicates nothing on random streams") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    test::stream_options o;
    o.seed = seed;
    o.records = 3000;
    const auto s1 = test::make_stream(o);
    o.seed += 1000;
    o.records = 1000 + seed * 100;
    const auto s2 = test::make_stream(o);
    std::vector<event> out;
    auto p = union_of(from(s1) | with_watermarks(&event::ts, bounded_out_of_orderness(10ms)),
                      from(s2) | with_watermarks(&event::ts, bounded_out_of_orderness(10ms))) |
             collect(out);
    p.run();
    std::vector<event> expected = s1;
    expected.insert(expected.end(), s2.begin(), s2.end());
    auto by_content = [](const event& x, const event& y) {
      return std::tie(x.seq, x.ts, x.key, x.value) < std::tie(y.seq, y.ts, y.key, y.value);
    };
    std::sort(out.begin(), out.end(), by_content);
    std::sort(expected.begin(), expected.end(), by_content);
    CHECK(out == expected);
  }
}

TEST_CASE("a union restored mid-stream continues exactly as the uninterrupted one") {
  test::stream_options o;
  o.records = 2000;
  const auto s1 = test::make_stream(o);
  o.seed = 99;
  const auto s2 = test::make_stream(o);
  using m = test::message<event>;
  auto build = [&](std::vector<m>& trace) {
    return union_of_batched(7, from(s1) | with_watermarks(&event::ts, bounded_out_of_orderness(5ms)),
                            from(s2) | with_watermarks(&event::ts, bounded_out_of_orderness(5ms))) |
           test::record(trace);
  };
  std::vector<m> expected;
  auto whole = build(expected);
  whole.run();
  for (std::size_t cut : {0UL, 13UL, 1000UL, 3999UL}) {
    std::vector<m> first_trace, trace;
    auto first = build(first_trace);
    first.run_for(cut);
    const snapshot s = first.checkpoint(3);
    auto second = build(trace);
    second.restore(s);
    second.run();
    // The restored run's trace is the uninterrupted trace after the cut,
    // preceded by the restore barrier.
    std::vector<m> tail(expected.begin() + static_cast<std::ptrdiff_t>(first_trace.size() - 1), expected.end());
    REQUIRE(!trace.empty());
    CHECK(trace.front() == m{test::barrier_seen{3, true}});
    CHECK(std::vector<m>(trace.begin() + 1, trace.end()) == tail);
  }
}
