// A field's value as text and back, for the text codecs (CSV now): the
// stated type mapping, exact both ways.
//
//   bool                    true / false (decode also takes 1 / 0)
//   integers, enums         decimal (an enum by its underlying integer); out of range is an error
//   float, double           shortest text that reads back to the same value (std::to_chars)
//   std::string             as is
//   timestamp, duration     integer nanoseconds
//   std::optional<V>        V, or the empty text for none (so an empty string and
//                           none are the same text: use std::optional only for values)
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "laminar/core/time.hpp"

namespace laminar::detail {

template <class V>
concept text_number = (std::integral<V> && !std::same_as<V, bool>) || std::floating_point<V>;

/// A type the text codecs write as one value.
template <class V>
concept text_scalar = text_number<V> || std::same_as<V, bool> || std::is_enum_v<V> || std::same_as<V, std::string> ||
                      std::same_as<V, timestamp> || std::same_as<V, duration>;

template <class V>
inline constexpr bool is_optional_scalar = false;
template <class V>
inline constexpr bool is_optional_scalar<std::optional<V>> = text_scalar<V>;

/// Appends v's text to out.
template <class V>
void format_scalar(const V& v, std::string& out) {
  if constexpr (std::same_as<V, bool>) {
    out += v ? "true" : "false";
  } else if constexpr (std::same_as<V, std::string>) {
    out += v;
  } else if constexpr (std::same_as<V, timestamp> || std::same_as<V, duration>) {
    format_scalar(v.nanos(), out);
  } else if constexpr (std::is_enum_v<V>) {
    format_scalar(static_cast<std::underlying_type_t<V>>(v), out);
  } else {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

/// Reads `text` into v; on failure returns false and says why (what was
/// expected) in `why`.
template <class V>
bool parse_scalar(std::string_view text, V& v, std::string& why) {
  if constexpr (std::same_as<V, bool>) {
    if (text == "true" || text == "1") {
      v = true;
    } else if (text == "false" || text == "0") {
      v = false;
    } else {
      why = "expected true or false";
      return false;
    }
    return true;
  } else if constexpr (std::same_as<V, std::string>) {
    v.assign(text);
    return true;
  } else if constexpr (std::same_as<V, timestamp> || std::same_as<V, duration>) {
    std::int64_t ns = 0;
    if (!parse_scalar(text, ns, why)) return false;
    v = V::from_nanos(ns);
    return true;
  } else if constexpr (std::is_enum_v<V>) {
    std::underlying_type_t<V> n{};
    if (!parse_scalar(text, n, why)) return false;
    v = static_cast<V>(n);
    return true;
  } else {
    const char* end = text.data() + text.size();
    const auto r = std::from_chars(text.data(), end, v);
    if (r.ec == std::errc::result_out_of_range) {
      why = std::floating_point<V> ? "expected a number in range" : "expected an integer in range";
      return false;
    }
    if (r.ec != std::errc{} || r.ptr != end) {
      why = std::floating_point<V> ? "expected a number" : "expected an integer";
      return false;
    }
    return true;
  }
}

}  // namespace laminar::detail
