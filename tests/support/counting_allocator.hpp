// A counting global allocator: every test binary links a replaced global
// operator new that counts heap allocations, so a test can assert how many
// allocations a piece of the hot path makes per event.
#pragma once

#include <cstdint>

namespace laminar::test {

/// Heap allocations made by this process so far (all threads).
std::uint64_t allocations() noexcept;

/// Counts the allocations made while it is alive.
class allocation_counter {
 public:
  allocation_counter() noexcept : start_(allocations()) {}
  [[nodiscard]] std::uint64_t count() const noexcept { return allocations() - start_; }

 private:
  std::uint64_t start_;
};

}  // namespace laminar::test
