// Transparent huge pages for large buffers: a checkpoint's bytes, a keyed
// table's slots. Every 4 KiB page of a fresh buffer faults on its first
// touch (in a VM, a costly exit each), and a random probe into a large
// table misses the TLB; with THP in "madvise" mode, advising the buffer
// turns both into one per 2 MiB. Advice only: refused or ignored, the
// buffer works the same.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace laminar::detail {

inline constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

/// Advises the whole 2 MiB pages inside [p, p + bytes).
inline void advise_huge_pages(void* p, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (p == nullptr || bytes < huge_page_bytes) return;
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t from = (at + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes;
  const std::uintptr_t to = (at + bytes) / huge_page_bytes * huge_page_bytes;
  if (to > from) (void)::madvise(reinterpret_cast<void*>(from), to - from, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace laminar::detail
