// Window assigners: which windows a record's event time falls into. All are
// values (durations), aligned to the epoch plus an offset.
//
//   tumbling(size[, offset])        [k*size + offset, (k+1)*size + offset)
//   hopping(size, slide[, offset])  windows of `size` starting every `slide`
//   cumulate(step, max_size[, offset])
//                                   Flink's CUMULATE: within each max_size
//                                   period, windows [period start, +step),
//                                   [period start, +2 step), ... up to the
//                                   whole period
//
// The operators store state per *slice*, the largest interval that every
// window boundary is a multiple of (size for tumbling, gcd(size, slide) for
// hopping, step for cumulate), and build each window by merging its slices:
// a record updates one slice, never every window it is in.
//
// The ends of time. Grid points can lie beyond int64: the arithmetic below
// is exact all the same, and a window is reported with its bounds clamped
// to [timestamp::min(), timestamp::max()]:
// - near timestamp::min(), a window (or slice) that starts before the
//   beginning of time has start min(); its end is exact.
// - near timestamp::max(), the windows whose ends are at or beyond max()
//   are reported as one window ending at max(), starting where the first of
//   them starts, holding each of their records once; all of them close only
//   when the watermark reaches the end of time. (Tumbling and cumulate
//   windows that reach it hold the same records anyway; for hopping windows
//   the one row stands for them all.) A slice never starts at max() itself:
//   a grid point there belongs to the slice before it.
// So every record is in its windows' rows or is late, at any timestamp.
#pragma once

#include <cstdint>
#include <limits>
#include <numeric>
#include <string>

#include "laminar/core/error.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

namespace detail {

/// (t - offset) mod unit, in [0, unit), exact for any t; `offset` is in [0, unit).
inline std::int64_t grid_phase(timestamp t, std::int64_t unit, std::int64_t offset) noexcept {
  std::int64_t r = t.nanos() % unit;
  if (r < 0) r += unit;
  r -= offset;
  return r < 0 ? r + unit : r;
}

/// The grid point (k * unit + offset) at or before t. Near INT64_MIN, where
/// that point would lie before the beginning of time, it is timestamp::min().
inline timestamp floor_to_grid(timestamp t, std::int64_t unit, std::int64_t offset) noexcept {
  return t - duration::from_nanos(grid_phase(t, unit, offset));  // saturates at min()
}

/// The first grid point strictly after t, or timestamp::max() when it lies
/// at or beyond the end of time.
inline timestamp grid_after(timestamp t, std::int64_t unit, std::int64_t offset) noexcept {
  return t + duration::from_nanos(unit - grid_phase(t, unit, offset));  // saturates at max()
}

/// The first grid point at or after t (t is below max() - unit).
inline timestamp grid_at_or_after(timestamp t, std::int64_t unit, std::int64_t offset) noexcept {
  const std::int64_t r = grid_phase(t, unit, offset);
  return r == 0 ? t : t + duration::from_nanos(unit - r);
}

/// (x + y) mod m for x, y in [0, m), without overflow.
inline std::int64_t add_mod(std::int64_t x, std::int64_t y, std::int64_t m) noexcept {
  return x >= m - y ? x - (m - y) : x + y;
}

/// floor_to_grid(a + d) for d >= 0, where a + d may lie beyond the end of
/// time: then timestamp::max() if that grid point does too.
inline timestamp floor_to_grid_after(timestamp a, std::int64_t d, std::int64_t unit, std::int64_t offset) noexcept {
  // (a + d - offset) mod unit from a's phase and d's: a + d is never formed.
  const std::int64_t r = add_mod(grid_phase(a, unit, offset), d % unit, unit);
  return d >= r ? a + duration::from_nanos(d - r) : a - duration::from_nanos(r - d);
}

/// The start of the slice holding t: floor_to_grid, except that a grid
/// point at timestamp::max() starts no slice (see the ends of time above).
inline timestamp slice_start(timestamp t, std::int64_t unit, std::int64_t offset) noexcept {
  const timestamp a = floor_to_grid(t, unit, offset);
  return a == timestamp::max() ? a - duration::from_nanos(unit) : a;
}

inline void check_positive(duration d, const char* what) {
  if (d.nanos() <= 0) throw usage_error(std::string("laminar: ") + what + " must be positive, got " + std::to_string(d.nanos()) + "ns");
}

inline std::int64_t normalized_offset(duration offset, std::int64_t unit) noexcept {
  std::int64_t o = offset.nanos() % unit;
  return o < 0 ? o + unit : o;
}

}  // namespace detail

/// The grid arithmetic every slice-based window needs. Slice starts come
/// from detail::slice_start(t, slice_unit(), grid_offset()), slice ends from
/// detail::grid_after; window ends are exact below timestamp::max() and
/// saturate there (see the ends of time above).
struct tumbling_window {
  duration size;
  duration offset{};

