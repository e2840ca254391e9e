// Temporal join: each left record (an order) with the version of a
// versioned table (the rates) that was valid at the left record's event
// time. The right input is the table's changelog, keyed by its primary key:
//
//   connect(orders | key_by(&order::currency), rates | key_by(&rate::currency))
//     | temporal_join().type(join_type::left)
//     | sink(...);                          // rows: temporal_row<order, rate>
//
// A right record that is a changelog_row (core/changelog.hpp: change<T>, or
// a changelog_traits specialization) changes the key's row at its event
// time: +I and +U (a positive weight) make it the row from then on; -D (and
// a -U with no +U after it at that time; a weight <= 0) make the key absent
// from then on. Any other right record is an upsert. Of several changes
// at one time, the last to arrive wins (so -U then +U leaves the +U).
//
// A left record at t_l joins the key's row as of t_l: the last change at or
// before t_l. The answer is exact once the right watermark W_R has passed
// t_l (no change at or before t_l can still come), so left records are
// held until then and leave in left event-time order (equal times in
// arrival order) once the left watermark has passed them too; the output
// watermark stays behind the held records. Inner: a left record with no
// row at t_l gives nothing; left: it gives {left, nullopt}.
//
// State: per key, the changes since the left watermark (or the earliest
// held left record), plus the last one before it: the key's row as of then.
// A key whose row was deleted before that point leaves. Left records later
// than the left watermark are late (the versions they need may be gone):
// the late side output, counted. .max_held(n) bounds the held left
// records when the right input stops moving: past n, the earliest leaves
// joined with what has arrived, or with .overflow_to(out) goes to that side
// output unjoined (overflow_count() counts them either way). An idle
// timeout on the right source moves its watermark on with processing time
// instead, releasing the held records exactly as a moving watermark would.
// .keep_right(f) keeps only f(record) of each change (rows carry that).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/core/changelog.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/detail/with_setting.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/core/two_input.hpp"
#include "laminar/join/detail/held_left.hpp"
#include "laminar/join/detail/keep_right.hpp"
#include "laminar/join/detail/time_buffer.hpp"
#include "laminar/join/enriched_row.hpp"
#include "laminar/join/interval.hpp"  // join_type
#include "laminar/operator/key_by.hpp"
#include "laminar/state/key.hpp"
#include "laminar/state/slot_table.hpp"

namespace laminar {

/// A left record and the table's row valid at its time, if any.
template <class L, class R>
using temporal_row = enriched_row<L, R>;

struct temporal_settings {
  join_type type = join_type::inner;
  std::size_t max_held = std::numeric_limits<std::size_t>::max();
};

namespace detail {

/// Whether a change makes its record the key's row (else: the key is absent).
template <class R>
[[nodiscard]] constexpr bool is_valid_version(const R& r) noexcept {
  if constexpr (changelog_row<R>) {
    return weight_of(r) > 0;
  } else {
    (void)r;
    return true;
  }
}

/// A change of a key's row at time t: what is kept of its record, and
/// whether it makes that the row (+I, +U) or the key absent (-U, -D).
template <class K>
struct version_entry {
  timestamp t;
  K record;
  bool valid = true;
};

template <class Next, class LCtx, class RCtx, class Late, class Overflow, class Keep>
class temporal_join_stage : public forwarding_two_input_stage<temporal_join_stage<Next, LCtx, RCtx, Late, Overflow, Keep>> {
 public:
  static constexpr std::string_view state_name = "temporal_join";
  using left_type = typename LCtx::value_type;
  using right_type = typename RCtx::value_type;
  /// What the join keeps of a change, and rows carry: the record, or what
  /// keep_right(f) returns for it.
  using kept_type = kept_t<Keep, right_type>;
  using key_type = group_key_t<LCtx>;
  /// What its state is made of (its layout fingerprint in a checkpoint).
  using state_types = laminar::state_types<key_type, left_type, kept_type>;
  using row_type = temporal_row<left_type, kept_type>;

  temporal_join_stage(Next next, LCtx lctx, RCtx rctx, temporal_settings settings, Late late, Overflow overflow,
                      Keep keep)
      : next_(std::move(next)),
        lctx_(std::move(lctx)),
        rctx_(std::move(rctx)),
        settings_(settings),
        late_(std::move(late)),
        overflow_(std::move(overflow)),
        keep_(std::move(keep)) {}

