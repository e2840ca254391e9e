// Group tables of the window operators: key -> (accumulator, record count),
// iterated in the order keys first arrived, so that output order is
// deterministic and the same after a restore.
//
// Both tables keep their entries inline in one array, so that finding a
// group costs one probe into memory that also holds its accumulator (the
// per-record path is a load of the slot and an add into it), plus a list of
// occupied slots in arrival order for iteration. An entry's `order` is its
// place in that list + 1; 0 marks a free slot.
//
// hashed_group_table: open addressing with linear probing, at most half full.
// dense_group_table: for keys that are small non-negative integers (symbol ids):
// the key is the slot.
// clear() keeps every buffer, so a recycled table allocates nothing in
// steady state. A growing table moves its entries: references to entries
// are valid until the next insert.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/state/change_tracker.hpp"
#include "laminar/state/detail/large_table_allocator.hpp"
#include "laminar/state/key.hpp"

namespace laminar::detail {

/// Entries of 17 to 64 bytes are aligned to the next power of two, so that
/// no group straddles two cache lines (one line touched per record).
template <std::size_t Size, std::size_t Natural>
inline constexpr std::size_t group_alignment = Size > 16 && Size <= 64 ? std::bit_ceil(Size) : Natural;

template <class K, class Acc, bool Weighted>
struct group_fields {
  K key{};
  std::uint32_t order = 0;
  Acc acc{};
  std::int64_t n = 0;
};
template <class K, class Acc, bool Weighted>
inline constexpr std::size_t group_entry_alignment =
    group_alignment<sizeof(group_fields<K, Acc, Weighted>) - (Weighted ? 0 : sizeof(std::int64_t)),
                    alignof(group_fields<K, Acc, Weighted>)>;

/// A group: its key, accumulator and, where records can be retracted
/// (Weighted), their net weight. Without retractions every group is live
/// and its weight is not kept: the entry stays smaller.
template <class K, class Acc, bool Weighted = true>
struct alignas(group_entry_alignment<K, Acc, Weighted>) group_entry {
  K key{};
  std::uint32_t order = 0;  // place in arrival order + 1; 0: free slot
  Acc acc{};
  std::int64_t n = 0;  // net weight of the records in this group
};
template <class K, class Acc>
struct alignas(group_entry_alignment<K, Acc, false>) group_entry<K, Acc, false> {
  K key{};
  std::uint32_t order = 0;
  Acc acc{};
  static constexpr std::int64_t n = 0;
};

/// The occupied entries of a table in arrival order.
template <class Entry>
class arrival_order {
 public:
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::remove_const_t<Entry>;
    using difference_type = std::ptrdiff_t;
    using pointer = Entry*;
    using reference = Entry&;
    iterator() = default;
    iterator(const std::uint32_t* at, Entry* slots) noexcept : at_(at), slots_(slots) {}
    reference operator*() const noexcept { return slots_[*at_]; }
    pointer operator->() const noexcept { return slots_ + *at_; }
    iterator& operator++() noexcept {
      ++at_;
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator old = *this;
      ++at_;
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.at_ == b.at_; }

   private:
    const std::uint32_t* at_ = nullptr;
    Entry* slots_ = nullptr;
  };

  arrival_order(const std::vector<std::uint32_t>& in_order, Entry* slots) noexcept : order_(&in_order), slots_(slots) {}
  [[nodiscard]] iterator begin() const noexcept { return {order_->data(), slots_}; }
  [[nodiscard]] iterator end() const noexcept { return {order_->data() + order_->size(), slots_}; }
  [[nodiscard]] std::size_t size() const noexcept { return order_->size(); }

 private:
  const std::vector<std::uint32_t>* order_;
  Entry* slots_;
};

/// What both tables share: the slots, the arrival order, iteration, clear().
template <class K, class Acc, bool Weighted>
class group_slots {
 public:
  using entry = group_entry<K, Acc, Weighted>;

  [[nodiscard]] std::size_t size() const noexcept { return order_.size(); }
  [[nodiscard]] bool empty() const noexcept { return order_.empty(); }
  [[nodiscard]] arrival_order<entry> entries() noexcept { return {order_, slots_.data()}; }
  [[nodiscard]] arrival_order<const entry> entries() const noexcept { return {order_, slots_.data()}; }

