// Must not compile: an operator after a sink.
// expect: nothing can follow a sink
#include <laminar/laminar.hpp>
#include <vector>

int main() {
  std::vector<int> xs;
  auto p = laminar::from(xs) | laminar::sink([](int) {}) | laminar::map([](int x) { return x; });
  (void)p;
}
