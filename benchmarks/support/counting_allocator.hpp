// A counting global allocator for benchmarks: replaces the global operator
// new and delete (every form) with malloc/aligned_alloc and free, counting
// each allocation, so that a benchmark can report heap allocations per
// event: read laminar::bench::allocations() before and after.
//
// Include this header in exactly ONE translation unit of a benchmark
// binary: it defines the replacement operators themselves (which cannot be
// inline), so a second inclusion in the same binary is a link error.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace laminar::bench {

namespace detail {
inline std::atomic<std::uint64_t> allocation_count{0};

inline void* counted_alloc(std::size_t size) {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
inline void* counted_alloc_aligned(std::size_t size, std::align_val_t align) {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  const auto a = static_cast<std::size_t>(align);
  const std::size_t rounded = (size + a - 1) / a * a;  // aligned_alloc wants a multiple of the alignment
  if (void* p = std::aligned_alloc(a, rounded == 0 ? a : rounded)) return p;
  throw std::bad_alloc();
}
}  // namespace detail

/// Heap allocations so far, by any thread (a relaxed count).
inline std::uint64_t allocations() noexcept { return detail::allocation_count.load(std::memory_order_relaxed); }

}  // namespace laminar::bench

void* operator new(std::size_t size) { return laminar::bench::detail::counted_alloc(size); }
void* operator new[](std::size_t size) { return laminar::bench::detail::counted_alloc(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return laminar::bench::detail::counted_alloc(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return laminar::bench::detail::counted_alloc(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t size, std::align_val_t align) {
  return laminar::bench::detail::counted_alloc_aligned(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return laminar::bench::detail::counted_alloc_aligned(size, align);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
