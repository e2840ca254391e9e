// Keyed session windows vs a straightforward implementation.
//
// In-memory events (fixed seed): 1000 users, each alternating between
// active spells (0.5-4 s of event time, a click every ~2 ms on average) and
// quiet spells (1.2-4 s, longer than the 1 s gap), so sessions open, grow
// and close all the time; about 40% of the users are active at any moment.
// Event time advances by 5 us per event on average (10M events: ~50 s, ~10
// sessions per user) with up to +-1 us of disorder; the watermark trails the
// highest timestamp by 5 us (no record is late).
//
// Throughput, events/s through `from(events) | with_watermarks | key_by |
// session(1s).aggregate(sum) | sink` (projections spelled field<&click::m>,
// as on a hot chain), against the same job written plainly
// in the same process on the same data: std::unordered_map<user,
// std::vector<session>>, a record merged into the sessions it touches, and
// every user scanned for closed sessions whenever the watermark passes the
// earliest session end seen at the last scan. Both contenders run
// interleaved (the first one alternating) for 7 repetitions after a
// warm-up; figures are medians, the ratio a ratio of medians. Both runs'
// rows are checked against each other by count, sum and an
// order-independent hash of every row (key, bounds, value), and the sum of
// all rows must equal the events' total.
#include <laminar/laminar.hpp>

#include <algorithm>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <unordered_map>
#include <vector>

#include "support/bench.hpp"
#include "support/trades.hpp"  // splitmix64, fmix

namespace {

namespace lb = laminar::bench;
using lb::fmix;

struct click {
  std::int64_t ts;  // event time, ns since the epoch
  std::int64_t qty;
  std::uint32_t user;
  std::uint32_t unused = 0;
};

constexpr std::uint32_t users = 1000;
constexpr std::int64_t ms = 1'000'000;
constexpr std::int64_t gap_ns = 1'000 * ms;  // the session gap: 1 s
constexpr std::int64_t disorder_ns = 1'000;  // a record's time is off its place by at most this
constexpr std::int64_t bound_ns = 5'000;     // watermark = highest timestamp - bound (> 2 x disorder)
constexpr std::int64_t no_time = std::numeric_limits<std::int64_t>::min();

std::vector<click> make_clicks(std::size_t n, std::uint64_t seed) {
  lb::splitmix64 rng{seed};
  const auto between = [&](std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(hi - lo));
  };
  std::int64_t now = 1'700'000'000'000'000'000;
  // Each user is active until active_until, then quiet until quiet_until.
  std::vector<std::int64_t> active_until(users), quiet_until(users);
  for (std::uint32_t u = 0; u < users; ++u) {
    const bool active = rng.next() % 5 < 2;
    active_until[u] = active ? now + between(0, 4'000 * ms) : now;
    quiet_until[u] = active ? active_until[u] + between(1'200 * ms, 4'000 * ms) : now + between(0, 4'000 * ms);
  }
  std::vector<click> out;
  out.reserve(n);
  while (out.size() < n) {
    now += static_cast<std::int64_t>(rng.next() % 10'001);  // 5 us on average
    // The next click is a random active user's (users that are quiet pass their turn).
    for (int tries = 0; tries < 8; ++tries) {
      const auto u = static_cast<std::uint32_t>(rng.next() % users);
      if (now >= quiet_until[u]) {  // a new active spell, then a quiet one
        active_until[u] = now + between(500 * ms, 4'000 * ms);
        quiet_until[u] = active_until[u] + between(1'200 * ms, 4'000 * ms);
      }
      if (now >= active_until[u]) continue;
      const std::int64_t t = now + static_cast<std::int64_t>(rng.next() % (2 * disorder_ns + 1)) - disorder_ns;
      out.push_back({t, static_cast<std::int64_t>(1 + rng.next() % 100), u});
      break;
    }
  }
  return out;
}

// ---- what a run emitted ----


struct digest {
  std::uint64_t rows = 0;
  std::int64_t total = 0;
  std::uint64_t hash = 0;
  std::uint64_t late = 0;

  void add(std::uint32_t key, std::int64_t start, std::int64_t end, std::int64_t value) noexcept {
    ++rows;
    total += value;
    std::uint64_t h = fmix(std::uint64_t{key} + 0x9E3779B97F4A7C15ULL);
    h = fmix(h ^ static_cast<std::uint64_t>(start));
    h = fmix(h ^ static_cast<std::uint64_t>(end));
    hash += fmix(h ^ static_cast<std::uint64_t>(value));
  }
  friend bool operator==(const digest&, const digest&) = default;
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "sessions: %s\n", what);
  std::exit(1);
}

// ---- laminar ----

[[gnu::noinline]] digest laminar_sessions(const std::vector<click>& clicks) {
  digest d;
  auto p = laminar::from(clicks)                                                                             //
           | laminar::with_watermarks(laminar::field<&click::ts>, laminar::bounded_out_of_orderness(
                                                      laminar::duration::from_nanos(bound_ns))
                                                      .with_max_future_skew(laminar::duration::max()))  //
           | laminar::key_by(laminar::field<&click::user>)                                                                  //
           | laminar::session(laminar::duration::from_nanos(gap_ns)).aggregate(laminar::sum(laminar::field<&click::qty>))   //
           | laminar::sink([&d](const auto& row) { d.add(row.key, row.start.nanos(), row.end.nanos(), row.value); });
  p.run();
  d.late = p.chain().late_count();
  return d;
}

// ---- naive: a hash map of per-user session vectors, scanned to close ----

[[gnu::noinline]] digest naive_sessions(const std::vector<click>& clicks) {
  struct session {
    std::int64_t start;
    std::int64_t end;
    std::int64_t sum;
  };
  digest d;
  std::unordered_map<std::uint32_t, std::vector<session>> open;
  std::int64_t highest = no_time;
  std::int64_t watermark = no_time;
  std::int64_t next_scan = no_time;  // the earliest session end at the last scan
  // Emits and removes every session whose end the watermark has passed.
  const auto scan = [&] {
    next_scan = std::numeric_limits<std::int64_t>::max();
    for (auto it = open.begin(); it != open.end();) {
      std::vector<session>& v = it->second;
      std::size_t closed = 0;
      while (closed < v.size() && v[closed].end <= watermark) {
        d.add(it->first, v[closed].start, v[closed].end, v[closed].sum);
        ++closed;
      }
      v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(closed));
      if (v.empty()) {
        it = open.erase(it);
        continue;
      }
      next_scan = std::min(next_scan, v.front().end);
      ++it;
    }
  };
  for (const click& c : clicks) {
    const std::int64_t t = c.ts;
    const std::int64_t end = t + gap_ns;
    if (watermark != no_time && end <= watermark) {  // only closed sessions could hold it
      ++d.late;
      continue;
    }
    std::vector<session>& v = open[c.user];
    // The sessions [lo, hi) that [t, end) overlaps or touches merge with it.
    std::size_t lo = 0;
    while (lo < v.size() && v[lo].end < t) ++lo;
    std::size_t hi = lo;
    while (hi < v.size() && v[hi].start <= end) ++hi;
    if (lo == hi) {
      v.insert(v.begin() + static_cast<std::ptrdiff_t>(lo), session{t, end, c.qty});
    } else {
      session& s = v[lo];
      for (std::size_t i = lo + 1; i < hi; ++i) s.sum += v[i].sum;
      s.start = std::min(s.start, t);
      s.end = std::max(end, v[hi - 1].end);
      s.sum += c.qty;
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(lo + 1), v.begin() + static_cast<std::ptrdiff_t>(hi));
    }
    next_scan = std::min(next_scan, v[lo].end);
    if (t > highest) {
      highest = t;
      watermark = highest - bound_ns;
      if (watermark >= next_scan) scan();
    }
  }
  watermark = std::numeric_limits<std::int64_t>::max();
  scan();
  return d;
}

struct contender {
  const char* name;
  std::function<digest()> run;
  std::vector<double> rates;
};

}  // namespace

