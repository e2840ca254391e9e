// The bookkeeping of a node with several inputs (fan-in, or the N producers
// of an exchange): the combined watermark is the minimum over inputs that
// have neither ended nor gone idle; barriers are aligned (an input that
// delivered barrier n is blocked until every input delivered it); the node
// ends when every input has ended. Single-threaded: the node's worker owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "laminar/core/error.hpp"
#include "laminar/core/time.hpp"
#include "laminar/dag/message.hpp"

namespace laminar::detail {

class input_merge {
 public:
  explicit input_merge(std::size_t inputs, duration idle_timeout = duration::max())
      : inputs_(inputs), idle_timeout_(idle_timeout) {}

  [[nodiscard]] std::size_t size() const noexcept { return inputs_.size(); }
  /// Whether input i may be read now (not ended, not held for alignment).
  [[nodiscard]] bool readable(std::size_t i) const noexcept { return !inputs_[i].ended && !inputs_[i].blocked; }
  [[nodiscard]] bool ended(std::size_t i) const noexcept { return inputs_[i].ended; }
  [[nodiscard]] bool all_ended() const noexcept { return ended_ == inputs_.size(); }
  [[nodiscard]] timestamp watermark() const noexcept { return emitted_; }

  /// Input i delivered a record at processing time `now` (only activity
  /// matters here; pass any monotonic clock).
  void on_activity(std::size_t i, timestamp now) noexcept {
    inputs_[i].last_active = now;
    if (inputs_[i].idle) {
      inputs_[i].idle = false;
    }
  }

  /// Input i's watermark; returns the combined watermark when it advanced.
  std::optional<timestamp> on_watermark(std::size_t i, timestamp w, timestamp now) noexcept {
    on_activity(i, now);
    if (w > inputs_[i].watermark) inputs_[i].watermark = w;
    return combine();
  }

  /// Input i ended (its final watermark came before); returns the combined
  /// watermark when it advanced.
  std::optional<timestamp> on_end(std::size_t i) noexcept {
    if (!inputs_[i].ended) {
      inputs_[i].ended = true;
      inputs_[i].blocked = false;
      ++ended_;
    }
    return combine();
  }

  /// Input i delivered barrier `token`. Returns the token once every input
  /// that has not ended delivered it (the node then snapshots and passes it
  /// on); until then input i is blocked. A barrier id that does not match
  /// the one being aligned is a protocol error.
  std::optional<barrier_token> on_barrier(std::size_t i, barrier_token token) {
    if (aligning_ && token.id != aligning_->id) {
      throw error("checkpoint barrier " + std::to_string(token.id) + " arrived on input " + std::to_string(i) +
                  " while barrier " + std::to_string(aligning_->id) + " is being aligned");
    }
    if (!aligning_) aligning_ = token;
    inputs_[i].blocked = true;
    return release_if_aligned();
  }

  /// Re-checks alignment after an input ended (an ended input no longer
  /// holds a barrier back).
  std::optional<barrier_token> release_if_aligned() noexcept {
    if (!aligning_) return std::nullopt;
    for (const auto& in : inputs_) {
      if (!in.ended && !in.blocked) return std::nullopt;
    }
    for (auto& in : inputs_) in.blocked = false;
    auto token = aligning_;
    aligning_.reset();
    return token;
  }

  /// Processing-time check: inputs silent for the idle timeout stop holding
  /// the watermark back. Returns the combined watermark when it advanced.
  std::optional<timestamp> on_idle_check(timestamp now) noexcept {
    if (idle_timeout_ == duration::max()) return std::nullopt;
    for (auto& in : inputs_) {
      if (in.last_active == timestamp::min()) in.last_active = now;
      if (!in.ended && !in.idle && now - in.last_active >= idle_timeout_) in.idle = true;
    }
    return combine();
  }

  [[nodiscard]] bool idle(std::size_t i) const noexcept { return inputs_[i].idle; }

 private:
  struct input {
    timestamp watermark = timestamp::min();
    timestamp last_active = timestamp::min();
    bool ended = false;
    bool blocked = false;
    bool idle = false;
  };

  std::optional<timestamp> combine() noexcept {
    timestamp low = timestamp::max();
    bool any = false;
    for (const auto& in : inputs_) {
      if (in.ended || in.idle) continue;
      any = true;
      if (in.watermark < low) low = in.watermark;
    }
    // Every input idle: hold the watermark (no input speaks for the stream).
    if (!any && ended_ != inputs_.size()) return std::nullopt;
    if (low <= emitted_) return std::nullopt;
    emitted_ = low;
    return low;
  }

  std::vector<input> inputs_;
  duration idle_timeout_;
  std::size_t ended_ = 0;
  timestamp emitted_ = timestamp::min();
  std::optional<barrier_token> aligning_;
};

}  // namespace laminar::detail
