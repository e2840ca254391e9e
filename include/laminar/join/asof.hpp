// ASOF join: each left record (a trade) with the right record (a quote) of
// the same key whose event time is nearest before it (backward), after it
// (forward) or either (nearest).
//
//   connect(trades | key_by(&trade::symbol), quotes | key_by(&quote::symbol))
//     | asof_join().direction(asof_direction::backward).tolerance(5ms)
//     | sink(...);                       // rows: asof_row<trade, quote>
//
// The rules are pandas merge_asof's (by = the key, on = event time):
//   backward  the last right record with t_r <= t_l (t_r < t_l without exact
//             matches); of several with the same time, the last to arrive;
//   forward   the first right record with t_r >= t_l (t_r > t_l without exact
//             matches); of several with the same time, the first to arrive;
//   nearest   the backward and the forward match, whichever is nearer; on
//             equal distance, the backward one;
//   tolerance a match further than this from t_l (inclusive bound) is no
//             match.
// Every left record gives one row, its match or none (right is empty): a
// left outer join, as merge_asof.
//
// Emit policy (.emit(asof_emit::...)):
//   eager  a left record is joined when it arrives, against the right
//          records that arrived before it: what a trading desk wants when one
//          feed handler delivers both streams in order, with no added latency.
//   final  a left record is held until the right watermark W_R makes its
//          answer exact (backward: W_R > t_l, or >= without exact matches;
//          forward: W_R >= its first candidate's time, or past t_l + the
//          tolerance when there is none; nearest: both), and rows leave in
//          left event-time order (equal times in arrival order) once the
//          left watermark has passed them too. The output watermark stays
//          behind the held records. .max_pending(n) bounds what is held
//          when the right input stops moving: past n, the earliest held
//          record leaves with what has arrived (released_early() counts
//          them). A right record later than its watermark may miss left
//          records already released, as the watermark said it would not come.
//
// State: per key, the right records that can still match, sorted by time
// (equal times in arrival order). The left input's watermark W_L bounds what
// can match: a left record later than W_L is late (it goes to the late side
// output, counted, and is not joined: what it would have matched may be
// gone), so right records that no left record at or after W_L can match are
// evicted: for backward and nearest, all but the last one before W_L (none
// of those further than the tolerance); for forward, all before W_L. A
// right record that arrives already evicted this way is counted
// (right_expired()) and not kept. Eviction runs on a key's insertions and
// lookups, and over all keys whenever the right records held have doubled
// since the last sweep, so state stays bounded by the right records since
// the left watermark, per key, plus one.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <cereal/types/optional.hpp>
#include <cereal/types/vector.hpp>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/core/two_input.hpp"
#include "laminar/operator/key_by.hpp"
#include "laminar/window/detail/session_table.hpp"  // slot_table
#include "laminar/window/window_row.hpp"            // window_key_of

namespace laminar {

enum class asof_direction : std::uint8_t { backward, forward, nearest };

[[nodiscard]] inline const char* to_string(asof_direction d) noexcept {
  switch (d) {
    case asof_direction::backward: return "backward";
    case asof_direction::forward: return "forward";
    case asof_direction::nearest: return "nearest";
  }
  return "unknown";
}

/// A left record and its match, if any.
template <class L, class R>
struct asof_row {
  L left{};
  std::optional<R> right;
  friend bool operator==(const asof_row&, const asof_row&) = default;
  friend std::ostream& operator<<(std::ostream& os, const asof_row& r) {
    os << "{";
    detail::print_value(os, r.left);
    os << " ~ ";
    if (r.right) {
      detail::print_value(os, *r.right);
    } else {
      os << "none";
    }
    return os << "}";
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(left, right);
  }
};

/// When a left record's row leaves: at once (eager) or once exact (final).
enum class asof_emit : std::uint8_t { eager, final };

[[nodiscard]] inline const char* to_string(asof_emit e) noexcept {
  return e == asof_emit::eager ? "eager" : "final";
}

struct asof_settings {
  asof_direction direction = asof_direction::backward;
  bool allow_exact_matches = true;
  std::optional<duration> tolerance;
  asof_emit emit = asof_emit::eager;
  std::size_t max_pending = std::numeric_limits<std::size_t>::max();  // final: left records held at most
};

namespace detail {

/// A projection of a joined row through its left record (key, event time).
template <class P>
struct through_left {
  [[no_unique_address]] P p;
  template <class Row>
  decltype(auto) operator()(const Row& row) const {
    return std::invoke(p, row.left);
  }
};

/// One key's right records that may still match, by time (equal times in
/// arrival order), evicted from the front.
template <class R>
struct asof_buffer {
  struct entry {
    timestamp t;
    R record;
  };
  std::vector<entry> items;
  std::size_t head = 0;  // items before head are evicted

