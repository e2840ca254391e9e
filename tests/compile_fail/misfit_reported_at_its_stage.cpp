// Must not compile: the middle stage of a chain takes the wrong record type.
// The error's location in this file ("required from here") is the line
// that appends that stage, not the sink's line.
// expect: laminar::filter: the predicate must take the stream's record type
// expect-at-line: 16
#include <laminar/operator/filter.hpp>
#include <laminar/operator/map.hpp>
#include <laminar/sink/callback.hpp>
#include <laminar/source/range.hpp>
#include <string>
#include <vector>

int main() {
  std::vector<int> in;
  auto p = laminar::from(in) | laminar::map([](int x) { return x + 1; })
           | laminar::filter([](const std::string& s) { return s.empty(); })
           | laminar::map([](int x) { return 2 * x; })
           | laminar::sink([](int) {});
  p.run();
}
