// Interval join: each left record with every right record of the same key
// whose event time lies within bounds relative to the left record's:
//
//   connect(orders | key_by(&order::id), fills | key_by(&fill::order_id))
//     | interval_join(0ms, 5s).type(join_type::left)   // fills within 5 s of their order
//     | sink(...);                                     // rows: interval_row<order, fill>
//
// A left record at t_l and a right record at t_r match when
//   t_l + lower <= t_r <= t_l + upper        (both bounds inclusive; lower <= upper)
// and each matching pair gives one row {left, right}, when the second of
// the two arrives. Outer types also give a row for a record that matched
// nothing, with the other side empty: left (left records), right (right
// records) or full (both). Such a row leaves as soon as the watermark
// proves no match can still come: for a left record, once the right
// watermark W_R passes t_l + upper; for a right record, once the left
// watermark W_L passes t_r - lower.
//
// A row's event time is the later of its records' times (an outer row's:
// its one record's), and its key theirs. The output watermark is the
// inputs' minimum, held back (outer types) behind the records that may
// still leave unmatched: min(W_L, W_R, W_R - upper for left/full,
// W_L + lower for right/full). So rows are never behind it.
//
// State: per key, each input's records that can still match, in time
// order. A left record is dropped once W_R passes t_l + upper; a right
// record once W_L passes t_r - lower, in deadline order over all keys (an
// expiry queue per input, so a quiet key is freed too). A record later than its own input's watermark
// is late: it goes to that input's late side output, counted, and is not
// joined (what it would have matched may be gone). .max_held(n) bounds
// the records held per input when the other input's watermark stops moving
// (an idle stream): past n, the earliest held record is dropped as if the
// watermark had passed it (its outer row leaves; overflow_count() counts),
// or with .overflow_left_to(out) / .overflow_right_to(out) it goes to that
// side output instead, without an outer row (matches may still have come).
// An idle timeout on the idle source (strategy.with_idle_timeout(d)) moves
// its watermark on with processing time instead, freeing records as a
// moving watermark would.
//
// Layout: a key's slot holds each input's newest few records inline (see
// inline_time_buffer.hpp), so the record path mostly reads one slot and
// no separate buffer. Keys are hashed (any key type), or with
// .dense_keys(n) integers in [0, n) that index the array of slots
// directly (symbol ids); a key outside [0, n) is a usage_error.
#pragma once

#include <algorithm>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
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
#include "laminar/core/detail/with_setting.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/core/two_input.hpp"
#include "laminar/join/detail/expiry_queue.hpp"
#include "laminar/join/detail/inline_time_buffer.hpp"
#include "laminar/join/enriched_row.hpp"  // joined_row
#include "laminar/operator/key_by.hpp"
#include "laminar/state/dense_slot_table.hpp"
#include "laminar/state/key.hpp"
#include "laminar/state/slot_table.hpp"

