// When a join's held records expire: one entry (deadline, key slot) per
// record held on one input, taken in deadline order as the other input's
// watermark passes them. Records mostly arrive in time order, so their
// deadlines mostly do too: those go to the back of a log (an append, and a
// pop from the front when due: O(1) and sequential in memory); the few out
// of order go to a min-heap beside it.
//
// Entry i names a key, not a record: popping it drops the front record of
// that key's buffer, which is the record it was pushed for or one of equal
// time (all earlier deadlines have been popped, and every held record has
// exactly one entry). So no entry is ever stale, and a key whose records
// are all gone has no entries left.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/time.hpp"
#include "laminar/join/detail/time_buffer.hpp"

namespace laminar::detail {

class expiry_queue {
 public:
  struct entry {
    timestamp t;  // the deadline
    std::uint32_t slot;
    friend bool operator>(const entry& a, const entry& b) noexcept {
      return a.t != b.t ? a.t > b.t : a.slot > b.slot;
    }
  };

  void push(timestamp deadline, std::uint32_t slot) {
    if (log_.empty() || log_.back().t <= deadline) [[likely]] {
      log_.append({deadline, slot});
    } else {
      heap_.push_back({deadline, slot});
      std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
    }
  }

  [[nodiscard]] bool empty() const noexcept { return log_.empty() && heap_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return log_.size() + heap_.size(); }

  /// Whether the earliest deadline is at or before w.
  [[nodiscard]] bool due_at(timestamp w) const noexcept { return !empty() && min_time() <= w; }

  static constexpr std::uint32_t npos = ~std::uint32_t{0};

  /// Removes the earliest entry if its deadline is at or before w and
  /// returns its slot; npos when none is due. One pass over both fronts.
  [[nodiscard]] std::uint32_t pop_due(timestamp w) {
    const bool log_due = !log_.empty() && log_.front().t <= w;
    if (!heap_.empty() && heap_.front().t <= w && (!log_due || heap_.front().t < log_.front().t)) [[unlikely]] {
      return pop().slot;
    }
    if (!log_due) return npos;
    const std::uint32_t s = log_.front().slot;
    log_.drop(1);
    return s;
  }

  /// Removes and returns the earliest entry (the log's on equal deadlines).
  entry pop() {
    if (!heap_.empty() && (log_.empty() || heap_.front().t < log_.front().t)) {
      std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
      const entry e = heap_.back();
      heap_.pop_back();
      return e;
    }
    const entry e = log_.front();
    log_.drop(1);
    return e;
  }

  void clear() noexcept {
    log_.reset();
    heap_.clear();
  }

  // The entries as they are, so that a restored queue pops in the same order.
  void save(state_writer& w) const {
    w(static_cast<std::uint64_t>(log_.size()));
    for (const entry& e : log_) w(e.t, e.slot);
    w(static_cast<std::uint64_t>(heap_.size()));
    for (const entry& e : heap_) w(e.t, e.slot);
  }
  void load(state_reader& r) {
    clear();
    std::uint64_t n = 0;
    r(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      entry e{};
      r(e.t, e.slot);
      log_.append(e);
    }
    r(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      entry e{};
      r(e.t, e.slot);
      heap_.push_back(e);
    }
  }

 private:
  [[nodiscard]] timestamp min_time() const noexcept {
    if (log_.empty()) return heap_.front().t;
    if (heap_.empty()) return log_.front().t;
    return std::min(log_.front().t, heap_.front().t);
  }

  time_buffer<entry> log_;
  std::vector<entry> heap_;  // a min-heap by (deadline, slot)
};

}  // namespace laminar::detail
