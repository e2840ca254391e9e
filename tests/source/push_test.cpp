#include <doctest/doctest.h>

#include <laminar/laminar.hpp>
#include <vector>

#include "support/recording_sink.hpp"

using namespace laminar;
using msg = test::message<int>;

TEST_CASE("a push source delivers records and watermarks in the order pushed") {
  std::vector<msg> trace;
  auto p = push<int>() | map([](int x) { return x + 1; }) | test::record(trace);
  p.push(1);
  p.push_watermark(timestamp::from_nanos(10));
  p.push(2);
  p.push_watermark(timestamp::from_nanos(10));  // repeated: not passed on
  p.push_watermark(timestamp::from_nanos(11));
  p.finish();
  CHECK(trace == std::vector<msg>{2, timestamp::from_nanos(10), 3, timestamp::from_nanos(11), timestamp::max(),
                                  test::end_seen{}});
  CHECK(p.source().position() == 2);
}

TEST_CASE("a watermark going backwards from user code is a usage error") {
  std::uint64_t n = 0;
  auto p = push<int>() | count_events(n);
  p.push_watermark(timestamp::from_nanos(100));
  CHECK_THROWS_WITH_AS(p.push_watermark(timestamp::from_nanos(99)),
                       "push source: watermark went backwards: 99ns after 100ns", usage_error);
  p.push(1);  // the pipeline is still usable
  CHECK(n == 1);
}

TEST_CASE("a push pipeline restores its position and watermark") {
  std::vector<int> out1, out2;
  auto p = push<int>() | collect(out1);
  p.push(1);
  p.push_watermark(timestamp::from_nanos(50));
  const snapshot s = p.checkpoint(1);
  out2 = out1;  // collect's checkpoint holds only its length
  auto q = push<int>() | collect(out2);
  q.restore(s);
  CHECK(q.source().position() == 1);
  CHECK(out2 == std::vector<int>{1});
  CHECK_THROWS_AS(q.push_watermark(timestamp::from_nanos(40)), usage_error);
}