namespace laminar {

/// Which unmatched records a join also emits: none (inner), the left
/// input's, the right input's, or both (full outer).
enum class join_type : std::uint8_t { inner, left, right, full };

[[nodiscard]] inline const char* to_string(join_type t) noexcept {
  switch (t) {
    case join_type::inner: return "inner";
    case join_type::left: return "left";
    case join_type::right: return "right";
    case join_type::full: return "full";
  }
  return "unknown";
}

/// A matched pair, or (outer joins) one record with the other side empty.
template <class L, class R>
using interval_row = joined_row<std::optional<L>, std::optional<R>>;

struct interval_settings {
  duration lower = duration::zero();  // t_r >= t_l + lower
  duration upper = duration::zero();  // t_r <= t_l + upper
  join_type type = join_type::inner;
  std::size_t max_held = std::numeric_limits<std::size_t>::max();  // records held per input at most
  std::size_t dense_keys = 0;  // dense_keys(n): keys are below n and index an array
};

namespace detail {

template <class T>
struct interval_entry {
  timestamp t;
  bool matched;  // has given a row: no outer row when it leaves
  T record;
};

// How many of a side's newest records its key's slot holds inline: as
// many as fit in 320 bytes, a power of two, at most 8 (0 for records
// too large: they all go to the spill buffer).
template <class Entry>
inline constexpr std::size_t interval_inline_records =
    sizeof(Entry) > 320 ? 0 : std::min<std::size_t>(8, std::bit_floor(320 / sizeof(Entry)));

template <class L, class R>
struct interval_key_state {
  inline_time_buffer<interval_entry<L>, interval_inline_records<interval_entry<L>>> left;
  inline_time_buffer<interval_entry<R>, interval_inline_records<interval_entry<R>>> right;
  void reset() noexcept {
    left.reset();
    right.reset();
  }
};

template <class Side>
using other_input_t = std::conditional_t<std::same_as<Side, left_input>, right_input, left_input>;

/// A joined row's event time: the later of its records' times.
template <class LT, class RT>
struct interval_row_time {
  [[no_unique_address]] LT l;
  [[no_unique_address]] RT r;
  template <class Row>
  timestamp operator()(const Row& row) const {
    if (!row.right) return to_timestamp(std::invoke(l, *row.left));
    if (!row.left) return to_timestamp(std::invoke(r, *row.right));
    return std::max(to_timestamp(std::invoke(l, *row.left)), to_timestamp(std::invoke(r, *row.right)));
  }
};

/// A joined row's key: its records' (equal) key.
template <class LK, class RK>
struct interval_row_key {
  [[no_unique_address]] LK l;
  [[no_unique_address]] RK r;
  template <class Row>
  auto operator()(const Row& row) const {
    using K = std::remove_cvref_t<decltype(std::invoke(l, *row.left))>;
    return row.left ? K(std::invoke(l, *row.left)) : K(std::invoke(r, *row.right));
  }
};

/// The tags of the interval join's compile-time options (an option_set).
struct interval_late_left {};       // late_left_to(out)
struct interval_late_right {};      // late_right_to(out)
struct interval_overflow_left {};   // overflow_left_to(out)
struct interval_overflow_right {};  // overflow_right_to(out)
struct interval_dense {};           // dense_keys(n)

using interval_defaults =
    option_set<option<interval_late_left, discard_side_output>, option<interval_late_right, discard_side_output>,
               option<interval_overflow_left, discard_side_output>,
               option<interval_overflow_right, discard_side_output>, option<interval_dense, flag<false>>>;

template <class Next, class LCtx, class RCtx, class Options>
class interval_join_stage : public forwarding_two_input_stage<interval_join_stage<Next, LCtx, RCtx, Options>> {
  using LateL = option_t<interval_late_left, Options>;
  using LateR = option_t<interval_late_right, Options>;
  using OverL = option_t<interval_overflow_left, Options>;
  using OverR = option_t<interval_overflow_right, Options>;
  static constexpr bool Dense = option_t<interval_dense, Options>::value;

 public:
  static constexpr std::string_view state_name = "interval_join";
  using left_type = typename LCtx::value_type;
  using right_type = typename RCtx::value_type;
  using key_type = group_key_t<LCtx>;
  /// What its state is made of (its layout fingerprint in a checkpoint).
  using state_types = laminar::state_types<key_type, left_type, right_type>;
  using row_type = interval_row<left_type, right_type>;

  interval_join_stage(Next next, LCtx lctx, RCtx rctx, interval_settings settings, Options options)
      : next_(std::move(next)),
        lctx_(std::move(lctx)),
        rctx_(std::move(rctx)),
        settings_(settings),
        late_left_(std::move(options.template get<interval_late_left>())),
        late_right_(std::move(options.template get<interval_late_right>())),
        overflow_left_(std::move(options.template get<interval_overflow_left>())),
        overflow_right_(std::move(options.template get<interval_overflow_right>())),
        keys_(make_table(settings)) {}

  void on_event(left_input, const left_type& l) { arrive<left_input>(l, time_of(lctx_, l), group_key_of(lctx_, l)); }
  void on_event(right_input, const right_type& r) {
    arrive<right_input>(r, time_of(rctx_, r), group_key_of(rctx_, r));
  }

  // Each input's watermark frees the other input's records.
  void on_input_watermark(left_input, timestamp w) {
    left_watermark_ = w;
    expire<right_input>();
    advance_output();
  }
  void on_input_watermark(right_input, timestamp w) {
    right_watermark_ = w;
    expire<left_input>();
    advance_output();
  }
  void on_watermark(timestamp) { advance_output(); }


