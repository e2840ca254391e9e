// Must not compile: aligned(...) anywhere but right after a source.
// expect: aligned goes right after a source
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
  laminar::from(ticks) | laminar::with_watermarks(&tick::ts, laminar::monotonous_timestamps()) |
      laminar::map([](const tick& t) { return t; }) | laminar::aligned(group);
}
