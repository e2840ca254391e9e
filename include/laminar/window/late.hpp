// Late data: records that arrive after every window they belong to has
// closed (the watermark passed the window's end plus the allowed lateness).
// A window operator never drops them silently: it counts them (the count is
// part of its checkpointed state) and hands each to its late side output,
// given with .late_to(...): any callable taking the record, or a
// late_records<T> that keeps them for the program to read.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "laminar/core/checkpoint.hpp"

namespace laminar {

/// A late side output that keeps the late records and their count. It is
/// the program's, passed by reference: `.late_to(late)`.
template <class T>
class late_records {
 public:
  void operator()(const T& record) {
    records_.push_back(record);
    ++count_;
  }
  [[nodiscard]] const std::vector<T>& records() const noexcept { return records_; }
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  /// Takes the records kept so far (the count stays).
  std::vector<T> take() { return std::exchange(records_, {}); }

  /// Checkpointed with the operator it belongs to (the records need a cereal serialize).
  void save_state(state_writer& w) const { w(count_, records_); }
  void load_state(state_reader& r) { r(count_, records_); }

 private:
  std::vector<T> records_;
  std::uint64_t count_ = 0;
};

namespace detail {
/// No side output given: late records are only counted.
struct no_late_output {
  template <class T>
  constexpr void operator()(const T&) const noexcept {}
};
}  // namespace detail

}  // namespace laminar