  /// Records later than their input's watermark (to the late side outputs).
  /// Late records of both inputs (each to its late side output).
  [[nodiscard]] std::uint64_t late_count() const noexcept { return late_left_count_ + late_right_count_; }
  [[nodiscard]] std::uint64_t late_left_count() const noexcept { return late_left_count_; }
  [[nodiscard]] std::uint64_t late_right_count() const noexcept { return late_right_count_; }
  /// Records dropped before the watermark passed them, because more than
  /// max_held were held on their input (to the overflow side outputs,
  /// where given).
  [[nodiscard]] std::uint64_t overflow_count() const noexcept { return overflow_count_; }
  /// Records held now on each input, over all keys.
  [[nodiscard]] std::size_t left_held() const noexcept { return left_held_; }
  [[nodiscard]] std::size_t right_held() const noexcept { return right_held_; }
  /// Keys with records held.
  [[nodiscard]] std::size_t keys() const noexcept { return keys_.size(); }
  /// Records held outside their key's slot, past the newest few held
  /// inline on each input (a diagnostic: a pass over all slots).
  [[nodiscard]] std::size_t spilled() const noexcept {
    std::size_t n = 0;
    for (std::uint32_t s = 0; s < keys_.slot_count(); ++s) {
      if (keys_.live(s)) n += keys_.state(s).left.spilled() + keys_.state(s).right.spilled();
    }
    return n;
  }
  /// How many of each input's newest records a key's slot holds inline.
  static constexpr std::size_t inline_left = interval_inline_records<interval_entry<left_type>>;
  static constexpr std::size_t inline_right = interval_inline_records<interval_entry<right_type>>;
  [[nodiscard]] Next& downstream() noexcept { return next_; }

  void save_state(state_writer& w) const {
    w(left_watermark_, right_watermark_, output_watermark_, late_left_count_, late_right_count_, overflow_count_);
    save_slots(w, keys_, [&w](const key_state& k) {
      save_buffer(w, k.left);
      save_buffer(w, k.right);
    });
    left_expiry_.save(w);
    right_expiry_.save(w);
    if constexpr (stateful_side_output<LateL>) side_output_target(late_left_).save_state(w);
    if constexpr (stateful_side_output<LateR>) side_output_target(late_right_).save_state(w);
    if constexpr (stateful_side_output<OverL>) side_output_target(overflow_left_).save_state(w);
    if constexpr (stateful_side_output<OverR>) side_output_target(overflow_right_).save_state(w);
  }

  /// Restorable into another number of instances of its node: keys
  /// filtered to the instance's key groups and merged (load_slots), the
  /// expiry queues rebuilt from the records held (the keys' slots are new),
  /// watermarks the earliest, counters summed.
  static constexpr bool rescalable = !stateful_side_output<LateL> && !stateful_side_output<LateR> &&
                                     !stateful_side_output<OverL> && !stateful_side_output<OverR>;

  void load_state(state_reader& r) {
    r.read_merged(earliest(left_watermark_), earliest(right_watermark_), earliest(output_watermark_),
                  summed(late_left_count_), summed(late_right_count_), summed(overflow_count_));
    if (!r.merging()) left_held_ = right_held_ = 0;
    // Keys keep their slots (the expiry queues name keys by slot; a dense
    // key's slot is the key itself, checked by the table).
    load_slots(r, keys_, [&](std::uint32_t slot, key_state& k) {
      const std::size_t left = load_buffer(r, k.left);
      const std::size_t right = load_buffer(r, k.right);
      if (slot != table::npos) {  // npos: another instance's key, read past
        left_held_ += left;
        right_held_ += right;
      }
    });
    if (r.rescaling()) {
      expiry_queue saved;  // names the saved instance's slots: rebuilt instead
      saved.load(r);
      saved.load(r);
      rebuild_expiry();
    } else {
      left_expiry_.load(r);
      right_expiry_.load(r);
    }
    if (left_expiry_.size() != left_held_ || right_expiry_.size() != right_held_) {
      throw checkpoint_error("laminar: interval_join: the checkpoint's expiry queues do not match its held records");
    }
    if constexpr (stateful_side_output<LateL>) side_output_target(late_left_).load_state(r);
    if constexpr (stateful_side_output<LateR>) side_output_target(late_right_).load_state(r);
    if constexpr (stateful_side_output<OverL>) side_output_target(overflow_left_).load_state(r);
    if constexpr (stateful_side_output<OverR>) side_output_target(overflow_right_).load_state(r);
  }

