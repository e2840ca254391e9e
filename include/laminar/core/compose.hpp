// Composition: operator factories joined with `|` into a pipe, and a pipe
// bound to its input context into one nested stage whose members hold each
// downstream by value, so the compiler can inline the whole chain.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/stage.hpp"

namespace laminar {

/// A sequence of operator factories, possibly closed by a sink factory.
/// Nothing is bound yet: the input type arrives when a source (or a DAG
/// node) is composed in front of it.
template <class... Fs>
struct pipe {
  std::tuple<Fs...> factories;

  static constexpr bool closed = [] {
    if constexpr (sizeof...(Fs) == 0) {
      return false;
    } else {
      return sink_factory<std::tuple_element_t<sizeof...(Fs) - 1, std::tuple<Fs...>>>;
    }
  }();
};

template <class T>
inline constexpr bool is_pipe_v = false;
template <class... Fs>
inline constexpr bool is_pipe_v<pipe<Fs...>> = true;

/// Anything that can stand to the right of a source in a composition.
template <class F>
concept pipeable = operator_factory<F> || sink_factory<F> || is_pipe_v<std::remove_cvref_t<F>>;

namespace detail {

template <class F>
auto as_pipe(F&& f) {
  if constexpr (is_pipe_v<std::remove_cvref_t<F>>) {
    return std::forward<F>(f);
  } else {
    return pipe<std::remove_cvref_t<F>>{std::tuple<std::remove_cvref_t<F>>(std::forward<F>(f))};
  }
}

// One tuple built from both pipes' elements: std::tuple_cat would instantiate
// a chain of intermediate tuples for every `|` of a composition.
template <class... As, class... Bs, std::size_t... I, std::size_t... J>
pipe<As..., Bs...> concat_at(pipe<As...>&& a, pipe<Bs...>&& b, std::index_sequence<I...>, std::index_sequence<J...>) {
  return {std::tuple<As..., Bs...>(std::get<I>(std::move(a.factories))..., std::get<J>(std::move(b.factories))...)};
}

template <class... As, class... Bs>
auto concat(pipe<As...>&& a, pipe<Bs...>&& b) {
  static_assert(!pipe<As...>::closed,
                "laminar: nothing can follow a sink: the sink must be the last stage of a chain");
  return concat_at(std::move(a), std::move(b), std::index_sequence_for<As...>{}, std::index_sequence_for<Bs...>{});
}

// Stands in for a stage that failed check_stage, so that the readable
// static_assert is the only error the compiler reports.
struct inert_stage : consuming_stage {
  template <class T>
  void on_event(const T&) {}
};

template <class T, class S>
auto checked_stage(S s) {
  if constexpr (stage<S, T>) {
    return s;
  } else {
    static_assert(check_stage<S, T>());
    return inert_stage{};
  }
}

template <std::size_t I, class Ctx, class Tuple>
auto bind_from(const Ctx& ctx, Tuple& factories) {
  using F = std::tuple_element_t<I, Tuple>;
  using T = typename Ctx::value_type;
  if constexpr (I + 1 == std::tuple_size_v<Tuple>) {
    static_assert(sink_factory<F>,
                  "laminar: a chain must end in a sink (sink(f), collect(v), count_events(n), publish(s), or your own)");
    return checked_stage<T>(std::move(std::get<I>(factories)).bind(ctx));
  } else {
    static_assert(operator_factory<F>, "laminar: only the last stage of a chain may be a sink");
    auto next_ctx = std::get<I>(factories).output_context(ctx);
    auto next = bind_from<I + 1>(next_ctx, factories);
    return checked_stage<T>(std::move(std::get<I>(factories)).bind(ctx, std::move(next)));
  }
}

}  // namespace detail

/// Binds a closed pipe to its input context: the result is one stage that
/// accepts Ctx::value_type and holds the whole chain.
template <class Ctx, class... Fs>
auto bind_chain(const Ctx& ctx, pipe<Fs...> p) {
  static_assert(sizeof...(Fs) > 0, "laminar: an empty chain has no sink");
  return detail::bind_from<0>(ctx, p.factories);
}

/// Binds a closed pipe to input records of type T.
template <class T, class... Fs>
auto make_chain(pipe<Fs...> p) {
  return bind_chain(stream_context<T>{}, std::move(p));
}

namespace detail {
// Factory by factory, in place: no pipe of the remaining factories is built
// (and copied) per step.
template <std::size_t I, class Ctx, class Tuple>
auto output_context_from(const Ctx& ctx, const Tuple& factories) {
  if constexpr (I == std::tuple_size_v<Tuple>) {
    return ctx;
  } else {
    return output_context_from<I + 1>(std::get<I>(factories).output_context(ctx), factories);
  }
}

/// The context after operator factories Fs applied from the left. Naming
/// it instantiates each factory's output_context in turn, and with it the
/// factory's static_asserts.
template <class Ctx, class... Fs>
struct context_after {
  using type = Ctx;
};
template <class Ctx, class F, class... Fs>
struct context_after<Ctx, F, Fs...>
    : context_after<decltype(std::declval<const F&>().output_context(std::declval<const Ctx&>())), Fs...> {};
}  // namespace detail

/// The context after a pipe of operator factories (no sink).
template <class Ctx, class... Fs>
auto output_context_of(const Ctx& ctx, const pipe<Fs...>& p) {
  return detail::output_context_from<0>(ctx, p.factories);
}

/// `a | b` for operator factories, sink factories and pipes: a longer pipe.
template <pipeable A, pipeable B>
auto operator|(A&& a, B&& b) {
  return detail::concat(detail::as_pipe(std::forward<A>(a)), detail::as_pipe(std::forward<B>(b)));
}

}  // namespace laminar
