// Session windows: per key (after key_by) or for the whole stream, records
// at most a gap apart in event time form one window (exactly one gap apart
// still merge: their windows touch).
//
//   session(gap).aggregate(agg)[.emit(mode)][.allowed_lateness(d)]
//               [.late_to(out)][.keyed_watermarks(out_of_orderness)]
//
// Semantics are Flink's: a record at t opens the window [t, t + gap); two
// windows of the same key that overlap or touch (one's end equals the
// other's start) merge into one session, their accumulators combined with
// the aggregate's merge() (the earlier session is the `into` side). A
// record that arrives out of order and bridges two sessions merges them.
// A session [start, end) ends `gap` after its last record; end saturates at
// timestamp::max() (a record near INT64_MAX is in a session that closes at
// the end of the stream).
//
// Watermark W (the stream's, or the key's own: see below):
//   - a session fires (on_close emits it) once W >= end, and closes (final
//     emits it; its state is freed) once W >= end + allowed lateness;
//   - a record is late when its window [t, t + gap) touches no open session
//     and t + gap + allowed lateness <= W: it could only belong to sessions
//     that have closed. Late records are counted (late_count()) and given to
//     the late side output, never dropped silently. A record whose own window
//     has passed but that falls into (or touches) a session still open joins
//     that session, as in Flink.
//
// Emit modes (rows are window_row<Key, Result> with the session's bounds;
// a row's identity is (key, start, end), so a change of bounds is never an
// update: the old row is removed, the new one inserted):
//   final  +I per session when it closes; never corrected.
//   on_close    +I when a session fires. A record that changes a fired
//               session (within the allowed lateness) emits the change at
//               once: -U/+U when the bounds stay, otherwise -D of every fired
//               session it absorbs and +I of the merged one. A session that
//               absorbed a fired one counts as fired: it is kept up to date
//               at once from then on, even before the watermark reaches its
//               new end. A new session that is already past its end when its
//               first record arrives (within the lateness) emits +I at once.
//   eager   every record emits its session's change at once: +I for a
//               new session, -U/+U when the bounds stay, otherwise -D of each
//               absorbed session and +I of the result. Closing emits nothing.
// Within one change, retractions come first (by session start), then the new
// row. What one watermark fires leaves key by key, the keys in order of their
// earliest deadline (then of their slot in the table), each key's sessions
// by start: the same order after a restore from a checkpoint.
//
// Keyed watermarks (.keyed_watermarks(out_of_orderness)): each key also
// keeps its own watermark, the highest timestamp among its records (late
// ones excluded) minus out_of_orderness. A key's sessions fire and close,
// and its records are judged late, by max(its own watermark, the stream
// watermark): a key whose timestamps lag behind others' keeps its records
// as long as the stream watermark is conservative, and a busy key's
// sessions close as soon as its own records have moved on, without waiting
// for the stream watermark. The stream watermark still closes the sessions
// of quiet keys. A key's own watermark advances after the record that raised
// it has been added (as a stream watermark follows its record); it is kept
// while it is ahead of the stream watermark, and checkpointed.
// key_watermark(k) reads the watermark key k is judged by.
//
// The output watermark is the stream watermark minus the allowed lateness
// (as for the sliced windows): every row the operator may still emit is
// for a session ending after it. With keyed watermarks rows of busy keys
// are early, never late, against it.
//
// State is key-major: a table key -> that key's few open sessions, sorted
// by start, disjoint and not touching ({start, end, accumulator, records}).
// A key whose sessions have all closed leaves the table (with keyed
// watermarks: once the stream watermark has caught up with its own). A
// timer heap holds each key's earliest deadline; deadlines are lower
// bounds refreshed when they come due, so extending a session costs no
// timer update. Steady state allocates nothing per record: vectors and
// slots are reused.
//
// Changelog input (a changelog_row: change<T>, window rows, or a type with
// a changelog_traits specialization) is rejected at compile time: a
// retraction can split a session, which accumulators cannot undo.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <string_view>
#include <utility>
#include <vector>