  [[nodiscard]] std::size_t size() const noexcept { return items.size() - head; }
  [[nodiscard]] bool empty() const noexcept { return head == items.size(); }
  [[nodiscard]] const entry* begin() const noexcept { return items.data() + head; }
  [[nodiscard]] const entry* end() const noexcept { return items.data() + items.size(); }

  // Inserts in time order (after the records of equal or earlier time);
  // returns the record's position from the front. `newest` is the last
  // record's time (kept by the caller, so the common case reads no record).
  std::size_t insert(timestamp t, const R& r, timestamp newest) {
    if (empty() || newest <= t) [[likely]] {
      items.push_back({t, r});
      return size() - 1;
    }
    const auto at = std::upper_bound(items.begin() + static_cast<std::ptrdiff_t>(head), items.end(), t,
                                     [](timestamp x, const entry& e) { return x < e.t; });
    const auto pos = static_cast<std::size_t>(at - items.begin()) - head;
    items.insert(at, entry{t, r});
    return pos;
  }
  // Evicts the first n records; compacts once half the vector is dead.
  void drop(std::size_t n) {
    head += n;
    if (head == items.size()) {
      items.clear();
      head = 0;
    } else if (head > 32 && head * 2 > items.size()) {
      items.erase(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(head));
      head = 0;
    }
  }
  void reset() noexcept {
    items.clear();
    head = 0;
  }
};

/// A key's state: its buffer, plus what the per-record paths read without
/// touching it: a copy of its newest record (the latest time, last to
/// arrive: the backward match of a left record at or after it) and the
/// left watermark past which eviction has work.
template <class R>
struct asof_key {
  typename asof_buffer<R>::entry newest{};
  timestamp evict_after = timestamp::max();
  asof_buffer<R> buffer;
  void reset() noexcept {
    buffer.reset();
    evict_after = timestamp::max();
  }
};

template <class Next, class LCtx, class RCtx, class Late>
class asof_join_stage {
 public:
  using left_type = typename LCtx::value_type;
  using right_type = typename RCtx::value_type;
  using key_type = decltype(window_key_of(std::declval<const LCtx&>(), std::declval<const left_type&>()));
  using row_type = asof_row<left_type, right_type>;
  using buffer = asof_buffer<right_type>;
  using entry = typename buffer::entry;

  asof_join_stage(Next next, LCtx lctx, RCtx rctx, asof_settings settings, Late late)
      : next_(std::move(next)), lctx_(std::move(lctx)), rctx_(std::move(rctx)), settings_(settings), late_(std::move(late)) {}

  void on_event(left_input, const left_type& l) {
    const timestamp t = time_of(lctx_, l);
    if (t < left_watermark_) [[unlikely]] return on_late(l);
    if (settings_.emit == asof_emit::final) return hold(t, l);
    emit_row(l, t);
  }

  void on_event(right_input, const right_type& r) {
    const timestamp t = time_of(rctx_, r);
    if (t < horizon_) [[unlikely]] {
      ++right_expired_;  // no left record at or after the left watermark can match it
      return;
    }
    const key_type key = window_key_of(rctx_, r);
    std::uint32_t s = keys_.find(key);
    if (s == table::npos) [[unlikely]] s = keys_.insert(key);
    key_state& k = keys_.state(s);
    const std::size_t pos = k.buffer.insert(t, r, k.newest.t);
    ++held_;
    if (pos + 1 == k.buffer.size()) k.newest = {t, r};
    // The first two records decide when eviction has work; it is left for
    // a few records, so that its cost is shared.
    if (pos < 2) k.evict_after = evict_after(k.buffer);
    if (evict_watermark_ > k.evict_after && k.buffer.size() > evict_slack) [[unlikely]] evict(k);
    if (held_ > sweep_at_) [[unlikely]] sweep();
  }

