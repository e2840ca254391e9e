// Lookup join: each record of a stream enriched with the value its key maps
// to in a table, in processing order. Two forms:
//
//   loader  stream | key_by(&order::symbol)
//                  | lookup_join(load_instrument).cache_size(10'000).ttl(30s)
//                  | sink(...);                  // rows: lookup_row<order, instrument>
//           The program's loader (a database, a reference-data service) is
//           called as loader(key) -> std::optional<V>, behind an optional
//           LRU cache with a time to live and refresh-ahead.
//   table   connect(orders | key_by(&order::symbol), instruments | key_by(&instrument::symbol))
//             | lookup_join()                    // rows: lookup_row<order, instrument>
//             | sink(...);
//           The right input is a changelog that keeps an in-memory table up
//           to date: +I/+U (or a positive weight, or a record that is not a
//           changelog_row) set the key's row, -U/-D (a negative weight)
//           remove it. A left record is joined with the row its key has
//           when it arrives: the table as the right input has delivered it
//           so far. This is not a temporal join
//           (a version chosen by the left record's event time).
//
// A key with no value is the program's choice (.on_missing): drop the left
// record, emit it with an empty right side (the default: a left outer join),
// or route it to a side output (.missing_to). Either way it is counted.
// Rows keep their left record's key and event time, so keyed and event-time
// operators can follow.
//
// Loader cache. .cache_size(n) keeps up to n answers (missing ones too,
// unless .cache_missing(false)), evicting the least recently used; a cache
// hit allocates nothing, calls nothing. Time for .ttl(d) and
// .refresh_after(d) is processing time, delivered by the pipeline's
// tick(now) (a graph's worker ticks), or with .ttl_by_event_time() the
// highest event time seen so far; either way, never read per record.
//   ttl            an entry loaded at t is served while now < t + d; a
//                  lookup at or after that loads again (counted as expired);
//   refresh_after  an entry at or past t + d is still served, and queued; the
//                  queue is reloaded at the next tick or watermark, off the
//                  record path (refresh-ahead). refresh_after < ttl.
// The cache is state: a checkpoint saves its entries, their load times, the
// LRU order and the refresh queue, so a restored run calls the loader and
// emits exactly as the uninterrupted one.
//
// Table size. .max_held(n) (table form) bounds the keys held: a row for a new
// key past n is refused (counted by overflow_count(), given to .overflow_to(out)),
// while rows for held keys and removals always apply. The table is never
// evicted behind the changelog's back: a lookup that says "missing" must
// mean the changelog has no row for the key.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <cereal/types/optional.hpp>

#include "laminar/core/changelog.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/detail/with_setting.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/core/two_input.hpp"
#include "laminar/join/enriched_row.hpp"
#include "laminar/operator/key_by.hpp"
#include "laminar/state/key.hpp"
#include "laminar/state/slot_table.hpp"

namespace laminar {

/// What happens to a left record whose key has no value.
enum class lookup_missing : std::uint8_t {
  drop,         ///< not passed on (counted)
  emit_empty,   ///< passed on with an empty right side: a left outer join
  side_output,  ///< given to the side output named by missing_to(out)
};

[[nodiscard]] inline const char* to_string(lookup_missing m) noexcept {
  switch (m) {
    case lookup_missing::drop: return "drop";
    case lookup_missing::emit_empty: return "emit_empty";
    case lookup_missing::side_output: return "side_output";
  }
  return "unknown";
}

/// A left record and the value its key looked up, if any.
template <class L, class V>
using lookup_row = enriched_row<L, V>;

/// A lookup join's loader failed; the loader's own exception is nested
/// (std::rethrow_if_nested) and its message is part of this one's.
class lookup_error : public error {
 public:
  using error::error;
};

struct lookup_settings {
  std::size_t cache_size = 0;  // 0: no cache, every record calls the loader
  std::optional<duration> ttl;
  std::optional<duration> refresh_after;
  bool event_time = false;  // TTL by the highest event time seen, not by ticks
  bool cache_missing = true;
  lookup_missing missing = lookup_missing::emit_empty;
};

struct lookup_table_settings {
  std::size_t max_held = std::numeric_limits<std::size_t>::max();
  lookup_missing missing = lookup_missing::emit_empty;
};

namespace detail {

/// The loader form's key is the stream's (key_by) unless one is given.
struct stream_key {};

template <class T>
inline constexpr bool is_optional_v = false;
template <class T>
inline constexpr bool is_optional_v<std::optional<T>> = true;

/// What the loader (one input) and the table stage (two) share: the
/// downstream, the missing policy and its side output, the hit and missing
/// counters, and the control messages but the watermark. Stage is the
/// derived stage (CRTP), whose save_state/load_state a barrier checkpoints.
template <class Stage, class Next, class Row, class Missing>
class lookup_stage_base {
 public:
  void on_barrier(const checkpoint_barrier& b) {
    b.checkpoint(static_cast<Stage&>(*this));
    next_.on_barrier(b);
  }
  void on_end() { next_.on_end(); }
  void on_processing_time(timestamp now) { next_.on_processing_time(now); }
  void on_checkpoint_complete(std::uint64_t checkpoint_id) { next_.on_checkpoint_complete(checkpoint_id); }
  void on_checkpoint_abort(std::uint64_t checkpoint_id) { next_.on_checkpoint_abort(checkpoint_id); }