  void on_event(left_input, const left_type& l) {
    const timestamp t = time_of(lctx_, l);
    if (t < left_watermark_) [[unlikely]] return on_late(l);
    pending_.push(t, l);
    if (pending_.size() > settings_.max_held) [[unlikely]] release_early();
    update_keep_from();
    release();
  }

  void on_event(right_input, const right_type& r) {
    const timestamp t = time_of(rctx_, r);
    const key_type key = group_key_of(rctx_, r);
    std::uint32_t s = versions_.find(key);
    if (s == table::npos) {
      if (t < keep_from_ && !is_valid_version(r)) {
        ++right_expired_;  // deletes a row no left record still to come can see
        return;
      }
      s = versions_.insert(key);
    }
    versions_.state(s).insert(version_entry<kept_type>{t, std::invoke(keep_, r), is_valid_version(r)});
    ++held_;
    trim(s);
    if (held_ > sweep_at_) [[unlikely]] sweep();
  }

  void on_input_watermark(left_input, timestamp w) {
    left_watermark_ = w;
    update_keep_from();
    release();
  }
  void on_input_watermark(right_input, timestamp w) {
    right_watermark_ = w;
    release();
  }
  // An ended right input makes every held answer exact; its watermark at
  // timestamp::max() does not (changes at INT64_MAX may still come).
  void on_input_end(left_input) noexcept {}
  void on_input_end(right_input) {
    right_ended_ = true;
    release();
  }
  void on_watermark(timestamp w) { pending_.on_watermark(w, next_); }

  [[nodiscard]] std::uint64_t late_count() const noexcept { return late_count_; }
  /// Right changes that arrived too old to be seen by any left record to come.
  [[nodiscard]] std::uint64_t right_expired() const noexcept { return right_expired_; }
  /// Left records released before their answer was exact because more than
  /// max_held were held: joined with what had arrived, or to the overflow
  /// side output.
  [[nodiscard]] std::uint64_t overflow_count() const noexcept { return overflow_count_; }
  [[nodiscard]] std::size_t left_held() const noexcept { return pending_.size(); }
  /// Versions held, over all keys.
  [[nodiscard]] std::size_t right_held() const noexcept { return held_; }
  [[nodiscard]] std::size_t keys() const noexcept { return versions_.size(); }
  [[nodiscard]] Next& downstream() noexcept { return next_; }

  void on_checkpoint_complete(std::uint64_t checkpoint_id) {
    capture_.complete(checkpoint_id, [this](auto&& f) { f(versions_.changes()); });
    next_.on_checkpoint_complete(checkpoint_id);
  }

  /// Incremental checkpoints (state_writer::incremental()): a capture on a
  /// base it has kept track since writes the keys changed only (the held
  /// left records, bounded by the watermarks, whole).
  void save_state(state_writer& w) const {
    const bool delta = capture_.begin(w, [this](auto&& f) { f(versions_.changes()); }, versions_.size());
    w(left_watermark_, right_watermark_, right_ended_, late_count_, right_expired_, overflow_count_);
    pending_.save_state(w);
    const auto save_key = [&w](const buffer& b) {
      w(static_cast<std::uint64_t>(b.size()));
      for (const auto& e : b) w(e.t, e.valid, e.record);
    };
    save_table(w, versions_, delta, save_key);
    if constexpr (stateful_side_output<Late>) side_output_target(late_).save_state(w);
    if constexpr (stateful_side_output<Overflow>) side_output_target(overflow_).save_state(w);
  }

  /// Restorable into another number of instances of its node: held left
  /// records and versioned keys filtered to the instance's key groups and
  /// merged; watermarks the earliest, counters summed.
  static constexpr bool rescalable = !stateful_side_output<Late> && !stateful_side_output<Overflow>;

  void load_state(state_reader& r) {
    if (!r.delta()) capture_.restart([this](auto&& f) { f(versions_.changes()); });  // the next capture is whole
    r.read_merged(earliest(left_watermark_), earliest(right_watermark_), all_of(right_ended_), summed(late_count_),
                  summed(right_expired_), summed(overflow_count_));
    if (!r.merging()) held_ = 0;
    pending_.load_state(r, "temporal_join", [&](const auto& l) {
      return r.owns_key_group(key_group_of(group_key_of(lctx_, l), r.key_groups()));
    });
    const auto load_key = [&](std::uint32_t slot, buffer& b) {
      const std::uint64_t n = r.read_count("versions");
      for (std::uint64_t i = 0; i < n; ++i) {
        version_entry<kept_type> e{timestamp{}, kept_type{}, false};
        r(e.t, e.valid, e.record);
        b.append(std::move(e));
      }
      if (slot != table::npos) held_ += static_cast<std::size_t>(n);  // npos: another instance's key, skipped
    };
    if (r.delta()) {
      apply_slot_changes(r, versions_, load_key);
      held_ = 0;
      for (std::uint32_t s = 0; s < versions_.slot_count(); ++s) {
        if (versions_.live(s)) held_ += std::as_const(versions_).state(s).size();
      }
    } else {
      load_slots(r, versions_, load_key);
    }
    sweep_at_ = 2 * held_ + 1024;
    update_keep_from();
    if constexpr (stateful_side_output<Late>) side_output_target(late_).load_state(r);
    if constexpr (stateful_side_output<Overflow>) side_output_target(overflow_).load_state(r);
  }

