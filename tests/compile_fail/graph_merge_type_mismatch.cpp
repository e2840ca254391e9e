// Must not compile: merging streams of different record types.
// expect: every input must carry the same record type
#include <laminar/laminar.hpp>
#include <vector>

struct tick {
  double price;
};
struct quote {
  double bid, ask;
};

int main() {
  std::vector<tick> ticks;
  std::vector<quote> quotes;
  std::uint64_t n = 0;
  laminar::graph g;
  auto a = g.source("ticks", laminar::from(ticks));
  auto b = g.source("quotes", laminar::from(quotes));
  g.merge("both", laminar::count_events(n), a, b);
}
