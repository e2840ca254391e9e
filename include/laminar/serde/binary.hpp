// A fixed binary layout for described records (core/record_fields.hpp) of
// fixed-size fields: packed feed records, in length-prefixed frames.
//
//   binary_codec<tick> bin;                     // bin.record_bytes: the size of one record
//   bin.encode(t, out);                         // appends a frame: 4-byte length, then the record
//   binary_frame f = split_binary_frame(buffer);
//   if (f.state == frame_state::complete) {
//     decoded<tick> d = bin.decode(f.payload_of(buffer));  // the record's bytes, without the prefix
//     buffer.remove_prefix(f.end());
//   }
//
// The layout: the fields in description order, each little-endian, packed
// (no padding, no alignment), a nested record's fields in place:
//
//   bool                    1 byte, 0 or 1 (any other byte is a decode_error)
//   integers, enums         their size (an enum as its underlying integer, any value)
//   float, double           4 / 8 bytes, IEEE 754 binary32 / binary64 bits
//   timestamp, duration     8 bytes: int64 nanoseconds
//   std::array<V, N>        N times V (std::array<char, N>: a fixed-width symbol, as is)
//   a described record      its fields
//
// An integer has its size on the platform: use <cstdint>'s fixed-width
// types for a layout that is the same everywhere. A field of any other
// type (std::string, std::optional, a pointer, long double...) has no
// fixed binary form: binary_codec refuses the record at compile time
// (binary_record<T> says whether it would take it).
//
// A frame is a 4-byte little-endian payload length, then the payload. The
// length lets a reader find frames in a byte stream (split_binary_frame)
// and skip one it cannot decode; a length over a limit (16 MiB unless told)
// is a corrupt or foreign stream, said at once rather than waited for.
// The codec frames itself for the file source (next_frame, serde/frame.hpp).
#pragma once

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "laminar/core/record_fields.hpp"
#include "laminar/core/time.hpp"
#include "laminar/serde/decode_error.hpp"
#include "laminar/serde/frame.hpp"

namespace laminar {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "laminar: binary_codec: a mixed-endian platform is not supported");

