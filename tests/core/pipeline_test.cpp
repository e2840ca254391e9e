#include <doctest/doctest.h>

#include <chrono>
#include <laminar/laminar.hpp>
#include <vector>

#include "support/recording_sink.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using test::barrier_seen;
using test::end_seen;
using msg = test::message<int>;

TEST_CASE("end of stream: the watermark reaches the end of time, then every stage flushes") {
  std::vector<int> in{1, 2, 3};
  std::vector<msg> trace;
  auto p = from(in) | map([](int x) { return x * 2; }) | test::record(trace);
  p.run();
  CHECK(trace == std::vector<msg>{2, 4, 6, timestamp::max(), end_seen{}});
  CHECK(p.finished());
}

TEST_CASE("a pipeline refuses work after finish() with a clear error") {
  std::vector<msg> trace;
  auto p = push<int>() | test::record(trace);
  p.push(1);
  p.finish();
  CHECK_THROWS_WITH_AS(p.push(2), "pipeline: push() after finish(): the stream has ended", usage_error);
  CHECK_THROWS_WITH_AS(p.finish(), "pipeline: finish() after finish(): the stream has ended", usage_error);
  CHECK_THROWS_AS(p.push_watermark(timestamp::from_nanos(5)), usage_error);
  CHECK_THROWS_AS((void)p.checkpoint(1), usage_error);
  CHECK(trace == std::vector<msg>{1, timestamp::max(), end_seen{}});

  std::vector<int> in{1};
  auto q = from(in) | test::record(trace);
  q.run();
  CHECK_THROWS_AS(q.run(), usage_error);
  CHECK_THROWS_AS((void)q.run_for(1), usage_error);
}

TEST_CASE("a barrier travels in order with the data") {
  std::vector<int> in{1, 2, 3, 4};
  std::vector<msg> trace;
  auto p = from(in) | filter([](int x) { return x != 3; }) | test::record(trace);
  CHECK(p.run_for(2) == 2);
  (void)p.checkpoint(9);
  CHECK(p.run_for(10) == 2);
  CHECK(p.exhausted());
  p.finish();
  CHECK(trace == std::vector<msg>{1, 2, barrier_seen{9, false}, 4, timestamp::max(), end_seen{}});
}

TEST_CASE("save mid-stream, load into a fresh pipeline, continue: same output as uninterrupted") {
  std::vector<int> in;
  for (int i = 0; i < 1000; ++i) in.push_back((i * 7919) % 1000);
  auto build = [&](std::vector<int>& out, std::uint64_t& n) {
    return from(in) | map([](int x) { return x * 3; }) | filter([](int x) { return x % 2 == 0; }) |
           tap([&n](int) { ++n; }) | collect(out);
  };
  std::vector<int> expected;
  std::uint64_t n_expected = 0;
  auto whole = build(expected, n_expected);
  whole.run();

  for (std::size_t cut : {0UL, 1UL, 500UL, 999UL, 1000UL}) {
    std::vector<int> first_out;
    std::uint64_t n1 = 0;
    auto first = build(first_out, n1);
    first.run_for(cut);
    const std::string file = first.checkpoint(cut).to_bytes();

    std::vector<int> out = first_out;  // collect's checkpoint holds only its length
    std::uint64_t n2 = 0;
    auto second = build(out, n2);
    second.restore(snapshot::from_bytes(file));
    CHECK(second.source().position() == cut);
    second.run();
    CHECK(out == expected);
  }
}

TEST_CASE("restoring into a pipeline of another shape is refused") {
  std::vector<int> in{1, 2, 3};
  std::vector<int> out;
  std::uint64_t n = 0;
  auto a = from(in) | collect(out);
  a.run_for(2);
  const snapshot s = a.checkpoint(1);
  auto b = from(in) | count_events(n);
  CHECK_THROWS_WITH_AS(b.restore(s), doctest::Contains("no state for the stage with id 'count_events'"),
                       checkpoint_error);
  auto c = push<int>() | collect(out);
  CHECK_THROWS_AS(c.restore(s), checkpoint_error);
}

TEST_CASE("watermarks flow through stateless stages unchanged and in order") {
  struct tick {
    std::int64_t ts;
    int qty;
  };
  std::vector<tick> in{{10, 1}, {30, 0}, {20, 2}, {50, 3}};
  std::vector<test::message<int>> trace;
  auto p = from(in) | with_watermarks(&tick::ts, bounded_out_of_orderness(5ns)) |
           filter([](const tick& t) { return t.qty > 0; }) | map([](const tick& t) { return t.qty; }) |
           test::record(trace);
  p.run();
  const auto ns = [](std::int64_t v) { return timestamp::from_nanos(v); };
  // The first record waits for the second to confirm it (future-skew policy).
  CHECK(trace == std::vector<msg>{1, ns(25), 2, 3, ns(45), timestamp::max(), end_seen{}});
}
