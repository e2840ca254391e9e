// The trading pipeline, end to end in one thread, timed per event:
//
//   connect(push<trade>() | event_time | key_by(symbol),
//           push<quote>() | event_time | key_by(symbol))
//     | asof_join().ordered_feed().dense_keys(symbols).keep_right(mid)
//                                        (backward, eager: the last quote;
//                                         the feed is in order, so a symbol
//                                         keeps its newest quote only, and of
//                                         it only the mid; symbol ids index
//                                         the key slots)
//     | map(priced trade: the side from the quote's mid)
//     | event_time | key_by(symbol)
//     | tumbling(1 s).aggregate(OHLC of the price, signed volume).dense_keys()
//     | sink(signal: the bar moved by at least 25 ticks open to close, in
//            the direction of its signed volume)
//
// In-memory feed (fixed seed): 1000 symbols, quotes and trades interleaved
// in event-time order as one feed handler delivers them (2 quotes per
// trade), event time advancing 1 us per event (1M events per second of
// event time, ~333 trades per symbol per bar); each input's watermark
// trails it by 1 ms, pushed after every 1024th event. Each quote moves its
// symbol's mid by -1, 0 or +1 tick; a trade prints within 2 ticks of it.
//
// Figures:
//   - latency: each event timed from before its push to the push's return
//     (the watermark pushes after every 1024th event included in that
//     event's time: the feed handler does both) with the fenced cycle
//     counter into a latency histogram; percentiles over the events after
//     the first 2 s of event time (warm-up: the first bars have closed),
//     medians of 3 runs. Every sample includes the timer's own cost,
//     printed beside (trading_pipeline_timer_overhead_ns), and so does the
//     same timing of the hand loop (trading_pipeline_hand_loop_latency_*).
//   - allocations: heap allocations (the counting operator new of
//     support/counting_allocator.hpp)
//     over the same steady-state events, per event;
//   - throughput, untimed: the pipeline against a hand-written loop doing
//     the same job (the last quote's mid per symbol and one OHLC slot per
//     symbol in flat arrays indexed by symbol id, a bar emitted when its
//     symbol's next trade falls in a later second, the same signal rule),
//     medians of 7 interleaved repetitions after a warm-up.
// Every run's bars and signals are checked against the hand loop's (count
// and an order-independent hash of every bar and every signal); a
// difference fails the benchmark.
#include <laminar/laminar.hpp>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <vector>

#include "support/bench.hpp"
#include "support/latency_histogram.hpp"
#include "support/trades.hpp"  // splitmix64, fmix

// A counting global allocator (this file is the binary's one translation
// unit that includes it).
#include "support/counting_allocator.hpp"
using laminar::bench::allocations;

