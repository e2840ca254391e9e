// 10: keyed watermarks: a venue whose feed lags does not hold back, or lose,
// the others' bars.
//
// Two venues send trades: XNAS is live, XLON's feed runs 3 s behind. The
// stream watermark must stay behind the slowest venue, or XLON's trades
// would all be late, so with it alone XNAS's 1-second bars wait 3 s too.
// With .keyed_watermarks(100ms) each venue also has its own watermark (its
// latest trade minus 100 ms): XNAS's bars close as soon as its own trades
// have moved past them, XLON's on its own pace, and nothing is late.
#include <laminar/laminar.hpp>

#include <cstdint>
#include <cstdio>
#include <vector>

using namespace laminar;
using namespace std::chrono_literals;

struct trade {
  std::int64_t ts;  // event time, ns
  std::uint32_t venue;
  std::int64_t qty;
};

int main() {
  constexpr std::int64_t ms = 1'000'000;
  constexpr std::uint32_t xnas = 0, xlon = 1;
  const char* names[] = {"XNAS", "XLON"};
  std::vector<trade> trades;
  for (std::int64_t t = 0; t < 6000; t += 250) {
    trades.push_back({3000 * ms + t * ms, xnas, 100});  // live
    trades.push_back({t * ms, xlon, 10});              // 3 s behind
  }

  // The stream watermark stays behind the slowest venue (3.5 s).
  auto run = [&](bool keyed) {
    std::printf("%s:\n", keyed ? "with keyed watermarks" : "stream watermark only");
    int seen = 0;  // trades read so far: when each bar leaves
    const auto count_trade = [&seen](const trade&) { ++seen; };
    auto window = tumbling(1s).aggregate(sum(&trade::qty));
    auto print = [&](const window_row<std::uint32_t, std::int64_t>& r) {
      std::printf("  after trade %2d: %s [%lds, %lds) volume %ld\n", seen, names[r.key],
                  static_cast<long>(r.start.nanos() / 1000 / ms), static_cast<long>(r.end.nanos() / 1000 / ms),
                  static_cast<long>(r.value));
    };
    side_records<trade> late;
    std::uint64_t late_count = 0;
    if (keyed) {
      auto p = from(trades) | with_watermarks(&trade::ts, bounded_out_of_orderness(3500ms)) | tap(count_trade) |
               key_by(&trade::venue) | window.keyed_watermarks(100ms).late_to(late) | sink(print);
      p.run();
      late_count = late.count();
    } else {
      auto p = from(trades) | with_watermarks(&trade::ts, bounded_out_of_orderness(3500ms)) | tap(count_trade) |
               key_by(&trade::venue) | window.late_to(late) | sink(print);
      p.run();
      late_count = late.count();
    }
    std::printf("  late trades: %lu\n", static_cast<unsigned long>(late_count));
    return late_count;
  };
  // Both runs give the same bars. Stream watermark only, XNAS's [3s, 4s)
  // bar leaves after trade 37, when the stream watermark (held 3.5 s back)
  // passes 4 s; with keyed watermarks after trade 11, the first XNAS trade
  // past 4.1 s.
  const auto plain_late = run(false);
  const auto keyed_late = run(true);
  return plain_late == 0 && keyed_late == 0 ? 0 : 1;
}