  /// The left input's watermark bounds what can still match; the right
  /// input's decides when held left records are exact (final).
  void on_input_watermark(left_input, timestamp w) {
    left_watermark_ = w;
    update_evict_watermark();
    if (settings_.emit == asof_emit::final) release();
  }
  void on_input_watermark(right_input, timestamp w) {
    right_watermark_ = w;
    if (settings_.emit == asof_emit::final) release();
  }

  // Rows leave with their left record's time: the output watermark stays
  // behind the held left records (final).
  void on_watermark(timestamp w) {
    combined_ = w;
    advance_output();
  }

  void on_barrier(const checkpoint_barrier& b) {
    b.checkpoint(*this);
    next_.on_barrier(b);
  }
  void on_end() { next_.on_end(); }

  /// Left records later than the left watermark (to the late side output).
  [[nodiscard]] std::uint64_t late_count() const noexcept { return late_count_; }
  /// Right records that arrived too old to match any left record to come.
  [[nodiscard]] std::uint64_t right_expired() const noexcept { return right_expired_; }
  /// Left records held until their answer is exact (final).
  [[nodiscard]] std::size_t left_held() const noexcept { return pending_.size(); }
  /// Left records released before their answer was exact because more than
  /// max_pending were held (final), joined with what had arrived.
  [[nodiscard]] std::uint64_t released_early() const noexcept { return released_early_; }
  /// Right records held now, over all keys.
  [[nodiscard]] std::size_t right_held() const noexcept { return held_; }
  /// Keys with right records held.
  [[nodiscard]] std::size_t keys() const noexcept { return keys_.size(); }
  [[nodiscard]] Next& downstream() noexcept { return next_; }

  void save_state(state_writer& w) const {
    w(left_watermark_, right_watermark_, combined_, output_watermark_, late_count_, right_expired_, released_early_,
      next_seq_, static_cast<std::uint64_t>(pending_.size()));
    for (const pending& x : pending_) w(x.t, x.seq, x.record);
    w(static_cast<std::uint64_t>(keys_.slot_count()));
    for (std::uint32_t s = 0; s < keys_.slot_count(); ++s) {
      const bool live = keys_.live(s);
      w(live);
      if (!live) continue;
      const buffer& b = keys_.state(s).buffer;
      w(keys_.key(s), static_cast<std::uint64_t>(b.size()));
      for (const entry& e : b) w(e.t, e.record);
    }
    w(keys_.free_slots());
    if constexpr (stateful_side_output<Late>) side_output_target(late_).save_state(w);
  }

  void load_state(state_reader& r) {
    std::uint64_t n_pending = 0;
    r(left_watermark_, right_watermark_, combined_, output_watermark_, late_count_, right_expired_, released_early_,
      next_seq_, n_pending);
    pending_.clear();
    for (std::uint64_t i = 0; i < n_pending; ++i) {
      pending x{timestamp{}, 0, left_type{}};
      r(x.t, x.seq, x.record);
      pending_.push_back(std::move(x));
    }
    std::uint64_t slots = 0;
    r(slots);
    keys_.reset(static_cast<std::size_t>(slots));
    held_ = 0;
    for (std::uint32_t s = 0; s < slots; ++s) {
      bool live = false;
      r(live);
      if (!live) continue;
      key_type k{};
      std::uint64_t n = 0;
      r(k, n);
      keys_.restore(s, k);
      key_state& ks = keys_.state(s);
      for (std::uint64_t i = 0; i < n; ++i) {
        entry e{timestamp{}, right_type{}};
        r(e.t, e.record);
        ks.buffer.items.push_back(std::move(e));
      }
      if (!ks.buffer.empty()) ks.newest = ks.buffer.items.back();
      ks.evict_after = evict_after(ks.buffer);
      held_ += ks.buffer.size();
    }
    std::vector<std::uint32_t> free;
    r(free);
    keys_.restore_free_slots(std::move(free));
    sweep_at_ = 2 * held_ + 1024;
    update_evict_watermark();
    if constexpr (stateful_side_output<Late>) side_output_target(late_).load_state(r);
  }

 private:
  using key_state = asof_key<right_type>;
  static constexpr std::size_t evict_slack = 4;  // records a key may hold past eviction
  using table = slot_table<key_type, key_state>;

  [[nodiscard]] bool backward_ok(timestamp rt, timestamp lt) const noexcept {
    return settings_.allow_exact_matches ? rt <= lt : rt < lt;
  }
  [[nodiscard]] bool within(duration d) const noexcept { return !settings_.tolerance || d <= *settings_.tolerance; }

