// Interval join of orders with fills (inner; a fill matches an order of the
// same symbol when it is 0..200 us after it) against the hand-written loop
// for the same job.
//
// In-memory feed (fixed seed): 1000 symbols, orders and fills interleaved in
// event-time order as one feed handler delivers them, event time advancing
// 100 ns per event (so a symbol sees an order about every 200 us and each
// order about one fill in range); each input's watermark trails it by 1 ms,
// pushed every 1024 events.
//
// laminar: `connect(push<order>() | event_time | key_by, push<fill>() |
// event_time | key_by) | interval_join(0, 200us) | sink`, records pushed in
// feed order, with hashed keys (the default) and with .dense_keys(symbols)
// (the symbol id indexes an array of key slots, as in the hand loop). hand loop: per symbol, the orders of the last 200 us in a
// flat array of small rings indexed by symbol id; each fill scans its
// symbol's ring (what a desk writes when the feed is in order: it evicts by
// the fill's own time, needing no watermark). Throughput in events/s
// (orders + fills), medians of 7 interleaved repetitions after a warm-up
// (support/bench.hpp: interleaved_rates); every run's rows are checked
// against the hand loop's by count and a hash of (order, fill).
#include <laminar/laminar.hpp>

#include <cstdint>
#include <cstdio>
#include <string_view>
#include <utility>
#include <vector>

#include "support/bench.hpp"
#include "support/trades.hpp"  // splitmix64, fmix

namespace {

namespace lb = laminar::bench;
using lb::fmix;

constexpr std::uint32_t symbols = 1000;
constexpr std::int64_t step_ns = 100;
constexpr std::int64_t upper_ns = 200'000;
constexpr std::int64_t bound_ns = 1'000'000;

struct order {
  std::int64_t ts;
  std::uint32_t symbol;
  std::uint32_t qty;
  std::int64_t id;
};
struct fill {
  std::int64_t ts;
  std::uint32_t symbol;
  std::uint32_t qty;
  std::int64_t price;
};
struct feed_event {
  bool is_order;
  order o;
  fill f;
};

std::vector<feed_event> make_feed(std::size_t n) {
  lb::splitmix64 rng{7};
  std::vector<feed_event> feed;
  feed.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t ts = 1'000'000'000 + static_cast<std::int64_t>(i) * step_ns;
    const auto sym = static_cast<std::uint32_t>(rng.next() % symbols);
    if (rng.next() % 2 == 0) {
      feed.push_back({true, order{ts, sym, 100, static_cast<std::int64_t>(i)}, {}});
    } else {
      feed.push_back({false, {}, fill{ts, sym, 100, static_cast<std::int64_t>(10'000 + rng.next() % 1000)}});
    }
  }
  return feed;
}

struct digest {
  std::uint64_t rows = 0;
  std::uint64_t hash = 0;
  void add(const order& o, const fill& f) {
    ++rows;
    hash += fmix(static_cast<std::uint64_t>(o.id) * 31 + static_cast<std::uint64_t>(f.ts));
  }
  friend bool operator==(const digest&, const digest&) = default;
};

constexpr auto order_ts = laminar::field<&order::ts>;
constexpr auto order_symbol = laminar::field<&order::symbol>;
constexpr auto fill_ts = laminar::field<&fill::ts>;
constexpr auto fill_symbol = laminar::field<&fill::symbol>;

template <class Join>
[[gnu::noinline]] digest laminar_interval(const std::vector<feed_event>& feed, Join join) {
  digest d;
  auto p = laminar::connect(laminar::push<order>() | laminar::event_time(order_ts) | laminar::key_by(order_symbol),
                            laminar::push<fill>() | laminar::event_time(fill_ts) | laminar::key_by(fill_symbol)) |
           std::move(join) | laminar::sink([&d](const laminar::interval_row<order, fill>& r) { d.add(*r.left, *r.right); });
  std::size_t i = 0;
  for (const feed_event& e : feed) {
    if (e.is_order) {
      p.push_left(e.o);
    } else {
      p.push_right(e.f);
    }
    if ((++i & 1023) == 0) {
      const auto w = laminar::timestamp::from_nanos((e.is_order ? e.o.ts : e.f.ts) - bound_ns);
      p.push_left_watermark(w);
      p.push_right_watermark(w);
    }
  }
  p.finish();
  return d;
}

[[gnu::noinline]] digest hand_interval(const std::vector<feed_event>& feed) {
  digest d;
  // Per symbol, a ring of its recent orders (a power of two comfortably
  // above the orders one symbol sees in 200 us).
  constexpr std::size_t ring = 16;
  struct recent {
    std::uint32_t head = 0;  // oldest
    std::uint32_t size = 0;
    order items[ring];
  };
  std::vector<recent> by_symbol(symbols);
  for (const feed_event& e : feed) {
    if (e.is_order) {
      recent& r = by_symbol[e.o.symbol];
      // A fill matches only orders before it (the feed's times are
      // distinct), so fills are not kept.
      if (r.size == ring) {
        r.head = (r.head + 1) % ring;
        --r.size;
      }
      r.items[(r.head + r.size) % ring] = e.o;
      ++r.size;
    } else {
      recent& r = by_symbol[e.f.symbol];
      while (r.size > 0 && r.items[r.head].ts + upper_ns < e.f.ts) {
        r.head = (r.head + 1) % ring;
        --r.size;
      }
      for (std::uint32_t k = 0; k < r.size; ++k) d.add(r.items[(r.head + k) % ring], e.f);
    }
  }
  return d;
}

}  // namespace

int main() {
  const std::size_t n = lb::pick<std::size_t>(10'000'000, 200'000);
  const auto feed = make_feed(n);
  const int reps = lb::pick(7, 1);
  std::printf("# interval join: %zu events (%u symbols, fills 0..200us after orders)%s\n", n, symbols,
              lb::smoke() ? " (smoke run)" : "");
  const auto join = [] { return laminar::interval_join(laminar::duration::zero(), laminar::duration::from_nanos(upper_ns)); };
  // The contenders: 0 hashed keys, 1 dense keys, 2 the hand loop.
  const auto run = [&](std::size_t which) {
    switch (which) {
      case 0: return laminar_interval(feed, join());
      case 1: return laminar_interval(feed, join().dense_keys(symbols));
      default: return hand_interval(feed);
    }
  };
  const digest want = hand_interval(feed);
  constexpr std::string_view names[] = {"laminar, hashed keys", "laminar, dense keys", "hand loop"};
  const auto rates = lb::interleaved_rates("interval join", names, n, reps, want, run);
  if (!rates) return 1;
  const double hashed = (*rates)[0], dense = (*rates)[1], hand = (*rates)[2];
  std::printf("# %llu rows\n", static_cast<unsigned long long>(want.rows));
  lb::report("interval_join_events_per_s", hashed, "events/s", 0);
  lb::report("interval_join_dense_keys_events_per_s", dense, "events/s", 0);
  lb::report("interval_join_hand_loop_events_per_s", hand, "events/s", 0);
  lb::report("interval_join_vs_hand_loop", hashed / hand, "x", 3);
  lb::report("interval_join_dense_keys_vs_hand_loop", dense / hand, "x", 3);
  return 0;
}
