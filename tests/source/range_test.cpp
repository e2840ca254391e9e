#include <doctest/doctest.h>

#include <laminar/laminar.hpp>
#include <list>
#include <ranges>
#include <vector>

using namespace laminar;

TEST_CASE("from() reads lvalue containers by reference, rvalues by value, and views") {
  std::vector<int> held{1, 2, 3};
  std::vector<int> out;
  auto a = from(held) | collect(out);
  held.push_back(4);  // seen: held by reference
  a.run();
  CHECK(out == std::vector<int>{1, 2, 3, 4});

  out.clear();
  auto b = from(std::vector<int>{5, 6}) | collect(out);
  b.run();
  CHECK(out == std::vector<int>{5, 6});

  out.clear();
  auto c = from(std::views::iota(0, 5) | std::views::transform([](int x) { return x * x; })) | collect(out);
  c.run();
  CHECK(out == std::vector<int>{0, 1, 4, 9, 16});
}

TEST_CASE("run_for emits in batches and tracks its position") {
  std::list<int> in{1, 2, 3, 4, 5};
  std::vector<int> out;
  auto p = from(in) | collect(out);
  CHECK(p.run_for(2) == 2);
  CHECK(p.source().position() == 2);
  CHECK(p.run_for(0) == 0);
  CHECK(p.run_for(10) == 3);
  CHECK(p.exhausted());
  CHECK(p.run_for(10) == 0);
  CHECK(out == std::vector<int>{1, 2, 3, 4, 5});
}

TEST_CASE("a non-random-access range restores its position by walking") {
  std::list<int> in{1, 2, 3, 4, 5};
  std::vector<int> out1, out2;
  auto p = from(in) | collect(out1);
  p.run_for(3);
  const snapshot s = p.checkpoint(1);
  out2 = out1;  // collect's checkpoint holds only its length
  auto q = from(in) | collect(out2);
  q.restore(s);
  q.run();
  CHECK(out2 == std::vector<int>{1, 2, 3, 4, 5});
}

TEST_CASE("a saved position past the end of the range is a checkpoint error") {
  std::vector<int> longer{1, 2, 3, 4};
  std::vector<int> shorter{1};
  std::uint64_t n = 0;
  auto p = from(longer) | count_events(n);
  p.run_for(3);
  const snapshot s = p.checkpoint(1);
  auto q = from(shorter) | count_events(n);
  CHECK_THROWS_WITH_AS(q.restore(s), doctest::Contains("saved position 3 is past the end of the range (1 records)"),
                       checkpoint_error);
}