int main() {
  const std::size_t n = lb::pick<std::size_t>(10'000'000, 20'000);
  const std::vector<click> clicks = make_clicks(n, 0x5e55'1045'5eed'0001ULL);
  std::int64_t qty = 0;
  for (const click& c : clicks) qty += c.qty;

  const digest expect = naive_sessions(clicks);
  if (expect.total != qty || expect.late != 0) fail("the plain implementation's sessions do not add up to the clicks");
  std::fprintf(stderr, "# sessions: %zu clicks of %zu bytes, %u users, gap 1 s, %.3f s of event time: %" PRIu64
                       " sessions%s\n",
               clicks.size(), sizeof(click), users,
               static_cast<double>(clicks.back().ts - clicks.front().ts) * 1e-9, expect.rows,
               lb::smoke() ? " (smoke run)" : "");

  std::vector<contender> cs;
  cs.push_back({"laminar", [&] { return laminar_sessions(clicks); }, {}});
  cs.push_back({"naive", [&] { return naive_sessions(clicks); }, {}});
  for (contender& c : cs) {
    if (c.run() != expect) fail("a contender's rows differ from the plain implementation's (warm-up)");
  }
  const int reps = lb::pick(7, 1);
  for (int r = 0; r < reps; ++r) {
    for (std::size_t j = 0; j < cs.size(); ++j) {
      contender& c = cs[(j + static_cast<std::size_t>(r)) % cs.size()];
      lb::stopwatch sw;
      const digest got = c.run();
      const double s = sw.elapsed_s();
      lb::do_not_optimize(got.hash);
      if (got != expect) fail("a contender's rows differ from the plain implementation's");
      c.rates.push_back(static_cast<double>(clicks.size()) / s);
    }
  }
  const double lam = lb::median(cs[0].rates);
  const double naive = lb::median(cs[1].rates);
  lb::report("session_1k_keys_events_per_s", lam, "events/s", 0);
  lb::report("session_naive_events_per_s", naive, "events/s", 0);
  lb::report("session_vs_naive", lam / naive, "x", 3);
  return 0;
}