#include "laminar/aggregate/aggregate.hpp"
#include "laminar/core/changelog.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/operator/key_by.hpp"
#include "laminar/window/detail/key_major_stage.hpp"
#include "laminar/window/detail/refinements.hpp"
#include "laminar/state/slot_table.hpp"
#include "laminar/window/detail/inline_back_list.hpp"
#include "laminar/window/emit.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/window/sliced_window.hpp"  // group_key_of, deliver_late, check_positive
#include "laminar/window/window_row.hpp"

namespace laminar {

namespace detail {

// A session of a key: [start, end), its records' accumulator.
template <class Accumulator>
struct session_state {
  timestamp start;
  timestamp end;  // last record + gap (saturating)
  Accumulator acc;
  std::int64_t n = 0;    // records
  bool emitted = false;  // a row for it is out (on_close once fired; always in eager)
};

template <class Next, class Ctx, class Agg, class Late>
class session_window_stage
    : public key_major_stage<session_window_stage<Next, Ctx, Agg, Late>, Next, Ctx, Late,
                             key_windows<session_state<typename Agg::accumulator>>> {
  using base = key_major_stage<session_window_stage, Next, Ctx, Late,
                               key_windows<session_state<typename Agg::accumulator>>>;
  friend base;

 public:
  static constexpr std::string_view state_name = "session_window";
  using in_type = typename Ctx::value_type;
  using key_type = group_key_t<Ctx>;
  using accumulator = typename Agg::accumulator;
  /// What its state is made of (its layout fingerprint in a checkpoint).
  using state_types = laminar::state_types<key_type, accumulator>;
  using result_type = aggregate_result_t<Agg>;
  using row_type = window_row<key_type, result_type>;
  using session = session_state<accumulator>;

  session_window_stage(Next next, Ctx ctx, Agg agg, duration gap, const window_settings& settings, Late late)
      : base(std::move(next), std::move(ctx), std::move(late), settings), agg_(std::move(agg)), gap_(gap) {}

  /// The record path (key_major_stage::on_event): most records fall into
  /// their key's newest session, which has emitted nothing yet; its end is
  /// pushed out.
  [[gnu::always_inline]] bool add_to_newest(const typename base::state&, session& last, const in_type& e, timestamp t) {
    if (t < last.start || t > last.end || last.emitted) return false;
    agg_add(agg_, last.acc, e, t);
    ++last.n;
    const timestamp end = t + gap_;
    if (end > last.end) last.end = end;
    return true;
  }

  /// Sessions open now, over all keys.
  [[nodiscard]] std::size_t open_sessions() const noexcept { return this->open_windows(); }

 private:
  using typename base::state;
  using typename base::table;
  using base::closed;
  using base::ctx_;
  using base::effective_watermark;
  using base::keys_;
  using base::lateness_;
  using base::mode_;
  using base::next_;
  using base::on_late;
  using base::timers_;
  using base::watermark_;

  // ---- deadlines ----

  // When a session next needs the operator: it fires (on_close) or closes.
  [[nodiscard]] timestamp deadline(const session& x) const noexcept {
    return mode_ == emit_mode::on_close && !x.emitted ? x.end : x.end + lateness_;
  }
  [[nodiscard]] timestamp earliest_deadline(const state& ks) const noexcept {
    timestamp d = timestamp::max();
    for (std::size_t i = 0; i < ks.windows.size(); ++i) d = std::min(d, deadline(ks.windows[i]));
    return d;
  }

  // ---- the record path ----

  // A record that needs more than the fast path: a new key or session, a
  // merge, a change to emit, or a late record.
  [[gnu::noinline]] void on_other_event(const in_type& e, timestamp t, const key_type& key, std::uint32_t s) {
    const timestamp end = t + gap_;
    if (s == table::npos) {
      if (closed(end, watermark_)) return on_late(e);
      s = keys_.insert(key);
    }
    state& ks = keys_.state(s);
    const timestamp w = effective_watermark(ks);
    inline_back_list<session>& v = ks.windows;
    // The sessions [lo, hi) that the record's window [t, end) overlaps or touches.
    std::size_t hi = v.size();
    while (hi > 0 && v[hi - 1].start > end) --hi;
    std::size_t lo = hi;
    while (lo > 0 && v[lo - 1].end >= t) --lo;
    if (lo == hi) {
      if (closed(end, w)) return on_late(e);
      session& x = v.insert(lo, session{t, end, agg_.init(), 0, false});
      agg_add(agg_, x.acc, e, t);
      x.n = 1;
      x.emitted = mode_ == emit_mode::eager || (mode_ == emit_mode::on_close && end <= w);
      if (x.emitted) emit(key, x, change_kind::insert);
      timers_.schedule(keys_, s, deadline(x));
    } else {
      absorb(key, s, ks, lo, hi, e, t, end, w);
    }
    this->note_key_time(s, ks, t);
  }

  // The record joins the sessions [lo, hi) (one or more), which merge into
  // the first; emits the change where rows for them are out.
  void absorb(const key_type& key, std::uint32_t s, state& ks, std::size_t lo, std::size_t hi, const in_type& e,
              timestamp t, timestamp end, timestamp w) {
    inline_back_list<session>& v = ks.windows;
    const timestamp start = std::min(t, v[lo].start);
    const timestamp merged_end = std::max(end, v[hi - 1].end);
    const bool same_bounds = hi - lo == 1 && v[lo].start == start && v[lo].end == merged_end;
    bool was_emitted = false;
    for (std::size_t i = lo; i < hi; ++i) {
      if (!v[i].emitted) continue;
      emit(key, v[i], same_bounds ? change_kind::update_before : change_kind::remove);
      was_emitted = true;
    }
    for (std::size_t i = lo + 1; i < hi; ++i) {
      agg_.merge(v[lo].acc, v[i].acc);
      v[lo].n += v[i].n;
    }
    v.erase(lo + 1, hi);  // may move the merged session to the back
    session& x = v[lo];
    agg_add(agg_, x.acc, e, t);
    ++x.n;
    x.start = start;
    x.end = merged_end;
    x.emitted = mode_ == emit_mode::eager || was_emitted || (mode_ == emit_mode::on_close && merged_end <= w);
    if (x.emitted) emit(key, x, same_bounds && was_emitted ? change_kind::update_after : change_kind::insert);
    timers_.schedule(keys_, s, deadline(x));
  }

  // Fires and closes the key's sessions that watermark w has passed.
  void settle(const key_type& key, state& ks, timestamp w) {
    inline_back_list<session>& v = ks.windows;
    std::size_t closed_prefix = 0;  // ends ascend, so closed sessions come first
    for (std::size_t i = 0; i < v.size(); ++i) {
      session& x = v[i];
      if (x.end > w) break;
      if (mode_ == emit_mode::on_close && !x.emitted) {
        emit(key, x, change_kind::insert);
        x.emitted = true;
      }
      if (closed(x.end, w)) {
        if (mode_ == emit_mode::final) emit(key, x, change_kind::insert);
        ++closed_prefix;
      }
    }
    v.erase(0, closed_prefix);
  }

  void emit(const key_type& key, const session& x, change_kind kind) {
    next_.on_event(row_type{key, x.start, x.end, agg_.result(x.acc), kind});
  }

  // ---- checkpoints (the frame is key_major_stage's) ----

  void save_windows(state_writer& w, const state& ks) const {
    for (std::size_t i = 0; i < ks.windows.size(); ++i) {
      const session& x = ks.windows[i];
      w(x.start, x.end, x.acc, x.n, x.emitted);
    }
  }
  void load_windows(state_reader& r, state& ks, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      session x{timestamp{}, timestamp{}, agg_.init(), 0, false};
      r(x.start, x.end, x.acc, x.n, x.emitted);
      ks.windows.push_back(std::move(x));
    }
  }

