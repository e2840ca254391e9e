// Must not compile: fan_in branches that produce different record types.
// expect: every branch must produce the same record type
#include <laminar/laminar.hpp>
#include <vector>

int main() {
  std::vector<int> xs;
  auto p = laminar::from(xs) |
           laminar::fan_in(laminar::map([](int x) { return x; }), laminar::map([](int x) { return 0.5 * x; })) |
           laminar::sink([](double) {});
  (void)p;
}