  /// Every group in slot order (memory order: a checkpoint's pass over a
  /// large table reads it front to back); entry.order - 1 is its place in
  /// arrival order.
  template <class F>
  void for_each_slot(F&& f) const {
    for (const entry& e : slots_) {
      if (e.order != 0) f(e);
    }
  }

  void clear() noexcept {
    for (const std::uint32_t i : order_) slots_[i].order = 0;
    order_.clear();
    changes_.clear();
  }

  // ---- changes, for incremental checkpoints (change_tracker.hpp) ----

  /// The groups found or inserted while tracking, by slot.
  [[nodiscard]] change_tracker& changes() const noexcept { return changes_; }
  /// How many groups are owed (what for_each_owed visits).
  [[nodiscard]] std::size_t owed_count() const noexcept {
    std::size_t n = 0;
    for_each_owed([&n](const entry&) { ++n; });
    return n;
  }
  /// Every group owed, in slot order.
  template <class F>
  void for_each_owed(F&& f) const {
    changes_.for_each_owed([&](std::size_t i) {
      if (i < slots_.size() && slots_[i].order != 0) f(slots_[i]);
    });
  }

 protected:
  [[gnu::always_inline]] void note_change(const entry& e) {
    changes_.note(static_cast<std::size_t>(&e - slots_.data()));
  }

  // ---- a restore in saved order (load_groups) ----
  static constexpr std::uint32_t no_slot = ~std::uint32_t{0};  // a place not yet taken
  // Puts a new group into free slot i at place `place` of the arrival
  // order; the places come in any order, each once (check_places).
  template <class Init>
  entry& occupy_at(std::size_t i, key_arg_t<K> key, std::uint32_t place, Init& init) {
    if (place >= order_.size()) order_.resize(std::size_t{place} + 1, no_slot);
    if (order_[place] != no_slot) throw checkpoint_error("a window's groups do not take each place in arrival order once");
    order_[place] = static_cast<std::uint32_t>(i);
    entry& e = slots_[i];
    e.key = key;
    e.acc = init();
    if constexpr (Weighted) e.n = 0;
    e.order = place + 1;
    return e;
  }

 public:
  /// After a restore's place_group calls: every place up to the last was
  /// taken (a checkpoint_error otherwise).
  void check_places() const {
    if (std::find(order_.begin(), order_.end(), no_slot) != order_.end()) {
      throw checkpoint_error("a window's groups do not take each place in arrival order once");
    }
  }

 protected:
  // Occupies free slot i with a new group.
  template <class Init>
  entry& occupy(std::size_t i, key_arg_t<K> key, Init& init) {
    order_.push_back(static_cast<std::uint32_t>(i));
    entry& e = slots_[i];
    e.key = key;
    e.acc = init();
    if constexpr (Weighted) e.n = 0;
    e.order = static_cast<std::uint32_t>(order_.size());
    return e;
  }

  std::vector<entry, large_table_allocator<entry>> slots_;  // huge pages once it is large
  std::vector<std::uint32_t> order_;  // slot indices in arrival order
  mutable change_tracker changes_;  // a checkpoint's capture is const, and folds the marks
};

}  // namespace laminar::detail

namespace laminar {

/// A window's groups in one slice of time: key -> accumulator, hashed.
template <class K, class Acc, bool Weighted = true>
class hashed_group_table : public detail::group_slots<K, Acc, Weighted> {
  using base = detail::group_slots<K, Acc, Weighted>;
  using base::slots_;
  using base::order_;

 public:
  using entry = detail::group_entry<K, Acc, Weighted>;

  // Never without slots, so that a probe needs no emptiness check.
  hashed_group_table() { resize(16); }

  /// The entry for `key`, created with `init()` if absent. The probe is
  /// inlined; inserting (and growing) is out of line, off the hot path.
  template <class Init>
  [[gnu::always_inline]] inline entry& find_or_insert(const K& key, Init&& init) {
    entry* e = find(key);
    if (e == nullptr) e = &insert(key, init);
    this->note_change(*e);
    return *e;
  }

  /// Room for `n` groups without growing (a restore knows how many).
  void reserve(std::size_t n) {
    std::size_t slots = slots_.size();
    while (n * 2 > slots) slots *= 2;
    if (slots != slots_.size()) resize(slots);
  }

