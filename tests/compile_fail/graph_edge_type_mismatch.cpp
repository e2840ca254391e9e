// Must not compile: a chain that takes quotes connected to a stream of ticks.
// expect: this chain's input type differs from the record type of the stream it reads
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
  std::uint64_t n = 0;
  laminar::graph g;
  auto src = g.source("ticks", laminar::from(ticks));
  g.node("spread", src, laminar::chain_of<quote>(laminar::map([](const quote& q) { return q.ask - q.bid; }) |
                                                  laminar::count_events(n)));
}