  [[no_unique_address]] Agg agg_;
  duration gap_;
};

}  // namespace detail

/// A session window operator factory: session(gap).aggregate(agg), refined
/// by .emit(mode), .allowed_lateness(d), .late_to(output) and
/// .keyed_watermarks(out_of_orderness).
template <class Agg, class Late = detail::discard_side_output>
struct session_window_operator {
  using is_operator = void;
  Agg agg;
  duration gap;
  window_settings settings{};
  Late late{};

  /// When results leave: final, on_close (the default) or eager.
  [[nodiscard]] session_window_operator emit(emit_mode mode) const { return detail::with_emit_mode(*this, mode); }
  /// How long after a session's end records may still change it.
  [[nodiscard]] session_window_operator allowed_lateness(duration d) const {
    return detail::with_allowed_lateness(*this, d);
  }
  /// Each key also keeps its own watermark, its highest timestamp minus
  /// `out_of_orderness`; its sessions close and its records are judged
  /// late by the later of that and the stream watermark.
  [[nodiscard]] session_window_operator keyed_watermarks(duration out_of_orderness) const {
    return detail::with_keyed_watermarks(*this, out_of_orderness);
  }
  /// Where late records go: a callable taking the record (kept by value),
  /// or a side_records<T> (kept by reference).
  template <class F>
  [[nodiscard]] auto late_to(F&& output) const {
    return session_window_operator<Agg, detail::side_output_holder_t<F>>{
        agg, gap, settings, detail::hold_side_output(std::forward<F>(output))};
  }

