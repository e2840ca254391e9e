// Event time: strong nanosecond timestamp and duration types.
//
// Both are int64 nanoseconds. Arithmetic on timestamps saturates at min()/max()
// so that a watermark computed from an absurd timestamp (INT64_MIN, INT64_MAX)
// never wraps around and never becomes undefined behaviour.
#pragma once

#include <chrono>
#include <compare>
#include <concepts>
#include <cstdint>
#include <limits>
#include <ostream>
#include <type_traits>

namespace laminar {

namespace detail {
constexpr std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  }
  return r;
}
constexpr std::int64_t saturating_sub(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) {
    return b < 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  }
  return r;
}
}  // namespace detail

/// A span of event time in nanoseconds. Converts implicitly from any
/// std::chrono::duration that converts losslessly to nanoseconds.
class duration {
 public:
  using chrono_type = std::chrono::nanoseconds;

  constexpr duration() noexcept = default;
  template <class Rep, class Period>
    requires std::is_convertible_v<std::chrono::duration<Rep, Period>, chrono_type>
  constexpr duration(std::chrono::duration<Rep, Period> d) noexcept  // NOLINT(google-explicit-constructor)
      : ns_(std::chrono::duration_cast<chrono_type>(d).count()) {}

  static constexpr duration from_nanos(std::int64_t ns) noexcept { return duration(ns, tag{}); }
  static constexpr duration zero() noexcept { return {}; }
  static constexpr duration min() noexcept { return from_nanos(std::numeric_limits<std::int64_t>::min()); }
  static constexpr duration max() noexcept { return from_nanos(std::numeric_limits<std::int64_t>::max()); }

  [[nodiscard]] constexpr std::int64_t nanos() const noexcept { return ns_; }
  [[nodiscard]] constexpr chrono_type to_chrono() const noexcept { return chrono_type(ns_); }

  friend constexpr auto operator<=>(duration, duration) noexcept = default;
  friend constexpr duration operator+(duration a, duration b) noexcept {
    return from_nanos(detail::saturating_add(a.ns_, b.ns_));
  }
  friend constexpr duration operator-(duration a, duration b) noexcept {
    return from_nanos(detail::saturating_sub(a.ns_, b.ns_));
  }
  friend std::ostream& operator<<(std::ostream& os, duration d) { return os << d.ns_ << "ns"; }

  template <class Archive>
  void serialize(Archive& ar) { ar(ns_); }

 private:
  struct tag {};
  constexpr duration(std::int64_t ns, tag) noexcept : ns_(ns) {}
  std::int64_t ns_ = 0;
};

/// A point in event time: nanoseconds since the Unix epoch. min() and max()
/// are the ends of time: a watermark of max() means "no more records".
class timestamp {
 public:
  using clock = std::chrono::system_clock;

  constexpr timestamp() noexcept = default;
  template <class Duration>
  constexpr timestamp(std::chrono::time_point<clock, Duration> tp) noexcept  // NOLINT(google-explicit-constructor)
      : ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count()) {}

  static constexpr timestamp from_nanos(std::int64_t ns) noexcept { return timestamp(ns, tag{}); }
  static constexpr timestamp min() noexcept { return from_nanos(std::numeric_limits<std::int64_t>::min()); }
  static constexpr timestamp max() noexcept { return from_nanos(std::numeric_limits<std::int64_t>::max()); }
  static timestamp now() noexcept { return timestamp(clock::now()); }

  [[nodiscard]] constexpr std::int64_t nanos() const noexcept { return ns_; }
  [[nodiscard]] constexpr std::chrono::time_point<clock, std::chrono::nanoseconds> to_chrono() const noexcept {
    return std::chrono::time_point<clock, std::chrono::nanoseconds>(std::chrono::nanoseconds(ns_));
  }

  friend constexpr auto operator<=>(timestamp, timestamp) noexcept = default;
  friend constexpr timestamp operator+(timestamp t, duration d) noexcept {
    return from_nanos(detail::saturating_add(t.ns_, d.nanos()));
  }
  friend constexpr timestamp operator-(timestamp t, duration d) noexcept {
    return from_nanos(detail::saturating_sub(t.ns_, d.nanos()));
  }
  friend constexpr duration operator-(timestamp a, timestamp b) noexcept {
    return duration::from_nanos(detail::saturating_sub(a.ns_, b.ns_));
  }
  friend std::ostream& operator<<(std::ostream& os, timestamp t) {
    if (t == min()) return os << "timestamp::min";
    if (t == max()) return os << "timestamp::max";
    return os << t.ns_ << "ns";
  }

  template <class Archive>
  void serialize(Archive& ar) { ar(ns_); }

 private:
  struct tag {};
  constexpr timestamp(std::int64_t ns, tag) noexcept : ns_(ns) {}
  std::int64_t ns_ = 0;
};

namespace detail {
/// How far `later` is after `earlier` (later >= earlier), exact over the
/// whole range: the distance between two timestamps can exceed INT64_MAX,
/// where timestamp subtraction saturates.
[[nodiscard]] constexpr std::uint64_t distance(timestamp earlier, timestamp later) noexcept {
  return static_cast<std::uint64_t>(later.nanos()) - static_cast<std::uint64_t>(earlier.nanos());
}
}  // namespace detail

/// Converts what a user's time projection returns into a timestamp: a
/// timestamp, a std::chrono time_point, a duration since the epoch, or an
/// integer count of nanoseconds since the epoch.
constexpr timestamp to_timestamp(timestamp t) noexcept { return t; }
template <std::integral I>
constexpr timestamp to_timestamp(I ns) noexcept { return timestamp::from_nanos(static_cast<std::int64_t>(ns)); }
template <class Clock, class Duration>
constexpr timestamp to_timestamp(std::chrono::time_point<Clock, Duration> tp) noexcept {
  return timestamp::from_nanos(std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count());
}
template <class Rep, class Period>
constexpr timestamp to_timestamp(std::chrono::duration<Rep, Period> since_epoch) noexcept {
  return timestamp::from_nanos(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count());
}

/// Something to_timestamp() accepts.
template <class T>
concept timestamp_like = requires(const T& t) { { laminar::to_timestamp(t) } -> std::same_as<timestamp>; };

namespace literals {
constexpr duration operator""_ns(unsigned long long v) { return duration::from_nanos(static_cast<std::int64_t>(v)); }
constexpr duration operator""_us(unsigned long long v) { return duration::from_nanos(static_cast<std::int64_t>(v) * 1000); }
constexpr duration operator""_ms(unsigned long long v) { return duration::from_nanos(static_cast<std::int64_t>(v) * 1000000); }
constexpr duration operator""_s(unsigned long long v) { return duration::from_nanos(static_cast<std::int64_t>(v) * 1000000000); }
}  // namespace literals

}  // namespace laminar
