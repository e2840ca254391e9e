// 11 · The trading pipeline: trades and quotes from one feed handler, each
// trade joined with its symbol's last quote (ASOF, backward), signed by the
// quote's mid (above it a buyer lifted the offer, below it a seller hit the
// bid), rolled into one-second OHLC bars with signed volume per symbol, and
// a signal when a bar moved at least 50 cents in the direction its volume
// pushed. Every push is timed: the latency percentiles at the end are what
// one event costs, from the feed handler's push to its return, in-thread.
// It includes the two feature headers it uses rather than laminar.hpp: they
// compile faster.
#include <laminar/joins.hpp>    // connect(), asof_join(), and the core
#include <laminar/windows.hpp>  // tumbling(), the aggregates

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

using namespace laminar;
using namespace std::chrono_literals;

struct trade {
  std::int64_t ts;  // event time, ns
  std::uint32_t symbol;
  std::uint32_t qty;
  std::int64_t px;  // cents
};
struct quote {
  std::int64_t ts;
  std::uint32_t symbol;
  std::int64_t bid, ask;  // cents
};
struct priced_trade {
  std::int64_t ts;
  std::uint32_t symbol;
  std::int64_t px;
  std::int64_t signed_qty;  // +qty above the mid, -qty below, 0 at it or before the first quote
};
struct bar {
  ohlc_bar<std::int64_t> px;
  std::int64_t imbalance;  // signed volume
};
struct signal {
  std::uint32_t symbol;
  std::int64_t second;
  std::int64_t move;  // cents, close - open
  std::int64_t imbalance;
};

