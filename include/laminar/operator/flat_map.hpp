// flat_map<Out>(f): zero or more output records per input record. f receives
// the record and an emit callback; nothing is collected or allocated:
//   flat_map<Fill>([](const Order& o, auto&& emit) { for (...) emit(Fill{...}); })
#pragma once

#include <concepts>
#include <functional>
#include <type_traits>
#include <utility>

#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/stage.hpp"

namespace laminar {

/// The emit callback flat_map hands to the user's function.
template <class Out, class Next>
class emitter {
 public:
  explicit emitter(Next& next) noexcept : next_(&next) {}
  void operator()(const Out& out) const { next_->on_event(out); }

 private:
  Next* next_;
};

template <class In, class Out, class F, class Next>
class flat_map_stage : public forwarding_stage<Next> {
 public:
  flat_map_stage(F f, Next next) : forwarding_stage<Next>(std::move(next)), f_(std::move(f)) {}
  void on_event(const In& event) { std::invoke(f_, event, emitter<Out, Next>(this->next_)); }

 private:
  [[no_unique_address]] F f_;
};

template <class Out, class F>
struct flat_map_operator {
  using is_operator = void;
  F f;

  template <class Ctx>
  auto output_context(const Ctx&) const {
    return context_of<Out>{};
  }
  template <class Ctx, class Next>
  auto bind(const Ctx&, Next&& next) && {
    using In = typename Ctx::value_type;
    using N = std::remove_cvref_t<Next>;
    static_assert(std::invocable<F&, const In&, emitter<Out, N>>,
                  "laminar::flat_map: the function must take (const T& record, auto&& emit)");
    return flat_map_stage<In, Out, F, N>(std::move(f), std::forward<Next>(next));
  }
};

/// Emits zero or more Out records per input record through a callback.
template <class Out, class F>
auto flat_map(F f) {
  return flat_map_operator<Out, F>{std::move(f)};
}

}  // namespace laminar
