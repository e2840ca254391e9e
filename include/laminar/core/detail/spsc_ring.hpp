// A bounded single-producer single-consumer ring of T. Power-of-two capacity;
// each side keeps a cached copy of the other side's index so that it touches
// the shared cache line only when its cached view says full (or empty).
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>

namespace laminar::detail {

inline constexpr std::size_t cache_line = 64;

template <class T>
class spsc_ring {
  static_assert(std::is_nothrow_move_constructible_v<T>, "spsc_ring needs a nothrow-movable element type");

 public:
  explicit spsc_ring(std::size_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity) - 1), slots_(new slot[mask_ + 1]) {}
  spsc_ring(const spsc_ring&) = delete;
  spsc_ring& operator=(const spsc_ring&) = delete;
  ~spsc_ring() {
    while (try_pop()) {
    }
  }

  [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }

  /// Producer side. Returns false when the ring is full.
  bool try_push(T&& value) noexcept {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_cache_ > mask_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head - tail_cache_ > mask_) return false;
    }
    ::new (static_cast<void*>(slots_[head & mask_].bytes)) T(std::move(value));
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  /// Consumer side. Returns an empty optional when the ring is empty.
  std::optional<T> try_pop() noexcept {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_cache_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail == head_cache_) return std::nullopt;
    }
    T* p = std::launder(reinterpret_cast<T*>(slots_[tail & mask_].bytes));
    std::optional<T> out(std::move(*p));
    p->~T();
    tail_.store(tail + 1, std::memory_order_release);
    return out;
  }

  /// Approximate number of queued elements (exact when both sides are idle).
  [[nodiscard]] std::size_t size() const noexcept {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }

 private:
  struct slot {
    alignas(T) unsigned char bytes[sizeof(T)];
  };
  const std::size_t mask_;
  std::unique_ptr<slot[]> slots_;
  alignas(cache_line) std::atomic<std::size_t> head_{0};  // written by the producer
  std::size_t tail_cache_ = 0;                            // producer's view of tail_
  alignas(cache_line) std::atomic<std::size_t> tail_{0};  // written by the consumer
  std::size_t head_cache_ = 0;                            // consumer's view of head_
};

}  // namespace laminar::detail
