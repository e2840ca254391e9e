#include <doctest/doctest.h>

#include <chrono>
#include <laminar/core/watermark.hpp>
#include <limits>
#include <random>
#include <optional>
#include <vector>

#include "support/event_stream.hpp"

using namespace laminar;
using namespace std::chrono_literals;

namespace {
timestamp ns(std::int64_t v) { return timestamp::from_nanos(v); }

template <class P>
std::optional<timestamp> feed(watermark_generator<P>& g, std::int64_t ts) {
  if (g.on_event(0, ns(ts))) return g.current();
  return std::nullopt;
}
}  // namespace

constexpr duration unchecked = duration::max();  // no future-skew policy

TEST_CASE("bounded out-of-orderness trails the highest timestamp by the bound") {
  watermark_generator<> g(bounded_out_of_orderness(10ns).with_max_future_skew(unchecked));
  CHECK(feed(g, 100) == ns(90));
  CHECK(feed(g, 95) == std::nullopt);
  CHECK(feed(g, 100) == std::nullopt);
  CHECK(feed(g, 130) == ns(120));
  CHECK(g.current() == ns(120));
}

TEST_CASE("monotonous timestamps: the watermark is the highest timestamp") {
  watermark_generator<> g(monotonous_timestamps().with_max_future_skew(unchecked));
  CHECK(feed(g, 5) == ns(5));
  CHECK(feed(g, 7) == ns(7));
  CHECK(feed(g, 6) == std::nullopt);
}

TEST_CASE("watermarks never go backwards on randomized out-of-order streams") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    test::stream_options o;
    o.seed = seed;
    o.records = 5000;
    o.absurd_fraction = seed % 2 ? 0.001 : 0.0;
    watermark_generator<> g(bounded_out_of_orderness(20ms));
    timestamp last = timestamp::min();
    for (const auto& e : test::make_stream(o)) {
      if (g.on_event(e, ns(e.ts))) {
        CHECK(g.current() > last);
        last = g.current();
      }
      CHECK(g.current() == last);
    }
  }
}

TEST_CASE("future skew: the first record waits for a second one to confirm it") {
  watermark_generator<> g(bounded_out_of_orderness(0ns).with_max_future_skew(1000ns));
  CHECK(feed(g, 100) == std::nullopt);
  CHECK(feed(g, 150) == ns(150));
  CHECK(g.suspects() == 0);
}

TEST_CASE("future skew: an absurd first record does not fast-forward the stream") {
  watermark_generator<> g(bounded_out_of_orderness(0ns).with_max_future_skew(1000ns));
  CHECK(feed(g, std::numeric_limits<std::int64_t>::max()) == std::nullopt);
  CHECK(feed(g, 100) == ns(100));  // the nearer of the two is accepted
  CHECK(g.suspects() == 1);
  CHECK(feed(g, 200) == ns(200));
  CHECK(feed(g, 300) == ns(300));
}

TEST_CASE("future skew: one absurd timestamp neither fast-forwards nor stalls the stream") {
  watermark_generator<> g(bounded_out_of_orderness(0ns).with_max_future_skew(1000ns));
  feed(g, 100);
  feed(g, 100);
  CHECK(feed(g, std::numeric_limits<std::int64_t>::max()) == std::nullopt);
  CHECK(g.suspects() == 1);
  CHECK(g.current() == ns(100));
  CHECK(feed(g, 200) == ns(200));  // the stream goes on
  CHECK(feed(g, 900) == ns(900));
  // A far-past record changes nothing either.
  CHECK(feed(g, std::numeric_limits<std::int64_t>::min()) == std::nullopt);
  CHECK(g.current() == ns(900));
}

TEST_CASE("future skew: a real jump is accepted once a second record confirms it") {
  watermark_generator<> g(bounded_out_of_orderness(0ns).with_max_future_skew(1000ns));
  feed(g, 100);
  feed(g, 100);
  CHECK(feed(g, 1'000'000) == std::nullopt);      // suspect
  CHECK(feed(g, 1'000'010) == ns(1'000'010));     // confirmed: both accepted
  CHECK(feed(g, 1'000'020) == ns(1'000'020));
}