  /// Left records answered: from the cache (loader form), or by a row in
  /// the table (table form).
  [[nodiscard]] std::uint64_t hits() const noexcept { return hits_; }
  /// Left records whose key had no value (dropped, emitted empty or routed).
  [[nodiscard]] std::uint64_t missing() const noexcept { return missing_count_; }
  [[nodiscard]] Next& downstream() noexcept { return next_; }

 protected:
  lookup_stage_base(Next next, Missing missing) : next_(std::move(next)), missing_(std::move(missing)) {}

  /// Passes a left record on with its value (a V or a std::optional<V>).
  template <class L, class V>
  [[gnu::always_inline]] void emit_found(const L& l, const V& v) {
    next_.on_event(Row{l, v});
  }
  /// Counts a left record whose key has no value and applies the policy
  /// (kept in the stage's settings).
  template <class L>
  [[gnu::always_inline]] void emit_missing(const L& l, lookup_missing policy) {
    ++missing_count_;
    switch (policy) {
      case lookup_missing::drop: return;
      case lookup_missing::emit_empty: next_.on_event(Row{l, std::nullopt}); return;
      case lookup_missing::side_output: side_output_target(missing_)(l); return;
    }
  }

  void save_missing_output(state_writer& w) const {
    if constexpr (stateful_side_output<Missing>) side_output_target(missing_).save_state(w);
  }
  void load_missing_output(state_reader& r) {
    if constexpr (stateful_side_output<Missing>) side_output_target(missing_).load_state(r);
  }

  [[noreturn]] static void throw_not_archivable(const char* what) {
    throw checkpoint_error(std::string("laminar: lookup_join: checkpointing the ") + what +
                           " type has no cereal serialize(Archive&) function: add one");
  }

  [[no_unique_address]] Next next_;
  [[no_unique_address]] Missing missing_;
  std::uint64_t hits_ = 0;
  std::uint64_t missing_count_ = 0;
};

/// One cached answer: the value (empty: the loader said "missing"), when it
/// was loaded, and its links in the refresh queue.
template <class V>
struct lookup_cache_entry {
  static constexpr std::uint32_t none = ~std::uint32_t{0};
  std::optional<V> value;
  timestamp loaded{};
  std::uint32_t next_refresh = none;  // refresh queue, first queued first
  std::uint32_t prev_refresh = none;
  bool refresh_queued = false;
  // An erased entry keeps its value's buffers for the next key in its slot.
  void reset() noexcept {
    next_refresh = prev_refresh = none;
    refresh_queued = false;
  }
};

/// The loader's cache: key -> answer in a slot table, an LRU list (evicts
/// from the least recently used end) and a FIFO of entries waiting for a
/// refresh. The LRU links live apart from the entries, 8 bytes a slot, so
/// that a hit's relinking writes to a dense array (in L1 for a few thousand
/// entries) rather than to its neighbours' cache lines. Slots are reused, so
/// a full cache allocates nothing.
template <class K, class V>
class lookup_cache {
 public:
  using entry = lookup_cache_entry<V>;
  using table = slot_table<K, entry>;
  static constexpr std::uint32_t npos = table::npos;
  static constexpr std::uint32_t none = entry::none;

  explicit lookup_cache(std::size_t capacity) : capacity_(capacity) {}

  [[nodiscard, gnu::always_inline]] std::uint32_t find(key_arg_t<K> k) const noexcept { return keys_.find(k); }
  [[nodiscard]] entry& at(std::uint32_t s) noexcept { return keys_.state(s); }
  [[nodiscard]] const entry& at(std::uint32_t s) const noexcept { return keys_.state(s); }
  [[nodiscard]] const K& key(std::uint32_t s) const noexcept { return keys_.key(s); }
  [[nodiscard]] std::size_t size() const noexcept { return keys_.size(); }
  /// Slot indices are below this.
  [[nodiscard]] std::size_t slot_count() const noexcept { return keys_.slot_count(); }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::uint32_t refresh_front() const noexcept { return refresh_head_; }

  /// Makes slot s the most recently used.
  [[gnu::always_inline]] void touch(std::uint32_t s) noexcept {
    const std::uint32_t i = s + 1;
    if (lru_[0].older == i) return;
    unlink(i);
    push_front(i);
  }

