// Must not compile: an exchange needs a keyed stream.
// expect: parallel exchanges records by key: end the input node's chain with key_by
#include <laminar/laminar.hpp>
#include <vector>

int main() {
  std::vector<int> xs;
  std::uint64_t n = 0;
  laminar::graph g;
  auto src = g.source("xs", laminar::from(xs));
  g.parallel("p", src, 2, laminar::count_events(n));
}