TEST_CASE("future skew: a pending absurd suspect is replaced, not accepted, by a later real jump") {
  watermark_generator<> g(bounded_out_of_orderness(0ns).with_max_future_skew(1000ns));
  feed(g, 100);
  feed(g, 100);
  feed(g, std::numeric_limits<std::int64_t>::max());
  feed(g, 150);
  CHECK(feed(g, 50'000) == ns(50'000));  // the nearer of the two far records wins
  CHECK(g.current() == ns(50'000));
  CHECK(feed(g, 50'010) == ns(50'010));
}

TEST_CASE("future skew: records sparser than the skew trail by one record, never stall") {
  watermark_generator<> g(monotonous_timestamps().with_max_future_skew(10ns));
  CHECK(feed(g, 0) == std::nullopt);
  CHECK(feed(g, 1000) == ns(0));
  CHECK(feed(g, 2000) == ns(1000));
  CHECK(feed(g, 3000) == ns(2000));
}

TEST_CASE("future skew: a suspect that the stream overtakes is dropped") {
  watermark_generator<> g(monotonous_timestamps().with_max_future_skew(100ns));
  feed(g, 0);
  feed(g, 0);
  CHECK(feed(g, 1000) == std::nullopt);  // suspect
  for (std::int64_t t = 50; t <= 1200; t += 50) feed(g, t);  // the stream walks past it
  CHECK(g.current() == ns(1200));
  CHECK(feed(g, 5000) == std::nullopt);  // a new gap is a new suspect, not the stale one
  CHECK(feed(g, 5010) == ns(5010));
}

TEST_CASE("idle timeout: a quiet source's watermark advances with processing time") {
  watermark_generator<> g(bounded_out_of_orderness(100ns).with_idle_timeout(1000ns).with_max_future_skew(unchecked));
  feed(g, 5000);
  CHECK(g.current() == ns(4900));
  CHECK(!g.on_idle_check(ns(10'000)));  // first check: records arrived since the last one
  CHECK(!g.on_idle_check(ns(10'500)));  // quiet, but not for long enough
  CHECK(g.on_idle_check(ns(11'000)));   // idle: now - bound
  CHECK(g.current() == ns(10'900));
  feed(g, 6000);                        // a record behind the idle watermark does not move it back
  CHECK(g.current() == ns(10'900));
  CHECK(!g.on_idle_check(ns(11'100)));  // active again
}

TEST_CASE("without an idle timeout the watermark waits for records") {
  watermark_generator<> g(bounded_out_of_orderness(100ns).with_max_future_skew(unchecked));
  feed(g, 5000);
  CHECK(!g.on_idle_check(ns(1'000'000)));
  CHECK(!g.on_idle_check(ns(1'000'000'000)));
  CHECK(g.current() == ns(4900));
}

TEST_CASE("punctuated watermarks come from the records") {
  auto s = punctuated([](int x) -> std::optional<std::int64_t> {
    if (x < 0) return -x;
    return std::nullopt;
  });
  watermark_generator<decltype(s.punctuation)> g(s.with_max_future_skew(unchecked));
  CHECK(!g.on_event(5, ns(0)));
  CHECK(g.on_event(-10, ns(0)));
  CHECK(g.current() == ns(10));
  CHECK(!g.on_event(-8, ns(0)));
  CHECK(g.on_event(-20, ns(0)));
  CHECK(g.current() == ns(20));
}

TEST_CASE("a restored generator continues exactly as the uninterrupted one") {
  test::stream_options o;
  o.records = 4000;
  o.absurd_fraction = 0.002;
  const auto stream = test::make_stream(o);
  auto strategy = bounded_out_of_orderness(5ms).with_max_future_skew(1s);
  watermark_generator<> whole(strategy);
  std::vector<timestamp> expected;
  for (const auto& e : stream) {
    if (whole.on_event(e, ns(e.ts))) expected.push_back(whole.current());
  }
  for (std::size_t cut : {0UL, 1UL, 999UL, 2500UL, 3999UL}) {
    watermark_generator<> first(strategy);
    std::vector<timestamp> got;
    for (std::size_t i = 0; i < cut; ++i) {
      if (first.on_event(stream[i], ns(stream[i].ts))) got.push_back(first.current());
    }
    snapshot s(1);
    s.save(first);
    watermark_generator<> second(strategy);
    s.rewind();
    s.load(second);
    for (std::size_t i = cut; i < stream.size(); ++i) {
      if (second.on_event(stream[i], ns(stream[i].ts))) got.push_back(second.current());
    }
    CHECK(got == expected);
  }
}

namespace {
// The generator's rules written for obviousness: a record above the highest
// timestamp goes through the future-skew policy, the watermark follows the
// highest accepted timestamp, and explicit or idle watermarks only raise it.
struct reference_generator {
  duration bound;
  duration skew;
  timestamp highest = timestamp::min();
  timestamp current = timestamp::min();
  timestamp suspect = timestamp::min();
  bool has_suspect = false;
  bool counted = false;
  std::uint64_t suspects = 0;
  duration idle_timeout = duration::max();
  bool active = false;
  timestamp last_active = timestamp::min();

  bool advance(timestamp w) {
    if (w <= current) return false;
    current = w;
    return true;
  }
  bool on_idle_check(timestamp now) {
    if (active || last_active == timestamp::min()) {
      active = false;
      last_active = now;
      return false;
    }
    return now - last_active >= idle_timeout && advance(now - bound);
  }
  bool on_event(timestamp ts) {
    active = true;
    if (ts <= highest) return false;
    if (has_suspect && suspect <= highest) {
      has_suspect = false;
      counted = false;
    }
    const bool checked = skew != duration::max();
    if (checked && (highest == timestamp::min() || ts - highest > skew)) {
      if (!has_suspect) {
        suspect = ts;
        has_suspect = true;
        counted = highest != timestamp::min();
        if (counted) ++suspects;
        return false;
      }
      const bool farther = ts >= suspect;
      const timestamp nearer = std::min(ts, suspect);
      const timestamp other = std::max(ts, suspect);
      highest = std::max(highest, nearer);
      has_suspect = other - nearer > skew;
      if (has_suspect) {
        suspect = other;
        if (farther || !counted) ++suspects;
      } else {
        highest = std::max(highest, other);
      }
      counted = has_suspect;
    } else {
      highest = ts;
    }
    return advance(highest - bound);
  }
};
}  // namespace

TEST_CASE("the generator's inline paths agree with the reference rules on every record") {
  constexpr std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  const duration bounds[] = {0ns, 10ns, 1000ns, duration::from_nanos(-10), duration::max()};
  const duration skews[] = {unchecked, 0ns, 1ns, 100ns, 100'000ns, duration::from_nanos(-5)};
  std::uint64_t seed = 0;
  for (const duration bound : bounds) {
    for (const duration skew : skews) {
      ++seed;
      std::mt19937_64 rng(seed);
      const auto strategy = bounded_out_of_orderness(bound).with_max_future_skew(skew).with_idle_timeout(50ns);
      watermark_generator<> g(strategy);
      watermark_generator<> free(strategy);  // fed as with_watermarks feeds a chain that absorbs repeats
      reference_generator ref{bound, skew};
      ref.idle_timeout = 50ns;
      // Mostly small steps with disorder (below, at and above the highest
      // timestamp), some far jumps both ways and both ends of time.
      std::int64_t front = static_cast<std::int64_t>(rng() % 2) == 0 ? -1'000'000 : 1'700'000'000'000'000'000;
      for (int i = 0; i < 20'000; ++i) {
        const std::uint64_t r = rng() % 1000;
        if (r < 5) {  // an explicit watermark, ahead of the records or behind them
          const timestamp w = ns(front + static_cast<std::int64_t>(rng() % 200) - 150);
          free.on_watermark(w);
          CHECK(g.on_watermark(w) == ref.advance(w));
        } else if (r < 10) {  // processing time passing; quiet for long enough, it advances
          for (std::int64_t k = 0; k < 3; ++k) {
            const timestamp now = ns(front + 40 * k + static_cast<std::int64_t>(rng() % 20));
            free.on_idle_check(now);
            CHECK(g.on_idle_check(now) == ref.on_idle_check(now));
          }
        } else {
          std::int64_t ts = 0;
          if (r < 14) {
            const std::int64_t ends[] = {lo, hi, lo + 1, hi - 1, front + 1'000'000'000, front - 1'000'000'000};
            ts = ends[rng() % 6];
          } else {
            front += static_cast<std::int64_t>(rng() % 21);
            ts = front + static_cast<std::int64_t>(rng() % 41) - 30;
          }
          CHECK(g.on_event(0, ns(ts)) == ref.on_event(ns(ts)));
          free.mark_active();
          CHECK(free.on_record_branch_free(0, ns(ts)) == ref.current);
        }
        REQUIRE(g.current() == ref.current);
        REQUIRE(free.current() == ref.current);
        CHECK(g.suspects() == ref.suspects);
        CHECK(free.suspects() == ref.suspects);
      }
    }
  }
}

TEST_CASE("records at the ends of time before any accepted timestamp leave the watermark alone") {
  for (const std::int64_t bound_ns : {-10, 0, 10}) {
    for (const duration skew : {unchecked, duration::from_nanos(100)}) {
      const duration bound = duration::from_nanos(bound_ns);
      CAPTURE(bound);
      CAPTURE(skew);
      watermark_generator<> g(bounded_out_of_orderness(bound).with_max_future_skew(skew));
      watermark_generator<> free(bounded_out_of_orderness(bound).with_max_future_skew(skew));
      reference_generator ref{bound, skew};
      for (const std::int64_t ts : {std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::min(),
                                    std::int64_t{0}, std::int64_t{0}, std::int64_t{5}}) {
        CHECK(g.on_event(0, ns(ts)) == ref.on_event(ns(ts)));
        CHECK(free.on_record_branch_free(0, ns(ts)) == ref.current);
        CHECK(g.current() == ref.current);
      }
    }
  }
}
