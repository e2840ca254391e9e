// Keyed state for .dense_keys(n): keys are integers in [0, n) (symbol ids)
// and a key's slot is the key itself, so finding it is an index: no hash,
// no probe, no key comparison. The interface and the checkpoint form are
// slot_table's (slot_table.hpp), so an operator switches between the two by
// type. The array grows to the largest key seen. A key outside [0, n) is a
// usage_error naming it and the join.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/core/error.hpp"
#include "laminar/core/tagged_key.hpp"
#include "laminar/state/change_tracker.hpp"

namespace laminar {

template <class K, class State>
class dense_slot_table {
  static_assert(detail::dense_key<K>, "laminar: dense_keys() needs integer keys (symbol ids), tagged or not");
  using I = detail::key_integer_t<K>;

 public:
  static constexpr std::uint32_t npos = ~std::uint32_t{0};

  /// `join` names the operator in error messages ("interval_join").
  dense_slot_table(std::size_t limit, const char* join) : limit_(limit), join_(join) {}

  /// The slot of `key`, or npos; a key outside [0, n) throws.
  [[nodiscard, gnu::always_inline]] inline std::uint32_t find(K key) const {
    const auto k = static_cast<std::size_t>(detail::key_integer_of(key));  // a negative key converts to a huge k
    if (k < live_.size()) [[likely]] return live_[k] != 0 ? static_cast<std::uint32_t>(k) : npos;
    check(key);
    return npos;
  }
  /// The state of `key` if it has a slot (a key not in the table has an
  /// empty one), or null; a key outside [0, n) throws. For a lookup that
  /// reads the state either way: no liveness check.
  [[nodiscard, gnu::always_inline]] inline const State* lookup(K key) const {
    const auto k = static_cast<std::size_t>(detail::key_integer_of(key));
    if (k < slots_.size()) [[likely]] return &slots_[k].state;
    check(key);
    return nullptr;
  }
  /// ... to change: marked changed while tracking (changes()).
  [[nodiscard, gnu::always_inline]] inline State* lookup(K key) {
    const auto k = static_cast<std::size_t>(detail::key_integer_of(key));
    if (k < slots_.size()) [[likely]] {
      changes_.note(k);
      return &slots_[k].state;
    }
    check(key);
    return nullptr;
  }
  [[gnu::noinline]] std::uint32_t insert(K key) {
    check(key);
    const auto k = static_cast<std::size_t>(detail::key_integer_of(key));
    if (k >= slots_.size()) {
      const std::size_t n = std::min(limit_, std::max({k + 1, 2 * slots_.size(), std::size_t{16}}));
      slots_.resize(n);
      live_.resize(n);
    }
    live_[k] = 1;
    ++size_;
    changes_.note(k);
    return static_cast<std::uint32_t>(k);
  }
  void erase(std::uint32_t s) {
    slots_[s].state.reset();
    live_[s] = 0;
    --size_;
    changes_.note(s);
  }
  /// Throws the usage_error for a key outside [0, n); nothing otherwise.
  void check(K tagged) const {
    const I key = detail::key_integer_of(tagged);
    if constexpr (std::is_signed_v<I>) {
      if (key < 0) {
        throw usage_error(std::string("laminar: ") + join_ + ": dense_keys: key " + std::to_string(key) +
                          " is negative");
      }
    }
    if (static_cast<std::size_t>(key) >= limit_) {
      throw usage_error(std::string("laminar: ") + join_ + ": dense_keys(" + std::to_string(limit_) + "): key " +
                        std::to_string(key) + " is not below " + std::to_string(limit_));
    }
  }

  [[nodiscard]] bool live(std::uint32_t s) const noexcept { return s < live_.size() && live_[s] != 0; }
  [[nodiscard]] K key(std::uint32_t s) const noexcept { return detail::key_from_integer<K>(static_cast<I>(s)); }
  /// A key's state, to change: marked changed while tracking (changes()).
  [[nodiscard, gnu::always_inline]] State& state(std::uint32_t s) {
    changes_.note(s);
    return slots_[s].state;
  }
  [[nodiscard]] const State& state(std::uint32_t s) const noexcept { return slots_[s].state; }
  /// As slot_table::changes().
  [[nodiscard]] change_tracker& changes() const noexcept { return changes_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t slot_count() const noexcept { return slots_.size(); }
  /// None: a key's slot is the key.
  [[nodiscard]] const std::vector<std::uint32_t>& free_slots() const noexcept { return no_free_; }

  // ---- restore: each key into its own slot ----
  void reset(std::size_t) {
    for (std::uint32_t s = 0; s < slots_.size(); ++s) {
      if (live_[s] != 0) erase(s);
    }
    changes_.clear();
  }
  /// Slots grow with the keys inserted: nothing to do.
  void grow(std::size_t) const noexcept {}
  /// Puts `key` into its slot, which must be s; returns it.
  std::uint32_t restore(std::uint32_t s, K tagged) {
    const I key = detail::key_integer_of(tagged);
    const bool in_range = (!std::is_signed_v<I> || key >= 0) && static_cast<std::size_t>(key) < limit_;
    if (!in_range || static_cast<std::size_t>(key) != s) {
      throw checkpoint_error(std::string("laminar: ") + join_ + ": the checkpoint holds key " + std::to_string(key) +
                             " in slot " + std::to_string(s) + " of dense_keys(" + std::to_string(limit_) + ")");
    }
    if (find(tagged) != npos) {
      throw checkpoint_error(std::string("laminar: ") + join_ + ": the checkpoint holds key " + std::to_string(key) +
                             " twice");
    }
    return insert(tagged);
  }
  /// A dense table keeps no free list: the checkpoint's must be empty.
  void restore_free_slots(const std::vector<std::uint32_t>& free) const {
    if (!free.empty()) {
      throw checkpoint_error(std::string("laminar: ") + join_ + ": the checkpoint gives a free list to dense keys");
    }
  }

 private:
  // No key's state straddles two cache lines: one of 17 to 64 bytes is
  // aligned to the next power of two (a 24-byte state to 32: two keys to a
  // line), a larger one to a line.
  static constexpr std::size_t slot_alignment =
      sizeof(State) <= 16 ? alignof(State)
                          : std::max(std::bit_ceil(std::min<std::size_t>(sizeof(State), 64)), alignof(State));
  struct alignas(slot_alignment) slot {
    State state;
  };

  std::vector<slot> slots_;
  std::vector<std::uint8_t> live_;
  std::vector<std::uint32_t> no_free_;
  std::size_t limit_;
  const char* join_;
  std::size_t size_ = 0;
  mutable change_tracker changes_;
};

}  // namespace laminar