  // ---- rows ----

  void emit_row(const left_type& l, timestamp t) {
    const std::uint32_t s = keys_.find(window_key_of(lctx_, l));
    const entry* match = s == table::npos ? nullptr : find(keys_.state(s), t);
    if (match != nullptr) {
      next_.on_event(row_type{l, match->record});
    } else {
      next_.on_event(row_type{l, std::nullopt});
    }
  }

  // ---- final: left records held until exact, released in time order ----

  struct pending {
    timestamp t;
    std::uint64_t seq;  // arrival: orders equal times
    left_type record;
  };
  // A min-heap on (time, arrival).
  static bool later(const pending& a, const pending& b) noexcept {
    return a.t != b.t ? a.t > b.t : a.seq > b.seq;
  }

  void hold(timestamp t, const left_type& l) {
    pending_.push_back(pending{t, next_seq_++, l});
    std::push_heap(pending_.begin(), pending_.end(), later);
    if (pending_.size() > settings_.max_pending) [[unlikely]] {
      ++released_early_;  // the right input is not moving: bounded, not exact
      pop_and_emit();
    }
    update_evict_watermark();
    release();
  }

  void pop_and_emit() {
    std::pop_heap(pending_.begin(), pending_.end(), later);
    pending x = std::move(pending_.back());
    pending_.pop_back();
    emit_row(x.record, x.t);
  }

  // Emits the held left records, in time order, while the first one's
  // answer is exact and no earlier left record can still come.
  void release() {
    bool any = false;
    while (!pending_.empty()) {
      const pending& f = pending_.front();
      if (f.t > left_watermark_ || !exact(f)) break;
      pop_and_emit();
      any = true;
    }
    if (any) {
      update_evict_watermark();
      advance_output();
    }
  }

  // Whether no right record still to come (time >= the right watermark)
  // can change the left record's match.
  [[nodiscard]] bool exact(const pending& f) const {
    const timestamp wr = right_watermark_;
    if (wr == timestamp::max()) return true;
    const bool backward_done = settings_.allow_exact_matches ? wr > f.t : wr >= f.t;
    if (settings_.direction == asof_direction::backward) return backward_done;
    if (settings_.direction == asof_direction::nearest && !backward_done) return false;
    // Forward: the first candidate is final once nothing earlier can come;
    // no candidate is final once nothing within the tolerance can come.
    const std::uint32_t s = keys_.find(window_key_of(lctx_, f.record));
    const entry* c = s == table::npos ? nullptr : forward_candidate(keys_.state(s).buffer, f.t);
    if (c != nullptr) return wr >= c->t;
    return settings_.tolerance && wr > f.t + *settings_.tolerance;
  }

  [[nodiscard]] const entry* forward_candidate(const buffer& b, timestamp t) const {
    const auto cmp = [](const entry& e, timestamp x) { return e.t < x; };
    const entry* c = settings_.allow_exact_matches
                         ? std::lower_bound(b.begin(), b.end(), t, cmp)
                         : std::upper_bound(b.begin(), b.end(), t, [](timestamp x, const entry& e) { return x < e.t; });
    return c != b.end() && within(c->t - t) ? c : nullptr;
  }

  // Right records are kept for left records from here on: the left
  // watermark, or the earliest held left record.
  void update_evict_watermark() {
    evict_watermark_ = pending_.empty() ? left_watermark_ : std::min(left_watermark_, pending_.front().t);
    horizon_ = horizon_for(evict_watermark_);
  }

  void advance_output() {
    const timestamp out = pending_.empty() ? combined_ : std::min(combined_, pending_.front().t);
    if (out > output_watermark_) {
      output_watermark_ = out;
      next_.on_watermark(out);
    }
  }

