// Readable names of types for checkpoint records and error messages.
#pragma once

#include <string_view>

namespace laminar::detail {

/// The type's whole name, template arguments included, e.g.
/// "laminar::window_row<int, double>" (compiler-specific spelling: for
/// messages, not for identity); "?" where the compiler does not say.
template <class T>
constexpr std::string_view type_name() noexcept {
#if defined(__clang__) || defined(__GNUC__)
  std::string_view p = __PRETTY_FUNCTION__;  // "...[T = X]" or "...[with T = X; ...]"
  constexpr std::string_view key = "T = ";
  const auto start = p.find(key);
  if (start == std::string_view::npos) return "?";
  p.remove_prefix(start + key.size());
  const auto semicolon = p.find(';');
  return p.substr(0, semicolon != std::string_view::npos ? semicolon : p.rfind(']'));
#else
  return "?";
#endif
}

/// The type's name without template arguments, e.g. "laminar::count_sink".
/// Stable across builds (lambda types inside the arguments are cut off).
template <class T>
constexpr std::string_view template_name() noexcept {
  const std::string_view name = type_name<T>();
  return name == "?" ? "stage" : name.substr(0, name.find('<'));
}

}  // namespace laminar::detail
