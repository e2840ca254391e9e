#include <doctest/doctest.h>

#include <chrono>
#include <laminar/core/time.hpp>
#include <limits>
#include <sstream>

using namespace laminar;
using namespace std::chrono_literals;

TEST_CASE("duration converts from std::chrono and back") {
  duration d = 1500ms;
  CHECK(d.nanos() == 1'500'000'000);
  CHECK(d.to_chrono() == 1500ms);
  CHECK(duration(2s) > duration(1999ms));
  using namespace laminar::literals;
  CHECK(3_ms == duration(3ms));
  CHECK(2_s + 5_us == duration(2'000'005us));
}

TEST_CASE("timestamp converts from std::chrono time points") {
  const auto tp = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  timestamp t = tp;
  CHECK(t.nanos() == 1'700'000'000'000'000'000);
  CHECK(t.to_chrono() == tp);
  CHECK(to_timestamp(std::int64_t{42}) == timestamp::from_nanos(42));
  CHECK(to_timestamp(5s) == timestamp::from_nanos(5'000'000'000));
  CHECK(to_timestamp(tp) == t);
}

TEST_CASE("timestamp arithmetic saturates at the ends of time") {
  CHECK(timestamp::max() + duration(1s) == timestamp::max());
  CHECK(timestamp::min() - duration(1s) == timestamp::min());
  CHECK(timestamp::min() + duration(1ns) == timestamp::from_nanos(std::numeric_limits<std::int64_t>::min() + 1));
  CHECK(timestamp::max() - timestamp::min() == duration::max());
  CHECK(timestamp::min() - timestamp::max() == duration::min());
  CHECK(timestamp::from_nanos(10) - timestamp::from_nanos(3) == duration(7ns));
  CHECK(duration::max() + duration(1ns) == duration::max());
  CHECK(timestamp::min() < timestamp::from_nanos(0));
}

TEST_CASE("timestamps print readably") {
  std::ostringstream os;
  os << timestamp::from_nanos(5) << ' ' << timestamp::min() << ' ' << timestamp::max() << ' ' << duration(3ns);
  CHECK(os.str() == "5ns timestamp::min timestamp::max 3ns");
}
