// What window operators emit: one row per (key, window), with the window's
// bounds, the aggregate's result and the row's change kind (+I on
// insert-only output; -U/+U/-D in the changelog emit modes).
#pragma once

#include <cstddef>
#include <functional>
#include <ostream>
#include <tuple>
#include <type_traits>
#include <utility>

#include "laminar/core/changelog.hpp"
#include "laminar/core/time.hpp"
#include "laminar/operator/key_by.hpp"

namespace laminar {

namespace detail {
/// Prints a value if it can be printed: tuples element by element, other
/// unprintable types as "{...}".
template <class V>
void print_value(std::ostream& os, const V& v) {
  if constexpr (requires { os << v; }) {
    os << v;
  } else if constexpr (requires { std::tuple_size<V>::value; }) {
    os << "(";
    std::apply(
        [&](const auto&... xs) {
          const char* sep = "";
          ((os << sep, print_value(os, xs), sep = ", "), ...);
        },
        v);
    os << ")";
  } else {
    os << "{...}";
  }
}
}  // namespace detail

/// The key of a window operator that is not keyed: every record is in one group.
struct global_key {
  friend constexpr bool operator==(global_key, global_key) noexcept { return true; }
  friend constexpr bool operator<(global_key, global_key) noexcept { return false; }
  friend std::ostream& operator<<(std::ostream& os, global_key) { return os << "global"; }
  template <class Archive>
  void serialize(Archive&) {}
};

template <class Key, class Value>
struct window_row {
  Key key{};
  timestamp start{};  ///< inclusive
  timestamp end{};    ///< exclusive
  Value value{};
  change_kind kind = change_kind::insert;

  /// The row's event time: the last instant of its window (end - 1ns), so
  /// that a cascaded window puts it into the window that contains its own.
  [[nodiscard]] constexpr timestamp time() const noexcept {
    return end == timestamp::min() ? end : end - duration::from_nanos(1);
  }

  friend bool operator==(const window_row&, const window_row&) = default;
  friend std::ostream& operator<<(std::ostream& os, const window_row& r) {
    os << r.kind << " ";
    detail::print_value(os, r.key);
    os << " [" << r.start.nanos() << ", " << r.end.nanos() << ") ";
    detail::print_value(os, r.value);
    return os;
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(key, start, end, value, kind);
  }
};

/// Window rows are changelog rows: a cascaded window or a table reads their kind.
template <class Key, class Value>
struct changelog_traits<window_row<Key, Value>> {
  static constexpr auto kind = &window_row<Key, Value>::kind;
};

namespace detail {
/// The event-time projection of window rows.
struct window_row_time {
  template <class Row>
  constexpr timestamp operator()(const Row& r) const noexcept {
    return r.time();
  }
};
/// The key projection of keyed window rows.
struct window_row_key {
  template <class Row>
  constexpr const auto& operator()(const Row& r) const noexcept {
    return r.key;
  }
};
}  // namespace detail

}  // namespace laminar

template <>
struct std::hash<laminar::global_key> {
  std::size_t operator()(laminar::global_key) const noexcept { return 0; }
};

namespace laminar::detail {

/// The key a keyed operator (a window, a join) groups a record by: the
/// stream's key projection, or global_key for an un-keyed stream.
template <class Ctx>
auto window_key_of(const Ctx& ctx, const typename Ctx::value_type& e) {
  if constexpr (Ctx::keyed()) {
    return std::remove_cvref_t<decltype(key_of(ctx, e))>(key_of(ctx, e));
  } else {
    (void)ctx;
    (void)e;
    return global_key{};
  }
}
template <class Ctx>
using window_key_t = decltype(window_key_of(std::declval<const Ctx&>(), std::declval<const typename Ctx::value_type&>()));

}  // namespace laminar::detail
