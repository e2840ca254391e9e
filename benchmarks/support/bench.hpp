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
#include <optional>
#include <span>
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

/// Interleaved repetitions of contenders doing the same job (laminar and
/// the hand loop, say) on the same data, so that drifting machine load falls
/// on all of them alike:
///
///   - a warm-up: each contender runs once, in order, and must give `want`;
///   - then `reps` repetitions, the k-th run of repetition r being contender
///     (r + k) % n, so that each takes every place in the order in turn;
///     every run must give `want` too;
///   - returns each contender's median rate, `events` / seconds, in the
///     order of `names`; nothing (after saying on stderr which contender
///     differed) when a run's result differs from `want`.
///
/// run(i) runs contender i (0 <= i < names.size()) and returns its result,
/// compared with ==; names[i] names it in the message.
template <class Result, class Run>
std::optional<std::vector<double>> interleaved_rates(std::string_view bench, std::span<const std::string_view> names,
                                                     std::size_t events, int reps, const Result& want, Run&& run) {
  const std::size_t n = names.size();
  const auto differs = [&](std::size_t i, const char* when) {
    std::fprintf(stderr, "%.*s: %.*s: the result differs from the reference (%s)\n", static_cast<int>(bench.size()),
                 bench.data(), static_cast<int>(names[i].size()), names[i].data(), when);
    return std::nullopt;
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (!(run(i) == want)) return differs(i, "warm-up");
  }
  std::vector<std::vector<double>> rates(n);
  for (int r = 0; r < reps; ++r) {
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (static_cast<std::size_t>(r) + k) % n;
      stopwatch sw;
      const Result got = run(i);
      const double rate = static_cast<double>(events) / sw.elapsed_s();
      if (!(got == want)) return differs(i, "timed run");
      rates[i].push_back(rate);
    }
  }
  std::vector<double> medians;
  medians.reserve(n);
  for (std::vector<double>& samples : rates) medians.push_back(median(std::move(samples)));
  return medians;
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