  // The match for a left record at t among the key's right records.
  [[nodiscard]] const entry* find(const key_state& k, timestamp t) const {
    const buffer& b = k.buffer;
    if (b.empty()) return nullptr;
    // The common case, from the key's own slot: the newest record is the
    // backward match, and with nothing after it, the nearest one too.
    if (settings_.direction != asof_direction::forward && backward_ok(k.newest.t, t) &&
        (settings_.direction == asof_direction::backward || k.newest.t < t)) [[likely]] {
      return within(t - k.newest.t) ? &k.newest : nullptr;
    }
    const entry* first = b.begin();
    const entry* last = b.end();
    // The first record past the backward candidates. Records mostly arrive
    // in order, so the answer is mostly at the end.
    const entry* after = last;
    if (!backward_ok((last - 1)->t, t)) {
      after = settings_.allow_exact_matches
                  ? std::upper_bound(first, last, t, [](timestamp x, const entry& e) { return x < e.t; })
                  : std::lower_bound(first, last, t, [](const entry& e, timestamp x) { return e.t < x; });
    }
    const entry* back = after != first && within(t - (after - 1)->t) ? after - 1 : nullptr;
    if (settings_.direction == asof_direction::backward) return back;
    // Forward: the first record at or after t (after t without exact
    // matches), next to the boundary of the backward candidates.
    const entry* fwd = after;
    if (settings_.allow_exact_matches) {
      while (fwd != first && (fwd - 1)->t == t) --fwd;
    } else {
      while (fwd != last && fwd->t == t) ++fwd;
    }
    const entry* forward = fwd != last && within(fwd->t - t) ? fwd : nullptr;
    if (settings_.direction == asof_direction::forward) return forward;
    if (back == nullptr) return forward;
    if (forward == nullptr) return back;
    return t - back->t <= forward->t - t ? back : forward;
  }

  // The oldest time a right record may have and still match a left record
  // at or after left watermark w, ignoring the one-record-before rule.
  [[nodiscard]] timestamp horizon_for(timestamp w) const noexcept {
    if (w == timestamp::min()) return w;
    if (settings_.direction == asof_direction::forward) return w;
    return settings_.tolerance ? w - *settings_.tolerance : timestamp::min();
  }

  // Drops the key's records no left record at or after the left watermark
  // can match: those before the horizon, and for backward/nearest all but
  // the last record before the watermark.
  // The left watermark past which evict() has work for this buffer: its
  // first record falls below the horizon, or (backward, nearest) its
  // second below the watermark.
  [[nodiscard]] timestamp evict_after(const buffer& b) const noexcept {
    if (b.empty()) return timestamp::max();
    const timestamp first = b.begin()->t;
    if (settings_.direction == asof_direction::forward) return first;
    timestamp after = settings_.tolerance ? first + *settings_.tolerance : timestamp::max();
    if (b.size() > 1 && (b.begin() + 1)->t < after) after = (b.begin() + 1)->t;
    return after;
  }

  void evict(key_state& k) {
    evict_buffer(k.buffer);
    k.evict_after = evict_after(k.buffer);
  }

  void evict_buffer(buffer& b) {
    const timestamp wl = evict_watermark_;
    if (wl == timestamp::min() || b.empty()) return;
    std::size_t n = 0;
    const entry* first = b.begin();
    const std::size_t size = b.size();
    while (n < size && first[n].t < horizon_) ++n;
    if (settings_.direction != asof_direction::forward) {
      // Keep the last record before the watermark: it is the backward
      // match of left records just after it.
      std::size_t before = n;
      while (before < size && first[before].t < wl) ++before;
      if (before > n + 1) n = before - 1;
    }
    if (n > 0) {
      b.drop(n);
      held_ -= n;
    }
  }

  // Evicts over all keys (quiet keys included); keys left empty leave.
  [[gnu::noinline]] void sweep() {
    for (std::uint32_t s = 0; s < keys_.slot_count(); ++s) {
      if (!keys_.live(s)) continue;
      evict(keys_.state(s));
      if (keys_.state(s).buffer.empty()) keys_.erase(s);
    }
    sweep_at_ = 2 * held_ + 1024;
  }

  [[gnu::cold, gnu::noinline]] void on_late(const left_type& l) {
    ++late_count_;
    side_output_target(late_)(l);
  }