 private:
  using key_state = interval_key_state<left_type, right_type>;
  using table = std::conditional_t<Dense, dense_slot_table<key_type, key_state>, slot_table<key_type, key_state>>;

  static table make_table(const interval_settings& s) {
    if constexpr (Dense) {
      return table(s.dense_keys, "interval_join");
    } else {
      (void)s;
      return table();
    }
  }
  template <class Side>
  using record_t = std::conditional_t<std::same_as<Side, left_input>, left_type, right_type>;

  template <class Side>
  [[nodiscard]] static constexpr bool is_left() noexcept {
    return std::same_as<Side, left_input>;
  }
  template <class Side>
  [[nodiscard]] auto& buffer(key_state& k) noexcept {
    if constexpr (is_left<Side>()) {
      return k.left;
    } else {
      return k.right;
    }
  }
  template <class Side>
  [[nodiscard]] expiry_queue& expiry() noexcept {
    if constexpr (is_left<Side>()) {
      return left_expiry_;
    } else {
      return right_expiry_;
    }
  }
  template <class Side>
  [[nodiscard]] std::size_t& held() noexcept {
    if constexpr (is_left<Side>()) {
      return left_held_;
    } else {
      return right_held_;
    }
  }
  template <class Side>
  [[nodiscard]] timestamp own_watermark() const noexcept {
    return is_left<Side>() ? left_watermark_ : right_watermark_;
  }
  // A Side record expires (no record still to come on the other input can
  // match it) once the other input's watermark reaches its deadline:
  // left, t_l + upper + 1; right, t_r - lower + 1 (saturating, so a record
  // at the ends of time expires with the end of the other input).
  template <class Side>
  [[nodiscard]] timestamp deadline(timestamp t) const noexcept {
    const timestamp edge = is_left<Side>() ? t + settings_.upper : t - settings_.lower;
    return edge + duration::from_nanos(1);
  }
  template <class Side>
  [[nodiscard]] timestamp expiring_watermark() const noexcept {
    return is_left<Side>() ? right_watermark_ : left_watermark_;
  }
  template <class Side>
  [[nodiscard]] bool outer() const noexcept {
    return settings_.type == join_type::full ||
           settings_.type == (is_left<Side>() ? join_type::left : join_type::right);
  }

  // A record arrives: joined with the other input's records in range, then
  // held while a record still to come on the other input can match it.
  template <class Side, class T>
  void arrive(const T& record, timestamp t, const key_type& key) {
    using Other = other_input_t<Side>;
    if (t < own_watermark<Side>()) [[unlikely]] return on_late<Side>(record, key);
    std::uint32_t s = keys_.find(key);
    bool matched = false;
    if (s != table::npos) {
      key_state& k = keys_.state(s);
      prefetch_lines(buffer<Other>(k));
      __builtin_prefetch(&buffer<Side>(k));
      // Left: right times in [t + lower, t + upper]; right: left times in [t - upper, t - lower].
      const timestamp lo = is_left<Side>() ? t + settings_.lower : t - settings_.upper;
      const timestamp hi = is_left<Side>() ? t + settings_.upper : t - settings_.lower;
      buffer<Other>(k).for_each_in(lo, hi, [&](auto& e) {
        e.matched = true;
        matched = true;
        if constexpr (is_left<Side>()) {
          next_.on_event(row_type{record, e.record});
        } else {
          next_.on_event(row_type{e.record, record});
        }
      });
    }
    const timestamp due = deadline<Side>(t);
    if (due <= expiring_watermark<Side>()) {  // nothing to come can match it
      if (!matched && outer<Side>()) emit_unmatched<Side>(record);
      return;
    }
    if (s == table::npos) s = keys_.insert(key);
    buffer<Side>(keys_.state(s)).insert({t, matched, record});
    expiry<Side>().push(due, s);
    if (++held<Side>() > settings_.max_held) [[unlikely]] expire_first<Side>();
  }

