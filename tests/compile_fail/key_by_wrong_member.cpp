// Must not compile: key_by names a member of another record type.
// expect: laminar::key_by: the key projection cannot be applied to the stream's record type
#include <laminar/operator/key_by.hpp>
#include <laminar/sink/callback.hpp>
#include <laminar/source/range.hpp>
#include <vector>

struct tick {
  int symbol;
};
struct quote {
  int symbol;
};

int main() {
  std::vector<tick> in;
  auto p = laminar::from(in) | laminar::key_by(&quote::symbol) | laminar::sink([](const tick&) {});
  p.run();
}
