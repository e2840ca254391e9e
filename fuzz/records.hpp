// The described records the fuzz targets decode, encode and archive: a
// string, an enum, a nested record, optionals, a bool, a float, a
// timestamp and a duration, and a string last (a row's final CR is the
// codec's to strip, a string's own CR is not). Modelled on the serde
// tests' records; kept here so that fuzz/ builds on the library's headers
// alone.
#pragma once

#include <cereal/types/optional.hpp>  // the checkpoint archive of std::optional fields (wal_read)

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "laminar/core/record_fields.hpp"
#include "laminar/core/time.hpp"

namespace laminar_fuzz {

enum class side : std::int8_t { buy = 1, sell = -1 };

struct level {
  double px = 0;
  std::int64_t qty = 0;
  float weight = 0;
};
constexpr auto laminar_fields(const level*) {
  return laminar::describe(laminar::field_named("px", &level::px), laminar::field_named("qty", &level::qty),
                           laminar::field_named("weight", &level::weight));
}

struct order {
  std::string sym;
  side dir = side::buy;
  level at;
  std::optional<double> limit;
  bool hidden = false;
  laminar::timestamp ts;
  laminar::duration ttl;
  std::optional<std::int32_t> lot;
  std::uint32_t venue = 0;
  std::string note;
};
constexpr auto laminar_fields(const order*) {
  using laminar::field_named;
  return laminar::describe(field_named("sym", &order::sym), field_named("dir", &order::dir),
                           field_named("at", &order::at), field_named("limit", &order::limit),
                           field_named("hidden", &order::hidden), field_named("ts", &order::ts),
                           field_named("ttl", &order::ttl), field_named("lot", &order::lot),
                           field_named("venue", &order::venue), field_named("note", &order::note));
}

// Fixed-size records for the binary codec: one padded in memory (decoded
// field by field), one laid out as on the wire (decoded with one copy once
// its bools are checked).
struct quote_side {
  double px = 0;
  std::int32_t qty = 0;
  bool firm = false;
};
constexpr auto laminar_fields(const quote_side*) {
  return laminar::describe(laminar::field_named("px", &quote_side::px), laminar::field_named("qty", &quote_side::qty),
                           laminar::field_named("firm", &quote_side::firm));
}
struct feed_quote {
  std::array<char, 6> sym{};
  side dir = side::buy;
  quote_side bid;
  quote_side ask;
  std::array<bool, 2> flags{};
  float weight = 0;
  laminar::timestamp ts;
  laminar::duration ttl;
  std::uint16_t venue = 0;
};
constexpr auto laminar_fields(const feed_quote*) {
  using laminar::field_named;
  return laminar::describe(field_named("sym", &feed_quote::sym), field_named("dir", &feed_quote::dir),
                           field_named("bid", &feed_quote::bid), field_named("ask", &feed_quote::ask),
                           field_named("flags", &feed_quote::flags), field_named("weight", &feed_quote::weight),
                           field_named("ts", &feed_quote::ts), field_named("ttl", &feed_quote::ttl),
                           field_named("venue", &feed_quote::venue));
}
struct wire_tick {
  std::uint64_t seq = 0;
  double px = 0;
  laminar::timestamp ts;
  std::int32_t qty = 0;
  std::uint16_t venue = 0;
  bool buy = false;
  std::uint8_t level = 0;
};
constexpr auto laminar_fields(const wire_tick*) {
  using laminar::field_named;
  return laminar::describe(field_named("seq", &wire_tick::seq), field_named("px", &wire_tick::px),
                           field_named("ts", &wire_tick::ts), field_named("qty", &wire_tick::qty),
                           field_named("venue", &wire_tick::venue), field_named("buy", &wire_tick::buy),
                           field_named("level", &wire_tick::level));
}

// Equality for the round trips: a NaN equals a NaN (of any sign or
// payload: text keeps neither), every other value compares as ==.
template <class F>
bool same_number(F a, F b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b;
}
inline bool same(const level& a, const level& b) {
  return same_number(a.px, b.px) && a.qty == b.qty && same_number(a.weight, b.weight);
}
inline bool same(const order& a, const order& b) {
  const bool limits = a.limit.has_value() == b.limit.has_value() && (!a.limit || same_number(*a.limit, *b.limit));
  return a.sym == b.sym && a.dir == b.dir && same(a.at, b.at) && limits && a.hidden == b.hidden && a.ts == b.ts &&
         a.ttl == b.ttl && a.lot == b.lot && a.venue == b.venue && a.note == b.note;
}

}  // namespace laminar_fuzz
