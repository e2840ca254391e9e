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
// Emit policy (.emit(emit_mode::...)):
//   eager  a left record is joined when it arrives, against the right
//          records that arrived before it: what a trading desk wants when one
//          feed handler delivers both streams in order, with no added latency.
//   final  a left record is held until the right watermark W_R makes its
//          answer exact (backward: W_R > t_l, or >= without exact matches;
//          forward: W_R >= its first candidate's time, or past t_l + the
//          tolerance when there is none; nearest: both), and rows leave in
//          left event-time order (equal times in arrival order) once the
//          left watermark has passed them too. The output watermark stays
//          behind the held records. .max_held(n) bounds what is held
//          when the right input stops moving: past n, the earliest held
//          record leaves with what has arrived, or with .overflow_left_to(out)
//          goes to that side output unjoined (overflow_count() counts
//          them either way). An idle timeout on the right source
//          (strategy.with_idle_timeout(d)) moves its watermark on with
//          processing time instead, releasing the held records exactly as
//          a moving watermark would. A right record later than its
//          watermark may miss left records already released, as the
//          watermark said it would not come.
//
// State: per key, the right records that can still match, sorted by time
// (equal times in arrival order). The left input's watermark W_L bounds what
// can match: a left record later than W_L is late (it goes to the late side
// output, counted, and is not joined: what it would have matched may be
// gone), so right records that no left record at or after W_L can match are
// evicted: for backward and nearest, all but the last one before W_L (none
// of those further than the tolerance); for forward, all before W_L. A
// right record that arrives already evicted this way is counted
// (right_expired()) and not kept. A key's records live in a ring (its newest
// also in the key's slot): when the ring is full, its oldest record makes
// way if it can no longer match, else the ring doubles; and whenever the
// right records held have grown fourfold since the last sweep, a sweep
// evicts over all keys (quiet ones included). So a key holds at most about
// twice the records it needed at once, and all keys together at most four
// times what they need plus 1024. A key's first ring has room for 8
// records, or for .reserve_per_key(n): sized for a key's largest burst, no
// ring is reallocated in steady state. A ring cycles through the first 4 of
// its positions and doubles that within its room before it reallocates,
// so room reserved for bursts costs no cache while unused.
//
// Ordered feed (.ordered_feed()): the inputs are declared merged in event-
// time order (one feed handler), so every left record's backward match is
// its key's newest right record, and that is all a key keeps (in its slot:
// no ring). A left record behind its key's newest right record needs the
// history not kept: it goes to the late side output, counted
// (out_of_order_count()). Backward, exact matches and eager only.
//
// What is kept (.keep_right(f)): the whole right record, or only f(record)
// (the fields the rows read, e.g. a quote's mid); rows then carry that.
//
// Keys: hashed (any key type), or with .dense_keys(n) integers in [0, n)
// that index an array of key slots directly (symbol ids); a key outside
// [0, n) is a usage_error.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <cereal/types/optional.hpp>
#include <cereal/types/vector.hpp>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/detail/option_set.hpp"
#include "laminar/core/emit.hpp"
#include "laminar/core/detail/with_setting.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/core/two_input.hpp"
#include "laminar/join/detail/held_left.hpp"
#include "laminar/join/detail/keep_right.hpp"
#include "laminar/join/enriched_row.hpp"
#include "laminar/operator/key_by.hpp"
#include "laminar/state/dense_slot_table.hpp"
#include "laminar/state/key.hpp"
#include "laminar/state/slot_table.hpp"

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
using asof_row = enriched_row<L, R>;

struct asof_settings {
  asof_direction direction = asof_direction::backward;
  bool allow_exact_matches = true;
  std::optional<duration> tolerance;
  emit_mode emit = emit_mode::final;
  bool emit_chosen = false;  // emit(e) was called (ordered_feed() defaults to eager)
  std::size_t max_held = std::numeric_limits<std::size_t>::max();  // records held at most, per input
  std::size_t dense_keys = 0;  // dense_keys(n): keys are below n and index an array
  std::uint32_t reserve_per_key = 0;  // a key's first ring: this many records (a power of two), or min_ring
};

namespace detail {

/// One key's state: its right records that may still match, by time (equal
/// times in arrival order), in a ring evicted from the front, plus a copy of
/// the newest one (the latest time, last to arrive: the backward match of a
/// left record at or after it).
///
/// Layout, for the per-record paths: the fields before the ring pointer
/// share the key's cache line (with a record of up to 32 bytes), so an
/// in-order left record reads nothing else. The ring keeps the records'
/// times apart from the records, in one allocation (times first): eviction
/// and search read the times only (8 to a line). An in-order right record
/// into a full ring reads the line of times at the ring's head and takes
/// the oldest record's position: one line of times and one of records.
///
/// The ring cycles through the first `used` of its `cap` allocated
/// positions: a ring reserved for bursts (reserve_per_key) but holding a
/// few records at a time keeps those few lines warm, not all of them. It
/// widens within the allocation when a burst needs it, and reallocates
/// only past cap.
template <class R>
struct asof_key {
  timestamp newest_t{};  // valid while size > 0
  std::uint32_t size = 0;
  std::uint32_t head = 0;  // ring position of the oldest record
  std::uint32_t cap = 0;   // allocated positions: 0 or a power of two
  std::uint32_t used = 0;  // positions the ring cycles through: a power of two, at most cap
  R newest{};
  std::byte* ring = nullptr;  // cap records, then their cap times

  asof_key() = default;
  asof_key(asof_key&& o) noexcept
      : newest_t(o.newest_t),
        size(std::exchange(o.size, 0)),
        head(std::exchange(o.head, 0)),
        cap(std::exchange(o.cap, 0)),
        used(std::exchange(o.used, 0)),
        newest(std::move(o.newest)),
        ring(std::exchange(o.ring, nullptr)) {}
  asof_key(const asof_key& o) : newest_t(o.newest_t), newest(o.newest) {
    if (o.cap != 0) reserve(o.cap, o.used);
    for (std::uint32_t i = 0; i < o.size; ++i) append(o.time(i), o.record(i));
  }
  asof_key& operator=(asof_key o) noexcept {
    swap(o);
    return *this;
  }
  ~asof_key() { release(ring, cap); }

