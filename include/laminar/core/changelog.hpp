// Changelog streams (Z-set semantics). A changelog row says what changed in a
// table or view: an insert, a retraction of a previous value and its
// replacement, or a delete. Windows weigh each row +1 or -1 (or by its
// weight) and lookup / temporal joins keep their tables by it.
//
// A record type is a changelog row only when the program says so:
//   - change<T>: a record T with a change_kind (+I, -U, +U, -D), or
//   - a specialization of changelog_traits<T> naming how to read the row's
//     change kind or its weight (an integer: +1 / -1 or any multiplicity):
//
//       template <>
//       struct laminar::changelog_traits<my_row> {
//         static constexpr auto kind = &my_row::op;   // a change_kind
//       };
//       // or: static constexpr auto weight = &my_row::multiplicity;
//
//     (a pointer to a data member, or any function of const T&).
// Every other record, whatever its members are called, is an insert: it
// counts +1. The library's own changelog rows (window_row) opt in the same way.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <ostream>
#include <type_traits>

#include "laminar/core/state_archive.hpp"

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

/// Specialize for a record type to make it a changelog row: give it a
/// `static constexpr` member `kind` (read as a change_kind) or `weight` (read
/// as an integer), each a pointer to a data member or a function of
/// const T&. Name one of the two. Unspecialized: T is insert-only.
template <class T>
struct changelog_traits {};

namespace detail {
template <class T>
concept changelog_by_kind = requires(const T& r) {
  { std::invoke(changelog_traits<T>::kind, r) } -> std::convertible_to<change_kind>;
};
template <class T>
concept changelog_by_weight = requires(const T& r) {
  { std::invoke(changelog_traits<T>::weight, r) } -> std::convertible_to<std::int64_t>;
};
}  // namespace detail

/// Whether records of type T are changelog rows: changelog_traits<T> names
/// their change kind or their weight.
template <class T>
concept changelog_row = detail::changelog_by_kind<T> || detail::changelog_by_weight<T>;

/// The weight of a record: its change kind's or its weight for a changelog
/// row, +1 for any other record.
template <class T>
constexpr std::int64_t weight_of(const T& r) noexcept {
  static_assert(!(detail::changelog_by_kind<T> && detail::changelog_by_weight<T>),
                "laminar: changelog_traits<T> names both a kind and a weight: name one of the two");
  if constexpr (detail::changelog_by_kind<T>) {
    return weight_of(static_cast<change_kind>(std::invoke(changelog_traits<T>::kind, r)));
  } else if constexpr (detail::changelog_by_weight<T>) {
    return static_cast<std::int64_t>(std::invoke(changelog_traits<T>::weight, r));
  } else {
    (void)r;
    return 1;
  }
}

/// A record with its change kind: a changelog row without a trait to write.
/// It is a T (projections of T, such as &T::price, read it as they read a
/// T) with one more member, `kind`.
template <class T>
  requires std::is_class_v<T> && (!std::is_final_v<T>)
struct change : T {
  change_kind kind = change_kind::insert;

  friend bool operator==(const change&, const change&) = default;
  friend std::ostream& operator<<(std::ostream& os, const change& c)
    requires requires(const T& r) { os << r; }
  {
    return os << c.kind << " " << static_cast<const T&>(c);
  }
  template <class Archive>
    requires archivable<T>  // else not archivable, rather than a cereal error here
  void serialize(Archive& ar) {
    ar(static_cast<T&>(*this), kind);
  }
};

template <class T>
  requires std::is_class_v<T> && (!std::is_final_v<T>)
struct changelog_traits<change<T>> {
  static constexpr auto kind = &change<T>::kind;
};

}  // namespace laminar
