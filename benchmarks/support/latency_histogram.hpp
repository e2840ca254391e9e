// Per-event latency measurement for benchmarks: a fixed-size log-linear
// latency histogram (HdrHistogram's bucket layout), a cycle-counter timer
// calibrated to nanoseconds, and a measurement of that timer's own cost, to
// print beside per-event percentiles (every per-event sample includes it).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>  // __rdtsc, __rdtscp, _mm_lfence
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace laminar::bench {

/// Counts values (nanoseconds) in log-linear buckets: exact below 256, then
/// 128 buckets per power of two, so a bucket spans at most 1/128 (0.78%) of
/// the values in it. The whole uint64 range fits in a fixed array (about
/// 58 KiB); record() never allocates and costs a few instructions.
class latency_histogram {
 public:
  /// log2 of the buckets per power of two.
  static constexpr int sub_bucket_bits = 7;
  static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << sub_bucket_bits;
  /// Largest relative width of a bucket: the bound on a percentile's error.
  static constexpr double max_relative_error = 1.0 / static_cast<double>(sub_buckets);
  static constexpr std::size_t bucket_count =
      static_cast<std::size_t>((64 - sub_bucket_bits - 1) * sub_buckets + 2 * sub_buckets);

  void record(std::uint64_t ns) noexcept { record_n(ns, 1); }

  /// Records `n` occurrences of the value `ns`.
  void record_n(std::uint64_t ns, std::uint64_t n) noexcept {
    if (n == 0) return;
    counts_[index_of(ns)] += n;
    count_ += n;
    sum_ += static_cast<double>(ns) * static_cast<double>(n);
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
  }

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  /// Exact smallest and largest values recorded (0 when empty).
  [[nodiscard]] std::uint64_t min() const noexcept { return empty() ? 0 : min_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept { return empty() ? 0.0 : sum_ / static_cast<double>(count_); }

  /// The value at or below which `p` percent of the recorded values lie
  /// (p in [0, 100]; 50 = median, 99.9 = p999, 100 = max). Reported as the
  /// top of its bucket, clamped to the exact min and max, so it is never
  /// below the true percentile and at most max_relative_error above it.
  [[nodiscard]] std::uint64_t percentile(double p) const noexcept {
    if (empty()) return 0;
    if (!(p > 0.0)) return min_;
    if (p >= 100.0) return max_;
    auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::clamp(highest_in_bucket(i), min_, max_);
    }
    return max_;
  }

  /// Adds another histogram's values to this one.
  void merge(const latency_histogram& other) noexcept {
    if (other.empty()) return;
    for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }

  void reset() noexcept {
    counts_.fill(0);
    count_ = 0;
    sum_ = 0.0;
    min_ = std::numeric_limits<std::uint64_t>::max();
    max_ = 0;
  }

  /// The bucket a value falls in.
  [[nodiscard]] static constexpr std::size_t index_of(std::uint64_t v) noexcept {
    if (v < 2 * sub_buckets) return static_cast<std::size_t>(v);
    const int shift = static_cast<int>(std::bit_width(v)) - 1 - sub_bucket_bits;  // >= 1
    return static_cast<std::size_t>(static_cast<std::uint64_t>(shift) * sub_buckets + (v >> shift));
  }
  /// The smallest and largest value of a bucket.
  [[nodiscard]] static constexpr std::uint64_t lowest_in_bucket(std::size_t i) noexcept {
    if (i < 2 * sub_buckets) return i;
    const std::uint64_t shift = i / sub_buckets - 1;
    const std::uint64_t sub = i - shift * sub_buckets;  // in [sub_buckets, 2 * sub_buckets)
    return sub << shift;
  }
  [[nodiscard]] static constexpr std::uint64_t highest_in_bucket(std::size_t i) noexcept {
    if (i < 2 * sub_buckets) return i;
    const std::uint64_t shift = i / sub_buckets - 1;
    return lowest_in_bucket(i) + ((std::uint64_t{1} << shift) - 1);
  }

 private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t count_ = 0;
  double sum_ = 0.0;
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t max_ = 0;
};

static_assert(latency_histogram::index_of(std::numeric_limits<std::uint64_t>::max()) ==
              latency_histogram::bucket_count - 1);
static_assert(latency_histogram::index_of(255) == 255 && latency_histogram::index_of(256) == 256);
static_assert(latency_histogram::lowest_in_bucket(latency_histogram::index_of(1000)) <= 1000 &&
              latency_histogram::highest_in_bucket(latency_histogram::index_of(1000)) >= 1000);

/// A cycle-counter timer: start()/stop() read the time-stamp counter (rdtsc,
/// fenced so the timed code stays between the reads), and the constructor
/// calibrates ticks against steady_clock. Elsewhere than x86 the ticks are
/// steady_clock nanoseconds.
class cycle_timer {
 public:
  using ticks = std::uint64_t;

  /// Calibrates over three windows of `window` each and keeps the median.
  explicit cycle_timer(std::chrono::nanoseconds window = std::chrono::milliseconds(20)) {
    std::array<double, 3> ratios{};
    for (double& r : ratios) r = measure_ns_per_tick(window);
    std::sort(ratios.begin(), ratios.end());
    ns_per_tick_ = ratios[1];
  }

  /// Reads the counter, unfenced: the cheapest read, free to move past
  /// neighbouring instructions.
  [[nodiscard]] static ticks now() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return steady_ns();
#endif
  }

  /// Reads the counter before the timed code.
  [[nodiscard]] static ticks start() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_lfence();
    const ticks t = __rdtsc();
    _mm_lfence();
    asm volatile("" : : : "memory");  // the timed code's loads stay after the read
    return t;
#else
    return steady_ns();
#endif
  }

  /// Reads the counter after the timed code (waits for it to finish).
  [[nodiscard]] static ticks stop() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    asm volatile("" : : : "memory");  // the timed code's stores stay before the read
    unsigned aux = 0;
    const ticks t = __rdtscp(&aux);
    _mm_lfence();
    return t;