  /// Adds an absent key as the most recently used; when full, the least
  /// recently used entry leaves first (returns whether one did).
  bool insert(key_arg_t<K> k, std::optional<V>&& v, timestamp loaded, std::uint32_t& slot) {
    bool evicted = false;
    if (keys_.size() >= capacity_ && keys_.size() != 0) {
      erase(lru_[0].newer - 1);  // the sentinel's newer end is the least recently used
      evicted = true;
    }
    slot = keys_.insert(k);
    if (lru_.size() <= slot + std::size_t{1}) lru_.resize(keys_.slot_count() + 1);
    entry& e = keys_.state(slot);
    e.value = std::move(v);
    e.loaded = loaded;
    push_front(slot + 1);
    return evicted;
  }

  void erase(std::uint32_t s) {
    dequeue_refresh(s);
    unlink(s + 1);
    keys_.erase(s);
  }

  void queue_refresh(std::uint32_t s) noexcept {
    entry& e = keys_.state(s);
    e.refresh_queued = true;
    e.next_refresh = none;
    e.prev_refresh = refresh_tail_;
    if (refresh_tail_ == none) {
      refresh_head_ = s;
    } else {
      keys_.state(refresh_tail_).next_refresh = s;
    }
    refresh_tail_ = s;
  }
  void dequeue_refresh(std::uint32_t s) noexcept {
    entry& e = keys_.state(s);
    if (!e.refresh_queued) return;
    (e.prev_refresh == none ? refresh_head_ : keys_.state(e.prev_refresh).next_refresh) = e.next_refresh;
    (e.next_refresh == none ? refresh_tail_ : keys_.state(e.next_refresh).prev_refresh) = e.prev_refresh;
    e.refresh_queued = false;
    e.next_refresh = e.prev_refresh = none;
  }

  /// The entries from the least to the most recently used.
  template <class F>
  void for_each_oldest_first(F&& f) const {
    if (lru_.empty()) return;
    for (std::uint32_t i = lru_[0].newer; i != 0; i = lru_[i].newer) f(i - 1);
  }
  /// The refresh queue, first queued first.
  template <class F>
  void for_each_queued(F&& f) const {
    for (std::uint32_t s = refresh_head_; s != none; s = keys_.state(s).next_refresh) f(s);
  }

  void clear() {
    keys_.reset(0);
    lru_.clear();
    refresh_head_ = refresh_tail_ = none;
  }

 private:
  // A circular list through a sentinel at index 0 (slot s is at s + 1):
  // the sentinel's `older` is the most recently used, its `newer` the least.
  struct links {
    std::uint32_t newer = 0;
    std::uint32_t older = 0;
  };
  void unlink(std::uint32_t i) noexcept {
    const links l = lru_[i];
    lru_[l.newer].older = l.older;
    lru_[l.older].newer = l.newer;
  }
  void push_front(std::uint32_t i) noexcept {
    const std::uint32_t first = lru_[0].older;
    lru_[i] = links{0, first};
    lru_[first].newer = i;
    lru_[0].older = i;
  }

