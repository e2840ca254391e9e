// Two-input stages: operators with two typed inputs that share one state and
// one downstream (joins). The operator sees each input's records as
// on_event(left_input, l) and on_event(right_input, r); watermarks, barriers
// and the end of stream reach it once, combined from both inputs by
// two_input_adapter:
//   - its watermark is the minimum of the two inputs' watermarks (an input
//     that has ended counts as the end of time), passed on when it rises;
//     an operator that also wants each input's own watermark as it rises
//     has on_input_watermark(Side, w), called first;
//   - a checkpoint barrier is passed on once it has arrived on both inputs
//     (in one thread both inputs are driven by one driver, which sends it
//     down both);
//   - on_end() once both inputs have ended.
// The adapter's side watermarks are checkpointed with it. Each input is fed
// through an input_port<Adapter, Side>, an ordinary single-input stage, so
// any chain (map, filter, key_by, ...) can run before either input.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <string>
#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

/// Tags naming a two-input operator's inputs.
struct left_input {
  static constexpr const char* name = "left";
};
struct right_input {
  static constexpr const char* name = "right";
};

/// A two-input stage: accepts L on its left input and R on its right, the
/// combined watermark, barriers and the end of stream.
template <class J, class L, class R>
concept two_input_stage = requires(J& j, const L& l, const R& r, timestamp w, const checkpoint_barrier& b) {
  j.on_event(left_input{}, l);
  j.on_event(right_input{}, r);
  j.on_watermark(w);
  j.on_barrier(b);
  j.on_end();
};

/// Owns a two-input stage and combines what its two inputs deliver.
template <class J>
class two_input_adapter {
 public:
  explicit two_input_adapter(J stage) : stage_(std::move(stage)) {}

  template <class Side, class T>
  [[gnu::always_inline]] void on_event(Side side, const T& record) {
    stage_.on_event(side, record);
  }

  template <class Side>
  void on_watermark(Side, timestamp w) {
    timestamp& mine = side_watermark<Side>();
    if (w <= mine) return;
    mine = w;
    // An operator that keeps one input's state by the other's progress
    // (a join evicting by the left watermark) hears each input's too.
    if constexpr (requires { stage_.on_input_watermark(Side{}, w); }) stage_.on_input_watermark(Side{}, w);
    const timestamp combined = std::min(left_, right_);
    if (combined > combined_) {
      combined_ = combined;
      stage_.on_watermark(combined);
    }
  }

  template <class Side>
  void on_barrier(Side, const checkpoint_barrier& b) {
    bool& seen = side_barrier<Side>();
    if (seen) {
      throw usage_error(std::string("two-input operator: a second checkpoint barrier arrived on the ") + Side::name +
                        " input before the first arrived on the other input");
    }
    seen = true;
    if (!(left_barrier_ && right_barrier_)) return;
    left_barrier_ = right_barrier_ = false;
    b.checkpoint(*this);
    stage_.on_barrier(b);
  }

  template <class Side>
  void on_end(Side) {
    bool& ended = side_ended<Side>();
    if (ended) return;
    ended = true;
    on_watermark(Side{}, timestamp::max());  // an ended input holds nothing back
    if (left_ended_ && right_ended_) stage_.on_end();
  }

  /// Each input's watermark, and the combined one the stage has seen.
  [[nodiscard]] timestamp left_watermark() const noexcept { return left_; }
  [[nodiscard]] timestamp right_watermark() const noexcept { return right_; }
  [[nodiscard]] timestamp watermark() const noexcept { return combined_; }

  [[nodiscard]] J& stage() noexcept { return stage_; }
  [[nodiscard]] const J& stage() const noexcept { return stage_; }

  void save_state(state_writer& w) const { w(left_, right_, combined_, left_ended_, right_ended_); }
  void load_state(state_reader& r) { r(left_, right_, combined_, left_ended_, right_ended_); }

 private:
  template <class Side>
  timestamp& side_watermark() noexcept {
    if constexpr (std::same_as<Side, left_input>) return left_;
    else return right_;
  }
  template <class Side>
  bool& side_barrier() noexcept {
    if constexpr (std::same_as<Side, left_input>) return left_barrier_;
    else return right_barrier_;
  }
  template <class Side>
  bool& side_ended() noexcept {
    if constexpr (std::same_as<Side, left_input>) return left_ended_;
    else return right_ended_;
  }

  J stage_;
  timestamp left_ = timestamp::min();
  timestamp right_ = timestamp::min();
  timestamp combined_ = timestamp::min();
  bool left_barrier_ = false;
  bool right_barrier_ = false;
  bool left_ended_ = false;
  bool right_ended_ = false;
};

/// One input of a two-input adapter as a single-input stage: what a side's
/// chain ends in. Holds the adapter by pointer (the adapter stays put).
template <class Adapter, class Side>
class input_port {
 public:
  explicit input_port(Adapter* adapter) noexcept : adapter_(adapter) {}
  template <class T>
  [[gnu::always_inline]] void on_event(const T& record) {
    adapter_->on_event(Side{}, record);
  }
  void on_watermark(timestamp w) { adapter_->on_watermark(Side{}, w); }
  void on_barrier(const checkpoint_barrier& b) { adapter_->on_barrier(Side{}, b); }
  void on_end() { adapter_->on_end(Side{}); }

 private:
  Adapter* adapter_;
};

}  // namespace laminar
