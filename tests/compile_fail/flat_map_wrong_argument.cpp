// Must not compile: flat_map's function takes another record type.
// expect: laminar::flat_map: the function must take \(const T& record, auto&& emit\)
#include <laminar/operator/flat_map.hpp>
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
  auto p = laminar::from(in) | laminar::flat_map<double>([](const quote& q, auto&& emit) { emit(q.bid); }) |
           laminar::sink([](double) {});
  p.run();
}
