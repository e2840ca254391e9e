// The factories of tumbling, hopping and cumulate windows:
//   tumbling(size[, offset]) / hopping(size, slide[, offset]) /
//   cumulate(step, max_size[, offset])
//     .aggregate(agg)[.emit(mode)|.emit_every(period, domain)]
//     [.allowed_lateness(d)][.late_to(out)][.dense_keys()]
// Binding one to its input makes the stage of sliced_window.hpp.
#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include "laminar/aggregate/aggregate.hpp"
#include "laminar/aggregate/changelog.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/window/assigners.hpp"
#include "laminar/window/emit.hpp"
#include "laminar/window/late.hpp"
#include "laminar/window/sliced_window.hpp"
#include "laminar/window/window_row.hpp"

namespace laminar {

/// A window operator factory: the assigner, the aggregate and the settings;
/// built by tumbling(...).aggregate(...) and friends, refined by
/// .emit(mode), .allowed_lateness(d), .late_to(output) and .dense_keys().
template <class Assigner, class Agg, class Late = detail::no_late_output, bool Dense = false>
struct sliced_window_operator {
  using is_operator = void;
  Assigner assigner;
  Agg agg;
  window_settings settings{};
  Late late{};

  /// When results leave (emit.hpp).
  [[nodiscard]] sliced_window_operator emit(emit_mode mode) const {
    sliced_window_operator o = *this;
    o.settings.mode = mode;
    return o;
  }
  /// Early results every `period` of event time (the watermark crossing a
  /// multiple of it) or of processing time (the pipeline's tick), then the
  /// final result and corrections: see emit_mode::periodic.
  [[nodiscard]] sliced_window_operator emit_every(duration period, time_domain domain = time_domain::event_time) const {
    if (period <= duration::zero()) {
      throw usage_error("laminar: emit_every: the period must be positive, got " + std::to_string(period.nanos()) + "ns");
    }
    sliced_window_operator o = *this;
    o.settings.mode = emit_mode::periodic;
    o.settings.period = period;
    o.settings.period_domain = domain;
    return o;
  }
  /// How long after a window's end records are still added to it.
  [[nodiscard]] sliced_window_operator allowed_lateness(duration d) const {
    if (d < duration::zero()) throw usage_error("laminar: allowed lateness must not be negative");
    sliced_window_operator o = *this;
    o.settings.allowed_lateness = d;
    return o;
  }
  /// Where records later than the allowed lateness go: a callable taking
  /// the record (kept by value), or a late_records<T> (kept by reference).
  template <class F>
  [[nodiscard]] auto late_to(F&& output) const {
    return sliced_window_operator<Assigner, Agg, detail::side_output_holder_t<F>, Dense>{
        assigner, agg, settings, detail::hold_side_output(std::forward<F>(output))};
  }
  /// Keys are small non-negative integers (symbol ids): index an array by
  /// them instead of hashing.
  [[nodiscard]] auto dense_keys() const { return sliced_window_operator<Assigner, Agg, Late, true>{assigner, agg, settings, late}; }

  template <class Ctx>
  auto output_context(const Ctx&) const {
    static_assert(Ctx::timed(),
                  "laminar: a window needs event time: put with_watermarks(...) or event_time(...) before it");
    using T = typename Ctx::value_type;
    using bound = detail::bound_aggregate_t<T, changelog_row<T>, Agg>;
    using row = window_row<detail::window_key_t<Ctx>, aggregate_result_t<bound>>;
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
    if (settings.mode == emit_mode::periodic && settings.period <= duration::zero()) {
      throw usage_error("laminar: emit_mode::periodic needs a period: use .emit_every(period[, domain])");
    }
    auto bound = detail::bind_aggregate<T, changelog_row<T>>(agg);
    using stage = detail::sliced_window_stage<std::remove_cvref_t<Next>, Ctx, Assigner, decltype(bound), Late, Dense>;
    return stage(std::forward<Next>(next), ctx, assigner, std::move(bound), settings, std::move(late));
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
