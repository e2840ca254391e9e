// A message type for the channel tests that proves lifetimes: each id is an
// element; moving passes the id on, and the registry counts, per id, how
// often it was created and how often it was released (by destruction or by
// being overwritten). Every id must be released exactly as often as created.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>

namespace test {

class tracked_registry {
 public:
  explicit tracked_registry(std::size_t ids)
      : created_(std::make_unique<std::atomic<int>[]>(ids)), released_(std::make_unique<std::atomic<int>[]>(ids)), n_(ids) {}

  void create(int id) noexcept {
    live_.fetch_add(1);
    if (id >= 0) created_[static_cast<std::size_t>(id)].fetch_add(1);
  }
  void destroy(int id) noexcept {
    live_.fetch_sub(1);
    release(id);
  }
  void release(int id) noexcept {
    if (id >= 0) released_[static_cast<std::size_t>(id)].fetch_add(1);
  }

  /// Objects alive now, moved-from ones included.
  [[nodiscard]] int live() const noexcept { return live_.load(); }
  [[nodiscard]] int destroyed(int id) const noexcept { return released_[static_cast<std::size_t>(id)].load(); }

  /// Every id created at most once, and released exactly as often.
  void check_each_released_once() const {
    int bad = 0;
    for (std::size_t i = 0; i < n_; ++i) {
      const int c = created_[i].load(), r = released_[i].load();
      if (c > 1 || r != c) ++bad;
    }
    CHECK(bad == 0);
  }

 private:
  std::atomic<int> live_{0};
  std::unique_ptr<std::atomic<int>[]> created_;
  std::unique_ptr<std::atomic<int>[]> released_;
  std::size_t n_;
};

// Move-only and not trivially destructible.
struct tracked {
  tracked_registry* reg;
  int id;  // -1: holds no element (moved from, or made empty)

  tracked(tracked_registry& r, int i) noexcept : reg(&r), id(i) { reg->create(id); }
  tracked(tracked&& o) noexcept : reg(o.reg), id(std::exchange(o.id, -1)) { reg->create(-1); }
  tracked& operator=(tracked&& o) noexcept {
    if (this != &o) {
      reg->release(id);
      id = std::exchange(o.id, -1);
    }
    return *this;
  }
  tracked(const tracked&) = delete;
  tracked& operator=(const tracked&) = delete;
  ~tracked() { reg->destroy(id); }
};

}  // namespace test
