// Shared internals of the channels: the cache-line size that keeps the two
// sides' hot fields apart, and the CPU's spin-wait hint.
#pragma once

#include <cstddef>

// g++ and clang++ give PAUSE as a builtin: <immintrin.h>, the intrinsics
// header, is some 47k lines that every file including the core (watermark
// alignment spins too) would parse for this one instruction.
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__GNUC__)
#include <immintrin.h>
#endif

namespace laminar::detail {

/// 64 bytes on every x86-64 and on most ARM cores. Not
/// std::hardware_destructive_interference_size: GCC warns that its value may
/// change between compiler versions, and the layout must not.
inline constexpr std::size_t cache_line = 64;

/// PAUSE on x86 (about 25-35 ns on the Zen 4 machines we measure on): tells
/// the core it is spinning, so it saves power, frees the sibling
/// hyper-thread and does not flood the other side's cache line with reads.
inline void cpu_relax() noexcept {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  __builtin_ia32_pause();  // what _mm_pause() is
#elif defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace laminar::detail
