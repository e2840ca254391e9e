// Smallest use of the packaged laminar: a fused pipeline over a vector, and a
// one-worker graph, whose runtime is what needs the package's system_libs
// (pthread, numa) or its LAMINAR_NO_NUMA definition to link.
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

  std::vector<int> doubled;
  laminar::graph g(laminar::runtime_options{.workers = 1});
  auto src = g.source("xs", laminar::from(xs));
  g.node("double", src, laminar::map([](int x) { return x * 2; }) | laminar::collect(doubled));
  g.run();

  std::printf("laminar %s: sum %lld, graph %zu records, numa %s\n", laminar::version_string,
              static_cast<long long>(sum), doubled.size(), laminar::numa_probe().available ? "yes" : "no");
  return sum == 180 && doubled == std::vector<int>{2, 4, 6, 8, 10, 12} ? 0 : 1;
}