  void swap(asof_key& o) noexcept {
    using std::swap;
    swap(newest_t, o.newest_t);
    swap(size, o.size);
    swap(head, o.head);
    swap(cap, o.cap);
    swap(used, o.used);
    swap(newest, o.newest);
    swap(ring, o.ring);
  }

  [[nodiscard]] bool empty() const noexcept { return size == 0; }
  [[nodiscard]] bool full() const noexcept { return size == used; }
  /// The i-th record from the oldest, and its time.
  [[nodiscard]] R& record(std::uint32_t i) noexcept { return records()[at(i)]; }
  [[nodiscard]] const R& record(std::uint32_t i) const noexcept { return records()[at(i)]; }
  [[nodiscard]] timestamp time(std::uint32_t i) const noexcept { return times()[at(i)]; }

  // Inserts in time order (after the records of equal or earlier time), in
  // a ring with room; returns the record's position from the oldest.
  std::uint32_t insert(timestamp t, const R& r) {
    if (size == 0 || newest_t <= t) [[likely]] {
      append(t, r);
      newest_t = t;
      newest = r;
      return size - 1;
    }
    const std::uint32_t pos = upper_bound(t);
    for (std::uint32_t i = size; i > pos; --i) {
      times()[at(i)] = times()[at(i - 1)];
      records()[at(i)] = std::move(records()[at(i - 1)]);
    }
    times()[at(pos)] = t;
    records()[at(pos)] = r;
    ++size;
    return pos;
  }
  /// The first position whose time is after t (at or after t: lower_bound).
  [[nodiscard]] std::uint32_t upper_bound(timestamp t) const noexcept {
    return partition([t](timestamp x) { return x <= t; });
  }
  [[nodiscard]] std::uint32_t lower_bound(timestamp t) const noexcept {
    return partition([t](timestamp x) { return x < t; });
  }
  /// A full ring's oldest record makes way for a record at or after the
  /// newest: the new one takes the oldest's position, which becomes the
  /// newest end of the ring.
  void replace_oldest(timestamp t, const R& r) {
    const std::uint32_t p = head;
    times()[p] = t;
    records()[p] = r;
    head = (p + 1) & (used - 1);
    newest_t = t;
    newest = r;
  }
  /// Evicts the n oldest records (their ring positions are reused).
  void drop(std::uint32_t n) noexcept {
    head = (head + n) & (used - 1);
    size -= n;
  }
  /// A ring of n allocated positions (a power of two, at least size), of
  /// which it cycles through the first `in_use` (a power of two, at least
  /// size, at most n; all n by default), oldest first.
  void reserve(std::uint32_t n, std::uint32_t in_use = 0) {
    asof_key bigger;
    bigger.ring = allocate(n);
    bigger.cap = n;
    bigger.used = in_use == 0 ? n : in_use;
    for (std::uint32_t i = 0; i < size; ++i) bigger.append(time(i), std::move(record(i)));
    release(ring, cap);
    ring = std::exchange(bigger.ring, nullptr);
    cap = std::exchange(bigger.cap, 0);
    used = std::exchange(bigger.used, 0);
    head = 0;
  }
  /// Twice the positions in use, within the allocation (used < cap): the
  /// records that had wrapped around to the start move up past the old end.
  void widen() noexcept {
    const std::uint32_t old = used;
    for (std::uint32_t i = 0; i < size; ++i) {
      if (head + i < old) continue;  // did not wrap: its position stays
      times()[head + i] = times()[head + i - old];
      records()[head + i] = std::move(records()[head + i - old]);
    }
    used = 2 * old;
  }
  /// Empty; keeps the ring.
  void reset() noexcept {
    size = 0;
    head = 0;
  }

 private:
  // Times first, at the allocation's alignment (a cache line): the full
  // ring's check reads two of them and finds them with no arithmetic on
  // the capacity; then the records.
  static constexpr std::size_t ring_align = std::max<std::size_t>(64, alignof(R));
  static std::size_t records_offset(std::uint32_t n) noexcept {
    const std::size_t bytes = sizeof(timestamp) * n;
    return (bytes + alignof(R) - 1) / alignof(R) * alignof(R);
  }
  static std::byte* allocate(std::uint32_t n) {
    auto* p = static_cast<std::byte*>(
        ::operator new(records_offset(n) + sizeof(R) * n, std::align_val_t{ring_align}));
    std::uninitialized_value_construct_n(reinterpret_cast<timestamp*>(p), n);
    try {
      std::uninitialized_value_construct_n(reinterpret_cast<R*>(p + records_offset(n)), n);
    } catch (...) {
      ::operator delete(p, std::align_val_t{ring_align});
      throw;
    }
    return p;
  }
  static void release(std::byte* p, std::uint32_t n) noexcept {
    if (p == nullptr) return;
    std::destroy_n(std::launder(reinterpret_cast<R*>(p + records_offset(n))), n);
    ::operator delete(p, std::align_val_t{ring_align});
  }
  [[nodiscard]] std::uint32_t at(std::uint32_t i) const noexcept { return (head + i) & (used - 1); }
  [[nodiscard]] R* records() const noexcept {
    return std::launder(reinterpret_cast<R*>(ring + records_offset(cap)));
  }
  [[nodiscard]] timestamp* times() const noexcept { return std::launder(reinterpret_cast<timestamp*>(ring)); }
  template <class T>
  void append(timestamp t, T&& r) {
    times()[at(size)] = t;
    records()[at(size)] = std::forward<T>(r);
    ++size;
  }
  template <class Pred>
  [[nodiscard]] std::uint32_t partition(Pred before) const noexcept {
    std::uint32_t lo = 0;
    std::uint32_t n = size;
    while (n > 0) {
      const std::uint32_t half = n / 2;
      if (before(time(lo + half))) {
        lo += half + 1;
        n -= half + 1;
      } else {
        n = half;
      }
    }
    return lo;
  }
};

/// One key's state in an ordered feed (.ordered_feed()): its newest right
/// record only, in the key's own slot. The interface is asof_key's for the
/// paths the two share (finding a match, eviction, checkpoints): a ring of
/// at most one record.
template <class R>
struct asof_latest {
  timestamp newest_t{};  // valid while size > 0
  std::uint32_t size = 0;
  R newest{};

