#include <doctest/doctest.h>

#include <laminar/laminar.hpp>
#include <vector>

using namespace laminar;

TEST_CASE("sink(f) calls f per record, sink(f, g) also calls g per watermark") {
  std::vector<int> in{4, 5};
  std::vector<int> seen;
  std::vector<timestamp> wms;
  auto p = from(in) | with_watermarks([](int x) { return std::int64_t{x}; }, monotonous_timestamps()) |
           sink([&](int x) { seen.push_back(x); }, [&](timestamp w) { wms.push_back(w); });
  p.run();
  CHECK(seen == std::vector<int>{4, 5});
  CHECK(wms == std::vector<timestamp>{timestamp::from_nanos(5), timestamp::max()});  // 4 waits for 5 to confirm it
}
