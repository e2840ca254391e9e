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
#include "laminar/core/state_archive.hpp"
#include "laminar/core/time.hpp"
#include "laminar/core/detail/print.hpp"
#include "laminar/state/key.hpp"

namespace laminar {

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
    requires archivable<Key> && archivable<Value>  // else not archivable, rather than a cereal error here
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
