// The key table of the session window operator: key -> that key's state.
//
// Unlike the slices' group tables (key_table.hpp), keys leave this table
// (once their sessions have closed), and each key keeps its slot index for
// as long as it is in the table, because the operator's timers name keys by
// slot. So states live in a vector of slots, reused through a free list,
// and an open-addressing index (linear probing, at most half full, erased
// by backward shift) maps keys to slots. An index cell holds the slot and
// the high 32 bits of the key's hash: a probe compares keys only on a tag
// match, and erasing or growing never rehashes a key.
//
// An erased slot keeps its state's buffers (State::reset() clears it), so a
// key that comes back, or a new key in its slot, allocates nothing.
//
// inline_back_list: the per-key list of sessions, its last one inline.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "laminar/window/detail/key_table.hpp"  // mix_key_hash, key_arg_t

namespace laminar::detail {

/// A short list, kept in order by its owner, whose last element is stored
/// inline and the others in a vector: the record path finds a key's newest
/// session in the key's own slot, and most keys have one session open.
template <class T>
class inline_back_list {
 public:
  [[nodiscard]] std::size_t size() const noexcept { return has_back_ ? front_.size() + 1 : 0; }
  [[nodiscard]] bool empty() const noexcept { return !has_back_; }
  [[nodiscard]] T& back() noexcept { return back_; }
  [[nodiscard]] T& operator[](std::size_t i) noexcept { return i == front_.size() ? back_ : front_[i]; }
  [[nodiscard]] const T& operator[](std::size_t i) const noexcept { return i == front_.size() ? back_ : front_[i]; }

  /// Inserts x before position pos (pos == size(): at the back).
  T& insert(std::size_t pos, T&& x) {
    if (pos == size()) {
      if (has_back_) front_.push_back(std::move(back_));
      back_ = std::move(x);
      has_back_ = true;
      return back_;
    }
    front_.insert(front_.begin() + static_cast<std::ptrdiff_t>(pos), std::move(x));
    return front_[pos];
  }
  void push_back(T&& x) { insert(size(), std::move(x)); }

  /// Erases positions [lo, hi). References to elements at or after lo-1 may move.
  void erase(std::size_t lo, std::size_t hi) {
    if (lo == hi) return;
    if (hi < size()) {
      front_.erase(front_.begin() + static_cast<std::ptrdiff_t>(lo), front_.begin() + static_cast<std::ptrdiff_t>(hi));
    } else if (lo == 0) {
      clear();
    } else {  // the back goes: the element before lo becomes the back
      back_ = std::move(front_[lo - 1]);
      front_.erase(front_.begin() + static_cast<std::ptrdiff_t>(lo - 1), front_.end());
    }
  }
  /// Keeps the vector's buffer.
  void clear() noexcept {
    front_.clear();
    has_back_ = false;
  }

 private:
  T back_{};
  bool has_back_ = false;
  std::vector<T> front_;
};

template <class K, class State>
class slot_table {
 public:
  static constexpr std::uint32_t npos = ~std::uint32_t{0};

  slot_table() { rebuild_index(16); }

  /// The slot of `key`, or npos.
  [[nodiscard, gnu::always_inline]] inline std::uint32_t find(key_arg_t<K> key) const noexcept {
    const std::uint64_t h = mix_key_hash(std::hash<K>{}(key));
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    for (std::size_t i = static_cast<std::size_t>(h >> shift_);; i = (i + 1) & mask_) {
      const cell c = index_[i];
      if (c.slot == 0) return npos;
      if (c.tag == tag && slots_[c.slot - 1].key == key) return c.slot - 1;
    }
  }

  /// Adds `key` (absent) in a free slot; returns the slot.
  [[gnu::noinline]] std::uint32_t insert(key_arg_t<K> key) {
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
  }

  [[nodiscard]] bool live(std::uint32_t s) const noexcept { return s < slots_.size() && slots_[s].live; }
  [[nodiscard]] const K& key(std::uint32_t s) const noexcept { return slots_[s].key; }
  [[nodiscard]] State& state(std::uint32_t s) noexcept { return slots_[s].state; }
  [[nodiscard]] const State& state(std::uint32_t s) const noexcept { return slots_[s].state; }
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
  }
  /// Puts `key` into slot s (a slot made by reset()).
  void restore(std::uint32_t s, key_arg_t<K> key) { occupy(s, key); }
  void restore_free_slots(std::vector<std::uint32_t> free) { free_ = std::move(free); }

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

  static std::uint32_t tag_of(key_arg_t<K> key) noexcept {
    return static_cast<std::uint32_t>(mix_key_hash(std::hash<K>{}(key)) >> 32);
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

  void occupy(std::uint32_t s, key_arg_t<K> key) {
    if ((size_ + 1) * 2 > index_.size()) rebuild_index(index_.size() * 2);
    slot& sl = slots_[s];
    sl.key = key;
    sl.live = true;
    place(cell{tag_of(sl.key), s + 1});
    ++size_;
  }
  void place(cell c) noexcept {
    std::size_t i = home_of(c.tag);
    while (index_[i].slot != 0) i = (i + 1) & mask_;
    index_[i] = c;
  }
  void rebuild_index(std::size_t n) {
    std::vector<cell> old = std::exchange(index_, std::vector<cell>(n));
    mask_ = n - 1;
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(n));
    for (const cell& c : old) {
      if (c.slot != 0) place(c);
    }
  }

  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_;
  std::vector<cell> index_;
  std::size_t mask_ = 0;
  unsigned shift_ = 64;
  std::size_t size_ = 0;
};

}  // namespace laminar::detail