  /// A restore's insert: a new group (its key absent) at place `place` of
  /// the arrival order, the places filled in any order (check_places()).
  template <class Init>
  entry& place_group(detail::key_arg_t<K> key, std::uint32_t place, Init&& init) {
    if ((std::max<std::size_t>(order_.size(), std::size_t{place} + 1) + 1) * 2 > slots_.size()) {
      reserve(std::max<std::size_t>(order_.size(), std::size_t{place} + 1) + 1);
    }
    if (find(key) != nullptr) throw checkpoint_error("a window's groups hold one key twice");
    std::size_t i = home(key);
    while (slots_[i].order != 0) i = (i + 1) & mask_;
    return this->occupy_at(i, key, place, init);
  }

  /// Starts loading `key`'s home slot into the cache: a restore inserts a
  /// million keys at random places, and hides each one's miss behind the
  /// inserts before it.
  void prefetch(detail::key_arg_t<K> key) const noexcept { __builtin_prefetch(&slots_[home(key)], 1); }
  [[nodiscard, gnu::always_inline]] inline entry* find(detail::key_arg_t<K> key) noexcept {
    std::size_t i = home(key);
    for (;;) {
      entry& e = slots_[i];
      if (e.order == 0) return nullptr;
      if (e.key == key) return &e;
      i = (i + 1) & mask_;
    }
  }

 private:
  [[nodiscard]] std::size_t home(detail::key_arg_t<K> key) const noexcept {
    return static_cast<std::size_t>(detail::mix_key_hash(std::hash<K>{}(key)) >> shift_);
  }

  template <class Init>
  [[gnu::noinline]] entry& insert(detail::key_arg_t<K> key, Init& init) {
    if ((order_.size() + 1) * 2 > slots_.size()) grow();
    std::size_t i = home(key);
    while (slots_[i].order != 0) i = (i + 1) & mask_;
    return this->occupy(i, key, init);
  }

  void grow() { resize(slots_.size() * 2); }

  // n slots (a power of two), the groups re-placed in arrival order.
  void resize(std::size_t n) {
    auto old = std::exchange(slots_, decltype(slots_)(n));
    const change_tracker marks = this->changes_.take_marks();
    mask_ = n - 1;
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(n));
    for (std::uint32_t& at : order_) {
      if (at == base::no_slot) continue;  // a place a restore has not filled yet
      entry& e = old[at];
      std::size_t i = home(e.key);
      while (slots_[i].order != 0) i = (i + 1) & mask_;
      slots_[i] = std::move(e);
      this->changes_.move_marks(marks, at, i);  // changes move with their groups
      at = static_cast<std::uint32_t>(i);
    }
    order_.reserve(n / 2);
  }

  std::size_t mask_ = 0;
  unsigned shift_ = 64;
};

template <class K, class Acc, bool Weighted = true>
class dense_group_table : public detail::group_slots<K, Acc, Weighted> {
  static_assert(detail::dense_key<K>, "laminar: dense keys must be integers (symbol ids), tagged or not");
  using base = detail::group_slots<K, Acc, Weighted>;
  using base::slots_;
  using base::order_;

 public:
  using entry = detail::group_entry<K, Acc, Weighted>;

  template <class Init>
  [[gnu::always_inline]] inline entry& find_or_insert(const K& key, Init&& init) {
    entry* e = find(key);
    if (e == nullptr) e = &insert(key, init);
    this->note_change(*e);
    return *e;
  }

  /// Keys are below n (dense_keys(n)); a key at or past it is a usage_error.
  void limit_keys(std::size_t n) noexcept { limit_ = n; }
  /// A restore's insert, as hashed_group_table::place_group.
  template <class Init>
  entry& place_group(detail::key_arg_t<K> key, std::uint32_t place, Init&& init) {
    if (find(key) != nullptr) throw checkpoint_error("a window's groups hold one key twice");
    return this->occupy_at(slot_of(key), key, place, init);
  }

  [[nodiscard, gnu::always_inline]] inline entry* find(detail::key_arg_t<K> key) noexcept {
    const auto k = static_cast<std::size_t>(detail::key_integer_of(key));  // a negative key converts to a huge k
    if (k >= capacity_ || slots_[k].order == 0) return nullptr;  // capacity_: no division by the entry size
    return &slots_[k];
  }

