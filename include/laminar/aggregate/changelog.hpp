// Changelog streams (Z-set semantics). A changelog row says what changed in a
// table or view: an insert, a retraction of a previous value and its
// replacement, or a delete. Aggregates downstream weigh each row +1 or -1.
//
// A record type is a changelog row when it has a member `kind` of type
// change_kind, or a member `weight` (an integer, +1 / -1 or any multiplicity).
// Every other record counts +1.
#pragma once

#include <cstdint>
#include <ostream>
#include <type_traits>

namespace laminar {

/// +I, -U, +U, -D.
enum class change_kind : std::uint8_t { insert, update_before, update_after, remove };

/// The weight of a change: +1 for +I / +U, -1 for -U / -D.
constexpr std::int64_t weight_of(change_kind k) noexcept {
  return k == change_kind::update_before || k == change_kind::remove ? -1 : 1;
}

constexpr const char* to_string(change_kind k) noexcept {
  switch (k) {
    case change_kind::insert: return "+I";
    case change_kind::update_before: return "-U";
    case change_kind::update_after: return "+U";
    case change_kind::remove: return "-D";
  }
  return "?";
}
inline std::ostream& operator<<(std::ostream& os, change_kind k) { return os << to_string(k); }

/// Whether records of type T carry a weight (they are changelog rows).
template <class T>
concept changelog_row = requires(const T& r) {
  { r.kind } -> std::convertible_to<change_kind>;
} || requires(const T& r) {
  { r.weight } -> std::convertible_to<std::int64_t>;
};

/// The weight of a record: its change kind's, its weight, or +1.
template <class T>
constexpr std::int64_t weight_of(const T& r) noexcept {
  if constexpr (requires { { r.kind } -> std::convertible_to<change_kind>; }) {
    return weight_of(static_cast<change_kind>(r.kind));
  } else if constexpr (requires { { r.weight } -> std::convertible_to<std::int64_t>; }) {
    return static_cast<std::int64_t>(r.weight);
  } else {
    (void)r;
    return 1;
  }
}

}  // namespace laminar
