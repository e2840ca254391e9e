// Watermark alignment groups: sources whose watermarks drift apart by more
// than a bound are paused, warned about, or have their excess dropped until
// the others catch up (Flink's WatermarkStrategy.withWatermarkAlignment).
//
//   alignment_group group(50ms, alignment_policy::pause);
//   g.source("a", from(a) | with_watermarks(&tick::ts, s) | aligned(group));   // DAG: one member per source
//   g.source("b", from(b) | with_watermarks(&tick::ts, s) | aligned(group));
//   union_of(x, y).aligned(50ms) | ...                                           // one thread
//
// Each member reports the watermarks its source emits. The group's low
// watermark L is the minimum over the members that have reported one and
// have not ended (an ended member's watermark is the end of time: it leaves
// the group). A member's drift is its watermark minus L; it is beyond the
// bound while drift > max_drift. A member measures against the others only
// (their minimum is L unless it is the lowest itself), so the lowest member,
// or one alone, is never beyond. Policies:
// - pause: a member beyond the bound is not pulled until L catches up, nor
//   is a member that has reported while another has not reported yet (the
//   group starts together). A member stops within a pull right after the
//   record that paused it, and its driver leaves it alone while paused:
//   union_of skips its turn, a graph's source task yields. A member that has the lowest
//   watermark, or has not reported yet, is never paused, so some member can
//   always run. Bound: drift <= max_drift + one record's watermark advance
//   (after the start: a member whose first watermark is already further
//   ahead is paused until it is within). Pull sources only.
// - warn: nothing is held back; each episode beyond the bound is counted,
//   the largest drift is kept, and the on_drift hook is told.
// - drop: a record more than max_drift past the other members' lowest
//   watermark (L, for any member but the lowest) is not emitted:
//   it goes to the member's excess side output (excess_to: a callable, or an
//   side_records<T>) and is counted. Never dropped silently.
// Episodes and the largest drift are kept under every policy.
//
// Cross-thread: one atomic watermark per member, each on its own cache line,
// written by that member only. A member compares with a cached limit and
// reads the others' only when its watermark (or, for drop, a record) passes
// it; L never falls once every member has reported, so a cached limit is
// never too high, and a stale reading can only pause a member more.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/channel/detail/cpu.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/core/source.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

/// What a group does with a member whose watermark runs ahead.
enum class alignment_policy : std::uint8_t { pause, warn, drop };

/// What the on_drift hook is told when a member goes beyond the bound.
struct drift_event {
  std::size_t member;  ///< the member's index in its group (joining order)
  timestamp watermark; ///< the member's watermark
  timestamp low;       ///< the group's low watermark
  duration drift;      ///< watermark - low, more than max_drift
};

namespace detail {

inline constexpr std::int64_t unreported = std::numeric_limits<std::int64_t>::min();
inline constexpr std::int64_t left_group = std::numeric_limits<std::int64_t>::max();

/// One member's shared state. The watermark is read by every member; the
/// counters, which only the member writes and only accessors read, sit on
/// their own line.
struct alignas(cache_line) alignment_slot {
  std::atomic<std::int64_t> watermark{unreported};
  alignas(cache_line) std::atomic<std::uint64_t> episodes{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::int64_t> max_drift{0};
};

struct alignment_state {
  alignment_state(duration d, alignment_policy p) : max_drift(d), policy(p) {}
  duration max_drift;
  alignment_policy policy;
  std::function<void(const drift_event&)> on_drift;
  std::vector<std::unique_ptr<alignment_slot>> slots;  // grows only while members join
};

/// The minimum over the members (but `self`) that have reported and not
/// ended (max() when there are none); settled once every member (but
/// `self`) that has not ended has reported.
struct low_reading {
  timestamp low;
  bool settled;
  bool any_reported;
};

inline low_reading read_low(const alignment_state& s, const alignment_slot* self = nullptr) noexcept {
  std::int64_t low = left_group;
  bool settled = true;
  bool any = false;
  for (const auto& slot : s.slots) {
    if (slot.get() == self) continue;
    const std::int64_t w = slot->watermark.load(std::memory_order_relaxed);
    if (w == unreported) {
      settled = false;
    } else if (w != left_group) {
      any = true;
      if (w < low) low = w;
    }
  }
  return {timestamp::from_nanos(low), settled, any};
}

}  // namespace detail

class alignment_member;

/// A group of sources whose watermarks are kept within max_drift of each
/// other. A handle: copies share the group. Members join when their sources
/// are built (before any of them runs); after that it is safe to use from
/// any thread.
class alignment_group {
 public:
  explicit alignment_group(duration max_drift, alignment_policy policy = alignment_policy::pause)
      : state_(std::make_shared<detail::alignment_state>(max_drift, policy)) {
    if (max_drift < duration::zero()) throw usage_error("alignment_group: max_drift must not be negative");
  }

