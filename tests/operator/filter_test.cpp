#include <doctest/doctest.h>

#include <laminar/laminar.hpp>
#include <vector>

using namespace laminar;

TEST_CASE("filter keeps exactly the records its predicate accepts") {
  std::vector<int> in{5, -1, 0, 7, -3, 2};
  std::vector<int> out;
  auto p = from(in) | filter([](int x) { return x > 0; }) | collect(out);
  p.run();
  CHECK(out == std::vector<int>{5, 7, 2});
}

TEST_CASE("filter that rejects everything still passes watermarks and the end") {
  std::vector<int> in{1, 2};
  std::vector<int> out;
  std::vector<timestamp> wms;
  auto p = from(in) | filter([](int) { return false; }) |
           sink([&](int x) { out.push_back(x); }, [&](timestamp w) { wms.push_back(w); });
  p.run();
  CHECK(out.empty());
  CHECK(wms == std::vector<timestamp>{timestamp::max()});
}
