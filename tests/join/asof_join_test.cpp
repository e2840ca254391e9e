// ASOF join: pandas merge_asof's documented examples and kdb+ aj's, then a
// differential test against a brute-force model over every record that
// arrived (no eviction) on randomized out-of-order streams with many keys,
// every direction x exact matches x tolerance, eager and final, with hashed
// and with dense keys; checkpoints at random points; bounded state; dense
// keys out of range.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <laminar/laminar.hpp>
#include <laminar/join/asof.hpp>

#include "join/join_streams.hpp"
#include "support/counting_allocator.hpp"
#include "support/differential.hpp"

using namespace laminar;
using join_streams::ms;

namespace {

struct trade {
  std::int64_t ts = 0;
  std::uint32_t sym = 0;
  std::int64_t price = 0;  // in 1/100
  std::int64_t qty = 0;
  friend bool operator==(const trade&, const trade&) = default;
  friend std::ostream& operator<<(std::ostream& os, const trade& t) {
    return os << "trade{" << t.ts << ", " << t.sym << ", " << t.price << ", " << t.qty << "}";
  }
  template <class A>
  void serialize(A& ar) {
    ar(ts, sym, price, qty);
  }
};
struct quote {
  std::int64_t ts = 0;
  std::uint32_t sym = 0;
  std::int64_t bid = 0;
  std::int64_t ask = 0;
  friend bool operator==(const quote&, const quote&) = default;
  friend std::ostream& operator<<(std::ostream& os, const quote& q) {
    return os << "quote{" << q.ts << ", " << q.sym << ", " << q.bid << ", " << q.ask << "}";
  }
  template <class A>
  void serialize(A& ar) {
    ar(ts, sym, bid, ask);
  }
};
using row = asof_row<trade, quote>;

template <class Join, class Row>
auto pipeline_of(Join join, std::vector<Row>& rows) {
  return connect(push<trade>() | event_time(&trade::ts) | key_by(&trade::sym),
                 push<quote>() | event_time(&quote::ts) | key_by(&quote::sym)) |
         std::move(join) | collect(rows);
}

// Pushes every quote, then every trade (a batch join, as merge_asof does).
template <class Join>
std::vector<row> batch(Join join, const std::vector<trade>& trades, const std::vector<quote>& quotes) {
  std::vector<row> rows;
  auto p = pipeline_of(std::move(join), rows);
  for (const quote& q : quotes) p.push_right(q);
  for (const trade& t : trades) p.push_left(t);
  p.finish();
  return rows;
}

std::vector<std::optional<std::int64_t>> bids(const std::vector<row>& rows) {
  std::vector<std::optional<std::int64_t>> out;
  for (const row& r : rows) out.push_back(r.right ? std::optional<std::int64_t>(r.right->bid) : std::nullopt);
  return out;
}

enum : std::uint32_t { GOOG, MSFT, AAPL };

// pandas' merge_asof documentation: trades and quotes, milliseconds after 13:30.
const std::vector<quote> doc_quotes{
    {23 * ms, GOOG, 72050, 72093}, {23 * ms, MSFT, 5195, 5196}, {30 * ms, MSFT, 5197, 5198},
    {41 * ms, MSFT, 5199, 5200},   {48 * ms, GOOG, 72050, 72093}, {49 * ms, AAPL, 9799, 9801},
    {72 * ms, GOOG, 72050, 72088}, {75 * ms, MSFT, 5201, 5203}};
const std::vector<trade> doc_trades{{23 * ms, MSFT, 5195, 75},
                                    {38 * ms, MSFT, 5195, 155},
                                    {48 * ms, GOOG, 72077, 100},
                                    {48 * ms, GOOG, 72092, 100},
                                    {48 * ms, AAPL, 9800, 100}};

using opt = std::optional<std::int64_t>;
const opt none = std::nullopt;

}  // namespace

TEST_CASE("asof join: pandas merge_asof's trades and quotes examples") {
  // by="ticker": the last quote at or before each trade.
  CHECK(bids(batch(asof_join().emit(emit_mode::eager), doc_trades, doc_quotes)) == std::vector<opt>{5195, 5197, 72050, 72050, none});
  // tolerance=2ms.
  CHECK(bids(batch(asof_join().emit(emit_mode::eager).tolerance(duration::from_nanos(2 * ms)), doc_trades, doc_quotes)) ==
        std::vector<opt>{5195, none, 72050, 72050, none});
  // tolerance=10ms, allow_exact_matches=False.
  CHECK(bids(batch(asof_join().emit(emit_mode::eager).tolerance(duration::from_nanos(10 * ms)).allow_exact_matches(false), doc_trades,
                   doc_quotes)) == std::vector<opt>{none, 5197, none, none, none});
}

TEST_CASE("asof join: pandas merge_asof's directions on one key") {
  // left a = [1, 5, 10], right a = [1, 2, 3, 6, 7].
  const std::vector<trade> left{{1, 0, 0, 0}, {5, 0, 0, 0}, {10, 0, 0, 0}};
  std::vector<quote> right;
  for (std::int64_t a : {1, 2, 3, 6, 7}) right.push_back({a, 0, a, 0});
  CHECK(bids(batch(asof_join().emit(emit_mode::eager), left, right)) == std::vector<opt>{1, 3, 7});
  CHECK(bids(batch(asof_join().emit(emit_mode::eager).allow_exact_matches(false), left, right)) == std::vector<opt>{none, 3, 7});
  CHECK(bids(batch(asof_join().emit(emit_mode::eager).direction(asof_direction::forward), left, right)) == std::vector<opt>{1, 6, none});
  CHECK(bids(batch(asof_join().emit(emit_mode::eager).direction(asof_direction::nearest), left, right)) == std::vector<opt>{1, 6, 7});
}

TEST_CASE("asof join: pandas merge_asof nearest by key, and the tie rules") {
  // left a = [1, 5, 10, 12, 15] by [X, X, Z, Z, Y]; right a = [1, 6, 11, 15, 16] by [X, Z, Z, Z, Y].
  enum : std::uint32_t { X, Y, Z };
  const std::vector<trade> left{{1, X, 0, 0}, {5, X, 0, 0}, {10, Z, 0, 0}, {12, Z, 0, 0}, {15, Y, 0, 0}};
  const std::vector<quote> right{{1, X, 1, 0}, {6, Z, 6, 0}, {11, Z, 11, 0}, {15, Z, 15, 0}, {16, Y, 16, 0}};
  CHECK(bids(batch(asof_join().emit(emit_mode::eager).direction(asof_direction::nearest), left, right)) ==
        std::vector<opt>{1, 1, 11, 11, 16});

  // Several right records at one time: backward takes the last to arrive,
  // forward the first; nearest at equal distance takes the backward one.
  const std::vector<quote> same_time{{5, 0, 51, 0}, {5, 0, 52, 0}, {9, 0, 91, 0}, {9, 0, 92, 0}, {1, 0, 11, 0}};
  const std::vector<trade> at{{5, 0, 0, 0}, {7, 0, 0, 0}, {3, 0, 0, 0}};
  CHECK(bids(batch(asof_join().emit(emit_mode::eager), at, same_time)) == std::vector<opt>{52, 52, 11});
  CHECK(bids(batch(asof_join().emit(emit_mode::eager).direction(asof_direction::forward), at, same_time)) == std::vector<opt>{51, 91, 51});
  CHECK(bids(batch(asof_join().emit(emit_mode::eager).direction(asof_direction::nearest), at, same_time)) == std::vector<opt>{52, 52, 11});
  CHECK(bids(batch(asof_join().emit(emit_mode::eager).direction(asof_direction::forward).allow_exact_matches(false), at, same_time)) ==
        std::vector<opt>{91, 91, 51});
}