  [[nodiscard]] bool empty() const noexcept { return size == 0; }
  [[nodiscard]] const R& record(std::uint32_t) const noexcept { return newest; }
  [[nodiscard]] timestamp time(std::uint32_t) const noexcept { return newest_t; }
  [[nodiscard]] std::uint32_t upper_bound(timestamp t) const noexcept { return size != 0 && newest_t <= t ? 1 : 0; }
  [[nodiscard]] std::uint32_t lower_bound(timestamp t) const noexcept { return size != 0 && newest_t < t ? 1 : 0; }
  /// The record replaces the newest unless it is older (then false: no
  /// left record in order can match it).
  bool replace(timestamp t, const R& r) {
    if (size != 0 && t < newest_t) return false;
    newest_t = t;
    newest = r;
    size = 1;
    return true;
  }
  void drop(std::uint32_t n) noexcept { size -= n; }
  void reset() noexcept { size = 0; }
};

/// The tags of the ASOF join's compile-time options (an option_set).
struct asof_late {};            // late_to(out): late left records
struct asof_overflow {};        // overflow_left_to(out): held left records past max_held
struct asof_right_overflow {};  // overflow_right_to(out): right records past max_held
struct asof_keep {};            // keep_right(f)
struct asof_dense {};           // dense_keys(n)
struct asof_ordered {};         // ordered_feed()

using asof_defaults =
    option_set<option<asof_late, discard_side_output>, option<asof_overflow, discard_side_output>,
               option<asof_right_overflow, discard_side_output>, option<asof_keep, keep_whole>,
               option<asof_dense, flag<false>>, option<asof_ordered, flag<false>>>;

template <class Next, class LCtx, class RCtx, class Options>
class asof_join_stage : public forwarding_two_input_stage<asof_join_stage<Next, LCtx, RCtx, Options>> {
  using Late = option_t<asof_late, Options>;
  using Overflow = option_t<asof_overflow, Options>;
  using RightOverflow = option_t<asof_right_overflow, Options>;
  using Keep = option_t<asof_keep, Options>;
  static constexpr bool Dense = option_t<asof_dense, Options>::value;
  static constexpr bool Ordered = option_t<asof_ordered, Options>::value;

 public:
  static constexpr std::string_view state_name = "asof_join";
  using left_type = typename LCtx::value_type;
  using right_type = typename RCtx::value_type;
  /// What the join keeps of a right record, and rows carry: the record, or
  /// what keep_right(f) returns for it.
  using kept_type = kept_t<Keep, right_type>;
  using key_type = decltype(group_key_of(std::declval<const LCtx&>(), std::declval<const left_type&>()));
  /// What its state is made of (its layout fingerprint in a checkpoint).
  using state_types = laminar::state_types<key_type, left_type, kept_type>;
  using row_type = asof_row<left_type, kept_type>;

  asof_join_stage(Next next, LCtx lctx, RCtx rctx, asof_settings settings, Options options)
      : next_(std::move(next)),
        lctx_(std::move(lctx)),
        rctx_(std::move(rctx)),
        settings_(settings),
        late_(std::move(options.template get<asof_late>())),
        overflow_(std::move(options.template get<asof_overflow>())),
        right_overflow_out_(std::move(options.template get<asof_right_overflow>())),
        keep_(std::move(options.template get<asof_keep>())),
        keys_(make_table(settings)) {
    right_limit_ = std::min(sweep_at_, settings_.max_held);
  }

  void on_event(left_input, const left_type& l) {
    const timestamp t = time_of(lctx_, l);
    if (t < left_watermark_) [[unlikely]] return on_late(l);
    if constexpr (Ordered) {
      emit_in_order(l, t);
    } else {
      if (settings_.emit == emit_mode::final) return hold(t, l);
      emit_row(l, t);
    }
  }

  void on_event(right_input, const right_type& r) {
    const timestamp t = time_of(rctx_, r);
    if (t < horizon_) [[unlikely]] {
      ++right_expired_;  // no left record at or after the left watermark can match it
      return;
    }
    const key_type key = group_key_of(rctx_, r);
    // The record itself (a reference), or what keep_right(f) makes of it.
    decltype(auto) kept = std::invoke(keep_, r);
    if constexpr (Ordered) {
      replace_newest(key, t, kept);
    } else {
      std::uint32_t s = keys_.find(key);
      if (s == table::npos) [[unlikely]] s = keys_.insert(key);
      insert_right(keys_.state(s), t, kept);
    }
  }

  /// The left input's watermark bounds what can still match; the right
  /// input's decides when held left records are exact (final).
  void on_input_watermark(left_input, timestamp w) {
    // Never behind where a full right side moved it (max_held).
    left_watermark_ = std::max(left_watermark_, w);
    update_evict_watermark();
    if (settings_.emit == emit_mode::final) release();
  }
  void on_input_watermark(right_input, timestamp w) {
    right_watermark_ = w;
    if (settings_.emit == emit_mode::final) release();
  }
  // An ended right input makes every held answer exact; its watermark at
  // timestamp::max() does not (records at INT64_MAX may still come).
  void on_input_end(left_input) noexcept {}
  void on_input_end(right_input) {
    right_ended_ = true;
    if (settings_.emit == emit_mode::final) release();
  }

  // Rows leave with their left record's time: the output watermark stays
  // behind the held left records (final).
  void on_watermark(timestamp w) { pending_.on_watermark(w, next_); }