  table keys_;
  std::vector<links> lru_;  // the sentinel and one entry per slot, from the first insert
  std::size_t capacity_;
  std::uint32_t refresh_head_ = none;
  std::uint32_t refresh_tail_ = none;
};

template <class Ctx, class KeyProj>
auto lookup_key_of(const Ctx& ctx, const KeyProj& proj, const typename Ctx::value_type& l) {
  if constexpr (std::is_same_v<KeyProj, stream_key>) {
    (void)proj;
    return group_key_of(ctx, l);
  } else {
    (void)ctx;
    return std::remove_cvref_t<std::invoke_result_t<const KeyProj&, const typename Ctx::value_type&>>(
        std::invoke(proj, l));
  }
}

template <class Ctx, class KeyProj>
using lookup_key_t = decltype(lookup_key_of(std::declval<const Ctx&>(), std::declval<const KeyProj&>(),
                                            std::declval<const typename Ctx::value_type&>()));

template <class Loader, class K>
using loader_result_t = std::remove_cvref_t<std::invoke_result_t<Loader&, const K&>>;

template <class Next, class Ctx, class KeyProj, class Loader, class Missing>
class lookup_join_stage
    : public lookup_stage_base<lookup_join_stage<Next, Ctx, KeyProj, Loader, Missing>, Next,
                               lookup_row<typename Ctx::value_type,
                                          typename loader_result_t<Loader, lookup_key_t<Ctx, KeyProj>>::value_type>,
                               Missing> {
 public:
  static constexpr std::string_view state_name = "lookup_join";
  using left_type = typename Ctx::value_type;
  using key_type = lookup_key_t<Ctx, KeyProj>;
  using value_type = typename loader_result_t<Loader, key_type>::value_type;
  using row_type = lookup_row<left_type, value_type>;
  using cache = lookup_cache<key_type, value_type>;

  lookup_join_stage(Next next, Ctx ctx, KeyProj key, Loader loader, lookup_settings settings, Missing missing)
      : base(std::move(next), std::move(missing)),
        ctx_(std::move(ctx)),
        key_(std::move(key)),
        loader_(std::move(loader)),
        settings_(settings),
        cache_(std::min<std::size_t>(settings.cache_size, max_cache_size)) {}

  void on_event(const left_type& l) {
    if constexpr (Ctx::timed()) {
      if (settings_.event_time) {
        const timestamp t = time_of(ctx_, l);
        if (t > now_) now_ = t;
      }
    }
    const key_type k = lookup_key_of(ctx_, key_, l);
    if (settings_.cache_size == 0) {
      ++misses_;
      scratch_ = load(k);
      return emit(l, scratch_);
    }
    emit(l, cached(k));
  }

  // Queued refreshes are loaded here, off the record path; not at the end
  // of the stream (the watermark at the end of time), when no record is left
  // to use them.
  void on_watermark(timestamp w) {
    if (cache_.refresh_front() != cache::none && w != timestamp::max()) [[unlikely]] refresh();
    base::next_.on_watermark(w);
  }

  /// Processing time, from the pipeline's tick(now): the cache's clock (it
  /// never goes back), and the point where queued refreshes are loaded.
  void on_processing_time(timestamp now) {
    if (!settings_.event_time && now > now_) now_ = now;
    if (cache_.refresh_front() != cache::none) refresh();
    base::on_processing_time(now);
  }

  /// Records that called the loader: no cache, not cached, or expired.
  [[nodiscard]] std::uint64_t misses() const noexcept { return misses_; }
  /// Misses of entries past their time to live.
  [[nodiscard]] std::uint64_t expired() const noexcept { return expired_; }
  /// Loader calls: the misses and the refreshes.
  [[nodiscard]] std::uint64_t loads() const noexcept { return loads_; }
  /// Entries reloaded from the refresh queue.
  [[nodiscard]] std::uint64_t refreshes() const noexcept { return refreshes_; }
  /// Entries evicted to make room.
  [[nodiscard]] std::uint64_t evictions() const noexcept { return evictions_; }
  /// Entries cached now.
  [[nodiscard]] std::size_t cached() const noexcept { return cache_.size(); }
  /// The time the cache runs on: the last tick, or the highest event time.
  [[nodiscard]] timestamp now() const noexcept { return now_; }

  void save_state(state_writer& w) const {
    w(now_, hits_, misses_, expired_, loads_, refreshes_, evictions_, missing_count_,
      static_cast<std::uint64_t>(cache_.size()));  // read back by read_count
    if constexpr (archivable<key_type> && archivable<value_type>) {
      // Oldest first, so that reinserting in order rebuilds the LRU list.
      std::vector<std::uint32_t> rank(cache_.slot_count(), 0);
      std::uint32_t n = 0;
      cache_.for_each_oldest_first([&](std::uint32_t s) {
        rank[s] = n++;
        const auto& e = cache_.at(s);
        w(cache_.key(s), e.value, e.loaded);
      });
      std::vector<std::uint32_t> queued;
      cache_.for_each_queued([&](std::uint32_t s) { queued.push_back(rank[s]); });
      w(static_cast<std::uint64_t>(queued.size()));
      for (const std::uint32_t q : queued) w(q);
    } else if (cache_.size() != 0) {
      base::throw_not_archivable("cache saves its keys and values, but the key or value");
    }
    base::save_missing_output(w);
  }

  /// Restorable into another number of instances of its node: the
  /// entries of the instance's key groups are kept and merged (a key's
  /// answer is reloaded where the cache does not hold it), counters summed,
  /// the time the latest.
  static constexpr bool rescalable = !stateful_side_output<Missing>;

  void load_state(state_reader& r) {
    r.read_merged(latest(now_), summed(hits_), summed(misses_), summed(expired_), summed(loads_), summed(refreshes_),
                  summed(evictions_), summed(missing_count_));
    const bool merging = r.merging();
    const std::uint64_t n = r.read_count("cached entries");
    if (!merging) cache_.clear();
    if constexpr (archivable<key_type> && archivable<value_type>) {
      std::vector<std::optional<key_type>> keys;  // by rank; none: another instance's key
      keys.reserve(static_cast<std::size_t>(n));
      for (std::uint64_t i = 0; i < n; ++i) {
        key_type k{};
        std::optional<value_type> v;
        timestamp loaded{};
        r(k, v, loaded);
        if (r.rescaling() && !r.owns_key_group(key_group_of(k, r.key_groups()))) {
          keys.emplace_back();
          continue;
        }
        std::uint32_t s = 0;
        // A cache restored smaller than it was saved keeps its most recent
        // entries: the oldest leave first, in rank order.
        if (cache_.insert(k, std::move(v), loaded, s)) ++evictions_;
        keys.emplace_back(std::move(k));
      }
      std::vector<std::uint32_t> queued(static_cast<std::size_t>(r.read_count("queued refreshes", sizeof(std::uint32_t))));
      for (std::uint32_t& q : queued) r(q);
      for (const std::uint32_t rank : queued) {
        if (rank >= keys.size() || !keys[rank]) continue;
        const std::uint32_t s = cache_.find(*keys[rank]);  // npos: evicted as the restored cache filled
        if (s != cache_.npos && !cache_.at(s).refresh_queued) cache_.queue_refresh(s);
      }
    }
    base::load_missing_output(r);
  }

 private:
  using base = lookup_stage_base<lookup_join_stage, Next, row_type, Missing>;
  using base::hits_;
  using base::missing_count_;

  // Slot indices are 32-bit; a larger size means "unbounded".
  static constexpr std::size_t max_cache_size = std::size_t{1} << 31;

  [[gnu::always_inline]] void emit(const left_type& l, const std::optional<value_type>& v) {
    if (v.has_value()) [[likely]] return base::emit_found(l, v);
    base::emit_missing(l, settings_.missing);
  }

  [[nodiscard]] bool due(timestamp loaded, const std::optional<duration>& after) const noexcept {
    return after.has_value() && now_ >= loaded + *after;
  }

  // The answer for k from the cache, loading it on a miss or past its TTL.
  const std::optional<value_type>& cached(const key_type& k) {
    const std::uint32_t s = cache_.find(k);
    if (s != cache::npos) [[likely]] {
      auto& e = cache_.at(s);
      if (due(e.loaded, settings_.ttl)) [[unlikely]] return reload_expired(s, k);
      ++hits_;
      if (!e.refresh_queued && due(e.loaded, settings_.refresh_after)) [[unlikely]] cache_.queue_refresh(s);
      cache_.touch(s);
      return e.value;
    }
    return load_missed(k);
  }

  [[gnu::noinline]] const std::optional<value_type>& load_missed(const key_type& k) {
    ++misses_;
    std::optional<value_type> v = load(k);
    if (!v.has_value() && !settings_.cache_missing) {
      scratch_.reset();
      return scratch_;
    }
    std::uint32_t s = 0;
    if (cache_.insert(k, std::move(v), now_, s)) ++evictions_;
    return cache_.at(s).value;
  }

  [[gnu::noinline]] const std::optional<value_type>& reload_expired(std::uint32_t s, const key_type& k) {
    ++misses_;
    ++expired_;
    std::optional<value_type> v = load(k);  // a throw leaves the entry as it was
    if (!v.has_value() && !settings_.cache_missing) {
      cache_.erase(s);
      scratch_.reset();
      return scratch_;
    }
    auto& e = cache_.at(s);
    e.value = std::move(v);
    e.loaded = now_;
    cache_.dequeue_refresh(s);
    cache_.touch(s);
    return e.value;
  }

  // Reloads the queued entries, first queued first. A refresh is not a use:
  // the LRU order stays.
  [[gnu::noinline]] void refresh() {
    for (std::uint32_t s = cache_.refresh_front(); s != cache::none; s = cache_.refresh_front()) {
      cache_.dequeue_refresh(s);
      ++refreshes_;
      std::optional<value_type> v = load(cache_.key(s));
      if (!v.has_value() && !settings_.cache_missing) {
        cache_.erase(s);
        continue;
      }
      auto& e = cache_.at(s);
      e.value = std::move(v);
      e.loaded = now_;
    }
  }

  std::optional<value_type> load(const key_type& k) {
    ++loads_;
    try {
      return std::invoke(loader_, k);
    } catch (...) {
      rethrow_with_key(k);
    }
  }

  [[noreturn, gnu::cold, gnu::noinline]] static void rethrow_with_key(const key_type& k) {
    std::ostringstream os;
    os << "laminar: lookup_join: the loader failed for key ";
    print_value(os, k);
    try {
      throw;
    } catch (const std::exception& e) {
      os << ": " << e.what();
    } catch (...) {
      os << ": it threw something that is not a std::exception";
    }
    std::throw_with_nested(lookup_error(os.str()));
  }

  [[no_unique_address]] Ctx ctx_;
  [[no_unique_address]] KeyProj key_;
  [[no_unique_address]] Loader loader_;
  lookup_settings settings_;
  cache cache_;
  std::optional<value_type> scratch_;  // an uncached answer, for the row
  timestamp now_ = timestamp::min();
  std::uint64_t misses_ = 0;
  std::uint64_t expired_ = 0;
  std::uint64_t loads_ = 0;
  std::uint64_t refreshes_ = 0;
  std::uint64_t evictions_ = 0;
};

/// A table row, kept in its slot after the key leaves (its buffers are reused).
template <class R>
struct lookup_table_entry {
  R row{};
  void reset() noexcept {}
};

template <class Next, class LCtx, class RCtx, class Missing, class Overflow>
class lookup_table_stage
    : public lookup_stage_base<lookup_table_stage<Next, LCtx, RCtx, Missing, Overflow>, Next,
                               lookup_row<typename LCtx::value_type, typename RCtx::value_type>, Missing> {
 public:
  static constexpr std::string_view state_name = "lookup_table";
  using left_type = typename LCtx::value_type;
  using right_type = typename RCtx::value_type;
  using key_type = group_key_t<LCtx>;
  using row_type = lookup_row<left_type, right_type>;

  lookup_table_stage(Next next, LCtx lctx, RCtx rctx, lookup_table_settings settings, Missing missing,
                     Overflow overflow)
      : base(std::move(next), std::move(missing)),
        lctx_(std::move(lctx)),
        rctx_(std::move(rctx)),
        settings_(settings),
        overflow_(std::move(overflow)) {}

  void on_event(left_input, const left_type& l) {
    const std::uint32_t s = table_.find(group_key_of(lctx_, l));
    if (s != table::npos) [[likely]] {
      ++hits_;
      return base::emit_found(l, std::as_const(table_).state(s).row);  // a read: not a change
    }
    base::emit_missing(l, settings_.missing);
  }

  void on_event(right_input, const right_type& r) {
    const std::int64_t w = weight_of(r);
    const key_type k = group_key_of(rctx_, r);
    std::uint32_t s = table_.find(k);
    if (w > 0) [[likely]] {
      if (s == table::npos) [[unlikely]] {
        if (table_.size() >= settings_.max_held) {
          ++overflow_count_;
          side_output_target(overflow_)(r);
          return;
        }
        s = table_.insert(k);
      }
      table_.state(s).row = r;
      ++upserts_;
    } else if (w < 0) {
      if (s == table::npos) {
        ++absent_removals_;  // nothing to remove: the key was never set, removed already, or refused
        return;
      }
      table_.erase(s);
      ++removals_;
    }
  }

  // Rows leave as left records arrive, with their left record's time: the
  // output watermark is the left input's; the table's input does not hold it
  // back (a reference-data stream may have no watermarks at all).
  void on_input_watermark(left_input, timestamp w) { base::next_.on_watermark(w); }
  void on_input_watermark(right_input, timestamp) noexcept {}
  template <class Side>
  void on_input_end(Side) noexcept {}
  void on_watermark(timestamp) noexcept {}

  /// Right records that set a key's row.
  [[nodiscard]] std::uint64_t upserts() const noexcept { return upserts_; }
  /// Right records that removed a key's row.
  [[nodiscard]] std::uint64_t removals() const noexcept { return removals_; }
  /// Removals of keys without a row (nothing changed).
  [[nodiscard]] std::uint64_t absent_removals() const noexcept { return absent_removals_; }
  /// Rows for new keys refused because the table held max_held keys.
  [[nodiscard]] std::uint64_t overflow_count() const noexcept { return overflow_count_; }
  /// Keys in the table now.
  [[nodiscard]] std::size_t size() const noexcept { return table_.size(); }

  void on_checkpoint_complete(std::uint64_t checkpoint_id) {
    capture_.complete(checkpoint_id, [this](auto&& f) { f(table_.changes()); });
    base::on_checkpoint_complete(checkpoint_id);
  }

  /// Incremental checkpoints (state_writer::incremental()): a capture on a
  /// base it has kept track since writes the keys set or removed since.
  void save_state(state_writer& w) const {
    const bool delta = capture_.begin(w, [this](auto&& f) { f(table_.changes()); }, table_.size());
    w(hits_, missing_count_, upserts_, removals_, absent_removals_, overflow_count_);
    if constexpr (archivable<key_type> && archivable<right_type>) {
      const auto save_row = [&w](const lookup_table_entry<right_type>& e) { w(e.row); };
      save_table(w, table_, delta, save_row);
    } else if (table_.size() != 0) {
      base::throw_not_archivable("table saves its keys and rows, but the key or right record");
    }
    base::save_missing_output(w);
    if constexpr (stateful_side_output<Overflow>) side_output_target(overflow_).save_state(w);
  }

  /// Restorable into another number of instances of its node: the rows
  /// filtered to the instance's key groups and merged (load_slots),
  /// counters summed.
  static constexpr bool rescalable = !stateful_side_output<Missing> && !stateful_side_output<Overflow>;

  void load_state(state_reader& r) {
    r.read_merged(summed(hits_), summed(missing_count_), summed(upserts_), summed(removals_), summed(absent_removals_),
                  summed(overflow_count_));
    if constexpr (archivable<key_type> && archivable<right_type>) {
      const auto load_row = [&r](std::uint32_t, lookup_table_entry<right_type>& e) { r(e.row); };
      if (r.delta()) {
        apply_slot_changes(r, table_, load_row);
      } else {
        capture_.restart([this](auto&& f) { f(table_.changes()); });  // the next capture is whole
        load_slots(r, table_, load_row);  // empties the table first unless merging
      }
    } else if (!r.merging()) {
      table_.reset(0);
    }
    base::load_missing_output(r);
    if constexpr (stateful_side_output<Overflow>) side_output_target(overflow_).load_state(r);
  }

 private:
  using base = lookup_stage_base<lookup_table_stage, Next, row_type, Missing>;
  using base::hits_;
  using base::missing_count_;
  using table = slot_table<key_type, lookup_table_entry<right_type>>;

  [[no_unique_address]] LCtx lctx_;
  [[no_unique_address]] RCtx rctx_;
  lookup_table_settings settings_;
  [[no_unique_address]] Overflow overflow_;
  table table_;
  mutable incremental_capture capture_;  // incremental checkpoints: which captures table_ tracks since
  std::uint64_t upserts_ = 0;
  std::uint64_t removals_ = 0;
  std::uint64_t absent_removals_ = 0;
  std::uint64_t overflow_count_ = 0;
};

inline void check_missing_target(lookup_missing policy, bool has_target) {
  if (policy == lookup_missing::side_output && !has_target) {
    throw usage_error(
        "laminar: lookup_join: on_missing(lookup_missing::side_output) needs a side output: name it with "
        ".missing_to(out)");
  }
}

inline void check_positive_duration(duration d, const char* what) {
  if (d <= duration::zero()) {
    throw usage_error(std::string("laminar: lookup_join: ") + what + " must be positive, got " +
                      std::to_string(d.nanos()) + "ns");
  }
}

}  // namespace detail

/// The loader form's factory: lookup_join(loader) or lookup_join(key, loader),
/// refined by .cache_size(n), .ttl(d), .refresh_after(d), .ttl_by_event_time(),
/// .cache_missing(b), .on_missing(m) and .missing_to(out).
template <class Loader, class KeyProj = detail::stream_key, class Missing = detail::discard_side_output>
struct lookup_join_operator {
  using is_operator = void;
  // No default member initializers for the program's callables: a
  // capturing lambda has no default constructor.
  Loader loader;
  [[no_unique_address]] KeyProj key;
  lookup_settings settings{};
  Missing missing;

