// Must not compile: an alignment group compares watermarks, so aligned(...)
// needs with_watermarks(...) before it.
// expect: aligned goes after with_watermarks
#include <laminar/laminar.hpp>
#include <chrono>
#include <cstdint>
#include <vector>

struct tick {
  std::int64_t ts;
};

int main() {
  std::vector<tick> ticks;
  laminar::alignment_group group(std::chrono::milliseconds(5));
  auto src = laminar::from(ticks) | laminar::aligned(group);
  (void)src;
}
