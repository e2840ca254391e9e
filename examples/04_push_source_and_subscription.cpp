// 04 · A push source and a subscription. A market-data callback on a feed
// thread pushes quotes into the pipeline; the pipeline publishes mid prices
// into a bounded subscription that the main thread polls. finish() ends the
// stream, and the subscription reports finished once it is drained.
#include <laminar/laminar.hpp>

#include <array>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <string_view>
#include <thread>

struct quote {
  std::string_view symbol;
  double bid, ask;
  std::int64_t ts;  // exchange time, ns since the epoch
};

struct mid {
  std::string_view symbol;
  double price;
};

// Stands in for an exchange feed handler: calls on_quote per update, and
// on_heartbeat (exchange time) every 1000 updates. Every 97th book is crossed.
template <class OnQuote, class OnHeartbeat>
void run_feed(std::int64_t updates, OnQuote on_quote, OnHeartbeat on_heartbeat) {
  constexpr std::array<std::string_view, 3> symbols{"AAPL", "MSFT", "NVDA"};
  constexpr std::array<double, 3> base{180.0, 415.0, 820.0};
  const std::int64_t open = 1'709'303'400'000'000'000;  // 2024-03-01 14:30:00 UTC
  for (std::int64_t i = 0; i < updates; ++i) {
    const auto s = static_cast<std::size_t>(i % 3);
    const double bid = base[s] + static_cast<double>(i % 50) * 0.01;
    on_quote(quote{symbols[s], bid, i % 97 == 0 ? bid - 0.05 : bid + 0.02, open + i * 10'000});
    if (i % 1000 == 999) on_heartbeat(open + i * 10'000);
  }
}

int main() {
  using namespace laminar;
  subscription<mid> mids(1024);  // bounded: the feed thread waits when the reader falls behind
  auto tradable = [](const quote& q) { return q.bid > 0 && q.bid < q.ask; };  // drops crossed books
  auto to_mid = [](const quote& q) { return mid{q.symbol, (q.bid + q.ask) / 2}; };
  auto pipeline = push<quote>() | filter(tradable) | map(to_mid) | publish(mids);

  const std::int64_t updates = 100'000;
  std::thread feed([&] {  // only this thread touches the pipeline
    run_feed(
        updates, [&](const quote& q) { pipeline.push(q); },
        [&](std::int64_t exchange_time) { pipeline.push_watermark(to_timestamp(exchange_time)); });
    pipeline.finish();  // watermark to the end of time, then the subscription ends
  });

  std::int64_t received = 0;
  std::map<std::string_view, double> last_mid;
  while (!mids.finished()) {
    const std::size_t n = mids.poll([&](const mid& m) {
      ++received;
      last_mid[m.symbol] = m.price;
    });
    if (n == 0) std::this_thread::yield();
  }
  feed.join();

  std::cout << std::fixed << std::setprecision(3) << "pushed " << updates << " quotes, received " << received
            << " mids (" << updates - received << " crossed books dropped)\n";
  for (const auto& [symbol, price] : last_mid) std::cout << "  last mid " << symbol << ' ' << price << '\n';
  std::cout << "subscription watermark: " << mids.watermark() << '\n';
}