namespace {

namespace lb = laminar::bench;
using lb::fmix;

constexpr std::uint32_t symbols = 1000;
constexpr std::int64_t origin = 1'700'000'000'000'000'000;  // ns since the epoch, on a second
constexpr std::int64_t one_second = 1'000'000'000;
constexpr std::int64_t step_ns = 1'000;          // event time per feed event
constexpr std::int64_t bound_ns = 1'000'000;     // watermark = event time - 1 ms
constexpr std::size_t watermark_every = 1024;    // events per watermark push (a power of two)
constexpr std::int64_t signal_ticks = 25;        // |close - open| that makes a signal
constexpr std::int64_t warmup_ns = 2 * one_second;

// ---- records ----

struct trade {
  std::int64_t ts;
  std::uint32_t symbol;
  std::uint32_t qty;
  std::int64_t px;  // ticks
};
struct quote {
  std::int64_t ts;
  std::uint32_t symbol;
  std::uint32_t unused;
  std::int64_t bid;
  std::int64_t ask;
};
// A trade with its side, decided by the quote in force: above the mid it
// bought (signed_qty > 0), below it sold, at it (or with no quote yet) 0.
struct priced_trade {
  std::int64_t ts;
  std::int64_t px;
  std::int64_t signed_qty;
  std::uint32_t symbol;
};
struct bar_value {
  laminar::ohlc_bar<std::int64_t> px;
  std::int64_t imbalance;  // signed volume
};

// One feed event, 32 bytes, as a feed handler decodes it into its receive
// buffer: a trade or a quote, pushed from where it lies (both contenders
// read the same records). The two share their first fields (time, symbol,
// then a trade's qty > 0 where a quote has 0), which tells them apart:
// reading a union's common initial sequence through either member is
// defined.
union feed_event {
  trade t;
  quote q;
  [[nodiscard]] bool is_trade() const noexcept { return t.qty != 0; }
  [[nodiscard]] std::int64_t ts() const noexcept { return t.ts; }
};
static_assert(sizeof(feed_event) == 32);

std::vector<feed_event> make_feed(std::size_t n) {
  lb::splitmix64 rng{0x7ad1'0e5e'ed00'0005ULL};
  std::vector<std::int64_t> mid(symbols);
  for (std::uint32_t s = 0; s < symbols; ++s) mid[s] = 10'000 + 10 * static_cast<std::int64_t>(s);
  std::vector<feed_event> feed(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t ts = origin + static_cast<std::int64_t>(i) * step_ns;
    const auto symbol = static_cast<std::uint32_t>(rng.next() % symbols);
    std::int64_t& m = mid[symbol];
    if (i % 3 == 2) {
      const auto qty = static_cast<std::uint32_t>(1 + rng.next() % 100);
      feed[i].t = trade{ts, symbol, qty, m + static_cast<std::int64_t>(rng.next() % 5) - 2};
    } else {
      m += static_cast<std::int64_t>(rng.next() % 3) - 1;
      const auto half_spread = static_cast<std::int64_t>(1 + rng.next() % 2);
      feed[i].q = quote{ts, symbol, 0, m - half_spread, m + half_spread};
    }
  }
  return feed;
}

// ---- what a run produced: bars and signals, order-independent ----

struct outcome {
  std::uint64_t bars = 0;
  std::uint64_t bar_hash = 0;
  std::uint64_t signals = 0;
  std::uint64_t signal_hash = 0;

  // The signal rule, shared by every contender.
  void on_bar(std::uint32_t symbol, std::int64_t start, const bar_value& b) noexcept {
    ++bars;
    std::uint64_t h = fmix(std::uint64_t{symbol} + 0x9E3779B97F4A7C15ULL);
    h = fmix(h ^ static_cast<std::uint64_t>(start));
    h = fmix(h ^ static_cast<std::uint64_t>(b.px.open));
    h = fmix(h ^ static_cast<std::uint64_t>(b.px.high));
    h = fmix(h ^ static_cast<std::uint64_t>(b.px.low));
    h = fmix(h ^ static_cast<std::uint64_t>(b.px.close));
    bar_hash += fmix(h ^ static_cast<std::uint64_t>(b.imbalance));
    const std::int64_t move = b.px.close - b.px.open;
    const bool up = move >= signal_ticks && b.imbalance > 0;
    const bool down = move <= -signal_ticks && b.imbalance < 0;
    if (up || down) [[unlikely]] {
      ++signals;
      signal_hash += fmix(h ^ (up ? 1U : 2U));
    }
  }
  friend bool operator==(const outcome&, const outcome&) = default;
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "trading_pipeline: %s\n", what);
  std::exit(1);
}

void check(const char* who, const outcome& want, const outcome& got) {
  if (got == want) return;
  std::fprintf(stderr,
               "trading_pipeline: %s differs from the hand loop:\n"
               "  hand loop: %" PRIu64 " bars (hash %016" PRIx64 "), %" PRIu64 " signals (hash %016" PRIx64 ")\n"
               "  %s: %" PRIu64 " bars (hash %016" PRIx64 "), %" PRIu64 " signals (hash %016" PRIx64 ")\n",
               who, want.bars, want.bar_hash, want.signals, want.signal_hash, who, got.bars, got.bar_hash, got.signals,
               got.signal_hash);
  std::exit(1);
}

// ---- the pipeline ----

constexpr auto trade_ts = laminar::field<&trade::ts>;
constexpr auto trade_symbol = laminar::field<&trade::symbol>;
constexpr auto quote_ts = laminar::field<&quote::ts>;
constexpr auto quote_symbol = laminar::field<&quote::symbol>;
constexpr auto priced_ts = laminar::field<&priced_trade::ts>;
constexpr auto priced_symbol = laminar::field<&priced_trade::symbol>;
constexpr auto priced_px = laminar::field<&priced_trade::px>;
constexpr auto priced_signed_qty = laminar::field<&priced_trade::signed_qty>;

// What the join keeps of a quote: what the map reads, as the hand loop does.
constexpr auto quote_mid = [](const quote& q) noexcept { return 0.5 * static_cast<double>(q.bid + q.ask); };

priced_trade price(const trade& t, const std::optional<double>& mid) noexcept {
  std::int64_t signed_qty = 0;
  if (mid) {
    const auto px = static_cast<double>(t.px);
    const auto qty = static_cast<std::int64_t>(t.qty);
    signed_qty = px > *mid ? qty : (px < *mid ? -qty : 0);
  }
  return {t.ts, t.px, signed_qty, t.symbol};
}

auto make_pipeline(outcome& out) {
  using namespace laminar;
  return connect(push<trade>() | event_time(trade_ts) | key_by(trade_symbol),
                 push<quote>() | event_time(quote_ts) | key_by(quote_symbol)) |
         asof_join().ordered_feed().dense_keys(symbols).keep_right(quote_mid) |
         map([](const asof_row<trade, double>& r) { return price(r.left, r.right); }) |
         event_time(priced_ts) | key_by(priced_symbol) |
         tumbling(std::chrono::seconds(1))
             .aggregate(aggregates_into<bar_value>(ohlc(priced_px), sum(priced_signed_qty)))
             .dense_keys() |
         sink([&out](const auto& row) { out.on_bar(row.key, row.start.nanos(), row.value); });
}

// Pushes one feed event, and after every watermark_every-th (the n-th,
// counting from 1) both inputs' watermarks.
template <class Pipeline>
[[gnu::always_inline]] inline void deliver(Pipeline& p, const feed_event& e, std::size_t n) {
  if (e.is_trade()) {
    p.push_left(e.t);
  } else {
    p.push_right(e.q);
  }
  if ((n & (watermark_every - 1)) == 0) [[unlikely]] {
    const auto w = laminar::timestamp::from_nanos(e.ts() - bound_ns);
    p.push_left_watermark(w);
    p.push_right_watermark(w);
  }
}

[[gnu::noinline]] outcome pipeline_run(const std::vector<feed_event>& feed) {
  outcome out;
  auto p = make_pipeline(out);
  std::size_t n = 0;
  for (const feed_event& e : feed) deliver(p, e, ++n);
  p.finish();
  return out;
}

// ---- the hand-written loop ----

class hand_loop {
 public:
  hand_loop() : mid_(symbols), bars_(symbols) {}

