// ASOF join of trades with quotes (backward, exact matches allowed, eager)
// against the hand-written loop for the same job.
//
// In-memory feed (fixed seed): 1000 symbols, quotes and trades interleaved
// in event-time order as one feed handler delivers them (2 quotes per
// trade), event time advancing 100 ns per event; each input's watermark
// trails it by 1 ms, pushed every 1024 events.
//
// laminar: `connect(push<trade>() | event_time | key_by, push<quote>() |
// event_time | key_by) | asof_join...() | sink`, records pushed in feed
// order, four ways:
//   asof_join_*                  .ordered_feed().dense_keys(symbols): the
//                                hand loop's job (the feed is in order: the
//                                last quote per symbol) and its keying (the
//                                symbol id indexes an array);
//   asof_join_ordered_feed_hashed_*  .ordered_feed(), hashed keys;
//   asof_join_full_hashed_*      asof_join().emit(laminar::emit_mode::eager), the default: each key keeps
//                                its quotes since the watermark, so a trade
//                                that arrives out of order still gets its
//                                exact match; hashed keys;
//   asof_join_full_dense_keys_*  the same with .dense_keys(symbols).
// hand loop: the last quote per symbol in a flat array indexed by symbol
// id, each trade joined with its symbol's entry (what a desk writes when the
// feed is in order). Throughput in events/s (trades + quotes), medians of 7
// interleaved repetitions after a warm-up; the contenders' rows are checked
// against each other by count and a hash of (trade, matched bid).
#include <laminar/laminar.hpp>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "support/bench.hpp"
#include "support/trades.hpp"  // splitmix64, fmix

