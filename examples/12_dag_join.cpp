// 12 · A join inside a DAG: trades and quotes come from two sources, and an
// ASOF join with 2 instances gives each trade its symbol's last quote. Both
// streams are keyed by symbol, so the graph exchanges them by that key: all
// records of one symbol, from either side, meet in the same instance. A sink
// after a merge prints the first rows and counts them all.
#include <laminar/dag.hpp>    // graph, and the core
#include <laminar/joins.hpp>  // asof_join()

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

using namespace laminar;
using namespace std::chrono_literals;

struct trade {
  std::int64_t ts;  // event time, ns
  std::uint32_t symbol;
  std::int64_t px;  // cents
  // A join instance saves the records it has read ahead in a checkpoint,
  // so the input types of a join in a graph say how to serialize them.
  template <class A>
  void serialize(A& ar) {
    ar(ts, symbol, px);
  }
};
struct quote {
  std::int64_t ts;
  std::uint32_t symbol;
  std::int64_t bid, ask;  // cents
  template <class A>
  void serialize(A& ar) {
    ar(ts, symbol, bid, ask);
  }
};

int main() {
  // 100 ms of a feed over 8 symbols: a quote every 10 us, and every third
  // quote followed 5 us later by a trade of its symbol at its mid.
  constexpr std::int64_t open_ns = 1'709'303'400'000'000'000;
  std::vector<quote> quotes;
  std::vector<trade> trades;
  for (std::int64_t i = 0; i < 10'000; ++i) {
    const std::int64_t ts = open_ns + i * 10'000;
    const auto symbol = static_cast<std::uint32_t>(i % 8);
    const std::int64_t mid = 10'000 + 100 * symbol + (i / 7) % 20;
    quotes.push_back({ts, symbol, mid - 1, mid + 1});
    if (i % 3 == 2) trades.push_back({ts + 5'000, symbol, mid});
  }

  graph g(runtime_options{.workers = 2});
  // Each source: event time with a 1 ms bound, then the key the join exchanges by.
  auto t = g.source("trades",
                    from(trades) | with_watermarks(&trade::ts, bounded_out_of_orderness(1ms)) | key_by(&trade::symbol));
  auto q = g.source("quotes",
                    from(quotes) | with_watermarks(&quote::ts, bounded_out_of_orderness(1ms)) | key_by(&quote::symbol));
  // Two instances of the join. Each reads its inputs in the order of their
  // watermarks, as connect() would in one thread. The final emit holds a
  // trade until the quotes' watermark has passed it, so its match is the
  // last quote before it in event time (eager would join each trade at once
  // with the quotes that reached the instance before it).
  auto rows = g.join("asof", t, q, 2, asof_join().emit(emit_mode::final));

  // One instance reads both join instances: the sink needs no lock.
  std::uint64_t count = 0;
  std::uint64_t unmatched = 0;
  g.merge("print", sink([&](const asof_row<trade, quote>& r) {
            if (!r.right) {
              ++unmatched;  // a trade before its symbol's first quote
            } else if (count - unmatched < 5) {
              std::printf("trade  sym %u  t+%6lld ns  px %lld   quote t+%6lld ns  bid %lld ask %lld\n", r.left.symbol,
                          static_cast<long long>(r.left.ts - open_ns), static_cast<long long>(r.left.px),
                          static_cast<long long>(r.right->ts - open_ns), static_cast<long long>(r.right->bid),
                          static_cast<long long>(r.right->ask));
            }
            ++count;
          }),
          rows);
  g.run();

  std::printf("%llu trades joined (%llu before their symbol's first quote)\n", static_cast<unsigned long long>(count),
              static_cast<unsigned long long>(unmatched));
  for (const auto& m : g.metrics()) {
    if (m.node == "asof") {
      std::printf("  asof#%zu  in %llu  out %llu\n", m.instance, static_cast<unsigned long long>(m.events_in),
                  static_cast<unsigned long long>(m.events_out));
    }
  }
  return count == trades.size() ? 0 : 1;
}
