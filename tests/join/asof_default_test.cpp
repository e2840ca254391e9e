// The ASOF join as a new user first writes it: connect(from(trades)...,
// from(quotes)...) | asof_join() on pulled vectors, compared row by row
// with a brute-force pandas merge_asof on ordered and on bounded
// out-of-order inputs; and the join at hostile timestamps: INT64_MAX
// watermarks that are not the end of input, distances past INT64_MAX, and
// a silent left input with a live right one.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <laminar/laminar.hpp>

using namespace laminar;

namespace {

constexpr std::int64_t ms = 1'000'000;

struct trade {
  std::int64_t ts = 0;
  std::uint32_t sym = 0;
  std::int64_t id = 0;
  template <class A>
  void serialize(A& ar) {
    ar(ts, sym, id);
  }
};
struct quote {
  std::int64_t ts = 0;
  std::uint32_t sym = 0;
  std::int64_t bid = 0;
  template <class A>
  void serialize(A& ar) {
    ar(ts, sym, bid);
  }
};
using row = asof_row<trade, quote>;

// pandas merge_asof(trades, quotes, on=ts, by=sym), backward, exact matches
// allowed: the quote with the latest time at or before the trade's; of
// several at that time, the last in the (time-sorted, stable) quote table.
std::optional<std::int64_t> merge_asof(const trade& t, const std::vector<quote>& quotes) {
  std::optional<quote> best;
  for (const quote& q : quotes) {
    if (q.sym == t.sym && q.ts <= t.ts && (!best || q.ts >= best->ts)) best = q;
  }
  return best ? std::optional<std::int64_t>(best->bid) : std::nullopt;
}

// A feed: trades and quotes on `symbols` symbols over time, each stream in
// time order, with equal times common (ties between streams and within).
struct feed {
  std::vector<trade> trades;
  std::vector<quote> quotes;
};
feed make_feed(std::uint64_t seed, std::size_t trades, std::uint32_t symbols) {
  std::mt19937_64 rng(seed);
  feed f;
  std::int64_t t = 0;
  std::int64_t id = 0;
  while (f.trades.size() < trades) {
    t += static_cast<std::int64_t>(rng() % 3) * ms;
    const auto sym = static_cast<std::uint32_t>(rng() % symbols);
    if (rng() % 3 == 0) {
      f.trades.push_back({t, sym, id++});
    } else {
      f.quotes.push_back({t, sym, static_cast<std::int64_t>(rng() % 100000)});
    }
  }
  return f;
}

// Swaps records within `bound` of each other's time: out of order by at
// most `bound`, which bounded_out_of_orderness(bound) allows.
template <class T>
std::vector<T> disorder(std::vector<T> v, std::int64_t bound, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (std::size_t i = 1; i < v.size(); ++i) {
    std::size_t j = i;
    while (j > 0 && v[i].ts - v[j - 1].ts <= bound && rng() % 2 == 0) --j;
    std::rotate(v.begin() + static_cast<std::ptrdiff_t>(j), v.begin() + static_cast<std::ptrdiff_t>(i),
                v.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  }
  return v;
}

// Every trade's row against merge_asof on the time-sorted tables (a trade's
// row is found by its id: final emission orders rows by event time).
void check_rows(const std::vector<row>& rows, const feed& sorted, std::size_t& differences) {
  REQUIRE(rows.size() == sorted.trades.size());
  std::vector<const row*> by_id(rows.size(), nullptr);
  for (const row& r : rows) by_id[static_cast<std::size_t>(r.left.id)] = &r;
  for (const trade& t : sorted.trades) {
    const row* r = by_id[static_cast<std::size_t>(t.id)];
    REQUIRE(r != nullptr);
    const auto expected = merge_asof(t, sorted.quotes);
    const auto got = r->right ? std::optional<std::int64_t>(r->right->bid) : std::nullopt;
    if (got != expected) ++differences;
  }
}

}  // namespace

TEST_CASE("asof_join default: the docs' pulled pipeline gives merge_asof's answer on ordered vectors") {
  // The first snippet of docs/joins.md, on two ordered vectors, at the
  // out-of-orderness bounds a user picks: 0, 1 and 10 ms.
  for (std::int64_t bound : {std::int64_t{0}, 1 * ms, 10 * ms}) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      CAPTURE(bound);
      CAPTURE(seed);
      const feed f = make_feed(seed, 5000, 4);
      std::vector<row> rows;
      auto p = connect(from(f.trades) | with_watermarks(&trade::ts, bounded_out_of_orderness(duration::from_nanos(bound))) |
                           key_by(&trade::sym),
                       from(f.quotes) | with_watermarks(&quote::ts, bounded_out_of_orderness(duration::from_nanos(bound))) |
                           key_by(&quote::sym)) |
               asof_join() | collect(rows);
      p.run();
      std::size_t differences = 0;
      check_rows(rows, f, differences);
      CHECK(differences == 0);
      CHECK(p.join().late_count() == 0);
    }
  }
}

