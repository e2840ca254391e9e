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
#pragma once

#include <cstdint>
#include <limits>
#include <numeric>
#include <string>

#include "laminar/core/error.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

namespace detail {

/// floor(t - offset, unit) * unit + offset: the grid point at or before t.
/// `offset` is in [0, unit). Near INT64_MIN, where that point would lie
/// before the beginning of time, it is timestamp::min() (the policy for
/// absurd past timestamps: such records share one slice clamped there).
inline timestamp floor_to_grid(timestamp t, std::int64_t unit, std::int64_t offset) noexcept {
  const std::int64_t x = t.nanos();
  std::int64_t r = (x % unit - offset) % unit;  // (x - offset) mod unit, in (-unit, unit)
  if (r < 0) r += unit;
  if (x < std::numeric_limits<std::int64_t>::min() + r) return timestamp::min();
  return timestamp::from_nanos(x - r);
}

inline void check_positive(duration d, const char* what) {
  if (d.nanos() <= 0) throw usage_error(std::string("laminar: ") + what + " must be positive, got " + std::to_string(d.nanos()) + "ns");
}

inline std::int64_t normalized_offset(duration offset, std::int64_t unit) noexcept {
  std::int64_t o = offset.nanos() % unit;
  return o < 0 ? o + unit : o;
}

}  // namespace detail

/// The grid arithmetic every slice-based window needs. Times are slice or
/// window boundaries; window ends may saturate at timestamp::max().
struct tumbling_window {
  duration size;
  duration offset{};

  [[nodiscard]] std::int64_t slice_unit() const noexcept { return size.nanos(); }
  [[nodiscard]] std::int64_t grid_offset() const noexcept { return detail::normalized_offset(offset, size.nanos()); }
  /// The first window end after slice start `a` (the earliest window containing the slice).
  [[nodiscard]] timestamp first_end(timestamp a) const noexcept { return a + size; }
  /// The last window end whose window contains slice start `a`.
  [[nodiscard]] timestamp last_end(timestamp a) const noexcept { return a + size; }
  [[nodiscard]] timestamp next_end(timestamp e) const noexcept { return e + size; }
  [[nodiscard]] timestamp window_start(timestamp e) const noexcept { return e - size; }
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
    return detail::normalized_offset(duration::from_nanos(offset.nanos() % slide.nanos() + size.nanos() % slide.nanos()),
                                     slide.nanos());
  }
  /// The first window end strictly after a.
  [[nodiscard]] timestamp first_end(timestamp a) const noexcept {
    const timestamp f = detail::floor_to_grid(a, slide.nanos(), end_offset());
    return f + slide;
  }
  /// The last end e with window_start(e) <= a, i.e. e <= a + size, on the grid.
  [[nodiscard]] timestamp last_end(timestamp a) const noexcept {
    return detail::floor_to_grid(a + size, slide.nanos(), end_offset());
  }
  [[nodiscard]] timestamp next_end(timestamp e) const noexcept { return e + slide; }
  [[nodiscard]] timestamp window_start(timestamp e) const noexcept { return e - size; }
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
  [[nodiscard]] timestamp period_start(timestamp t) const noexcept {
    return detail::floor_to_grid(t, max_size.nanos(), detail::normalized_offset(offset, max_size.nanos()));
  }
  [[nodiscard]] timestamp first_end(timestamp a) const noexcept { return a + step; }
  [[nodiscard]] timestamp last_end(timestamp a) const noexcept { return period_start(a) + max_size; }
  [[nodiscard]] timestamp next_end(timestamp e) const noexcept { return e + step; }
  /// The window ending at e starts at its period's start.
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
