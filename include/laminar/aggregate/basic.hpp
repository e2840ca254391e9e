// count, sum, min, max, avg. Each is a factory: sum(&trade::qty) binds to the
// record type when composed. min and max keep one value on insert-only input
// and a multiset of values (value -> count) when the input carries
// retractions, so that retracting the current minimum finds the next one.
#pragma once

#include <cereal/types/map.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <utility>

#include "laminar/aggregate/aggregate.hpp"

namespace laminar {

// ---- count ----

struct count_aggregate {
  using accumulator = std::int64_t;
  static constexpr accumulator init() noexcept { return 0; }
  template <class T>
  static constexpr void add(accumulator& a, const T&) noexcept { ++a; }
  template <class T>
  static constexpr void retract(accumulator& a, const T&) noexcept { --a; }
  static constexpr void merge(accumulator& a, const accumulator& b) noexcept { a += b; }
  static constexpr std::int64_t result(const accumulator& a) noexcept { return a; }
};

/// The number of records.
constexpr count_aggregate count() noexcept { return {}; }

// ---- sum ----

template <class P, class S>
struct bound_sum {
  using accumulator = S;
  [[no_unique_address]] P proj;
  static constexpr accumulator init() noexcept { return S{}; }
  template <class T>
  constexpr void add(accumulator& a, const T& v) const { a += static_cast<S>(std::invoke(proj, v)); }
  template <class T>
  constexpr void retract(accumulator& a, const T& v) const { a -= static_cast<S>(std::invoke(proj, v)); }
  static constexpr void merge(accumulator& a, const accumulator& b) { a += b; }
  static constexpr S result(const accumulator& a) { return a; }
};

template <class P>
struct sum_aggregate {
  P proj;
  template <class T, bool>
  auto bind() const {
    return bound_sum<P, detail::sum_type_t<detail::projected_t<P, T>>>{proj};
  }
};

/// The sum of a projection (a member pointer or callable); integers sum in
/// 64 bits, floating point in double.
template <class P>
sum_aggregate<P> sum(P proj) {
  return {std::move(proj)};
}

// ---- avg ----

struct avg_accumulator {
  double sum = 0;
  std::int64_t n = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(sum, n);
  }
};

template <class P>
struct bound_avg {
  using accumulator = avg_accumulator;
  [[no_unique_address]] P proj;
  static constexpr accumulator init() noexcept { return {}; }
  template <class T>
  void add(accumulator& a, const T& v) const {
    a.sum += static_cast<double>(std::invoke(proj, v));
    ++a.n;
  }
  template <class T>
  void retract(accumulator& a, const T& v) const {
    a.sum -= static_cast<double>(std::invoke(proj, v));
    --a.n;
  }
  static void merge(accumulator& a, const accumulator& b) {
    a.sum += b.sum;
    a.n += b.n;
  }
  /// NaN for no records.
  static double result(const accumulator& a) {
    return a.n == 0 ? std::numeric_limits<double>::quiet_NaN() : a.sum / static_cast<double>(a.n);
  }
};

template <class P>
struct avg_aggregate {
  P proj;
  template <class T, bool>
  auto bind() const {
    return bound_avg<P>{proj};
  }
};

/// The arithmetic mean of a projection, as double.
template <class P>
avg_aggregate<P> avg(P proj) {
  return {std::move(proj)};
}

// ---- min / max ----

/// One value, for insert-only input.
template <class V>
struct extreme_accumulator {
  V value{};
  bool has = false;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(value, has);
  }
};

template <class P, class V, class Less>
struct bound_extreme {
  using accumulator = extreme_accumulator<V>;
  [[no_unique_address]] P proj;
  static accumulator init() { return {}; }
  template <class T>
  void add(accumulator& a, const T& r) const {
    V v = std::invoke(proj, r);
    if (!a.has || Less{}(v, a.value)) {
      a.value = std::move(v);
      a.has = true;
    }
  }
  static void merge(accumulator& a, const accumulator& b) {
    if (b.has && (!a.has || Less{}(b.value, a.value))) a = b;
  }
  static const V& result(const accumulator& a) { return a.value; }
};

/// Every value with its multiplicity, for input with retractions.
template <class V, class Less>
struct multiset_accumulator {
  std::map<V, std::int64_t, Less> counts;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(counts);
  }
};

template <class P, class V, class Less>
struct bound_retractable_extreme {
  using accumulator = multiset_accumulator<V, Less>;
  [[no_unique_address]] P proj;
  static accumulator init() { return {}; }
  template <class T>
  void add(accumulator& a, const T& r) const {
    ++a.counts[std::invoke(proj, r)];
  }
  template <class T>
  void retract(accumulator& a, const T& r) const {
    detail::count_down(a.counts, std::invoke(proj, r));
  }
  static void merge(accumulator& a, const accumulator& b) { detail::merge_counts(a.counts, b.counts); }
  /// The least value by Less (so the maximum for max, which orders by >).
  static V result(const accumulator& a) { return a.counts.empty() ? V{} : a.counts.begin()->first; }
};

template <class P, class Less>
struct extreme_aggregate {
  P proj;
  template <class T, bool Retracting>
  auto bind() const {
    using V = detail::projected_t<P, T>;
    if constexpr (Retracting) {
      return bound_retractable_extreme<P, V, Less>{proj};
    } else {
      return bound_extreme<P, V, Less>{proj};
    }
  }
};

/// The least value of a projection.
template <class P>
extreme_aggregate<P, std::less<>> min(P proj) {
  return {std::move(proj)};
}

/// The greatest value of a projection.
template <class P>
extreme_aggregate<P, std::greater<>> max(P proj) {
  return {std::move(proj)};
}

}  // namespace laminar