  /// Left records later than the left watermark (to the late side output).
  [[nodiscard]] std::uint64_t late_count() const noexcept { return late_count_; }
  /// Right records that arrived too old to match any left record to come.
  [[nodiscard]] std::uint64_t right_expired() const noexcept { return right_expired_; }
  /// Ordered feed: left records earlier than their key's newest right
  /// record (to the late side output, with the watermark's late records).
  [[nodiscard]] std::uint64_t out_of_order_count() const noexcept { return out_of_order_; }
  /// Left records held until their answer is exact (final).
  [[nodiscard]] std::size_t left_held() const noexcept { return pending_.size(); }
  /// Records that left because more than max_held were held: left records
  /// released before their answer was exact (final; joined with what had
  /// arrived, or to overflow_left_to's output), and right records dropped
  /// before the left watermark evicted them (to overflow_right_to's).
  [[nodiscard]] std::uint64_t overflow_count() const noexcept { return overflow_count_; }
  /// Right records held now, over all keys.
  [[nodiscard]] std::size_t right_held() const noexcept { return held_; }
  /// Keys with right records held.
  [[nodiscard]] std::size_t keys() const noexcept { return keys_.size(); }
  [[nodiscard]] Next& downstream() noexcept { return next_; }

  /// Incremental checkpoints (state_writer::incremental()): a capture on a
  /// base it has kept track since writes the keys changed only (the held
  /// left records, bounded by the watermarks, whole).
  void on_checkpoint_complete(std::uint64_t checkpoint_id) {
    capture_.complete(checkpoint_id, [this](auto&& f) { f(keys_.changes()); });
    next_.on_checkpoint_complete(checkpoint_id);
  }

  void save_state(state_writer& w) const {
    const bool delta = capture_.begin(w, [this](auto&& f) { f(keys_.changes()); }, keys_.size());
    w(left_watermark_, right_watermark_, right_ended_, late_count_, right_expired_, overflow_count_, out_of_order_);
    pending_.save_state(w);
    const auto save_key = [&w](const key_state& k) {
      w(static_cast<std::uint64_t>(k.size));
      for (std::uint32_t i = 0; i < k.size; ++i) w(k.time(i), k.record(i));
    };
    save_table(w, keys_, delta, save_key);
    if constexpr (stateful_side_output<Late>) side_output_target(late_).save_state(w);
    if constexpr (stateful_side_output<Overflow>) side_output_target(overflow_).save_state(w);
    if constexpr (stateful_side_output<RightOverflow>) side_output_target(right_overflow_out_).save_state(w);
  }

  /// Restorable into another number of instances of its node: held left
  /// records and keys filtered to the instance's key groups and merged;
  /// watermarks the earliest, counters summed.
  static constexpr bool rescalable =
      !stateful_side_output<Late> && !stateful_side_output<Overflow> && !stateful_side_output<RightOverflow>;

  void load_state(state_reader& r) {
    if (!r.delta()) capture_.restart([this](auto&& f) { f(keys_.changes()); });  // the next capture is whole
    r.read_merged(earliest(left_watermark_), earliest(right_watermark_), all_of(right_ended_), summed(late_count_),
                  summed(right_expired_), summed(overflow_count_), summed(out_of_order_));
    if (!r.merging()) held_ = 0;
    pending_.load_state(r, "asof_join", [&](const left_type& l) {
      return r.owns_key_group(key_group_of(group_key_of(lctx_, l), r.key_groups()));
    });
    const auto load_key = [&](std::uint32_t slot, key_state& k) {
      // A right record is at least its time (8 bytes); a ring holds at
      // most 2^31 of them.
      const std::uint64_t n = r.read_count("right records", sizeof(std::int64_t));
      if constexpr (!Ordered) {
        if (n > max_ring) {
          throw checkpoint_error("a key's count of " + std::to_string(n) + " right records exceeds a ring's " +
                                 std::to_string(max_ring));
        }
        if (n > k.cap) k.reserve(std::bit_ceil(std::max<std::uint32_t>(static_cast<std::uint32_t>(n), first_ring())));
        while (k.used < n) k.widen();
      }
      for (std::uint64_t i = 0; i < n; ++i) {
        timestamp t{};
        kept_type record{};
        r(t, record);
        if constexpr (Ordered) {
          // In time order: each replaces the one before (a history join's
          // checkpoint restores its newest record per key).
          if (!k.replace(t, record)) throw checkpoint_error("laminar: asof_join: a key's right records are out of order");
        } else {
          k.insert(t, record);  // in order: appended
        }
      }
      if (slot != std::remove_cvref_t<decltype(keys_)>::npos) held_ += k.size;  // npos: another instance's key, skipped
    };
    if (r.delta()) {
      apply_slot_changes(r, keys_, load_key);
      held_ = 0;
      for (std::uint32_t s = 0; s < keys_.slot_count(); ++s) {
        if (keys_.live(s)) held_ += std::as_const(keys_).state(s).size;
      }
    } else {
      load_slots(r, keys_, load_key);
    }
    sweep_at_ = next_sweep();
    right_limit_ = std::min(sweep_at_, settings_.max_held);
    update_evict_watermark();
    if constexpr (stateful_side_output<Late>) side_output_target(late_).load_state(r);
    if constexpr (stateful_side_output<Overflow>) side_output_target(overflow_).load_state(r);
    if constexpr (stateful_side_output<RightOverflow>) side_output_target(right_overflow_out_).load_state(r);
  }

 private:
  using key_state = std::conditional_t<Ordered, asof_latest<kept_type>, asof_key<kept_type>>;
  using table = std::conditional_t<Dense, dense_slot_table<key_type, key_state>, slot_table<key_type, key_state>>;
  // Room for the few records a key holds since the watermark in most
  // streams, so that its ring rarely has to grow after warm-up.
  static constexpr std::uint32_t min_ring = 8;
  // The most records a key's ring can hold (its positions are uint32_t).
  static constexpr std::uint64_t max_ring = std::uint64_t{1} << 31;
  static constexpr std::uint32_t first_used = 4;
  static constexpr std::uint32_t none = ~std::uint32_t{0};

  static table make_table(const asof_settings& s) {
    if constexpr (Dense) {
      return table(s.dense_keys, "asof_join");
    } else {
      return table();
    }
  }

  [[nodiscard]] bool backward_ok(timestamp rt, timestamp lt) const noexcept {
    return settings_.allow_exact_matches ? rt <= lt : rt < lt;
  }
  // Whether a right record at `later`/`earlier` is within the tolerance of
  // a left record at the other: exact distances (they can pass INT64_MAX).
  [[nodiscard]] bool within(timestamp earlier, timestamp later) const noexcept {
    return !settings_.tolerance || distance(earlier, later) <= static_cast<std::uint64_t>(settings_.tolerance->nanos());
  }

