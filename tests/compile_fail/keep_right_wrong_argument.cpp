// Must not compile: keep_right's function does not take the right input's record.
// expect: keep_right\(f\) needs f callable with the right input's record
#include <laminar/laminar.hpp>
#include <cstdint>
#include <string>
#include <vector>

struct trade {
  std::int64_t ts;
  int symbol;
};
struct quote {
  std::int64_t ts;
  int symbol;
  std::int64_t bid;
};

int main() {
  std::vector<trade> trades;
  std::vector<quote> quotes;
  auto p = laminar::connect(laminar::from(trades) | laminar::event_time(&trade::ts) | laminar::key_by(&trade::symbol),
                            laminar::from(quotes) | laminar::event_time(&quote::ts) | laminar::key_by(&quote::symbol)) |
           laminar::asof_join().keep_right([](const std::string& s) { return s.size(); }) |
           laminar::sink([](const auto&) {});
  p.run();
}
