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
  CHECK(feed(g, std::numeric_limits<std::int64_t>::max()) == std::nullopt);  // refused
  CHECK(feed(g, 100) == std::nullopt);  // the first record that can start the stream, held
  CHECK(feed(g, 200) == ns(200));       // agrees with it
  CHECK(g.suspects() == 1);
  CHECK(feed(g, 300) == ns(300));
}

TEST_CASE("future skew: a first record that the next one disagrees with is replaced by it") {
  watermark_generator<> g(bounded_out_of_orderness(0ns).with_max_future_skew(1000ns));
  CHECK(feed(g, 5'000'000) == std::nullopt);  // a glitch, first
  CHECK(feed(g, 100) == std::nullopt);        // far from it: takes its place
  CHECK(feed(g, 150) == ns(150));
  CHECK(g.suspects() == 0);  // nothing had been accepted: no jump was held back
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

TEST_CASE("future skew: a far record that disagrees with the suspect takes its place") {
  watermark_generator<> g(bounded_out_of_orderness(0ns).with_max_future_skew(1000ns));
  feed(g, 100);
  feed(g, 100);
  CHECK(feed(g, 9'000'000) == std::nullopt);  // a glitch
  CHECK(feed(g, 50'000) == std::nullopt);     // far too, but not near the glitch
  CHECK(feed(g, 50'010) == ns(50'010));       // agrees with the second
  CHECK(g.suspects() == 2);
}

TEST_CASE("future skew: consecutive records further apart than the skew never agree") {
  watermark_generator<> g(monotonous_timestamps().with_max_future_skew(10ns));
  feed(g, 0);
  CHECK(feed(g, 5) == ns(5));
  CHECK(feed(g, 1000) == std::nullopt);
  CHECK(feed(g, 2000) == std::nullopt);
  CHECK(feed(g, 3000) == std::nullopt);
  CHECK(g.suspects() == 3);          // each jump held back, and counted
  CHECK(feed(g, 3005) == ns(3005));  // a record that agrees with the last one
}

TEST_CASE("future skew: the stream going on where it was drops the suspect") {
  watermark_generator<> g(monotonous_timestamps().with_max_future_skew(100ns));
  feed(g, 0);
  feed(g, 0);
  CHECK(feed(g, 1000) == std::nullopt);  // suspect
  CHECK(feed(g, 50) == ns(50));          // the stream goes on: dropped
  CHECK(feed(g, 1010) == std::nullopt);  // near the old suspect, but a new one: it no longer counts
  CHECK(feed(g, 0) == std::nullopt);     // even a record below the accepted ones drops it
  CHECK(feed(g, 1020) == std::nullopt);
  CHECK(feed(g, 1030) == ns(1030));  // two in a row that agree
  CHECK(g.suspects() == 3);
}

TEST_CASE("future skew: two far records 2,000 records apart never move the watermark, related or not") {
  // A healthy stream, 1us a record, 50us of disorder within the bound; a
  // glitch at record 1,000 and another at record 3,000, either near the
  // first (as far ahead, within the skew of it) or unrelated.
  for (const std::int64_t second_glitch : {3'600'000'000'000LL + 500, 7'200'000'000'000LL}) {
    CAPTURE(second_glitch);
    watermark_generator<> g(bounded_out_of_orderness(50us).with_max_future_skew(1min));
    std::mt19937_64 rng(7);
    std::int64_t late = 0;
    for (std::int64_t i = 0; i < 5000; ++i) {
      std::int64_t ts = 1'000'000'000 + i * 1000 - static_cast<std::int64_t>(rng() % 50'000);
      if (i == 1000) ts = 3'600'000'000'000;
      if (i == 3000) ts = second_glitch;
      if (ts < g.current().nanos()) ++late;
      g.on_event(0, ns(ts));
      REQUIRE(g.current() < ns(1'000'000'000 + i * 1000));
    }
    CHECK(late == 0);
    CHECK(g.suspects() == 2);
    CHECK(g.current() >= ns(1'000'000'000 + 4999 * 1000 - 50'000 - 50'000));
  }
}

TEST_CASE("future skew: a real jump is accepted when the record after it agrees, whatever came before") {
  watermark_generator<> g(bounded_out_of_orderness(5ns).with_max_future_skew(1000ns));
  for (std::int64_t t = 0; t <= 500; t += 10) feed(g, t);
  CHECK(feed(g, 100'000'000) == std::nullopt);  // an unrelated glitch, long before the jump
  for (std::int64_t t = 510; t <= 900; t += 10) feed(g, t);
  CHECK(g.current() == ns(895));
  CHECK(feed(g, 50'000) == std::nullopt);  // the next session opens
  CHECK(feed(g, 49'990) == ns(49'995));    // out of order, within the skew: agrees
  CHECK(feed(g, 50'020) == ns(50'015));
  CHECK(g.suspects() == 2);
}

TEST_CASE("future skew: records at INT64_MAX never fast-forward the stream, however many and wherever") {
  constexpr std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  watermark_generator<> g(bounded_out_of_orderness(0ns).with_max_future_skew(1000ns));
  CHECK(feed(g, hi) == std::nullopt);  // first
  CHECK(feed(g, hi) == std::nullopt);  // and again: two that agree, but the end of time
  CHECK(feed(g, 10) == std::nullopt);
  CHECK(feed(g, hi) == std::nullopt);  // between the first record and the one that confirms it
  CHECK(feed(g, 20) == ns(20));
  for (std::int64_t t = 30; t < 300; t += 10) {
    CHECK(feed(g, hi) == std::nullopt);
    CHECK(feed(g, hi) == std::nullopt);
    CHECK(feed(g, t) == ns(t));
  }
  CHECK(g.suspects() == 3 + 2 * 27);
  // One held suspect that an INT64_MAX record follows is neither confirmed nor dropped by it.
  CHECK(feed(g, 50'000) == std::nullopt);
  CHECK(feed(g, hi) == std::nullopt);
  CHECK(feed(g, 50'010) == ns(50'010));
}

TEST_CASE("future skew: isolated glitches never make a good record late (randomized)") {
  // Good records: a front moving 0..2us a record, each up to the bound
  // behind it. Glitches: far-future times unrelated to each other (seconds
  // to years ahead, some near each other), INT64_MAX, INT64_MIN, each with
  // at least one good record before the next; some seeds also open a new
  // session (a 10-hour gap) that must be accepted one record later.
  constexpr std::int64_t bound = 100'000;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    watermark_generator<> g(bounded_out_of_orderness(duration::from_nanos(bound)).with_max_future_skew(1s));
    std::int64_t front = 1'700'000'000'000'000'000;
    bool glitched = false;  // the previous record was a glitch
    std::int64_t late = 0, glitches = 0;
    std::int64_t last_far = 0;  // the last far-future glitch
    for (int i = 0; i < 20'000; ++i) {
      const std::uint64_t r = rng() % 1000;
      if (!glitched && r < 30) {
        std::int64_t ts = 0;
        const std::uint64_t kind = rng() % 5;
        if (kind == 0) {
          ts = std::numeric_limits<std::int64_t>::max();
        } else if (kind == 1) {
          ts = std::numeric_limits<std::int64_t>::min();
        } else if (kind == 2) {  // near an earlier one
          ts = last_far != 0 ? last_far + 1000 : front + 5'000'000'000;
        } else {
          ts = front + 2'000'000'000 + static_cast<std::int64_t>(rng() % (1ULL << 60));
        }
        if (kind >= 2) last_far = ts;
        g.on_event(0, ns(ts));
        ++glitches;
        glitched = true;
        continue;
      }
      if (seed % 3 == 0 && i == 10'000) {  // a new session: two records, near each other
        front += 36'000'000'000'000;
        g.on_event(0, ns(front));
        CHECK(g.current() < ns(front - bound));
        front += 1000;
        g.on_event(0, ns(front));
        CHECK(g.current() == ns(front - bound));
        glitched = false;
        continue;
      }
      front += static_cast<std::int64_t>(rng() % 2001);
      const std::int64_t ts = front - static_cast<std::int64_t>(rng() % (bound + 1));
      if (ns(ts) < g.current()) ++late;
      g.on_event(0, ns(ts));
      REQUIRE(g.current() <= ns(front - bound));
      glitched = false;
    }
    CHECK(late == 0);
    CHECK(glitches > 300);
    CHECK(g.current() >= ns(front - 2 * bound - 1'000'000));  // and it kept up with the stream
  }
}

TEST_CASE("future skew: a skew that is not positive is a usage error") {
  CHECK_THROWS_AS(watermark_generator<>(bounded_out_of_orderness(1ns).with_max_future_skew(0ns)), usage_error);
  CHECK_THROWS_WITH(watermark_generator<>(bounded_out_of_orderness(1ns).with_max_future_skew(duration::from_nanos(-5))),
                    doctest::Contains("laminar: with_watermarks: max_future_skew must be positive"));
  CHECK_THROWS_AS(watermark_generator<>(monotonous_timestamps().with_emit_interval(duration::from_nanos(-1))),
                  usage_error);
  CHECK_THROWS_AS(
      watermark_generator<>(monotonous_timestamps().with_emit_processing_interval(duration::from_nanos(-1))),
      usage_error);
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

TEST_CASE("punctuation may be a lambda with captures, and thins like any strategy") {
  std::int64_t heartbeat = -1;  // not a constant: the lambda must capture it
  auto s = punctuated([heartbeat](std::int64_t x) -> std::optional<std::int64_t> {
    if (x <= heartbeat) return -x;
    return std::nullopt;
  });
  watermark_generator<decltype(s.punctuation)> g(s.with_max_future_skew(unchecked).with_emit_every(2));
  CHECK(!g.on_record_thinned(-10, ns(0)));
  CHECK(g.on_record_thinned(5, ns(0)));  // the second record: the count ran out
  CHECK(g.take() == ns(10));
  CHECK(!g.on_record_thinned(-30, ns(0)));
  CHECK(g.current() == ns(30));
  CHECK(g.emitted() == ns(10));
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
// accepted timestamp, or any record while a suspect is held, goes through
// the future-skew policy; the watermark follows the highest accepted
// timestamp, and explicit or idle watermarks only raise it.
struct reference_generator {
  duration bound;
  duration skew;
  timestamp highest = timestamp::min();  // accepted
  timestamp current = timestamp::min();
  timestamp suspect = timestamp::min();
  bool has_suspect = false;
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
    if (ts == timestamp::min()) return false;  // changes nothing
    if (skew == duration::max()) {
      if (ts <= highest) return false;
      highest = ts;
      return advance(highest - bound);
    }
    if (!has_suspect && ts <= highest) return false;
    const bool far = highest == timestamp::min() || (ts > highest && ts - highest > skew);
    if (!far) {  // the stream goes on where it was
      has_suspect = false;
      highest = std::max(highest, ts);
      return advance(highest - bound);
    }
    if (ts == timestamp::max()) {
      ++suspects;
      return false;
    }
    if (has_suspect && std::max(ts, suspect) - std::min(ts, suspect) <= skew) {
      has_suspect = false;
      highest = std::max(ts, suspect);
      return advance(highest - bound);
    }
    if (highest != timestamp::min()) ++suspects;
    has_suspect = true;
    suspect = ts;
    return false;
  }
};
}  // namespace

TEST_CASE("the generator's inline paths agree with the reference rules on every record") {
  constexpr std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  const duration bounds[] = {0ns, 10ns, 1000ns, duration::from_nanos(-10), duration::max()};
  const duration skews[] = {unchecked, 1ns, 100ns, 100'000ns};
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
          if (r < 12) {  // a new session: the front jumps, and the records after it agree
            front += 1'000'000'000;
            ts = front;
          } else if (r < 16) {
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

namespace {
// Feeds a generator as with_watermarks feeds it when emission is thinned;
// returns the watermarks it passes on.
std::vector<timestamp> feed_thinned(watermark_generator<>& g, const std::vector<std::int64_t>& stream) {
  std::vector<timestamp> out;
  for (const std::int64_t ts : stream) {
    g.mark_active();
    if (g.on_record_thinned(0, ns(ts))) {
      if (const auto w = g.take()) out.push_back(*w);
    }
  }
  return out;
}
std::vector<std::int64_t> ascending(std::int64_t n, std::int64_t step) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 0; i < n; ++i) v.push_back(1'000'000 + i * step);
  return v;
}
}  // namespace

TEST_CASE("emission every n records: one watermark per n records, the current one") {
  const auto stream = ascending(10'000, 1000);
  watermark_generator<> g(monotonous_timestamps().with_emit_every(256));
  const auto out = feed_thinned(g, stream);
  REQUIRE(out.size() == 10'000 / 256);
  for (std::size_t k = 0; k < out.size(); ++k) CHECK(out[k] == ns(stream[(k + 1) * 256 - 1]));
  CHECK(g.current() == ns(stream.back()));
  CHECK(g.emitted() == out.back());
  // A count that runs out while the watermark stands still passes nothing on.
  watermark_generator<> still(monotonous_timestamps().with_emit_every(4));
  CHECK(feed_thinned(still, std::vector<std::int64_t>(100, 5)) == std::vector<timestamp>{ns(5)});
}

TEST_CASE("emission every d of event time: when the watermark moved at least d past the last one") {
  const auto stream = ascending(10'000, 1000);  // 10ms of event time
  watermark_generator<> g(monotonous_timestamps().with_emit_interval(1ms));
  const auto out = feed_thinned(g, stream);
  // The first watermark (the stream's second record) is due at once, then every millisecond.
  REQUIRE(out.size() == 10);
  CHECK(out.front() == ns(stream[1]));
  for (std::size_t k = 1; k < out.size(); ++k) CHECK(out[k] - out[k - 1] == duration(1ms));
}

TEST_CASE("thinned emission passes on a subsequence of the per-record watermarks (reference)") {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    CAPTURE(seed);
    test::stream_options o;
    o.seed = seed;
    o.records = 4000;
    o.absurd_fraction = seed % 2 ? 0.003 : 0.0;
    std::vector<std::int64_t> stream;
    for (const auto& e : test::make_stream(o)) stream.push_back(e.ts);
    const std::uint64_t n = seed % 3 == 0 ? 0 : 17 * seed;
    const duration d =
        seed % 3 == 1 ? duration::zero() : duration::from_nanos(static_cast<std::int64_t>(seed) * 3'000'000);
    const auto base = bounded_out_of_orderness(5ms).with_max_future_skew(1s);
    watermark_generator<> every(base);
    watermark_generator<> thin(base.with_emit_every(n).with_emit_interval(d));
    // The rules: a count of n records (restarting when it runs out), a
    // threshold d above the last watermark passed on; either due, the
    // current watermark if it is above the last.
    std::uint64_t left = n;
    timestamp last = timestamp::min();
    std::vector<timestamp> expected;
    for (const std::int64_t ts : stream) {
      every.on_event(0, ns(ts));
      const timestamp cur = every.current();
      bool due = false;
      if (n != 0 && --left == 0) {
        left = n;
        due = true;
      }
      if (d != duration::zero() && cur >= last + d) due = true;
      if (due && cur > last) expected.push_back(last = cur);
    }
    CHECK(feed_thinned(thin, stream) == expected);
    CHECK(thin.current() == every.current());
    CHECK(thin.suspects() == every.suspects());
    CHECK(expected.size() < stream.size() / 8);
  }
}

TEST_CASE("processing-time polls: the interval, a quiet source and an idle one flush the held watermark") {
  watermark_generator<> g(bounded_out_of_orderness(100ns).with_emit_every(1000).with_emit_processing_interval(50us));
  const auto busy = [&](std::int64_t from, std::int64_t to) {
    for (std::int64_t t = from; t <= to; t += 10) {
      g.mark_active();
      CHECK(!g.on_record_thinned(0, ns(t)));  // 1000 records are far off
    }
  };
  busy(1000, 2000);
  CHECK(g.on_processing_time(ns(10'000'000)) == std::nullopt);  // records came; the interval starts now
  busy(2010, 3000);
  CHECK(g.on_processing_time(ns(10'040'000)) == std::nullopt);  // busy, 40us: not yet
  busy(3010, 4000);
  CHECK(g.on_processing_time(ns(10'050'000)) == ns(3900));  // 50us since the interval started
  busy(4010, 5000);
  CHECK(g.on_processing_time(ns(10'060'000)) == std::nullopt);
  CHECK(g.on_processing_time(ns(10'070'000)) == ns(4900));      // no record since the last poll: quiet
  CHECK(g.on_processing_time(ns(10'200'000)) == std::nullopt);  // nothing new to pass on
  CHECK(g.emitted() == ns(4900));

  // Without a processing-time interval a quiet poll still flushes; an idle
  // timeout's advance is passed on at once.
  watermark_generator<> h(bounded_out_of_orderness(100ns).with_emit_every(1000).with_idle_timeout(1000ns));
  for (std::int64_t t = 1000; t <= 2000; t += 10) {
    h.mark_active();
    h.on_record_thinned(0, ns(t));
  }
  CHECK(h.on_processing_time(ns(5000)) == std::nullopt);  // records came since the last poll
  CHECK(h.on_processing_time(ns(5500)) == ns(1900));      // quiet: flushed
  CHECK(h.on_processing_time(ns(6000)) == ns(5900));      // idle for the timeout: now - bound
}

TEST_CASE("a restored thinned generator continues exactly as the uninterrupted one") {
  test::stream_options o;
  o.records = 4000;
  o.absurd_fraction = 0.002;
  std::vector<std::int64_t> stream;
  for (const auto& e : test::make_stream(o)) stream.push_back(e.ts);
  const auto strategy =
      bounded_out_of_orderness(5ms).with_max_future_skew(1s).with_emit_every(100).with_emit_interval(20ms);
  watermark_generator<> whole(strategy);
  const auto expected = feed_thinned(whole, stream);
  for (const std::ptrdiff_t cut : {0, 1, 150, 2500, 3999}) {
    watermark_generator<> first(strategy);
    auto got = feed_thinned(first, {stream.begin(), stream.begin() + cut});
    snapshot s(1);
    s.save(first);
    watermark_generator<> second(strategy);
    s.rewind();
    s.load(second);
    const auto rest = feed_thinned(second, {stream.begin() + cut, stream.end()});
    got.insert(got.end(), rest.begin(), rest.end());
    CHECK(got == expected);
  }
}