constexpr std::array<const char*, 8> names{"AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "JPM"};
constexpr std::int64_t open_ns = 1'709'303'400'000'000'000;  // 2024-03-01 14:30:00 UTC
constexpr std::int64_t threshold = 50;                       // cents

// One feed event: a trade or a quote, in the order the feed handler delivers them.
struct feed_event {
  bool is_trade;
  trade t;
  quote q;
};

// Five seconds of a feed, an event every 25 us: two quotes per trade, each
// quote moving its symbol's mid by a cent or not, trades within 2 cents of it.
std::vector<feed_event> make_feed() {
  std::array<std::int64_t, names.size()> mid{17950, 41520, 82280, 17810, 14210, 49030, 20240, 18350};
  std::mt19937_64 rng(11);
  std::vector<feed_event> feed;
  for (std::int64_t i = 0; i < 200'000; ++i) {
    const std::int64_t ts = open_ns + i * 25'000;
    const auto s = static_cast<std::uint32_t>(rng() % names.size());
    if (i % 3 == 2) {
      const auto px = mid[s] + static_cast<std::int64_t>(rng() % 5) - 2;
      feed.push_back({true, {ts, s, static_cast<std::uint32_t>(1 + rng() % 10) * 100, px}, {}});
    } else {
      mid[s] += static_cast<std::int64_t>(rng() % 3) - 1;
      feed.push_back({false, {}, {ts, s, mid[s] - 1, mid[s] + 1}});
    }
  }
  return feed;
}

double dollars(std::int64_t cents) { return static_cast<double>(cents) / 100.0; }

int main() {
  const std::vector<feed_event> feed = make_feed();
  // The sink keeps what it gets in buffers sized up front, and the program
  // prints them at the end: no I/O or allocation inside the timed pushes.
  std::vector<window_row<std::uint32_t, bar>> bars;
  std::vector<signal> signals;
  bars.reserve(1000);
  signals.reserve(1000);

  // Each input's watermark trails its latest event by 1 ms and is passed on
  // once every 256 of its events rather than after each one: one-second bars
  // need no finer watermarks, and each one is a message through the join and
  // the window.
  const auto watermarks = bounded_out_of_orderness(1ms).with_emit_every(256);
  auto p = connect(push<trade>() | with_watermarks(&trade::ts, watermarks) | key_by(&trade::symbol),
                   push<quote>() | with_watermarks(&quote::ts, watermarks) | key_by(&quote::symbol)) |
           // The last quote at or before the trade, as it arrived: no added
           // latency. The feed handler delivers in time order, so a symbol
           // keeps its last quote only; a trade out of order would go to the
           // late side output, counted, never joined with a later quote.
           // Of a quote the join keeps what the map reads: twice its mid.
           asof_join()
                   .ordered_feed()
                   .dense_keys(names.size())
                   .keep_right([](const quote& q) { return q.bid + q.ask; }) |
           map([](const asof_row<trade, std::int64_t>& r) {
             std::int64_t side = 0;
             if (r.right) {
               const std::int64_t twice_mid = *r.right;
               side = 2 * r.left.px > twice_mid ? 1 : (2 * r.left.px < twice_mid ? -1 : 0);
             }
             return priced_trade{r.left.ts, r.left.symbol, r.left.px, side * static_cast<std::int64_t>(r.left.qty)};
           }) |
           event_time(&priced_trade::ts) | key_by(&priced_trade::symbol) |
           tumbling(1s)
               .aggregate(aggregates_into<bar>(ohlc(&priced_trade::px), sum(&priced_trade::signed_qty)))
               .dense_keys() |  // symbol ids index an array
           sink([&](const window_row<std::uint32_t, bar>& r) {
             bars.push_back(r);
             const std::int64_t move = r.value.px.close - r.value.px.open;
             if ((move >= threshold && r.value.imbalance > 0) || (move <= -threshold && r.value.imbalance < 0)) {
               signals.push_back({r.key, (r.start.nanos() - open_ns) / 1'000'000'000, move, r.value.imbalance});
             }
           });

  // The feed handler: push each event, timing it from push to return.
  using clock = std::chrono::steady_clock;
  std::vector<std::int64_t> latency_ns;
  latency_ns.reserve(feed.size());
  for (std::size_t i = 0; i < feed.size(); ++i) {
    const feed_event& e = feed[i];
    const auto t0 = clock::now();
    if (e.is_trade) {
      p.push_left(e.t);
    } else {
      p.push_right(e.q);
    }
    const auto t1 = clock::now();
    latency_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  }
  p.finish();  // the last second's bars
  const std::uint64_t out_of_order = p.join().out_of_order_count();

  std::sort(bars.begin(), bars.end(), [](const auto& a, const auto& b) {
    return a.start != b.start ? a.start < b.start : a.key < b.key;
  });
  std::printf("one-second bars (AAPL and NVDA; %zu bars for %zu symbols in all):\n", bars.size(), names.size());
  for (const auto& r : bars) {
    if (r.key != 0 && r.key != 2) continue;
    const bar& b = r.value;
    std::printf("  %-4s second %ld  O %7.2f  H %7.2f  L %7.2f  C %7.2f  signed volume %+7ld\n", names[r.key],
                static_cast<long>((r.start.nanos() - open_ns) / 1'000'000'000), dollars(b.px.open), dollars(b.px.high),
                dollars(b.px.low), dollars(b.px.close), static_cast<long>(b.imbalance));
  }
  std::printf("signals (a bar moved >= $%.2f the way its signed volume pushed):\n", dollars(threshold));
  for (const signal& s : signals) {
    std::printf("  %-4s second %ld  %s  move %+.2f  signed volume %+ld\n", names[s.symbol], static_cast<long>(s.second),
                s.move > 0 ? "BUY " : "SELL", dollars(s.move), static_cast<long>(s.imbalance));
  }

  // Percentiles of the per-event latency; each sample includes the clock's
  // own cost (two reads), measured the same way with nothing between.
  std::vector<std::int64_t> clock_cost(100'000);
  for (auto& c : clock_cost) {
    const auto t0 = clock::now();
    const auto t1 = clock::now();
    c = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  }
  const auto percentile = [](std::vector<std::int64_t>& v, double q) {
    const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return static_cast<long>(v[k]);
  };
  const long p50 = percentile(latency_ns, 0.50), p99 = percentile(latency_ns, 0.99);
  const long p999 = percentile(latency_ns, 0.999);
  std::printf("per-event latency over %zu events, push to return: p50 %ld ns  p99 %ld ns  p999 %ld ns\n",
              latency_ns.size(), p50, p99, p999);
  std::printf("(each sample includes the clock's own cost, %ld ns median)\n", percentile(clock_cost, 0.5));
  std::printf("trades out of order for the join: %llu\n", static_cast<unsigned long long>(out_of_order));
  return bars.size() == 40 && !signals.empty() && out_of_order == 0 ? 0 : 1;
}