  // Asks for every cache line of x at once, so that the reads that follow
  // (the buffer's bookkeeping, then its newest entries) wait on memory once,
  // not once per dependent load.
  template <class X>
  [[gnu::always_inline]] static void prefetch_lines(const X& x) noexcept {
    const auto* p = reinterpret_cast<const char*>(&x);
    for (std::size_t i = 0; i < sizeof(X); i += 64) __builtin_prefetch(p + i);
  }

  template <class Side, class T>
  void emit_unmatched(const T& record) {
    if constexpr (is_left<Side>()) {
      next_.on_event(row_type{record, std::nullopt});
    } else {
      next_.on_event(row_type{std::nullopt, record});
    }
  }

  // The other input's watermark moved: the held Side records it passed
  // leave (outer rows for those that never matched), in deadline order.
  template <class Side>
  [[gnu::noinline]] void expire() {
    const timestamp w = expiring_watermark<Side>();
    expiry_queue& q = expiry<Side>();
    for (std::uint32_t s = q.pop_due(w); s != expiry_queue::npos; s = q.pop_due(w)) {
      drop_front<Side>(s);
    }
  }

  // More than max_held Side records are held: the one with the
  // earliest deadline leaves before the watermark passed it, as if it had,
  // or to Side's overflow side output without an outer row.
  template <class Side>
  [[gnu::cold, gnu::noinline]] void expire_first() {
    ++overflow_count_;
    const std::uint32_t s = expiry<Side>().pop().slot;
    auto& overflow = [this]() -> auto& {
      if constexpr (is_left<Side>()) {
        return overflow_left_;
      } else {
        return overflow_right_;
      }
    }();
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(overflow)>, discard_side_output>) {
      drop_front<Side>(s);
    } else {
      side_output_target(overflow)(buffer<Side>(keys_.state(s)).front().record);
      drop_front<Side, false>(s);
    }
  }
  // Drops the first held Side record of slot s (an inner join reads only
  // the buffer's bookkeeping, not the record).
  template <class Side, bool OuterRow = true>
  void drop_front(std::uint32_t s) {
    key_state& k = keys_.state(s);
    auto& b = buffer<Side>(k);
    if (OuterRow && outer<Side>() && !b.front().matched) emit_unmatched<Side>(b.front().record);
    b.pop_front();
    --held<Side>();
    if (b.empty() && buffer<other_input_t<Side>>(k).empty()) keys_.erase(s);
  }

  // Rows still to come are no earlier than min(W_L, W_R), and unmatched
  // held records no earlier than W_R - upper (left) or W_L + lower (right).
  void advance_output() {
    timestamp out = std::min(left_watermark_, right_watermark_);
    if (outer<left_input>()) out = std::min(out, shift(right_watermark_, duration::zero() - settings_.upper));
    if (outer<right_input>()) out = std::min(out, shift(left_watermark_, settings_.lower));
    if (out > output_watermark_) {
      output_watermark_ = out;
      next_.on_watermark(out);
    }
  }
  // The ends of time stay where they are.
  [[nodiscard]] static timestamp shift(timestamp w, duration d) noexcept {
    return w == timestamp::min() || w == timestamp::max() ? w : w + d;
  }

  template <class Side, class T>
  [[gnu::cold, gnu::noinline]] void on_late(const T& record, const key_type& key) {
    if constexpr (Dense) keys_.check(key);  // a bad key is a usage_error, late or not
    (void)key;
    if constexpr (is_left<Side>()) {
      ++late_left_count_;
      side_output_target(late_left_)(record);
    } else {
      ++late_right_count_;
      side_output_target(late_right_)(record);
    }
  }

  // The expiry queues of the records held, by (deadline, slot): a rescaled
  // restore, whose keys took new slots.
  void rebuild_expiry() {
    std::vector<expiry_queue::entry> left, right;
    left.reserve(left_held_);
    right.reserve(right_held_);
    for (std::uint32_t s = 0; s < keys_.slot_count(); ++s) {
      if (!keys_.live(s)) continue;
      const key_state& k = std::as_const(keys_).state(s);
      k.left.for_each([&](const auto& e) { left.push_back({deadline<left_input>(e.t), s}); });
      k.right.for_each([&](const auto& e) { right.push_back({deadline<right_input>(e.t), s}); });
    }
    for (auto* entries : {&left, &right}) {
      std::sort(entries->begin(), entries->end(), [](const auto& a, const auto& b) { return b > a; });
    }
    left_expiry_.clear();
    right_expiry_.clear();
    for (const auto& e : left) left_expiry_.push(e.t, e.slot);
    for (const auto& e : right) right_expiry_.push(e.t, e.slot);
  }

