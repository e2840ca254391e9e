// A single-thread FIFO on a ring that only grows: a power of two, doubled
// when full and never shrunk, so a queue that has once held its steady-state
// peak allocates nothing more. What a task keeps between its channels and its
// body (a join's messages read ahead, an output's overflow) lives in one;
// std::deque, which frees and reallocates a block every few messages as the
// queue moves, would allocate per record.
#pragma once

#include <bit>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace laminar::detail {

template <class T>
class ring_queue {
  static_assert(std::is_nothrow_move_constructible_v<T>, "ring_queue moves its elements when it grows");
  static_assert(std::is_nothrow_destructible_v<T>, "ring_queue needs an element type whose destructor does not throw");

 public:
  using value_type = T;
  static constexpr std::size_t min_capacity = 16;

  ring_queue() noexcept = default;
  ring_queue(ring_queue&& o) noexcept
      : slots_(std::exchange(o.slots_, nullptr)),
        mask_(std::exchange(o.mask_, 0)),
        head_(std::exchange(o.head_, 0)),
        size_(std::exchange(o.size_, 0)) {}
  ring_queue& operator=(ring_queue&& o) noexcept {
    if (this != &o) {
      release();
      slots_ = std::exchange(o.slots_, nullptr);
      mask_ = std::exchange(o.mask_, 0);
      head_ = std::exchange(o.head_, 0);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ring_queue(const ring_queue&) = delete;
  ring_queue& operator=(const ring_queue&) = delete;
  ~ring_queue() { release(); }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  /// Slots allocated (0 until the first push).
  [[nodiscard]] std::size_t capacity() const noexcept { return slots_ ? mask_ + 1 : 0; }

  /// The k-th element from the front.
  [[nodiscard]] T& operator[](std::size_t k) noexcept { return *slot(k); }
  [[nodiscard]] const T& operator[](std::size_t k) const noexcept { return *slot(k); }
  [[nodiscard]] T& front() noexcept { return *slot(0); }
  [[nodiscard]] const T& front() const noexcept { return *slot(0); }
  [[nodiscard]] T& back() noexcept { return *slot(size_ - 1); }

  template <class... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == capacity()) grow();
    // If the constructor throws, the queue is as it was (larger, perhaps).
    T* p = std::construct_at(slot(size_), std::forward<Args>(args)...);
    ++size_;
    return *p;
  }
  void push_back(T&& v) { emplace_back(std::move(v)); }
  void push_back(const T& v) { emplace_back(v); }

  void pop_front() noexcept {
    std::destroy_at(slot(0));
    head_ = (head_ + 1) & mask_;
    --size_;
  }

  /// Removes the k-th element; those behind it move up one place. Linear,
  /// for the rare removal from the middle (a barrier found behind others).
  void erase(std::size_t k) noexcept(std::is_nothrow_move_assignable_v<T>) {
    for (std::size_t i = k; i + 1 < size_; ++i) *slot(i) = std::move(*slot(i + 1));
    std::destroy_at(slot(size_ - 1));
    --size_;
  }

  /// Destroys every element; keeps the storage.
  void clear() noexcept {
    while (size_ != 0) pop_front();
    head_ = 0;
  }

 private:
  [[nodiscard]] T* slot(std::size_t k) const noexcept { return slots_ + ((head_ + k) & mask_); }

  // Doubles the storage and moves the elements to its start, in order.
  void grow() {
    const std::size_t cap = slots_ ? 2 * (mask_ + 1) : min_capacity;
    static_assert(std::has_single_bit(min_capacity));
    T* fresh = std::allocator<T>{}.allocate(cap);
    for (std::size_t k = 0; k < size_; ++k) {
      std::construct_at(fresh + k, std::move(*slot(k)));
      std::destroy_at(slot(k));
    }
    if (slots_) std::allocator<T>{}.deallocate(slots_, mask_ + 1);
    slots_ = fresh;
    mask_ = cap - 1;
    head_ = 0;
  }

  void release() noexcept {
    if (!slots_) return;
    clear();
    std::allocator<T>{}.deallocate(slots_, mask_ + 1);
    slots_ = nullptr;
    mask_ = 0;
  }

  T* slots_ = nullptr;
  std::size_t mask_ = 0;  // capacity - 1 once allocated
  std::size_t head_ = 0;  // the front's slot
  std::size_t size_ = 0;
};

}  // namespace laminar::detail
