// Must not compile: changelog_traits names both a kind and a weight.
// expect: changelog_traits<T> names both a kind and a weight
#include <laminar/laminar.hpp>
#include <cstdint>
#include <vector>

struct position {
  std::int64_t ts;
  std::uint32_t account;
  std::int64_t qty;
  laminar::change_kind op;
  std::int64_t times;
};

template <>
struct laminar::changelog_traits<position> {
  static constexpr auto kind = &position::op;
  static constexpr auto weight = &position::times;
};

int main() {
  std::vector<position> in;
  auto p = laminar::from(in) | laminar::event_time(&position::ts) | laminar::key_by(&position::account) |
           laminar::tumbling(laminar::duration::from_nanos(10)).aggregate(laminar::sum(&position::qty)) |
           laminar::sink([](const auto&) {});
  p.run();
}
