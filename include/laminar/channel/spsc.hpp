// A bounded channel from one producer thread to one consumer thread: the
// link between two fused chains on different threads. Lock-free, no
// allocation after construction, FIFO. The design and its measured figures
// are in docs/channels.md.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "laminar/channel/detail/ring.hpp"
#include "laminar/channel/wait_policy.hpp"

namespace laminar {

/// A bounded single-producer single-consumer channel of T (T must be
/// nothrow-move-constructible). try_push, try_emplace and push belong to
/// one producer thread; try_pop, consume, ready and wait_for_data to one
/// consumer thread; capacity, size, empty and wake_waiters to any thread.
/// Destroying the channel destroys the messages still in it.
template <class T>
class spsc_channel : public detail::stamped_ring<T> {
  using base = detail::stamped_ring<T>;
  using typename base::slot;

 public:
  /// Holds up to `capacity` messages, rounded up to a power of two.
  explicit spsc_channel(std::size_t capacity) : base(capacity) {}

  // ---- producer thread ----

  /// Appends a message, visible to the consumer at once; false when the
  /// channel is full (`value` is then left as it was).
  bool try_push(T&& value) noexcept { return try_emplace(std::move(value)); }

  /// Constructs a message in place from `args`; false when the channel is
  /// full. If the constructor throws, nothing is appended.
  template <class... A>
  bool try_emplace(A&&... args) noexcept(std::is_nothrow_constructible_v<T, A...>) {
    const std::uint64_t head = this->head_.load(std::memory_order_relaxed);
    if (head - this->tail_cache_.load(std::memory_order_relaxed) > this->mask_) {
      const std::uint64_t tail = this->tail_.load(std::memory_order_acquire);
      this->tail_cache_.store(tail, std::memory_order_relaxed);
      if (head - tail > this->mask_) return false;
    }
    slot& s = this->slots_[head & this->mask_];
    ::new (static_cast<void*>(s.bytes)) T(std::forward<A>(args)...);
    s.stamp.store(head + 1, std::memory_order_release);
    this->head_.store(head + 1, std::memory_order_relaxed);
    this->published();
    return true;
  }

  /// Appends a message, waiting by `policy` while the channel is full
  /// (backpressure). Returns false, leaving `value` as it was, only if
  /// *cancel became true first.
  bool push(T&& value, wait_policy policy = wait_policy::spin_then_yield, const std::atomic<bool>* cancel = nullptr) {
    while (!try_push(std::move(value))) {
      if (!wait_until(policy, [this] { return has_room(); }, this->space_word_, cancel)) return false;
    }
    return true;
  }

 private:
  bool has_room() noexcept {
    const std::uint64_t tail = this->tail_.load(std::memory_order_acquire);
    this->tail_cache_.store(tail, std::memory_order_relaxed);
    return this->head_.load(std::memory_order_relaxed) - tail <= this->mask_;
  }
};

}  // namespace laminar
