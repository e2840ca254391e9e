// The refinements every window operator factory offers (.emit(mode),
// .allowed_lateness(d), .keyed_watermarks(d)), written once: each factory
// holds its window_settings as `settings` and forwards to these.
#pragma once

#include <string>

#include "laminar/core/error.hpp"
#include "laminar/core/time.hpp"
#include "laminar/window/emit.hpp"

namespace laminar::detail {

// The last of .emit(mode) and .emit_every(period) wins: a mode turns
// early results off.
template <class Op>
[[nodiscard]] Op with_emit_mode(Op o, emit_mode mode) {
  o.settings.mode = mode;
  o.settings.period = duration::zero();
  return o;
}

template <class Op>
[[nodiscard]] Op with_allowed_lateness(Op o, duration d) {
  if (d < duration::zero()) {
    throw usage_error("laminar: allowed lateness must not be negative, got " + std::to_string(d.nanos()) + "ns");
  }
  o.settings.allowed_lateness = d;
  return o;
}

template <class Op>
[[nodiscard]] Op with_keyed_watermarks(Op o, duration out_of_orderness) {
  if (out_of_orderness < duration::zero()) {
    throw usage_error("laminar: keyed watermarks: out-of-orderness must not be negative, got " +
                      std::to_string(out_of_orderness.nanos()) + "ns");
  }
  o.settings.keyed_watermarks = true;
  o.settings.out_of_orderness = out_of_orderness;
  return o;
}

}  // namespace laminar::detail
