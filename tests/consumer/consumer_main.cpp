// A program that uses laminar the way a downstream project would: one umbrella
// include, a small fused pipeline, and a check of its result.
#include <laminar/laminar.hpp>

#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

int main() {
  std::vector<int> xs{1, 2, 3, 4, 5, 6};
  std::int64_t sum = 0;
  std::int64_t seen = 0;
  auto p = laminar::from(xs) | laminar::map([](int x) { return x * 10; }) |
           laminar::filter([](int x) { return x > 20; }) | laminar::sink([&](int x) {
             sum += x;
             ++seen;
           });
  p.run();
  if (sum != 180 || seen != 4) {
    std::fprintf(stderr, "laminar consumer: expected sum 180 over 4 records, got %lld over %lld\n",
                 static_cast<long long>(sum), static_cast<long long>(seen));
    return 1;
  }
#ifdef LAMINAR_CONSUMER_EXPECTED_VERSION
  // The CMake package version and the header's version must agree.
  if (std::string_view{laminar::version_string} != LAMINAR_CONSUMER_EXPECTED_VERSION) {
    std::fprintf(stderr, "laminar consumer: headers say version %s, CMake says %s\n", laminar::version_string,
                 LAMINAR_CONSUMER_EXPECTED_VERSION);
    return 1;
  }
#endif
  std::printf("laminar %s consumer: ok (sum %lld)\n", laminar::version_string, static_cast<long long>(sum));
  return 0;
}
