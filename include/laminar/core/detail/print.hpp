// Printing a value for rows' operator<<: tuples element by element, other
// unprintable types as "{...}".
#pragma once

#include <ostream>
#include <tuple>

namespace laminar::detail {

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

}  // namespace laminar::detail
