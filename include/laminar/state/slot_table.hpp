// Keyed state by slot: key -> that key's state, for the operators whose keys
// come and go (session windows, key-major windows, every join).
//
// Unlike the window groups (group_table.hpp), keys leave this table (once
// their state is empty), and each key keeps its slot index for as long as
// it is in the table, because timers and lists name keys by slot. So states live in a vector of slots, reused through a free list,
// and an open-addressing index (linear probing, at most half full, erased
// by backward shift) maps keys to slots. An index cell holds the slot and
// the high 32 bits of the key's hash: a probe compares keys only on a tag
// match, and erasing or growing never rehashes a key.
//
// An erased slot keeps its state's buffers (State::reset() clears it), so a
// key that comes back, or a new key in its slot, allocates nothing.
//
// save_slots/load_slots are the one checkpoint form of this table and of
// dense_slot_table (dense_slot_table.hpp): keys by key group, each keeping
// its slot across a restore; every count and slot index read back is
// checked against the bytes left and the table's size before it is used.
// save_slot_changes/apply_slot_changes are the incremental form: the slots
// changed since the checkpoint a delta builds on.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <string>
#include <vector>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/state/change_tracker.hpp"
#include "laminar/state/detail/large_table_allocator.hpp"
#include "laminar/state/key.hpp"

namespace laminar {

/// Keys to stable slots holding a State each; a free slot is reused, its
/// state's buffers kept (State::reset() clears it).

template <class K, class State>
class slot_table {
 public:
  static constexpr std::uint32_t npos = ~std::uint32_t{0};

  slot_table() { rebuild_index(16); }

  /// The slot of `key`, or npos.
  [[nodiscard, gnu::always_inline]] inline std::uint32_t find(detail::key_arg_t<K> key) const noexcept {
    const std::uint64_t h = detail::mix_key_hash(std::hash<K>{}(key));
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    for (std::size_t i = static_cast<std::size_t>(h >> shift_);; i = (i + 1) & mask_) {
      const cell c = index_[i];
      if (c.slot == 0) return npos;
      if (c.tag == tag && slots_[c.slot - 1].key == key) return c.slot - 1;
    }
  }

  /// Adds `key` (absent) in a free slot; returns the slot.
  [[gnu::noinline]] std::uint32_t insert(detail::key_arg_t<K> key) {
    std::uint32_t s = 0;
    if (free_.empty()) {
      s = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    } else {
      s = free_.back();
      free_.pop_back();
    }
    occupy(s, key);
    return s;
  }

  /// Removes the key in slot s; the slot (and its state's buffers) is reused later.
  void erase(std::uint32_t s) {
    slot& sl = slots_[s];
    std::size_t i = position_of(s, tag_of(sl.key));
    // Backward shift: move later cells of the probe run into the hole
    // unless their home lies cyclically in (hole, cell].
    for (std::size_t j = (i + 1) & mask_; index_[j].slot != 0; j = (j + 1) & mask_) {
      const std::size_t home = home_of(index_[j].tag);
      const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
      if (!stays) {
        index_[i] = index_[j];
        i = j;
      }
    }
    index_[i] = cell{};
    sl.key = K{};
    sl.state.reset();
    sl.live = false;
    free_.push_back(s);
    --size_;
    changes_.note(s);
  }

  [[nodiscard]] bool live(std::uint32_t s) const noexcept { return s < slots_.size() && slots_[s].live; }
  [[nodiscard]] const K& key(std::uint32_t s) const noexcept { return slots_[s].key; }
  /// A key's state, to change: marked changed while tracking (changes()).
  [[nodiscard, gnu::always_inline]] State& state(std::uint32_t s) {
    changes_.note(s);
    return slots_[s].state;
  }
  [[nodiscard]] const State& state(std::uint32_t s) const noexcept { return slots_[s].state; }
  /// The slots inserted, erased or reached through state(s) while
  /// tracking, for incremental checkpoints (save_slot_changes).
  [[nodiscard]] change_tracker& changes() const noexcept { return changes_; }
  /// Keys in the table.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// Slots, live or free (slot indices are below this).
  [[nodiscard]] std::size_t slot_count() const noexcept { return slots_.size(); }
  /// Free slots, in the order they will be reused (last first).
  [[nodiscard]] const std::vector<std::uint32_t>& free_slots() const noexcept { return free_; }

