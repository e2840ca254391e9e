// A base for stages that transform records but pass watermarks, barriers and
// the end of input straight on. Built-in stateless operators use it; so can
// user stages (it is part of the public API, not a back door).
#pragma once

#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

template <class Next>
class forwarding_stage {
 public:
  explicit forwarding_stage(Next next) noexcept(std::is_nothrow_move_constructible_v<Next>) : next_(std::move(next)) {}

  void on_watermark(timestamp watermark) { next_.on_watermark(watermark); }
  void on_barrier(const checkpoint_barrier& barrier) { next_.on_barrier(barrier); }
  void on_end() { next_.on_end(); }
  /// Processing time (the pipeline's tick), for stages with processing-time
  /// triggers further down; a stage that has none ignores it.
  void on_processing_time(timestamp now) {
    if constexpr (requires { next_.on_processing_time(now); }) next_.on_processing_time(now);
  }

  /// The rest of the chain.
  [[nodiscard]] Next& downstream() noexcept { return next_; }
  [[nodiscard]] const Next& downstream() const noexcept { return next_; }

 protected:
  [[no_unique_address]] Next next_;
};

}  // namespace laminar
