// 01 · Quickstart: one fused pipeline over generated market ticks. Ticks get
// event time and watermarks, odd lots are dropped, each tick becomes a trade,
// the first few are logged, and the sink keeps a per-symbol count/volume/VWAP.
#include <laminar/laminar.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;

struct tick {
  std::string_view symbol;
  double price;
  std::int64_t size;  // shares
  std::int64_t ts;    // event time: nanoseconds since the epoch
};

struct trade {
  std::string_view symbol;
  std::int64_t size;
  double notional;
};

constexpr std::int64_t market_open = 1'709'303'400'000'000'000;  // 2024-03-01 14:30:00 UTC, in ns

// Deterministic pseudo-random ticks: a random walk per symbol, one tick
// every 100us from the open, each up to 1ms late (out of order).
std::vector<tick> make_ticks(std::int64_t n, std::uint64_t seed) {
  constexpr std::array<std::string_view, 3> symbols{"AAPL", "MSFT", "NVDA"};
  std::array<double, 3> price{179.50, 415.20, 822.80};
  std::mt19937_64 rng(seed);
  auto next = [&rng](std::int64_t below) {
    return static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(below));
  };
  std::vector<tick> out;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto s = static_cast<std::size_t>(next(3));
    price[s] *= 1.0 + static_cast<double>(next(201) - 100) * 1e-5;  // +-0.1%
    out.push_back({symbols[s], price[s], (1 + next(20)) * 25, market_open + i * 100'000 - next(1'000'000)});
  }
  return out;
}

// A summary row per symbol, kept by the sink.
struct summary {
  std::int64_t trades = 0, volume = 0;
  double notional = 0;
  void add(const trade& t) { ++trades, volume += t.size, notional += t.notional; }
};

void print_trade(const trade& t) {
  std::cout << "trade " << t.symbol << std::setw(5) << t.size << "  notional " << std::setw(10) << t.notional << '\n';
}

int main() {
  using namespace laminar;
  const std::vector<tick> ticks = make_ticks(10'000, 42);
  std::map<std::string_view, summary> book;
  timestamp last_watermark = timestamp::min();
  int logged = 0;
  std::cout << std::fixed << std::setprecision(2);

  // clang-format off
  // [quickstart]
  auto pipeline = from(ticks)
      | with_watermarks(&tick::ts, bounded_out_of_orderness(1ms))
      | filter([](const tick& t) { return t.size >= 100; })  // round lots only
      | map([](const tick& t) { return trade{t.symbol, t.size, t.price * static_cast<double>(t.size)}; })
      | tap([&](const trade& t) { if (logged++ < 3) print_trade(t); })
      | sink([&](const trade& t) { book[t.symbol].add(t); },
             [&](timestamp wm) { if (wm < timestamp::max()) last_watermark = wm; });
  pipeline.run();  // every tick, then the end of stream: watermark max, then on_end()
  // [quickstart-end]
  // clang-format on

  std::cout << "\nsymbol  trades   volume      VWAP\n";
  for (const auto& [symbol, s] : book) {
    std::cout << std::left << std::setw(6) << symbol << std::right << std::setw(8) << s.trades << std::setw(9)
              << s.volume << std::setw(10) << s.notional / static_cast<double>(s.volume) << '\n';
  }
  std::cout << '\n'
            << ticks.size() << " ticks in; last watermark before the end: open + "
            << (last_watermark - timestamp::from_nanos(market_open)).nanos() / 1000 << "us\n";
}
