// Must not compile: an aggregate's projection names a member of another
// record type than the window reads.
// expect: laminar: an aggregate's projection cannot be applied to the stream's record type
#include <laminar/laminar.hpp>
#include <cstdint>
#include <vector>

struct trade {
  std::int64_t ts;
  int symbol;
  std::int64_t qty;
};
struct quote {
  std::int64_t size;
};

int main() {
  using namespace std::chrono_literals;
  std::vector<trade> in;
  auto p = laminar::from(in) | laminar::with_watermarks(&trade::ts, laminar::bounded_out_of_orderness(1ms)) |
           laminar::key_by(&trade::symbol) | laminar::tumbling(1s).aggregate(laminar::sum(&quote::size)) |
           laminar::sink([](const auto&) {});
  p.run();
}
