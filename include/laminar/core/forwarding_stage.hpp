// Bases that complete the stage protocol (core/stage.hpp) for a stage that
// handles only some of its messages:
//   forwarding_stage<Next>  passes every message it does not handle on to
//                           the rest of the chain (one-input operators;
//                           two-input ones use forwarding_two_input_stage
//                           in core/two_input.hpp);
//   consuming_stage         ends every message (sinks).
// A derived stage defines on_event and whichever other messages it acts on;
// one that acts on a message passes it on itself. The built-in stages use
// these bases too (they are the public API, not a back door).
#pragma once

#include <cstdint>
#include <type_traits>
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
  void on_processing_time(timestamp now) { next_.on_processing_time(now); }
  void on_checkpoint_complete(std::uint64_t checkpoint_id) { next_.on_checkpoint_complete(checkpoint_id); }
  void on_checkpoint_abort(std::uint64_t checkpoint_id) { next_.on_checkpoint_abort(checkpoint_id); }

  /// The rest of the chain.
  [[nodiscard]] Next& downstream() noexcept { return next_; }
  [[nodiscard]] const Next& downstream() const noexcept { return next_; }

 protected:
  [[no_unique_address]] Next next_;
};

/// The end of a chain: every control message stops here. A sink defines
/// on_event and overrides what it acts on (a sink that commits on
/// on_checkpoint_complete, a sink that records watermarks).
class consuming_stage {
 public:
  void on_watermark(timestamp) noexcept {}
  void on_barrier(const checkpoint_barrier&) noexcept {}
  void on_end() noexcept {}
  void on_processing_time(timestamp) noexcept {}
  void on_checkpoint_complete(std::uint64_t) noexcept {}
  void on_checkpoint_abort(std::uint64_t) noexcept {}
};

}  // namespace laminar
