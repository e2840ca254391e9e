// map(f): one output record per input record, f(record).
#pragma once

#include <concepts>
#include <functional>
#include <type_traits>
#include <utility>

#include "laminar/core/detail/result_or.hpp"
#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/stage.hpp"

namespace laminar {

template <class In, class F, class Next>
class map_stage : public forwarding_stage<Next> {
 public:
  map_stage(F f, Next next) : forwarding_stage<Next>(std::move(next)), f_(std::move(f)) {}
  void on_event(const In& event) { this->next_.on_event(std::invoke(f_, event)); }

 private:
  [[no_unique_address]] F f_;
};

template <class F>
struct map_operator {
  using is_operator = void;
  F f;

  // Each member states its requirement before naming f's result, so that
  // a function of the wrong type fails with this message first.
  template <class Ctx>
  auto output_context(const Ctx&) const {
    using T = typename Ctx::value_type;
    static_assert(std::invocable<F&, const T&>,
                  "laminar::map: the function cannot be called with the stream's record type (const T&)");
    using U = detail::result_or_t<F&, const T&>;
    static_assert(!std::is_void_v<U>, "laminar::map: the function returns nothing: use tap(f) for a side effect");
    return context_of<U>{};
  }
  template <class Ctx, class Next>
  auto bind(const Ctx& ctx, Next&& next) && {
    (void)output_context(ctx);
    return map_stage<typename Ctx::value_type, F, std::remove_cvref_t<Next>>(std::move(f), std::forward<Next>(next));
  }
};

/// Transforms each record with f: `map([](const Tick& t) { return t.price * t.qty; })`.
template <class F>
auto map(F f) {
  return map_operator<F>{std::move(f)};
}

}  // namespace laminar
