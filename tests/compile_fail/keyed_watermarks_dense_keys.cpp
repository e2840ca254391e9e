// Must not compile: dense keys and keyed watermarks are two layouts of a window's state.
// expect: dense_keys\(\) and keyed_watermarks\(\) do not combine
#include <laminar/laminar.hpp>

struct tick {
  long ts = 0;
  unsigned symbol = 0;
  long qty = 0;
};

int main() {
  using namespace std::chrono_literals;
  auto w = laminar::tumbling(1s).aggregate(laminar::sum(&tick::qty)).dense_keys().keyed_watermarks(10ms);
  (void)w;
}
