// Must not compile: filter's predicate takes another record type.
// expect: laminar::filter: the predicate must take the stream's record type
#include <laminar/operator/filter.hpp>
#include <laminar/sink/callback.hpp>
#include <laminar/source/range.hpp>
#include <vector>

struct tick {
  double px;
};
struct quote {
  double bid;
};

int main() {
  std::vector<tick> in;
  auto p = laminar::from(in) | laminar::filter([](const quote& q) { return q.bid > 0; }) |
           laminar::sink([](const tick&) {});
  p.run();
}
