// inline_back_list: the per-key list of a key-major window stage's windows
// (sessions, or slices under keyed watermarks), its last one inline.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>


namespace laminar::detail {

/// A short list, kept in order by its owner, whose last element is stored
/// inline and the others in a vector: the record path finds a key's newest
/// session in the key's own slot, and most keys have one session open.
template <class T>
class inline_back_list {
 public:
  [[nodiscard]] std::size_t size() const noexcept { return has_back_ ? front_.size() + 1 : 0; }
  [[nodiscard]] bool empty() const noexcept { return !has_back_; }
  [[nodiscard]] T& back() noexcept { return back_; }
  [[nodiscard]] T& operator[](std::size_t i) noexcept { return i == front_.size() ? back_ : front_[i]; }
  [[nodiscard]] const T& operator[](std::size_t i) const noexcept { return i == front_.size() ? back_ : front_[i]; }

  /// Inserts x before position pos (pos == size(): at the back).
  T& insert(std::size_t pos, T&& x) {
    if (pos == size()) {
      if (has_back_) front_.push_back(std::move(back_));
      back_ = std::move(x);
      has_back_ = true;
      return back_;
    }
    front_.insert(front_.begin() + static_cast<std::ptrdiff_t>(pos), std::move(x));
    return front_[pos];
  }
  void push_back(T&& x) { insert(size(), std::move(x)); }

  /// Erases positions [lo, hi). References to elements at or after lo-1 may move.
  void erase(std::size_t lo, std::size_t hi) {
    if (lo == hi) return;
    if (hi < size()) {
      front_.erase(front_.begin() + static_cast<std::ptrdiff_t>(lo), front_.begin() + static_cast<std::ptrdiff_t>(hi));
    } else if (lo == 0) {
      clear();
    } else {  // the back goes: the element before lo becomes the back
      back_ = std::move(front_[lo - 1]);
      front_.erase(front_.begin() + static_cast<std::ptrdiff_t>(lo - 1), front_.end());
    }
  }
  /// Keeps the vector's buffer.
  void clear() noexcept {
    front_.clear();
    has_back_ = false;
  }

 private:
  T back_{};
  bool has_back_ = false;
  std::vector<T> front_;
};

}  // namespace laminar::detail