namespace detail {

// The fixed binary form of a type: whether it has one, and its size. A
// field of a type without one has fixed = false.
template <class V>
struct binary_form {
  static constexpr bool fixed = false;
  static constexpr std::size_t bytes = 0;
};

// One value written as its own bytes (reordered on a big-endian platform).
template <class V>
concept binary_number = (std::integral<V> && !std::same_as<V, bool>) ||
                        (std::floating_point<V> && std::numeric_limits<V>::is_iec559 &&
                         (sizeof(V) == 4 || sizeof(V) == 8)) ||
                        (std::is_enum_v<V> && !std::same_as<std::underlying_type_t<V>, bool>);

template <binary_number V>
struct binary_form<V> {
  static constexpr bool fixed = true;
  static constexpr std::size_t bytes = sizeof(V);
};
template <>
struct binary_form<bool> {
  static constexpr bool fixed = true;
  static constexpr std::size_t bytes = 1;
};
template <>
struct binary_form<timestamp> {
  static constexpr bool fixed = true;
  static constexpr std::size_t bytes = 8;
};
template <>
struct binary_form<duration> {
  static constexpr bool fixed = true;
  static constexpr std::size_t bytes = 8;
};
template <class V, std::size_t N>
struct binary_form<std::array<V, N>> {
  static constexpr bool fixed = binary_form<V>::fixed;
  static constexpr std::size_t bytes = fixed ? N * binary_form<V>::bytes : 0;
};

template <class Description>
struct binary_fields;
template <class... Fields>
struct binary_fields<record_description<Fields...>> {
  static constexpr bool fixed = (binary_form<typename Fields::value_type>::fixed && ...);
  static constexpr std::size_t bytes = fixed ? (binary_form<typename Fields::value_type>::bytes + ...) : 0;
};

template <described_record V>
struct binary_form<V> : binary_fields<decltype(fields_of<V>())> {};

// Writes v's bytes at `to`, least significant first.
template <class V>
inline void store_le(const V& v, char* to) noexcept {
  if constexpr (std::endian::native == std::endian::little || sizeof(V) == 1) {
    std::memcpy(to, &v, sizeof(V));
  } else {
    char bytes[sizeof(V)];
    std::memcpy(bytes, &v, sizeof(V));
    for (std::size_t i = 0; i < sizeof(V); ++i) to[i] = bytes[sizeof(V) - 1 - i];
  }
}

// Reads v from the bytes at `from`, least significant first.
template <class V>
inline void load_le(const char* from, V& v) noexcept {
  if constexpr (std::endian::native == std::endian::little || sizeof(V) == 1) {
    std::memcpy(&v, from, sizeof(V));
  } else {
    char bytes[sizeof(V)];
    for (std::size_t i = 0; i < sizeof(V); ++i) bytes[i] = from[sizeof(V) - 1 - i];
    std::memcpy(&v, bytes, sizeof(V));
  }
}

// Writes v at `to`; returns the byte after it.
template <class V>
char* write_binary(const V& v, char* to) noexcept {
  if constexpr (described_record<V>) {
    for_each_field(v, [&to](std::string_view, const auto& value) { to = write_binary(value, to); });
    return to;
  } else if constexpr (std::same_as<V, bool>) {
    *to = v ? '\1' : '\0';
    return to + 1;
  } else if constexpr (std::same_as<V, timestamp> || std::same_as<V, duration>) {
    store_le(v.nanos(), to);
    return to + 8;
  } else if constexpr (binary_number<V>) {
    store_le(v, to);
    return to + sizeof(V);
  } else {
    using E = typename V::value_type;
    if constexpr (binary_number<E> && (std::endian::native == std::endian::little || sizeof(E) == 1)) {
      std::memcpy(to, v.data(), sizeof(E) * v.size());  // a symbol's characters: one copy
      return to + sizeof(E) * v.size();
    } else {
      for (const auto& element : v) to = write_binary(element, to);
      return to;
    }
  }
}

// The name of a field in a decode error: "outer.inner", "levels[2]".
inline std::string binary_member(std::string_view path, std::string_view name) {
  std::string m;
  m.reserve(path.size() + 1 + name.size());
  m += path;
  if (!path.empty()) m += '.';
  m += name;
  return m;
}

// Reads v from `bytes` at offset `at` (the record's bytes are all there:
// the caller checked the length); advances `at`. Only a bool can be wrong:
// its failure names the field (built from `path`, only then) and its byte.
template <class V, class Path>
bool read_binary(std::string_view bytes, std::size_t& at, V& v, const Path& path, decode_error& error) {
  if constexpr (described_record<V>) {
    bool ok = true;
    for_each_field(v, [&](std::string_view name, auto& value) {
      if (ok) ok = read_binary(bytes, at, value, [&] { return binary_member(path(), name); }, error);
    });
    return ok;
  } else if constexpr (std::same_as<V, bool>) {
    const auto byte = static_cast<unsigned char>(bytes[at]);
    if (byte > 1) {
      error = decode_error{path(), at, "expected 0 or 1 for a bool, found " + std::to_string(byte)};
      return false;
    }
    v = byte == 1;
    at += 1;
    return true;
  } else if constexpr (std::same_as<V, timestamp> || std::same_as<V, duration>) {
    std::int64_t ns = 0;
    load_le(bytes.data() + at, ns);
    v = V::from_nanos(ns);
    at += 8;
    return true;
  } else if constexpr (binary_number<V>) {
    load_le(bytes.data() + at, v);
    at += sizeof(V);
    return true;
  } else if constexpr (binary_number<typename V::value_type> &&
                       (std::endian::native == std::endian::little || sizeof(typename V::value_type) == 1)) {
    std::memcpy(v.data(), bytes.data() + at, sizeof(typename V::value_type) * v.size());
    at += sizeof(typename V::value_type) * v.size();
    return true;
  } else {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!read_binary(bytes, at, v[i], [&] { return path() + "[" + std::to_string(i) + "]"; }, error)) return false;
    }
    return true;
  }
}