  // The state of a left record's key, or null.
  [[nodiscard]] const key_state* lookup(const left_type& l) const {
    if constexpr (Dense) {
      return keys_.lookup(group_key_of(lctx_, l));
    } else {
      const std::uint32_t s = keys_.find(group_key_of(lctx_, l));
      return s == table::npos ? nullptr : &keys_.state(s);
    }
  }

  // ---- rows ----

  void emit_row(const left_type& l, timestamp t) {
    const key_state* k = lookup(l);
    const kept_type* match = k == nullptr ? nullptr : find(*k, t);
    if (match != nullptr) {
      next_.on_event(row_type{l, *match});
    } else {
      next_.on_event(row_type{l, std::nullopt});
    }
  }

  // ---- ordered feed: a key's newest right record ----

  // The key's newest right record is the match (backward, exact matches
  // allowed) unless further than the tolerance; a left record before it
  // is out of order.
  void emit_in_order(const left_type& l, timestamp t) {
    const key_state* k = lookup(l);
    if (k == nullptr || k->empty()) [[unlikely]] return next_.on_event(row_type{l, std::nullopt});
    if (t < k->newest_t) [[unlikely]] return on_out_of_order(l);
    if (!within(k->newest_t, t)) return next_.on_event(row_type{l, std::nullopt});
    next_.on_event(row_type{l, k->newest});
  }

  // A right record replaces its key's newest, unless older: then no left
  // record in order can match it.
  void replace_newest(key_type key, timestamp t, const kept_type& r) {
    key_state* k = nullptr;
    if constexpr (Dense) {
      k = keys_.lookup(key);
    } else {
      const std::uint32_t s = keys_.find(key);
      if (s != table::npos) [[likely]] k = &keys_.state(s);
    }
    if (k == nullptr || k->empty()) [[unlikely]] return add_newest(key, t, r);
    if (t < k->newest_t) [[unlikely]] {
      ++right_expired_;
      return;
    }
    k->newest_t = t;
    k->newest = r;
  }
  [[gnu::noinline]] void add_newest(key_type key, timestamp t, const kept_type& r) {
    std::uint32_t s = keys_.find(key);
    if (s == table::npos) s = keys_.insert(key);
    keys_.state(s).replace(t, r);
    if (++held_ > right_limit_) [[unlikely]] on_right_limit();
  }

  // ---- final: left records held until exact, released in time order ----

  using pending = typename held_left<left_type>::entry;

  void hold(timestamp t, const left_type& l) {
    pending_.push(t, l);
    if (pending_.size() > settings_.max_held) [[unlikely]] release_early();
    update_evict_watermark();
    release();
  }

  // The right input is not moving: bounded, not exact.
  [[gnu::cold, gnu::noinline]] void release_early() {
    ++overflow_count_;
    pending_.release_earliest(overflow_, [this] { pop_and_emit(); });
  }

  void pop_and_emit() {
    const pending x = pending_.pop();
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
      pending_.advance(next_);
    }
  }

  // Whether no right record still to come (time >= the right watermark)
  // can change the left record's match.
  [[nodiscard]] bool exact(const pending& f) const {
    const timestamp wr = right_watermark_;
    if (right_ended_) return true;
    const bool backward_done = settings_.allow_exact_matches ? wr > f.t : wr >= f.t;
    if (settings_.direction == asof_direction::backward) return backward_done;
    if (settings_.direction == asof_direction::nearest && !backward_done) return false;
    // Forward: the first candidate is final once nothing earlier can come;
    // no candidate is final once nothing within the tolerance can come.
    const key_state* k = lookup(f.record);
    const std::uint32_t c = k == nullptr ? none : forward_candidate(*k, f.t);
    if (c != none) return wr >= k->time(c);
    return settings_.tolerance && wr > f.t + *settings_.tolerance;
  }

  // The position of the forward match of a left record at t, or none.
  [[nodiscard]] std::uint32_t forward_candidate(const key_state& k, timestamp t) const {
    const std::uint32_t c = settings_.allow_exact_matches ? k.lower_bound(t) : k.upper_bound(t);
    return c != k.size && within(t, k.time(c)) ? c : none;
  }

  // Right records are kept for left records from here on: the left
  // watermark, or the earliest held left record.
  void update_evict_watermark() {
    evict_watermark_ = pending_.held_back(left_watermark_);
    horizon_ = horizon_for(evict_watermark_);
    second_horizon_ = settings_.direction == asof_direction::forward ? timestamp::min() : evict_watermark_;
  }

  // The match for a left record at t among the key's right records.
  [[nodiscard]] const kept_type* find(const key_state& k, timestamp t) const {
    if (k.empty()) return nullptr;
    // The common case, from the key's own slot: the newest record is the
    // backward match, and with nothing after it, the nearest one too.
    if (settings_.direction != asof_direction::forward && backward_ok(k.newest_t, t) &&
        (settings_.direction == asof_direction::backward || k.newest_t < t)) [[likely]] {
      return within(k.newest_t, t) ? &k.newest : nullptr;
    }
    return find_in_ring(k, t);
  }

  [[gnu::noinline]] const kept_type* find_in_ring(const key_state& k, timestamp t) const {
    const std::uint32_t n = k.size;
    // The first record past the backward candidates.
    std::uint32_t after = n;
    if (!backward_ok(k.newest_t, t)) after = settings_.allow_exact_matches ? k.upper_bound(t) : k.lower_bound(t);
    const std::uint32_t back = after != 0 && within(k.time(after - 1), t) ? after - 1 : none;
    if (settings_.direction == asof_direction::backward) return back != none ? &k.record(back) : nullptr;
    // Forward: the first record at or after t (after t without exact
    // matches), next to the boundary of the backward candidates.
    std::uint32_t fwd = after;
    if (settings_.allow_exact_matches) {
      while (fwd != 0 && k.time(fwd - 1) == t) --fwd;
    } else {
      while (fwd != n && k.time(fwd) == t) ++fwd;
    }
    const std::uint32_t forward = fwd != n && within(t, k.time(fwd)) ? fwd : none;
    std::uint32_t match = forward;
    if (settings_.direction == asof_direction::nearest && back != none) {
      match = forward == none || distance(k.time(back), t) <= distance(t, k.time(forward)) ? back : forward;
    }
    return match != none ? &k.record(match) : nullptr;
  }

