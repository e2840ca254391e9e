// Must not compile: with_watermarks after operators that follow a source.
// expect: with_watermarks goes right after a source
#include <laminar/laminar.hpp>
#include <cstdint>
#include <vector>

struct tick {
  std::int64_t ts;
};

int main() {
  std::vector<tick> in;
  auto p = laminar::from(in) | laminar::filter([](const tick&) { return true; }) |
           laminar::with_watermarks(&tick::ts, laminar::monotonous_timestamps());
  (void)p;
}