TEST_CASE("asof_join default: bounded out-of-order inputs give merge_asof's answer") {
  for (std::int64_t bound : {1 * ms, 4 * ms}) {
    for (std::uint64_t seed = 11; seed <= 13; ++seed) {
      CAPTURE(bound);
      CAPTURE(seed);
      const feed f = make_feed(seed, 3000, 5);
      const auto trades = disorder(f.trades, bound, seed * 3);
      const auto quotes = disorder(f.quotes, bound, seed * 5);
      std::vector<row> rows;
      auto p = connect(from(trades) | with_watermarks(&trade::ts, bounded_out_of_orderness(duration::from_nanos(bound))) |
                           key_by(&trade::sym),
                       from(quotes) | with_watermarks(&quote::ts, bounded_out_of_orderness(duration::from_nanos(bound))) |
                           key_by(&quote::sym)) |
               asof_join() | collect(rows);
      p.run();
      // Equal times among a symbol's quotes: merge_asof takes the last in
      // its sorted table, the join the last to arrive; give them one bid.
      feed sorted = f;
      std::size_t differences = 0;
      for (std::size_t i = 1; i < sorted.quotes.size(); ++i) {
        for (std::size_t j = i; j-- > 0 && sorted.quotes[j].ts == sorted.quotes[i].ts;) {
          if (sorted.quotes[j].sym == sorted.quotes[i].sym) sorted.quotes[j].bid = sorted.quotes[i].bid;
        }
      }
      std::vector<row> fixed = rows;
      for (row& r : fixed) {
        if (!r.right) continue;
        for (const quote& q : sorted.quotes) {
          if (q.sym == r.right->sym && q.ts == r.right->ts) r.right->bid = q.bid;
        }
      }
      check_rows(fixed, sorted, differences);
      CHECK(differences == 0);
      CHECK(p.join().late_count() == 0);
    }
  }
}

TEST_CASE("asof_join eager: joins on arrival, and says so when a pulled quote comes after its trade") {
  // Eager is the latency opt-in: on two pulled inputs it joins a trade
  // before quotes of earlier time have been read, so some rows differ.
  const feed f = make_feed(7, 3000, 4);
  std::vector<row> rows;
  auto p = connect(from(f.trades) | with_watermarks(&trade::ts, monotonous_timestamps()) | key_by(&trade::sym),
                   from(f.quotes) | with_watermarks(&quote::ts, monotonous_timestamps()) | key_by(&quote::sym)) |
           asof_join().emit(emit_mode::eager) | collect(rows);
  p.run();
  std::size_t differences = 0;
  check_rows(rows, f, differences);
  CHECK(differences > 0);
  // One time-merged feed, pushed in order: eager is exact.
  std::vector<row> merged;
  auto q = connect(push<trade>() | event_time(&trade::ts) | key_by(&trade::sym),
                   push<quote>() | event_time(&quote::ts) | key_by(&quote::sym)) |
           asof_join().emit(emit_mode::eager) | collect(merged);
  std::size_t ti = 0, qi = 0;
  while (ti < f.trades.size() || qi < f.quotes.size()) {
    if (qi < f.quotes.size() && (ti == f.trades.size() || f.quotes[qi].ts <= f.trades[ti].ts)) {
      q.push_right(f.quotes[qi++]);
    } else {
      q.push_left(f.trades[ti++]);
    }
  }
  q.finish();
  differences = 0;
  check_rows(merged, f, differences);
  CHECK(differences == 0);
}

