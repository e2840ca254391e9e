// Shared internals of the channels: the bounded ring of stamped slots and
// everything but the producer's claim of a position, which is all that
// differs between one producer (spsc_channel) and many (mpsc_channel).
//
// The consumer polls the stamp of the slot it reads next, never the
// producer's index: a message costs it the one cache line the message is in.
// It publishes its own position (the tail) only once per consume() batch,
// or every capacity/8 messages in a long one, and the producers reload the
// tail only when their cached copy says the ring is full; so neither index
// line moves between the cores on the common path.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "laminar/channel/detail/cpu.hpp"
#include "laminar/channel/detail/slot.hpp"
#include "laminar/channel/wait_policy.hpp"

namespace laminar::detail {

template <class T>
class stamped_ring {
  static_assert(std::is_nothrow_move_constructible_v<T>, "a laminar channel needs a nothrow-movable message type");
  static_assert(std::is_nothrow_destructible_v<T>, "a laminar channel needs a message type whose destructor does not throw");

 protected:
  using slot = stamped_slot<T>;

  explicit stamped_ring(std::size_t capacity)
      : mask_(std::bit_ceil(capacity < 1 ? std::size_t{1} : capacity) - 1),
        publish_mask_(mask_ < 8 ? 0 : ((mask_ + 1) / 8) - 1),
        slots_(mask_ + 1) {}

  ~stamped_ring() {
    // Both sides are gone: what is stamped past the consumer is still ours.
    for (std::uint64_t t = pos_; slots_[t & mask_].stamp.load(std::memory_order_acquire) == t + 1; ++t) {
      slots_[t & mask_].get()->~T();
    }
  }

 public:
  using value_type = T;

  stamped_ring(const stamped_ring&) = delete;
  stamped_ring& operator=(const stamped_ring&) = delete;

  [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }

  // ---- consumer thread ----

  /// Calls f(T&) for each ready message, in order, up to `max`; destroys
  /// them and returns how many. A message handed to f is consumed even if f
  /// throws (the exception then leaves consume, and the messages after it
  /// stay queued): a message that makes f fail is not delivered again.
  template <class F>
  std::size_t consume(F&& f, std::size_t max = SIZE_MAX) {
    // Locals, so that the loop keeps them in registers across the acquire
    // loads and the calls to f.
    slot* const slots = &slots_[0];
    const std::uint64_t mask = mask_;
    const std::uint64_t publish_mask = publish_mask_;
    struct batch {
      stamped_ring* ring;
      std::uint64_t pos;
      ~batch() { ring->release_to(pos); }
    } b{this, pos_};
    const std::uint64_t start = b.pos;
    const std::uint64_t end = max > UINT64_MAX - start ? UINT64_MAX : start + max;
    while (b.pos != end) {
      slot& s = slots[b.pos & mask];
      if (s.stamp.load(std::memory_order_acquire) != b.pos + 1) break;
      ++b.pos;
      {
        destroy_at_exit<T> message{s.get()};
        f(*message.value);
      }
      if ((b.pos & publish_mask) == 0) release_to(b.pos);
    }
    return static_cast<std::size_t>(b.pos - start);
  }

  /// Moves the next message into `out`; false when none is ready.
  bool try_pop(T& out) noexcept {
    static_assert(std::is_nothrow_move_assignable_v<T>, "try_pop needs a nothrow move assignment; use consume()");
    return consume([&out](T& m) noexcept { out = std::move(m); }, 1) == 1;
  }

  /// Whether the next message is ready.
  [[nodiscard]] bool ready() const noexcept {
    return slots_[pos_ & mask_].stamp.load(std::memory_order_acquire) == pos_ + 1;
  }

  /// Waits by `policy` until a message is ready; false only if *cancel
  /// became true first.
  bool wait_for_data(wait_policy policy = wait_policy::spin_then_yield, const std::atomic<bool>* cancel = nullptr) {
    return wait_until(policy, [this] { return ready(); }, data_word_, cancel);
  }

  // ---- any thread ----

  /// Messages queued: approximate while either side is busy (the consumer
  /// publishes its position once per batch), exact when both are idle.
  [[nodiscard]] std::size_t size() const noexcept {
    // The tail first: it never passes the head, so a later head is >= it.
    const std::uint64_t tail = tail_.load(std::memory_order_acquire);
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    const std::uint64_t n = head - tail;
    return static_cast<std::size_t>(n > mask_ + 1 ? mask_ + 1 : n);
  }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }

  /// Wakes every thread parked in push() or wait_for_data() now, e.g. after
  /// setting the cancel flag they were given (otherwise they notice it
  /// within detail::park_recheck, 1 ms).
  void wake_waiters() noexcept {
    // Read-modify-writes rather than loads: a locked instruction cannot pass
    // the caller's cancel store, so a waiter that has not yet set its bit
    // will see the cancel on its re-check.
    wake_parked(data_word_, data_word_.fetch_or(0, std::memory_order_seq_cst));
    wake_parked(space_word_, space_word_.fetch_or(0, std::memory_order_seq_cst));
  }

 protected:
  // The consumer has finished with every message before `pos`: publish it
  // for the producers and wake those parked on a full ring.
  void release_to(std::uint64_t pos) noexcept {
    if (pos == pos_) return;
    pos_ = pos;
    tail_.store(pos, std::memory_order_release);
    notify_waiters(space_word_);
  }

  // A producer has stamped a message: wake the consumer if it parked.
  void published() noexcept { notify_waiters(data_word_); }

  // Read-only after construction, shared by both sides.
  const std::uint64_t mask_;
  const std::uint64_t publish_mask_;  // within a long batch, the consumer publishes every capacity/8 messages
  slot_array<T> slots_;

  // The producers' line: the next position to claim, and their cached copy
  // of tail_ (reloaded only when it says full).
  alignas(cache_line) std::atomic<std::uint64_t> head_{0};
  std::atomic<std::uint64_t> tail_cache_{0};

  // The consumer's line: its position as published, and its own copy.
  alignas(cache_line) std::atomic<std::uint64_t> tail_{0};
  std::uint64_t pos_ = 0;

  // Park words (see wait_policy.hpp), each on a line of its own, which is
  // written only when someone parks: the other side's check stays an L1 hit.
  alignas(cache_line) std::atomic<std::uint32_t> data_word_{0};   // the consumer parks here
  alignas(cache_line) std::atomic<std::uint32_t> space_word_{0};  // producers park here
};

}  // namespace laminar::detail
