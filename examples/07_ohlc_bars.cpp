// 07: one-second OHLC bars per symbol, with volume and VWAP in the same pass.
//
// Trades arrive slightly out of order. A keyed tumbling window turns them
// into bars once the watermark passes each second; a trade that comes too
// late for its bar goes to a side output instead of disappearing. A second,
// cascaded window rolls the one-second bars up into three-second volume.
#include <laminar/laminar.hpp>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

using namespace laminar;
using namespace std::chrono_literals;

struct trade {
  std::int64_t ts;  // event time, ns
  std::uint32_t symbol;
  double price;
  std::int64_t qty;
};

struct bar {
  ohlc_bar<double> prices;
  std::int64_t volume;
  double vwap;
};

int main() {
  const char* names[] = {"AAPL", "MSFT", "NVDA"};
  // Six seconds of trades, every 10 ms, up to 30 ms out of order; and one
  // trade that arrives two seconds late.
  std::vector<trade> trades;
  std::mt19937_64 rng(7);
  double px[] = {180.0, 410.0, 120.0};
  for (std::int64_t t = 30'000'000; t < 6'000'000'000; t += 10'000'000) {
    const auto s = static_cast<std::uint32_t>(rng() % 3);
    px[s] += (static_cast<double>(rng() % 21) - 10.0) * 0.01;
    trades.push_back({t - static_cast<std::int64_t>(rng() % 30'000'000), s, px[s], 1 + static_cast<std::int64_t>(rng() % 500)});
  }
  trades.push_back({1'500'000'000, 0, 999.0, 100});  // far too late: its bar has closed

  side_records<trade> late;
  std::vector<window_row<std::uint32_t, std::int64_t>> rollup;
  auto bars = from(trades) | with_watermarks(&trade::ts, bounded_out_of_orderness(50ms)) | key_by(&trade::symbol) |
              tumbling(1s)
                  .aggregate(aggregates_into<bar>(ohlc(&trade::price), sum(&trade::qty), vwap(&trade::price, &trade::qty)))
                  .late_to(late) |
              tap([&](const window_row<std::uint32_t, bar>& r) {
                std::printf("%s [%lds, %lds)  O %.2f  H %.2f  L %.2f  C %.2f  vol %5ld  vwap %.3f\n", names[r.key],
                            static_cast<long>(r.start.nanos() / 1'000'000'000), static_cast<long>(r.end.nanos() / 1'000'000'000),
                            r.value.prices.open, r.value.prices.high, r.value.prices.low, r.value.prices.close,
                            static_cast<long>(r.value.volume), r.value.vwap);
              }) |
              // A cascaded view: three-second volume per symbol from the one-second bars.
              tumbling(3s).aggregate(sum([](const window_row<std::uint32_t, bar>& r) { return r.value.volume; })) |
              collect(rollup);
  bars.run();

  for (const auto& r : rollup) {
    std::printf("%s [%lds, %lds)  volume %ld\n", names[r.key], static_cast<long>(r.start.nanos() / 1'000'000'000),
                static_cast<long>(r.end.nanos() / 1'000'000'000), static_cast<long>(r.value));
  }
  std::printf("late trades sent to the side output: %lu (price %.2f)\n", static_cast<unsigned long>(late.count()),
              late.records().empty() ? 0.0 : late.records()[0].price);
  return late.count() == 1 ? 0 : 1;
}