 private:
  template <class Init>
  [[gnu::noinline]] entry& insert(detail::key_arg_t<K> tagged, Init& init) {
    return this->occupy(slot_of(tagged), tagged, init);
  }

  // The key's slot (the key itself), its range checked, the slots grown to hold it.
  std::size_t slot_of(detail::key_arg_t<K> tagged) {
    const auto key = detail::key_integer_of(tagged);
    const auto k = static_cast<std::size_t>(key);
    if constexpr (std::is_signed_v<decltype(key)>) {
      if (key < 0) throw usage_error("laminar: dense_keys: key " + std::to_string(key) + " is negative");
    }
    if (k >= limit_) {
      throw usage_error("laminar: dense_keys(" + std::to_string(limit_) + "): key " + std::to_string(key) +
                        " is not below " + std::to_string(limit_) + "; use hashed keys for sparse key spaces");
    }
    if (k >= slots_.size()) {
      slots_.resize(std::max(k + 1, slots_.size() * 2));
      capacity_ = slots_.size();
    }
    return k;
  }

  std::size_t capacity_ = 0;
  std::size_t limit_ = detail::max_dense_key;
};

namespace detail {
/// A group as read from a checkpoint: its place in arrival order, key,
/// accumulator and net weight.
template <class Table, class Acc>
struct loaded_group {
  std::uint32_t place;
  std::remove_cvref_t<decltype(std::declval<typename Table::entry&>().key)> key;
  std::remove_cvref_t<Acc> acc;
  std::int64_t weight;
};
}  // namespace detail

/// The one checkpoint form of a group table: its groups by key group
/// (only key groups that hold some: the group, its count, and per group
/// its place in arrival order, key, accumulator and net weight), so that
/// a restore rebuilds the arrival order (the output order) exactly.
template <class Table>
void save_groups(state_writer& w, const Table& groups) {
  using entry = typename Table::entry;
  detail::key_group_buckets<const entry*> placed(w.key_groups());
  placed.reserve(groups.size());
  w.reserve(groups.size() * (sizeof(std::uint32_t) + sizeof(entry)));
  groups.for_each_slot([&](const entry& en) { placed.add(key_group_of(en.key, w.key_groups()), &en); });
  placed.write(w, [&w](const entry* e) { w(e->order - 1, e->key, e->acc, std::int64_t{e->n}); });
}

