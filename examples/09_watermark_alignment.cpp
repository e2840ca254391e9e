// 09 · Watermark alignment. Two recorded feeds cover the same trading
// second: quotes every 1 ms, trades every 10 ms. Replayed as fast as they
// can be read, the trades feed runs ahead in event time (each record moves
// it 10x as far), and everything downstream must buffer the gap. An
// alignment group keeps the feeds' watermarks within 50 ms: in one thread
// (union_of(...).aligned), across worker threads (aligned(group) on each
// graph source), or by dropping the excess to a side output.
#include <laminar/laminar.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <vector>

using namespace std::chrono_literals;
using namespace laminar;

struct event {
  int feed;         // 0: quotes, 1: trades
  std::int64_t ts;  // ns since the epoch
  template <class Archive>
  void serialize(Archive& ar) {
    ar(feed, ts);
  }
};

constexpr std::int64_t open_ns = 1'709'303'400'000'000'000;  // 2024-03-01 14:30:00 UTC
constexpr std::int64_t ms = 1'000'000;

// A feed of n events `step` apart, with watermarks from its timestamps.
auto feed(int id, std::int64_t step, std::int64_t n) {
  return generate([=, i = std::int64_t{0}]() mutable -> std::optional<event> {
           if (i == n) return std::nullopt;
           return event{id, open_ns + step * ++i};
         }) |
         with_watermarks(&event::ts, monotonous_timestamps());
}

// How far apart the two feeds' latest timestamps got in the merged output.
struct gap_meter {
  std::int64_t latest[2] = {0, 0};
  std::int64_t widest = 0;
  void operator()(const event& e) {
    latest[e.feed] = e.ts;
    if (latest[0] != 0 && latest[1] != 0) widest = std::max(widest, latest[1] - latest[0]);
  }
};

int main() {
  const auto quotes = [] { return feed(0, 1 * ms, 1000); };
  const auto trades = [] { return feed(1, 10 * ms, 100); };

  gap_meter plain;
  (union_of(quotes(), trades()) | sink([&](const event& e) { plain(e); })).run();
  std::cout << "union, not aligned:     trades ran up to " << plain.widest / ms << " ms ahead of quotes\n";

  gap_meter paused;
  auto p = union_of(quotes(), trades()).aligned(50ms, alignment_policy::pause) | sink([&](const event& e) { paused(e); });
  const alignment_group group = p.source().alignment();
  p.run();
  // The bound: 50 ms plus what one record moves a feed (10 ms for trades).
  std::cout << "union, aligned (pause): up to " << paused.widest / ms << " ms ahead; " << group.drift_episodes()
            << " drift episode(s), widest drift " << group.max_drift_seen().nanos() / ms << " ms\n";

  side_records<event> excess;
  std::uint64_t kept = 0;
  auto d = union_of(quotes(), trades()).aligned(alignment_group(50ms, alignment_policy::drop), excess) | count_events(kept);
  d.run();
  std::cout << "union, aligned (drop):  " << kept << " events kept, " << excess.count()
            << " beyond the bound went to the side output\n";

  // Across threads: each feed is its own graph source, on its own worker.
  alignment_group shared(50ms, alignment_policy::pause);
  std::uint64_t merged = 0;
  graph g(runtime_options{.workers = 2, .budget = 16});
  auto q = g.source("quotes", quotes() | aligned(shared));
  auto t = g.source("trades", trades() | aligned(shared));
  g.merge("both", count_events(merged), q, t);
  g.run();
  std::cout << "graph, 2 workers:       " << merged << " events merged, widest drift "
            << shared.max_drift_seen().nanos() / ms << " ms (bound: 50 ms + one record)\n";
}