TEST_CASE("asof join: kdb+ aj's example") {
  // t: time 10:01:01 10:01:03 10:01:04, sym msft ibm ge;
  // q: time 10:01:00 10:01:01 10:01:01 10:01:02, sym ibm msft msft ibm, px 100 99 101 98.
  enum : std::uint32_t { msft, ibm, ge };
  const std::int64_t s = 1'000'000'000;
  const std::vector<trade> t{{61 * s, msft, 0, 100}, {63 * s, ibm, 0, 200}, {64 * s, ge, 0, 150}};
  const std::vector<quote> q{{60 * s, ibm, 100, 0}, {61 * s, msft, 99, 0}, {61 * s, msft, 101, 0}, {62 * s, ibm, 98, 0}};
  CHECK(bids(batch(asof_join().emit(emit_mode::eager), t, q)) == std::vector<opt>{101, 98, none});
}

namespace {

using item = join_streams::stream_item<trade, quote>;
using join_streams::feed;

// wm_every: each input's watermark moves after about one record in this
// many (rarely: the keys' rings fill and grow before eviction frees them).
// all_on_grid: every time a whole millisecond, so that records tie with
// each other and with the watermarks (which stay on the grid) all the time.
std::vector<item> make_items(std::uint64_t seed, std::uint32_t keys, std::size_t n, std::uint64_t wm_every = 6,
                             bool all_on_grid = false) {
  std::mt19937_64 rng(seed);
  join_streams::stream_shape shape;
  shape.all_on_grid = all_on_grid;
  shape.wm_every = wm_every;
  return join_streams::out_of_order_items<trade, quote>(
      rng, keys, n, shape, [](std::int64_t t, std::uint32_t key, std::int64_t i) { return trade{t, key, i, 1}; },
      [](std::int64_t t, std::uint32_t key, std::int64_t i) { return quote{t, key, i, 0}; });
}

// Every right record that arrived, by key; each left record matched by the
// rules over all of them (pandas' order: time, then arrival).
struct reference {
  asof_settings s;
  std::vector<quote> seen;
  std::int64_t lwm = std::numeric_limits<std::int64_t>::min();
  std::vector<row> rows;
  std::vector<trade> late;

  void on(const item& it) {
    switch (it.kind) {
      case item::right: seen.push_back(it.r); break;
      case item::left_wm: lwm = std::max(lwm, it.w); break;
      case item::right_wm: break;
      case item::left:
        if (it.l.ts < lwm) {
          late.push_back(it.l);
        } else {
          rows.push_back({it.l, match(it.l)});
        }
        break;
    }
  }
  [[nodiscard]] bool ok(std::int64_t d) const { return !s.tolerance || d <= s.tolerance->nanos(); }
  std::optional<quote> match(const trade& l) const {
    std::optional<quote> back, fwd;
    for (const quote& q : seen) {  // arrival order
      if (q.sym != l.sym) continue;
      const bool b = s.allow_exact_matches ? q.ts <= l.ts : q.ts < l.ts;
      const bool f = s.allow_exact_matches ? q.ts >= l.ts : q.ts > l.ts;
      if (b && ok(l.ts - q.ts) && (!back || q.ts >= back->ts)) back = q;  // latest time, last arrival
      if (f && ok(q.ts - l.ts) && (!fwd || q.ts < fwd->ts)) fwd = q;     // earliest time, first arrival
    }
    if (s.direction == asof_direction::backward) return back;
    if (s.direction == asof_direction::forward) return fwd;
    if (!back) return fwd;
    if (!fwd) return back;
    return l.ts - back->ts <= fwd->ts - l.ts ? back : fwd;
  }
};

auto configured(const asof_settings& s) {
  auto j = asof_join().emit(emit_mode::eager).direction(s.direction).allow_exact_matches(s.allow_exact_matches);
  return s.tolerance ? j.tolerance(*s.tolerance) : j;
}

// Calls f with the join of these settings, hashed keys then dense keys
// (keys below dense_limit), and its name.
template <class F>
void for_each_key_mode(const asof_settings& s, F&& f, std::size_t dense_limit = 100) {
  f(configured(s), "hashed");
  f(configured(s).dense_keys(dense_limit), "dense");
}

template <class F>
void for_each_setting(F&& f) {
  for (asof_direction d : {asof_direction::backward, asof_direction::forward, asof_direction::nearest}) {
    for (bool exact : {true, false}) {
      for (std::optional<duration> tol : {std::optional<duration>{}, std::optional<duration>{duration::from_nanos(2 * ms)},
                                          std::optional<duration>{duration::zero()}}) {
        f(asof_settings{d, exact, tol});
      }
    }
  }
}

std::string describe(const asof_settings& s, std::uint64_t seed, std::uint32_t keys) {
  std::ostringstream os;
  os << to_string(s.direction) << (s.allow_exact_matches ? " exact" : " strict") << " tolerance "
     << (s.tolerance ? std::to_string(s.tolerance->nanos()) : "none") << " keys " << keys << " seed " << seed;
  return os.str();
}

}  // namespace

namespace {

// Runs the join on the items, hashed and dense, and compares every row and
// late left record with the brute-force model.
void check_eager(const asof_settings& s, const std::vector<item>& items, const std::string& what) {
  reference ref{s, {}, std::numeric_limits<std::int64_t>::min(), {}, {}};
  for (const item& it : items) ref.on(it);
  for_each_key_mode(s, [&](auto join, const char* mode) {
    std::vector<row> rows;
    side_records<trade> late;
    auto p = pipeline_of(std::move(join).late_to(late), rows);
    for (const item& it : items) feed(p, it);
    p.finish();
    const std::string w = std::string(mode) + " " + what;
    test::same_outputs(rows, ref.rows, w + " rows");
    test::same_outputs(late.records(), ref.late, w + " late left records");
    CHECK(p.join().late_count() == ref.late.size());
  });
}

}  // namespace

TEST_CASE("asof join: eager join equals the brute-force model on randomized out-of-order streams") {
  int cases = 0;
  for_each_setting([&](const asof_settings& s) {
    for (std::uint32_t keys : {1u, 5u, 100u}) {
      for (std::uint64_t seed = 1; seed <= 12; ++seed) {
        check_eager(s, make_items(seed * 131 + keys, keys, 1500), describe(s, seed, keys));
        ++cases;
      }
    }
  });
  CHECK(cases == 3 * 2 * 3 * 3 * 12);  // each with hashed and dense keys
}