  [[nodiscard]] duration max_drift() const noexcept { return state_->max_drift; }
  [[nodiscard]] alignment_policy policy() const noexcept { return state_->policy; }
  [[nodiscard]] std::size_t members() const noexcept { return state_->slots.size(); }

  /// Called on the member's own thread (a worker, in a graph) each time a
  /// member goes beyond the bound, once per episode, under every policy.
  /// Set it before the members run; in a graph it must be thread-safe.
  alignment_group& on_drift(std::function<void(const drift_event&)> hook) {
    state_->on_drift = std::move(hook);
    return *this;
  }

  /// The minimum over members that have reported a watermark and not ended;
  /// timestamp::min() before any has reported, max() once all have ended.
  [[nodiscard]] timestamp low_watermark() const noexcept {
    const auto r = detail::read_low(*state_);
    if (!r.any_reported && !r.settled) return timestamp::min();
    return r.low;
  }
  /// Member i's last reported watermark (min(): none yet; max(): ended).
  [[nodiscard]] timestamp watermark(std::size_t member) const noexcept {
    return timestamp::from_nanos(state_->slots[member]->watermark.load(std::memory_order_relaxed));
  }
  /// Times a member went beyond the bound, summed over members.
  [[nodiscard]] std::uint64_t drift_episodes() const noexcept {
    std::uint64_t n = 0;
    for (const auto& s : state_->slots) n += s->episodes.load(std::memory_order_relaxed);
    return n;
  }
  /// The largest drift seen beyond the bound; zero if no member went beyond.
  [[nodiscard]] duration max_drift_seen() const noexcept {
    std::int64_t m = 0;
    for (const auto& s : state_->slots) m = std::max(m, s->max_drift.load(std::memory_order_relaxed));
    return duration::from_nanos(m);
  }
  /// Records held back as excess (drop policy), summed over members.
  [[nodiscard]] std::uint64_t dropped() const noexcept {
    std::uint64_t n = 0;
    for (const auto& s : state_->slots) n += s->dropped.load(std::memory_order_relaxed);
    return n;
  }

 private:
  friend class alignment_member;
  explicit alignment_group(std::shared_ptr<detail::alignment_state> s) noexcept : state_(std::move(s)) {}
  std::shared_ptr<detail::alignment_state> state_;
};

/// One source's place in a group, used on that source's thread: it reports
/// the source's watermarks and answers the policy's questions. Move-only; a
/// member that is destroyed leaves the group. Each check is one compare
/// with a cached limit; the other members are read only past it.
class alignment_member {
 public:
  explicit alignment_member(alignment_group group)
      : state_(std::move(group.state_)), pause_(state_->policy == alignment_policy::pause) {
    index_ = state_->slots.size();
    state_->slots.push_back(std::make_unique<detail::alignment_slot>());
    slot_ = state_->slots.back().get();
  }
  alignment_member(alignment_member&& o) noexcept
      : state_(std::move(o.state_)),
        slot_(o.slot_),
        index_(o.index_),
        pause_(o.pause_),
        watermark_(o.watermark_),
        fast_limit_(o.fast_limit_),
        limit_(o.limit_),
        low_(o.low_),
        settled_(o.settled_),
        drifting_(o.drifting_),
        episodes_(o.episodes_),
        dropped_(o.dropped_),
        max_seen_(o.max_seen_) {}
  alignment_member(const alignment_member&) = delete;
  alignment_member& operator=(const alignment_member&) = delete;
  alignment_member& operator=(alignment_member&&) = delete;
  ~alignment_member() { leave(); }

