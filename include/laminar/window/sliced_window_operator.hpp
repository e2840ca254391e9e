// The factories of tumbling, hopping and cumulate windows:
//   tumbling(size[, offset]) / hopping(size, slide[, offset]) /
//   cumulate(step, max_size[, offset])
//     .aggregate(agg)[.emit(mode)|.emit_every(period, domain)]
//     [.allowed_lateness(d)][.late_to(out)][.dense_keys() | .keyed_watermarks(d)]
// Binding one to its input makes the stage of sliced_window.hpp, or with
// keyed watermarks that of keyed_sliced_window.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "laminar/aggregate/aggregate.hpp"
#include "laminar/core/changelog.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/state/key.hpp"
#include "laminar/window/assigners.hpp"
#include "laminar/window/emit.hpp"
#include "laminar/window/detail/refinements.hpp"
#include "laminar/window/keyed_sliced_window.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/window/sliced_window.hpp"
#include "laminar/window/window_row.hpp"

namespace laminar {

/// How a window stage holds its groups.
enum class window_keys : std::uint8_t {
  hashed,           ///< slice-major: per slice, a hash table of key -> accumulator
  dense,            ///< slice-major, keys index an array (small non-negative integers)
  keyed_watermarks  ///< key-major, each key with its own watermark (keyed_sliced_window.hpp)
};

/// A window operator factory: the assigner, the aggregate and the settings;
/// built by tumbling(...).aggregate(...) and friends, refined by
/// .emit(mode), .emit_every(period), .allowed_lateness(d), .late_to(output),
/// and one of .dense_keys() or .keyed_watermarks(d).
template <class Assigner, class Agg, class Late = detail::discard_side_output, window_keys Keys = window_keys::hashed>
struct sliced_window_operator {
  using is_operator = void;
  Assigner assigner;
  Agg agg;
  window_settings settings{};
  Late late{};

  /// When results leave (emit.hpp).
  [[nodiscard]] sliced_window_operator emit(emit_mode mode) const { return detail::with_emit_mode(*this, mode); }
  /// Early results every `period` of event time (the watermark crossing a
  /// multiple of it) or of processing time (the pipeline's tick), then the
  /// final result and corrections as on_close (window/emit.hpp).
  [[nodiscard]] sliced_window_operator emit_every(duration period, time_domain domain = time_domain::event_time) const {
    if (period <= duration::zero()) {
      throw usage_error("laminar: emit_every: the period must be positive, got " + std::to_string(period.nanos()) + "ns");
    }
    sliced_window_operator o = *this;
    o.settings.mode = emit_mode::on_close;
    o.settings.period = period;
    o.settings.period_domain = domain;
    return o;
  }
  /// How long after a window's end records are still added to it.
  [[nodiscard]] sliced_window_operator allowed_lateness(duration d) const {
    return detail::with_allowed_lateness(*this, d);
  }
  /// Where records later than the allowed lateness go: a callable taking
  /// the record (kept by value), or a side_records<T> (kept by reference).
  template <class F>
  [[nodiscard]] auto late_to(F&& output) const {
    return sliced_window_operator<Assigner, Agg, detail::side_output_holder_t<F>, Keys>{
        assigner, agg, settings, detail::hold_side_output(std::forward<F>(output))};
  }
  /// Keys are integers in [0, n) (symbol ids), as for the joins' dense_keys:
  /// a key's group is found by indexing an array, not by hashing. A key
  /// outside [0, n) is a usage_error. n is at most 2^26 (the array grows to
  /// the largest key seen); use hashed keys for sparse key spaces.
  [[nodiscard]] auto dense_keys(std::size_t n = detail::max_dense_key) const {
    static_assert(Keys != window_keys::keyed_watermarks,
                  "laminar: dense_keys() and keyed_watermarks() do not combine: keyed watermarks keep state per key");
    if (n == 0 || n > detail::max_dense_key) {
      throw usage_error("laminar: window: dense_keys(n) needs 0 < n <= " + std::to_string(detail::max_dense_key) +
                        ", got " + std::to_string(n) + "; use hashed keys for sparse key spaces");
    }
    sliced_window_operator<Assigner, Agg, Late, window_keys::dense> o{assigner, agg, settings, late};
    o.settings.dense_keys = n;
    return o;
  }
  /// Each key also keeps its own watermark, its highest timestamp minus
  /// `out_of_orderness`: its windows fire and close, and its records are
  /// judged late, by the later of that and the stream watermark, so a slow
  /// key's records are not made late by fast keys, and a busy key's windows
  /// fire without waiting for the slowest (keyed_sliced_window.hpp).
  [[nodiscard]] auto keyed_watermarks(duration out_of_orderness) const {
    static_assert(Keys != window_keys::dense,
                  "laminar: dense_keys() and keyed_watermarks() do not combine: keyed watermarks keep state per key");
    return detail::with_keyed_watermarks(
        sliced_window_operator<Assigner, Agg, Late, window_keys::keyed_watermarks>{assigner, agg, settings, late},
        out_of_orderness);
  }
  template <class Ctx>
  auto output_context(const Ctx&) const {
    static_assert(Ctx::timed(),
                  "laminar: a window needs event time: put with_watermarks(...) or event_time(...) before it");
    using T = typename Ctx::value_type;
    using bound = detail::bound_aggregate_t<T, changelog_row<T>, Agg>;
    using row = window_row<detail::group_key_t<Ctx>, aggregate_result_t<bound>>;
    if constexpr (Ctx::keyed()) {
      return stream_context<row, detail::window_row_key, detail::window_row_time>{};
    } else {
      return stream_context<row, no_projection, detail::window_row_time>{};
    }
  }

