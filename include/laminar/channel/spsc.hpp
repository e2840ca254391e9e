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
/// nothrow-move-constructible). try_push, try_emplace, push and the batch
/// forms try_push_n and push_n belong to
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

  /// Moves as many of the `n` messages at `first` as there is room for
  /// (in order) and returns how many; one check of the room and one wake-up
  /// check for the whole batch. The messages moved from are left moved-from.
  std::size_t try_push_n(T* first, std::size_t n) noexcept {
    const std::uint64_t head = this->head_.load(std::memory_order_relaxed);
    std::uint64_t room = this->mask_ + 1 - (head - this->tail_cache_.load(std::memory_order_relaxed));
    if (room < n) {
      const std::uint64_t tail = this->tail_.load(std::memory_order_acquire);
      this->tail_cache_.store(tail, std::memory_order_relaxed);
      room = this->mask_ + 1 - (head - tail);
    }
    const std::uint64_t count = n < room ? n : room;
    for (std::uint64_t i = 0; i < count; ++i) {
      slot& s = this->slots_[(head + i) & this->mask_];
      ::new (static_cast<void*>(s.bytes)) T(std::move(first[i]));
      // Each slot's own stamp: the consumer may start on the batch at once.
      s.stamp.store(head + i + 1, std::memory_order_release);
    }
    if (count == 0) return 0;
    this->head_.store(head + count, std::memory_order_relaxed);
    this->published();
    return static_cast<std::size_t>(count);
  }

  /// Moves all `n` messages at `first`, waiting by `policy` while the
  /// channel is full. Returns how many were moved: `n`, or fewer only if
  /// *cancel became true first.
  std::size_t push_n(T* first, std::size_t n, wait_policy policy = wait_policy::spin_then_yield,
                     const std::atomic<bool>* cancel = nullptr) {
    std::size_t done = try_push_n(first, n);
    while (done < n) {
      if (!wait_until(policy, [this] { return has_room(); }, this->space_word_, cancel)) return done;
      done += try_push_n(first + done, n - done);
    }
    return done;
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
