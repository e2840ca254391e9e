// Must not compile: the sink's callback takes another record type.
// expect: laminar::sink: the callback cannot be called with the stream's record type
#include <laminar/operator/map.hpp>
#include <laminar/sink/callback.hpp>
#include <laminar/source/range.hpp>
#include <string>
#include <vector>

int main() {
  std::vector<int> in;
  auto p = laminar::from(in) | laminar::map([](int x) { return 2 * x; }) |
           laminar::sink([](const std::string& s) { (void)s; });
  p.run();
}
