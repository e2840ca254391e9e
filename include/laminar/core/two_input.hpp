// Two-input stages: operators with two typed inputs that share one state and
// one downstream (joins). The operator sees each input's records as
// on_event(left_input, l) and on_event(right_input, r), and each input's
// watermark as it rises as on_input_watermark(Side, w), and each input's
// end as on_input_end(Side): a separate signal from its watermark, which may
// legitimately reach timestamp::max() (records at INT64_MAX) while more
// records at that time can still come. The other messages
// of the stage protocol (core/stage.hpp) reach it once, combined from both
// inputs by two_input_adapter:
//   - its watermark is the minimum of the two inputs' watermarks (an input
//     that has ended counts as the end of time), passed on when it rises,
//     after the input's own;
//   - a checkpoint barrier is passed on once it has arrived on both inputs
//     (in one thread both inputs are driven by one driver, which sends it
//     down both);
//   - on_end() once both inputs have ended;
//   - a processing-time tick, or a checkpoint's completion or abort, once,
//     whichever input brings it first (a driver sends them down both).
// forwarding_two_input_stage is the base that passes on what an operator
// does not handle, and checkpoints the operator at a barrier.
// The adapter's side watermarks are checkpointed with it. Each input is fed
// through an input_port<Adapter, Side>, an ordinary single-input stage, so
// any chain (map, filter, key_by, ...) can run before either input.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
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

/// A two-input stage: accepts L on its left input and R on its right, each
/// input's watermark, and the control messages of every stage, combined.
template <class J, class L, class R>
concept two_input_stage = requires(J& j, const L& l, const R& r, timestamp w) {
  j.on_event(left_input{}, l);
  j.on_event(right_input{}, r);
  j.on_input_watermark(left_input{}, w);
  j.on_input_watermark(right_input{}, w);
  j.on_input_end(left_input{});
  j.on_input_end(right_input{});
} && accepts_control<J>;

/// The base of a two-input operator (Derived, by CRTP), which holds its
/// downstream where it likes and returns it from downstream(): each
/// input's watermark and end are ignored unless Derived handles them; every control
/// message Derived does not handle is passed on; at a barrier a stateful
/// Derived is checkpointed, then the barrier passed on.
template <class Derived>
class forwarding_two_input_stage {
 public:
  template <class Side>
  void on_input_watermark(Side, timestamp) noexcept {}
  template <class Side>
  void on_input_end(Side) noexcept {}
  void on_watermark(timestamp w) { next().on_watermark(w); }
  void on_barrier(const checkpoint_barrier& b) {
    if constexpr (stateful<Derived>) b.checkpoint(static_cast<Derived&>(*this));
    next().on_barrier(b);
  }
  void on_end() { next().on_end(); }
  void on_processing_time(timestamp now) { next().on_processing_time(now); }
  void on_checkpoint_complete(std::uint64_t checkpoint_id) { next().on_checkpoint_complete(checkpoint_id); }
  void on_checkpoint_abort(std::uint64_t checkpoint_id) { next().on_checkpoint_abort(checkpoint_id); }

 private:
  auto& next() { return static_cast<Derived&>(*this).downstream(); }
};

/// Owns a two-input stage and combines what its two inputs deliver.
template <class J>
class two_input_adapter {
 public:
  static constexpr std::string_view state_name = "inputs";
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
    stage_.on_input_watermark(Side{}, w);
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
    stage_.on_input_end(Side{});
    on_watermark(Side{}, timestamp::max());  // an ended input holds nothing back
    if (left_ended_ && right_ended_) stage_.on_end();
  }

  // The driver sends these down both inputs: the stage hears each once.
  template <class Side>
  void on_processing_time(Side, timestamp now) {
    if (ticks_.first(side_index<Side>, now)) stage_.on_processing_time(now);
  }
  template <class Side>
  void on_checkpoint_complete(Side, std::uint64_t checkpoint_id) {
    if (completions_.first(side_index<Side>, checkpoint_id)) stage_.on_checkpoint_complete(checkpoint_id);
  }
  template <class Side>
  void on_checkpoint_abort(Side, std::uint64_t checkpoint_id) {
    if (aborts_.first(side_index<Side>, checkpoint_id)) stage_.on_checkpoint_abort(checkpoint_id);
  }

  /// Each input's watermark, and the combined one the stage has seen.
  [[nodiscard]] timestamp left_watermark() const noexcept { return left_; }
  [[nodiscard]] timestamp right_watermark() const noexcept { return right_; }
  [[nodiscard]] timestamp watermark() const noexcept { return combined_; }

  [[nodiscard]] J& stage() noexcept { return stage_; }
  [[nodiscard]] const J& stage() const noexcept { return stage_; }

  void save_state(state_writer& w) const { w(left_, right_, combined_, left_ended_, right_ended_); }
  /// Rescalable: a later part's watermarks are taken where earlier (one
  /// barrier aligned the saved instances: they agree).
  static constexpr bool rescalable = true;
  void load_state(state_reader& r) {
    if (!r.merging()) {
      r(left_, right_, combined_, left_ended_, right_ended_);
      return;
    }
    timestamp left{}, right{}, combined{};
    bool left_ended = false, right_ended = false;
    r(left, right, combined, left_ended, right_ended);
    left_ = std::min(left_, left);
    right_ = std::min(right_, right);
    combined_ = std::min(combined_, combined);
    left_ended_ = left_ended_ && left_ended;
    right_ended_ = right_ended_ && right_ended;
  }

 private:
  template <class Side>
  static constexpr int side_index = std::same_as<Side, left_input> ? 0 : 1;

  // A message a driver sends down both inputs: its copy from the other
  // input, right after it, is not passed on again. One that comes down one
  // input only (the other's chain consumed it) passes every time.
  template <class V>
  struct sent_down_both {
    V last{};
    int from = -1;  // the input the last one came from, until its copy arrives
    bool first(int side, V v) noexcept {
      if (from >= 0 && from != side && v == last) {
        from = -1;
        return false;
      }
      last = v;
      from = side;
      return true;
    }
  };

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
  sent_down_both<timestamp> ticks_;
  sent_down_both<std::uint64_t> completions_;
  sent_down_both<std::uint64_t> aborts_;
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
  void on_processing_time(timestamp now) { adapter_->on_processing_time(Side{}, now); }
  void on_checkpoint_complete(std::uint64_t checkpoint_id) { adapter_->on_checkpoint_complete(Side{}, checkpoint_id); }
  void on_checkpoint_abort(std::uint64_t checkpoint_id) { adapter_->on_checkpoint_abort(Side{}, checkpoint_id); }

 private:
  Adapter* adapter_;
};

}  // namespace laminar
