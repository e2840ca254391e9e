// A thread parked on a park word the way wait_until(wait_policy::park, ...)
// parks (bit 0 of the word set, then asleep in the kernel while the word is
// unchanged), but for up to long_park instead of park_recheck. wait_until's
// parked waiters re-check on their own every 1 ms, so a test built on them
// passes even when the notify it names does nothing; a long parker wakes
// within seconds only if something woke it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

#include <sys/syscall.h>
#include <unistd.h>

#include <laminar/channel/wait_policy.hpp>

namespace channel_test {

/// How long a long parker sleeps when nothing wakes it.
inline constexpr std::chrono::seconds long_park{10};
/// A wake-up within this came from a notify, not from the end of long_park.
inline constexpr std::chrono::seconds woken_within{5};

class long_parker {
 public:
  explicit long_parker(std::atomic<std::uint32_t>& word) : thread_([this, &word] { run(word); }) {}
  long_parker(const long_parker&) = delete;
  long_parker& operator=(const long_parker&) = delete;
  ~long_parker() {
    go_.store(true);
    thread_.join();
  }

  /// Waits (at most 5 s) until the thread has set its bit and sleeps in the
  /// kernel; false if it did not get there.
  [[nodiscard]] bool wait_until_asleep() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (tid_.load() != 0 && sleeping(tid_.load())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
  /// What it waits for (the condition a parked waiter re-checks) now holds:
  /// it returns once it wakes.
  void let_go() { go_.store(true); }
  /// Whether it returns within d (it returns only once let go and awake).
  [[nodiscard]] bool returned_within(std::chrono::steady_clock::duration d) const {
    const auto deadline = std::chrono::steady_clock::now() + d;
    while (!returned_.load()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return true;
  }

 private:
  void run(std::atomic<std::uint32_t>& word) {
    const std::uint32_t parked = word.fetch_or(1, std::memory_order_seq_cst) | 1U;
    tid_.store(static_cast<long>(::syscall(SYS_gettid)));
    // Spurious wake-ups sleep again on the unchanged word; once a notify has
    // moved the word, the kernel refuses the sleep at once.
    const auto give_up = std::chrono::steady_clock::now() + long_park;
    while (!go_.load() && std::chrono::steady_clock::now() < give_up) {
      laminar::detail::park_on(word, parked, long_park);
    }
    // A waiter that slept out long_park sees go_ only now: it returns late.
    while (!go_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    returned_.store(true);
  }

  // Linux: the thread's state in /proc is S (asleep, here in the futex).
  static bool sleeping(long tid) {
    std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'S';
  }

  std::atomic<bool> go_{false};
  std::atomic<bool> returned_{false};
  std::atomic<long> tid_{0};
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace channel_test