  template <class Ctx, class Next>
  auto bind(const Ctx& ctx, Next&& next) && {
    (void)output_context(ctx);
    using T = typename Ctx::value_type;
    assigner.validate();
    auto bound = detail::bind_aggregate<T, changelog_row<T>>(agg);
    if constexpr (Keys == window_keys::keyed_watermarks) {
      static_assert(Ctx::keyed(),
                    "laminar: keyed_watermarks() needs a keyed stream: put key_by(...) before the window (a global "
                    "window has one key, whose watermark is the stream's: use with_watermarks(...) for it)");
      if (settings.periodic()) {
        throw usage_error(
            "laminar: keyed_watermarks() windows do not support emit_every() (they support .emit(final, "
            "on_close or eager)): each key fires on its own watermark, so there is no common period");
      }
      using stage = detail::keyed_sliced_window_stage<std::remove_cvref_t<Next>, Ctx, Assigner, decltype(bound), Late>;
      return stage(std::forward<Next>(next), ctx, assigner, std::move(bound), settings, std::move(late));
    } else {
      using stage = detail::sliced_window_stage<std::remove_cvref_t<Next>, Ctx, Assigner, decltype(bound), Late,
                                                Keys == window_keys::dense>;
      return stage(std::forward<Next>(next), ctx, assigner, std::move(bound), settings, std::move(late));
    }
  }
};

/// A window shape before its aggregate is named: tumbling(1s).aggregate(sum(&trade::qty)).
template <class Assigner>
struct window_spec {
  Assigner assigner;
  template <class Agg>
  [[nodiscard]] sliced_window_operator<Assigner, Agg> aggregate(Agg agg) const {
    assigner.validate();
    return {assigner, std::move(agg)};
  }
};

/// Tumbling windows [k*size + offset, (k+1)*size + offset).
inline window_spec<tumbling_window> tumbling(duration size, duration offset = duration::zero()) {
  return {{size, offset}};
}
/// Hopping (sliding) windows of `size`, one starting every `slide`.
inline window_spec<hopping_window> hopping(duration size, duration slide, duration offset = duration::zero()) {
  return {{size, slide, offset}};
}
/// Cumulating windows: every `step`, the window from the start of the
/// current `max_size` period to now.
inline window_spec<cumulate_window> cumulate(duration step, duration max_size, duration offset = duration::zero()) {
  return {{step, max_size, offset}};
}

}  // namespace laminar