  [[nodiscard]] std::int64_t slice_unit() const noexcept { return size.nanos(); }
  [[nodiscard]] std::int64_t grid_offset() const noexcept { return detail::normalized_offset(offset, size.nanos()); }
  /// The first window end after slice start `a` (the earliest window containing the slice).
  [[nodiscard]] timestamp first_end(timestamp a) const noexcept {
    // A slice start is on the grid unless it was clamped at the beginning of time.
    return a != timestamp::min() ? a + size : detail::grid_after(a, size.nanos(), grid_offset());
  }
  /// The last window end whose window contains slice start `a`.
  [[nodiscard]] timestamp last_end(timestamp a) const noexcept { return first_end(a); }
  [[nodiscard]] timestamp next_end(timestamp e) const noexcept { return e + size; }
  [[nodiscard]] timestamp window_start(timestamp e) const noexcept {
    return e == timestamp::max() ? detail::grid_at_or_after(e - size, size.nanos(), grid_offset()) : e - size;
  }
  void validate() const { detail::check_positive(size, "tumbling window size"); }
};

struct hopping_window {
  duration size;
  duration slide;
  duration offset{};

  [[nodiscard]] std::int64_t slice_unit() const noexcept { return std::gcd(size.nanos(), slide.nanos()); }
  [[nodiscard]] std::int64_t grid_offset() const noexcept { return detail::normalized_offset(offset, slice_unit()); }
  /// Windows start on the slide grid (k * slide + offset), so their ends lie
  /// on that grid shifted by the size.
  [[nodiscard]] std::int64_t end_offset() const noexcept {
    const std::int64_t s = slide.nanos();
    return detail::add_mod(detail::normalized_offset(offset, s), size.nanos() % s, s);
  }
  /// The first window end strictly after a.
  [[nodiscard]] timestamp first_end(timestamp a) const noexcept {
    return detail::grid_after(a, slide.nanos(), end_offset());
  }
  /// The last end e whose window contains the slice at a: e <= (the slice's
  /// true start, before a near timestamp::min()) + size, on the end grid.
  [[nodiscard]] timestamp last_end(timestamp a) const noexcept {
    const std::int64_t into_slice = detail::grid_phase(a, slice_unit(), grid_offset());  // 0 unless clamped
    return detail::floor_to_grid_after(a, size.nanos() - into_slice, slide.nanos(), end_offset());
  }
  [[nodiscard]] timestamp next_end(timestamp e) const noexcept { return e + slide; }
  [[nodiscard]] timestamp window_start(timestamp e) const noexcept {
    if (e != timestamp::max()) return e - size;
    // The first window that reaches the end of time: the first start at or after max() - size.
    return detail::grid_at_or_after(e - size, slide.nanos(), detail::normalized_offset(offset, slide.nanos()));
  }
  void validate() const {
    detail::check_positive(size, "hopping window size");
    detail::check_positive(slide, "hopping window slide");
    if (slide > size) {
      throw usage_error("laminar: hopping window slide (" + std::to_string(slide.nanos()) + "ns) is larger than its size (" +
                        std::to_string(size.nanos()) + "ns): records between windows would belong to none");
    }
  }
};

struct cumulate_window {
  duration step;
  duration max_size;
  duration offset{};

  [[nodiscard]] std::int64_t slice_unit() const noexcept { return step.nanos(); }
  [[nodiscard]] std::int64_t grid_offset() const noexcept { return detail::normalized_offset(offset, step.nanos()); }
  [[nodiscard]] std::int64_t period_offset() const noexcept {
    return detail::normalized_offset(offset, max_size.nanos());
  }
  /// The start of the period holding t (timestamp::min() for the one that
  /// starts before the beginning of time).
  [[nodiscard]] timestamp period_start(timestamp t) const noexcept {
    return detail::floor_to_grid(t, max_size.nanos(), period_offset());
  }
  [[nodiscard]] timestamp first_end(timestamp a) const noexcept {
    return a != timestamp::min() ? a + step : detail::grid_after(a, step.nanos(), grid_offset());
  }
  /// The end of the period holding slice start `a`.
  [[nodiscard]] timestamp last_end(timestamp a) const noexcept {
    return detail::grid_after(a, max_size.nanos(), period_offset());
  }
  [[nodiscard]] timestamp next_end(timestamp e) const noexcept { return e + step; }
  /// The window ending at e starts at its period's start; at timestamp::max(),
  /// that of the first window reaching it (the period holding max() - 1ns).
  [[nodiscard]] timestamp window_start(timestamp e) const noexcept {
    return period_start(timestamp::from_nanos(e.nanos() == std::numeric_limits<std::int64_t>::min() ? e.nanos() : e.nanos() - 1));
  }
  void validate() const {
    detail::check_positive(step, "cumulate window step");
    detail::check_positive(max_size, "cumulate window max size");
    if (max_size.nanos() % step.nanos() != 0) {
      throw usage_error("laminar: cumulate window max size (" + std::to_string(max_size.nanos()) +
                        "ns) must be a multiple of its step (" + std::to_string(step.nanos()) + "ns)");
    }
  }
};

}  // namespace laminar