  /// Caches up to n answers, evicting the least recently used (0, the
  /// default: no cache, every record calls the loader).
  [[nodiscard]] lookup_join_operator cache_size(std::size_t n) const {
    return detail::with_setting(*this, &lookup_settings::cache_size, n);
  }
  /// A cached answer loaded at t is served while the cache's time is before
  /// t + d; a lookup at or after that loads again.
  [[nodiscard]] lookup_join_operator ttl(duration d) const {
    detail::check_positive_duration(d, "ttl");
    return detail::with_setting(*this, &lookup_settings::ttl, d);
  }
  /// A cached answer at or past t + d is served and queued; queued answers
  /// are reloaded at the next tick or watermark (refresh-ahead).
  [[nodiscard]] lookup_join_operator refresh_after(duration d) const {
    detail::check_positive_duration(d, "refresh_after");
    return detail::with_setting(*this, &lookup_settings::refresh_after, d);
  }
  /// The cache's time is the highest event time seen so far, not the
  /// pipeline's tick(now): deterministic, for replays and tests.
  [[nodiscard]] lookup_join_operator ttl_by_event_time() const {
    return detail::with_setting(*this, &lookup_settings::event_time, true);
  }
  /// Whether a "missing" answer is cached like a value (default: yes).
  [[nodiscard]] lookup_join_operator cache_missing(bool cache) const {
    return detail::with_setting(*this, &lookup_settings::cache_missing, cache);
  }
  /// What happens to a left record whose key has no value (default: emit_empty).
  [[nodiscard]] lookup_join_operator on_missing(lookup_missing m) const {
    return detail::with_setting(*this, &lookup_settings::missing, m);
  }
  /// Routes left records whose key has no value to `out`: a callable, or a
  /// side_records<L> held by reference and checkpointed with the join.
  template <class F>
  [[nodiscard]] auto missing_to(F&& out) const {
    lookup_settings s = settings;
    s.missing = lookup_missing::side_output;
    return lookup_join_operator<Loader, KeyProj, detail::side_output_holder_t<F>>{
        loader, key, s, detail::hold_side_output(std::forward<F>(out))};
  }

