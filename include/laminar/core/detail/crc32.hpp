// CRC-32 (IEEE 802.3, reflected) for checkpoint integrity checks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace laminar::detail {

constexpr std::array<std::uint32_t, 256> make_crc32_table() noexcept {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1U) ? 0xEDB88320U ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

inline constexpr std::array<std::uint32_t, 256> crc32_table = make_crc32_table();

constexpr std::uint32_t crc32(std::string_view bytes, std::uint32_t crc = 0) noexcept {
  crc = ~crc;
  for (char ch : bytes) crc = crc32_table[(crc ^ static_cast<unsigned char>(ch)) & 0xFFU] ^ (crc >> 8);
  return ~crc;
}

}  // namespace laminar::detail