// Where v's fields lie in memory against the packed layout: false once a
// field is not at its packed offset from `base` (padding, another order) or
// not stored as its bytes (a big-endian host); bools' offsets collected.
template <class V>
bool native_layout_of(const V& v, const char* base, std::size_t& at, std::vector<std::size_t>& bools) {
  const auto here = static_cast<std::size_t>(reinterpret_cast<const char*>(&v) - base);
  if constexpr (described_record<V>) {
    bool same = true;
    for_each_field(v, [&](std::string_view, const auto& value) {
      if (same) same = native_layout_of(value, base, at, bools);
    });
    return same;
  } else {
    if (here != at) return false;
    if constexpr (std::same_as<V, bool>) bools.push_back(at);
    at += binary_form<V>::bytes;
    return sizeof(V) == binary_form<V>::bytes &&
           (std::endian::native == std::endian::little || binary_form<V>::bytes == 1 || !binary_number<V>);
  }
}

/// T's memory holds its fields exactly as the packed layout does (no
/// padding, description order, a little-endian host): a record is then one
/// copy of its bytes, once its bools' bytes are checked. Found once per type.
template <class T>
struct native_layout {
  bool same = false;
  std::vector<std::size_t> bools;  // the offsets of bool fields
  static const native_layout& of() {
    static const native_layout layout = [] {
      native_layout l;
      if constexpr (std::is_trivially_copyable_v<T> && std::endian::native == std::endian::little) {
        if (sizeof(T) == binary_form<T>::bytes) {
          const T probe{};
          std::size_t at = 0;
          l.same = native_layout_of(probe, reinterpret_cast<const char*>(&probe), at, l.bools);
        }
      }
      return l;
    }();
    return layout;
  }
};

}  // namespace detail

/// A described record whose every field has a fixed binary form (the
/// table above): what binary_codec takes.
template <class T>
concept binary_record = described_record<T> && detail::binary_form<T>::fixed;

/// The bytes of a frame's length prefix.
inline constexpr std::size_t binary_frame_header_bytes = 4;
/// The largest payload split_binary_frame takes unless told: 16 MiB.
inline constexpr std::size_t binary_max_payload_bytes = std::size_t{16} << 20;

/// What the front of a buffer holds.
enum class frame_state : std::uint8_t {
  complete,    // a whole frame: its payload can be decoded
  incomplete,  // the start of one: read more (at least end() bytes in all, once the prefix is whole)
  too_large,   // a prefix announcing more than the limit: the stream is corrupt or not of frames
};

/// The first frame of a buffer: split_binary_frame's answer.
struct binary_frame {
  frame_state state = frame_state::incomplete;
  std::size_t payload = 0;  // the payload's bytes, as the prefix says (0 while the prefix itself is cut)
  std::size_t limit = 0;    // the largest payload that was allowed

  /// The offset just past the frame in the buffer: what to consume once it is decoded.
  [[nodiscard]] constexpr std::size_t end() const noexcept { return binary_frame_header_bytes + payload; }
  /// The frame's payload in `buffer` (the one that was split): what decode takes.
  [[nodiscard]] constexpr std::string_view payload_of(std::string_view buffer) const noexcept {
    return buffer.substr(binary_frame_header_bytes, payload);
  }
  /// What a too_large frame is, as a decode_error at the prefix (byte 0).
  [[nodiscard]] decode_error error() const {
    return decode_error{"", 0,
                        "a frame's length prefix announces " + std::to_string(payload) + " bytes, more than the limit of " +
                            std::to_string(limit)};
  }
};

/// Where the first frame of `buffer` ends, or why it cannot be said yet:
/// complete (a whole frame: payload_of(buffer) is its payload, end() where
/// the next begins), incomplete (the buffer ends inside the prefix or the
/// payload: read more), or too_large (the prefix announces more than
/// max_payload bytes: nothing after it can be framed, so stop or resync by
/// other means). Reads only the prefix: constant time.
[[nodiscard]] constexpr binary_frame split_binary_frame(std::string_view buffer,
                                                        std::size_t max_payload = binary_max_payload_bytes) noexcept {
  binary_frame f;
  f.limit = max_payload;
  if (buffer.size() < binary_frame_header_bytes) return f;
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < binary_frame_header_bytes; ++i) {
    n |= static_cast<std::uint32_t>(static_cast<unsigned char>(buffer[i])) << (8 * i);
  }
  f.payload = n;
  if (f.payload > max_payload) {
    f.state = frame_state::too_large;
  } else if (buffer.size() >= f.end()) {
    f.state = frame_state::complete;
  }
  return f;
}