  template <class Ctx>
  auto output_context(const Ctx& ctx) const {
    using L = typename Ctx::value_type;
    if constexpr (std::is_same_v<KeyProj, detail::stream_key>) {
      static_assert(Ctx::keyed(),
                    "laminar: lookup_join(loader) looks records up by the stream's key: put key_by(...) before it, "
                    "or name the key: lookup_join(key, loader)");
    } else {
      static_assert(std::invocable<const KeyProj&, const L&>,
                    "laminar: lookup_join(key, loader): the key projection cannot be applied to the stream's record "
                    "type");
    }
    using K = detail::lookup_key_t<Ctx, KeyProj>;
    static_assert(std::invocable<Loader&, const K&>,
                  "laminar: lookup_join: the loader must be callable with the key (as const K&)");
    using result = detail::loader_result_t<Loader, K>;
    static_assert(detail::is_optional_v<result>,
                  "laminar: lookup_join: the loader must return std::optional<V>: the value, or std::nullopt when "
                  "the key has none");
    return detail::through_left_context<lookup_row<L, typename result::value_type>>(ctx);
  }

  template <class Ctx, class Next>
  auto bind(const Ctx& ctx, Next&& next) && {
    (void)output_context(ctx);
    const lookup_settings& s = settings;
    if (s.cache_size == 0 && (s.ttl || s.refresh_after)) {
      throw usage_error("laminar: lookup_join: ttl and refresh_after need a cache: set .cache_size(n)");
    }
    if (s.ttl && s.refresh_after && *s.refresh_after >= *s.ttl) {
      throw usage_error("laminar: lookup_join: refresh_after (" + std::to_string(s.refresh_after->nanos()) +
                        "ns) must be shorter than ttl (" + std::to_string(s.ttl->nanos()) +
                        "ns): an entry that old is already reloaded");
    }
    if (s.event_time && !Ctx::timed()) {
      throw usage_error(
          "laminar: lookup_join: ttl_by_event_time() needs event time: put with_watermarks(...) or event_time(...) "
          "before the join");
    }
    detail::check_missing_target(s.missing, !std::is_same_v<Missing, detail::discard_side_output>);
    return detail::lookup_join_stage<std::remove_cvref_t<Next>, Ctx, KeyProj, Loader, Missing>(
        std::forward<Next>(next), ctx, std::move(key), std::move(loader), settings, std::move(missing));
  }
};

/// A lookup join through `loader(key) -> std::optional<V>` by the stream's
/// key (key_by before it): no cache, missing keys emitted with an empty side.
template <class Loader>
auto lookup_join(Loader loader) {
  return lookup_join_operator<Loader>{std::move(loader), {}, {}, {}};
}

/// A lookup join through `loader`, by the key `key(record)` (a member
/// pointer or a callable).
template <class KeyProj, class Loader>
auto lookup_join(KeyProj key, Loader loader) {
  return lookup_join_operator<Loader, KeyProj>{std::move(loader), std::move(key), {}, {}};
}

/// The table form's factory: lookup_join() over connect(stream, table
/// changelog), refined by .max_held(n), .overflow_to(out), .on_missing(m)
/// and .missing_to(out).
template <class Missing = detail::discard_side_output, class Overflow = detail::discard_side_output>
struct lookup_table_join_operator {
  using is_two_input_operator = void;
  lookup_table_settings settings{};
  Missing missing;
  Overflow overflow;