  template <class B>
  static void save_buffer(state_writer& w, const B& b) {
    w(static_cast<std::uint64_t>(b.size()));
    b.for_each([&w](const auto& e) { w(e.t, e.matched, e.record); });
  }
  template <class B>
  static std::size_t load_buffer(state_reader& r, B& b) {
    const std::uint64_t n = r.read_count("held records");
    for (std::uint64_t i = 0; i < n; ++i) {
      std::remove_cvref_t<decltype(b.front())> e{timestamp{}, false, {}};
      r(e.t, e.matched, e.record);
      b.append(std::move(e));
    }
    return static_cast<std::size_t>(n);
  }

  [[no_unique_address]] Next next_;
  [[no_unique_address]] LCtx lctx_;
  [[no_unique_address]] RCtx rctx_;
  interval_settings settings_;
  [[no_unique_address]] LateL late_left_;
  [[no_unique_address]] LateR late_right_;
  [[no_unique_address]] OverL overflow_left_;
  [[no_unique_address]] OverR overflow_right_;
  table keys_;
  expiry_queue left_expiry_;   // held left records, by when the right watermark frees them
  expiry_queue right_expiry_;  // held right records, by when the left watermark frees them
  timestamp left_watermark_ = timestamp::min();
  timestamp right_watermark_ = timestamp::min();
  timestamp output_watermark_ = timestamp::min();
  std::size_t left_held_ = 0;
  std::size_t right_held_ = 0;
  std::uint64_t late_left_count_ = 0;
  std::uint64_t late_right_count_ = 0;
  std::uint64_t overflow_count_ = 0;
};

}  // namespace detail

/// The interval join factory: interval_join(lower, upper), refined by
/// .type(t), .max_held(n), .dense_keys(n), .late_left_to(out),
/// .late_right_to(out), .overflow_left_to(out) and .overflow_right_to(out).
template <class Options = detail::interval_defaults>
struct interval_join_operator {
  using is_two_input_operator = void;
  interval_settings settings{};
  Options options{};

  /// inner (default), left, right or full outer.
  [[nodiscard]] interval_join_operator type(join_type t) const {
    return detail::with_setting(*this, &interval_settings::type, t);
  }
  /// At most `n` records held per input; past that the earliest leaves as
  /// if the watermark had passed it, or goes to the input's overflow side
  /// output (counted by overflow_count() either way), so an idle input
  /// cannot grow the other's state without bound.
  [[nodiscard]] interval_join_operator max_held(std::size_t n) const {
    if (n == 0) throw usage_error("laminar: interval_join: max_held must be at least 1");
    return detail::with_setting(*this, &interval_settings::max_held, n);
  }
  /// Where left records later than the left watermark go: a callable, or
  /// a side_records<L> held by reference and checkpointed with the join.
  template <class F>
  [[nodiscard]] auto late_left_to(F&& out) const {
    return with_option<detail::interval_late_left>(detail::hold_side_output(std::forward<F>(out)));
  }
  /// Where right records later than the right watermark go.
  template <class F>
  [[nodiscard]] auto late_right_to(F&& out) const {
    return with_option<detail::interval_late_right>(detail::hold_side_output(std::forward<F>(out)));
  }
  /// With max_held(n): where a left record goes when more than n left
  /// records are held and it leaves first, before the right watermark
  /// passed it (right records that match it may still come): a callable,
  /// or a side_records<L> held by reference and checkpointed with the join.
  /// Its rows so far have left; it gives no outer row. Without it, the
  /// record leaves as if the watermark had passed it.
  template <class F>
  [[nodiscard]] auto overflow_left_to(F&& out) const {
    return with_option<detail::interval_overflow_left>(detail::hold_side_output(std::forward<F>(out)));
  }
  /// With max_held(n): where a right record goes when it leaves early
  /// (as overflow_left_to, for the right input).
  template <class F>
  [[nodiscard]] auto overflow_right_to(F&& out) const {
    return with_option<detail::interval_overflow_right>(detail::hold_side_output(std::forward<F>(out)));
  }
  /// Keys are integers in [0, n) (symbol ids): a key's slot is found by
  /// indexing an array with it, not by hashing. A key outside [0, n), on
  /// either input, is a usage_error. n is at most 2^26, and the array grows
  /// to the largest key seen (a slot holds each input's newest records
  /// inline: a few hundred bytes per key); use hashed keys for sparse key
  /// spaces.
  [[nodiscard]] auto dense_keys(std::size_t n = detail::max_dense_key) const {
    if (n == 0 || n > detail::max_dense_key) {
      throw usage_error("laminar: interval_join: dense_keys(n) needs 0 < n <= " +
                        std::to_string(detail::max_dense_key) + ", got " + std::to_string(n) +
                        "; use hashed keys for sparse key spaces");
    }
    auto o = with_option<detail::interval_dense>(detail::flag<true>{});
    o.settings.dense_keys = n;
    return o;
  }

