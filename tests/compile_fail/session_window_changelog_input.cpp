// Must not compile: a session window over changelog rows (here change<T>).
// expect: session windows do not take changelog input
#include <laminar/laminar.hpp>
#include <cstdint>
#include <vector>

struct click {
  std::int64_t ts;
  std::uint32_t user;
};

int main() {
  std::vector<laminar::change<click>> clicks;
  auto p = laminar::from(clicks) | laminar::event_time(&click::ts) | laminar::key_by(&click::user) |
           laminar::session(laminar::duration::from_nanos(10)).aggregate(laminar::count()) |
           laminar::sink([](const auto&) {});
  p.run();
}