  // ---- restore: the same keys in the same slots, the same free list ----

  /// Empties the table and makes n free slots (not yet in the free list).
  void reset(std::size_t n) {
    for (slot& sl : slots_) {
      sl.key = K{};
      sl.state.reset();
      sl.live = false;
    }
    slots_.resize(n);
    free_.clear();
    size_ = 0;
    std::fill(index_.begin(), index_.end(), cell{});
    changes_.clear();
  }
  /// At least n slots: those added are free (restore_free_slots lists them).
  void grow(std::size_t n) {
    if (n > slots_.size()) slots_.resize(n);
  }
  /// Puts `key` into slot s (a slot made by reset()); returns s. A key
  /// already in the table is a checkpoint_error.
  std::uint32_t restore(std::uint32_t s, detail::key_arg_t<K> key) {
    if (slots_[s].live) throw checkpoint_error("the checkpoint holds two keys in key slot " + std::to_string(s));
    if (find(key) != npos) throw checkpoint_error("the checkpoint holds one key in two slots");
    occupy(s, key);
    return s;
  }
  /// Sets the free list: each slot in it must be one that is not live,
  /// named once. Free slots it does not name (a dense table's checkpoint
  /// has no free list) are reused after those it names, lowest first.
  void restore_free_slots(std::vector<std::uint32_t> free) {
    std::vector<bool> listed(slots_.size(), false);
    for (const std::uint32_t s : free) {
      if (s >= slots_.size() || slots_[s].live || listed[s]) {
        throw checkpoint_error("the checkpoint's free list names key slot " + std::to_string(s) + ", which is " +
                               (s >= slots_.size() ? "out of range" : slots_[s].live ? "live" : "named twice"));
      }
      listed[s] = true;
    }
    free_.clear();
    for (std::size_t s = slots_.size(); s-- > 0;) {
      if (!slots_[s].live && !listed[s]) free_.push_back(static_cast<std::uint32_t>(s));
    }
    free_.insert(free_.end(), free.begin(), free.end());
  }

 private:
  struct cell {
    std::uint32_t tag = 0;   // the high 32 bits of the key's mixed hash
    std::uint32_t slot = 0;  // slot + 1; 0: empty
  };
  // A cache line or more each, so a key and the start of its state (the
  // hot part of it, by the owner's layout) share one line.
  struct alignas(64) slot {
    K key{};
    bool live = false;
    State state{};
  };

  static std::uint32_t tag_of(detail::key_arg_t<K> key) noexcept {
    return static_cast<std::uint32_t>(detail::mix_key_hash(std::hash<K>{}(key)) >> 32);
  }
  // The home cell is the top bits of the hash, which the tag holds (the
  // index has at most 2^32 cells).
  [[nodiscard]] std::size_t home_of(std::uint32_t tag) const noexcept {
    return static_cast<std::size_t>((std::uint64_t{tag} << 32) >> shift_);
  }
  [[nodiscard]] std::size_t position_of(std::uint32_t s, std::uint32_t tag) const noexcept {
    std::size_t i = home_of(tag);
    while (index_[i].slot != s + 1) i = (i + 1) & mask_;
    return i;
  }

  void occupy(std::uint32_t s, detail::key_arg_t<K> key) {
    if ((size_ + 1) * 2 > index_.size()) rebuild_index(index_.size() * 2);
    slot& sl = slots_[s];
    sl.key = key;
    sl.live = true;
    place(cell{tag_of(sl.key), s + 1});
    ++size_;
    changes_.note(s);
  }
  void place(cell c) noexcept {
    std::size_t i = home_of(c.tag);
    while (index_[i].slot != 0) i = (i + 1) & mask_;
    index_[i] = c;
  }
  void rebuild_index(std::size_t n) {
    auto old = std::exchange(index_, decltype(index_)(n));
    mask_ = n - 1;
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(n));
    for (const cell& c : old) {
      if (c.slot != 0) place(c);
    }
  }

  std::vector<slot, detail::large_table_allocator<slot>> slots_;
  std::vector<std::uint32_t> free_;
  std::vector<cell, detail::large_table_allocator<cell>> index_;
  std::size_t mask_ = 0;
  unsigned shift_ = 64;
  std::size_t size_ = 0;
  mutable change_tracker changes_;  // a checkpoint's capture is const, and folds the marks
};

