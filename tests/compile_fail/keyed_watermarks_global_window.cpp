// Must not compile: keyed watermarks need a keyed stream.
// expect: keyed_watermarks\(\) needs a keyed stream
#include <laminar/laminar.hpp>
#include <vector>

struct tick {
  long ts = 0;
  long qty = 0;
};

int main() {
  using namespace std::chrono_literals;
  std::vector<tick> ticks;
  std::vector<laminar::window_row<laminar::global_key, long>> rows;
  auto p = laminar::from(ticks) | laminar::event_time(&tick::ts) |
           laminar::tumbling(1s).aggregate(laminar::sum(&tick::qty)).keyed_watermarks(10ms) | laminar::collect(rows);
  p.run();
}
