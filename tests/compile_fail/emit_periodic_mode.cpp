// Must not compile: periodic early results need a period, so they are set
// by .emit_every(period[, domain]), and periodic is not an emit_mode.
// expect: periodic
// expect-at-line: 14
#include <laminar/laminar.hpp>

struct tick {
  long ts = 0;
  long qty = 0;
};

int main() {
  using namespace std::chrono_literals;
  auto w = laminar::tumbling(1s).aggregate(laminar::sum(&tick::qty)).emit(laminar::emit_mode::periodic);
  (void)w;
}
