// Watermark strategies and the per-source generator that applies them.
//
// A watermark w promises that no later record has a timestamp < w; a record
// with timestamp < the current watermark is late. Watermarks never go back.
//
// Strategies: bounded_out_of_orderness(b) (w = highest timestamp seen - b),
// monotonous_timestamps() (b = 0), punctuated(f) (records carry watermarks).
// Policies every strategy has:
// - future skew: a record more than max_future_skew ahead of the highest
//   accepted timestamp is a suspect. It flows downstream like any record,
//   but it moves the watermark only if the very next record agrees with it:
//   that record is beyond the skew too, and within max_future_skew of the
//   suspect (had the suspect been accepted, it would not have been one);
//   then both are accepted. Any other next record decides against the
//   suspect: one at, below or within the skew above the accepted timestamps
//   drops it (the stream goes on where it was), one far ahead that disagrees
//   takes its place. A record at timestamp::max() beyond the skew (the end
//   of time: a sentinel or garbage, never a new session) is refused outright,
//   and one at timestamp::min() changes nothing. The first record of a
//   stream is a suspect too (there is nothing yet to compare it with), so
//   the first watermark comes with the second record. So isolated absurd
//   timestamps (INT64_MAX, clock glitches at unrelated far-future times),
//   however many, never fast-forward the stream, while a real gap (the next
//   session's open: records far ahead, one after another, near each other)
//   costs one record's delay. Consecutive records further apart than the
//   skew never agree: choose it above the largest gap between consecutive
//   records of a healthy stream (suspects() counts every jump held back).
// - idle timeout: when no record arrived for idle_timeout of processing time,
//   the watermark advances with processing time (now - bound), so windows of
//   a quiet source still close. Checked by poll_idle(), never per record.
//   This assumes event time follows the wall clock (a live feed): do not set
//   it for replayed or synthetic timestamps, whose records would all be late
//   after an idle spell.
// - emission: by default a watermark is passed on after every record that
//   advanced it. with_emit_every(n), with_emit_interval(d) and
//   with_emit_processing_interval(d) thin that out (each watermark crossing
//   threads is a channel message): the generator still computes the
//   watermark on every record, but it is passed on only when n records went
//   by since the last count ran out, when it advanced by at least d of event
//   time since the last one passed on, or, at a processing-time poll
//   (poll_idle, a tick), when d of processing time went by since the last
//   such emission; any of those that are set. Then the current watermark is
//   passed on, never one ahead of it, and only if it advanced. The held
//   watermark is also flushed, so that nothing waits on it: before every
//   checkpoint barrier; at the end of input (before the end of time); at a
//   processing-time poll that finds the source quiet (no record since the
//   previous poll) or idle; and whenever an explicit watermark arrives from
//   upstream (a push source's push_watermark). Per record the thinned path
//   costs a counter decrement and one compare, with no branch on whether the
//   record advanced the watermark.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

/// Marker: the strategy derives watermarks from timestamps, not punctuation.
struct no_punctuation {};

template <class Punctuation = no_punctuation>
struct watermark_strategy {
  /// How far behind the highest timestamp seen the watermark trails.
  duration out_of_orderness = duration::zero();
  /// How far ahead of the highest accepted timestamp a record may jump
  /// before it is held as a suspect (see the policy above); positive. One
  /// hour by default; duration::max() turns the check off.
  duration max_future_skew = std::chrono::hours(1);
  /// Processing time without records after which the source counts as idle.
  duration idle_timeout = duration::max();
  /// Emission (see the policy above); 0 / zero() leaves a trigger unset, and
  /// with none set every advance is passed on.
  std::uint64_t emit_every = 0;                          ///< records
  duration emit_interval = duration::zero();             ///< event time
  duration emit_processing_interval = duration::zero();  ///< processing time, checked at polls
  [[no_unique_address]] Punctuation punctuation{};