#else
    return steady_ns();
#endif
  }

  [[nodiscard]] double ns_per_tick() const noexcept { return ns_per_tick_; }
  [[nodiscard]] double ticks_per_ns() const noexcept { return 1.0 / ns_per_tick_; }
  [[nodiscard]] double to_ns(ticks t) const noexcept { return static_cast<double>(t) * ns_per_tick_; }
  /// Nanoseconds rounded to a whole number, for a latency_histogram.
  [[nodiscard]] std::uint64_t to_ns_rounded(ticks t) const noexcept {
    return static_cast<std::uint64_t>(std::llround(to_ns(t)));
  }

 private:
  static ticks steady_ns() noexcept {
    return static_cast<ticks>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
  }

  // A counter reading and the steady_clock time it was taken at: the
  // tightest of a few clock-counter-clock brackets, so that a preemption
  // between the reads cannot skew the calibration.
  struct paired_reading {
    ticks counter;
    double ns;
  };
  static paired_reading paired_read() noexcept {
    paired_reading best{0, 0.0};
    ticks best_gap = ~ticks{0};
    for (int i = 0; i < 16; ++i) {
      const ticks before = steady_ns();
      const ticks counter = now();
      const ticks after = steady_ns();
      if (after - before < best_gap) {
        best_gap = after - before;
        best = {counter, static_cast<double>(before) + static_cast<double>(after - before) / 2.0};
      }
    }
    return best;
  }

  static double measure_ns_per_tick(std::chrono::nanoseconds window) noexcept {
    const paired_reading a = paired_read();
    const double end = a.ns + static_cast<double>(window.count());
    while (static_cast<double>(steady_ns()) < end) {
    }
    const paired_reading b = paired_read();
    return b.counter > a.counter ? (b.ns - a.ns) / static_cast<double>(b.counter - a.counter) : 1.0;
  }

  double ns_per_tick_ = 1.0;
};

/// The timer's own cost: the median, in nanoseconds, of `samples`
/// back-to-back start()/stop() pairs with nothing between them. Every
/// per-event sample taken with the timer includes about this much.
inline double timer_cost_ns(const cycle_timer& timer, std::size_t samples = 100000) {
  if (samples == 0) return 0.0;
  std::vector<cycle_timer::ticks> d(samples);
  for (auto& x : d) {
    const auto a = cycle_timer::start();
    const auto b = cycle_timer::stop();
    x = b - a;
  }
  const std::size_t mid = samples / 2;
  std::nth_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(mid), d.end());
  return timer.to_ns(d[mid]);
}

/// The timer's resolution: the median, in nanoseconds, of the steps by which
/// the counter moves when read (unfenced) in a tight loop, `steps` of them;
/// where one read costs more than a tick this is the cost of a read. Some
/// counters tick coarsely (AMD Zen's TSC moves in ~10 ns steps), and then
/// every per-event sample is a multiple of about this much.
inline double timer_resolution_ns(const cycle_timer& timer, std::size_t steps = 10000) {
  if (steps == 0) return 0.0;
  std::vector<cycle_timer::ticks> d;
  d.reserve(steps);
  auto prev = cycle_timer::now();
  // Bounded, in case the counter stands still.
  for (std::size_t reads = 0; d.size() < steps && reads < 1000 * steps; ++reads) {
    const auto now = cycle_timer::now();
    if (now != prev) {
      d.push_back(now - prev);
      prev = now;
    }
  }
  if (d.empty()) return 0.0;
  const std::size_t mid = d.size() / 2;
  std::nth_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(mid), d.end());
  return timer.to_ns(d[mid]);
}

}  // namespace laminar::bench
