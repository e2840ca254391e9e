// Little-endian integers and length-prefixed bytes in a byte string: the
// framing of laminar's checkpoint files (snapshot.hpp, checkpoint/store.hpp).
// A reader never reads past its data: a short file is a checkpoint_error
// naming what was being read and at which byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "laminar/core/error.hpp"

namespace laminar::detail {

inline void put_le(std::string& out, std::uint64_t v, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFU));
}
inline void put_u32(std::string& out, std::uint32_t v) { put_le(out, v, 4); }
inline void put_u64(std::string& out, std::uint64_t v) { put_le(out, v, 8); }
/// A u32 length, then the bytes.
inline void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}

/// Reads `data` from `pos` on; `file` names it in errors ("checkpoint",
/// a path).
struct le_reader {
  std::string_view data;
  std::size_t pos = 0;
  std::string_view file = "checkpoint";

  std::string_view bytes(std::uint64_t n, const std::string& what) {
    if (pos > data.size() || n > data.size() - pos) {  // a reader started past the end reads nothing
      const std::size_t left = pos > data.size() ? 0 : data.size() - pos;
      throw checkpoint_error(std::string(file) + ": truncated at offset " + std::to_string(pos) + " while reading " +
                             what + " (" + std::to_string(n) + " bytes wanted, " + std::to_string(left) + " left)");
    }
    auto out = data.substr(pos, static_cast<std::size_t>(n));
    pos += static_cast<std::size_t>(n);
    return out;
  }
  std::uint64_t le(int width, const std::string& what) {
    auto b = bytes(static_cast<std::uint64_t>(width), what);
    std::uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[static_cast<std::size_t>(i)]);
    return v;
  }
  std::uint32_t u32(const std::string& what) { return static_cast<std::uint32_t>(le(4, what)); }
  std::uint64_t u64(const std::string& what) { return le(8, what); }
  std::string_view str(const std::string& what) { return bytes(u32(what + " length"), what); }
};

}  // namespace laminar::detail
