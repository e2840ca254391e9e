// An edge of a graph: the channels between every producer instance and the
// consumer instances it routes to, typed by the record type.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "laminar/dag/detail/batch_channel.hpp"
#include "laminar/dag/message.hpp"
#include "laminar/dag/options.hpp"

namespace laminar::detail {

/// How an edge routes a producer instance's records.
enum class routing {
  one_to_one,  ///< producer i to consumer i (same parallelism)
  to_single,   ///< every producer to the one consumer (fan-in, merge)
  partition,   ///< by key hash to one of N consumers (exchange)
};

class doorbell;

class edge_base {
 public:
  edge_base(std::size_t producers, std::size_t consumers, routing r, edge_options o)
      : producers_(producers), consumers_(consumers), routing_(r), options_(o), bells_(consumers, nullptr) {}
  virtual ~edge_base() = default;

  [[nodiscard]] std::size_t producers() const noexcept { return producers_; }
  [[nodiscard]] std::size_t consumers() const noexcept { return consumers_; }
  [[nodiscard]] routing route() const noexcept { return routing_; }
  [[nodiscard]] const edge_options& options() const noexcept { return options_; }
  /// Whether the records reach a join, which reads its inputs in the order
  /// of their watermarks: then every watermark keeps its place among them.
  [[nodiscard]] bool paced() const noexcept { return paced_; }
  void set_paced() noexcept { paced_ = true; }

  /// Whether producer p sends to consumer c.
  [[nodiscard]] bool connects(std::size_t p, std::size_t c) const noexcept {
    return routing_ != routing::one_to_one || p == c;
  }
  /// Creates consumer c's input channels; called on c's worker thread so
  /// that the channels are allocated on its NUMA node.
  virtual void create_inputs(std::size_t c, doorbell& bell) = 0;

  [[nodiscard]] doorbell* bell(std::size_t c) const noexcept { return bells_[c]; }

 protected:
  std::size_t producers_;
  std::size_t consumers_;
  routing routing_;
  edge_options options_;
  bool paced_ = false;
  std::vector<doorbell*> bells_;
};

template <class T>
class typed_edge final : public edge_base {
 public:
  using channel_type = batch_channel<T>;

  typed_edge(std::size_t producers, std::size_t consumers, routing r, edge_options o)
      : edge_base(producers, consumers, r, o), channels_(producers * consumers) {}

  void create_inputs(std::size_t c, doorbell& bell) override {
    bells_[c] = &bell;
    for (std::size_t p = 0; p < producers_; ++p) {
      if (connects(p, c)) channels_[p * consumers_ + c] = std::make_unique<channel_type>(options_.capacity, options_.batch);
    }
  }

  /// The channel from producer p to consumer c (null if they do not connect).
  [[nodiscard]] channel_type* channel(std::size_t p, std::size_t c) const noexcept {
    return channels_[p * consumers_ + c].get();
  }

  /// Producer p's channels, in consumer order.
  [[nodiscard]] std::vector<channel_type*> outputs_of(std::size_t p) const {
    std::vector<channel_type*> out;
    for (std::size_t c = 0; c < consumers_; ++c) {
      if (connects(p, c)) out.push_back(channel(p, c));
    }
    return out;
  }
  /// Consumer c's channels, in producer order.
  [[nodiscard]] std::vector<channel_type*> inputs_of(std::size_t c) const {
    std::vector<channel_type*> in;
    for (std::size_t p = 0; p < producers_; ++p) {
      if (connects(p, c)) in.push_back(channel(p, c));
    }
    return in;
  }

 private:
  std::vector<std::unique_ptr<channel_type>> channels_;
};

}  // namespace laminar::detail