  [[no_unique_address]] Next next_;
  [[no_unique_address]] LCtx lctx_;
  [[no_unique_address]] RCtx rctx_;
  asof_settings settings_;
  [[no_unique_address]] Late late_;
  table keys_;
  timestamp left_watermark_ = timestamp::min();
  timestamp right_watermark_ = timestamp::min();
  timestamp evict_watermark_ = timestamp::min();  // right records are kept for left records from here on
  timestamp combined_ = timestamp::min();
  timestamp output_watermark_ = timestamp::min();
  timestamp horizon_ = timestamp::min();
  std::vector<pending> pending_;  // final: a min-heap by (time, arrival)
  std::uint64_t next_seq_ = 0;
  std::uint64_t released_early_ = 0;
  std::size_t held_ = 0;
  std::size_t sweep_at_ = 1024;
  std::uint64_t late_count_ = 0;
  std::uint64_t right_expired_ = 0;
};

}  // namespace detail

/// The ASOF join factory: asof_join(), refined by .direction(d),
/// .tolerance(t), .allow_exact_matches(b) and .late_to(out).
template <class Late = detail::discard_side_output>
struct asof_join_operator {
  using is_two_input_operator = void;
  asof_settings settings{};
  Late late{};

  [[nodiscard]] asof_join_operator direction(asof_direction d) const {
    asof_join_operator o = *this;
    o.settings.direction = d;
    return o;
  }
  /// A match further than `d` from the left record's time is no match.
  [[nodiscard]] asof_join_operator tolerance(duration d) const {
    if (d < duration::zero()) {
      throw usage_error("laminar: asof_join: tolerance must not be negative, got " + std::to_string(d.nanos()) + "ns");
    }
    asof_join_operator o = *this;
    o.settings.tolerance = d;
    return o;
  }
  /// Whether a right record at exactly the left record's time matches (default: yes).
  [[nodiscard]] asof_join_operator allow_exact_matches(bool allow) const {
    asof_join_operator o = *this;
    o.settings.allow_exact_matches = allow;
    return o;
  }
  /// eager (default): a left record is joined when it arrives, against the
  /// right records that arrived before it. final: it is held until the
  /// right watermark makes its answer exact, and rows leave in left
  /// event-time order.
  [[nodiscard]] asof_join_operator emit(asof_emit e) const {
    asof_join_operator o = *this;
    o.settings.emit = e;
    return o;
  }
  /// final: at most `n` left records are held; past that the earliest is
  /// released with what has arrived (counted by released_early()), so an
  /// idle right input cannot grow the state without bound.
  [[nodiscard]] asof_join_operator max_pending(std::size_t n) const {
    if (n == 0) throw usage_error("laminar: asof_join: max_pending must be at least 1");
    asof_join_operator o = *this;
    o.settings.max_pending = n;
    return o;
  }
  /// Where left records later than the left watermark go: a callable, or a
  /// side_records<L> held by reference and checkpointed with the join.
  template <class F>
  [[nodiscard]] auto late_to(F&& out) const {
    return asof_join_operator<detail::side_output_holder_t<F>>{settings, detail::hold_side_output(std::forward<F>(out))};
  }

  template <class LCtx, class RCtx>
  auto output_context(const LCtx& l, const RCtx&) const {
    static_assert(LCtx::timed() && RCtx::timed(),
                  "laminar: asof_join needs event time on both inputs: put with_watermarks(...) or event_time(...) "
                  "on each");
    static_assert(LCtx::keyed() == RCtx::keyed(),
                  "laminar: asof_join: key both inputs (key_by on each) or neither");
    using L = typename LCtx::value_type;
    using R = typename RCtx::value_type;
    using KL = decltype(detail::window_key_of(std::declval<const LCtx&>(), std::declval<const L&>()));
    using KR = decltype(detail::window_key_of(std::declval<const RCtx&>(), std::declval<const R&>()));
    static_assert(std::is_same_v<KL, KR>, "laminar: asof_join: the two inputs' keys must have the same type");
    using row = asof_row<L, R>;
    if constexpr (LCtx::keyed()) {
      return stream_context<row, detail::through_left<typename LCtx::key_type>,
                            detail::through_left<typename LCtx::time_type>>{{l.key}, {l.time}};
    } else {
      return stream_context<row, no_projection, detail::through_left<typename LCtx::time_type>>{{}, {l.time}};
    }
  }

  template <class LCtx, class RCtx, class Next>
  auto bind(const LCtx& l, const RCtx& r, Next&& next) && {
    (void)output_context(l, r);
    return detail::asof_join_stage<std::remove_cvref_t<Next>, LCtx, RCtx, Late>(std::forward<Next>(next), l, r,
                                                                               settings, std::move(late));
  }
};

/// An ASOF join: backward, exact matches allowed, no tolerance, eager.
inline asof_join_operator<> asof_join() { return {}; }

}  // namespace laminar