  /// At most n keys: a row for a new key past that is refused (counted by
  /// overflow_count(), given to overflow_to's output); held keys still update.
  [[nodiscard]] lookup_table_join_operator max_held(std::size_t n) const {
    if (n == 0) throw usage_error("laminar: lookup_join: max_held must be at least 1");
    return detail::with_setting(*this, &lookup_table_settings::max_held, n);
  }
  /// What happens to a left record whose key has no row (default: emit_empty).
  [[nodiscard]] lookup_table_join_operator on_missing(lookup_missing m) const {
    return detail::with_setting(*this, &lookup_table_settings::missing, m);
  }
  /// Routes left records whose key has no row to `out` (a callable, or a
  /// side_records<L> held by reference and checkpointed with the join).
  template <class F>
  [[nodiscard]] auto missing_to(F&& out) const {
    lookup_table_settings s = settings;
    s.missing = lookup_missing::side_output;
    return lookup_table_join_operator<detail::side_output_holder_t<F>, Overflow>{
        s, detail::hold_side_output(std::forward<F>(out)), overflow};
  }
  /// Where right records refused by max_held go (a callable, or a side_records<R>).
  template <class F>
  [[nodiscard]] auto overflow_to(F&& out) const {
    return lookup_table_join_operator<Missing, detail::side_output_holder_t<F>>{
        settings, missing, detail::hold_side_output(std::forward<F>(out))};
  }

