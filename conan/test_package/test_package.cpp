// Smallest use of the packaged laminar: a fused pipeline over a vector.
#include <laminar/laminar.hpp>

#include <cstdint>
#include <cstdio>
#include <vector>

int main() {
  std::vector<int> xs{1, 2, 3, 4, 5, 6};
  std::int64_t sum = 0;
  auto p = laminar::from(xs) | laminar::map([](int x) { return x * 10; }) |
           laminar::filter([](int x) { return x > 20; }) | laminar::sink([&](int x) { sum += x; });
  p.run();
  std::printf("laminar %s: sum %lld\n", laminar::version_string, static_cast<long long>(sum));
  return sum == 180 ? 0 : 1;
}
