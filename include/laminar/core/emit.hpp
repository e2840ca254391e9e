// When an operator's results leave it: one emit_mode for every operator
// that can hold results back (windows, the ASOF join). Each operator
// accepts the modes that mean something for it (see its header); a mode
// it does not support is a usage_error at the .emit(mode) call.
//
// Periodic early results are not a mode: they need a period, so windows
// set them with .emit_every(period[, domain]) alone, and
// .emit(emit_mode::periodic) cannot be written (it does not compile).
//
//   final     one result per row, once exact (the watermark has passed
//             what it depends on): never corrected. The ASOF join's
//             default, and windows' final result at end + allowed lateness.
//   on_close  windows: the result when the watermark passes the window's
//             end, then corrections (-U/+U) within the allowed lateness.
//   eager     at once, from what has arrived: the ASOF join joins a left
//             record on arrival; windows emit every record's changes as a
//             changelog.
#pragma once

#include <cstdint>

namespace laminar {

enum class emit_mode : std::uint8_t { final, on_close, eager };

[[nodiscard]] inline const char* to_string(emit_mode m) noexcept {
  switch (m) {
    case emit_mode::final: return "final";
    case emit_mode::on_close: return "on_close";
    case emit_mode::eager: return "eager";
  }
  return "unknown";
}

}  // namespace laminar
