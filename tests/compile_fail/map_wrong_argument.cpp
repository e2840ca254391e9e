// Must not compile: map's function does not take the stream's record type.
// expect: laminar::map: the function cannot be called with the stream's record type
#include <laminar/laminar.hpp>
#include <string>
#include <vector>

int main() {
  std::vector<int> xs;
  auto p = laminar::from(xs) | laminar::map([](const std::string& s) { return s.size(); }) |
           laminar::sink([](std::size_t) {});
  p.run();
}