  // The oldest time a right record may have and still match a left record
  // at or after left watermark w, ignoring the one-record-before rule.
  [[nodiscard]] timestamp horizon_for(timestamp w) const noexcept {
    if (w == timestamp::min()) return w;
    if (settings_.direction == asof_direction::forward) return w;
    return settings_.tolerance ? w - *settings_.tolerance : timestamp::min();
  }

  // A right record into its key's ring, in time order.
  [[gnu::always_inline]] void insert_right(key_state& k, timestamp t, const kept_type& r) {
    if (k.full()) {
      // A full ring recycles its oldest record when that cannot match any
      // left record to come (which reads the line the new record is about
      // to be written to), and grows otherwise: the steady state of a busy
      // key is a full ring, one record in and one out, no eviction pass.
      if (k.cap != 0 && (k.time(1) < second_horizon_ || k.time(0) < horizon_)) [[likely]] {
        if (k.newest_t <= t) [[likely]] return k.replace_oldest(t, r);
        k.drop(1);
        k.insert(t, r);
        return;
      }
      grow(k);
    }
    k.insert(t, r);
    if (++held_ > right_limit_) [[unlikely]] on_right_limit();
  }

  // A full ring whose records can all still match: twice the positions,
  // within the allocation while there is room, else twice the allocation.
  // A new key's ring is allocated for first_ring() records and starts by
  // cycling through at most first_used of them.
  [[gnu::noinline]] void grow(key_state& k) {
    if (k.cap == 0) {
      k.reserve(first_ring(), std::min(first_ring(), first_used));
    } else if (k.used < k.cap) {
      k.widen();
    } else {
      k.reserve(2 * k.cap);
    }
  }
  [[nodiscard]] std::uint32_t first_ring() const noexcept { return std::max(min_ring, settings_.reserve_per_key); }

  // Drops the key's records no left record at or after the left watermark
  // can match: those before the horizon, and for backward/nearest all but
  // the last record before the watermark.
  void evict(key_state& k) { drop(k, evictable(k)); }
  void drop(key_state& k, std::uint32_t n) noexcept {
    if (n > 0) {
      k.drop(n);
      held_ -= n;
    }
  }
  // How many of the key's oldest records evict() drops.
  [[nodiscard]] std::uint32_t evictable(const key_state& k) const noexcept {
    const timestamp wl = evict_watermark_;
    if (wl == timestamp::min() || k.empty()) return 0;
    std::uint32_t n = 0;
    const std::uint32_t size = k.size;
    while (n < size && k.time(n) < horizon_) ++n;
    if (settings_.direction != asof_direction::forward) {
      // Keep the last record before the watermark: it is the backward
      // match of left records just after it.
      std::uint32_t before = n;
      while (before < size && k.time(before) < wl) ++before;
      if (before > n + 1) n = before - 1;
    }
    return n;
  }

  // The next sweep once the records held have grown fourfold: busy keys
  // keep full rings (up to twice what they need), so a lower threshold
  // would sweep in steady state for nothing.
  [[nodiscard]] std::size_t next_sweep() const noexcept { return 4 * held_ + 1024; }

  // Evicts over all keys (quiet keys included); keys left empty leave.
  [[gnu::noinline]] void sweep() {
    for (std::uint32_t s = 0; s < keys_.slot_count(); ++s) {
      if (!keys_.live(s)) continue;
      const key_state& seen = std::as_const(keys_).state(s);
      if (!seen.empty() && evictable(seen) == 0) continue;  // nothing to drop: not a change
      evict(keys_.state(s));
      if (keys_.state(s).empty()) keys_.erase(s);
    }
    sweep_at_ = next_sweep();
    right_limit_ = std::min(sweep_at_, settings_.max_held);
  }

  // The right records held passed the next sweep's mark or max_held:
  // sweep, and if that is not enough, make room.
  [[gnu::noinline]] void on_right_limit() {
    sweep();
    if (held_ > settings_.max_held) make_right_room();
    // No room below the bound (each key keeps the record a backward match
    // needs): look again once as many more are held, not at every record.
    if (held_ > settings_.max_held) right_limit_ = 2 * held_;
  }

  // More than max_held right records can still match (the left
  // input is silent or far behind): the join moves the left watermark it
  // evicts by up to the time that leaves about half the bound held, as if
  // the left input had got there. The right records that leaves no left
  // record to match go to the right overflow output; held left records
  // before that time leave first (released early), and left records that
  // arrive before it are late. Bounded, not exact, and said so.
  [[gnu::cold, gnu::noinline]] void make_right_room() {
    std::vector<timestamp> times;
    times.reserve(held_);
    for (std::uint32_t s = 0; s < keys_.slot_count(); ++s) {
      if (!keys_.live(s)) continue;
      const key_state& k = std::as_const(keys_).state(s);
      for (std::uint32_t i = 0; i < k.size; ++i) times.push_back(k.time(i));
    }
    const std::size_t keep = std::max<std::size_t>(1, settings_.max_held / 2);
    auto cut = times.end() - static_cast<std::ptrdiff_t>(std::min(keep, times.size() - 1));
    std::nth_element(times.begin(), cut, times.end());
    const timestamp floor = *cut;
    if (floor <= left_watermark_) return;  // nothing more can go (one record per key stays)
    while (!pending_.empty() && pending_.front().t < floor) release_early();
    left_watermark_ = floor;
    update_evict_watermark();
    for (std::uint32_t s = 0; s < keys_.slot_count(); ++s) {
      if (!keys_.live(s)) continue;
      key_state& k = keys_.state(s);
      const std::uint32_t n = evictable(k);
      for (std::uint32_t i = 0; i < n; ++i) side_output_target(right_overflow_out_)(k.record(i));
      overflow_count_ += n;
      drop(k, n);
      if (k.empty()) keys_.erase(s);
    }
    if (settings_.emit == emit_mode::final) release();
  }

