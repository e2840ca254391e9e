// variance and standard deviation (population and sample), by Welford's
// update, Chan's merge and the inverse update for retractions: one pass, no
// records kept, numerically stable.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <utility>

#include "laminar/aggregate/aggregate.hpp"

namespace laminar {

struct moments_accumulator {
  std::int64_t n = 0;
  double mean = 0;
  double m2 = 0;  // sum of squared deviations from the mean
  template <class Archive>
  void serialize(Archive& ar) {
    ar(n, mean, m2);
  }
};

enum class variance_kind : std::uint8_t { population_variance, sample_variance, population_stddev, sample_stddev };

template <class P, variance_kind Kind>
struct bound_variance {
  using accumulator = moments_accumulator;
  [[no_unique_address]] P proj;
  static accumulator init() { return {}; }
  template <class T>
  void add(accumulator& a, const T& r) const {
    const double x = static_cast<double>(std::invoke(proj, r));
    ++a.n;
    const double d = x - a.mean;
    a.mean += d / static_cast<double>(a.n);
    a.m2 += d * (x - a.mean);
  }
  template <class T>
  void retract(accumulator& a, const T& r) const {
    const double x = static_cast<double>(std::invoke(proj, r));
    if (a.n <= 1) {
      a = {};
      return;
    }
    const double mean_without = (a.mean * static_cast<double>(a.n) - x) / static_cast<double>(a.n - 1);
    a.m2 -= (x - a.mean) * (x - mean_without);
    if (a.m2 < 0) a.m2 = 0;  // rounding
    a.mean = mean_without;
    --a.n;
    if (a.n == 1) a.m2 = 0;  // exact for one record: no rounding residue
  }
  static void merge(accumulator& a, const accumulator& b) {
    if (b.n == 0) return;
    if (a.n == 0) {
      a = b;
      return;
    }
    const double n = static_cast<double>(a.n + b.n);
    const double d = b.mean - a.mean;
    a.m2 += b.m2 + d * d * static_cast<double>(a.n) * static_cast<double>(b.n) / n;
    a.mean += d * static_cast<double>(b.n) / n;
    a.n += b.n;
  }
  /// NaN when undefined (no records; one record for the sample forms).
  static double result(const accumulator& a) {
    constexpr bool sample = Kind == variance_kind::sample_variance || Kind == variance_kind::sample_stddev;
    const std::int64_t d = sample ? a.n - 1 : a.n;
    if (d <= 0) return std::numeric_limits<double>::quiet_NaN();
    const double var = a.m2 / static_cast<double>(d);
    if constexpr (Kind == variance_kind::population_stddev || Kind == variance_kind::sample_stddev) {
      return std::sqrt(var);
    } else {
      return var;
    }
  }
};

template <class P, variance_kind Kind>
struct variance_aggregate {
  P proj;
  template <class T, bool>
  auto bind() const {
    return bound_variance<P, Kind>{proj};
  }
};

/// Population variance (divides by n).
template <class P>
variance_aggregate<P, variance_kind::population_variance> variance(P proj) {
  return {std::move(proj)};
}
/// Sample variance (divides by n - 1).
template <class P>
variance_aggregate<P, variance_kind::sample_variance> sample_variance(P proj) {
  return {std::move(proj)};
}
/// Population standard deviation.
template <class P>
variance_aggregate<P, variance_kind::population_stddev> stddev(P proj) {
  return {std::move(proj)};
}
/// Sample standard deviation.
template <class P>
variance_aggregate<P, variance_kind::sample_stddev> sample_stddev(P proj) {
  return {std::move(proj)};
}

}  // namespace laminar