TEST_CASE("asof_join final: a watermark at timestamp::max() is not the end of input") {
  constexpr std::int64_t end = std::numeric_limits<std::int64_t>::max();
  for (auto direction : {asof_direction::backward, asof_direction::nearest, asof_direction::forward}) {
    CAPTURE(std::string(to_string(direction)));
    std::vector<row> rows;
    auto p = connect(push<trade>() | with_watermarks(&trade::ts, monotonous_timestamps().with_max_future_skew(duration::max())) |
                         key_by(&trade::sym),
                     push<quote>() | with_watermarks(&quote::ts, monotonous_timestamps().with_max_future_skew(duration::max())) |
                         key_by(&quote::sym)) |
             asof_join().direction(direction) | collect(rows);
    p.push_right(quote{end - 10, 1, 1});
    p.push_left(trade{end, 1, 0});   // the left watermark reaches timestamp::max()
    p.push_right(quote{end - 5, 1, 2});
    p.push_right(quote{end, 1, 3});  // so does the right one: a quote at INT64_MAX can still come
    // Backward and nearest: the last quote at INT64_MAX is the answer, not
    // exact until the right input ends. Forward: the first one is, exact now.
    const bool forward = direction == asof_direction::forward;
    CHECK(rows.size() == (forward ? 1U : 0U));
    p.push_right(quote{end, 1, 4});
    p.finish();
    REQUIRE(rows.size() == 1);
    REQUIRE(rows[0].right.has_value());
    CHECK(rows[0].right->bid == (forward ? 3 : 4));
  }
}

TEST_CASE("asof_join: distances past INT64_MAX pick the nearer quote and apply the tolerance exactly") {
  constexpr std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  const auto run = [](auto join, const std::vector<quote>& quotes, const trade& t) {
    std::vector<row> rows;
    auto p = connect(push<trade>() | event_time(&trade::ts) | key_by(&trade::sym),
                     push<quote>() | event_time(&quote::ts) | key_by(&quote::sym)) |
             std::move(join) | collect(rows);
    for (const quote& q : quotes) p.push_right(q);
    p.push_left(t);
    p.finish();
    REQUIRE(rows.size() == 1);
    return rows[0].right ? std::optional<std::int64_t>(rows[0].right->bid) : std::nullopt;
  };
  // The trade at 0: the quote before it is 2^63 away, the one after it
  // 2^63 - 1; saturated, both read INT64_MAX. The later quote is nearer.
  const std::vector<quote> far{{lo, 1, 10}, {hi, 1, 20}};
  CHECK(run(asof_join().direction(asof_direction::nearest), far, trade{0, 1, 0}) == 20);
  CHECK(run(asof_join().direction(asof_direction::nearest), far, trade{-1, 1, 0}) == 10);
  // A tolerance of INT64_MAX: the backward quote 2^63 away is out of it,
  // the forward one 2^63 - 1 away is in it.
  const duration widest = duration::max();
  CHECK(run(asof_join().tolerance(widest), far, trade{0, 1, 0}) == std::nullopt);
  CHECK(run(asof_join().direction(asof_direction::forward).tolerance(widest), far, trade{0, 1, 0}) == 20);
  CHECK(run(asof_join().emit(emit_mode::eager).direction(asof_direction::nearest).tolerance(widest), far,
            trade{0, 1, 0}) == 20);
  CHECK(run(asof_join().ordered_feed().tolerance(widest), {{lo, 1, 10}}, trade{hi, 1, 0}) == std::nullopt);
}

TEST_CASE("asof_join: max_held bounds the right side when the left input is silent") {
  std::vector<row> rows;
  side_records<quote> dropped;
  side_records<trade> late;
  auto p = connect(push<trade>() | with_watermarks(&trade::ts, monotonous_timestamps()) | key_by(&trade::sym),
                   push<quote>() | with_watermarks(&quote::ts, monotonous_timestamps()) | key_by(&quote::sym)) |
           asof_join().max_held(1000).overflow_right_to(dropped).late_to(late) | collect(rows);
  p.push_left(trade{0, 0, 0});  // the left input moves once, then falls silent
  constexpr std::int64_t quotes = 200'000;
  for (std::int64_t i = 1; i <= quotes; ++i) {
    p.push_right(quote{i, static_cast<std::uint32_t>(i % 8), i});
    REQUIRE(p.join().right_held() <= 1000);
  }
  // Nothing is lost: every quote is held or was given to the side output.
  CHECK(p.join().right_held() + dropped.count() == static_cast<std::uint64_t>(quotes));
  // The first trade was held (a source's first watermark comes with its
  // second record) and left early, joined, when room was made: counted too.
  CHECK(p.join().overflow_count() == dropped.count() + 1);
  CHECK(p.join().left_held() == 0);
  CHECK(dropped.count() > 0);
  // A trade behind what was dropped is late, not joined with a wrong quote;
  // a trade after it gets its exact match.
  p.push_left(trade{10, 3, 1});
  p.push_left(trade{quotes, 3, 2});
  p.finish();
  CHECK(late.count() == 1);
  bool matched = false;
  for (const row& r : rows) {
    if (r.left.id != 2) continue;
    REQUIRE(r.right.has_value());
    CHECK(r.right->ts == quotes - (quotes % 8 + 5) % 8);  // the last sym-3 quote at or before the trade
    matched = true;
  }
  CHECK(matched);
  CHECK_THROWS_AS((void)asof_join().max_held(0), usage_error);
  // A window's emit mode is refused where it is written, naming the two.
  CHECK_THROWS_WITH_AS((void)asof_join().emit(emit_mode::on_close), doctest::Contains("final (exact, the default) or eager"),
                       usage_error);
}