struct binary_format {
  std::size_t max_payload_bytes = binary_max_payload_bytes;  // next_frame's limit on a length prefix
};

/// Encodes and decodes T in the fixed binary layout. Keeps no state
/// between calls: any number of threads may use one codec.
template <described_record T>
class binary_codec {
  static_assert(binary_record<T>,
                "laminar: binary_codec: every field must have a fixed binary form: an integer, enum, bool, float, "
                "double, timestamp, duration, std::array of one, or a described record of those (no std::string, "
                "std::optional or other variable-size field)");

 public:
  /// The bytes of one record (a frame's payload).
  static constexpr std::size_t record_bytes = detail::binary_form<T>::bytes;
  static_assert(record_bytes <= std::numeric_limits<std::uint32_t>::max(),
                "laminar: binary_codec: a record must fit a frame's 32-bit length");

  explicit binary_codec(binary_format format = {}) noexcept : format_(format) {}

  /// Appends `record` as one frame: its length (record_bytes, 4 bytes
  /// little-endian), then its bytes.
  void encode(const T& record, std::string& out) const {
    const std::size_t at = out.size();
    out.resize(at + binary_frame_header_bytes + record_bytes);
    char* const to = out.data() + at;
    detail::store_le(static_cast<std::uint32_t>(record_bytes), to);
    detail::write_binary(record, to + binary_frame_header_bytes);
  }

  /// Writes `record`'s bytes alone (no prefix) at `to`, which has room for
  /// record_bytes.
  void encode_payload(const T& record, char* to) const noexcept { detail::write_binary(record, to); }

  /// Decodes one record from its bytes (a frame's payload, without the
  /// prefix), read in place: a field at a time, nothing allocated unless
  /// it fails. Fails for a payload of another length, and a bool byte that
  /// is neither 0 nor 1 (naming the field and its offset in the payload).
  [[nodiscard]] decoded<T> decode(std::string_view payload) const {
    if (payload.size() != record_bytes) {
      return decode_error{"", 0,
                          "expected " + std::to_string(record_bytes) + " bytes, found " + std::to_string(payload.size())};
    }
    if constexpr (std::is_trivially_copyable_v<T>) {
      // A record laid out in memory as on the wire (checked once): one copy.
      const auto& layout = detail::native_layout<T>::of();
      if (layout.same) {
        bool bools_ok = true;
        for (const std::size_t b : layout.bools) bools_ok &= static_cast<unsigned char>(payload[b]) <= 1;
        if (bools_ok) {
          decoded<T> d{std::in_place};
          std::memcpy(static_cast<void*>(&d.value()), payload.data(), record_bytes);
          return d;
        }
      }
    }
    T record{};
    std::size_t at = 0;
    decode_error error;
    if (!detail::read_binary(payload, at, record, [] { return std::string(); }, error)) return error;
    return record;
  }

  /// Frames records in a stream (serde/frame.hpp, as the file source reads
  /// it): the first frame of `buffer`, or none while it is incomplete. At
  /// the stream's end (`at_end`) an incomplete frame's bytes are one last
  /// frame (the prefix's payload, or all of them when the prefix itself is
  /// cut), which decode then refuses for its length. A prefix announcing
  /// more than format.max_payload_bytes is a framing_error.
  [[nodiscard]] std::optional<frame> next_frame(std::string_view buffer, bool at_end) const {
    const binary_frame f = split_binary_frame(buffer, format_.max_payload_bytes);
    switch (f.state) {
      case frame_state::complete: return frame{binary_frame_header_bytes, f.payload, f.end()};
      case frame_state::too_large: throw framing_error("laminar: binary_codec: " + f.error().reason);
      case frame_state::incomplete: break;
    }
    if (!at_end || buffer.empty()) return std::nullopt;
    if (buffer.size() < binary_frame_header_bytes) return frame{0, buffer.size(), buffer.size()};
    return frame{binary_frame_header_bytes, buffer.size() - binary_frame_header_bytes, buffer.size()};
  }

 private:
  binary_format format_;
};

}  // namespace laminar
