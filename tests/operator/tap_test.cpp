#include <doctest/doctest.h>

#include <laminar/laminar.hpp>
#include <vector>

using namespace laminar;

TEST_CASE("tap sees every record and changes nothing") {
  std::vector<int> in{3, 1, 2};
  std::vector<int> seen, out;
  auto p = from(in) | tap([&](int x) { seen.push_back(x); }) | filter([](int x) { return x > 1; }) | collect(out);
  p.run();
  CHECK(seen == std::vector<int>{3, 1, 2});
  CHECK(out == std::vector<int>{3, 2});
}
