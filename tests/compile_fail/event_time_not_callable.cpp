// Must not compile: event_time names a member of another record type (a
// projection that cannot be applied at all, not one of the wrong result).
// expect: laminar::event_time: the projection cannot be applied to the stream's record type
#include <laminar/operator/key_by.hpp>
#include <laminar/sink/callback.hpp>
#include <laminar/source/range.hpp>
#include <cstdint>
#include <vector>

struct tick {
  std::int64_t ts;
};
struct quote {
  std::int64_t ts;
};

int main() {
  std::vector<tick> in;
  auto p = laminar::from(in) | laminar::event_time(&quote::ts) | laminar::sink([](const tick&) {});
  p.run();
}
