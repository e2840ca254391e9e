// The row of the joins that give one row per left record (ASOF, temporal,
// lookup): the left record and what it was joined with, if anything. The
// row keeps its left record's key and event time, so keyed and event-time
// operators can follow the join.
#pragma once

#include <functional>
#include <optional>
#include <ostream>

#include <cereal/types/optional.hpp>

#include "laminar/core/detail/print.hpp"
#include "laminar/core/state_archive.hpp"
#include "laminar/core/stage.hpp"

namespace laminar {

namespace detail {
/// A joined row's side: its record, or "none" for an absent one.
template <class Side>
void print_side(std::ostream& os, const Side& side) {
  if constexpr (requires { side.has_value(); *side; }) {
    if (side) {
      print_value(os, *side);
    } else {
      os << "none";
    }
  } else {
    print_value(os, side);
  }
}
}  // namespace detail

/// A row of two joined sides; a side that may be absent (an outer join's,
/// a lookup's miss) is a std::optional.
template <class Left, class Right>
struct joined_row {
  Left left{};
  Right right{};
  friend bool operator==(const joined_row&, const joined_row&) = default;
  friend std::ostream& operator<<(std::ostream& os, const joined_row& r) {
    os << "{";
    detail::print_side(os, r.left);
    os << " ~ ";
    detail::print_side(os, r.right);
    return os << "}";
  }
  template <class Archive>
    requires archivable<Left> && archivable<Right>  // else not archivable, rather than a cereal error here
  void serialize(Archive& ar) {
    ar(left, right);
  }
};

/// A left record with what the join found for it, if anything (ASOF,
/// temporal and lookup joins).
template <class L, class R>
using enriched_row = joined_row<L, std::optional<R>>;

namespace detail {

/// A projection of a joined row through its left record (key, event time).
template <class P>
struct through_left {
  [[no_unique_address]] P p;
  template <class Row>
  decltype(auto) operator()(const Row& row) const {
    return std::invoke(p, row.left);
  }
};

/// The context of rows that keep their left record's key and event time.
template <class Row, class Ctx>
auto through_left_context(const Ctx& c) {
  if constexpr (Ctx::keyed() && Ctx::timed()) {
    return stream_context<Row, through_left<typename Ctx::key_type>, through_left<typename Ctx::time_type>>{{c.key},
                                                                                                          {c.time}};
  } else if constexpr (Ctx::keyed()) {
    return stream_context<Row, through_left<typename Ctx::key_type>>{{c.key}, {}};
  } else if constexpr (Ctx::timed()) {
    return stream_context<Row, no_projection, through_left<typename Ctx::time_type>>{{}, {c.time}};
  } else {
    (void)c;
    return stream_context<Row>{};
  }
}

}  // namespace detail
}  // namespace laminar
