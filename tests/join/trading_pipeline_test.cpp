// The trading pipeline of examples/11_trading_pipeline and
// benchmarks/trading_pipeline, end to end: trades ASOF-joined with quotes
// (eager, backward), each trade signed by the quote's mid, one-second OHLC
// bars and signed volume per symbol. Every bar is compared with a plain
// reference model on in-order and out-of-order feeds with 1 to 200
// symbols; a checkpoint at a random point restores into a fresh pipeline
// that continues exactly; steady state allocates nothing per event.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <laminar/laminar.hpp>

#include "support/counting_allocator.hpp"
#include "support/differential.hpp"

using namespace laminar;

namespace {

constexpr std::int64_t second = 1'000'000'000;
constexpr std::int64_t origin = 1'700'000'000'000'000'000;

struct trade {
  std::int64_t ts = 0;
  std::uint32_t symbol = 0;
  std::uint32_t qty = 0;
  std::int64_t px = 0;
  template <class A>
  void serialize(A& ar) {
    ar(ts, symbol, qty, px);
  }
};
struct quote {
  std::int64_t ts = 0;
  std::uint32_t symbol = 0;
  std::int64_t bid = 0;
  std::int64_t ask = 0;
  template <class A>
  void serialize(A& ar) {
    ar(ts, symbol, bid, ask);
  }
};
struct priced_trade {
  std::int64_t ts = 0;
  std::uint32_t symbol = 0;
  std::int64_t px = 0;
  std::int64_t signed_qty = 0;  // > 0 above the mid (bought), < 0 below, 0 at it or with no quote
};
struct bar_value {
  ohlc_bar<std::int64_t> px;
  std::int64_t imbalance = 0;
  friend bool operator==(const bar_value&, const bar_value&) = default;
  friend std::ostream& operator<<(std::ostream& os, const bar_value& b) {
    return os << b.px << " imbalance " << b.imbalance;
  }
  template <class A>
  void serialize(A& ar) {
    ar(px, imbalance);
  }
};
using bar_row = window_row<std::uint32_t, bar_value>;

priced_trade price(const trade& t, const quote* q) {
  std::int64_t signed_qty = 0;
  if (q != nullptr) {
    const double mid = 0.5 * static_cast<double>(q->bid + q->ask);
    const auto px = static_cast<double>(t.px);
    const auto qty = static_cast<std::int64_t>(t.qty);
    signed_qty = px > mid ? qty : (px < mid ? -qty : 0);
  }
  return {t.ts, t.symbol, t.px, signed_qty};
}

// The join: the full one (default), or the benchmark's for a feed in
// order, asof_join().ordered_feed().dense_keys(symbols).
template <class Sink, class Join = asof_join_operator<>>
auto trading_pipeline(Sink sink_factory, Join join = asof_join().emit(emit_mode::eager)) {
  return connect(push<trade>() | event_time(&trade::ts) | key_by(&trade::symbol),
                 push<quote>() | event_time(&quote::ts) | key_by(&quote::symbol)) |
         std::move(join) |
         map([](const asof_row<trade, quote>& r) { return price(r.left, r.right ? &*r.right : nullptr); }) |
         event_time(&priced_trade::ts) | key_by(&priced_trade::symbol) |
         tumbling(std::chrono::seconds(1))
             .aggregate(aggregates_into<bar_value>(ohlc(&priced_trade::px), sum(&priced_trade::signed_qty)))
             .dense_keys() |
         std::move(sink_factory);
}

// One feed event: a trade or a quote, in the order the feed delivers it.
struct feed_event {
  bool is_trade = false;
  trade t;
  quote q;
  [[nodiscard]] std::int64_t ts() const noexcept { return is_trade ? t.ts : q.ts; }
};

// `n` events over `seconds` of event time, 2 quotes per trade; each event's
// time is its slot's plus up to `disorder`, in steps of half a slot (so
// that times tie, and with a disorder of several slots events swap places);
// the watermark trails the highest time by more than that.
struct feed_spec {
  std::uint64_t seed = 1;
  std::uint32_t symbols = 10;
  std::size_t n = 30'000;
  std::int64_t seconds = 3;
  std::int64_t disorder = 0;
};

std::vector<feed_event> make_feed(const feed_spec& s) {
  std::mt19937_64 rng(s.seed);
  const std::int64_t step = s.seconds * second / static_cast<std::int64_t>(s.n);
  std::vector<std::int64_t> mid(s.symbols, 10'000);
  std::vector<feed_event> feed(s.n);
  for (std::size_t i = 0; i < s.n; ++i) {
    feed_event& e = feed[i];
    const auto sym = static_cast<std::uint32_t>(rng() % s.symbols);
    const std::int64_t grain = step / 2;
    const std::int64_t jitter = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(s.disorder / grain + 1)) * grain;
    const std::int64_t ts = origin + static_cast<std::int64_t>(i) * step + jitter;
    e.is_trade = rng() % 3 == 0;
    if (e.is_trade) {
      e.t = {ts, sym, static_cast<std::uint32_t>(1 + rng() % 100), mid[sym] + static_cast<std::int64_t>(rng() % 5) - 2};
    } else {
      mid[sym] += static_cast<std::int64_t>(rng() % 3) - 1;
      const auto half = static_cast<std::int64_t>(1 + rng() % 2);
      e.q = {ts, sym, mid[sym] - half, mid[sym] + half};
    }
  }
  return feed;
}

template <class Pipeline>
void deliver(Pipeline& p, const feed_event& e) {
  if (e.is_trade) {
    p.push_left(e.t);
  } else {
    p.push_right(e.q);
  }
}

// Pushes the events [from, to), and after every 64th both inputs'
// watermarks: the highest time so far minus `bound`.
template <class Pipeline>
void run(Pipeline& p, const std::vector<feed_event>& feed, std::size_t from, std::size_t to, std::int64_t bound) {
  std::int64_t highest = origin;
  for (std::size_t i = 0; i < to; ++i) {
    highest = std::max(highest, feed[i].ts());
    if (i < from) continue;
    deliver(p, feed[i]);
    if (i % 64 == 63) {
      p.push_left_watermark(timestamp::from_nanos(highest - bound));
      p.push_right_watermark(timestamp::from_nanos(highest - bound));
    }
  }
}

// The reference: for each trade, the quote of its symbol with the latest
// time at or before it among those that arrived before it (the last to
// arrive on a tie); bars per (second, symbol) from every trade in them,
// open at the earliest time (the first to arrive on a tie), close at the
// latest (the last to arrive on a tie).
std::vector<bar_row> reference(const std::vector<feed_event>& feed) {
  std::map<std::uint32_t, std::map<std::int64_t, quote>> quotes;
  struct print {
    std::int64_t ts;
    std::int64_t px;
  };
  struct bar_state {
    print open{}, close{};
    bar_value v;
  };
  std::map<std::pair<std::int64_t, std::uint32_t>, bar_state> bars;
  for (const feed_event& e : feed) {
    if (!e.is_trade) {
      quotes[e.q.symbol][e.q.ts] = e.q;  // a later arrival at the same time replaces
      continue;
    }
    const trade& t = e.t;
    const quote* q = nullptr;
    const auto& by_time = quotes[t.symbol];
    auto it = by_time.upper_bound(t.ts);
    if (it != by_time.begin()) q = &std::prev(it)->second;
    const priced_trade p = price(t, q);
    const auto key = std::make_pair(t.ts - t.ts % second, t.symbol);
    const auto found = bars.find(key);
    if (found == bars.end()) {
      bars[key] = {{t.ts, t.px}, {t.ts, t.px}, {{t.px, t.px, t.px, t.px}, p.signed_qty}};
      continue;
    }
    bar_state& b = found->second;
    if (t.ts < b.open.ts) b.open = {t.ts, t.px};
    if (t.ts >= b.close.ts) b.close = {t.ts, t.px};
    b.v.px.high = std::max(b.v.px.high, t.px);
    b.v.px.low = std::min(b.v.px.low, t.px);
    b.v.imbalance += p.signed_qty;
  }
  std::vector<bar_row> out;
  for (auto& [key, b] : bars) {
    b.v.px.open = b.open.px;
    b.v.px.close = b.close.px;
    out.push_back({key.second, timestamp::from_nanos(key.first), timestamp::from_nanos(key.first + second), b.v});
  }
  return out;
}

void by_window_then_symbol(std::vector<bar_row>& rows) {
  std::sort(rows.begin(), rows.end(), [](const bar_row& a, const bar_row& b) {
    return std::tie(a.start, a.key) < std::tie(b.start, b.key);
  });
}

std::string describe(const feed_spec& s) {
  return "seed " + std::to_string(s.seed) + ", " + std::to_string(s.symbols) + " symbols, disorder " +
         std::to_string(s.disorder) + "ns";
}

}  // namespace