  [[gnu::cold, gnu::noinline]] void on_late(const left_type& l) {
    ++late_count_;
    side_output_target(late_)(l);
  }
  // Ordered feed: a left record earlier than its key's newest right record
  // needs history the join does not keep.
  [[gnu::cold, gnu::noinline]] void on_out_of_order(const left_type& l) {
    ++out_of_order_;
    side_output_target(late_)(l);
  }

  [[no_unique_address]] Next next_;
  [[no_unique_address]] LCtx lctx_;
  [[no_unique_address]] RCtx rctx_;
  asof_settings settings_;
  [[no_unique_address]] Late late_;
  [[no_unique_address]] Overflow overflow_;
  [[no_unique_address]] RightOverflow right_overflow_out_;
  [[no_unique_address]] Keep keep_;
  table keys_;
  mutable incremental_capture capture_;  // incremental checkpoints: which captures keys_ tracks since
  timestamp left_watermark_ = timestamp::min();
  timestamp right_watermark_ = timestamp::min();
  timestamp evict_watermark_ = timestamp::min();  // right records are kept for left records from here on
  timestamp horizon_ = timestamp::min();
  // backward, nearest: a record is evicted once the next one is before the
  // left watermark (then it is no record's match); forward: never for this.
  timestamp second_horizon_ = timestamp::min();
  held_left<left_type> pending_;  // final
  std::uint64_t overflow_count_ = 0;
  std::size_t held_ = 0;
  std::size_t sweep_at_ = 1024;
  std::uint64_t late_count_ = 0;
  std::uint64_t right_expired_ = 0;
  std::uint64_t out_of_order_ = 0;
  std::size_t right_limit_ = 1024;  // the next check of the right records held: min(sweep_at_, max_held)
  bool right_ended_ = false;
};

// An ordered feed keeps one right record per key: the answer of a backward
// match with exact matches allowed, joined on arrival, and of nothing else.
inline void check_ordered(const asof_settings& s) {
  const char* why = nullptr;
  if (s.direction != asof_direction::backward) why = "needs the backward direction (it keeps no later records)";
  if (!s.allow_exact_matches) why = "needs allow_exact_matches(true) (it keeps no record before the newest)";
  if (s.emit != emit_mode::eager) why = "needs eager emission (a held left record would need history)";
  if (why != nullptr) throw usage_error(std::string("laminar: asof_join: ordered_feed() ") + why);
}

// Only the final policy holds left records, and only max_held makes
// them overflow.
inline void check_overflow(const asof_settings& s) {
  if (s.emit != emit_mode::final) {
    throw usage_error("laminar: asof_join: overflow_left_to() needs emit(emit_mode::final): eager emission holds no left "
                      "records");
  }
  if (s.max_held == std::numeric_limits<std::size_t>::max()) {
    throw usage_error("laminar: asof_join: overflow_left_to() needs max_held(n): without a bound nothing overflows");
  }
}

}  // namespace detail

/// The ASOF join factory: asof_join(), refined by .direction(d),
/// .tolerance(t), .allow_exact_matches(b), .emit(e), .max_held(n),
/// .overflow_left_to(out), .overflow_right_to(out),
/// .dense_keys(n), .reserve_per_key(n), .ordered_feed(), .keep_right(f)
/// and .late_to(out). Its compile-time options (side outputs, key layout,
/// projection) are one option_set; each refinement replaces one.
template <class Options = detail::asof_defaults>
struct asof_join_operator {
  using is_two_input_operator = void;
  asof_settings settings{};
  Options options{};

