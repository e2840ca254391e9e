// A join's per-key buffer of one input's records, in event-time order
// (equal times in arrival order), evicted from the front as the watermark
// passes them. Records mostly arrive in time order, so an insertion is
// mostly an append; the buffer keeps its storage when it empties, so a
// key in steady state allocates nothing.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "laminar/core/time.hpp"

namespace laminar::detail {

/// Entry is a struct whose member `t` is its record's event time.
template <class Entry>
class time_buffer {
 public:
  [[nodiscard]] std::size_t size() const noexcept { return items_.size() - head_; }
  [[nodiscard]] bool empty() const noexcept { return head_ == items_.size(); }
  [[nodiscard]] Entry* begin() noexcept { return items_.data() + head_; }
  [[nodiscard]] Entry* end() noexcept { return items_.data() + items_.size(); }
  [[nodiscard]] const Entry* begin() const noexcept { return items_.data() + head_; }
  [[nodiscard]] const Entry* end() const noexcept { return items_.data() + items_.size(); }
  [[nodiscard]] Entry& front() noexcept { return items_[head_]; }
  [[nodiscard]] const Entry& front() const noexcept { return items_[head_]; }
  [[nodiscard]] const Entry& back() const noexcept { return items_.back(); }

  /// Inserts after the entries of equal or earlier time; returns the new
  /// entry's position from the front.
  std::size_t insert(Entry e) {
    if (empty() || items_.back().t <= e.t) [[likely]] {
      items_.push_back(std::move(e));
      return size() - 1;
    }
    const auto at = std::upper_bound(items_.begin() + static_cast<std::ptrdiff_t>(head_), items_.end(), e.t,
                                     [](timestamp x, const Entry& y) { return x < y.t; });
    const auto pos = static_cast<std::size_t>(at - items_.begin()) - head_;
    items_.insert(at, std::move(e));
    return pos;
  }

  /// The first entry at or after t.
  [[nodiscard]] Entry* first_at_or_after(timestamp t) noexcept {
    if (empty() || front().t >= t) return begin();
    return std::lower_bound(begin(), end(), t, [](const Entry& y, timestamp x) { return y.t < x; });
  }

  /// Evicts the first n entries; compacts once half the storage is dead.
  void drop(std::size_t n) {
    head_ += n;
    if (head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    } else if (head_ > 32 && head_ * 2 > items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  /// Appends an entry known to be the latest (restoring a checkpoint).
  void append(Entry e) { items_.push_back(std::move(e)); }

  void reset() noexcept {
    items_.clear();
    head_ = 0;
  }

 private:
  std::vector<Entry> items_;
  std::size_t head_ = 0;  // entries before head are evicted
};

}  // namespace laminar::detail
