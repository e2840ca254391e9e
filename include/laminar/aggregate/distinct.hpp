// Exact count distinct: every distinct value with its multiplicity (so that
// retractions work), in a hash map. Memory grows with the distinct values of
// one group and one window, which is what exactness costs.
#pragma once

#include <cereal/types/unordered_map.hpp>

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <utility>

#include "laminar/aggregate/aggregate.hpp"

namespace laminar {

template <class V>
struct distinct_accumulator {
  std::unordered_map<V, std::int64_t> counts;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(counts);
  }
};

template <class P, class V>
struct bound_count_distinct {
  using accumulator = distinct_accumulator<V>;
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
  static std::int64_t result(const accumulator& a) { return static_cast<std::int64_t>(a.counts.size()); }
};

template <class P>
struct count_distinct_aggregate {
  P proj;
  template <class T, bool>
  auto bind() const {
    return bound_count_distinct<P, detail::projected_t<P, T>>{proj};
  }
};

/// The exact number of distinct values of a projection (hashable with std::hash).
template <class P>
count_distinct_aggregate<P> count_distinct(P proj) {
  return {std::move(proj)};
}

}  // namespace laminar