  [[gnu::always_inline]] void on_event(const feed_event& e) {
    if (!e.is_trade()) {
      const quote& q = e.q;
      mid_[q.symbol] = {0.5 * static_cast<double>(q.bid + q.ask), true};
      return;
    }
    const trade& t = e.t;
    const last_mid& q = mid_[t.symbol];
    const auto px = static_cast<double>(t.px);
    const auto qty = static_cast<std::int64_t>(t.qty);
    const std::int64_t signed_qty = q.seen ? (px > q.mid ? qty : (px < q.mid ? -qty : 0)) : 0;
    const std::int64_t start = t.ts - t.ts % one_second;
    slot& s = bars_[t.symbol];
    if (s.start != start) [[unlikely]] {
      if (s.start != no_bar) close(t.symbol, s);
      s = slot{start, bar_value{{t.px, t.px, t.px, t.px}, 0}};
    }
    s.bar.px.high = s.bar.px.high < t.px ? t.px : s.bar.px.high;
    s.bar.px.low = t.px < s.bar.px.low ? t.px : s.bar.px.low;
    s.bar.px.close = t.px;
    s.bar.imbalance += signed_qty;
  }
  void finish() {
    for (std::uint32_t sym = 0; sym < symbols; ++sym) {
      if (bars_[sym].start != no_bar) close(sym, bars_[sym]);
      bars_[sym].start = no_bar;
    }
  }
  [[nodiscard]] const outcome& result() const noexcept { return out_; }

