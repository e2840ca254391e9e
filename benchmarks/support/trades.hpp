// The benchmarks' in-memory trade records: a 24-byte struct and a fixed,
// portable generator, so every benchmark and every standard library sees the
// same records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace laminar::bench {

struct trade {
  std::int64_t ts;
  double price;
  std::int32_t qty;
  std::uint32_t symbol;
};
static_assert(sizeof(trade) == 24, "a trade record is 24 bytes");

// splitmix64: a fixed, portable generator, so the records (and the sums) are
// the same with every standard library.
struct splitmix64 {
  std::uint64_t state;
  std::uint64_t next() noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 random bits.
  double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

/// n trades over `symbols` dense symbol ids, from a fixed seed.
inline std::vector<trade> make_trades(std::size_t n, std::uint64_t seed, std::uint32_t symbols = 500) {
  splitmix64 rng{seed};
  std::vector<trade> out(n);
  std::int64_t ts = 1'700'000'000'000'000'000;  // ns since the epoch
  for (trade& t : out) {
    ts += static_cast<std::int64_t>(rng.next() % 2000);
    t.ts = ts;
    t.price = 10.0 + rng.unit() * 190.0;                      // [10, 200)
    t.qty = static_cast<std::int32_t>(1 + rng.next() % 100);  // [1, 100]
    t.symbol = static_cast<std::uint32_t>(rng.next() % symbols);
  }
  return out;
}

/// MurmurHash3's 64-bit finalizer: mixes a row's fields into digests that
/// do not depend on row order.
constexpr std::uint64_t fmix(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace laminar::bench
