// Several aggregates in one pass: aggregates(a, b, c) computes all three over
// each group with one accumulator tuple and gives a std::tuple of results;
// aggregates_into<Bar>(a, b, c) gives Bar{result_a, result_b, result_c}
// instead. Retractable exactly when every part is.
#pragma once

#include <cereal/types/tuple.hpp>

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "laminar/aggregate/aggregate.hpp"

namespace laminar {

/// Result = void: a std::tuple of the parts' results; otherwise a Result
/// built from them by aggregate initialization.
template <class Result, class... Bound>
struct bound_composite {
  using accumulator = std::tuple<typename Bound::accumulator...>;
  std::tuple<Bound...> parts;

  accumulator init() const {
    return std::apply([](const auto&... p) { return accumulator{p.init()...}; }, parts);
  }
  template <class T>
  void add(accumulator& a, const T& r, timestamp t) const {
    each([&](const auto& p, auto& acc) { detail::agg_add(p, acc, r, t); }, a);
  }
  template <class T>
    requires(retractable_aggregate<Bound, T> && ...)
  void retract(accumulator& a, const T& r, timestamp t) const {
    each([&](const auto& p, auto& acc) { detail::agg_retract(p, acc, r, t); }, a);
  }
  void merge(accumulator& a, const accumulator& b) const {
    merge_each(a, b, std::index_sequence_for<Bound...>{});
  }
  auto result(const accumulator& a) const { return result_of(a, std::index_sequence_for<Bound...>{}); }

 private:
  template <class F>
  void each(F&& f, accumulator& a) const {
    each_impl(f, a, std::index_sequence_for<Bound...>{});
  }
  template <class F, std::size_t... I>
  void each_impl(F& f, accumulator& a, std::index_sequence<I...>) const {
    (f(std::get<I>(parts), std::get<I>(a)), ...);
  }
  template <std::size_t... I>
  void merge_each(accumulator& a, const accumulator& b, std::index_sequence<I...>) const {
    (std::get<I>(parts).merge(std::get<I>(a), std::get<I>(b)), ...);
  }
  template <std::size_t... I>
  auto result_of(const accumulator& a, std::index_sequence<I...>) const {
    if constexpr (std::is_void_v<Result>) {
      return std::tuple<aggregate_result_t<Bound>...>{std::get<I>(parts).result(std::get<I>(a))...};
    } else {
      return Result{std::get<I>(parts).result(std::get<I>(a))...};
    }
  }
};

template <class Result, class... A>
struct composite_aggregate {
  std::tuple<A...> parts;
  template <class T, bool Retracting>
  auto bind() const {
    return std::apply(
        [](const auto&... p) {
          return bound_composite<Result, detail::bound_aggregate_t<T, Retracting, A>...>{
              {detail::bind_aggregate<T, Retracting>(p)...}};
        },
        parts);
  }
};

/// Several aggregates in one pass; the result is a std::tuple of theirs.
template <class... A>
composite_aggregate<void, A...> aggregates(A... parts) {
  static_assert(sizeof...(A) > 0, "laminar::aggregates: give at least one aggregate");
  return {{std::move(parts)...}};
}

/// Several aggregates in one pass; the result is Result{their results...}.
template <class Result, class... A>
composite_aggregate<Result, A...> aggregates_into(A... parts) {
  static_assert(sizeof...(A) > 0, "laminar::aggregates_into: give at least one aggregate");
  return {{std::move(parts)...}};
}

}  // namespace laminar