  template <class LCtx, class RCtx>
  auto output_context(const LCtx& l, const RCtx& r) const {
    static_assert(LCtx::timed() && RCtx::timed(),
                  "laminar: interval_join needs event time on both inputs: put with_watermarks(...) or "
                  "event_time(...) on each");
    static_assert(LCtx::keyed() == RCtx::keyed(),
                  "laminar: interval_join: key both inputs (key_by on each) or neither");
    static_assert(std::is_same_v<detail::group_key_t<LCtx>, detail::group_key_t<RCtx>>,
                  "laminar: interval_join: the two inputs' keys must have the same type (and tag: key_by<tag>(k) "
                  "keeps different ids apart)");
    static_assert(!dense || (LCtx::keyed() && detail::dense_key<detail::group_key_t<LCtx>>),
                  "laminar: interval_join: dense_keys() needs both inputs keyed (key_by) by an integer (a symbol id)");
    using row = interval_row<typename LCtx::value_type, typename RCtx::value_type>;
    using time = detail::interval_row_time<typename LCtx::time_type, typename RCtx::time_type>;
    if constexpr (LCtx::keyed()) {
      return stream_context<row, detail::interval_row_key<typename LCtx::key_type, typename RCtx::key_type>, time>{
          {l.key, r.key}, {l.time, r.time}};
    } else {
      return stream_context<row, no_projection, time>{{}, {l.time, r.time}};
    }
  }

  template <class LCtx, class RCtx, class Next>
  auto bind(const LCtx& l, const RCtx& r, Next&& next) && {
    (void)output_context(l, r);
    constexpr bool overflows =
        !std::is_same_v<detail::option_t<detail::interval_overflow_left, Options>, detail::discard_side_output> ||
        !std::is_same_v<detail::option_t<detail::interval_overflow_right, Options>, detail::discard_side_output>;
    if (overflows && settings.max_held == std::numeric_limits<std::size_t>::max()) {
      throw usage_error("laminar: interval_join: overflow_left_to()/overflow_right_to() need max_held(n): without "
                        "a bound nothing overflows");
    }
    return detail::interval_join_stage<std::remove_cvref_t<Next>, LCtx, RCtx, Options>(std::forward<Next>(next), l, r,
                                                                                       settings, std::move(options));
  }

 private:
  static constexpr bool dense = detail::option_t<detail::interval_dense, Options>::value;

  template <class Tag, class V>
  [[nodiscard]] auto with_option(V v) const {
    using next_options = decltype(options.template with<Tag>(std::move(v)));
    return interval_join_operator<next_options>{settings, options.template with<Tag>(std::move(v))};
  }
};

/// An inner interval join: a right record at t_r matches a left record at
/// t_l when t_l + lower <= t_r <= t_l + upper.
inline interval_join_operator<> interval_join(duration lower, duration upper) {
  if (lower > upper) {
    throw usage_error("laminar: interval_join: the lower bound (" + std::to_string(lower.nanos()) +
                      "ns) is after the upper bound (" + std::to_string(upper.nanos()) + "ns)");
  }
  interval_join_operator<> o;
  o.settings.lower = lower;
  o.settings.upper = upper;
  return o;
}

}  // namespace laminar
