// The aggregate contract: what a window (or any grouping operator) needs from
// the function it computes per group.
//
// A bound aggregate for records of type T is a value with
//   using accumulator = ...;                  the per-group state (cereal-serializable,
//                                             default-constructible: tables hold it in place)
//   accumulator init() const;                 the empty state
//   void add(accumulator&, const T&, timestamp) const;     (or without the timestamp)
//   void merge(accumulator& into, const accumulator& from) const;
//   R result(const accumulator&) const;
// and, to accept retractions (-1 weights from a changelog input),
//   void retract(accumulator&, const T&, timestamp) const; (or without the timestamp)
// `merge` combines two groups' states, `into` holding the earlier records
// (windows merge slices in event-time order).
//
// The built-in aggregates are factories (sum(&trade::qty), ohlc(&tick::price))
// that bind to the record type only when the window is composed, and that
// pick a retractable accumulator when the input carries retractions. A user
// aggregate may be either: a factory with
//   template <class T, bool Retracting> auto bind() const;
// or a bound aggregate as above, used as is.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>

#include "laminar/core/detail/result_or.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

namespace detail {
template <class A, class T>
concept adds_with_time =
    requires(const A& a, typename A::accumulator& acc, const T& v, timestamp t) { a.add(acc, v, t); };
template <class A, class T>
concept adds_without_time = requires(const A& a, typename A::accumulator& acc, const T& v) { a.add(acc, v); };
template <class A, class T>
concept retracts_with_time =
    requires(const A& a, typename A::accumulator& acc, const T& v, timestamp t) { a.retract(acc, v, t); };
template <class A, class T>
concept retracts_without_time = requires(const A& a, typename A::accumulator& acc, const T& v) { a.retract(acc, v); };
}  // namespace detail

/// A bound aggregate over records of type T (see the file comment).
template <class A, class T>
concept aggregate = std::default_initializable<typename A::accumulator> &&  // group tables hold them in place
                    requires(const A& a, typename A::accumulator& acc, const typename A::accumulator& other) {
  { a.init() } -> std::convertible_to<typename A::accumulator>;
  a.merge(acc, other);
  a.result(other);
} && (detail::adds_with_time<A, T> || detail::adds_without_time<A, T>);

/// A bound aggregate that also accepts retractions.
template <class A, class T>
concept retractable_aggregate =
    aggregate<A, T> && (detail::retracts_with_time<A, T> || detail::retracts_without_time<A, T>);

/// The result type of a bound aggregate.
template <class A>
using aggregate_result_t = std::remove_cvref_t<decltype(std::declval<const A&>().result(
    std::declval<const typename A::accumulator&>()))>;

namespace detail {

template <class A, class T, bool Retracting>
concept aggregate_factory = requires(const A& a) { a.template bind<T, Retracting>(); };

/// Binds an aggregate (factory or already bound) to records of type T.
template <class T, bool Retracting, class A>
auto bind_aggregate(const A& a) {
  if constexpr (aggregate_factory<A, T, Retracting>) {
    return a.template bind<T, Retracting>();
  } else {
    static_assert(aggregate<A, T>,
                  "laminar: this is not an aggregate for the stream's records: it needs `using accumulator`, "
                  "init(), add(acc, record[, timestamp]), merge(acc, acc) and result(acc) (see aggregate.hpp)");
    return a;
  }
}

template <class T, bool Retracting, class A>
using bound_aggregate_t = decltype(bind_aggregate<T, Retracting>(std::declval<const A&>()));

template <class A, class T>
inline void agg_add(const A& a, typename A::accumulator& acc, const T& v, timestamp t) {
  if constexpr (adds_with_time<A, T>) {
    a.add(acc, v, t);
  } else {
    a.add(acc, v);
  }
}

template <class A, class T>
inline void agg_retract(const A& a, typename A::accumulator& acc, const T& v, timestamp t) {
  static_assert(retractable_aggregate<A, T>,
                "laminar: the input carries retractions (a changelog), but this aggregate has no "
                "retract(acc, record[, timestamp])");
  if constexpr (retracts_with_time<A, T>) {
    a.retract(acc, v, t);
  } else {
    a.retract(acc, v);
  }
}

/// Multisets as value -> count maps (min/max under retraction, count
/// distinct, the percentile sketch's buckets). Removing a value that is not
/// there is the input's error and is ignored.
template <class Map, class V>
void count_down(Map& counts, const V& v) {
  const auto it = counts.find(v);
  if (it == counts.end()) return;
  if (--it->second == 0) counts.erase(it);
}
template <class Map>
void merge_counts(Map& into, const Map& from) {
  for (const auto& [v, n] : from) into[v] += n;
}

/// The value a projection (member pointer or callable) gives for a record.
/// A class, not an alias, so that its static_assert is the first error for
/// a projection of the wrong record type.
template <class P, class T>
struct projected {
  static_assert(std::invocable<const P&, const T&>,
                "laminar: an aggregate's projection cannot be applied to the stream's record type: "
                "sum(&T::field), min(f)... must name a field of, or take, the records the window reads");
  using type = result_or_t<const P&, const T&>;
};
template <class P, class T>
using projected_t = typename projected<P, T>::type;

/// The type a sum of V accumulates in: 64-bit for integers (bool counts
/// the trues), double for
/// floating point, V itself for anything else with +.
template <class V>
using sum_type_t = std::conditional_t<
    std::is_floating_point_v<V>, double,
    std::conditional_t<std::is_integral_v<V>,
                       std::conditional_t<std::is_signed_v<V>, std::int64_t, std::uint64_t>, V>>;

}  // namespace detail
}  // namespace laminar