  [[nodiscard]] alignment_group group() const { return alignment_group(state_); }
  [[nodiscard]] alignment_policy policy() const noexcept { return state_->policy; }
  [[nodiscard]] std::size_t index() const noexcept { return index_; }
  [[nodiscard]] timestamp watermark() const noexcept { return watermark_; }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

  /// The source emitted watermark w: publish it, and check the drift.
  void report(timestamp w) {
    if (w <= watermark_) return;
    watermark_ = w;
    slot_->watermark.store(w.nanos(), std::memory_order_relaxed);
    if (w <= fast_limit_) {
      drifting_ = false;
      return;
    }
    check_drift(w);
  }

  /// The source ended (or is gone): it no longer holds the group back.
  void leave() noexcept {
    if (!state_) return;
    watermark_ = timestamp::max();
    drifting_ = false;
    slot_->watermark.store(detail::left_group, std::memory_order_relaxed);
  }

  /// Pause policy: true while the driver should not pull this source. An
  /// unreported member (watermark min()) is never paused.
  [[nodiscard]] bool paused() const noexcept { return pause_ && watermark_ > fast_limit_ && ahead(); }

  /// Drop policy: whether a record at `ts` is within the bound.
  [[nodiscard]] bool within_bound(timestamp ts) const noexcept {
    if (ts <= fast_limit_) return true;
    refresh();
    return ts <= limit_;
  }
  /// A record was held back as excess.
  void count_drop() noexcept { slot_->dropped.store(++dropped_, std::memory_order_relaxed); }

  void save_state(state_writer& w) const { w(watermark_, drifting_, episodes_, dropped_, max_seen_); }
  void load_state(state_reader& r) {
    r(watermark_, drifting_, episodes_, dropped_, max_seen_);
    slot_->watermark.store(watermark_.nanos(), std::memory_order_relaxed);
    slot_->episodes.store(episodes_, std::memory_order_relaxed);
    slot_->dropped.store(dropped_, std::memory_order_relaxed);
    slot_->max_drift.store(max_seen_.nanos(), std::memory_order_relaxed);
    fast_limit_ = timestamp::min();  // the cached limit is stale
  }

 private:
  // Reads the other members' watermarks: their minimum is L whenever this
  // member is not the lowest, and at or above its watermark when it is, so
  // the lowest member is never paused and never drops its own records. Once
  // every member has reported, that minimum never falls, so the limit is
  // cached for the one-compare checks (fast_limit_); before that, and after
  // a restore, fast_limit_ is min() and every check reads again.
  void refresh() const noexcept {
    const auto r = detail::read_low(*state_, slot_);
    low_ = r.low;
    settled_ = r.settled;
    limit_ = r.low + state_->max_drift;
    fast_limit_ = r.settled ? limit_ : timestamp::min();
  }

  // Paused past the cached limit: beyond a fresh one, or reported while
  // another member has not (the group starts together).
  [[nodiscard]] bool ahead() const noexcept {
    if (watermark_ == timestamp::max()) return false;
    refresh();
    return !settled_ || watermark_ > limit_;
  }

  // Past the cached limit: measure the drift against a fresh reading.
  [[gnu::noinline]] void check_drift(timestamp w) {
    if (w == timestamp::max()) {  // the end of time: it has left the group
      drifting_ = false;
      return;
    }
    refresh();
    const duration drift = w - low_;
    if (drift <= state_->max_drift) {
      drifting_ = false;
      return;
    }
    if (drift > max_seen_) {
      max_seen_ = drift;
      slot_->max_drift.store(drift.nanos(), std::memory_order_relaxed);
    }
    if (drifting_) return;
    drifting_ = true;
    slot_->episodes.store(++episodes_, std::memory_order_relaxed);
    if (state_->on_drift) state_->on_drift(drift_event{index_, w, low_, drift});
  }

