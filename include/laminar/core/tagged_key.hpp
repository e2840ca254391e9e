// Strong keys: a key that says what it identifies. Trades keyed by account
// and quotes keyed by symbol are both uint32_t; joined, they match account
// 7 with symbol 7 without a word. Tagged, they are different types, and a
// join of the two fails to compile:
//
//   struct account {};  struct symbol {};
//   trades | key_by<account>(&trade::account)   // key: tagged_key<account, uint32_t>
//   quotes | key_by<symbol>(&quote::symbol)     // key: tagged_key<symbol, uint32_t>
//
// A tagged key hashes, compares, prints and checkpoints as its value, and
// an integer one works with dense_keys(n) as the integer does: the tag
// costs nothing at run time.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <ostream>
#include <type_traits>

namespace laminar {

template <class Tag, class T>
struct tagged_key {
  using tag = Tag;
  using value_type = T;
  T value{};

  friend constexpr bool operator==(const tagged_key&, const tagged_key&) = default;
  friend constexpr auto operator<=>(const tagged_key&, const tagged_key&) = default;
  friend std::ostream& operator<<(std::ostream& os, const tagged_key& k) { return os << k.value; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(value);
  }
};

namespace detail {

template <class K>
inline constexpr bool is_tagged_key_v = false;
template <class Tag, class T>
inline constexpr bool is_tagged_key_v<tagged_key<Tag, T>> = true;

/// The integer behind a dense key (the key itself, or a tagged key's value).
template <class K>
struct key_integer {
  using type = K;
};
template <class Tag, class T>
struct key_integer<tagged_key<Tag, T>> {
  using type = T;
};
template <class K>
using key_integer_t = typename key_integer<K>::type;

template <class K>
[[nodiscard, gnu::always_inline]] constexpr key_integer_t<K> key_integer_of(const K& key) noexcept {
  if constexpr (is_tagged_key_v<K>) {
    return key.value;
  } else {
    return key;
  }
}
template <class K>
[[nodiscard, gnu::always_inline]] constexpr K key_from_integer(key_integer_t<K> v) noexcept {
  if constexpr (is_tagged_key_v<K>) {
    return K{v};
  } else {
    return v;
  }
}

/// A key dense_keys(n) can index an array with: an integer, or a tagged one.
template <class K>
concept dense_key = std::is_integral_v<key_integer_t<K>>;

/// key_by<Tag>(k): the projection k, its result tagged.
template <class Tag, class K>
struct tagging_projection {
  K key;
  template <class T>
  auto operator()(const T& record) const {
    using V = std::remove_cvref_t<std::invoke_result_t<const K&, const T&>>;
    return tagged_key<Tag, V>{std::invoke(key, record)};
  }
};

}  // namespace detail
}  // namespace laminar

template <class Tag, class T>
struct std::hash<laminar::tagged_key<Tag, T>> {
  std::size_t operator()(const laminar::tagged_key<Tag, T>& k) const noexcept { return std::hash<T>{}(k.value); }
};