namespace detail {
// A slot table's free list, last reused first: its count, then the slots.
inline void save_free_slots(state_writer& w, const std::vector<std::uint32_t>& free) {
  w(static_cast<std::uint64_t>(free.size()));
  for (const std::uint32_t s : free) w(s);
}
inline std::vector<std::uint32_t> load_free_slots(state_reader& r) {
  std::vector<std::uint32_t> free(static_cast<std::size_t>(r.read_count("free key slots", sizeof(std::uint32_t))));
  for (std::uint32_t& s : free) r(s);
  return free;
}
}  // namespace detail

/// The checkpoint form of a slot table (slot_table or dense_slot_table):
/// the slot count, then the live keys by key group (only groups that hold
/// keys: the group, its key count, and per key its slot, the key and what
/// save_state(const State&) writes), then the free list. A key group is
/// the unit in which keyed state moves between instances of a node.
template <class Table, class SaveState>
void save_slots(state_writer& w, const Table& t, SaveState&& save_state) {
  // About what a key takes (slot, key, a state the size of its struct): a
  // large table's bytes are written once, not regrown.
  w.reserve(t.size() * (sizeof(std::uint32_t) + sizeof(t.key(0)) + sizeof(t.state(0))));
  w(static_cast<std::uint64_t>(t.slot_count()));
  detail::key_group_buckets<std::uint32_t> slots(w.key_groups());
  for (std::uint32_t s = 0; s < t.slot_count(); ++s) {
    if (t.live(s)) slots.add(key_group_of(t.key(s), w.key_groups()), s);
  }
  slots.write(w, [&](std::uint32_t s) {
    w(s, t.key(s));
    save_state(t.state(s));
  });
  detail::save_free_slots(w, t.free_slots());
}

/// Reads what save_slots wrote into `t`, emptied first; each live key's
/// state is read by load_state(slot, State&). Keys get their saved slots.
/// Every count, group, slot and key is checked before it is used: a slot
/// out of range or taken twice, a key twice or in a group it does not
/// hash to, is a checkpoint_error.
///
/// Rescaled (state_reader::rescaling()): keys of key groups the instance
/// does not own are read into a scratch state and dropped; a later part
/// (merging()) adds its keys to `t` in new slots instead of emptying it.
template <class Table, class LoadState>
void load_slots(state_reader& r, Table& t, LoadState&& load_state) {
  using key_type = std::remove_cvref_t<decltype(t.key(0))>;
  using state_type = std::remove_cvref_t<decltype(t.state(0))>;
  const std::uint64_t n = r.read_count("key slots");
  if (n >= Table::npos) throw checkpoint_error("a count of " + std::to_string(n) + " key slots is too many");
  const bool merging = r.merging();
  if (!merging) t.reset(static_cast<std::size_t>(n));
  std::uint32_t groups = 0;
  std::uint32_t nonempty = 0;
  r(groups, nonempty);
  if (groups == 0 || nonempty > groups) {
    throw checkpoint_error(std::to_string(nonempty) + " of " + std::to_string(groups) + " key groups hold keys");
  }
  std::uint32_t last_group = 0;
  for (std::uint32_t i = 0; i < nonempty; ++i) {
    std::uint32_t g = 0;
    r(g);
    if (g >= groups || (i > 0 && g <= last_group)) {
      throw checkpoint_error("key group " + std::to_string(g) + " of " + std::to_string(groups) +
                             " is out of range or out of order");
    }
    last_group = g;
    const bool owned = !r.rescaling() || r.owns_key_group(g);
    const std::uint64_t keys = r.read_count("keys in a key group", sizeof(std::uint32_t));
    for (std::uint64_t k = 0; k < keys; ++k) {
      std::uint32_t s = 0;
      key_type key{};
      r(s, key);
      if (s >= n) {
        throw checkpoint_error("key slot " + std::to_string(s) + " is beyond the " + std::to_string(n) + " saved");
      }
      if (key_group_of(key, groups) != g) {
        throw checkpoint_error("a key in key group " + std::to_string(g) +
                               " hashes to another: the checkpoint is damaged, or the key's std::hash changed");
      }
      if (!owned) {  // another instance's now: read past it
        state_type scratch{};
        load_state(Table::npos, scratch);
        continue;
      }
      std::uint32_t at = 0;
      if (merging) {
        if (t.find(key) != Table::npos) throw checkpoint_error("two saved instances hold one key");
        at = t.insert(key);
      } else {
        at = t.restore(s, key);
      }
      load_state(at, t.state(at));
    }
  }
  std::vector<std::uint32_t> free = detail::load_free_slots(r);
  if (!merging) t.restore_free_slots(std::move(free));  // a dropped key's slot is free too
}