  template <class Ctx>
  auto output_context(const Ctx&) const {
    static_assert(Ctx::timed(),
                  "laminar: a session window needs event time: put with_watermarks(...) or event_time(...) before it");
    using T = typename Ctx::value_type;
    static_assert(!changelog_row<T>,
                  "laminar: session windows do not take changelog input (a changelog_row: change<T>, window_row or a "
                  "type with a changelog_traits specialization): a retraction could split a session, which "
                  "accumulators cannot undo; map the records to plain ones first, or aggregate the changelog with "
                  "tumbling/hopping/cumulate windows");
    using bound = detail::bound_aggregate_t<T, false, Agg>;
    using row = window_row<detail::group_key_t<Ctx>, aggregate_result_t<bound>>;
    if constexpr (Ctx::keyed()) {
      return stream_context<row, detail::window_row_key, detail::window_row_time>{};
    } else {
      return stream_context<row, no_projection, detail::window_row_time>{};
    }
  }

  template <class Ctx, class Next>
  auto bind(const Ctx& ctx, Next&& next) && {
    (void)output_context(ctx);
    const emit_mode m = settings.mode;
    if (m != emit_mode::final && m != emit_mode::on_close && m != emit_mode::eager) {
      throw usage_error(std::string("laminar: session windows do not support emit mode ") + to_string(m) +
                        " (they support final, on_close and eager)");
    }
    using T = typename Ctx::value_type;
    auto bound = detail::bind_aggregate<T, false>(agg);
    using stage = detail::session_window_stage<std::remove_cvref_t<Next>, Ctx, decltype(bound), Late>;
    return stage(std::forward<Next>(next), ctx, std::move(bound), gap, settings, std::move(late));
  }
};

/// Session windows before their aggregate is named: session(30s).aggregate(count()).
struct session_spec {
  duration gap;
  template <class Agg>
  [[nodiscard]] session_window_operator<Agg> aggregate(Agg agg) const {
    return {std::move(agg), gap};
  }
};

/// Session windows: records of a key at most `gap` apart (in event time)
/// form one window, which ends `gap` after its last record.
inline session_spec session(duration gap) {
  detail::check_positive(gap, "a session gap");
  return {gap};
}

}  // namespace laminar