 private:
  static constexpr std::int64_t no_bar = -1;
  struct last_mid {
    double mid = 0;
    bool seen = false;
  };
  struct slot {
    std::int64_t start = no_bar;
    bar_value bar{};
  };
  [[gnu::noinline]] void close(std::uint32_t sym, const slot& s) { out_.on_bar(sym, s.start, s.bar); }

  std::vector<last_mid> mid_;
  std::vector<slot> bars_;
  outcome out_;
};

[[gnu::noinline]] outcome hand_run(const std::vector<feed_event>& feed) {
  hand_loop h;
  for (const feed_event& e : feed) h.on_event(e);
  h.finish();
  return h.result();
}

// ---- per-event latency ----

struct latency_result {
  outcome out;
  std::uint64_t p50 = 0, p99 = 0, p999 = 0, max = 0;
  std::uint64_t steady_events = 0;
  std::uint64_t steady_allocations = 0;
};

// Times every event of the feed (push to return); the histogram and the
// allocation count cover the events after the warm-up.
template <class Run>
latency_result timed(const std::vector<feed_event>& feed, const lb::cycle_timer& timer, Run&& per_event) {
  latency_result r;
  auto h = std::make_unique<lb::latency_histogram>();
  const std::int64_t steady_from = feed.empty() ? 0 : feed.front().ts() + warmup_ns;
  std::uint64_t allocs_before = allocations();
  bool steady = false;
  std::size_t n = 0;
  for (const feed_event& e : feed) {
    if (!steady && e.ts() >= steady_from) {
      steady = true;
      allocs_before = allocations();
    }
    const auto t0 = lb::cycle_timer::start();
    per_event(e, ++n);
    const auto t1 = lb::cycle_timer::stop();
    if (steady) h->record(timer.to_ns_rounded(t1 - t0));
  }
  r.steady_allocations = steady ? allocations() - allocs_before : 0;
  r.steady_events = h->count();
  r.p50 = h->percentile(50.0);
  r.p99 = h->percentile(99.0);
  r.p999 = h->percentile(99.9);
  r.max = h->max();
  return r;
}

[[gnu::noinline]] latency_result pipeline_timed(const std::vector<feed_event>& feed, const lb::cycle_timer& timer) {
  outcome out;
  auto p = make_pipeline(out);
  latency_result r = timed(feed, timer, [&p](const feed_event& e, std::size_t n) { deliver(p, e, n); });
  p.finish();
  r.out = out;
  return r;
}

[[gnu::noinline]] latency_result hand_timed(const std::vector<feed_event>& feed, const lb::cycle_timer& timer) {
  hand_loop h;
  latency_result r = timed(feed, timer, [&h](const feed_event& e, std::size_t) { h.on_event(e); });
  h.finish();
  r.out = h.result();
  return r;
}

double median_of(const std::vector<latency_result>& runs, std::uint64_t latency_result::*field) {
  std::vector<double> v;
  for (const latency_result& r : runs) v.push_back(static_cast<double>(r.*field));
  return lb::median(v);
}

}  // namespace

