// Approximate percentiles with a relative-error guarantee (for |x| >= 1e-300;
// smaller magnitudes count as zero): a log-bucketed
// sketch (the DDSketch construction). With relative accuracy `alpha`, the
// value returned for quantile q is within alpha * |x| of x, the exact value of
// rank floor(q * (n - 1)) among the group's n values (the lower quantile).
// Buckets are counts, so the sketch merges exactly (merging two groups gives
// the sketch of the union) and retracts exactly. Memory: one bucket per
// occupied power of gamma = (1 + alpha) / (1 - alpha), about
// ln(max/min) / (2 alpha) buckets: ~1.2k for alpha = 1% over 10 decades.
#pragma once

#include <cereal/types/map.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <utility>

#include "laminar/aggregate/aggregate.hpp"
#include "laminar/core/error.hpp"

namespace laminar {

struct quantile_sketch {
  std::map<std::int32_t, std::int64_t> positive;  // bucket index -> count
  std::map<std::int32_t, std::int64_t> negative;  // by |x|
  std::int64_t zeros = 0;
  std::int64_t n = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(positive, negative, zeros, n);
  }
};

template <class P>
struct bound_percentile {
  using accumulator = quantile_sketch;
  [[no_unique_address]] P proj;
  double q;
  double gamma;
  double log_gamma;

  // |x| below this counts as zero: its bucket index would not fit.
  static constexpr double min_magnitude = 1e-300;

  static accumulator init() { return {}; }
  std::int32_t index(double magnitude) const {
    return static_cast<std::int32_t>(std::ceil(std::log(magnitude) / log_gamma));
  }
  // The bucket's representative, 2 gamma^i / (gamma + 1), computed so that
  // it cannot overflow near the top of the double range.
  double value_of(std::int32_t i) const {
    return std::min(std::pow(gamma, i - 1) * (2.0 * gamma / (gamma + 1.0)), std::numeric_limits<double>::max());
  }

  template <class T>
  void update(accumulator& a, const T& r, std::int64_t w) const {
    const double x = static_cast<double>(std::invoke(proj, r));
    if (std::isnan(x)) return;  // NaN has no rank
    a.n += w;
    // Infinities count as the largest finite magnitude.
    const double m = std::min(std::fabs(x), std::numeric_limits<double>::max());
    if (m < min_magnitude) {
      a.zeros += w;
      return;
    }
    auto& store = x > 0 ? a.positive : a.negative;
    const std::int32_t i = index(m);
    if ((store[i] += w) == 0) store.erase(i);
  }
  template <class T>
  void add(accumulator& a, const T& r) const {
    update(a, r, 1);
  }
  template <class T>
  void retract(accumulator& a, const T& r) const {
    update(a, r, -1);
  }
  static void merge(accumulator& a, const accumulator& b) {
    detail::merge_counts(a.positive, b.positive);
    detail::merge_counts(a.negative, b.negative);
    a.zeros += b.zeros;
    a.n += b.n;
  }
  /// NaN for an empty group.
  double result(const accumulator& a) const {
    if (a.n <= 0) return std::numeric_limits<double>::quiet_NaN();
    const auto rank = static_cast<std::int64_t>(std::floor(q * static_cast<double>(a.n - 1)));
    std::int64_t seen = 0;
    // Negative values from the most negative (largest |x|) up.
    for (auto it = a.negative.rbegin(); it != a.negative.rend(); ++it) {
      seen += it->second;
      if (seen > rank) return -value_of(it->first);
    }
    seen += a.zeros;
    if (seen > rank) return 0.0;
    for (const auto& [i, c] : a.positive) {
      seen += c;
      if (seen > rank) return value_of(i);
    }
    return a.positive.empty() ? 0.0 : value_of(a.positive.rbegin()->first);
  }
};

template <class P>
struct percentile_aggregate {
  P proj;
  double q;
  double alpha;
  template <class T, bool>
  auto bind() const {
    const double gamma = (1.0 + alpha) / (1.0 - alpha);
    return bound_percentile<P>{proj, q, gamma, std::log(gamma)};
  }
};

/// The q-quantile (0 <= q <= 1; 0.99 for p99) of a projection, within a
/// relative error of `relative_accuracy` (0 < a < 1, default 1%).
template <class P>
percentile_aggregate<P> percentile(P proj, double q, double relative_accuracy = 0.01) {
  if (!(q >= 0.0 && q <= 1.0)) throw usage_error("laminar::percentile: q must be within [0, 1], got " + std::to_string(q));
  // Below 1e-6 the bucket indices of extreme magnitudes no longer fit 32 bits.
  if (!(relative_accuracy >= 1e-6 && relative_accuracy < 1.0)) {
    throw usage_error("laminar::percentile: relative_accuracy must be within [1e-6, 1), got " +
                      std::to_string(relative_accuracy));
  }
  return {std::move(proj), q, relative_accuracy};
}

}  // namespace laminar
