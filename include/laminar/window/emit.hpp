// When a window operator's results leave it: the emit modes
// (core/emit.hpp) as windows apply them.
//
//   final       one +I row per (key, window), when the watermark passes the
//               window's end plus the allowed lateness: never corrected.
//   on_close    a +I row when the watermark passes the window's end; each
//               record that then arrives within the allowed lateness emits
//               the correction at once (-U of the previous row, +U of the
//               new one). The window's state is dropped at end + lateness.
//               With no allowed lateness this is final.
//   eager       a changelog: every record emits its windows' changes at
//               once (+I for a key's first row in a window, then -U/+U, and
//               -D when retractions empty a group), for dashboards that want
//               every intermediate result.
//   .emit_every(period, domain) (on_close with early results; not an
//               emit_mode, since it needs its period): each time the watermark crosses a multiple of
//               the period (event time), or the period elapses on the
//               processing-time clock that the pipeline's tick(now), or
//               a graph worker's tick, delivers (processing time), every
//               window that has not fired yet emits the groups whose
//               result changed since its last emission: +I the first
//               time, then -U/+U. When the
//               watermark passes the window's end, the final result
//               follows as one more change (or +I if nothing was emitted
//               early), and corrections within the allowed lateness as in
//               on_close. The output is a changelog, like eager's, at
//               most one change per group and window per period.
#pragma once

#include <cstddef>
#include <cstdint>

#include "laminar/core/emit.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

/// Which clock a periodic trigger follows.
enum class time_domain : std::uint8_t { event_time, processing_time };

/// What a window operator is configured with (each operator uses the
/// fields that apply to it).
struct window_settings {
  emit_mode mode = emit_mode::on_close;
  duration allowed_lateness{};
  duration period{};  // emit_every: the interval between early results (zero: none)
  time_domain period_domain = time_domain::event_time;
  /// emit_every(period) is set: early results, then on_close's.
  [[nodiscard]] bool periodic() const noexcept { return period > duration::zero(); }
  bool keyed_watermarks = false;  // each key also keeps its own watermark:
  duration out_of_orderness{};    // its highest timestamp minus this
  std::size_t dense_keys = std::size_t{1} << 26;  // dense_keys(n): keys are below n
};

}  // namespace laminar
