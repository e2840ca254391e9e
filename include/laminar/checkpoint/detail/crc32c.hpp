// CRC-32C (Castagnoli), the checksum of the checkpoint directory's files:
// the SSE4.2 crc32 instruction where the CPU has it (about 8 bytes a
// cycle's worth of throughput: a checkpoint's checksums cost little next to
// its write), else a slicing-by-8 table (about a byte a cycle).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define LAMINAR_CRC32C_X86 1
#else
#define LAMINAR_CRC32C_X86 0
#endif

namespace laminar::detail {

inline constexpr std::uint32_t crc32c_poly = 0x82F63B78U;  // reflected

constexpr std::array<std::array<std::uint32_t, 256>, 8> make_crc32c_tables() noexcept {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1U) ? crc32c_poly ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t s = 1; s < 8; ++s) {
    for (std::uint32_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFU];
  }
  return t;
}
inline constexpr auto crc32c_tables = make_crc32c_tables();

/// Slicing-by-8 over `bytes`, continuing the (pre-inverted) state `crc`.
inline std::uint32_t crc32c_table_update(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
  const auto& t = crc32c_tables;
  while (n >= 8) {
    std::uint32_t lo = 0, hi = 0;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= crc;  // little-endian: the low word meets the running CRC
    crc = t[7][lo & 0xFFU] ^ t[6][(lo >> 8) & 0xFFU] ^ t[5][(lo >> 16) & 0xFFU] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFFU] ^ t[2][(hi >> 8) & 0xFFU] ^ t[1][(hi >> 16) & 0xFFU] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = t[0][(crc ^ *p++) & 0xFFU] ^ (crc >> 8);
  return crc;
}

#if LAMINAR_CRC32C_X86
[[gnu::target("sse4.2")]] inline std::uint32_t crc32c_hw_update(std::uint32_t crc, const unsigned char* p,
                                                               std::size_t n) noexcept {
  std::uint64_t c = crc;
  while (n >= 8) {
    std::uint64_t v = 0;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}
#endif

/// CRC-32C of `bytes` (continuing `crc`, a previous result, if given).
inline std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::uint32_t c = ~crc;
#if LAMINAR_CRC32C_X86
  static const bool hw = __builtin_cpu_supports("sse4.2");
  c = hw ? crc32c_hw_update(c, p, bytes.size()) : crc32c_table_update(c, p, bytes.size());
#else
  c = crc32c_table_update(c, p, bytes.size());
#endif
  return ~c;
}

}  // namespace laminar::detail
