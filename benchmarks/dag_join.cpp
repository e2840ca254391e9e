// ASOF join of trades with quotes inside a graph (`g.join`), with 1, 2 and 4
// join instances, against the same join with `connect` in one thread.
//
// In-memory feed (fixed seed): 1000 symbols, 2 quotes per trade, event time
// advancing 100 ns per event, trades and quotes as two in-order vectors.
// Both contenders pull them with `from(v) | with_watermarks(ts, bounded
// 1 ms) | key_by(symbol)`: a watermark follows every record (each advances
// it), so a graph's channels carry one watermark per record too.
//
// baseline: `connect(trades, quotes) | asof_join().emit(laminar::emit_mode::eager) | digest sink`, run().
// graph:    two source nodes, `g.join("asof", trades, quotes, n, asof_join().emit(laminar::emit_mode::eager)
//           | digest sink)`, both inputs exchanged by symbol; 2 workers
//           (runtime_options default edges and budget). Each instance reads
//           its channels in the order of their watermarks, as connect does.
//           Includes starting and joining the worker threads.
//
// This machine has 2 cores: with 1 instance the two sources and the join
// share 2 workers; with 2 instances each worker runs one instance and one
// source; 4 instances are oversubscribed (two per worker), so that figure
// shows what the extra instances cost, not what 4 cores would give.
//
// Throughput in events/s (trades + quotes), medians of 5 interleaved
// repetitions after a warm-up; every contender's rows are checked against
// the baseline's by count and an order-free hash of (trade, matched bid).
#include <laminar/laminar.hpp>

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "support/bench.hpp"
#include "support/trades.hpp"  // splitmix64, fmix

namespace {

namespace lb = laminar::bench;
using lb::fmix;
using namespace std::chrono_literals;

constexpr std::uint32_t symbols = 1000;
constexpr std::int64_t step_ns = 100;
// The contenders: 0 the single-thread baseline, then 1, 2 and 4 join instances.
constexpr int contenders = 4;
constexpr std::size_t instances_of[contenders] = {0, 1, 2, 4};

struct trade {
  std::int64_t ts;
  std::uint32_t symbol;
  std::uint32_t qty;
  std::int64_t price;
  template <class A>
  void serialize(A& ar) {  // a join instance's checkpoint holds what it read ahead
    ar(ts, symbol, qty, price);
  }
};
struct quote {
  std::int64_t ts;
  std::uint32_t symbol;
  std::uint32_t unused;
  std::int64_t bid;
  std::int64_t ask;
  template <class A>
  void serialize(A& ar) {
    ar(ts, symbol, unused, bid, ask);
  }
};
using row = laminar::asof_row<trade, quote>;

struct feed {
  std::vector<trade> trades;
  std::vector<quote> quotes;
};

feed make_feed(std::size_t n) {
  lb::splitmix64 rng{42};
  feed f;
  f.trades.reserve(n / 3 + 1);
  f.quotes.reserve(2 * n / 3 + 1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t ts = 1'000'000'000 + static_cast<std::int64_t>(i) * step_ns;
    const auto sym = static_cast<std::uint32_t>(rng.next() % symbols);
    const auto px = static_cast<std::int64_t>(10'000 + rng.next() % 1000);
    if (i % 3 == 2) {
      f.trades.push_back(trade{ts, sym, 100, px});
    } else {
      f.quotes.push_back(quote{ts, sym, 0, px - 1, px + 1});
    }
  }
  return f;
}

struct digest {
  std::uint64_t rows = 0;
  std::uint64_t hash = 0;
  void add(const row& r) {
    ++rows;
    hash += fmix(static_cast<std::uint64_t>(r.left.ts) * 31 + static_cast<std::uint64_t>(r.right ? r.right->bid : -1));
  }
  friend bool operator==(const digest&, const digest&) = default;
};

// A sink that digests its instance's rows in place and adds them to the
// shared total at the end: one lock per instance, none per row.
struct total {
  std::mutex mu;
  digest d;
};
struct digest_sink : laminar::consuming_stage {
  explicit digest_sink(total* t) : into(t) {}
  total* into;
  digest d{};
  void on_event(const row& r) { d.add(r); }
  void on_end() {
    std::lock_guard<std::mutex> lock(into->mu);
    into->d.rows += d.rows;
    into->d.hash += d.hash;
  }
};
struct digest_into {
  using is_sink = void;
  total* into;
  template <class Ctx>
  digest_sink bind(const Ctx&) && {
    return digest_sink(into);
  }
};

auto trades_in(const feed& f) {
  return laminar::from(f.trades) |
         laminar::with_watermarks(&trade::ts, laminar::bounded_out_of_orderness(1ms)) |
         laminar::key_by(&trade::symbol);
}
auto quotes_in(const feed& f) {
  return laminar::from(f.quotes) |
         laminar::with_watermarks(&quote::ts, laminar::bounded_out_of_orderness(1ms)) |
         laminar::key_by(&quote::symbol);
}

[[gnu::noinline]] digest single_thread(const feed& f) {
  total t;
  auto p = laminar::connect(trades_in(f), quotes_in(f)) | laminar::asof_join().emit(laminar::emit_mode::eager) | digest_into{&t};
  p.run();
  return t.d;
}

[[gnu::noinline]] digest in_graph(const feed& f, std::size_t instances) {
  total t;
  laminar::graph g(laminar::runtime_options{.workers = 2});
  auto trades = g.source("trades", trades_in(f));
  auto quotes = g.source("quotes", quotes_in(f));
  g.join("asof", trades, quotes, instances, laminar::asof_join().emit(laminar::emit_mode::eager) | digest_into{&t});
  g.run();
  return t.d;
}

}  // namespace

int main() {
  const std::size_t n = lb::pick<std::size_t>(6'000'000, 150'000);
  const feed f = make_feed(n);
  const int reps = lb::pick(5, 1);
  std::printf("# asof join in a graph: %zu events (%u symbols, 2 quotes per trade), 2 workers%s\n", n, symbols,
              lb::smoke() ? " (smoke run)" : "");
  const auto run = [&f](int which) {
    return which == 0 ? single_thread(f) : in_graph(f, instances_of[which]);
  };
  const digest want = single_thread(f);
  if (want.rows != f.trades.size()) {
    std::fprintf(stderr, "dag_join: the baseline gave %llu rows for %zu trades\n",
                 static_cast<unsigned long long>(want.rows), f.trades.size());
    return 1;
  }
  // Warm-up and check, then medians of interleaved repetitions (who goes
  // first rotates).
  const std::string_view names[] = {"single thread", "1 instance", "2 instances", "4 instances"};
  const auto rates = lb::interleaved_rates("dag_join", std::span<const std::string_view>(names), n, reps, want,
                                           [&run](std::size_t which) { return run(static_cast<int>(which)); });
  if (!rates) return 1;
  const double base = (*rates)[0];
  lb::report("dag_join_single_thread_events_per_s", base, "events/s", 0);
  const char* const suffixes[] = {"", "1_instance", "2_instances", "4_instances"};
  char name[96];
  for (int which = 1; which < contenders; ++which) {
    std::snprintf(name, sizeof name, "dag_join_events_per_s_%s", suffixes[which]);
    lb::report(name, (*rates)[static_cast<std::size_t>(which)], "events/s", 0);
  }
  for (int which = 1; which < contenders; ++which) {
    std::snprintf(name, sizeof name, "dag_join_vs_single_thread_%zu", instances_of[which]);
    lb::report(name, (*rates)[static_cast<std::size_t>(which)] / base, "x", 3);
  }
  return 0;
}
