// A bounded channel from any number of producer threads to one consumer
// thread: fan-in without a merge stage. Producers claim positions with a
// compare-and-swap on a shared head, then write their slot and stamp it;
// the consumer side is the SPSC channel's. The design and its measured
// figures are in docs/channels.md.
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

/// A bounded multi-producer single-consumer channel of T (T must be
/// nothrow-move-constructible). Any number of threads may call try_push,
/// try_emplace and push at once; each producer's messages arrive in the
/// order it sent them. try_pop, consume, ready and wait_for_data belong to
/// one consumer thread; capacity, size, empty and wake_waiters to any
/// thread. A producer stalled between claiming a position and stamping it
/// holds up the consumer at that position (the ring is FIFO), never the
/// other producers. Destroying the channel destroys the messages still in it.
template <class T>
class mpsc_channel : public detail::stamped_ring<T> {
  using base = detail::stamped_ring<T>;
  using typename base::slot;

 public:
  /// Holds up to `capacity` messages, rounded up to a power of two.
  explicit mpsc_channel(std::size_t capacity) : base(capacity) {}

  // ---- producer threads ----

  /// Appends a message, visible to the consumer at once; false when the
  /// channel is full (`value` is then left as it was).
  bool try_push(T&& value) noexcept { return publish_claimed(std::move(value)); }

  /// Constructs a message from `args`; false when the channel is full. If
  /// the constructor throws, nothing is appended.
  template <class... A>
  bool try_emplace(A&&... args) noexcept(std::is_nothrow_constructible_v<T, A...>) {
    if constexpr (std::is_nothrow_constructible_v<T, A...>) {
      return publish_claimed(std::forward<A>(args)...);
    } else {
      // A claimed position must be stamped, or the consumer would wait at
      // it for ever: construct first, so a throw happens before the claim.
      T value(std::forward<A>(args)...);
      return publish_claimed(std::move(value));
    }
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
  // Claims the next position if the ring has room, constructs the message
  // from `args` (which must not throw) and stamps it.
  template <class... A>
  bool publish_claimed(A&&... args) noexcept {
    std::uint64_t head = this->head_.load(std::memory_order_relaxed);
    for (;;) {
      // Signed: a stale head may lie behind a tail another producer cached.
      // Acquire, because the cache was filled by another producer's acquire
      // of the tail: that chain orders the consumer's destruction of the
      // slot's last message before our construction in it.
      std::uint64_t tail = this->tail_cache_.load(std::memory_order_acquire);
      if (static_cast<std::int64_t>(head - tail) > static_cast<std::int64_t>(this->mask_)) {
        tail = this->tail_.load(std::memory_order_acquire);
        if (static_cast<std::int64_t>(head - tail) > static_cast<std::int64_t>(this->mask_)) {
          // Full, unless our head is stale; a stale head is only smaller.
          const std::uint64_t now = this->head_.load(std::memory_order_relaxed);
          if (now == head) return false;
          head = now;
          continue;
        }
        this->tail_cache_.store(tail, std::memory_order_release);
      }
      if (this->head_.compare_exchange_weak(head, head + 1, std::memory_order_relaxed, std::memory_order_relaxed)) {
        break;
      }
    }
    slot& s = this->slots_[head & this->mask_];
    ::new (static_cast<void*>(s.bytes)) T(std::forward<A>(args)...);
    s.stamp.store(head + 1, std::memory_order_release);
    this->published();
    return true;
  }

  bool has_room() const noexcept {
    const std::uint64_t tail = this->tail_.load(std::memory_order_acquire);
    return static_cast<std::int64_t>(this->head_.load(std::memory_order_relaxed) - tail) <=
           static_cast<std::int64_t>(this->mask_);
  }
};

}  // namespace laminar