  template <class LCtx, class RCtx>
  auto output_context(const LCtx& l, const RCtx&) const {
    static_assert(LCtx::keyed() == RCtx::keyed(),
                  "laminar: lookup_join(): key both inputs (key_by on each: the stream's key and the table's) or "
                  "neither");
    using L = typename LCtx::value_type;
    using R = typename RCtx::value_type;
    static_assert(std::is_same_v<detail::group_key_t<LCtx>, detail::group_key_t<RCtx>>,
                  "laminar: lookup_join(): the stream's key and the table's must have the same type");
    return detail::through_left_context<lookup_row<L, R>>(l);
  }

  template <class LCtx, class RCtx, class Next>
  auto bind(const LCtx& l, const RCtx& r, Next&& next) && {
    (void)output_context(l, r);
    detail::check_missing_target(settings.missing, !std::is_same_v<Missing, detail::discard_side_output>);
    return detail::lookup_table_stage<std::remove_cvref_t<Next>, LCtx, RCtx, Missing, Overflow>(
        std::forward<Next>(next), l, r, settings, std::move(missing), std::move(overflow));
  }
};

/// A lookup join against the table kept by the right input of connect():
/// unbounded, missing keys emitted with an empty side.
inline lookup_table_join_operator<> lookup_join() { return {{}, {}, {}}; }

}  // namespace laminar
