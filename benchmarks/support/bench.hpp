// The benchmark harness: every figure is one line on stdout,
//
//   bench <name> <value> <unit>
//
// e.g. `bench fused_chain_events_per_s 912345678 events/s` or
// `bench fused_chain_vs_hand_loop 0.987 x`, so that scripts can grep and
// compare runs. Diagnostics go to stderr.
//
// LAMINAR_BENCH_SMOKE=1 in the environment asks every benchmark to shrink its
// sizes and repetitions drastically (the ctest smoke run); smoke runs still
// print every bench line, their values just mean little.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <type_traits>
#include <vector>

namespace laminar::bench {

/// True when LAMINAR_BENCH_SMOKE is set to anything but "" or "0".
inline bool smoke() {
  static const bool on = [] {
    const char* v = std::getenv("LAMINAR_BENCH_SMOKE");
    return v != nullptr && *v != '\0' && std::string_view(v) != "0";
  }();
  return on;
}

/// `full` normally, `small` in a smoke run.
template <class T>
T pick(T full, T small) {
  return smoke() ? small : full;
}

/// Prints one figure: `bench <name> <value> <unit>`. With decimals < 0 the
/// precision follows the magnitude: whole numbers from 1000 up, three
/// decimals below.
inline void report(std::string_view name, double value, std::string_view unit, int decimals = -1) {
  if (decimals < 0) decimals = (value >= 1000.0 || value <= -1000.0) ? 0 : 3;
  std::printf("bench %.*s %.*f %.*s\n", static_cast<int>(name.size()), name.data(), decimals, value,
              static_cast<int>(unit.size()), unit.data());
  std::fflush(stdout);
}

/// A monotonic stopwatch on std::chrono::steady_clock.
class stopwatch {
 public:
  using clock = std::chrono::steady_clock;

  stopwatch() noexcept : start_(clock::now()) {}
  void restart() noexcept { start_ = clock::now(); }
  [[nodiscard]] std::int64_t elapsed_ns() const noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start_).count();
  }
  [[nodiscard]] double elapsed_s() const noexcept { return static_cast<double>(elapsed_ns()) * 1e-9; }

 private:
  clock::time_point start_;
};

/// Monotonic time in nanoseconds (steady_clock), for differences only.
inline std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// The median of the samples (the mean of the middle two for an even count);
/// 0 for none.
inline double median(std::vector<double> samples) {
  if (samples.empty()) return 0.0;
  const std::size_t mid = samples.size() / 2;
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(mid), samples.end());
  const double upper = samples[mid];
  if (samples.size() % 2 != 0) return upper;
  const double lower = *std::max_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lower + upper) / 2.0;
}

/// Makes the compiler believe `value` is read, so the work that produced it
/// cannot be dropped. Costs at most one store.
template <class T>
inline void do_not_optimize(const T& value) noexcept {
  if constexpr (std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(std::uint64_t)) {
    asm volatile("" : : "r,m"(value) : "memory");
  } else {
    asm volatile("" : : "r"(&value) : "memory");
  }
}

/// Makes the compiler believe all memory may have been read and written:
/// stores before it happen, loads after it are redone.
inline void clobber_memory() noexcept { asm volatile("" : : : "memory"); }

}  // namespace laminar::bench