  [[nodiscard]] asof_join_operator direction(asof_direction d) const {
    return detail::with_setting(*this, &asof_settings::direction, d);
  }
  /// A match further than `d` from the left record's time is no match.
  [[nodiscard]] asof_join_operator tolerance(duration d) const {
    if (d < duration::zero()) {
      throw usage_error("laminar: asof_join: tolerance must not be negative, got " + std::to_string(d.nanos()) + "ns");
    }
    return detail::with_setting(*this, &asof_settings::tolerance, d);
  }
  /// Whether a right record at exactly the left record's time matches (default: yes).
  [[nodiscard]] asof_join_operator allow_exact_matches(bool allow) const {
    return detail::with_setting(*this, &asof_settings::allow_exact_matches, allow);
  }
  /// final (the default, except after ordered_feed()): a left record is
  /// held until the right watermark makes its answer exact, which is
  /// pandas merge_asof's answer on any input order the watermarks allow;
  /// rows leave in left event-time order. eager: a left record is joined
  /// when it arrives, against the right records that arrived before it: no
  /// added latency, and the same answer only when every right record
  /// arrives before the left records after it (one time-ordered feed).
  [[nodiscard]] asof_join_operator emit(emit_mode e) const {
    if (e != emit_mode::final && e != emit_mode::eager) {
      throw usage_error(std::string("laminar: asof_join: emit(emit_mode::") + to_string(e) +
                        ") is a window mode: the ASOF join emits final (exact, the default) or eager (on arrival)");
    }
    auto o = detail::with_setting(*this, &asof_settings::emit, e);
    o.settings.emit_chosen = true;
    return o;
  }
  /// At most `n` records held per input, so neither a stalled right input
  /// nor a silent left one grows the state without bound. Left (final):
  /// past n held, the earliest leaves before its answer is exact, joined
  /// with what has arrived or to overflow_left_to(out). Right: past n, the
  /// join evicts as if the left watermark had moved to the time that
  /// leaves n/2 held (a key keeps at least the one record a backward match
  /// needs); the right records that drops go to overflow_right_to(out),
  /// held left records before that time leave early, and left records
  /// then arriving before it are late. overflow_count() counts both.
  [[nodiscard]] asof_join_operator max_held(std::size_t n) const {
    if (n == 0) throw usage_error("laminar: asof_join: max_held must be at least 1");
    return detail::with_setting(*this, &asof_settings::max_held, n);
  }
  /// Where left records later than the left watermark go: a callable, or a
  /// side_records<L> held by reference and checkpointed with the join.
  template <class F>
  [[nodiscard]] auto late_to(F&& out) const {
    return with_option<detail::asof_late>(detail::hold_side_output(std::forward<F>(out)));
  }
  /// final with max_held(n): where a held left record goes, unjoined,
  /// when more than n are held (its answer is not exact yet, so it is not
  /// joined with a guess): a callable, or a side_records<L> held by
  /// reference and checkpointed with the join. Without it such a record
  /// leaves joined with what has arrived.
  template <class F>
  [[nodiscard]] auto overflow_left_to(F&& out) const {
    return with_option<detail::asof_overflow>(detail::hold_side_output(std::forward<F>(out)));
  }
  /// With max_held(n): where the right records (or what keep_right keeps
  /// of them) dropped to make room go. Without it they are counted.
  template <class F>
  [[nodiscard]] auto overflow_right_to(F&& out) const {
    return with_option<detail::asof_right_overflow>(detail::hold_side_output(std::forward<F>(out)));
  }
  /// Each key's ring of right records starts with room for n (rounded up
  /// to a power of two; default 8) and doubles when a burst fills it with
  /// records that can still match. Sized to the most right records a key
  /// receives within the left watermark's lag, steady state allocates
  /// nothing even through bursts; a larger ring costs memory and cache.
  [[nodiscard]] asof_join_operator reserve_per_key(std::size_t n) const {
    if (n == 0 || n > (std::size_t{1} << 24)) {
      throw usage_error("laminar: asof_join: reserve_per_key(n) needs 0 < n <= 2^24, got " + std::to_string(n));
    }
    return detail::with_setting(*this, &asof_settings::reserve_per_key, std::bit_ceil(static_cast<std::uint32_t>(n)));
  }
  /// Keys are integers in [0, n) (symbol ids): a key's state is found by
  /// indexing an array with it, not by hashing. A key outside [0, n), on
  /// either input, is a usage_error. n is at most 2^26 (the array grows to
  /// the largest key seen); use hashed keys for sparse key spaces.
  [[nodiscard]] auto dense_keys(std::size_t n = detail::max_dense_key) const {
    if (n == 0 || n > detail::max_dense_key) {
      throw usage_error("laminar: asof_join: dense_keys(n) needs 0 < n <= " + std::to_string(detail::max_dense_key) +
                        ", got " + std::to_string(n) + "; use hashed keys for sparse key spaces");
    }
    auto o = with_option<detail::asof_dense>(detail::flag<true>{});
    o.settings.dense_keys = n;
    return o;
  }
  /// Declares that the two inputs arrive merged in event-time order, as one
  /// feed handler delivers them: a key keeps its newest right record only
  /// (in its slot: no ring, at most a cache line per key), which is every in-order
  /// left record's backward match, so emission is eager by default (exact
  /// on such a feed). A left record earlier than its key's
  /// newest right record is out of order for this join: it goes to the late
  /// side output and is counted (out_of_order_count()), never joined with a
  /// wrong match. A right record older than its key's newest is counted by
  /// right_expired(): no left record in order can match it. Backward
  /// direction, exact matches allowed and eager emission only (bind throws
  /// a usage_error otherwise); tolerance applies.
  [[nodiscard]] auto ordered_feed() const { return with_option<detail::asof_ordered>(detail::flag<true>{}); }
  /// The join keeps of each right record only `f(record)` (a callable or a
  /// member pointer: &quote::bid, or a struct of the fields the rows need),
  /// and rows carry that: asof_row<L, that type>. A key's state is then as
  /// small as what is read from it, so more keys stay in the cache. What f
  /// returns is default-constructible and copyable; it is checkpointed
  /// with the join, so it serializes as a record does.
  template <class F>
  [[nodiscard]] auto keep_right(F f) const {
    return with_option<detail::asof_keep>(std::move(f));
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
    using KL = decltype(detail::group_key_of(std::declval<const LCtx&>(), std::declval<const L&>()));
    using KR = decltype(detail::group_key_of(std::declval<const RCtx&>(), std::declval<const R&>()));
    static_assert(std::is_same_v<KL, KR>, "laminar: asof_join: the two inputs' keys must have the same type (and tag: "
                                          "key_by<tag>(k) keeps different ids apart)");
    static_assert(!dense || (LCtx::keyed() && detail::dense_key<KL>),
                  "laminar: asof_join: dense_keys() needs both inputs keyed (key_by) by an integer (a symbol id)");
    static_assert(detail::check_keep_right<keep, R>());
    using row = asof_row<L, detail::kept_t<keep, R>>;
    return detail::through_left_context<row>(l);
  }

  template <class LCtx, class RCtx, class Next>
  auto bind(const LCtx& l, const RCtx& r, Next&& next) && {
    (void)output_context(l, r);
    asof_settings s = settings;
    if constexpr (ordered) {
      if (!s.emit_chosen) s.emit = emit_mode::eager;
      detail::check_ordered(s);
    }
    if constexpr (!std::is_same_v<detail::option_t<detail::asof_overflow, Options>, detail::discard_side_output>) {
      detail::check_overflow(s);
    }
    if constexpr (!std::is_same_v<detail::option_t<detail::asof_right_overflow, Options>,
                                  detail::discard_side_output>) {
      if (s.max_held == std::numeric_limits<std::size_t>::max()) {
        throw usage_error("laminar: asof_join: overflow_right_to() needs max_held(n): without a bound nothing "
                          "overflows");
      }
    }
    return detail::asof_join_stage<std::remove_cvref_t<Next>, LCtx, RCtx, Options>(std::forward<Next>(next), l, r, s,
                                                                                   std::move(options));
  }

 private:
  using keep = detail::option_t<detail::asof_keep, Options>;
  static constexpr bool dense = detail::option_t<detail::asof_dense, Options>::value;
  static constexpr bool ordered = detail::option_t<detail::asof_ordered, Options>::value;

  template <class Tag, class V>
  [[nodiscard]] auto with_option(V v) const {
    using next_options = decltype(options.template with<Tag>(std::move(v)));
    return asof_join_operator<next_options>{settings, options.template with<Tag>(std::move(v))};
  }
};

/// An ASOF join: backward, exact matches allowed, no tolerance, final
/// emission (exact: pandas merge_asof's answer).
inline asof_join_operator<> asof_join() { return {}; }

}  // namespace laminar
