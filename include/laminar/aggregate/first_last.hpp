// first and last by event time. first is the value of the record with the
// smallest timestamp, last of the one with the largest; among records with
// equal timestamps, first keeps the one that arrived first and last the one
// that arrived last (arrival order, the same rule for merged slices, whose
// records are older in the `into` side). With retractions, every record's
// (time, value) is kept, in arrival order per timestamp, and a retraction
// removes the most recently arrived equal (time, value).
#pragma once

#include <cereal/types/map.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "laminar/aggregate/aggregate.hpp"

namespace laminar {

template <class V>
struct timed_value_accumulator {
  timestamp time{};
  V value{};
  bool has = false;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(time, value, has);
  }
};

template <class P, class V, bool Last>
struct bound_first_last {
  using accumulator = timed_value_accumulator<V>;
  [[no_unique_address]] P proj;
  static accumulator init() { return {}; }
  static bool replaces(const accumulator& a, timestamp t) noexcept {
    if (!a.has) return true;
    if constexpr (Last) {
      return t >= a.time;
    } else {
      return t < a.time;
    }
  }
  template <class T>
  void add(accumulator& a, const T& r, timestamp t) const {
    if (replaces(a, t)) {
      a.time = t;
      a.value = std::invoke(proj, r);
      a.has = true;
    }
  }
  static void merge(accumulator& a, const accumulator& b) {
    if (b.has && replaces(a, b.time)) a = b;
  }
  static const V& result(const accumulator& a) { return a.value; }
};

template <class V>
struct timed_values_accumulator {
  std::map<timestamp, std::vector<V>> values;  // per timestamp, in arrival order
  template <class Archive>
  void serialize(Archive& ar) {
    ar(values);
  }
};

template <class P, class V, bool Last>
struct bound_retractable_first_last {
  using accumulator = timed_values_accumulator<V>;
  [[no_unique_address]] P proj;
  static accumulator init() { return {}; }
  template <class T>
  void add(accumulator& a, const T& r, timestamp t) const {
    a.values[t].push_back(std::invoke(proj, r));
  }
  template <class T>
  void retract(accumulator& a, const T& r, timestamp t) const {
    const auto it = a.values.find(t);
    if (it == a.values.end()) return;  // never added: the input's error
    auto& vs = it->second;
    const V v = std::invoke(proj, r);
    const auto hit = std::find(vs.rbegin(), vs.rend(), v);
    if (hit == vs.rend()) return;
    vs.erase(std::next(hit).base());
    if (vs.empty()) a.values.erase(it);
  }
  static void merge(accumulator& a, const accumulator& b) {
    for (const auto& [t, vs] : b.values) {
      auto& into = a.values[t];
      into.insert(into.end(), vs.begin(), vs.end());
    }
  }
  static V result(const accumulator& a) {
    if (a.values.empty()) return V{};
    if constexpr (Last) {
      return a.values.rbegin()->second.back();
    } else {
      return a.values.begin()->second.front();
    }
  }
};

template <class P, bool Last>
struct first_last_aggregate {
  P proj;
  template <class T, bool Retracting>
  auto bind() const {
    using V = detail::projected_t<P, T>;
    if constexpr (Retracting) {
      return bound_retractable_first_last<P, V, Last>{proj};
    } else {
      return bound_first_last<P, V, Last>{proj};
    }
  }
};

/// The value of the earliest record by event time.
template <class P>
first_last_aggregate<P, false> first(P proj) {
  return {std::move(proj)};
}

/// The value of the latest record by event time.
template <class P>
first_last_aggregate<P, true> last(P proj) {
  return {std::move(proj)};
}

}  // namespace laminar
