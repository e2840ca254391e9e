// When a window operator's results leave it.
//
//   final_only  one +I row per (key, window), when the watermark passes the
//               window's end plus the allowed lateness: never corrected.
//   on_close    a +I row when the watermark passes the window's end; each
//               record that then arrives within the allowed lateness emits
//               the correction at once (-U of the previous row, +U of the
//               new one). The window's state is dropped at end + lateness.
//               With no allowed lateness this is final_only.
//   on_update   a changelog: every record emits its windows' changes at
//               once (+I for a key's first row in a window, then -U/+U, and
//               -D when retractions empty a group), for dashboards that want
//               every intermediate result.
#pragma once

#include <cstdint>

#include "laminar/core/time.hpp"

namespace laminar {

enum class emit_mode : std::uint8_t { final_only, on_close, on_update };

struct window_settings {
  emit_mode mode = emit_mode::on_close;
  duration allowed_lateness{};
};

}  // namespace laminar