  std::shared_ptr<detail::alignment_state> state_;  // null once moved from
  detail::alignment_slot* slot_ = nullptr;
  std::size_t index_ = 0;
  bool pause_;
  timestamp watermark_ = timestamp::min();
  mutable timestamp fast_limit_ = timestamp::min();
  mutable timestamp limit_ = timestamp::min();
  mutable timestamp low_ = timestamp::min();
  mutable bool settled_ = false;
  bool drifting_ = false;
  std::uint64_t episodes_ = 0;
  std::uint64_t dropped_ = 0;
  duration max_seen_ = duration::zero();
};

namespace detail {
/// No side output given: excess records are only counted.
using no_excess_output = discard_side_output;

/// A side output another member owns (and checkpoints): only forwards.
template <class Out>
struct borrowed_output {
  Out* out;
  template <class T>
  void operator()(const T& record) const {
    (*out)(record);
  }
};

}  // namespace detail

/// A source that is a member of an alignment group: records, watermarks,
/// barriers and the end pass through a by-reference view that reports the
/// watermarks and, under the drop policy, holds back the excess. Built by
/// `source | with_watermarks(...) | aligned(group)`.
template <class Source, class Excess>
class aligned_source {
  using ctx_type = std::remove_cvref_t<decltype(std::declval<const Source&>().context())>;
  using time_type = typename ctx_type::time_type;
  static_assert(ctx_type::timed(),
                "laminar::aligned goes after with_watermarks(...): an alignment group compares event-time watermarks");

 public:
  using is_source = void;
  using value_type = typename Source::value_type;
  static constexpr bool is_pushed = pushed_source<Source>;

  aligned_source(Source src, alignment_group group, Excess excess)
      : src_(std::move(src)),
        time_(src_.context().time),
        member_(std::move(group)),
        excess_(std::move(excess)),
        pause_(member_.policy() == alignment_policy::pause),
        drop_(member_.policy() == alignment_policy::drop) {
    if (is_pushed && member_.policy() == alignment_policy::pause) {
      throw usage_error(
          "laminar::aligned: a push source cannot be paused (its records come when user code pushes them): use "
          "alignment_policy::warn or alignment_policy::drop");
    }
  }
  aligned_source(aligned_source&&) = default;
  aligned_source& operator=(aligned_source&&) = delete;

  [[nodiscard]] auto context() const { return src_.context(); }

  /// Pulls up to max_records records; returns how many were pulled (records
  /// held back as excess included). Under the pause policy it stops right
  /// after the record that paused the member, so a member overshoots the
  /// bound by at most one record's watermark advance: the source stops on
  /// request (stoppable_source), or else is pulled one record at a time. It
  /// always pulls at least one, so a driver that pulls anyway (a single
  /// pipeline's run()) makes progress.
  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max_records)
    requires pull_source<Source>
  {
    if (!pause_) {
      view<Chain> v(*this, chain);
      return src_.run_for(v, max_records);
    }
    view<Chain, true> v(*this, chain);
    if constexpr (stoppable_source<Source>) {
      return src_.run_for(v, max_records);
    } else {
      std::size_t n = 0;
      while (n != max_records) {
        const std::size_t got = src_.run_for(v, 1);
        if (got == 0) break;
        n += got;
        if (member_.paused()) break;
      }
      return n;
    }
  }
  [[nodiscard]] bool exhausted() const
    requires pull_source<Source>
  {
    return src_.exhausted();
  }
  template <class Chain>
  void push(Chain& chain, const value_type& record)
    requires pushed_source<Source>
  {
    view<Chain> v(*this, chain);
    src_.push(v, record);
  }
  template <class Chain>
  void watermark(Chain& chain, timestamp w)
    requires pushed_source<Source>
  {
    view<Chain> v(*this, chain);
    src_.watermark(v, w);
  }
  template <class Chain>
  void finish(Chain& chain) {
    view<Chain> v(*this, chain);
    src_.finish(v);
  }
  template <class Chain>
  void on_barrier(Chain& chain, const checkpoint_barrier& b) {
    view<Chain> v(*this, chain);
    src_.on_barrier(v, b);
  }
  /// An idle source's watermark advances with processing time
  /// (with_watermarks' idle timeout); it is reported like any other.
  template <class Chain>
  void poll_idle(Chain& chain, timestamp now)
    requires requires(Source& s, Chain& c) { s.poll_idle(c, now); }
  {
    view<Chain> v(*this, chain);
    src_.poll_idle(v, now);
  }

