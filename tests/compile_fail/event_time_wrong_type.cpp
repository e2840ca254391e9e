// Must not compile: an event-time projection that yields no timestamp.
// expect: the time projection must return a laminar::timestamp
#include <laminar/laminar.hpp>
#include <string>
#include <vector>

struct tick {
  std::string ts;
};

int main() {
  std::vector<tick> in;
  auto p = laminar::from(in) | laminar::with_watermarks(&tick::ts, laminar::monotonous_timestamps()) |
           laminar::sink([](const tick&) {});
  p.run();
}