int main() {
  const std::size_t n = lb::pick<std::size_t>(10'000'000, 3'000'000);
  const std::vector<feed_event> feed = make_feed(n);
  std::printf("# trading pipeline: %zu events (%u symbols, 2 quotes per trade, %.1f s of event time)%s\n", n, symbols,
              static_cast<double>(n) * static_cast<double>(step_ns) * 1e-9, lb::smoke() ? " (smoke run)" : "");

  const outcome want = hand_run(feed);
  std::printf("# %" PRIu64 " bars, %" PRIu64 " signals\n", want.bars, want.signals);
  if (want.bars == 0 || want.signals == 0) fail("the feed makes no bars or no signals: nothing is compared");
  check("the pipeline", want, pipeline_run(feed));  // warm-up and check

  // Per-event latency, with the timer's own cost beside it.
  const lb::cycle_timer timer(lb::pick(std::chrono::milliseconds(20), std::chrono::milliseconds(2)));
  const double cost = lb::timer_cost_ns(timer, lb::pick<std::size_t>(200'000, 2'000));
  const double resolution = lb::timer_resolution_ns(timer, lb::pick<std::size_t>(100'000, 1'000));
  const int latency_reps = lb::pick(3, 1);
  std::vector<latency_result> lam_lat, hand_lat;
  for (int r = 0; r < latency_reps; ++r) {
    lam_lat.push_back(pipeline_timed(feed, timer));
    check("the timed pipeline", want, lam_lat.back().out);
    hand_lat.push_back(hand_timed(feed, timer));
    check("the timed hand loop", want, hand_lat.back().out);
  }

  // Untimed throughput, interleaved.
  const int reps = lb::pick(7, 1);
  std::vector<double> lam, hand;
  for (int r = 0; r < reps; ++r) {
    for (int k = 0; k < 2; ++k) {
      const bool laminar_turn = (r + k) % 2 == 0;
      lb::stopwatch sw;
      const outcome got = laminar_turn ? pipeline_run(feed) : hand_run(feed);
      const double rate = static_cast<double>(n) / sw.elapsed_s();
      check(laminar_turn ? "the pipeline" : "the hand loop (again)", want, got);
      (laminar_turn ? lam : hand).push_back(rate);
    }
  }

  lb::report("trading_pipeline_latency_p50_ns", median_of(lam_lat, &latency_result::p50), "ns", 0);
  lb::report("trading_pipeline_latency_p99_ns", median_of(lam_lat, &latency_result::p99), "ns", 0);
  lb::report("trading_pipeline_latency_p999_ns", median_of(lam_lat, &latency_result::p999), "ns", 0);
  lb::report("trading_pipeline_latency_max_ns", median_of(lam_lat, &latency_result::max), "ns", 0);
  lb::report("trading_pipeline_timer_overhead_ns", cost, "ns", 1);
  lb::report("trading_pipeline_timer_resolution_ns", resolution, "ns", 1);
  lb::report("trading_pipeline_hand_loop_latency_p50_ns", median_of(hand_lat, &latency_result::p50), "ns", 0);
  lb::report("trading_pipeline_hand_loop_latency_p99_ns", median_of(hand_lat, &latency_result::p99), "ns", 0);
  lb::report("trading_pipeline_hand_loop_latency_p999_ns", median_of(hand_lat, &latency_result::p999), "ns", 0);
  // Allocations over the steady-state events of every timed pipeline run.
  std::uint64_t allocs = 0, events = 0;
  for (const latency_result& r : lam_lat) {
    allocs += r.steady_allocations;
    events += r.steady_events;
  }
  lb::report("trading_pipeline_steady_allocations", static_cast<double>(allocs), "allocations", 0);
  lb::report("trading_pipeline_allocations_per_event", events == 0 ? 0.0 : static_cast<double>(allocs) / static_cast<double>(events),
             "allocations/event", 6);
  const double l = lb::median(lam), h = lb::median(hand);
  lb::report("trading_pipeline_events_per_s", l, "events/s", 0);
  lb::report("trading_pipeline_hand_loop_events_per_s", h, "events/s", 0);
  lb::report("trading_pipeline_vs_hand_loop", l / h, "x", 3);
  return 0;
}