/// Reads what save_groups wrote into an empty table; `init()` makes an
/// accumulator to read into. A key held twice, in a key group it does not
/// hash to, or places in arrival order that are not each taken once, is a
/// checkpoint_error. Rescaled (state_reader::rescaling()), only the key
/// groups the instance owns are kept, appended in their saved order to
/// what the table holds.
template <class Table, class Init>
void load_groups(state_reader& r, Table& groups, Init&& init) {
  using entry = typename Table::entry;
  using loaded = detail::loaded_group<Table, decltype(init())>;
  std::uint32_t key_groups = 0;
  std::uint32_t nonempty = 0;
  r(key_groups, nonempty);
  if (key_groups == 0 || nonempty > key_groups) {
    throw checkpoint_error(std::to_string(nonempty) + " of " + std::to_string(key_groups) + " key groups hold groups");
  }
  // Not rescaled: each group goes straight to its slot and its place in
  // arrival order, in the saved order (by key group), a batch at a time so
  // that each batch's home slots are prefetched while it is read. Rescaled:
  // the groups kept are gathered, then appended in their saved order.
  const bool rescaling = r.rescaling();
  constexpr std::size_t batch_size = 32;  // slots in flight: enough to cover a miss to memory
  std::vector<loaded> batch;
  if (!rescaling) batch.reserve(batch_size);
  const auto place_batch = [&] {
    for (loaded& l : batch) {
      entry& en = groups.place_group(l.key, l.place, [&] { return std::move(l.acc); });
      if constexpr (requires { en.n = l.weight; }) en.n = l.weight;
    }
    batch.clear();
  };
  std::vector<loaded> kept;
  std::uint64_t seen = 0;  // groups read so far
  for (std::uint32_t i = 0; i < nonempty; ++i) {
    std::uint32_t g = 0;
    r(g);
    if (g >= key_groups) throw checkpoint_error("key group " + std::to_string(g) + " of " + std::to_string(key_groups));
    const bool owned = !rescaling || r.owns_key_group(g);
    const std::uint64_t n = r.read_count("window groups", sizeof(std::uint32_t));
    if constexpr (requires { groups.reserve(n); }) {
      // Keys spread evenly over key groups: the first sizes the table for
      // all (a wrong guess only costs a growth).
      if (i == 0 && !rescaling) groups.reserve(static_cast<std::size_t>(n) * nonempty + nonempty);
    }
    for (std::uint64_t k = 0; k < n; ++k) {
      loaded l{0, {}, init(), 0};
      r(l.place, l.key, l.acc, l.weight);
      if (key_group_of(l.key, key_groups) != g) {
        throw checkpoint_error("a window group's key in key group " + std::to_string(g) +
                               " hashes to another: the checkpoint is damaged, or the key's std::hash changed");
      }
      // Places are below the group count, which is at most the groups read
      // and a group per 4 bytes left (a place each): checked before the
      // arrival order is sized by it.
      if (++seen + r.remaining() / sizeof(std::uint32_t) <= l.place) {
        throw checkpoint_error("a window group's place in arrival order, " + std::to_string(l.place) +
                               ", is beyond the groups the checkpoint can hold");
      }
      if (rescaling) {
        if (owned) kept.push_back(std::move(l));
        continue;
      }
      if constexpr (requires { groups.prefetch(l.key); }) groups.prefetch(l.key);
      batch.push_back(std::move(l));
      if (batch.size() == batch_size) place_batch();
    }
  }
  if (!rescaling) {
    place_batch();
    groups.check_places();
    return;
  }
  // Some groups went to other instances: the places left keep their order,
  // after the groups earlier parts of the restore loaded.
  std::stable_sort(kept.begin(), kept.end(), [](const loaded& a, const loaded& b) { return a.place < b.place; });
  if constexpr (requires { groups.reserve(kept.size()); }) groups.reserve(groups.size() + kept.size());
  for (loaded& l : kept) {
    if (groups.find(l.key) != nullptr) throw checkpoint_error("two saved instances hold one window group's key");
    entry& en = groups.find_or_insert(l.key, [&] { return std::move(l.acc); });
    if constexpr (requires { en.n = l.weight; }) en.n = l.weight;
  }
}

/// An incremental checkpoint's form of a group table: the groups owed
/// (changed since the checkpoint the delta builds on: change_tracker), each
/// with its place in arrival order, key, accumulator and net weight.
template <class Table>
void save_group_changes(state_writer& w, const Table& groups) {
  w(static_cast<std::uint64_t>(groups.owed_count()));
  groups.for_each_owed([&w](const auto& e) { w(e.order - 1, e.key, e.acc, std::int64_t{e.n}); });
}

/// Applies what save_group_changes wrote on top of the table as the
/// checkpoint it builds on left it: a group there takes its new
/// accumulator, a new group joins at its place in arrival order (which must
/// follow the groups held). A rescaled restore applies a chain before it
/// splits it (snapshot), so a delta always meets the table that wrote it.
template <class Table, class Init>
void apply_group_changes(state_reader& r, Table& groups, Init&& init) {
  using entry = typename Table::entry;
  using loaded = detail::loaded_group<Table, decltype(init())>;
  const std::uint64_t n = r.read_count("changed window groups", sizeof(std::uint32_t));
  std::vector<loaded> added;
  for (std::uint64_t k = 0; k < n; ++k) {
    loaded l{0, {}, init(), 0};
    r(l.place, l.key, l.acc, l.weight);
    if (entry* en = groups.find(l.key)) {
      en->acc = std::move(l.acc);
      if constexpr (requires { en->n = l.weight; }) en->n = l.weight;
    } else {
      added.push_back(std::move(l));
    }
  }
  std::sort(added.begin(), added.end(), [](const loaded& a, const loaded& b) { return a.place < b.place; });
  for (loaded& l : added) {
    if (l.place != groups.size()) {
      throw checkpoint_error("an incremental checkpoint adds a window group at place " + std::to_string(l.place) +
                             " where " + std::to_string(groups.size()) + " groups are held");
    }
    entry& en = groups.find_or_insert(l.key, [&] { return std::move(l.acc); });
    if constexpr (requires { en.n = l.weight; }) en.n = l.weight;
  }
}

}  // namespace laminar
