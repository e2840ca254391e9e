#include <doctest/doctest.h>

#include <laminar/laminar.hpp>
#include <utility>
#include <vector>

#include "support/counting_allocator.hpp"

using namespace laminar;

namespace {
struct order {
  int id;
  int qty;  // split into child orders of at most 10
};
struct child {
  int id;
  int qty;
  friend bool operator==(const child&, const child&) = default;
};
}  // namespace

TEST_CASE("flat_map emits zero, one or many records per input") {
  std::vector<order> in{{1, 25}, {2, 0}, {3, 10}};
  std::vector<child> out;
  auto p = from(in) | flat_map<child>([](const order& o, auto&& emit) {
             for (int left = o.qty; left > 0; left -= 10) emit(child{o.id, left < 10 ? left : 10});
           }) |
           collect(out);
  p.run();
  CHECK(out == std::vector<child>{{1, 10}, {1, 10}, {1, 5}, {3, 10}});
}

TEST_CASE("flat_map allocates nothing per record") {
  std::uint64_t n = 0;
  auto p = push<int>() | flat_map<int>([](int x, auto&& emit) {
             for (int i = 0; i < x; ++i) emit(i);
           }) |
           count_events(n);
  p.push(1);
  test::allocation_counter c;
  for (int i = 0; i < 1000; ++i) p.push(i % 5);
  CHECK(c.count() == 0);
  CHECK(n == 1 + 200 * (0 + 1 + 2 + 3 + 4));
}
