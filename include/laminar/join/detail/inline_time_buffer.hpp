// A join's per-key buffer of one input's records in event-time order (equal
// times in arrival order), like time_buffer, but with its newest N records
// inline in a small ring, so that they live in the key's own slot: a record
// that arrives finds the other input's recent records, and appends its own,
// without a second dependent load from a separate allocation. Older
// records spill to a time_buffer behind the ring.
//
// The sequence is spill ++ ring, and the spill is non-empty only while the
// ring is full: the ring fills first, a record that arrives with the ring
// full pushes the ring's oldest into the spill, and evictions (from the
// front) take the spill's first. N == 0 keeps everything in the spill.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "laminar/core/time.hpp"
#include "laminar/join/detail/time_buffer.hpp"

namespace laminar::detail {

/// Entry is a struct whose member `t` is its record's event time; N is 0
/// or a power of two.
template <class Entry, std::size_t N>
class inline_time_buffer {
  static_assert(N == 0 || (N & (N - 1)) == 0, "inline_time_buffer: N must be 0 or a power of two");

 public:
  static constexpr std::size_t inline_capacity = N;

  [[nodiscard]] std::size_t size() const noexcept { return spill_.size() + count_; }
  [[nodiscard]] bool empty() const noexcept { return count_ == 0 && spill_.empty(); }
  /// Entries held outside the slot (for tests).
  [[nodiscard]] std::size_t spilled() const noexcept { return spill_.size(); }

  [[nodiscard]] Entry& front() noexcept { return spill_.empty() ? at(0) : spill_.front(); }

  /// Inserts after the entries of equal or earlier time.
  void insert(Entry e) {
    if constexpr (N == 0) {
      spill_.insert(std::move(e));
    } else {
      if (count_ == N) {
        // Earlier than every ring entry: its place is in the spill.
        if (e.t < at(0).t) [[unlikely]] {
          spill_.insert(std::move(e));
          return;
        }
        spill_front();
      }
      // The ring has room and the spill (if any) is not after e.
      std::size_t j = count_;
      while (j > 0 && at(j - 1).t > e.t) [[unlikely]] {
        at(j) = std::move(at(j - 1));
        --j;
      }
      at(j) = std::move(e);
      ++count_;
    }
  }

  /// Appends an entry known to be the latest (restoring a checkpoint).
  void append(Entry e) {
    if constexpr (N == 0) {
      spill_.append(std::move(e));
    } else {
      if (count_ == N) spill_front();
      at(count_) = std::move(e);
      ++count_;
    }
  }

  /// Evicts the first entry.
  void pop_front() {
    if (!spill_.empty()) {
      spill_.drop(1);
    } else {
      head_ = (head_ + 1) & mask;
      --count_;
    }
  }

  /// Calls f(entry&) on the entries with lo <= t <= hi, in order. Records
  /// mostly match near the newest, so the ring is searched from its back,
  /// and the spill only when the range reaches before the ring.
  template <class F>
  void for_each_in(timestamp lo, timestamp hi, F&& f) {
    std::size_t j = count_;
    while (j > 0 && at(j - 1).t >= lo) --j;
    // The spill is touched only when the whole ring is in range.
    if (j == 0 && !spill_.empty() && spill_.back().t >= lo) [[unlikely]] {
      for (Entry* e = spill_.first_at_or_after(lo); e != spill_.end(); ++e) {
        if (e->t > hi) return;
        f(*e);
      }
    }
    for (; j < count_; ++j) {
      Entry& e = at(j);
      if (e.t > hi) return;
      f(e);
    }
  }

  /// Calls f(const entry&) on every entry, in order.
  template <class F>
  void for_each(F&& f) const {
    for (const Entry& e : spill_) f(e);
    for (std::size_t j = 0; j < count_; ++j) f(at(j));
  }

  /// Empties the buffer; the spill keeps its storage.
  void reset() noexcept {
    spill_.reset();
    head_ = 0;
    count_ = 0;
  }

 private:
  static constexpr std::size_t mask = N == 0 ? 0 : N - 1;

  // The ring's j-th oldest entry.
  [[nodiscard]] Entry& at(std::size_t j) noexcept { return ring_[(head_ + j) & mask]; }
  [[nodiscard]] const Entry& at(std::size_t j) const noexcept { return ring_[(head_ + j) & mask]; }

  // The ring is full: its oldest entry moves to the back of the spill
  // (it is not earlier than anything there).
  void spill_front() {
    spill_.append(std::move(at(0)));
    head_ = (head_ + 1) & mask;
    --count_;
  }

  std::uint32_t head_ = 0;   // the ring's oldest entry
  std::uint32_t count_ = 0;  // entries in the ring
  time_buffer<Entry> spill_;
  std::array<Entry, N> ring_{};
};

}  // namespace laminar::detail
