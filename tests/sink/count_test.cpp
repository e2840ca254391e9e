#include <doctest/doctest.h>

#include <laminar/laminar.hpp>
#include <vector>

using namespace laminar;

TEST_CASE("count_events counts records and checkpoints the count") {
  std::vector<int> in(10, 1);
  std::uint64_t n1 = 0, n2 = 0;
  auto p = from(in) | filter([](int) { return true; }) | count_events(n1);
  p.run_for(4);
  CHECK(n1 == 4);
  const snapshot s = p.checkpoint(1);
  auto q = from(in) | filter([](int) { return true; }) | count_events(n2);
  q.restore(s);
  CHECK(n2 == 4);
  q.run();
  CHECK(n2 == 10);
}