TEST_CASE("asof join: eager join equals the brute-force model when watermarks are rare or times tie") {
  // Few keys, the watermarks moving after about one record in 300: each
  // key's ring fills, grows, and then recycles or evicts in bursts.
  // Then the same with every time on a millisecond grid: records at the
  // watermark's own time, where what eviction keeps is decided by a tie.
  for_each_setting([&](const asof_settings& s) {
    for (std::uint32_t keys : {1u, 3u}) {
      for (std::uint64_t seed = 1; seed <= 2; ++seed) {
        check_eager(s, make_items(seed * 7 + keys, keys, 3000, 300), "rare watermarks " + describe(s, seed, keys));
        check_eager(s, make_items(seed * 11 + keys, keys, 3000, 20, true), "on the grid " + describe(s, seed, keys));
      }
    }
  });
}

TEST_CASE("asof join: a checkpoint at a random point restores into a fresh pipeline that continues exactly") {
  for_each_setting([&](const asof_settings& s) {
    for_each_key_mode(s, [&](auto join, const char* mode) {
      for (std::uint64_t wm_every : {6u, 300u}) {
        CAPTURE(wm_every);
        join_streams::check_restore_at_random_cuts<row>([&](std::vector<row>& out) { return pipeline_of(join, out); },
                                                        make_items(77, 20, 2000, wm_every), 5, 3, 3,
                                                        std::string(mode) + " " + describe(s, 77, 20) + " after restore");
      }
    });
  });
}

TEST_CASE("asof join: a full ring keeps the record that a left record at the watermark still matches") {
  // A key's ring starts with room for 4 records; the fifth finds it full.
  // The oldest may make way only if no left record at or after the left
  // watermark can match it: here one at exactly the watermark still does.
  for_each_key_mode(asof_settings{}, [](auto join, const char* mode) {
    CAPTURE(mode);
    // Strict backward: the left record at 5 matches the quote at 1, not the one at 5.
    std::vector<row> rows;
    auto p = pipeline_of(join.allow_exact_matches(false), rows);
    for (std::int64_t t : {1, 5, 6, 7}) p.push_right(quote{t, 0, t, 0});
    p.push_left_watermark(timestamp::from_nanos(5));
    p.push_right(quote{8, 0, 8, 0});
    p.push_left(trade{5, 0, 0, 0});
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].right == std::optional<quote>(quote{1, 0, 1, 0}));

    // Tolerance 4 (inclusive): the quote at 1 is exactly 4 before the left record at 5.
    std::vector<row> near;
    auto q = pipeline_of(join.tolerance(duration::from_nanos(4)), near);
    for (std::int64_t t : {1, 6, 7, 8}) q.push_right(quote{t, 0, t, 0});
    q.push_left_watermark(timestamp::from_nanos(5));
    q.push_right(quote{9, 0, 9, 0});
    q.push_left(trade{5, 0, 0, 0});
    REQUIRE(near.size() == 1);
    CHECK(near[0].right == std::optional<quote>(quote{1, 0, 1, 0}));
    CHECK(q.join().right_held() == 5);
  });
}

