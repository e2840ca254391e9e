// Must not compile: tap's function takes another record type.
// expect: laminar::tap: the function cannot be called with the stream's record type
#include <laminar/operator/tap.hpp>
#include <laminar/sink/callback.hpp>
#include <laminar/source/range.hpp>
#include <string>
#include <vector>

int main() {
  std::vector<int> in;
  auto p = laminar::from(in) | laminar::tap([](const std::string&) {}) | laminar::sink([](int) {});
  p.run();
}
