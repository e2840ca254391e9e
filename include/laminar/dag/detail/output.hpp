// The last stage of a node's chain when its stream continues in other
// nodes: it sends each record on every outgoing edge (multicast), to one
// channel per edge, chosen by key hash on an exchange edge; watermarks,
// barriers and the end go to every channel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/dag/detail/edge.hpp"
#include "laminar/dag/detail/ring_queue.hpp"
#include "laminar/dag/message.hpp"
#include "laminar/operator/key_by.hpp"
#include "laminar/runtime/task.hpp"
#include "laminar/state/key.hpp"

namespace laminar::detail {

/// A node's outgoing edges, owned by its task; the chain's last stage
/// (channel_output) sends through it, the task drains and flushes it
/// between steps.
///
/// Messages go into each channel's open frame (batch_channel.hpp), which is
/// published when it is full and at flush(), the end of the task's step.
/// A step never blocks: a message that does not fit into a full channel
/// waits in that channel's overflow queue (later messages for the channel
/// queue behind it, so order holds), and the task reads no more input until
/// every overflow has drained. Memory under backpressure is therefore bounded
/// by what one step (the task budget) produces.
template <class T>
class output_state {
 public:
  using channel_type = typename typed_edge<T>::channel_type;
  using message = stream_message<T>;

  struct route {
    std::vector<channel_type*> channels;
    std::vector<doorbell*> bells;
    std::vector<ring_queue<message>> overflow;  // one per channel
    bool partitioned = false;
    std::vector<std::uint32_t> owner;  // partitioned: key group -> channel (no division per record)
    bool paced = false;  // its records reach a join: every watermark is kept (batch_channel.hpp)
    wait_policy policy = wait_policy::spin_then_yield;
  };

  output_state(std::vector<route> routes, node_metrics& metrics, std::uint32_t key_groups)
      : routes_(std::move(routes)), metrics_(&metrics), key_groups_(key_groups) {
    for (route& r : routes_) {
      r.overflow.resize(r.channels.size());
      if (!r.partitioned) continue;
      r.owner.resize(key_groups_);
      for (std::uint64_t g = 0; g < key_groups_; ++g) {
        r.owner[g] = static_cast<std::uint32_t>(g * r.channels.size() / key_groups_);
      }
    }
  }

  /// The graph's key-group count: what key_group(e) in send_event is below.
  [[nodiscard]] std::uint32_t key_groups() const noexcept { return key_groups_; }

  /// Sends a record: to every channel of a forward or multicast route, and
  /// on a partitioned route to the instance that owns its key group
  /// key_group(e) (instance g*n/G: i of n owns the groups with
  /// i*G/n <= g < (i+1)*G/n, as reals).
  template <class KeyGroup>
  void send_event(const T& e, KeyGroup&& key_group) {
    ++out_;
    for (route& r : routes_) {
      if (r.partitioned) {
        send_record(r, r.owner[key_group(e)], e);
      } else {
        for (std::size_t k = 0; k < r.channels.size(); ++k) send_record(r, k, e);
      }
    }
  }

  /// Sends a watermark to every channel. One that directly follows another
  /// not yet published (in the open frame, or queued behind a full channel)
  /// replaces it.
  void send_watermark(timestamp w) {
    metrics_->watermark.store(w.nanos(), std::memory_order_relaxed);
    unrung_ = true;
    for (route& r : routes_) {
      for (std::size_t k = 0; k < r.channels.size(); ++k) {
        auto& q = r.overflow[k];
        if (!q.empty()) {
          if (q.back().index() == 1 && !r.paced) {
            std::get<1>(q.back()) = w;
          } else {
            q.push_back(message(std::in_place_index<1>, w));
          }
        } else if (!r.channels[k]->try_watermark(w, !r.paced)) {
          overflow(q, message(std::in_place_index<1>, w));
        }
      }
    }
  }
  /// Sends a barrier, or the end, to every channel: a frame of its own.
  void send_control(frame_kind kind, barrier_token token = {}) {
    unrung_ = true;
    for (route& r : routes_) {
      for (std::size_t k = 0; k < r.channels.size(); ++k) {
        auto& q = r.overflow[k];
        if (q.empty() && r.channels[k]->try_control(kind, token)) continue;
        overflow(q, kind == frame_kind::end ? message(std::in_place_index<3>, end_of_stream{})
                                            : message(std::in_place_index<2>, token));
      }
    }
  }

  /// Whether some message waits for room in a full channel.
  [[nodiscard]] bool blocked() const noexcept { return blocked_; }
  /// Moves overflowed messages into their channels as room allows; returns
  /// true if it moved any.
  bool drain() {
    if (!blocked_) return false;
    bool moved = false;
    bool left = false;
    for (route& r : routes_) {
      for (std::size_t k = 0; k < r.channels.size(); ++k) {
        auto& q = r.overflow[k];
        while (!q.empty() && stage(*r.channels[k], q.front(), !r.paced)) {
          q.pop_front();
          moved = true;
        }
        r.channels[k]->publish();
        left = left || !q.empty();
      }
    }
    blocked_ = left;
    unrung_ = unrung_ || moved;
    return moved;
  }
  /// Whether a blocked task could move something now.
  [[nodiscard]] bool can_drain() const {
    for (const route& r : routes_) {
      for (std::size_t k = 0; k < r.channels.size(); ++k) {
        if (!r.overflow[k].empty() && r.channels[k]->size() < r.channels[k]->frames()) return true;
      }
    }
    return false;
  }
  /// The most eager wait policy among the edges this task is blocked on.
  [[nodiscard]] wait_policy blocked_policy() const noexcept {
    wait_policy p = wait_policy::park;
    for (const route& r : routes_) {
      for (const auto& q : r.overflow) {
        if (!q.empty() && r.policy < p) p = r.policy;
      }
    }
    return p;
  }

