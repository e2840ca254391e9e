// Described records shared by the serde tests: a nested record, an enum,
// an optional, a timestamp; and a record whose description names one field
// twice.
#pragma once

#include <cstdint>
#include <laminar/laminar.hpp>
#include <optional>
#include <string>

namespace serde_test {

enum class side : std::int8_t { buy = 1, sell = -1 };

struct level {
  double px = 0;
  std::int64_t qty = 0;
  friend bool operator==(const level&, const level&) = default;
};
constexpr auto laminar_fields(const level*) {
  return laminar::describe(laminar::field_named("px", &level::px), laminar::field_named("qty", &level::qty));
}

struct order {
  std::string sym;
  side dir = side::buy;
  level at;
  std::optional<double> limit;
  bool hidden = false;
  laminar::timestamp ts;
  std::uint32_t venue = 0;
  friend bool operator==(const order&, const order&) = default;
};
constexpr auto laminar_fields(const order*) {
  using laminar::field_named;
  return laminar::describe(field_named("sym", &order::sym), field_named("dir", &order::dir),
                           field_named("at", &order::at), field_named("limit", &order::limit),
                           field_named("hidden", &order::hidden), field_named("ts", &order::ts),
                           field_named("venue", &order::venue));
}

struct twice {
  int a = 0;
  int b = 0;
};
constexpr auto laminar_fields(const twice*) {
  return laminar::describe(laminar::field_named("a", &twice::a), laminar::field_named("a", &twice::b));
}

}  // namespace serde_test