namespace {

template <class Join>
void check_bounded(Join join) {
  std::uint64_t rows = 0;
  auto p = connect(push<trade>() | event_time(&trade::ts) | key_by(&trade::sym),
                   push<quote>() | event_time(&quote::ts) | key_by(&quote::sym)) |
           std::move(join) | count_events(rows);
  std::size_t peak = 0;
  std::uint64_t allocations = 0;
  for (std::int64_t i = 0; i < 2'000'000; ++i) {
    const test::allocation_counter counter;
    const auto sym = static_cast<std::uint32_t>(i % 500);
    p.push_right(quote{i * 1000, sym, i, i});
    p.push_left(trade{i * 1000 + 500, sym, i, 1});
    if (i % 64 == 63) {
      p.push_left_watermark(timestamp::from_nanos(i * 1000 - 100'000));
      p.push_right_watermark(timestamp::from_nanos(i * 1000 - 100'000));
    }
    if (i >= 100'000) allocations += counter.count();
    peak = std::max(peak, p.join().right_held());
  }
  CHECK(rows == 2'000'000);
  CHECK(allocations == 0);
  // About the quotes within 100 us of the watermark (100 of them) plus
  // one per key, with the rings' slack (a full ring of 8 per key, as a
  // ring recycles only once full) and the sweep's; never the 2 million
  // pushed.
  CHECK(peak < 4'500);
}

}  // namespace

TEST_CASE("asof join: state stays bounded as the left watermark moves, and steady state allocates nothing") {
  asof_settings s;
  for (asof_direction d : {asof_direction::backward, asof_direction::forward, asof_direction::nearest}) {
    s.direction = d;
    for_each_key_mode(
        s,
        [&](auto join, const char* mode) {
          CAPTURE(to_string(d));
          CAPTURE(mode);
          check_bounded(std::move(join));
        },
        500);
  }
}

namespace {

// A stream for the final policy: the right watermark is exact (the least
// time of the right records still to come), so no right record is late;
// the left watermark trails the left records by 5 ms (some left records are
// late).
std::vector<item> make_final_items(std::uint64_t seed, std::uint32_t keys, std::size_t n) {
  return join_streams::with_exact_right_watermarks(make_items(seed, keys, n));
}

// The final answer: each on-time left record matched against every right
// record of the stream, in left time order (equal times by arrival).
std::vector<row> final_reference(const asof_settings& s, const std::vector<item>& items, std::vector<trade>& late) {
  reference all{s, {}, std::numeric_limits<std::int64_t>::min(), {}, {}};
  for (const item& it : items) {
    if (it.kind == item::right) all.seen.push_back(it.r);
  }
  std::vector<row> rows;
  for (const trade& t : join_streams::on_time_lefts(items, late)) rows.push_back({t, all.match(t)});
  return rows;
}

}  // namespace

TEST_CASE("asof join, final: rows equal the batch answer over the whole stream, in left time order") {
  int cases = 0;
  for_each_setting([&](const asof_settings& base) {
    asof_settings s = base;
    s.emit = emit_mode::final;
    for (std::uint32_t keys : {1u, 7u, 100u}) {
      for (std::uint64_t seed = 1; seed <= 10; ++seed) {
        const auto items = make_final_items(seed * 17 + keys, keys, 1500);
        std::vector<trade> want_late;
        const auto want = final_reference(s, items, want_late);
        for_each_key_mode(s, [&](auto join, const char* mode) {
          std::vector<row> rows;
          side_records<trade> late;
          std::int64_t out_wm = std::numeric_limits<std::int64_t>::min();
          bool on_time = true;
          auto p = connect(push<trade>() | event_time(&trade::ts) | key_by(&trade::sym),
                           push<quote>() | event_time(&quote::ts) | key_by(&quote::sym)) |
                   std::move(join).emit(emit_mode::final).late_to(late) |
                   sink([&](const row& r) {
                     if (r.left.ts < out_wm) on_time = false;
                     rows.push_back(r);
                   },
                        [&](timestamp w) { out_wm = w.nanos(); });
          for (const item& it : items) feed(p, it);
          p.finish();
          const std::string what = std::string(mode) + " final " + describe(s, seed, keys);
          test::same_outputs(rows, want, what + " rows");
          test::same_outputs(late.records(), want_late, what + " late left records");
          CHECK_MESSAGE(on_time, what << ": a row arrived behind the join's output watermark");
          CHECK(p.join().left_held() == 0);
        });
        ++cases;
      }
    }
  });
  CHECK(cases == 3 * 2 * 3 * 3 * 10);
}

namespace {

// The final policy, step by step, on a stream whose right watermark is not
// exact (right records may come behind it), by the rules asof.hpp states:
// a held left record's row leaves once every earlier held one has left, the
// left watermark has reached it and the right watermark makes its answer
// exact (backward: W_R > t, or >= without exact matches; forward: W_R at
// its first candidate's time, or past t + the tolerance when there is none;
// nearest: both); it is matched, by brute force, against every right record
// that has arrived by then. A right record behind its watermark is in the
// answers of the left records released after it, not of those before.
struct final_model {
  static constexpr std::int64_t none = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t end_of_time = std::numeric_limits<std::int64_t>::max();
  reference all;  // the right records so far, and the matching rules
  std::vector<trade> held;  // in time order, equal times by arrival
  std::int64_t lwm = none, rwm = none;
  std::vector<row> rows;
  std::vector<trade> late;

  explicit final_model(const asof_settings& s) : all{s, {}, none, {}, {}} {}

  void on(const item& it) {
    switch (it.kind) {
      case item::right: all.seen.push_back(it.r); break;
      case item::left:
        if (it.l.ts < lwm) {
          late.push_back(it.l);
          return;
        }
        held.insert(std::upper_bound(held.begin(), held.end(), it.l,
                                     [](const trade& a, const trade& b) { return a.ts < b.ts; }),
                    it.l);
        break;
      case item::left_wm: lwm = it.w; break;
      case item::right_wm: rwm = it.w; break;
    }
    release();
  }
  void finish() {
    lwm = end_of_time;
    release();
    rwm = end_of_time;
    release();
  }
  void release() {
    while (!held.empty() && held.front().ts <= lwm && exact(held.front())) {
      rows.push_back({held.front(), all.match(held.front())});
      held.erase(held.begin());
    }
  }
  [[nodiscard]] bool exact(const trade& l) const {
    const asof_settings& s = all.s;
    if (rwm == end_of_time) return true;
    const bool backward_done = s.allow_exact_matches ? rwm > l.ts : rwm >= l.ts;
    if (s.direction == asof_direction::backward) return backward_done;
    if (s.direction == asof_direction::nearest && !backward_done) return false;
    std::optional<std::int64_t> first;  // the forward candidate's time
    for (const quote& q : all.seen) {
      const bool f = s.allow_exact_matches ? q.ts >= l.ts : q.ts > l.ts;
      if (q.sym == l.sym && f && all.ok(q.ts - l.ts) && (!first || q.ts < *first)) first = q.ts;
    }
    if (first) return rwm >= *first;
    return s.tolerance && rwm > l.ts + s.tolerance->nanos();
  }
};

}  // namespace

// make_final_items makes the right watermark exact, so no right record is
// ever late there; here the right watermark trails the right records by
// 5 ms and one record in 25 comes up to 30 ms behind: right records arrive
// behind their watermark, after left records they would have matched have
// left with what was there.
TEST_CASE("asof join, final: with right records behind their watermark, rows equal the step-by-step model") {
  int cases = 0;
  std::size_t late_rights = 0, changed_rows = 0;
  for_each_setting([&](const asof_settings& base) {
    asof_settings s = base;
    s.emit = emit_mode::final;
    for (std::uint32_t keys : {1u, 7u, 100u}) {
      for (std::uint64_t seed = 1; seed <= 4; ++seed) {
        const auto items = make_items(seed * 23 + keys, keys, 1500);
        final_model want(s);
        for (const item& it : items) want.on(it);
        want.finish();
        // What the late right records change: the batch answer over the
        // whole stream differs from the model's rows.
        std::vector<trade> batch_late;
        const auto batch_rows = final_reference(s, items, batch_late);
        REQUIRE(batch_rows.size() == want.rows.size());
        for (std::size_t i = 0; i < batch_rows.size(); ++i) changed_rows += batch_rows[i] == want.rows[i] ? 0U : 1U;
        std::int64_t rwm = final_model::none;
        for (const item& it : items) {
          if (it.kind == item::right_wm) rwm = it.w;
          if (it.kind == item::right && it.r.ts < rwm) ++late_rights;
        }
        for_each_key_mode(s, [&](auto join, const char* mode) {
          std::vector<row> rows;
          side_records<trade> late;
          auto p = pipeline_of(std::move(join).emit(emit_mode::final).late_to(late), rows);
          for (const item& it : items) feed(p, it);
          p.finish();
          const std::string what = std::string(mode) + " final, late right records, " + describe(s, seed, keys);
          test::same_nonempty_outputs(rows, want.rows, what + " rows");
          test::same_outputs(late.records(), want.late, what + " late left records");
          CHECK(p.join().late_count() == want.late.size());
          CHECK(p.join().left_held() == 0);
        });
        ++cases;
      }
    }
  });
  CHECK(cases == 3 * 2 * 3 * 3 * 4);
  CHECK(late_rights > 1000);
  CHECK(changed_rows > 100);
}

TEST_CASE("asof join, final: a restore at a random point continues exactly") {
  asof_settings s;
  s.emit = emit_mode::final;
  s.direction = asof_direction::nearest;
  s.tolerance = duration::from_nanos(2 * ms);
  const auto items = make_final_items(91, 20, 2000);
  for_each_key_mode(s, [&](auto join, const char* mode) {
    CAPTURE(mode);
    join_streams::check_restore_at_random_cuts<row>(
        [&](std::vector<row>& out) { return pipeline_of(join.emit(emit_mode::final), out); }, items, 9, 4, 4,
        std::string(mode) + " final after restore");
  });
}

TEST_CASE("asof join, final: an idle right input does not grow the held left records past max_held") {
  std::vector<row> rows;
  auto p = pipeline_of(asof_join().emit(emit_mode::final).max_held(1000), rows);
  p.push_right(quote{0, 1, 7, 8});
  p.push_right_watermark(timestamp::from_nanos(1));  // and then the quotes stop
  std::size_t peak = 0;
  for (std::int64_t i = 1; i <= 100'000; ++i) {
    p.push_left(trade{i * 10, 1, i, 1});
    if (i % 100 == 0) p.push_left_watermark(timestamp::from_nanos(i * 10));
    peak = std::max(peak, p.join().left_held());
  }
  CHECK(peak == 1000);
  CHECK(p.join().overflow_count() == 99'000);
  CHECK(rows.size() == 99'000);
  CHECK(rows.front().right->bid == 7);  // joined with what had arrived
  p.finish();
  CHECK(rows.size() == 100'000);
  CHECK_THROWS_AS((void)asof_join().emit(emit_mode::eager).max_held(0), usage_error);
}

TEST_CASE("asof join, final: past max_held, overflow_left_to() takes the earliest held trade unjoined") {
  std::vector<row> rows;
  side_records<trade> overflow;
  auto make = [](std::vector<row>& out, side_records<trade>& side) {
    return pipeline_of(asof_join().emit(emit_mode::final).max_held(100).overflow_left_to(side), out);
  };
  auto p = make(rows, overflow);
  p.push_right(quote{0, 1, 7, 8});
  p.push_right_watermark(timestamp::from_nanos(1));  // and then the quotes stop
  std::vector<row> rows_restored;
  side_records<trade> overflow_restored;
  auto q = make(rows_restored, overflow_restored);
  for (std::int64_t i = 1; i <= 10'000; ++i) {
    p.push_left(trade{i * 10, static_cast<std::uint32_t>(i % 2), i, 1});
    if (i % 100 == 0) p.push_left_watermark(timestamp::from_nanos(i * 10));
    if (i == 5'555) q.restore(snapshot::from_bytes(p.checkpoint(7).to_bytes()));
    if (i > 5'555) {
      q.push_left(trade{i * 10, static_cast<std::uint32_t>(i % 2), i, 1});
      if (i % 100 == 0) q.push_left_watermark(timestamp::from_nanos(i * 10));
    }
    CHECK(p.join().left_held() <= 100);
  }
  CHECK(rows.empty());  // none exact, none joined with a guess
  CHECK(p.join().overflow_count() == 9'900);
  REQUIRE(overflow.count() == 9'900);
  for (std::int64_t i = 0; i < 9'900; ++i) CHECK(overflow.records()[static_cast<std::size_t>(i)].ts == (i + 1) * 10);
  test::same_outputs(overflow_restored.records(), overflow.records(), "overflow after restore");
  CHECK(q.join().overflow_count() == 9'900);
  p.finish();  // the right input ends: the held trades are exact now
  q.finish();
  REQUIRE(rows.size() == 100);
  CHECK(rows.front() == row{trade{99'010, 1, 9'901, 1}, quote{0, 1, 7, 8}});
  CHECK(rows[1] == row{trade{99'020, 0, 9'902, 1}, std::nullopt});  // key 0 never had a quote
  test::same_outputs(rows_restored, rows, "rows after restore");
}

TEST_CASE("asof join: overflow_left_to() needs the final policy and max_held") {
  std::vector<row> rows;
  side_records<trade> overflow;
  CHECK_THROWS_WITH_AS((void)pipeline_of(asof_join().emit(emit_mode::eager).max_held(5).overflow_left_to(overflow), rows),
                       doctest::Contains("overflow_left_to() needs emit(emit_mode::final)"), usage_error);
  CHECK_THROWS_WITH_AS((void)pipeline_of(asof_join().emit(emit_mode::final).overflow_left_to(overflow), rows),
                       doctest::Contains("overflow_left_to() needs max_held(n)"), usage_error);
}

TEST_CASE("asof join, final: an idle timeout on the quote source releases the held trades, exact") {
  // The quotes stop; with an idle timeout their source's watermark moves on
  // with processing time (the pipeline's tick), so the trades are released
  // as a moving watermark would release them: in time order, each joined
  // with the quote the idle watermark has made final.
  std::vector<row> rows;
  auto p = join_streams::with_idle_right_source<trade, quote>(&trade::ts, &trade::sym, &quote::ts, &quote::sym,
                                                              asof_join().emit(emit_mode::final), collect(rows));
  p.push_right(quote{100, 1, 7, 8});
  p.push_right(quote{200, 1, 9, 10});  // the quotes' watermark: 190
  for (std::int64_t t = 150; t <= 2'000; t += 50) p.push_left(trade{t, 1, t, 1});  // the trades': 1990
  CHECK(rows.size() == 1);  // the trade at 150 only: the quotes' watermark holds the rest
  p.tick(timestamp::from_nanos(1'000));  // the quote source was active since the last check
  CHECK(rows.size() == 1);
  p.tick(timestamp::from_nanos(1'500));  // idle for 500 ns: not yet
  CHECK(rows.size() == 1);
  p.tick(timestamp::from_nanos(2'200));  // idle for 1200 ns: the quotes' watermark moves to 2190
  REQUIRE(rows.size() == 37);            // every trade the trades' own watermark has passed (150 .. 1950)
  CHECK(p.join().left_held() == 1);      // the trade at 2000 waits for its own input's watermark
  CHECK(p.join().overflow_count() == 0);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::int64_t t = 150 + 50 * static_cast<std::int64_t>(i);
    CHECK(rows[i].left.ts == t);
    REQUIRE(rows[i].right.has_value());
    CHECK(rows[i].right->ts == (t < 200 ? 100 : 200));
  }
  p.finish();
  CHECK(rows.size() == 38);
}

namespace {

struct signed_quote {
  std::int64_t ts = 0;
  int sym = 0;
};
struct signed_trade {
  std::int64_t ts = 0;
  int sym = 0;
};

template <class Message>
void check_usage_error(const std::string& message, Message&& f) {
  try {
    f();
    FAIL("no usage_error, expected one saying: " << message);
  } catch (const usage_error& e) {
    CHECK_MESSAGE(std::string(e.what()).find(message) != std::string::npos, e.what());
  }
}

}  // namespace

TEST_CASE("asof join, dense keys: a key below 0 or at or above n on either input is a usage_error naming it") {
  std::vector<row> rows;
  auto p = pipeline_of(asof_join().emit(emit_mode::eager).dense_keys(10), rows);
  p.push_right(quote{1, 9, 90, 0});  // the largest key that fits
  p.push_left(trade{2, 9, 0, 0});
  p.push_left(trade{2, 3, 0, 0});  // a key with no right record yet: no match
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].right->bid == 90);
  CHECK(!rows[1].right);
  check_usage_error("dense_keys(10): key 10 is not below 10", [&] { p.push_right(quote{3, 10, 0, 0}); });
  check_usage_error("dense_keys(10): key 12 is not below 10", [&] { p.push_left(trade{3, 12, 0, 0}); });

  // A signed key: negative keys are refused on either side.
  std::vector<asof_row<signed_trade, signed_quote>> signed_rows;
  auto q = connect(push<signed_trade>() | event_time(&signed_trade::ts) | key_by(&signed_trade::sym),
                   push<signed_quote>() | event_time(&signed_quote::ts) | key_by(&signed_quote::sym)) |
           asof_join().emit(emit_mode::eager).dense_keys(10) | collect(signed_rows);
  check_usage_error("dense_keys: key -1 is negative", [&] { q.push_right(signed_quote{1, -1}); });
  check_usage_error("dense_keys: key -2 is negative", [&] { q.push_left(signed_trade{1, -2}); });

  check_usage_error("dense_keys(n) needs 0 < n", [] { (void)asof_join().emit(emit_mode::eager).dense_keys(0); });
  check_usage_error("dense_keys(n) needs 0 < n", [] { (void)asof_join().emit(emit_mode::eager).dense_keys((std::size_t{1} << 26) + 1); });
}

TEST_CASE("asof join: a key's state copies with its ring") {
  // The ring is a raw allocation of records and times: a copy must own its
  // own, in the same order (oldest first), wrapped around or not.
  detail::asof_key<quote> k;
  k.reserve(4);
  for (std::int64_t t : {1, 2, 3}) k.insert(timestamp::from_nanos(t), quote{t, 0, t, 0});
  k.drop(2);
  for (std::int64_t t : {5, 6}) k.insert(timestamp::from_nanos(t), quote{t, 0, t, 0});  // wraps around
  k.insert(timestamp::from_nanos(4), quote{4, 0, 40, 0});                                // out of order, across the wrap
  const auto same = [](const detail::asof_key<quote>& c) {
    REQUIRE(c.size == 4);
    std::vector<std::int64_t> bids;
    for (std::uint32_t i = 0; i < c.size; ++i) bids.push_back(c.record(i).bid);
    CHECK(bids == std::vector<std::int64_t>{3, 40, 5, 6});
    CHECK(c.newest.bid == 6);
  };
  const detail::asof_key<quote> copy = k;
  same(copy);
  detail::asof_key<quote> tmp(k);
  const detail::asof_key<quote> moved(std::move(tmp));
  same(moved);
  detail::asof_key<quote> assigned;
  assigned = copy;
  same(assigned);
  k.reset();
  same(copy);
}

TEST_CASE("asof join: reserve_per_key sizes every key's first ring, so a burst within the lag allocates nothing") {
  // Each key gets one quote per 1 ms with the left watermark 10 ms behind;
  // after warm-up, one key gets a burst of 20 quotes inside the lag. With
  // the default first ring (8) the burst grows the ring; with
  // reserve_per_key(32) nothing allocates, and the rows are the same.
  const auto run = [](auto join, std::uint64_t& burst_allocations) {
    std::vector<row> rows;
    rows.reserve(64);  // collect's vector does not grow inside the counted part
    auto p = pipeline_of(std::move(join), rows);
    std::int64_t now = 0;
    for (int step = 0; step < 200; ++step) {
      now = step * ms;
      for (std::uint32_t sym = 0; sym < 16; ++sym) p.push_right(quote{now, sym, step, step + 1});
      p.push_left_watermark(timestamp::from_nanos(now - 10 * ms));
    }
    const test::allocation_counter counter;
    for (std::int64_t i = 1; i <= 20; ++i) p.push_right(quote{now + i, 3, 1000 + i, 0});
    for (std::uint32_t sym = 0; sym < 16; ++sym) p.push_left(trade{now + 15, sym, 0, 0});
    burst_allocations = counter.count();
    p.push_left(trade{now - 5 * ms + 1, 3, 0, 0});  // an earlier trade still finds its quote in the ring
    p.finish();
    return rows;
  };
  std::uint64_t grown = 0;
  std::uint64_t reserved = 0;
  const std::vector<row> plain = run(asof_join().emit(emit_mode::eager), grown);
  const std::vector<row> sized = run(asof_join().emit(emit_mode::eager).reserve_per_key(32), reserved);
  CHECK(grown > 0);  // the default ring had to grow: the check below can fail
  CHECK(reserved == 0);
  CHECK(sized == plain);
  REQUIRE(sized.size() == 17);
  CHECK(sized[3].right->bid == 1015);  // the burst's quote at now + 15
  CHECK(sized[16].right->bid == 194);  // the quote at now - 5 ms (step 194), kept behind the burst

  std::uint64_t dense = 0;
  CHECK(run(asof_join().emit(emit_mode::eager).dense_keys(16).reserve_per_key(20), dense) == plain);  // 20 rounds up to 32
  CHECK(dense == 0);

  check_usage_error("reserve_per_key(n) needs 0 < n", [] { (void)asof_join().emit(emit_mode::eager).reserve_per_key(0); });
  check_usage_error("reserve_per_key(n) needs 0 < n", [] { (void)asof_join().emit(emit_mode::eager).reserve_per_key((std::size_t{1} << 24) + 1); });
}

TEST_CASE("asof join: processing-time ticks pass on to the operators after it") {
  // A window after the join emits early results on the pipeline's tick:
  // they come only if the join passes the tick on.
  std::vector<window_row<std::uint32_t, std::int64_t>> early;
  auto p = connect(push<trade>() | event_time(&trade::ts) | key_by(&trade::sym),
                   push<quote>() | event_time(&quote::ts) | key_by(&quote::sym)) |
           asof_join().emit(emit_mode::eager) |
           tumbling(duration::from_nanos(1'000 * ms)).aggregate(count()).emit_every(duration::from_nanos(50 * ms),
                                                                                     time_domain::processing_time) |
           collect(early);
  p.push_right(quote{1 * ms, 7, 100, 101});
  p.push_left(trade{2 * ms, 7, 0, 0});
  p.push_left(trade{3 * ms, 7, 0, 0});
  CHECK(early.empty());
  p.tick(timestamp::from_nanos(5'000 * ms));
  REQUIRE(early.size() == 1);
  CHECK(early[0].key == 7u);
  CHECK(early[0].value == 2);
}

TEST_CASE("asof join: a ring widens within its allocation, wrapped around or not") {
  // Room for 8, cycling through 4: the records that wrapped to the start
  // move past the old end, in order, and the ring then cycles through 8.
  detail::asof_key<quote> k;
  k.reserve(8, 4);
  for (std::int64_t t : {1, 2, 3}) k.insert(timestamp::from_nanos(t), quote{t, 0, t, 0});
  k.drop(2);
  for (std::int64_t t : {4, 5, 6}) k.insert(timestamp::from_nanos(t), quote{t, 0, t, 0});  // wraps around
  REQUIRE(k.full());
  k.widen();
  CHECK(k.used == 8);
  CHECK(k.cap == 8);
  CHECK(!k.full());
  for (std::int64_t t : {7, 8, 9, 10}) k.insert(timestamp::from_nanos(t), quote{t, 0, t, 0});
  REQUIRE(k.full());
  std::vector<std::int64_t> times;
  for (std::uint32_t i = 0; i < k.size; ++i) times.push_back(k.time(i).nanos());
  CHECK(times == std::vector<std::int64_t>{3, 4, 5, 6, 7, 8, 9, 10});
  CHECK(k.record(0).bid == 3);
  CHECK(k.record(7).bid == 10);
  CHECK(k.newest.bid == 10);
  const detail::asof_key<quote> copy = k;  // keeps the allocation and the positions in use
  CHECK(copy.cap == 8);
  CHECK(copy.used == 8);
  CHECK(copy.record(3).bid == 6);
}

namespace {

// The ordered feed's model: the brute-force reference's row for a left
// record in order (no right record of its key later than it has arrived);
// a left record behind its key's newest right record goes to the late side
// output with the watermark's late records, in arrival order.
struct ordered_reference {
  reference all;
  std::vector<trade> out_of_order;
  std::vector<trade> side;  // late and out of order, in arrival order

  void on(const item& it) {
    if (it.kind == item::left && it.l.ts >= all.lwm && behind_newest(it.l)) {
      out_of_order.push_back(it.l);
      side.push_back(it.l);
      return;
    }
    const std::size_t late_before = all.late.size();
    all.on(it);
    if (all.late.size() != late_before) side.push_back(all.late.back());
  }
  [[nodiscard]] bool behind_newest(const trade& l) const {
    return std::any_of(all.seen.begin(), all.seen.end(), [&](const quote& q) { return q.sym == l.sym && q.ts > l.ts; });
  }
};

auto ordered_configured(std::optional<duration> tol) {
  return tol ? asof_join().ordered_feed().tolerance(*tol) : asof_join().ordered_feed();
}

// The ordered feed joins against the model, hashed and dense.
void check_ordered(std::optional<duration> tol, const std::vector<item>& items, const std::string& what,
                   std::size_t& out_of_order, std::size_t dense_limit = 100) {
  ordered_reference ref{{asof_settings{asof_direction::backward, true, tol}, {}, join_streams::no_time, {}, {}}, {}, {}};
  for (const item& it : items) ref.on(it);
  out_of_order = ref.out_of_order.size();
  const auto check = [&](auto join, const char* mode) {
    std::vector<row> rows;
    side_records<trade> side;
    auto p = pipeline_of(std::move(join).late_to(side), rows);
    for (const item& it : items) feed(p, it);
    p.finish();
    const std::string w = std::string(mode) + " " + what;
    test::same_outputs(rows, ref.all.rows, w + " rows");
    test::same_outputs(side.records(), ref.side, w + " late and out-of-order left records");
    CHECK(p.join().late_count() == ref.all.late.size());
    CHECK(p.join().out_of_order_count() == ref.out_of_order.size());
  };
  check(ordered_configured(tol), "hashed");
  check(ordered_configured(tol).dense_keys(dense_limit), "dense");
}

// A feed in event-time order, as one feed handler delivers it: times
// advance by 0 to 2 ms (ties between the inputs included), keys at random,
// each input's watermark trailing by 1 ms now and then.
std::vector<item> in_order_items(std::uint64_t seed, std::uint32_t keys, std::size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<item> items;
  std::int64_t t = 1'000 * ms;
  for (std::size_t i = 0; i < n; ++i) {
    t += static_cast<std::int64_t>(rng() % 3) * ms / 2;
    const auto key = static_cast<std::uint32_t>(rng() % keys);
    const auto id = static_cast<std::int64_t>(i);
    if (rng() % 3 == 0) {
      items.push_back({item::left, trade{t, key, id, 1}, {}, 0});
    } else {
      items.push_back({item::right, {}, quote{t, key, id, 0}, 0});
    }
    if (rng() % 8 == 0) {
      items.push_back({item::left_wm, {}, {}, t - ms});
      items.push_back({item::right_wm, {}, {}, t - ms});
    }
  }
  return items;
}

}  // namespace

TEST_CASE("asof join, ordered feed: equals the model on randomized out-of-order streams") {
  // Out-of-order streams: left records behind their key's newest quote go
  // to the side output (counted), the others get the exact backward match.
  int cases = 0;
  std::size_t out_of_order = 0;
  for (std::optional<duration> tol : {std::optional<duration>{}, std::optional<duration>{duration::from_nanos(2 * ms)},
                                      std::optional<duration>{duration::zero()}}) {
    for (std::uint32_t keys : {1u, 5u, 100u}) {
      for (std::uint64_t seed = 1; seed <= 6; ++seed) {
        std::size_t n = 0;
        check_ordered(tol, make_items(seed * 131 + keys, keys, 1500),
                      describe(asof_settings{asof_direction::backward, true, tol}, seed, keys), n);
        out_of_order += n;
        ++cases;
      }
    }
  }
  CHECK(cases == 3 * 3 * 6);
  CHECK(out_of_order > 1000);  // the streams exercise the out-of-order path
}

TEST_CASE("asof join, ordered feed: on a feed in time order it gives the full join's rows, all of them") {
  for (std::uint32_t keys : {1u, 7u, 300u}) {
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      CAPTURE(keys);
      CAPTURE(seed);
      const std::vector<item> items = in_order_items(seed * 17 + keys, keys, 3000);
      std::size_t out_of_order = 1;
      check_ordered(std::nullopt, items, "in order", out_of_order, keys);
      CHECK(out_of_order == 0);
      // The same rows as the join that keeps history.
      std::vector<row> full, ordered;
      auto p = pipeline_of(asof_join().emit(emit_mode::eager), full);
      auto q = pipeline_of(asof_join().ordered_feed().dense_keys(keys), ordered);
      for (const item& it : items) {
        feed(p, it);
        feed(q, it);
      }
      p.finish();
      q.finish();
      CHECK(ordered == full);
      CHECK(q.join().right_held() <= keys);  // one record per key
    }
  }
}

TEST_CASE("asof join, ordered feed: a checkpoint at a random point restores into a fresh pipeline that continues exactly") {
  for (std::uint64_t wm_every : {6u, 300u}) {
    CAPTURE(wm_every);
    const std::vector<item> items = make_items(91, 20, 2000, wm_every);
    join_streams::check_restore_at_random_cuts<row>(
        [](std::vector<row>& out) { return pipeline_of(asof_join().ordered_feed().tolerance(duration::from_nanos(3 * ms)), out); },
        items, 5, 3, 3, "hashed ordered feed after restore");
    join_streams::check_restore_at_random_cuts<row>(
        [](std::vector<row>& out) { return pipeline_of(asof_join().ordered_feed().dense_keys(20), out); }, items, 6, 3,
        3, "dense ordered feed after restore");
  }
}

TEST_CASE("asof join, ordered feed: a full join's checkpoint restores into it, each key keeping its newest record") {
  const std::vector<item> items = in_order_items(5, 12, 2000);
  const std::size_t cut = items.size() / 2;
  std::vector<row> whole;
  {
    auto p = pipeline_of(asof_join().ordered_feed(), whole);
    for (const item& it : items) feed(p, it);
    p.finish();
  }
  std::vector<row> first, rest;
  std::string bytes;
  {
    auto p = pipeline_of(asof_join().emit(emit_mode::eager), first);  // keeps history: several records per key
    for (std::size_t i = 0; i < cut; ++i) feed(p, items[i]);
    CHECK(p.join().right_held() > 12);
    bytes = p.checkpoint(1).to_bytes();
  }
  rest = first;  // collect's checkpoint holds only its length
  auto q = pipeline_of(asof_join().ordered_feed(), rest);
  q.restore(snapshot::from_bytes(bytes));
  CHECK(q.join().right_held() <= 12);
  for (std::size_t i = cut; i < items.size(); ++i) feed(q, items[i]);
  q.finish();
  test::same_outputs(rest, whole, "full join's checkpoint restored into an ordered feed");
}

TEST_CASE("asof join, ordered feed: settings it cannot answer are a usage_error when the pipeline is built") {
  std::vector<row> rows;
  check_usage_error("ordered_feed() needs the backward direction",
                    [&] { (void)pipeline_of(asof_join().emit(emit_mode::eager).direction(asof_direction::forward).ordered_feed(), rows); });
  check_usage_error("ordered_feed() needs the backward direction",
                    [&] { (void)pipeline_of(asof_join().ordered_feed().direction(asof_direction::nearest), rows); });
  check_usage_error("ordered_feed() needs allow_exact_matches(true)",
                    [&] { (void)pipeline_of(asof_join().ordered_feed().allow_exact_matches(false), rows); });
  check_usage_error("ordered_feed() needs eager emission",
                    [&] { (void)pipeline_of(asof_join().ordered_feed().emit(emit_mode::final).dense_keys(4), rows); });
  // Out of order on purpose: the trade behind its key's newest quote is
  // refused to the side output, never joined with a later quote.
  side_records<trade> side;
  auto p = pipeline_of(asof_join().ordered_feed().late_to(side), rows);
  p.push_right(quote{10 * ms, 1, 100, 101});
  p.push_right(quote{5 * ms, 1, 50, 51});  // older than the newest: cannot match a trade in order
  p.push_left(trade{7 * ms, 1, 0, 0});
  p.push_left(trade{10 * ms, 1, 0, 0});
  p.finish();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].right->bid == 100);
  REQUIRE(side.records().size() == 1);
  CHECK(side.records()[0].ts == 7 * ms);
  CHECK(p.join().out_of_order_count() == 1);
  CHECK(p.join().right_expired() == 1);
  CHECK(p.join().late_count() == 0);
}

namespace {

// What a join with keep_right keeps of a quote in these tests: its time and
// bid (the ask is dropped).
using join_streams::kept_rows;
using join_streams::timed_value;
constexpr auto keep_px = [](const quote& q) { return timed_value{q.ts, q.bid}; };
using px_row = asof_row<trade, timed_value>;
using bid_row = asof_row<trade, std::int64_t>;

}  // namespace

// A key's state is what is kept: 8 bytes kept, 24-byte state, two keys to a
// cache line (dense keys), where a whole 32-byte quote takes one.
static_assert(sizeof(detail::asof_latest<std::int64_t>) == 24);
static_assert(sizeof(detail::asof_latest<quote>) > 32);

TEST_CASE("asof join: keep_right(f) gives the whole join's rows with f applied to their quotes") {
  int cases = 0;
  std::size_t matched = 0;
  for_each_setting([&](const asof_settings& base) {
    for (emit_mode e : {emit_mode::eager, emit_mode::final}) {
      asof_settings s = base;
      s.emit = e;
      for (std::uint32_t keys : {1u, 100u}) {
        for (std::uint64_t seed = 1; seed <= 3; ++seed) {
          const auto items = e == emit_mode::final ? make_final_items(seed * 29 + keys, keys, 1500)
                                                   : make_items(seed * 29 + keys, keys, 1500);
          for_each_key_mode(s, [&](auto join, const char* mode) {
            const std::string what = std::string(mode) + " " + to_string(e) + " " + describe(s, seed, keys);
            std::vector<row> whole;
            std::vector<px_row> px;
            side_records<trade> late_whole, late_px;
            auto p = pipeline_of(join.emit(e).late_to(late_whole), whole);
            auto q = pipeline_of(join.emit(e).keep_right(keep_px).late_to(late_px), px);
            for (const item& it : items) {
              feed(p, it);
              feed(q, it);
            }
            p.finish();
            q.finish();
            test::same_outputs(px, kept_rows(whole, keep_px), what + " rows");
            test::same_outputs(late_px.records(), late_whole.records(), what + " late left records");
            CHECK(q.join().right_held() == p.join().right_held());
            matched += static_cast<std::size_t>(
                std::count_if(px.begin(), px.end(), [](const px_row& r) { return r.right.has_value(); }));
          });
          ++cases;
        }
      }
    }
  });
  CHECK(cases == 3 * 2 * 3 * 2 * 2 * 3);
  CHECK(matched > 10000);  // the rows are mostly matches, not empty sides

  // The ordered feed, keeping a member (a member pointer), on an
  // out-of-order stream: the same rows and the same refused left records.
  for (std::uint32_t keys : {1u, 5u, 100u}) {
    const auto items = make_items(keys * 3 + 1, keys, 2000);
    std::vector<row> whole;
    std::vector<bid_row> bid;
    side_records<trade> side_whole, side_bid;
    auto p = pipeline_of(asof_join().ordered_feed().dense_keys(100).late_to(side_whole), whole);
    auto q = pipeline_of(asof_join().ordered_feed().dense_keys(100).keep_right(&quote::bid).late_to(side_bid), bid);
    for (const item& it : items) {
      feed(p, it);
      feed(q, it);
    }
    p.finish();
    q.finish();
    test::same_outputs(bid, kept_rows(whole, &quote::bid), "ordered feed keeping the bid, keys " + std::to_string(keys));
    test::same_outputs(side_bid.records(), side_whole.records(), "ordered feed keeping the bid: refused left records");
    CHECK(q.join().out_of_order_count() == p.join().out_of_order_count());
  }
}

TEST_CASE("asof join: with keep_right(f) what is kept is checkpointed, and a restore continues exactly") {
  const auto items = make_items(57, 20, 2000, 6);
  join_streams::check_restore_at_random_cuts<px_row>(
      [](std::vector<px_row>& out) { return pipeline_of(asof_join().emit(emit_mode::eager).keep_right(keep_px).dense_keys(20), out); }, items,
      5, 3, 3, "full join keeping a struct, after restore");
  join_streams::check_restore_at_random_cuts<bid_row>(
      [](std::vector<bid_row>& out) { return pipeline_of(asof_join().ordered_feed().keep_right(&quote::bid), out); },
      items, 6, 3, 3, "ordered feed keeping the bid, after restore");
  join_streams::check_restore_at_random_cuts<px_row>(
      [](std::vector<px_row>& out) {
        return pipeline_of(asof_join().emit(emit_mode::final).direction(asof_direction::nearest).keep_right(keep_px),
                           out);
      },
      make_final_items(58, 20, 2000), 7, 3, 3, "final nearest keeping a struct, after restore");
}

TEST_CASE("asof join: damaged state bytes with valid checksums are a checkpoint_error naming the stage, in bounded time") {
  // Key 77 holds three quotes; its record count follows its key in the state.
  auto saved = [] {
    std::vector<row> rows;
    auto p = pipeline_of(asof_join().emit(emit_mode::eager), rows);
    for (std::int64_t t : {10, 20, 30}) p.push_right(quote{t, 77, t, t + 1});
    return p.checkpoint(3);
  }();
  std::string pattern;
  for (int i = 0; i < 4; ++i) pattern.push_back(static_cast<char>((77U >> (8 * i)) & 0xFFU));
  for (int i = 0; i < 8; ++i) pattern.push_back(static_cast<char>(i == 0 ? 3 : 0));
  const auto with_count = [&](std::uint64_t n) {
    std::vector<state_record> records = saved.records();
    bool patched = false;
    for (state_record& rec : records) {
      const std::size_t at = rec.bytes.find(pattern);
      if (at == std::string::npos) continue;
      for (int i = 0; i < 8; ++i) rec.bytes[at + 4 + static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFFU);
      patched = true;
    }
    REQUIRE(patched);
    snapshot s(saved.checkpoint_id());
    for (state_record& rec : records) s.add(std::move(rec));
    return snapshot::from_bytes(s.to_bytes());  // the checksums are valid
  };
  for (const std::uint64_t n : {std::uint64_t{4}, (std::uint64_t{1} << 31) + 1, std::uint64_t{1} << 40, ~std::uint64_t{0}}) {
    CAPTURE(n);
    std::vector<row> rows;
    auto q = pipeline_of(asof_join().emit(emit_mode::eager), rows);
    try {
      q.restore(with_count(n));
      FAIL("a damaged state restored");
    } catch (const checkpoint_error& e) {
      const std::string what = e.what();
      CHECK(what.find("malformed at offset") != std::string::npos);
    }
  }
}