  [[nodiscard]] watermark_strategy with_max_future_skew(duration d) const {
    return with(&watermark_strategy::max_future_skew, d);
  }
  [[nodiscard]] watermark_strategy with_idle_timeout(duration d) const {
    return with(&watermark_strategy::idle_timeout, d);
  }
  /// Passes the watermark on once every `records` records (if it advanced).
  [[nodiscard]] watermark_strategy with_emit_every(std::uint64_t records) const {
    return with(&watermark_strategy::emit_every, records);
  }
  /// Passes the watermark on when it advanced by at least `d` of event time
  /// since the last one passed on.
  [[nodiscard]] watermark_strategy with_emit_interval(duration d) const {
    return with(&watermark_strategy::emit_interval, d);
  }
  /// Passes the watermark on at a processing-time poll (pipeline.tick(),
  /// poll_idle(), a DAG worker's tick) at least `d` after the last such
  /// emission; never a clock read per record.
  [[nodiscard]] watermark_strategy with_emit_processing_interval(duration d) const {
    return with(&watermark_strategy::emit_processing_interval, d);
  }
  /// Whether an emission trigger is set (otherwise every advance is passed on).
  [[nodiscard]] bool thinned() const noexcept {
    return emit_every != 0 || emit_interval != duration::zero() || emit_processing_interval != duration::zero();
  }

 private:
  // A copy with one setting changed: strategies are values.
  template <class Field>
  [[nodiscard]] watermark_strategy with(Field watermark_strategy::*field, Field value) const {
    auto s = *this;
    s.*field = value;
    return s;
  }
};

/// Watermark = highest timestamp seen minus `bound`.
inline watermark_strategy<> bounded_out_of_orderness(duration bound) { return {bound}; }
/// Timestamps never decrease: watermark = highest timestamp seen.
inline watermark_strategy<> monotonous_timestamps() { return {}; }
/// f(record) returns an optional watermark (any timestamp-like value) that
/// the record carries: an end-of-batch marker, an exchange heartbeat.
template <class F>
watermark_strategy<F> punctuated(F f) {
  return watermark_strategy<F>{.punctuation = std::move(f)};
}

/// Applies a strategy to one source's records. Stateful: its position
/// (highest timestamp, current watermark, pending suspect, what it passed
/// on) is checkpointed.
template <class Punctuation = no_punctuation>
class watermark_generator {
 public:
  explicit watermark_generator(watermark_strategy<Punctuation> s) : strategy_(std::move(s)) {
    validate(strategy_);
    reload_ = strategy_.emit_every != 0 ? strategy_.emit_every : std::numeric_limits<std::uint64_t>::max();
    countdown_ = reload_;
    emit_at_ = next_emit_at();
    refresh_fast_span();
  }

  /// Observes a record; returns true when the watermark advanced.
  template <class T>
  bool on_event(const T& record, timestamp ts) {
    mark_active();
    return on_record(record, ts);
  }

  /// Notes that records arrived, for the idle timeout. A driver that feeds
  /// records in batches (with_watermarks' run_for) calls it once per batch
  /// and on_record() (or on_record_branch_free()) per record.
  void mark_active() noexcept { active_ = true; }

  /// on_event() without the activity mark; returns true when the watermark
  /// advanced. A record at or below the highest timestamp returns at the
  /// first compare; one above it within the skew (no suspect held) takes
  /// one more, inline.
  template <class T>
  [[gnu::always_inline]] bool on_record(const T& record, timestamp ts) {
    if constexpr (std::is_same_v<Punctuation, no_punctuation>) {
      (void)record;
      if (!(ts > highest_)) return false;
      // ts - highest_ is exact as an unsigned difference, fast_span_ is in
      // [0, INT64_MAX].
      if (static_cast<std::uint64_t>(ts.nanos()) - static_cast<std::uint64_t>(highest_.nanos()) <=
          static_cast<std::uint64_t>(fast_span_)) {
        highest_ = ts;
        return advance(ts - strategy_.out_of_orderness);
      }
      return observe(ts);
    } else {
      auto mark = std::invoke(strategy_.punctuation, record);
      (void)ts;
      return mark && observe(to_timestamp(*mark));
    }
  }

  /// on_record() for a caller that passes the watermark on after every
  /// record, whether it advanced or not (with_watermarks, to a chain that
  /// absorbs repeated watermarks); returns current(). The common case has
  /// no branch that depends on the record: a record within the skew of the
  /// highest timestamp, above it or not, updates the highest timestamp and
  /// the watermark as maxima (conditional moves); only a record beyond the
  /// skew (or while a suspect is held) branches. On a disordered stream,
  /// whether a record advanced the watermark is data, which a branch
  /// predictor cannot learn.
  template <class T>
  [[gnu::always_inline]] timestamp on_record_branch_free(const T& record, timestamp ts) {
    if constexpr (std::is_same_v<Punctuation, no_punctuation>) {
      (void)record;
      std::int64_t ahead = 0;
      if (!__builtin_sub_overflow(ts.nanos(), highest_.nanos(), &ahead) && ahead <= free_span_) [[likely]] {
        highest_ = timestamp::from_nanos(std::max(ts.nanos(), highest_.nanos()));
        // current_ >= highest_ - out_of_orderness holds here (free_span_),
        // so for a record at or below the highest timestamp this changes
        // nothing, and for one above it, it is advance().
        current_ = timestamp::from_nanos(std::max((highest_ - strategy_.out_of_orderness).nanos(), current_.nanos()));
        return current_;
      }
      if (ts > highest_) observe(ts);
    } else {
      on_record(record, ts);
    }
    return current_;
  }

