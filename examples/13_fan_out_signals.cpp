// 13: several signals from one trade feed, in one pass and one thread.
//
// fan_out sends every trade into each branch, one inlined call per branch:
//   - "vwap":   per-symbol VWAP on one-second tumbling windows;
//   - "alerts": two kinds of alert that meet again in a fan_in, so that one
//               sink prints both: a volume spike (a single trade of at least
//               2000 shares) as soon as it arrives, and a wide bar (a symbol
//               whose one-second high-low range is over 0.4% of its low)
//               once the watermark closes its second;
//   - a count of trades.
// The watermark, the checkpoint barrier and the end reach every branch. A
// checkpoint halfway shows each branch's state under its own id.
#include <laminar/laminar.hpp>

#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

using namespace laminar;
using namespace std::chrono_literals;

struct trade {
  std::int64_t ts;  // event time, ns
  std::uint32_t symbol;
  double price;
  std::int64_t qty;
};

struct alert {
  std::int64_t ts;
  std::uint32_t symbol;
  const char* what;
  double value;
};

const char* const names[] = {"AAPL", "MSFT", "NVDA"};

double seconds(timestamp t) { return static_cast<double>(t.nanos()) / 1e9; }

int main() {
  // Six seconds of trades, every 5 ms, up to 20 ms out of order; about one
  // in 150 is a block trade.
  std::vector<trade> trades;
  std::mt19937_64 rng(13);
  double px[] = {180.0, 410.0, 120.0};
  for (std::int64_t t = 20'000'000; t < 6'000'000'000; t += 5'000'000) {
    const auto s = static_cast<std::uint32_t>(rng() % 3);
    px[s] *= 1.0 + (static_cast<double>(rng() % 21) - 10.0) * 0.00003;
    const std::int64_t qty = rng() % 150 == 0 ? 2000 + static_cast<std::int64_t>(rng() % 3000) : 1 + static_cast<std::int64_t>(rng() % 300);
    trades.push_back({t - static_cast<std::int64_t>(rng() % 20'000'000), s, px[s], qty});
  }

  using vwap_row = window_row<std::uint32_t, double>;
  using bar_row = window_row<std::uint32_t, ohlc_bar<double>>;
  std::uint64_t count = 0, vwaps = 0, alerts = 0;

  auto signals =
      from(trades) | with_watermarks(&trade::ts, bounded_out_of_orderness(50ms)) |
      fan_out(branch("vwap", key_by(&trade::symbol) | tumbling(1s).aggregate(vwap(&trade::price, &trade::qty)) |
                                 sink([&](const vwap_row& r) {
                                   ++vwaps;
                                   std::printf("vwap   %s [%.0fs, %.0fs)  %.3f\n", names[r.key], seconds(r.start),
                                               seconds(r.end), r.value);
                                 })),
              branch("alerts",
                     fan_in(filter([](const trade& t) { return t.qty >= 2000; }) |
                                map([](const trade& t) { return alert{t.ts, t.symbol, "volume spike", static_cast<double>(t.qty)}; }),
                            key_by(&trade::symbol) | tumbling(1s).aggregate(ohlc(&trade::price)) |
                                filter([](const bar_row& b) { return b.value.high - b.value.low > 0.004 * b.value.low; }) |
                                map([](const bar_row& b) {
                                  return alert{b.end.nanos() - 1, b.key, "wide bar, range", b.value.high - b.value.low};
                                })) |
                         sink([&](const alert& a) {
                           ++alerts;
                           std::printf("ALERT  %s at %.3fs: %s %.2f\n", names[a.symbol], static_cast<double>(a.ts) / 1e9,
                                       a.what, a.value);
                         })),
              count_events(count));

  // Halfway, a checkpoint: every branch saves its state under its own id.
  signals.run_for(trades.size() / 2);
  const snapshot half = signals.checkpoint(1);
  std::printf("checkpoint 1 after %lu trades holds:", static_cast<unsigned long>(count));
  for (const state_record& r : half.records()) std::printf(" %s", r.id.c_str());
  std::printf("\n");
  signals.run();  // the rest, then the end: every window closes

  std::printf("%lu trades, %lu VWAP rows, %lu alerts\n", static_cast<unsigned long>(count),
              static_cast<unsigned long>(vwaps), static_cast<unsigned long>(alerts));
  return count == trades.size() && vwaps == 18 && alerts > 0 ? 0 : 1;
}
