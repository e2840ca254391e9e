#include <doctest/doctest.h>

#include <laminar/dag/detail/input_merge.hpp>
#include <optional>

using laminar::barrier_token;
using laminar::duration;
using laminar::timestamp;
using laminar::detail::input_merge;

namespace {
timestamp ns(std::int64_t v) { return timestamp::from_nanos(v); }
const timestamp t0 = ns(0);
}  // namespace

TEST_CASE("fan-in: the watermark is the minimum over the inputs") {
  input_merge m(3);
  CHECK(m.on_watermark(0, ns(10), t0) == std::nullopt);
  CHECK(m.on_watermark(1, ns(20), t0) == std::nullopt);
  CHECK(m.on_watermark(2, ns(5), t0) == ns(5));
  CHECK(m.on_watermark(2, ns(30), t0) == ns(10));
  CHECK(m.on_watermark(0, ns(25), t0) == ns(20));
  CHECK(m.on_watermark(0, ns(24), t0) == std::nullopt);  // an input going back changes nothing
  CHECK(m.watermark() == ns(20));
}

TEST_CASE("fan-in: ended inputs no longer hold the watermark, the end comes when all ended") {
  input_merge m(2);
  m.on_watermark(0, ns(100), t0);
  CHECK(m.on_watermark(1, ns(10), t0) == ns(10));
  CHECK(m.on_end(1) == ns(100));
  CHECK(!m.all_ended());
  CHECK(!m.readable(1));
  CHECK(m.on_end(0) == timestamp::max());
  CHECK(m.all_ended());
}

TEST_CASE("fan-in: an idle input stops holding the watermark back until it speaks again") {
  input_merge m(2, duration::from_nanos(1000));
  m.on_watermark(0, ns(500), ns(0));
  CHECK(m.on_watermark(1, ns(100), ns(0)) == ns(100));
  m.on_watermark(0, ns(900), ns(1500));  // input 0 active, input 1 silent since 0
  CHECK(m.on_idle_check(ns(1500)) == ns(900));
  CHECK(m.idle(1));
  CHECK(m.on_watermark(1, ns(200), ns(1600)) == std::nullopt);  // back, but behind: no regression
  CHECK(!m.idle(1));
  CHECK(m.on_watermark(1, ns(950), ns(1700)) == std::nullopt);   // min(900, 950) = 900
  CHECK(m.on_watermark(0, ns(1000), ns(1700)) == ns(950));
}

TEST_CASE("fan-in: barriers are aligned, the early input is held") {
  input_merge m(3);
  CHECK(m.on_barrier(0, {7}) == std::nullopt);
  CHECK(!m.readable(0));
  CHECK(m.readable(1));
  CHECK(m.on_barrier(2, {7}) == std::nullopt);
  auto released = m.on_barrier(1, {7});
  REQUIRE(released);
  CHECK(released->id == 7);
  CHECK(m.readable(0));
  CHECK(m.readable(1));
  CHECK(m.readable(2));
}

TEST_CASE("fan-in: an input that ends releases an alignment waiting for it") {
  input_merge m(2);
  CHECK(m.on_barrier(0, {3}) == std::nullopt);
  m.on_end(1);
  auto released = m.release_if_aligned();
  REQUIRE(released);
  CHECK(released->id == 3);
}

TEST_CASE("fan-in: a barrier id that does not match the one being aligned is an error") {
  input_merge m(2);
  (void)m.on_barrier(0, {3});
  CHECK_THROWS_WITH_AS((void)m.on_barrier(1, {4}), "checkpoint barrier 4 arrived on input 1 while barrier 3 is being aligned",
                       laminar::error);
}