  /// Pause policy: whether a driver should leave this source alone for now.
  [[nodiscard]] bool paused() const noexcept
    requires pull_source<Source>
  {
    return member_.paused();
  }
  [[nodiscard]] alignment_group group() const { return member_.group(); }
  [[nodiscard]] const alignment_member& member() const noexcept { return member_; }
  [[nodiscard]] Source& inner() noexcept { return src_; }

  void save_state(state_writer& w) const {
    member_.save_state(w);
    if constexpr (detail::stateful_side_output<Excess>) detail::side_output_target(excess_).save_state(w);
  }
  void load_state(state_reader& r) {
    member_.load_state(r);
    if constexpr (detail::stateful_side_output<Excess>) detail::side_output_target(excess_).load_state(r);
  }

 private:
  // Stopping: pulled under the pause policy, the view asks its source to
  // stop once the member is paused (stopping_chain).
  template <class Chain, bool Stopping = false>
  class view {
   public:
    view(aligned_source& s, Chain& chain) noexcept : s_(&s), chain_(&chain) {}
    [[nodiscard]] bool stop_requested() const noexcept
      requires Stopping
    {
      return s_->member_.paused();
    }
    void on_event(const value_type& record) {
      if (s_->drop_ && !s_->within_bound(record)) return;
      chain_->on_event(record);
    }
    void on_watermark(timestamp w) {
      s_->member_.report(w);
      chain_->on_watermark(w);
    }
    void on_barrier(const checkpoint_barrier& b) {
      b.checkpoint(*s_);
      chain_->on_barrier(b);
    }
    void on_end() {
      s_->member_.leave();
      chain_->on_end();
    }

   private:
    aligned_source* s_;
    Chain* chain_;
  };

  // Drop policy: a record beyond L + max_drift goes to the side output.
  bool within_bound(const value_type& record) {
    if (member_.within_bound(to_timestamp(std::invoke(time_, record)))) return true;
    member_.count_drop();
    detail::side_output_target(excess_)(record);
    return false;
  }

  Source src_;
  [[no_unique_address]] time_type time_;
  alignment_member member_;
  [[no_unique_address]] Excess excess_;
  bool pause_;
  bool drop_;
};

/// What aligned(group) returns: compose it right after with_watermarks.
template <class Excess = detail::no_excess_output>
struct alignment_join {
  alignment_group group;
  Excess excess{};

  /// Where the drop policy's excess records go: a callable taking the
  /// record (kept by value), or an side_records<T> (kept by reference and
  /// checkpointed with this member).
  template <class F>
  [[nodiscard]] auto excess_to(F&& out) const {
    return alignment_join<detail::side_output_holder_t<F>>{group, detail::hold_side_output(std::forward<F>(out))};
  }
};

/// Makes a source a member of `group`: source | with_watermarks(...) | aligned(group).
inline alignment_join<> aligned(alignment_group group) { return {std::move(group)}; }

template <source S, class Excess>
auto operator|(S&& src, alignment_join<Excess> j) {
  using Src = std::remove_cvref_t<S>;
  return aligned_source<Src, Excess>(std::forward<S>(src), std::move(j.group), std::move(j.excess));
}

namespace detail {
template <class P>
inline constexpr bool aligned_not_after_a_source = false;
}  // namespace detail

/// aligned(...) belongs right after a source's with_watermarks.
template <class P, class Excess>
  requires(!source<P>)
auto operator|(P&&, alignment_join<Excess>) {
  static_assert(detail::aligned_not_after_a_source<P>,
                "laminar::aligned goes right after a source and its with_watermarks: "
                "from(x) | with_watermarks(...) | aligned(group) | ...");
}

}  // namespace laminar
