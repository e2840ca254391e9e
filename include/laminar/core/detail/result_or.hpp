// What a user's function returns, computed only once it is known to be
// callable: an operator states its requirement in a static_assert and then
// names the result with result_or_t, so that a function of the wrong type
// fails with the operator's message first, not with a failure of
// std::invoke_result (which g++ reports before a static_assert in a
// function the operator calls).
#pragma once

#include <concepts>
#include <type_traits>

namespace laminar::detail {

/// Stands for the result of a function that cannot be called: only ever
/// seen after the static_assert that reported the mistake.
struct uncallable_result {};

template <class F, class... Args>
struct result_or {
  using type = uncallable_result;
};
template <class F, class... Args>
  requires std::invocable<F, Args...>
struct result_or<F, Args...> {
  using type = std::remove_cvref_t<std::invoke_result_t<F, Args...>>;
};

/// std::invoke_result_t<F, Args...> without cv or reference, or
/// uncallable_result when F cannot be called with Args.
template <class F, class... Args>
using result_or_t = typename result_or<F, Args...>::type;

}  // namespace laminar::detail
