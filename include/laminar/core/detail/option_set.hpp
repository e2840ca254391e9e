// An operator factory's compile-time options, by name: the callables and
// flags that change the stage's type (a late side output, a key layout, a
// projection). A factory is `op<option_set<option<tag, T>...>>`; each
// refinement replaces one option by its tag, so no refinement spells the
// whole list, and adding an option touches the factory's default only.
//
//   using defaults = option_set<option<late_tag, discard_side_output>, option<dense_tag, std::false_type>>;
//   auto o2 = o.options.with<late_tag>(hold_side_output(out));   // option_set<option<late_tag, F*>, ...>
//   option_t<dense_tag, decltype(o2)>::value                      // false
#pragma once

#include <type_traits>
#include <utility>

namespace laminar::detail {

/// One named option: its tag and its value. A plain member: an option set
/// is a builder, copied into the stage's own (space-free) members at bind;
/// several empty values of one type marked [[no_unique_address]] in sibling
/// bases crash clang 16's code generation.
template <class Tag, class T>
struct option {
  using tag = Tag;
  using type = T;
  T value{};
};

template <class Tag, class T>
constexpr const T& option_value(const option<Tag, T>& o) noexcept {
  return o.value;
}
template <class Tag, class T>
constexpr T& option_value(option<Tag, T>& o) noexcept {
  return o.value;
}
template <class Tag, class T>
constexpr T option_type(const option<Tag, T>&) noexcept;

template <class... Options>
struct option_set : Options... {
  /// The value of the option tagged Tag.
  template <class Tag>
  [[nodiscard]] constexpr const auto& get() const noexcept {
    return option_value<Tag>(*this);
  }
  template <class Tag>
  [[nodiscard]] constexpr auto& get() noexcept {
    return option_value<Tag>(*this);
  }
  /// This set with the option tagged Tag replaced by `v` (its type too).
  template <class Tag, class V>
  [[nodiscard]] constexpr auto with(V v) const& {
    using result = option_set<std::conditional_t<std::is_same_v<typename Options::tag, Tag>, option<Tag, V>, Options>...>;
    return result{pick<Tag, Options>(v)...};
  }

 private:
  template <class Tag, class O, class V>
  constexpr auto pick(V& v) const {
    if constexpr (std::is_same_v<typename O::tag, Tag>) {
      return option<Tag, V>{std::move(v)};
    } else {
      return static_cast<const O&>(*this);
    }
  }
};

/// The type of the option tagged Tag in a set.
template <class Tag, class Set>
using option_t = decltype(option_type<Tag>(std::declval<const Set&>()));

/// A compile-time flag as an option's value.
template <bool B>
using flag = std::bool_constant<B>;

}  // namespace laminar::detail
