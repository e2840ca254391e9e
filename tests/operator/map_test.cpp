#include <doctest/doctest.h>

#include <laminar/laminar.hpp>
#include <string>
#include <vector>

using namespace laminar;

TEST_CASE("map transforms every record and may change its type") {
  std::vector<int> in{1, 2, 3};
  std::vector<std::string> out;
  auto p = from(in) | map([](int x) { return std::to_string(x * x); }) | collect(out);
  p.run();
  CHECK(out == std::vector<std::string>{"1", "4", "9"});
}

TEST_CASE("map accepts member pointers") {
  struct quote {
    double bid, ask;
  };
  std::vector<quote> in{{1.0, 1.5}, {2.0, 2.25}};
  std::vector<double> out;
  auto p = from(in) | map(&quote::ask) | collect(out);
  p.run();
  CHECK(out == std::vector<double>{1.5, 2.25});
}

TEST_CASE("chained maps compose left to right") {
  std::vector<int> in{1, 2};
  std::vector<int> out;
  auto p = from(in) | map([](int x) { return x + 1; }) | map([](int x) { return x * 10; }) | collect(out);
  p.run();
  CHECK(out == std::vector<int>{20, 30});
}
