// sink(f): calls f(record) for every record; optionally g(watermark) too.
#pragma once

#include <concepts>
#include <functional>
#include <type_traits>
#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

/// Marker for a sink without a watermark callback.
struct ignore_watermarks {
  void operator()(timestamp) const noexcept {}
};

template <class In, class F, class W>
class callback_sink : public consuming_stage {
 public:
  /// Without a watermark callback, watermarks cost nothing here.
  static constexpr bool absorbs_repeated_watermarks = std::is_same_v<W, ignore_watermarks>;

  callback_sink(F f, W w) : f_(std::move(f)), w_(std::move(w)) {}
  void on_event(const In& event) { std::invoke(f_, event); }
  void on_watermark(timestamp watermark) { std::invoke(w_, watermark); }

 private:
  [[no_unique_address]] F f_;
  [[no_unique_address]] W w_;
};

template <class F, class W>
struct callback_sink_factory {
  using is_sink = void;
  F f;
  W w;
  template <class Ctx>
  auto bind(const Ctx&) && {
    using In = typename Ctx::value_type;
    static_assert(std::invocable<F&, const In&>, "laminar::sink: the callback cannot be called with the stream's record type");
    static_assert(std::invocable<W&, timestamp>, "laminar::sink: the watermark callback must take a laminar::timestamp");
    return callback_sink<In, F, W>(std::move(f), std::move(w));
  }
};

/// Ends a chain by calling f for every record (and w for every watermark).
template <class F, class W = ignore_watermarks>
auto sink(F f, W w = {}) {
  return callback_sink_factory<F, W>{std::move(f), std::move(w)};
}

}  // namespace laminar