  /// Publishes every open frame, publishes counters and wakes parked
  /// consumers; called after each step. Rings only when the step sent
  /// something (a ring is a locked instruction).
  void flush() {
    for (route& r : routes_) {
      for (channel_type* ch : r.channels) ch->publish();
    }
    metrics_->events_out.store(out_, std::memory_order_relaxed);
    if (out_ == rung_out_ && !unrung_) return;
    rung_out_ = out_;
    unrung_ = false;
    for (route& r : routes_) {
      for (doorbell* b : r.bells) {
        if (b) b->ring();
      }
    }
  }

 private:
  void send_record(route& r, std::size_t k, const T& e) {
    auto& q = r.overflow[k];
    if (q.empty() && r.channels[k]->try_record(e)) return;
    overflow(q, message(std::in_place_index<0>, e));
  }
  void overflow(ring_queue<message>& q, message&& m) {
    q.push_back(std::move(m));
    blocked_ = true;
  }
  // An overflowed message into its channel; false when it is full again.
  static bool stage(channel_type& ch, const message& m, bool may_replace) {
    switch (m.index()) {
      case 0: return ch.try_record(std::get<0>(m));
      case 1: return ch.try_watermark(std::get<1>(m), may_replace);
      case 2: return ch.try_control(frame_kind::barrier, std::get<2>(m));
      default: return ch.try_control(frame_kind::end);
    }
  }

  std::vector<route> routes_;
  node_metrics* metrics_;
  std::uint32_t key_groups_;
  std::uint64_t out_ = 0;
  std::uint64_t rung_out_ = 0;  // out_ at the last ring
  bool unrung_ = false;         // a watermark, barrier, end or drained overflow since the last ring
  bool blocked_ = false;
};

/// What a task whose chain ends in a user sink uses in place of an
/// output_state: nothing to drain, a counter to publish.
class sink_output {
 public:
  explicit sink_output(node_metrics& m) : metrics_(&m) {}
  [[nodiscard]] bool blocked() const noexcept { return false; }
  bool drain() noexcept { return false; }
  [[nodiscard]] bool can_drain() const noexcept { return false; }
  [[nodiscard]] wait_policy blocked_policy() const noexcept { return wait_policy::park; }
  void flush() noexcept { metrics_->events_out.store(count, std::memory_order_relaxed); }
  std::uint64_t count = 0;

 private:
  node_metrics* metrics_;
};

/// The last stage of a node's chain when its stream continues in other nodes.
template <class Ctx>
class channel_output : public consuming_stage {
 public:
  using value_type = typename Ctx::value_type;
  channel_output(Ctx ctx, output_state<value_type>& out) : ctx_(std::move(ctx)), out_(&out) {}

  void on_event(const value_type& e) {
    if constexpr (Ctx::keyed()) {
      out_->send_event(e, [this](const value_type& v) { return key_group_of(key_of(ctx_, v), out_->key_groups()); });
    } else {
      // An unkeyed stream has one partition; only exchange edges need keys.
      out_->send_event(e, [](const value_type&) { return std::uint32_t{0}; });
    }
  }
  void on_watermark(timestamp w) { out_->send_watermark(w); }
  void on_barrier(const checkpoint_barrier& b) {
    // A restore is local to each node: it does not travel.
    if (!b.restoring()) out_->send_control(frame_kind::barrier, barrier_token{b.id(), checkpoint_barrier::kind::snapshot});
  }
  void on_end() { out_->send_control(frame_kind::end); }
  // Processing time and checkpoint outcomes do not travel: each node's
  // task hears them itself (consuming_stage ends them here).

 private:
  [[no_unique_address]] Ctx ctx_;
  output_state<value_type>* out_;
};

/// A user sink at the end of a node's chain, counted for the metrics.
template <class Sink>
class counted_sink {
 public:
  counted_sink(Sink s, std::uint64_t& count) : sink_(std::move(s)), count_(&count) {}
  template <class T>
  void on_event(const T& e) {
    ++*count_;
    sink_.on_event(e);
  }
  void on_watermark(timestamp w) { sink_.on_watermark(w); }
  void on_barrier(const checkpoint_barrier& b) { sink_.on_barrier(b); }
  void on_end() { sink_.on_end(); }
  void on_processing_time(timestamp now) { sink_.on_processing_time(now); }
  void on_checkpoint_complete(std::uint64_t id) { sink_.on_checkpoint_complete(id); }
  void on_checkpoint_abort(std::uint64_t id) { sink_.on_checkpoint_abort(id); }

 private:
  Sink sink_;
  std::uint64_t* count_;
};

template <class Sink>
struct counted_sink_factory {
  using is_sink = void;
  Sink sink;
  std::uint64_t* count;
  template <class Ctx>
  auto bind(const Ctx& ctx) && {
    auto inner = std::move(sink).bind(ctx);
    return counted_sink<decltype(inner)>(std::move(inner), *count);
  }
};

/// The sink factory that ends a node's chain in its output channels.
template <class T>
struct channel_output_factory {
  using is_sink = void;
  output_state<T>* out;
  template <class Ctx>
  auto bind(const Ctx& ctx) && {
    static_assert(std::is_same_v<typename Ctx::value_type, T>);
    return channel_output<Ctx>(ctx, *out);
  }
};

}  // namespace laminar::detail
