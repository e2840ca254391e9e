// Byte buffers passed one way between two threads and recycled back: how a
// socket's I/O thread hands what it read to a worker (TCP, UDP), and how a
// worker hands what it encoded to a writer thread. The producer fills a
// buffer (a recycled one, or a new one while fewer than `max_buffers`
// exist) and hands it over inside an Item; the consumer reads it and gives
// the buffer back. Once every buffer is with the consumer the producer has
// none to fill: that is the backpressure, and the bound on memory
// (max_buffers buffers), with no allocation once they all exist.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <thread>
#include <utility>

#include "laminar/channel/spsc.hpp"
#include "laminar/runtime/doorbell.hpp"

namespace laminar::detail {

template <class Item>
class chunk_handoff {
 public:
  /// `markers`: room for Items that carry no buffer (a connection's end),
  /// beyond one slot per buffer.
  chunk_handoff(std::size_t max_buffers, std::size_t buffer_bytes, std::size_t markers = 0)
      : max_buffers_(max_buffers),
        buffer_bytes_(buffer_bytes),
        items_(max_buffers + markers),
        recycled_(max_buffers) {}
  chunk_handoff(const chunk_handoff&) = delete;
  chunk_handoff& operator=(const chunk_handoff&) = delete;

  // ---- the producer's thread ----

  /// An empty buffer with room for buffer_bytes into `out`; false while
  /// every buffer is with the consumer.
  [[nodiscard]] bool take_buffer(std::string& out) {
    if (recycled_.try_pop(out)) return true;
    if (allocated_ >= max_buffers_) return false;
    ++allocated_;
    out = std::string();
    out.reserve(buffer_bytes_);
    return true;
  }
  /// Hands `item` over and rings the consumer's doorbell. There is a slot
  /// for every buffer and marker, so it waits only while the consumer is
  /// between popping an item and the slot being free.
  void hand_over(Item&& item) {
    while (!items_.try_push(std::move(item))) std::this_thread::yield();
    ring();
  }
  /// Items handed over and not yet taken (any thread).
  [[nodiscard]] std::size_t in_flight() const noexcept { return items_.size(); }

  // ---- the consumer's thread ----

  spsc_channel<Item>& items() noexcept { return items_; }
  /// A buffer back to the producer, for reuse.
  void recycle(std::string&& buffer) noexcept {
    buffer.clear();
    (void)recycled_.try_push(std::move(buffer));  // a slot for every buffer there is
  }
  /// The doorbell hand_over rings (a graph worker's, so a parked worker
  /// wakes for what arrived).
  void attach(doorbell* bell) noexcept { bell_.store(bell, std::memory_order_release); }
  /// Rings the attached doorbell (also without an item: the stream ended
  /// or failed).
  void ring() noexcept {
    if (doorbell* b = bell_.load(std::memory_order_acquire)) b->ring();
  }

 private:
  std::size_t max_buffers_;
  std::size_t buffer_bytes_;
  std::size_t allocated_ = 0;  // the producer's
  spsc_channel<Item> items_;
  spsc_channel<std::string> recycled_;
  std::atomic<doorbell*> bell_{nullptr};
};

}  // namespace laminar::detail
