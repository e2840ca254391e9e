// Trades keyed by account and quotes keyed by symbol are both uint32_t;
// tagged, joining them is a compile error that says why.
// expect: keys must have the same type
#include <laminar/laminar.hpp>

#include <cstdint>
#include <vector>

struct trade {
  std::int64_t ts = 0;
  std::uint32_t account = 0;
};
struct quote {
  std::int64_t ts = 0;
  std::uint32_t symbol = 0;
};
struct account_tag {};
struct symbol_tag {};

int main() {
  using namespace laminar;
  std::vector<asof_row<trade, quote>> rows;
  auto p = connect(push<trade>() | event_time(&trade::ts) | key_by<account_tag>(&trade::account),
                   push<quote>() | event_time(&quote::ts) | key_by<symbol_tag>(&quote::symbol)) |
           asof_join() | collect(rows);
  (void)p;
}
