// How a thread waits on a channel (for data, or for room): spin, spin then
// yield, or park; and the wake-up that lets the other side end a park.
//
//   spin             a whole core, the lowest latency (tens of ns); only for
//                    threads pinned to a core of their own.
//   spin_then_yield  spins a few microseconds, then yields the CPU between
//                    checks: near-spin latency while busy, and shares the core
//                    when another thread is runnable. The default.
//   park             spins briefly, then sleeps in the kernel until the other
//                    side wakes it: no CPU while idle, a few microseconds to
//                    wake. For threads that may wait long.
//
// The park protocol, on a 32-bit word per direction: bit 0 says "someone may
// be parked here", bits 1-31 count wake-ups. A waiter sets bit 0 (a locked
// RMW, so it is ordered before its re-check of the condition), re-checks, and
// sleeps while the word is unchanged. The other side, after publishing,
// reads the word with one relaxed load; only if bit 0 is set does it clear
// the bit, advance the count and wake the sleepers. That keeps the common
// path (nobody parked) at one load of a line nobody writes. The price: the
// publisher's load can pass its own publishing store, so a waiter that
// parks in that window of a few nanoseconds is not woken. Every park is
// therefore limited to park_recheck (1 ms), after which the waiter re-checks
// the condition: a missed wake-up costs at most that, never a hang. Waiters
// re-check *cancel on the same schedule, so cancelling a parked thread takes
// effect within 1 ms (or at once if the canceller also calls
// notify_waiters on the word, or the channel's wake_waiters()).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>

#include "laminar/channel/detail/cpu.hpp"
#include "laminar/channel/detail/park.hpp"

namespace laminar {

enum class wait_policy : std::uint8_t { spin, spin_then_yield, park };

namespace detail {

/// Spins before yielding or parking: with PAUSE at ~30 ns, about 4 us,
/// longer than a typical gap in a busy stream and far shorter than a sleep.
inline constexpr unsigned spin_rounds = 128;
/// Yields after spinning and before parking, for gaps of a few more microseconds.
inline constexpr unsigned park_yields = 16;
/// The longest a parked waiter sleeps before re-checking on its own.
inline constexpr std::chrono::microseconds park_recheck{1000};

inline constexpr std::uint32_t parked_bit = 1;

inline bool cancelled(const std::atomic<bool>* cancel) noexcept {
  return cancel != nullptr && cancel->load(std::memory_order_relaxed);
}

// Out of line and cold: the path that actually wakes someone.
[[gnu::noinline, gnu::cold]] inline void wake_parked(std::atomic<std::uint32_t>& word, std::uint32_t seen) noexcept {
  // Whoever clears the bit wakes; adding 1 to an odd word clears bit 0 and
  // advances the count, so a waiter that slept on the old value cannot
  // mistake a later park for its own.
  while ((seen & parked_bit) != 0) {
    if (word.compare_exchange_weak(seen, seen + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      unpark_all(word);
      return;
    }
  }
}

}  // namespace detail

/// Wakes the threads parked on `word` by wait_until(wait_policy::park, ...).
/// Call it after publishing what they wait for. Costs one relaxed load when
/// nobody is parked.
inline void notify_waiters(std::atomic<std::uint32_t>& word) noexcept {
  const std::uint32_t seen = word.load(std::memory_order_relaxed);
  if ((seen & detail::parked_bit) != 0) [[unlikely]]
    detail::wake_parked(word, seen);
}

/// Waits until pred() is true or *cancel (may be null) becomes true, by
/// `policy`; returns pred(). Parking sleeps on `word`, which the side that
/// makes pred() true must pass to notify_waiters().
template <class Pred>
bool wait_until(wait_policy policy, Pred&& pred, std::atomic<std::uint32_t>& word, const std::atomic<bool>* cancel) {
  if (pred()) return true;
  for (unsigned i = 0; policy == wait_policy::spin || i < detail::spin_rounds; ++i) {
    if (detail::cancelled(cancel)) return pred();
    detail::cpu_relax();
    if (pred()) return true;
  }
  for (unsigned i = 0; policy == wait_policy::spin_then_yield || i < detail::park_yields; ++i) {
    if (detail::cancelled(cancel)) return pred();
    std::this_thread::yield();
    if (pred()) return true;
  }
  for (;;) {
    if (detail::cancelled(cancel)) return pred();
    const std::uint32_t parked = word.fetch_or(detail::parked_bit, std::memory_order_seq_cst) | detail::parked_bit;
    // Pairs with the fence of a publisher that fences before notifying (a
    // channel's consumer freeing room, wake_waiters()): one of the two then
    // sees the other, so that wake-up cannot be missed.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (pred()) return true;
    if (detail::cancelled(cancel)) return pred();
    detail::park_on(word, parked, detail::park_recheck);
    if (pred()) return true;
  }
}

/// The same without a word to sleep on (nobody will call notify_waiters):
/// parking then sleeps in naps of at most park_recheck.
template <class Pred>
bool wait_until(wait_policy policy, Pred&& pred, const std::atomic<bool>* cancel = nullptr) {
  std::atomic<std::uint32_t> never_notified{0};
  return wait_until(policy, std::forward<Pred>(pred), never_notified, cancel);
}

}  // namespace laminar