 private:
  using buffer = time_buffer<version_entry<kept_type>>;
  using table = slot_table<key_type, buffer>;

  // Emits the held left records, in time order, while the first one's
  // answer is exact (W_R has passed it) and no earlier left record can
  // still come (W_L has reached it).
  void release() {
    bool any = false;
    while (!pending_.empty()) {
      const auto& f = pending_.front();
      if (f.t > left_watermark_ || !(right_watermark_ > f.t || right_ended_)) break;
      pop_and_emit();
      any = true;
    }
    if (any) {
      update_keep_from();
      pending_.advance(next_);
    }
  }

  // The right input is not moving: bounded, not exact.
  [[gnu::cold, gnu::noinline]] void release_early() {
    ++overflow_count_;
    pending_.release_earliest(overflow_, [this] { pop_and_emit(); });
  }

  void pop_and_emit() {
    auto x = pending_.pop();
    const std::uint32_t s = versions_.find(group_key_of(lctx_, x.record));
    const version_entry<kept_type>* v = s == table::npos ? nullptr : version_at(std::as_const(versions_).state(s), x.t);
    if (v != nullptr && v->valid) {
      next_.on_event(row_type{std::move(x.record), v->record});
    } else if (settings_.type == join_type::left) {
      next_.on_event(row_type{std::move(x.record), std::nullopt});
    }
  }

  // The last change at or before t (the last to arrive of equal times).
  [[nodiscard]] static const version_entry<kept_type>* version_at(const buffer& b, timestamp t) {
    if (b.empty()) return nullptr;
    const auto* last = b.end() - 1;
    if (last->t <= t) return last;  // the common case: the newest version
    const auto* at = std::upper_bound(b.begin(), b.end(), t, [](timestamp x, const auto& e) { return x < e.t; });
    return at == b.begin() ? nullptr : at - 1;
  }

  // Versions are kept for left records from here on: the left watermark,
  // or the earliest held left record.
  void update_keep_from() {
    keep_from_ = pending_.held_back(left_watermark_);
  }

  // Drops key s's versions no left record at or after keep_from_ can see:
  // all but the last before it; the key itself once that last one is a
  // deletion and nothing after it is held.
  void trim(std::uint32_t s) {
    if (const buffer& seen = std::as_const(versions_).state(s); seen.empty() || seen.front().t >= keep_from_) {
      return;  // nothing to drop: not a change (a sweep passes every key)
    }
    buffer& b = versions_.state(s);
    std::size_t before = 0;
    for (const auto& e : b) {
      if (e.t >= keep_from_) break;
      ++before;
    }
    std::size_t drop = before - 1;
    if (before == b.size() && !b.back().valid) drop = before;  // deleted for good
    if (drop == 0) return;
    b.drop(drop);
    held_ -= drop;
    if (b.empty()) versions_.erase(s);
  }

  // Trims every key (quiet ones included), amortized over the changes.
  [[gnu::noinline]] void sweep() {
    for (std::uint32_t s = 0; s < versions_.slot_count(); ++s) {
      if (versions_.live(s)) trim(s);
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
  temporal_settings settings_;
  [[no_unique_address]] Late late_;
  [[no_unique_address]] Overflow overflow_;
  [[no_unique_address]] Keep keep_;
  table versions_;
  mutable incremental_capture capture_;  // incremental checkpoints: which captures versions_ tracks since
  held_left<left_type> pending_;
  timestamp left_watermark_ = timestamp::min();
  timestamp right_watermark_ = timestamp::min();
  bool right_ended_ = false;
  timestamp keep_from_ = timestamp::min();
  std::size_t held_ = 0;
  std::size_t sweep_at_ = 1024;
  std::uint64_t late_count_ = 0;
  std::uint64_t right_expired_ = 0;
  std::uint64_t overflow_count_ = 0;
};

}  // namespace detail

/// The temporal join factory: temporal_join(), refined by .type(inner|left),
/// .max_held(n), .overflow_to(out), .keep_right(f) and .late_to(out).
template <class Late = detail::discard_side_output, class Overflow = detail::discard_side_output,
          class Keep = detail::keep_whole>
struct temporal_join_operator {
  using is_two_input_operator = void;
  temporal_settings settings{};
  Late late{};
  Overflow overflow{};
  Keep keep{};

