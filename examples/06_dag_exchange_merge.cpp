// A small DAG across threads: ticks fan out to two chains (a trade-size
// filter and a price-jump counter), the big trades are exchanged by symbol
// to two parallel per-symbol volume sums, and a merge collects them. Then
// the per-node metrics, as Prometheus text.
#include <laminar/dag.hpp>  // graph, and the core: all this program uses

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <unordered_map>
#include <vector>

using namespace laminar;
using namespace std::chrono_literals;

struct tick {
  std::int64_t ts;
  std::uint32_t symbol;  // dense symbol id
  double price;
  std::int32_t size;
};

struct volume {
  std::uint32_t symbol;
  std::int64_t shares;
};

// Per-symbol running volume, as a plain stateless-looking map stage would be
// written today (keyed windows arrive with the windows layer).
auto running_volume() {
  return map([totals = std::unordered_map<std::uint32_t, std::int64_t>{}](const tick& t) mutable {
    return volume{t.symbol, totals[t.symbol] += t.size};
  });
}

int main() {
  std::vector<tick> ticks;
  std::uint64_t state = 42;
  for (int i = 0; i < 200'000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const auto r = static_cast<std::uint32_t>(state >> 33);
    ticks.push_back({1'700'000'000'000'000'000 + i * 1000, r % 8, 100.0 + (r % 1000) / 100.0,
                     static_cast<std::int32_t>(1 + r % 900)});
  }

  std::vector<volume> volumes;  // written by the one merge instance only
  std::uint64_t jumps = 0;

  graph g(runtime_options{.workers = 2});
  auto src = g.source("ticks", from(ticks) | with_watermarks(&tick::ts, bounded_out_of_orderness(1ms)));
  auto big = g.node("big_trades", src, filter([](const tick& t) { return t.size >= 500; }) | key_by(&tick::symbol));
  g.node("jumps", src, filter([last = 0.0](const tick& t) mutable {
                         const bool jump = last != 0.0 && (t.price > last * 1.05 || t.price < last * 0.95);
                         last = t.price;
                         return jump;
                       }) | count_events(jumps));
  auto sums = g.parallel("volume", big, 2, running_volume());
  g.merge("collect", collect(volumes), sums);
  g.run();

  std::map<std::uint32_t, std::int64_t> final_volume;
  for (const volume& v : volumes) final_volume[v.symbol] = v.shares;
  std::printf("%zu big trades; %llu price jumps > 5%%\n", volumes.size(), static_cast<unsigned long long>(jumps));
  for (const auto& [symbol, shares] : final_volume) std::printf("  symbol %u  volume %lld\n", symbol, static_cast<long long>(shares));

  std::printf("\nper-node metrics:\n");
  for (const auto& m : g.metrics()) {
    std::printf("  %-10s #%zu worker %d  in %8llu  out %8llu  busy %6.2f ms\n", m.node.c_str(), m.instance, m.worker,
                static_cast<unsigned long long>(m.events_in), static_cast<unsigned long long>(m.events_out),
                static_cast<double>(m.busy.nanos()) / 1e6);
  }
  std::printf("\n%s", g.prometheus().substr(0, 400).c_str());
  std::printf("...\n");
}
