// A feed handler's thread pushes ticks into a running graph: the graph's
// workers assign event time, exchange by symbol and keep a one-second VWAP
// per symbol, while the feed thread only pushes. A full feed holds the feed
// thread back (backpressure); close() ends the stream and the graph drains.
#include <laminar/dag.hpp>
#include <laminar/windows.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

using namespace laminar;
using namespace std::chrono_literals;

struct tick {
  std::int64_t ts;  // exchange time, ns
  std::uint32_t symbol;
  std::int64_t price;  // in ticks of 0.01
  std::int64_t size;
};

int main() {
  push_feed<tick> feed(4096);  // the feed thread waits while 4096 ticks are unread

  std::mutex mu;
  std::map<std::uint32_t, std::size_t> bars_per_symbol;
  std::int64_t shares = 0;

  graph g(runtime_options{.workers = 2});
  auto ticks = g.source("feed", feed.source() | with_watermarks(&tick::ts, bounded_out_of_orderness(2ms)) |
                                    key_by(&tick::symbol));
  auto bars = g.parallel("vwap", ticks, 2,
                         tumbling(1s).aggregate(aggregates(sum(&tick::size), count())));
  g.merge("out", sink([&](const auto& row) {
            std::lock_guard<std::mutex> lock(mu);
            ++bars_per_symbol[row.key];
            shares += std::get<0>(row.value);
          }),
          bars);
  g.start();

  // The feed handler: 8 symbols, a tick every 50 µs of exchange time, 10 s.
  std::thread handler([&feed] {
    std::uint64_t state = 7;
    for (std::int64_t i = 0; i < 200'000; ++i) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const auto symbol = static_cast<std::uint32_t>(state >> 61);
      const std::int64_t jitter = static_cast<std::int64_t>((state >> 20) % 1'000'000);  // up to 1 ms late
      feed.push(tick{1'700'000'000'000'000'000 + i * 50'000 - jitter, symbol, 10'000 + static_cast<std::int64_t>(state % 50), 100});
    }
    feed.close();  // the end: the last windows fire, the graph ends
  });
  handler.join();
  g.wait();

  std::printf("%zu symbols; bars:", bars_per_symbol.size());
  for (const auto& [symbol, n] : bars_per_symbol) std::printf(" %u:%zu", symbol, n);
  std::printf("\nshares in bars: %lld (pushed %lld)\n", static_cast<long long>(shares), 200'000LL * 100);
  return shares == 200'000LL * 100 ? 0 : 1;
}