namespace {

namespace lb = laminar::bench;
using lb::fmix;

constexpr std::uint32_t symbols = 1000;
constexpr std::int64_t step_ns = 100;
constexpr std::int64_t bound_ns = 1'000'000;

struct trade {
  std::int64_t ts;
  std::uint32_t symbol;
  std::uint32_t qty;
  std::int64_t price;
};
struct quote {
  std::int64_t ts;
  std::uint32_t symbol;
  std::uint32_t unused;
  std::int64_t bid;
  std::int64_t ask;
};
// One feed event, 32 bytes, as a feed handler decodes it into its receive
// buffer: a trade or a quote, pushed from where it lies. The two share their
// first fields (time, symbol, then a trade's qty > 0 where a quote has 0),
// which tells them apart: reading a union's common initial sequence through
// either member is defined.
union feed_event {
  trade t;
  quote q;
  [[nodiscard]] bool is_trade() const noexcept { return t.qty != 0; }
};
static_assert(sizeof(feed_event) == 32);

std::vector<feed_event> make_feed(std::size_t n) {
  lb::splitmix64 rng{42};
  std::vector<feed_event> feed(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t ts = 1'000'000'000 + static_cast<std::int64_t>(i) * step_ns;
    const auto sym = static_cast<std::uint32_t>(rng.next() % symbols);
    const auto px = static_cast<std::int64_t>(10'000 + rng.next() % 1000);
    if (i % 3 == 2) {
      feed[i].t = trade{ts, sym, 100, px};
    } else {
      feed[i].q = quote{ts, sym, 0, px - 1, px + 1};
    }
  }
  return feed;
}

struct digest {
  std::uint64_t rows = 0;
  std::uint64_t hash = 0;
  void add(const trade& t, std::int64_t bid) {
    ++rows;
    hash += fmix(static_cast<std::uint64_t>(t.ts) * 31 + static_cast<std::uint64_t>(bid));
  }
  friend bool operator==(const digest&, const digest&) = default;
};

constexpr auto trade_ts = laminar::field<&trade::ts>;
constexpr auto trade_symbol = laminar::field<&trade::symbol>;
constexpr auto quote_ts = laminar::field<&quote::ts>;
constexpr auto quote_symbol = laminar::field<&quote::symbol>;

// A row's matched bid: from the quote, or the bid the join kept of it.
std::int64_t bid_of(const quote& q) { return q.bid; }
std::int64_t bid_of(std::int64_t bid) { return bid; }
constexpr auto quote_bid = laminar::field<&quote::bid>;

template <class Join>
[[gnu::noinline]] digest laminar_asof(const std::vector<feed_event>& feed, Join join) {
  digest d;
  auto p = laminar::connect(laminar::push<trade>() | laminar::event_time(trade_ts) | laminar::key_by(trade_symbol),
                            laminar::push<quote>() | laminar::event_time(quote_ts) | laminar::key_by(quote_symbol)) |
           std::move(join) | laminar::sink([&d](const auto& r) { d.add(r.left, r.right ? bid_of(*r.right) : -1); });
  std::size_t i = 0;
  for (const feed_event& e : feed) {
    if (e.is_trade()) {
      p.push_left(e.t);
    } else {
      p.push_right(e.q);
    }
    if ((++i & 1023) == 0) {
      const auto w = laminar::timestamp::from_nanos(e.t.ts - bound_ns);  // the common initial sequence
      p.push_left_watermark(w);
      p.push_right_watermark(w);
    }
  }
  p.finish();
  return d;
}

[[gnu::noinline]] digest hand_asof(const std::vector<feed_event>& feed) {
  digest d;
  struct last_quote {
    std::int64_t bid = -1;
    bool seen = false;
  };
  std::vector<last_quote> last(symbols);
  for (const feed_event& e : feed) {
    if (e.is_trade()) {
      const last_quote& q = last[e.t.symbol];
      d.add(e.t, q.seen ? q.bid : -1);
    } else {
      last[e.q.symbol] = {e.q.bid, true};
    }
  }
  return d;
}

}  // namespace

int main() {
  const std::size_t n = lb::pick<std::size_t>(10'000'000, 200'000);
  const auto feed = make_feed(n);
  const int reps = lb::pick(7, 1);
  std::printf("# asof join: %zu events (%u symbols, 2 quotes per trade)%s\n", n, symbols,
              lb::smoke() ? " (smoke run)" : "");
  // The contenders, as in the header; the last is the hand loop.
  const auto run = [&feed](int which) {
    using laminar::asof_join;
    switch (which) {
      case 0: return laminar_asof(feed, asof_join().ordered_feed().dense_keys(symbols).keep_right(quote_bid));
      case 1: return laminar_asof(feed, asof_join().ordered_feed().dense_keys(symbols));
      case 2: return laminar_asof(feed, asof_join().ordered_feed());
      case 3: return laminar_asof(feed, asof_join().emit(laminar::emit_mode::eager));
      case 4: return laminar_asof(feed, asof_join().emit(laminar::emit_mode::eager).dense_keys(symbols));
      case 5: return laminar_asof(feed, asof_join().emit(laminar::emit_mode::eager).dense_keys(symbols).keep_right(quote_bid));
      default: return hand_asof(feed);
    }
  };
  const digest want = hand_asof(feed);
  constexpr std::string_view names[] = {"laminar, ordered feed, dense keys, keep_right(bid)",
                                        "laminar, ordered feed, dense keys, whole quote",
                                        "laminar, ordered feed, hashed keys",
                                        "laminar, full join, hashed keys",
                                        "laminar, full join, dense keys",
                                        "laminar, full join, dense keys, keep_right(bid)",
                                        "hand loop"};
  const auto rates = lb::interleaved_rates("asof join", names, n, reps, want, [&run](std::size_t i) {
    return run(static_cast<int>(i));
  });
  if (!rates) return 1;
  const double hand = rates->back();
  const auto report = [&](const char* name, std::size_t i) {
    lb::report(std::string(name) + "_events_per_s", (*rates)[i], "events/s", 0);
    if (i == 0) lb::report("asof_join_hand_loop_events_per_s", hand, "events/s", 0);
    lb::report(std::string(name) + "_vs_hand_loop", (*rates)[i] / hand, "x", 3);
  };
  report("asof_join", 0);
  report("asof_join_whole_quote", 1);
  report("asof_join_ordered_feed_hashed", 2);
  report("asof_join_full_hashed", 3);
  report("asof_join_full_dense_keys", 4);
  report("asof_join_full_dense_keys_kept_bid", 5);
  return 0;
}
