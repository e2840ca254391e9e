// filter(p): keeps the records for which p(record) is true.
#pragma once

#include <concepts>
#include <functional>
#include <type_traits>
#include <utility>

#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/stage.hpp"

namespace laminar {

template <class In, class P, class Next>
class filter_stage : public forwarding_stage<Next> {
 public:
  filter_stage(P p, Next next) : forwarding_stage<Next>(std::move(next)), p_(std::move(p)) {}
  void on_event(const In& event) {
    if (std::invoke(p_, event)) this->next_.on_event(event);
  }

 private:
  [[no_unique_address]] P p_;
};

template <class P>
struct filter_operator {
  using is_operator = void;
  P p;

  template <class Ctx>
  auto output_context(const Ctx& ctx) const {
    static_assert(std::predicate<P&, const typename Ctx::value_type&>,
                  "laminar::filter: the predicate must take the stream's record type (const T&) and return bool");
    return ctx;
  }
  template <class Ctx, class Next>
  auto bind(const Ctx& ctx, Next&& next) && {
    (void)output_context(ctx);
    return filter_stage<typename Ctx::value_type, P, std::remove_cvref_t<Next>>(std::move(p), std::forward<Next>(next));
  }
};

/// Keeps the records for which p is true: `filter([](const Tick& t) { return t.qty > 0; })`.
template <class P>
auto filter(P p) {
  return filter_operator<P>{std::move(p)};
}

}  // namespace laminar
