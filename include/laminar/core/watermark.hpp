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
//   but it moves the watermark only once a later record is also that far
//   ahead; then the smaller of the two is accepted. The first record of a
//   stream is a suspect too (there is nothing yet to compare it with), so
//   the first watermark comes with the second record. One absurd timestamp
//   (INT64_MAX, a clock glitch), first or later, therefore never
//   fast-forwards the stream, while a real gap (the next session's open)
//   costs one record's delay. A suspect the stream overtakes is dropped.
// - idle timeout: when no record arrived for idle_timeout of processing time,
//   the watermark advances with processing time (now - bound), so windows of
//   a quiet source still close. Checked by poll_idle(), never per record.
//   This assumes event time follows the wall clock (a live feed): do not set
//   it for replayed or synthetic timestamps, whose records would all be late
//   after an idle spell.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

/// Marker: the strategy derives watermarks from timestamps, not punctuation.
struct no_punctuation {};

template <class Punctuation = no_punctuation>
struct watermark_strategy {
  /// How far behind the highest timestamp seen the watermark trails.
  duration out_of_orderness = duration::zero();
  /// How far ahead of the highest accepted timestamp a record may jump
  /// before it is held as a suspect (see the policy above). One hour by
  /// default; duration::max() turns the check off.
  duration max_future_skew = std::chrono::hours(1);
  /// Processing time without records after which the source counts as idle.
  duration idle_timeout = duration::max();
  [[no_unique_address]] Punctuation punctuation{};

  [[nodiscard]] watermark_strategy with_max_future_skew(duration d) const {
    auto s = *this;
    s.max_future_skew = d;
    return s;
  }
  [[nodiscard]] watermark_strategy with_idle_timeout(duration d) const {
    auto s = *this;
    s.idle_timeout = d;
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
  return {duration::zero(), std::chrono::hours(1), duration::max(), std::move(f)};
}

/// Applies a strategy to one source's records. Stateful: its position
/// (highest timestamp, current watermark, pending suspect) is checkpointed.
template <class Punctuation = no_punctuation>
class watermark_generator {
 public:
  explicit watermark_generator(watermark_strategy<Punctuation> s) : strategy_(std::move(s)) { refresh_fast_span(); }

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

  /// A watermark that arrived from upstream of the generator (a push
  /// source's explicit watermark); returns true when it advanced ours.
  bool on_watermark(timestamp w) noexcept { return advance(w); }

  /// Processing-time check for the idle timeout; returns true when the
  /// watermark advanced because the source is idle.
  bool on_idle_check(timestamp now) noexcept {
    if (strategy_.idle_timeout == duration::max()) return false;
    if (active_ || last_active_ == timestamp::min()) {
      active_ = false;
      last_active_ = now;
      return false;
    }
    if (now - last_active_ < strategy_.idle_timeout) return false;
    return advance(now - strategy_.out_of_orderness);
  }

  [[nodiscard]] timestamp current() const noexcept { return current_; }
  /// Records held as suspects by the future-skew policy so far (the first
  /// record of the stream, held for want of a reference, is not counted).
  [[nodiscard]] std::uint64_t suspects() const noexcept { return suspects_; }
  [[nodiscard]] const watermark_strategy<Punctuation>& strategy() const noexcept { return strategy_; }

  void save_state(state_writer& w) const {
    w(highest_, current_, suspect_, has_suspect_, suspect_counted_, suspects_, active_);
  }
  void load_state(state_reader& r) {
    r(highest_, current_, suspect_, has_suspect_, suspect_counted_, suspects_, active_);
    last_active_ = timestamp::min();
    refresh_fast_span();
  }

 private:
  // A candidate timestamp passed the fast path (it is above the highest).
  bool observe(timestamp ts) noexcept {
    if (has_suspect_ && suspect_ <= highest_) {  // overtaken: it was no outlier
      has_suspect_ = false;
      suspect_counted_ = false;
      suspect_ = timestamp::min();
    }
    const bool checked = strategy_.max_future_skew != duration::max();
    if (checked && (highest_ == timestamp::min() || ts - highest_ > strategy_.max_future_skew)) {
      if (!has_suspect_) {
        suspect_ = ts;
        has_suspect_ = true;
        suspect_counted_ = highest_ != timestamp::min();
        if (suspect_counted_) ++suspects_;
        refresh_fast_span();
        return false;
      }
      const bool new_record_is_farther = !(ts < suspect_);
      // Two records far ahead (or the first two records): accept the
      // nearer; the farther stays a suspect unless the two agree.
      const timestamp accepted = ts < suspect_ ? ts : suspect_;
      const timestamp other = ts < suspect_ ? suspect_ : ts;
      if (accepted > highest_) highest_ = accepted;
      has_suspect_ = other - accepted > strategy_.max_future_skew;
      suspect_ = has_suspect_ ? other : timestamp::min();
      if (has_suspect_ && (new_record_is_farther || !suspect_counted_)) ++suspects_;
      suspect_counted_ = has_suspect_;
      if (!has_suspect_ && other > highest_) highest_ = other;
    } else if (ts > highest_) {
      highest_ = ts;
    }
    const bool advanced = advance(highest_ - strategy_.out_of_orderness);
    refresh_fast_span();  // after advance(): free_span_ reads the new watermark
    return advanced;
  }

  // How far above highest_ a record may be for the inline paths.
  // fast_span_ (on_record, records above highest_): the skew (duration::max()
  // when unchecked), or 0 (they go through observe) while a suspect is held
  // or, the skew being checked, no timestamp has been accepted yet.
  // free_span_ (on_record_branch_free, records above highest_ or not): the
  // same, or -1 while current_ < highest_ - out_of_orderness, which happens
  // only before the first timestamp is accepted with a negative
  // out_of_orderness; highest_ is timestamp::min() then, so no record
  // qualifies (ts - highest_ >= 0).
  void refresh_fast_span() noexcept {
    const bool checked = strategy_.max_future_skew != duration::max();
    const bool open = !has_suspect_ && (!checked || highest_ != timestamp::min());
    const std::int64_t skew = strategy_.max_future_skew.nanos();
    fast_span_ = open && skew > 0 ? skew : 0;
    free_span_ = current_ >= highest_ - strategy_.out_of_orderness ? fast_span_ : -1;
  }

  bool advance(timestamp w) noexcept {
    if (w <= current_) return false;
    current_ = w;
    return true;
  }

  watermark_strategy<Punctuation> strategy_;
  timestamp highest_ = timestamp::min();
  std::int64_t fast_span_ = 0;  // see refresh_fast_span
  std::int64_t free_span_ = 0;
  timestamp current_ = timestamp::min();
  timestamp suspect_ = timestamp::min();
  bool has_suspect_ = false;
  bool suspect_counted_ = false;  // the first record's hold is not counted
  std::uint64_t suspects_ = 0;
  bool active_ = false;  // a record arrived since the last idle check
  timestamp last_active_ = timestamp::min();
};

}  // namespace laminar
