// Must not compile: checkpointing a collect sink whose records cereal cannot save.
// expect: give the record type a cereal serialize
#include <laminar/laminar.hpp>
#include <vector>

struct tick {
  double price;
};

int main() {
  std::vector<tick> in, out;
  auto p = laminar::from(in) | laminar::collect(out);
  (void)p.checkpoint(1);
}
