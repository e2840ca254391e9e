// Must not compile: a fan_out branch that does not end in a sink.
// expect: every branch must end in a sink
#include <laminar/laminar.hpp>
#include <vector>

int main() {
  std::vector<int> xs;
  auto p = laminar::from(xs) | laminar::fan_out(laminar::sink([](int) {}), laminar::map([](int x) { return x + 1; }));
  (void)p;
}
