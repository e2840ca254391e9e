// What a join keeps of each right record, shared by the joins that offer
// .keep_right(f) (ASOF, temporal): the whole record by default, or what f
// returns for it (the fields the rows read), which rows then carry.
#pragma once

#include <functional>
#include <type_traits>

namespace laminar::detail {

/// The default: all of the right record (a reference, no copy).
struct keep_whole {
  template <class R>
  const R& operator()(const R& r) const noexcept {
    return r;
  }
};

/// What a join with keep_right(Keep) keeps of a right record R.
template <class Keep, class R>
using kept_t = std::remove_cvref_t<std::invoke_result_t<const Keep&, const R&>>;

/// Compile-time checks of keep_right(f) against the right input's record R:
/// each failure is a static_assert that says what f must be.
template <class Keep, class R>
consteval bool check_keep_right() {
  static_assert(std::is_invocable_v<const Keep&, const R&>,
                "laminar: keep_right(f) needs f callable with the right input's record");
  if constexpr (std::is_invocable_v<const Keep&, const R&>) {
    using K = kept_t<Keep, R>;
    static_assert(std::is_default_constructible_v<K> && std::is_copy_assignable_v<K>,
                  "laminar: what keep_right(f) returns must be default-constructible and copyable");
  }
  return true;
}

}  // namespace laminar::detail
