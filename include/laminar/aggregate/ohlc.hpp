// Trading aggregates: OHLC bars and VWAP.
//
// ohlc(&tick::price) is first, max, min and last of the price in one
// accumulator (open and close by event time, with first/last's tie rules),
// with a flat accumulator on insert-only input and the retractable parts
// otherwise. vwap(&trade::price, &trade::qty) is sum(price * qty) / sum(qty).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <ostream>
#include <utility>

#include "laminar/aggregate/basic.hpp"
#include "laminar/aggregate/composite.hpp"
#include "laminar/aggregate/first_last.hpp"

namespace laminar {

template <class V>
struct ohlc_bar {
  V open{};
  V high{};
  V low{};
  V close{};
  friend bool operator==(const ohlc_bar&, const ohlc_bar&) = default;
  friend std::ostream& operator<<(std::ostream& os, const ohlc_bar& b) {
    return os << "O " << b.open << " H " << b.high << " L " << b.low << " C " << b.close;
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(open, high, low, close);
  }
};

/// Empty while close_time < open_time (as made): no flag, so that with a
/// 64-bit price the accumulator is 48 bytes and a window group holding it
/// and a sum fits one cache line.
template <class V>
struct ohlc_accumulator {
  timestamp open_time = timestamp::max();
  timestamp close_time = timestamp::min();
  ohlc_bar<V> bar{};
  [[nodiscard]] bool empty() const noexcept { return close_time < open_time; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(open_time, close_time, bar);
  }
};

/// Insert-only OHLC: one flat accumulator, four compares per record.
template <class P, class V>
struct bound_ohlc {
  using accumulator = ohlc_accumulator<V>;
  [[no_unique_address]] P proj;
  static accumulator init() { return {}; }
  template <class T>
  void add(accumulator& a, const T& r, timestamp t) const {
    const V v = std::invoke(proj, r);
    if (a.empty()) [[unlikely]] {
      a = {t, t, {v, v, v, v}};
      return;
    }
    if (t < a.open_time) {
      a.open_time = t;
      a.bar.open = v;
    }
    if (t >= a.close_time) {
      a.close_time = t;
      a.bar.close = v;
    }
    // Selects, not branches: the compiler makes them max/min instructions.
    a.bar.high = a.bar.high < v ? v : a.bar.high;
    a.bar.low = v < a.bar.low ? v : a.bar.low;
  }
  static void merge(accumulator& a, const accumulator& b) {
    if (b.empty()) return;
    if (a.empty()) {
      a = b;
      return;
    }
    if (b.open_time < a.open_time) {
      a.open_time = b.open_time;
      a.bar.open = b.bar.open;
    }
    if (b.close_time >= a.close_time) {
      a.close_time = b.close_time;
      a.bar.close = b.bar.close;
    }
    if (a.bar.high < b.bar.high) a.bar.high = b.bar.high;
    if (b.bar.low < a.bar.low) a.bar.low = b.bar.low;
  }
  static const ohlc_bar<V>& result(const accumulator& a) { return a.bar; }
};

template <class P>
struct ohlc_aggregate {
  P proj;
  template <class T, bool Retracting>
  auto bind() const {
    using V = detail::projected_t<P, T>;
    if constexpr (Retracting) {
      return laminar::aggregates_into<ohlc_bar<V>>(laminar::first(proj), laminar::max(proj), laminar::min(proj),
                                                   laminar::last(proj))
          .template bind<T, true>();
    } else {
      return bound_ohlc<P, V>{proj};
    }
  }
};

/// Open, high, low and close of a price projection, as an ohlc_bar.
template <class P>
ohlc_aggregate<P> ohlc(P price) {
  return {std::move(price)};
}

struct vwap_accumulator {
  double notional = 0;
  double quantity = 0;
  std::int64_t n = 0;  // records held: an emptied group is NaN despite rounding residue
  template <class Archive>
  void serialize(Archive& ar) {
    ar(notional, quantity, n);
  }
};

template <class P, class Q>
struct bound_vwap {
  using accumulator = vwap_accumulator;
  [[no_unique_address]] P price;
  [[no_unique_address]] Q qty;
  static accumulator init() { return {}; }
  template <class T>
  void add(accumulator& a, const T& r) const {
    const double q = static_cast<double>(std::invoke(qty, r));
    a.notional += static_cast<double>(std::invoke(price, r)) * q;
    a.quantity += q;
    ++a.n;
  }
  template <class T>
  void retract(accumulator& a, const T& r) const {
    const double q = static_cast<double>(std::invoke(qty, r));
    a.notional -= static_cast<double>(std::invoke(price, r)) * q;
    a.quantity -= q;
    if (--a.n == 0) a = {};
  }
  static void merge(accumulator& a, const accumulator& b) {
    a.notional += b.notional;
    a.quantity += b.quantity;
    a.n += b.n;
  }
  /// NaN when the quantity is zero.
  static double result(const accumulator& a) {
    return a.n == 0 || a.quantity == 0 ? std::numeric_limits<double>::quiet_NaN() : a.notional / a.quantity;
  }
};

template <class P, class Q>
struct vwap_aggregate {
  P price;
  Q qty;
  template <class T, bool>
  auto bind() const {
    return bound_vwap<P, Q>{price, qty};
  }
};

/// Volume-weighted average price: sum(price * qty) / sum(qty).
template <class P, class Q>
vwap_aggregate<P, Q> vwap(P price, Q qty) {
  return {std::move(price), std::move(qty)};
}

}  // namespace laminar
