#include <doctest/doctest.h>

#include <laminar/laminar.hpp>
#include <string>
#include <vector>

using namespace laminar;

TEST_CASE("collect appends records, converting to the vector's element type") {
  std::vector<int> in{1, 2};
  std::vector<long> out{7};
  auto p = from(in) | collect(out);
  p.run();
  CHECK(out == std::vector<long>{7, 1, 2});
}

TEST_CASE("collect's contents are its state") {
  std::vector<std::string> in{"a", "b", "c"};
  std::vector<std::string> out1, out2{"stale"};
  auto p = from(in) | collect(out1);
  p.run_for(2);
  const snapshot s = p.checkpoint(4);
  auto q = from(in) | collect(out2);
  q.restore(s);
  CHECK(out2 == std::vector<std::string>{"a", "b"});
  q.run();
  CHECK(out2 == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("checkpointing a collect sink of unserializable records is a clear error") {
  struct tick {
    double price;
  };
  std::vector<tick> in{{1.0}}, out;
  auto p = from(in) | collect(out);
  p.run_for(1);
  CHECK_THROWS_WITH_AS((void)p.checkpoint(1), doctest::Contains("the record type has no cereal serialize"),
                       checkpoint_error);
}