TEST_CASE("one word per idea: late_count, overflow_count, max_held and dense_keys(n) on every operator that has them") {
  // The interval join counts late records of both inputs in late_count().
  std::vector<interval_row<trade, quote>> rows;
  auto p = connect(push<trade>() | event_time(&trade::ts) | key_by(&trade::sym),
                   push<quote>() | event_time(&quote::ts) | key_by(&quote::sym)) |
           interval_join(duration::from_nanos(-1), duration::from_nanos(1)).max_held(10) | collect(rows);
  p.push_left_watermark(timestamp::from_nanos(100));
  p.push_right_watermark(timestamp::from_nanos(100));
  p.push_left(trade{5, 1, 0});
  p.push_right(quote{5, 1, 0});
  p.finish();
  CHECK(p.join().late_left_count() == 1);
  CHECK(p.join().late_right_count() == 1);
  CHECK(p.join().late_count() == 2);
  CHECK(p.join().overflow_count() == 0);
  // A window's dense_keys(n) refuses keys at or past n, as the joins' do.
  std::vector<window_row<std::uint32_t, std::int64_t>> out;
  auto w = push<trade>() | event_time(&trade::ts) | key_by(&trade::sym) |
           tumbling(duration::from_nanos(10)).aggregate(count()).dense_keys(4) | collect(out);
  w.push(trade{1, 3, 0});
  CHECK_THROWS_WITH_AS(w.push(trade{2, 4, 0}), doctest::Contains("dense_keys(4): key 4 is not below 4"), usage_error);
  CHECK_THROWS_AS((void)tumbling(duration::from_nanos(10)).aggregate(count()).dense_keys(0), usage_error);
}

namespace {
struct account {};
struct symbol {};
}  // namespace

TEST_CASE("strong keys: key_by<tag> keys join, window and index dense tables as their integers do") {
  // Symbol-tagged keys on both sides join as the plain integers would.
  const feed f = make_feed(21, 800, 6);
  const auto run = [&](auto trades_keyed, auto quotes_keyed, auto join) {
    std::vector<row> rows;
    auto p = connect(from(f.trades) | with_watermarks(&trade::ts, monotonous_timestamps()) | std::move(trades_keyed),
                     from(f.quotes) | with_watermarks(&quote::ts, monotonous_timestamps()) | std::move(quotes_keyed)) |
             std::move(join) | collect(rows);
    p.run();
    return rows;
  };
  const auto plain = run(key_by(&trade::sym), key_by(&quote::sym), asof_join());
  const auto tagged = run(key_by<symbol>(&trade::sym), key_by<symbol>(&quote::sym), asof_join());
  const auto dense = run(key_by<symbol>(&trade::sym), key_by<symbol>(&quote::sym), asof_join().dense_keys(6));
  REQUIRE(plain.size() == tagged.size());
  REQUIRE(plain.size() == dense.size());
  for (std::size_t i = 0; i < plain.size(); ++i) {
    CHECK(plain[i].left.id == tagged[i].left.id);
    CHECK(plain[i].right.has_value() == tagged[i].right.has_value());
    CHECK(plain[i].left.id == dense[i].left.id);
    if (plain[i].right && tagged[i].right && dense[i].right) {
      CHECK(plain[i].right->bid == tagged[i].right->bid);
      CHECK(plain[i].right->bid == dense[i].right->bid);
    }
  }
  // A window keyed by a tagged key reports it as such; dense keys check it.
  std::vector<window_row<tagged_key<account, std::uint32_t>, std::int64_t>> counts;
  auto w = from(f.trades) | with_watermarks(&trade::ts, monotonous_timestamps()) | key_by<account>(&trade::sym) |
           tumbling(duration::from_nanos(10 * ms)).aggregate(count()).dense_keys(6) | collect(counts);
  w.run();
  std::int64_t total = 0;
  for (const auto& r : counts) {
    CHECK(r.key.value < 6);
    total += r.value;
  }
  CHECK(total == static_cast<std::int64_t>(f.trades.size()));
  CHECK(std::hash<tagged_key<account, std::uint32_t>>{}({5}) == std::hash<std::uint32_t>{}(5));
  CHECK(key_group_of(tagged_key<account, std::uint32_t>{5}, 128) == key_group_of(std::uint32_t{5}, 128));
}
