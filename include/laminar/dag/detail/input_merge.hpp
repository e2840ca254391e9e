// The bookkeeping of a node's input channels (fan-in, the N producers of an
// exchange, the two inputs of a join). Channels belong to ports (a
// single-input node has one port, a join two); each port's combined
// watermark is the minimum over its channels that have neither ended nor
// gone idle, and the port ends when all of its channels have ended.
// Barriers are aligned across every channel of every port: a channel that
// delivered barrier n is blocked until every channel delivered it (or can no
// longer: it ended, or its end was received). Single-threaded: the node's
// worker owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "laminar/core/error.hpp"
#include "laminar/core/time.hpp"
#include "laminar/dag/message.hpp"

namespace laminar::detail {

class input_merge {
 public:
  /// `inputs` channels, all of one port.
  explicit input_merge(std::size_t inputs, duration idle_timeout = duration::max())
      : input_merge(std::vector<std::size_t>{inputs}, idle_timeout) {}
  /// ports[p] channels for port p, numbered port after port.
  input_merge(const std::vector<std::size_t>& ports, duration idle_timeout)
      : ports_(ports.size()), idle_timeout_(idle_timeout) {
    for (std::size_t p = 0; p < ports.size(); ++p) {
      ports_[p].first = inputs_.size();
      ports_[p].size = ports[p];
      for (std::size_t i = 0; i < ports[p]; ++i) inputs_.push_back(input{p});
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return inputs_.size(); }
  [[nodiscard]] std::size_t port_of(std::size_t i) const noexcept { return inputs_[i].port; }
  /// Whether input i may be read now (not ended, not held for alignment).
  [[nodiscard]] bool readable(std::size_t i) const noexcept { return !inputs_[i].ended && !inputs_[i].blocked; }
  /// Whether input i delivered the barrier being aligned.
  [[nodiscard]] bool blocked(std::size_t i) const noexcept { return inputs_[i].blocked; }
  [[nodiscard]] bool ended(std::size_t i) const noexcept { return inputs_[i].ended; }
  [[nodiscard]] bool all_ended() const noexcept { return ended_ == inputs_.size(); }
  [[nodiscard]] bool port_ended(std::size_t p) const noexcept { return ports_[p].ended == ports_[p].size; }
  /// Port p's combined watermark.
  [[nodiscard]] timestamp watermark(std::size_t p = 0) const noexcept { return ports_[p].emitted; }
  /// Input i's own watermark.
  [[nodiscard]] timestamp input_watermark(std::size_t i) const noexcept { return inputs_[i].watermark; }

  /// Input i delivered a record at processing time `now` (only activity
  /// matters here; pass any monotonic clock).
  void on_activity(std::size_t i, timestamp now) noexcept {
    inputs_[i].last_active = now;
    if (inputs_[i].idle) {
      inputs_[i].idle = false;
    }
  }

  /// Input i's watermark; returns its port's combined watermark when it advanced.
  std::optional<timestamp> on_watermark(std::size_t i, timestamp w, timestamp now) noexcept {
    on_activity(i, now);
    if (w > inputs_[i].watermark) inputs_[i].watermark = w;
    return combine(inputs_[i].port);
  }

  /// Input i ended (its final watermark came before); returns its port's
  /// combined watermark when it advanced.
  std::optional<timestamp> on_end(std::size_t i) noexcept {
    if (!inputs_[i].ended) {
      inputs_[i].ended = true;
      inputs_[i].closed = true;
      inputs_[i].blocked = false;
      ++ended_;
      ++ports_[inputs_[i].port].ended;
    }
    return combine(inputs_[i].port);
  }

  /// Input i's end was received but waits behind records not yet handed on:
  /// no barrier will come from it, so it no longer holds one back. Returns
  /// the barrier if that completes its alignment.
  std::optional<barrier_token> on_end_received(std::size_t i) noexcept {
    inputs_[i].closed = true;
    return release_if_aligned();
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
      if (!in.closed && !in.blocked) return std::nullopt;
    }
    for (auto& in : inputs_) in.blocked = false;
    auto token = aligning_;
    aligning_.reset();
    return token;
  }

  /// Processing-time check: inputs silent for the idle timeout stop holding
  /// the watermark back. Returns port p's combined watermark when it advanced.
  std::optional<timestamp> on_idle_check(timestamp now, std::size_t p = 0) noexcept {
    if (idle_timeout_ == duration::max()) return std::nullopt;
    for (auto& in : inputs_) {
      if (in.last_active == timestamp::min()) in.last_active = now;
      if (!in.ended && !in.idle && now - in.last_active >= idle_timeout_) in.idle = true;
    }
    return combine(p);
  }

  [[nodiscard]] bool idle(std::size_t i) const noexcept { return inputs_[i].idle; }

 private:
  struct input {
    std::size_t port = 0;
    timestamp watermark = timestamp::min();
    timestamp last_active = timestamp::min();
    bool ended = false;
    bool closed = false;  // no barrier will come from it
    bool blocked = false;
    bool idle = false;
  };
  struct port {
    std::size_t first = 0;
    std::size_t size = 0;
    std::size_t ended = 0;
    timestamp emitted = timestamp::min();
  };

  std::optional<timestamp> combine(std::size_t p) noexcept {
    port& pt = ports_[p];
    timestamp low = timestamp::max();
    bool any = false;
    for (std::size_t i = pt.first; i < pt.first + pt.size; ++i) {
      const input& in = inputs_[i];
      if (in.ended || in.idle) continue;
      any = true;
      if (in.watermark < low) low = in.watermark;
    }
    // Every input idle: hold the watermark (no input speaks for the stream).
    if (!any && pt.ended != pt.size) return std::nullopt;
    if (low <= pt.emitted) return std::nullopt;
    pt.emitted = low;
    return low;
  }

  std::vector<input> inputs_;
  std::vector<port> ports_;
  duration idle_timeout_;
  std::size_t ended_ = 0;
  std::optional<barrier_token> aligning_;
};

}  // namespace laminar::detail
