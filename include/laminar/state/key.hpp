// Keys of keyed state: what a keyed operator (a window, a join) groups a
// record by, how keys are passed on the hot path, and how they are hashed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/operator/key_by.hpp"
#include "laminar/state/detail/large_table_allocator.hpp"

namespace laminar {

/// The key of an operator that is not keyed: every record is in one group.
struct global_key {
  friend constexpr bool operator==(global_key, global_key) noexcept { return true; }
  friend constexpr bool operator<(global_key, global_key) noexcept { return false; }
  friend std::ostream& operator<<(std::ostream& os, global_key) { return os << "global"; }
  template <class Archive>
  void serialize(Archive&) {}
};

}  // namespace laminar

template <>
struct std::hash<laminar::global_key> {
  std::size_t operator()(laminar::global_key) const noexcept { return 0; }
};

namespace laminar::detail {

/// The key a keyed operator groups a record by: the stream's key
/// projection, or global_key for an un-keyed stream.
template <class Ctx>
auto group_key_of(const Ctx& ctx, const typename Ctx::value_type& e) {
  if constexpr (Ctx::keyed()) {
    return std::remove_cvref_t<decltype(key_of(ctx, e))>(key_of(ctx, e));
  } else {
    (void)ctx;
    (void)e;
    return global_key{};
  }
}
template <class Ctx>
using group_key_t = decltype(group_key_of(std::declval<const Ctx&>(), std::declval<const typename Ctx::value_type&>()));

/// How keys are passed around: small trivially copyable keys by value, so
/// that the hot path keeps them in registers instead of spilling them for a
/// reference to the out-of-line insert.
template <class K>
using key_arg_t = std::conditional_t<std::is_trivially_copyable_v<K> && sizeof(K) <= 16, K, const K&>;

/// Dense keys index an array: a key this large is a mistake, not a symbol id.
inline constexpr std::size_t max_dense_key = std::size_t{1} << 26;

inline std::uint64_t mix_key_hash(std::uint64_t h) noexcept {
  // Fibonacci hashing: std::hash of an integer is the identity, and linear
  // probing needs the high bits to vary.
  return h * 0x9E3779B97F4A7C15ULL;
}

}  // namespace laminar::detail

namespace laminar {

/// The key group of a key among `groups`: keyed state is saved by key
/// group, the unit in which it moves when a node restores with another
/// number of instances. The top bits of the key's mixed hash, scaled to
/// [0, groups) (no division).
template <class K>
[[nodiscard]] std::uint32_t key_group_of(const K& key, std::uint32_t groups) noexcept {
  const std::uint64_t top = detail::mix_key_hash(std::hash<K>{}(key)) >> 32;
  return static_cast<std::uint32_t>((top * groups) >> 32);
}

namespace detail {

/// Keyed state as it is saved, group by group: items bucketed by key
/// group, written as the group count, the count of groups holding items,
/// and per such group (ascending) its index, its item count and each item
/// (write_item). Off the hot path: one pass per checkpoint.
template <class Item>
class key_group_buckets {
 public:
  explicit key_group_buckets(std::uint32_t groups) : groups_(groups) {}
  void reserve(std::size_t n) {
    items_.reserve(n);
    group_of_.reserve(n);
  }
  void add(std::uint32_t group, Item item) {
    group_of_.push_back(group);
    items_.push_back(std::move(item));
  }
  /// The items in key-group order (a counting sort: two passes and one
  /// index, not a vector per group), each group's in the order added.
  template <class Writer, class WriteItem>
  void write(Writer& w, WriteItem&& write_item) const {
    std::uint32_t top = 0;
    for (const std::uint32_t g : group_of_) top = g + 1 > top ? g + 1 : top;
    std::vector<std::uint32_t> start(static_cast<std::size_t>(top) + 1, 0);
    for (const std::uint32_t g : group_of_) ++start[g + 1];
    std::uint32_t holding = 0;
    for (std::uint32_t g = 0; g < top; ++g) holding += start[g + 1] != 0 ? 1U : 0U;
    for (std::uint32_t g = 0; g < top; ++g) start[g + 1] += start[g];
    std::vector<std::uint32_t, large_table_allocator<std::uint32_t>> order(items_.size());
    std::vector<std::uint32_t> next(start.begin(), start.end() - 1);
    for (std::size_t i = 0; i < items_.size(); ++i) order[next[group_of_[i]]++] = static_cast<std::uint32_t>(i);
    w(groups_, holding);
    for (std::uint32_t g = 0; g < top; ++g) {
      if (start[g + 1] == start[g]) continue;
      w(g, static_cast<std::uint64_t>(start[g + 1] - start[g]));
      for (std::uint32_t k = start[g]; k < start[g + 1]; ++k) {
        // Items in key-group order lie at random places of their table: a
        // pointer's target is fetched a stride ahead, so the misses overlap.
        if constexpr (std::is_pointer_v<Item>) {
          if (k + prefetch_ahead < order.size()) __builtin_prefetch(items_[order[k + prefetch_ahead]]);
        }
        write_item(items_[order[k]]);
      }
    }
  }

 private:
  static constexpr std::size_t prefetch_ahead = 16;
  std::uint32_t groups_;
  std::vector<Item, large_table_allocator<Item>> items_;  // as large as the table: huge pages
  std::vector<std::uint32_t, large_table_allocator<std::uint32_t>> group_of_;
};

}  // namespace detail
}  // namespace laminar
