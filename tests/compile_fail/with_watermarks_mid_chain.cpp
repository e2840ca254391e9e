// Must not compile: with_watermarks anywhere but right after a source.
// expect: with_watermarks goes right after a source
#include <laminar/laminar.hpp>
#include <cstdint>

struct tick {
  std::int64_t ts;
};

int main() {
  auto body = laminar::map([](const tick& t) { return t; }) |
              laminar::with_watermarks(&tick::ts, laminar::monotonous_timestamps());
  (void)body;
}