  /// The thinned path (strategy().thinned()): on_record_branch_free(), then
  /// true when an emission trigger fired; the caller then passes take() on.
  template <class T>
  [[gnu::always_inline]] bool on_record_thinned(const T& record, timestamp ts) {
    on_record_branch_free(record, ts);
    return --countdown_ == 0 || current_ >= emit_at_;
  }

  /// Thinned emission: the watermark to pass on now, if it advanced since
  /// the last one passed on (and the record count restarts when it ran out).
  std::optional<timestamp> take() noexcept {
    if (countdown_ == 0) countdown_ = reload_;
    if (!(current_ > emitted_)) return std::nullopt;
    emitted_ = current_;
    emit_at_ = next_emit_at();
    return emitted_;
  }

  /// A watermark that arrived from upstream of the generator (a push
  /// source's explicit watermark); returns true when it advanced ours.
  bool on_watermark(timestamp w) noexcept { return advance(w); }

  /// Processing-time check for the idle timeout; returns true when the
  /// watermark advanced because the source is idle.
  bool on_idle_check(timestamp now) noexcept {
    if (active_ || last_active_ == timestamp::min()) {
      active_ = false;
      last_active_ = now;
      return false;
    }
    if (strategy_.idle_timeout == duration::max() || now - last_active_ < strategy_.idle_timeout) return false;
    return advance(now - strategy_.out_of_orderness);
  }

  /// A processing-time poll (poll_idle): the idle timeout, then, thinned,
  /// the flush of a quiet or idle source and the processing-time interval.
  /// Returns the watermark to pass on, if any.
  std::optional<timestamp> on_processing_time(timestamp now) noexcept {
    const bool quiet = !active_;  // no record since the previous poll
    const bool idle = on_idle_check(now);
    if (!strategy_.thinned()) return idle ? std::optional<timestamp>(current_) : std::nullopt;
    bool due = idle || quiet;
    if (strategy_.emit_processing_interval != duration::zero()) {
      if (last_tick_emit_ == timestamp::min()) last_tick_emit_ = now;
      if (now - last_tick_emit_ >= strategy_.emit_processing_interval) {
        last_tick_emit_ = now;
        due = true;
      }
    }
    return due ? take() : std::nullopt;
  }

  [[nodiscard]] timestamp current() const noexcept { return current_; }
  /// The last watermark passed on: current() unless emission is thinned.
  [[nodiscard]] timestamp emitted() const noexcept { return strategy_.thinned() ? emitted_ : current_; }
  /// Far-ahead records held back by the future-skew policy so far: each one
  /// held as a suspect or refused, but not those held while no timestamp
  /// had been accepted yet (the stream's first records).
  [[nodiscard]] std::uint64_t suspects() const noexcept { return suspects_; }
  [[nodiscard]] const watermark_strategy<Punctuation>& strategy() const noexcept { return strategy_; }

  void save_state(state_writer& w) const {
    w(accepted(), current_, suspect_, has_suspect_, suspects_, active_, emitted_, countdown_);
  }
  void load_state(state_reader& r) {
    r(accepted_, current_, suspect_, has_suspect_, suspects_, active_, emitted_, countdown_);
    highest_ = has_suspect_ ? timestamp::min() : accepted_;
    emit_at_ = next_emit_at();
    last_active_ = timestamp::min();
    last_tick_emit_ = timestamp::min();
    refresh_fast_span();
  }

 private:
  static void validate(const watermark_strategy<Punctuation>& s) {
    const auto fail = [](const char* what, duration d) {
      throw usage_error(std::string("laminar: with_watermarks: ") + what + ", got " + std::to_string(d.nanos()) + "ns");
    };
    if (s.max_future_skew <= duration::zero()) {
      fail("max_future_skew must be positive (duration::max() turns the policy off)", s.max_future_skew);
    }
    if (s.emit_interval < duration::zero()) fail("emit_interval must not be negative", s.emit_interval);
    if (s.emit_processing_interval < duration::zero()) {
      fail("emit_processing_interval must not be negative", s.emit_processing_interval);
    }
  }