/// An incremental checkpoint's form of a slot table (slot_table or
/// dense_slot_table): the slot count; the slots owed (changed since the
/// checkpoint the delta builds on: Table::changes(), in slot order); those
/// of them live now, each with its slot, key and what
/// save_state(const State&) writes; then
/// the whole free list. A slot erased since is owed and not live.
template <class Table, class SaveState>
void save_slot_changes(state_writer& w, const Table& t, SaveState&& save_state) {
  std::vector<std::uint32_t> owed;
  std::uint64_t live = 0;
  t.changes().for_each_owed([&](std::size_t s) {
    if (s >= t.slot_count()) return;
    owed.push_back(static_cast<std::uint32_t>(s));
    if (t.live(static_cast<std::uint32_t>(s))) ++live;
  });
  w(static_cast<std::uint64_t>(t.slot_count()), static_cast<std::uint64_t>(owed.size()));
  for (const std::uint32_t s : owed) w(s);
  w(live);
  for (const std::uint32_t s : owed) {
    if (!t.live(s)) continue;
    w(s, t.key(s));
    save_state(t.state(s));
  }
  detail::save_free_slots(w, t.free_slots());
}

/// A keyed stage's capture of its table: the slots changed since the
/// delta's base (save_slot_changes) when its incremental_capture said
/// `delta`, or the whole table (save_slots).
template <class Table, class SaveState>
void save_table(state_writer& w, const Table& t, bool delta, SaveState&& save_state) {
  if (delta) {
    save_slot_changes(w, t, save_state);
  } else {
    save_slots(w, t, save_state);
  }
}

/// Applies what save_slot_changes wrote to `t` as the checkpoint the delta
/// builds on left it: every owed slot is emptied, then those live take
/// their key and state (load_state(slot, State&)), then the free list. A
/// key that moved to another slot was erased from its old one, so it is
/// owed there too. Counts and slots are checked as load_slots checks them.
/// A rescaled restore materializes the chain first (snapshot), so a delta
/// is always applied to the instance that wrote it.
template <class Table, class LoadState>
void apply_slot_changes(state_reader& r, Table& t, LoadState&& load_state) {
  const std::uint64_t n = r.read_count("key slots");
  if (n >= Table::npos) throw checkpoint_error("a count of " + std::to_string(n) + " key slots is too many");
  t.grow(static_cast<std::size_t>(n));
  const std::uint64_t m = r.read_count("changed key slots", sizeof(std::uint32_t));
  std::vector<std::uint32_t> owed(static_cast<std::size_t>(m));
  for (std::size_t i = 0; i < owed.size(); ++i) {
    std::uint32_t& s = owed[i];
    r(s);
    if (s >= n || (i > 0 && s <= owed[i - 1])) {
      throw checkpoint_error("changed key slot " + std::to_string(s) + " of " + std::to_string(n) +
                             " is out of range or out of order");
    }
    if (t.live(s)) t.erase(s);
  }
  const std::uint64_t live = r.read_count("changed keys", sizeof(std::uint32_t));
  for (std::uint64_t k = 0; k < live; ++k) {
    using key_type = std::remove_cvref_t<decltype(t.key(0))>;
    std::uint32_t s = 0;
    key_type key{};
    r(s, key);
    if (!std::binary_search(owed.begin(), owed.end(), s)) {
      throw checkpoint_error("an incremental checkpoint changes key slot " + std::to_string(s) +
                             ", which it does not list as changed");
    }
    s = t.restore(s, key);  // a key in two slots, or two keys in one, is a checkpoint_error
    load_state(s, t.state(s));
  }
  std::vector<std::uint32_t> free = detail::load_free_slots(r);
  t.restore_free_slots(std::move(free));
}

}  // namespace laminar