  /// inner (default): a left record with no row at its time gives nothing;
  /// left: it gives {left, nullopt}.
  [[nodiscard]] temporal_join_operator type(join_type t) const {
    if (t != join_type::inner && t != join_type::left) {
      throw usage_error(std::string("laminar: temporal_join: the join type must be inner or left, got ") + to_string(t));
    }
    return detail::with_setting(*this, &temporal_settings::type, t);
  }
  /// At most `n` left records held; past that the earliest leaves joined
  /// with what has arrived, or goes to the overflow_to() side output
  /// (counted by overflow_count() either way).
  [[nodiscard]] temporal_join_operator max_held(std::size_t n) const {
    if (n == 0) throw usage_error("laminar: temporal_join: max_held must be at least 1");
    return detail::with_setting(*this, &temporal_settings::max_held, n);
  }
  /// Where left records later than the left watermark go.
  template <class F>
  [[nodiscard]] auto late_to(F&& out) const {
    return temporal_join_operator<detail::side_output_holder_t<F>, Overflow, Keep>{
        settings, detail::hold_side_output(std::forward<F>(out)), overflow, keep};
  }
  /// With max_held(n): where a held left record goes, unjoined, when more
  /// than n are held (its version is not certain yet, so it is not joined
  /// with a guess): a callable, or a side_records<L> held by reference and
  /// checkpointed with the join. Without it such a record leaves joined
  /// with what has arrived.
  template <class F>
  [[nodiscard]] auto overflow_to(F&& out) const {
    return temporal_join_operator<Late, detail::side_output_holder_t<F>, Keep>{
        settings, late, detail::hold_side_output(std::forward<F>(out)), keep};
  }
  /// The join keeps of each change only `f(record)` (a callable or a member
  /// pointer: the columns the rows read), and rows carry that:
  /// temporal_row<L, that type>. Whether a change makes the key's row or
  /// removes it is still read from the whole record (its kind). What f
  /// returns is default-constructible, copyable and serializable (it is
  /// checkpointed with the join).
  template <class F>
  [[nodiscard]] auto keep_right(F f) const {
    return temporal_join_operator<Late, Overflow, F>{settings, late, overflow, std::move(f)};
  }

  template <class LCtx, class RCtx>
  auto output_context(const LCtx& l, const RCtx&) const {
    static_assert(LCtx::timed() && RCtx::timed(),
                  "laminar: temporal_join needs event time on both inputs: put with_watermarks(...) or "
                  "event_time(...) on each");
    static_assert(LCtx::keyed() && RCtx::keyed(),
                  "laminar: temporal_join: key both inputs (key_by on each): the right input's key is the table's "
                  "primary key");
    static_assert(std::is_same_v<detail::group_key_t<LCtx>, detail::group_key_t<RCtx>>,
                  "laminar: temporal_join: the two inputs' keys must have the same type (and tag: key_by<tag>(k) "
                  "keeps different ids apart)");
    using R = typename RCtx::value_type;
    static_assert(detail::check_keep_right<Keep, R>());
    using row = temporal_row<typename LCtx::value_type, detail::kept_t<Keep, R>>;
    return detail::through_left_context<row>(l);
  }

  template <class LCtx, class RCtx, class Next>
  auto bind(const LCtx& l, const RCtx& r, Next&& next) && {
    (void)output_context(l, r);
    if constexpr (!std::is_same_v<Overflow, detail::discard_side_output>) {
      if (settings.max_held == std::numeric_limits<std::size_t>::max()) {
        throw usage_error("laminar: temporal_join: overflow_to() needs max_held(n): without a bound nothing "
                          "overflows");
      }
    }
    return detail::temporal_join_stage<std::remove_cvref_t<Next>, LCtx, RCtx, Late, Overflow, Keep>(
        std::forward<Next>(next), l, r, settings, std::move(late), std::move(overflow), std::move(keep));
  }
};

/// An inner temporal join against the right input's versioned table.
inline temporal_join_operator<> temporal_join() { return {}; }

}  // namespace laminar
