// 02 · Event time and watermarks. Ticks arrive out of order; the watermark
// trails the highest timestamp seen by a 5ms bound, and a tick is late iff its
// timestamp is below the current watermark. One tick carries an absurd
// timestamp (a clock glitch): the future-skew policy lets it through but does
// not let it fast-forward the watermark.
#include <laminar/laminar.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

using namespace std::chrono_literals;

struct tick {
  std::int64_t ts;  // event time: ns since the epoch
  double price;
};

constexpr std::int64_t open_ns = 1'709'303'400'000'000'000;  // 2024-03-01 14:30:00 UTC
constexpr std::int64_t ms = 1'000'000;
constexpr std::int64_t glitch = std::numeric_limits<std::int64_t>::max();

// Event time relative to the open, for printing.
std::string show(laminar::timestamp t) {
  if (t == laminar::timestamp::max()) return "INT64_MAX";
  const std::int64_t d = (t.nanos() - open_ns) / ms;
  return "open" + std::string(d < 0 ? "" : "+") + std::to_string(d) + "ms";
}

int main() {
  using namespace laminar;
  // Arrival order; the offsets are milliseconds after the open, -1 is the glitch.
  std::vector<tick> ticks;
  for (std::int64_t offset : {0, 3, 1, 8, 4, 12, 6, 15, -1, 14, 9, 21, 13})
    ticks.push_back({offset < 0 ? glitch : open_ns + offset * ms, 100.0});

  timestamp watermark = timestamp::min();
  int late = 0;
  auto on_tick = [&](const tick& t) {
    const bool is_late = to_timestamp(t.ts) < watermark;  // late iff ts < current watermark
    late += is_late ? 1 : 0;
    std::cout << "  tick " << show(to_timestamp(t.ts)) << (is_late ? "   LATE" : "")
              << (t.ts == glitch ? "   <- clock glitch: passed on, but the watermark stays" : "") << '\n';
  };
  auto on_watermark = [&](timestamp w) {
    watermark = w;
    std::cout << "watermark -> " << (w == timestamp::max() ? "end of time (stream finished)" : show(w)) << '\n';
  };
  auto strategy = bounded_out_of_orderness(5ms).with_max_future_skew(1min);
  auto pipeline = from(ticks) | with_watermarks(&tick::ts, strategy) | sink(on_tick, on_watermark);
  pipeline.run();

  std::cout << '\n'
            << ticks.size() << " ticks, " << late << " late; held as future-skew suspects (never moved the watermark): "
            << pipeline.source().watermarks().suspects() << '\n';
}
