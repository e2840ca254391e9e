// Shared internals of the channels: sleeping on a 32-bit word with a time
// limit, and waking its sleepers. On Linux this is the futex that
// std::atomic<std::uint32_t>::wait uses underneath, called directly because
// atomic::wait has no time limit and a parked channel side must re-check
// its condition now and then (see wait_policy.hpp for why).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#endif

namespace laminar::detail {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "the futex needs std::atomic<std::uint32_t> to be a bare 32-bit word");

/// Sleeps while `word` holds `expected`, for at most `limit`; returns early
/// when woken, when the word changes, or on a spurious wake-up.
inline void park_on(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::chrono::nanoseconds limit) noexcept {
#if defined(__linux__)
  const auto ns = limit.count();
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  // EAGAIN (the word already changed), EINTR and ETIMEDOUT all mean: re-check.
  (void)syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr, 0);
#else
  if (word.load(std::memory_order_relaxed) == expected) std::this_thread::sleep_for(limit);
#endif
}

/// Wakes every thread sleeping in park_on(word, ...).
inline void unpark_all(std::atomic<std::uint32_t>& word) noexcept {
#if defined(__linux__)
  (void)syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
#else
  (void)word;  // sleepers re-check when their nap ends
#endif
}

}  // namespace laminar::detail
