// How a thread waits on a channel (for data, or for room): spin, spin then
// yield, or park; and the wake-up that lets the other side end a park.
//
//   spin             polls without pause for a while, then with a PAUSE
//                    between polls, for ever: the lowest latency, a whole
//                    core. Only for threads pinned to a core of their own.
//   spin_then_yield  spins a few microseconds, then yields the CPU between
//                    polls: near-spin latency while the stream is busy, and
//                    the core is shared when another thread is runnable. The
//                    default.
//   park             spins and yields briefly, then sleeps in the kernel
//                    until the other side wakes it: no CPU while idle, some
//                    microseconds to wake. For threads that may wait long.
//
// The park protocol, on a 32-bit word per direction: bit 0 says "someone may
// be parked here", bits 1-31 count wake-ups. A waiter sets bit 0 with a
// locked read-modify-write (so it is ordered before the waiter's re-check of
// its condition), re-checks, and sleeps while the word is unchanged. The
// other side, after publishing, reads the word with one relaxed load and
// only if bit 0 is set clears it, advances the count and wakes the sleepers:
// with nobody parked a publish costs one load of a line that nobody writes.
// The price of that cheap path: the publisher's load may pass its own
// publishing store (x86 lets a load overtake an earlier store), so a waiter
// that parks within those few nanoseconds is not woken. Every park is
// therefore limited to park_recheck (1 ms), after which the waiter re-checks
// its condition: a missed wake-up costs at most that, never a hang. Waiters
// re-check *cancel on the same schedule, so a cancel reaches a parked thread
// within 1 ms, or at once if the canceller then calls the channel's
// wake_waiters().
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

/// Polls without PAUSE first. Measured on the 2-vCPU Zen 4 VMs: PAUSE takes
/// ~30 ns there, which would be most of a one-way hand-off, and pausing
/// after every empty poll cut throughput; an unpaused poll of a line that
/// has not changed is an L1 hit. 256 polls cover a round trip between cores.
inline constexpr unsigned tight_polls = 256;
/// Then polls with a PAUSE between, about 4 us more, before yielding
/// (spin_then_yield, park) or for ever (spin).
inline constexpr unsigned spin_rounds = tight_polls + 128;
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
  // Whoever clears the bit wakes. Adding 1 to an odd word clears bit 0 and
  // advances the count, so a waiter that read the word before this wake-up
  // cannot sleep on it afterwards (its futex compare fails).
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

/// Waits by `policy` until pred() is true or *cancel (may be null) becomes
/// true; returns pred(). A parked waiter sleeps on `word`, which the side
/// that makes pred() true passes to notify_waiters() after doing so.
template <class Pred>
bool wait_until(wait_policy policy, Pred&& pred, std::atomic<std::uint32_t>& word, const std::atomic<bool>* cancel) {
  if (pred()) return true;
  for (unsigned i = 0; policy == wait_policy::spin || i < detail::spin_rounds; ++i) {
    if (detail::cancelled(cancel)) return pred();
    if (i >= detail::tight_polls) detail::cpu_relax();
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
    if (pred()) return true;
    if (detail::cancelled(cancel)) return pred();
    detail::park_on(word, parked, detail::park_recheck);
    if (pred()) return true;
  }
}

/// The same for a condition nobody notifies: parking then sleeps in naps of
/// park_recheck (1 ms).
template <class Pred>
bool wait_until(wait_policy policy, Pred&& pred, const std::atomic<bool>* cancel = nullptr) {
  std::atomic<std::uint32_t> never_notified{0};
  return wait_until(policy, std::forward<Pred>(pred), never_notified, cancel);
}

}  // namespace laminar
