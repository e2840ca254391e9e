// The allocator of the keyed state tables' slot arrays. An array of 2 MiB
// or more is aligned to 2 MiB and offered to the kernel for transparent
// huge pages (madvise MADV_HUGEPAGE, where THP is in "madvise" mode): a
// table of a million keys is probed at random, and with 4 KiB pages every
// probe is also a TLB miss, and every page its first touch faults on. Once
// per allocation, never per record; smaller arrays are plain allocations.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

#include "laminar/core/detail/huge_pages.hpp"

namespace laminar::detail {

template <class T>
struct large_table_allocator {
  using value_type = T;

  large_table_allocator() = default;
  template <class U>
  constexpr large_table_allocator(const large_table_allocator<U>&) noexcept {}  // NOLINT: rebinding converts

  [[nodiscard]] T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < huge_page_bytes) return std::allocator<T>{}.allocate(n);
    const std::size_t rounded = (bytes + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes;
    void* p = ::operator new(rounded, std::align_val_t{huge_page_bytes});
    advise_huge_pages(p, rounded);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < huge_page_bytes) {
      std::allocator<T>{}.deallocate(p, n);
    } else {
      ::operator delete(p, std::align_val_t{huge_page_bytes});
    }
  }
  template <class U>
  friend constexpr bool operator==(const large_table_allocator&, const large_table_allocator<U>&) noexcept {
    return true;
  }
};

}  // namespace laminar::detail
