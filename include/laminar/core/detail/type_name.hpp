// Readable names of stage types for checkpoint records and error messages.
#pragma once

#include <string_view>

namespace laminar::detail {

/// The type's name without template arguments, e.g. "laminar::count_sink".
/// Stable across builds (lambda types inside the arguments are cut off).
template <class T>
constexpr std::string_view template_name() noexcept {
#if defined(__clang__) || defined(__GNUC__)
  std::string_view p = __PRETTY_FUNCTION__;
  constexpr std::string_view key = "T = ";
  auto start = p.find(key);
  if (start == std::string_view::npos) return "stage";
  p.remove_prefix(start + key.size());
  auto end = p.find_first_of("<;]");
  return p.substr(0, end);
#else
  return "stage";
#endif
}

}  // namespace laminar::detail
