// Per-slice group tables of the window operators: key -> (accumulator,
// record count), iterated in the order keys first arrived, so that output
// order is deterministic and the same after a restore.
//
// hashed_table: open addressing with linear probing over an index of
// (hash tag, entry) pairs; the entries themselves sit densely in arrival
// order. clear() keeps every buffer, so a recycled table allocates nothing
// in steady state.
// dense_table: for keys that are small non-negative integers (symbol ids):
// the key is the position; a list of touched keys gives the arrival order.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/core/error.hpp"

namespace laminar::detail {

template <class K, class Acc>
struct group_entry {
  K key;
  Acc acc;
  std::int64_t n = 0;  // net weight of the records in this group
};

inline std::uint64_t mix_key_hash(std::uint64_t h) noexcept {
  // Fibonacci hashing: std::hash of an integer is the identity, and linear
  // probing needs the high bits to vary.
  return h * 0x9E3779B97F4A7C15ULL;
}

template <class K, class Acc>
class hashed_table {
 public:
  using entry = group_entry<K, Acc>;

  /// The entry for `key`, created with `init()` if absent. The probe is
  /// inlined; inserting (and growing) is out of line, off the hot path.
  template <class Init>
  [[gnu::always_inline]] inline entry& find_or_insert(const K& key, Init&& init) {
    if (entry* e = find(key)) return *e;
    return insert(key, init);
  }

  [[nodiscard, gnu::always_inline]] inline entry* find(const K& key) noexcept {
    if (entries_.empty()) return nullptr;
    std::size_t i = static_cast<std::size_t>(mix_key_hash(std::hash<K>{}(key)) >> shift_);
    for (;;) {
      const std::uint32_t s = slots_[i];
      if (s == 0) return nullptr;
      entry& e = entries_[s - 1];
      if (e.key == key) return &e;
      i = (i + 1) & mask_;
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  [[nodiscard]] std::vector<entry>& entries() noexcept { return entries_; }
  [[nodiscard]] const std::vector<entry>& entries() const noexcept { return entries_; }

  void clear() noexcept {
    if (entries_.empty()) return;
    entries_.clear();
    std::fill(slots_.begin(), slots_.end(), 0U);
  }

 private:
  template <class Init>
  [[gnu::noinline]] entry& insert(const K& key, Init& init) {
    if ((entries_.size() + 1) * 2 > slots_.size()) grow();
    std::size_t i = static_cast<std::size_t>(mix_key_hash(std::hash<K>{}(key)) >> shift_);
    while (slots_[i] != 0) i = (i + 1) & mask_;
    entries_.push_back(entry{key, init(), 0});
    slots_[i] = static_cast<std::uint32_t>(entries_.size());
    return entries_.back();
  }

  void grow() {
    const std::size_t n = slots_.empty() ? 16 : slots_.size() * 2;
    slots_.assign(n, 0U);
    mask_ = n - 1;
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(n));
    for (std::size_t k = 0; k < entries_.size(); ++k) {
      std::size_t i = static_cast<std::size_t>(mix_key_hash(std::hash<K>{}(entries_[k].key)) >> shift_);
      while (slots_[i] != 0) i = (i + 1) & mask_;
      slots_[i] = static_cast<std::uint32_t>(k + 1);
    }
    entries_.reserve(n / 2);
  }

  std::vector<entry> entries_;
  std::vector<std::uint32_t> slots_;  // 0: empty; otherwise entry index + 1
  std::size_t mask_ = 0;
  unsigned shift_ = 64;
};

/// Dense keys index an array: a key this large is a mistake, not a symbol id.
inline constexpr std::size_t max_dense_key = std::size_t{1} << 26;

template <class K, class Acc>
class dense_table {
  static_assert(std::is_integral_v<K>, "laminar: dense keys must be integers (symbol ids)");

 public:
  using entry = group_entry<K, Acc>;

  template <class Init>
  [[gnu::always_inline]] inline entry& find_or_insert(const K& key, Init&& init) {
    if (entry* e = find(key)) return *e;
    return insert(key, init);
  }

  [[nodiscard, gnu::always_inline]] inline entry* find(const K& key) noexcept {
    const auto k = static_cast<std::size_t>(key);  // a negative key converts to a huge k
    if (k >= index_.size() || index_[k] == 0) return nullptr;
    return &entries_[index_[k] - 1];
  }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  [[nodiscard]] std::vector<entry>& entries() noexcept { return entries_; }
  [[nodiscard]] const std::vector<entry>& entries() const noexcept { return entries_; }

  void clear() noexcept {
    for (const entry& e : entries_) index_[static_cast<std::size_t>(e.key)] = 0;
    entries_.clear();
  }

 private:
  template <class Init>
  [[gnu::noinline]] entry& insert(const K& key, Init& init) {
    const auto k = static_cast<std::size_t>(key);
    if constexpr (std::is_signed_v<K>) {
      if (key < 0) throw usage_error("laminar: dense_keys: key " + std::to_string(key) + " is negative");
    }
    if (k >= max_dense_key) {
      throw usage_error("laminar: dense_keys: key " + std::to_string(key) + " is not below " +
                        std::to_string(max_dense_key) + "; use hashed keys for sparse key spaces");
    }
    if (k >= index_.size()) index_.resize(k + 1 > index_.size() * 2 ? k + 1 : index_.size() * 2, 0U);
    entries_.push_back(entry{key, init(), 0});
    index_[k] = static_cast<std::uint32_t>(entries_.size());
    return entries_.back();
  }


  std::vector<entry> entries_;
  std::vector<std::uint32_t> index_;  // by key: 0 absent, else entry index + 1
};

}  // namespace laminar::detail
