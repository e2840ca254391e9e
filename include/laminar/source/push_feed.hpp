// push_feed<T>: records pushed by a thread outside a graph (a feed handler's),
// read by one of the graph's source nodes.
//
//   laminar::push_feed<tick> ticks(4096);                 // capacity, in records
//   auto in = g.source("ticks", ticks.source() | with_watermarks(&tick::ts, bounded_out_of_orderness(1ms)));
//   g.start();
//   // on the feed handler's thread:
//   ticks.push(t);                                   // waits while the feed is full
//   ticks.close();                                   // the end of the stream
//
// One thread pushes (the channel is single-producer); the node's worker
// reads, up to the task budget per step, so the feed thread never runs the
// chain and the worker never waits for the feed. A full feed is the graph's
// backpressure: push() waits by the feed's wait policy, try_push() returns
// false and leaves the choice to the caller (drop, count, buffer).
//
// A worker parked with nothing to do is woken by the push that gives it a
// record: a push rings its doorbell (one locked instruction, ~20 ns), and
// push_n() rings once per batch.
//
// A feed cannot be replayed: a checkpoint saves no position for it (the
// records in the feed and in flight are not in the snapshot). A
// logged_feed (checkpoint/logged_feed.hpp) logs each record first and can.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "laminar/channel/spsc.hpp"
#include "laminar/channel/wait_policy.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/source.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/runtime/doorbell.hpp"

namespace laminar {

namespace detail {

template <class T>
struct push_feed_state {
  push_feed_state(std::size_t capacity, wait_policy p) : channel(capacity), policy(p) {}
  spsc_channel<T> channel;
  wait_policy policy;
  std::atomic<bool> closed{false};
  std::atomic<bool> detached{false};          // the graph stopped reading: pushes fail
  std::atomic<detail::doorbell*> bell{nullptr};  // the reading worker's, once it runs

  // A record was published: wake the reader if it sleeps (doorbell.hpp:
  // one locked instruction, and a futex wake only while it sleeps).
  void wake_reader() noexcept {
    if (detail::doorbell* b = bell.load(std::memory_order_acquire)) b->ring();
  }
  // Up to `max_records` records into `chain`; how many.
  template <class Chain>
  std::size_t read(Chain& chain, std::size_t max_records) {
    std::size_t n = 0;
    while (n < max_records) {
      const std::size_t got = channel.consume([&](T& record) { chain.on_event(record); }, max_records - n);
      if (got == 0) break;
      n += got;
      if constexpr (stopping_chain<Chain>) {
        if (chain.stop_requested()) break;
      }
    }
    return n;
  }
  // The reading worker's doorbell; null: the graph stopped reading, and
  // pushes waiting for room give up.
  void attach(detail::doorbell* b, const char* feed) {
    if (b != nullptr && bell.load(std::memory_order_acquire) != nullptr) {
      throw usage_error(std::string("laminar: ") + feed +
                        ": this feed is already read by a source node; a feed has one reader "
                        "(push into two feeds, or fan out after the source)");
    }
    bell.store(b, std::memory_order_release);
    if (b == nullptr) {
      detached.store(true, std::memory_order_release);
      channel.wake_waiters();
    }
  }
};

}  // namespace detail

/// The source a graph node reads a feed through (push_feed<T>::source()).
template <class T>
class push_feed_source {
 public:
  using is_source = void;
  using value_type = T;

  explicit push_feed_source(std::shared_ptr<detail::push_feed_state<T>> state) : state_(std::move(state)) {}

  [[nodiscard]] auto context() const { return stream_context<T>{}; }

  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max_records) {
    return state_->read(chain, max_records);
  }
  /// Closed, and every record read.
  [[nodiscard]] bool exhausted() const noexcept {
    return state_->closed.load(std::memory_order_acquire) && !state_->channel.ready();
  }
  /// A record is waiting, or the end: the worker has something to do.
  [[nodiscard]] bool has_input() const noexcept {
    return state_->channel.ready() || state_->closed.load(std::memory_order_acquire);
  }
  /// The reading worker's doorbell (null: the graph stopped reading). A
  /// feed has one reader: a second source node on it is a usage_error.
  void attach(detail::doorbell* bell) { state_->attach(bell, "push_feed"); }

  template <class Chain>
  void finish(Chain& chain) {
    detail::end_stream(chain);
  }
  /// A feed has no position to save: the barrier passes on.
  template <class Chain>
  void on_barrier(Chain& chain, const checkpoint_barrier& b) {
    chain.on_barrier(b);
  }

 private:
  std::shared_ptr<detail::push_feed_state<T>> state_;
};

/// Records pushed into a graph by one thread outside it.
template <class T>
class push_feed {
 public:
  /// Holds up to `capacity` records (a power of two is used); push() waits
  /// by `policy` while it is full.
  explicit push_feed(std::size_t capacity = 4096, wait_policy policy = wait_policy::spin_then_yield)
      : state_(std::make_shared<detail::push_feed_state<T>>(capacity, policy)) {}

  /// What a graph's source node reads: g.source(name, f.source() | ops...).
  [[nodiscard]] push_feed_source<T> source() const { return push_feed_source<T>(state_); }

  /// Appends a record, waiting while the feed is full. false if the graph
  /// stopped reading (the record is not taken).
  bool push(T record) {
    if (state_->detached.load(std::memory_order_acquire)) return false;
    if (!state_->channel.push(std::move(record), state_->policy, &state_->detached)) return false;
    state_->wake_reader();
    return true;
  }
  /// Appends a record if there is room; false (the record not taken) when
  /// full, or when the graph stopped reading.
  bool try_push(T record) {
    if (state_->detached.load(std::memory_order_acquire)) return false;
    if (!state_->channel.try_push(std::move(record))) return false;
    state_->wake_reader();
    return true;
  }
  /// Appends every record of `records` (moved from), waiting while the
  /// feed is full; wakes the reader once. Returns how many were taken: all,
  /// unless the graph stopped reading.
  std::size_t push_n(std::span<T> records) {
    if (state_->detached.load(std::memory_order_acquire)) return 0;
    const std::size_t n = state_->channel.push_n(records.data(), records.size(), state_->policy, &state_->detached);
    if (n != 0) state_->wake_reader();
    return n;
  }
  /// The end of the stream: the graph's watermark reaches the end of time
  /// and the node ends once it has read every record.
  void close() {
    state_->closed.store(true, std::memory_order_release);
    state_->wake_reader();
  }
  /// Records waiting for the graph (approximate while it reads).
  [[nodiscard]] std::size_t size() const noexcept { return state_->channel.size(); }

 private:
  std::shared_ptr<detail::push_feed_state<T>> state_;
};

}  // namespace laminar