TEST_CASE("trading pipeline: every bar equals the reference model on in-order and out-of-order feeds") {
  int cases = 0;
  for (const std::uint64_t seed : {1U, 2U, 3U}) {
    for (const std::uint32_t symbols : {1U, 13U, 200U}) {
      for (const std::int64_t disorder : {std::int64_t{0}, std::int64_t{800'000}}) {  // 0 or 8 slots
        const feed_spec spec{seed, symbols, 30'000, 3, disorder};
        CAPTURE(describe(spec));
        const auto feed = make_feed(spec);
        std::vector<bar_row> rows;
        auto p = trading_pipeline(collect(rows));
        run(p, feed, 0, feed.size(), disorder + 1'000'000);
        p.finish();
        CHECK(p.join().late_count() == 0);
        by_window_then_symbol(rows);
        const auto want = reference(feed);
        CHECK(want.size() >= symbols * 2);  // every symbol trades in most seconds
        test::same_outputs(rows, want, describe(spec));
        if (disorder == 0) {  // the feed is in order: the ordered-feed join gives the same bars
          std::vector<bar_row> ordered;
          auto q = trading_pipeline(collect(ordered), asof_join().ordered_feed().dense_keys(symbols));
          run(q, feed, 0, feed.size(), 1'000'000);
          q.finish();
          CHECK(q.join().out_of_order_count() == 0);
          by_window_then_symbol(ordered);
          test::same_outputs(ordered, want, "ordered feed, " + describe(spec));
        }
        ++cases;
      }
    }
  }
  CHECK(cases == 18);
}

TEST_CASE("trading pipeline: a checkpoint at a random point restores into a fresh pipeline that continues exactly") {
  const feed_spec spec{7, 50, 30'000, 3, 800'000};
  const auto feed = make_feed(spec);
  const std::int64_t bound = spec.disorder + 1'000'000;
  std::vector<bar_row> whole;
  {
    auto p = trading_pipeline(collect(whole));
    run(p, feed, 0, feed.size(), bound);
    p.finish();
  }
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 3; ++trial) {
    const std::size_t cut = rng() % feed.size();
    CAPTURE(cut);
    std::vector<bar_row> rows;
    std::string bytes;
    {
      auto p = trading_pipeline(collect(rows));
      run(p, feed, 0, cut, bound);
      bytes = p.checkpoint(1).to_bytes();
    }
    std::vector<bar_row> rest = rows;  // collect's checkpoint holds only its length
    auto q = trading_pipeline(collect(rest));
    q.restore(snapshot::from_bytes(bytes));
    run(q, feed, cut, feed.size(), bound);
    q.finish();
    test::same_outputs(rest, whole, "after a restore at " + std::to_string(cut));
  }
}

namespace {

// 3 s of event time; the first 1.5 s warm up (keys, buffers, the first
// bars closed), the rest must not allocate, bar emission included.
template <class Join>
void check_steady_state_allocates_nothing(Join join) {
  const feed_spec spec{5, 1000, 600'000, 3, 0};
  const auto feed = make_feed(spec);
  std::uint64_t bars = 0;
  std::int64_t imbalance = 0;
  auto p = trading_pipeline(sink([&](const bar_row& r) {
                              ++bars;
                              imbalance += r.value.imbalance;
                            }),
                            std::move(join));
  std::uint64_t allocations = 0;
  std::uint64_t steady_events = 0;
  for (std::size_t i = 0; i < feed.size(); ++i) {
    const bool steady = feed[i].ts() >= origin + 3 * second / 2;
    const test::allocation_counter counter;
    deliver(p, feed[i]);
    if (i % 64 == 63) {
      p.push_left_watermark(timestamp::from_nanos(feed[i].ts() - 1'000'000));
      p.push_right_watermark(timestamp::from_nanos(feed[i].ts() - 1'000'000));
    }
    if (steady) {
      allocations += counter.count();
      ++steady_events;
    }
  }
  const std::uint64_t bars_before_end = bars;
  p.finish();
  CHECK(steady_events > 250'000);
  CHECK(bars_before_end == 2000);  // the second second's bars closed during the measured part
  CHECK(bars == 3000);
  CHECK(allocations == 0);
  CHECK(imbalance != 0);
}

}  // namespace

TEST_CASE("trading pipeline: 1000 symbols in steady state allocate nothing per event") {
  SUBCASE("full join") { check_steady_state_allocates_nothing(asof_join().emit(emit_mode::eager)); }
  SUBCASE("ordered feed, dense keys") { check_steady_state_allocates_nothing(asof_join().ordered_feed().dense_keys(1000)); }
}
