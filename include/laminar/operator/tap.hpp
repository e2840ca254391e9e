// tap(f): calls f(record) for its side effect and passes the record on.
#pragma once

#include <concepts>
#include <functional>
#include <type_traits>
#include <utility>

#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/stage.hpp"

namespace laminar {

template <class In, class F, class Next>
class tap_stage : public forwarding_stage<Next> {
 public:
  tap_stage(F f, Next next) : forwarding_stage<Next>(std::move(next)), f_(std::move(f)) {}
  void on_event(const In& event) {
    std::invoke(f_, event);
    this->next_.on_event(event);
  }

 private:
  [[no_unique_address]] F f_;
};

template <class F>
struct tap_operator {
  using is_operator = void;
  F f;

  template <class Ctx>
  auto output_context(const Ctx& ctx) const {
    static_assert(std::invocable<F&, const typename Ctx::value_type&>,
                  "laminar::tap: the function cannot be called with the stream's record type (const T&)");
    return ctx;
  }
  template <class Ctx, class Next>
  auto bind(const Ctx& ctx, Next&& next) && {
    (void)output_context(ctx);
    return tap_stage<typename Ctx::value_type, F, std::remove_cvref_t<Next>>(std::move(f), std::forward<Next>(next));
  }
};

/// Observes each record without changing the stream (metrics, logging).
template <class F>
auto tap(F f) {
  return tap_operator<F>{std::move(f)};
}

}  // namespace laminar