  // The highest accepted timestamp; highest_ is parked at timestamp::min()
  // while a suspect is held, so that every record leaves the inline paths
  // and reaches observe(), which decides on the suspect.
  [[nodiscard]] timestamp accepted() const noexcept { return has_suspect_ ? accepted_ : highest_; }

  // A record that left the inline paths: above the highest accepted
  // timestamp by more than the fast span, or any record above
  // timestamp::min() while a suspect is held.
  bool observe(timestamp ts) noexcept {
    const duration skew = strategy_.max_future_skew;
    if (skew == duration::max()) {  // unchecked: only the fast span's limit led here
      if (ts > highest_) highest_ = ts;
    } else {
      const timestamp base = accepted();
      if (base != timestamp::min() && !(ts > base && ts - base > skew)) {
        drop_suspect();  // the stream goes on where it was
        if (ts > highest_) highest_ = ts;
      } else if (ts == timestamp::max()) {
        ++suspects_;  // the end of time never starts a session
        return false;
      } else if (!has_suspect_ || !agree(ts, suspect_)) {
        if (base != timestamp::min()) ++suspects_;
        if (!has_suspect_) {
          accepted_ = highest_;
          highest_ = timestamp::min();
          has_suspect_ = true;
          refresh_fast_span();
        }
        suspect_ = ts;
        return false;
      } else {  // the next record agrees: a real jump, both accepted
        highest_ = std::max(ts, suspect_);
        has_suspect_ = false;
        suspect_ = timestamp::min();
      }
    }
    const bool advanced = advance(highest_ - strategy_.out_of_orderness);
    refresh_fast_span();  // after advance(): free_span_ reads the new watermark
    return advanced;
  }

  [[nodiscard]] bool agree(timestamp a, timestamp b) const noexcept {
    return (a > b ? a - b : b - a) <= strategy_.max_future_skew;
  }

  void drop_suspect() noexcept {
    if (!has_suspect_) return;
    highest_ = accepted_;
    has_suspect_ = false;
    suspect_ = timestamp::min();
  }

  // How far above highest_ a record may be for the inline paths.
  // fast_span_ (on_record, records above highest_): the skew (duration::max()
  // when unchecked), or 0 (they go through observe) while a suspect is held
  // or, the skew being checked, no timestamp has been accepted yet.
  // free_span_ (on_record_branch_free, records above highest_ or not): the
  // same, or -1 while a suspect is held (highest_ is parked at min(), so no
  // record qualifies: ts - highest_ >= 0) or while current_ < highest_ -
  // out_of_orderness, which happens only before the first timestamp is
  // accepted with a negative out_of_orderness (highest_ is min() then too).
  void refresh_fast_span() noexcept {
    const bool checked = strategy_.max_future_skew != duration::max();
    const bool open = !has_suspect_ && (!checked || highest_ != timestamp::min());
    fast_span_ = open ? strategy_.max_future_skew.nanos() : 0;
    free_span_ = !has_suspect_ && current_ >= highest_ - strategy_.out_of_orderness ? fast_span_ : -1;
  }

  bool advance(timestamp w) noexcept {
    if (w <= current_) return false;
    current_ = w;
    return true;
  }

  [[nodiscard]] timestamp next_emit_at() const noexcept {
    return strategy_.emit_interval != duration::zero() ? emitted_ + strategy_.emit_interval : timestamp::max();
  }

  watermark_strategy<Punctuation> strategy_;
  timestamp highest_ = timestamp::min();
  std::int64_t fast_span_ = 0;  // see refresh_fast_span
  std::int64_t free_span_ = 0;
  timestamp current_ = timestamp::min();
  // thinned emission: records left until the count runs out, the watermark
  // at which the event-time interval is due, the last one passed on
  std::uint64_t countdown_ = 0;
  timestamp emit_at_ = timestamp::max();
  timestamp emitted_ = timestamp::min();
  std::uint64_t reload_ = 0;
  timestamp suspect_ = timestamp::min();
  timestamp accepted_ = timestamp::min();  // the highest accepted timestamp while a suspect is held
  bool has_suspect_ = false;
  std::uint64_t suspects_ = 0;
  bool active_ = false;  // a record arrived since the last poll
  timestamp last_active_ = timestamp::min();
  timestamp last_tick_emit_ = timestamp::min();
};

}  // namespace laminar
