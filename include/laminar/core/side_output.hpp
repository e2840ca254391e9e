// Side outputs: where an operator sends the records it does not pass on
// (a window's late records, an alignment member's excess). The operator
// never drops them silently: it counts them and hands each to the side
// output the program gave, either a callable taking the record (held by
// value) or an object held by reference, such as side_records<T>, which
// keeps the records and is checkpointed with the operator.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/core/checkpoint.hpp"

namespace laminar {

/// A side output that keeps its records and their count. It is the
/// program's, passed by reference, and is checkpointed with the operator
/// it belongs to (the records need a cereal serialize).
template <class T>
class side_records {
 public:
  void operator()(const T& record) {
    records_.push_back(record);
    ++count_;
  }
  [[nodiscard]] const std::vector<T>& records() const noexcept { return records_; }
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  /// Takes the records kept so far (the count stays).
  std::vector<T> take() { return std::exchange(records_, {}); }

  void save_state(state_writer& w) const { w(count_, records_); }
  void load_state(state_reader& r) { r(count_, records_); }

 private:
  std::vector<T> records_;
  std::uint64_t count_ = 0;
};

namespace detail {

/// No side output given: the records are only counted by the operator.
struct discard_side_output {
  template <class T>
  constexpr void operator()(const T&) const noexcept {}
};

/// How an operator holds a side output: an lvalue by pointer, an rvalue by value.
template <class F>
using side_output_holder_t =
    std::conditional_t<std::is_lvalue_reference_v<F>, std::remove_reference_t<F>*, std::remove_cvref_t<F>>;

template <class F>
side_output_holder_t<F> hold_side_output(F&& out) {
  if constexpr (std::is_lvalue_reference_v<F>) {
    return &out;
  } else {
    return std::forward<F>(out);
  }
}

/// The side output a holder refers to.
template <class H>
auto& side_output_target(H& h) noexcept {
  if constexpr (std::is_pointer_v<H>) {
    return *h;
  } else {
    return h;
  }
}

/// A side output with state (a side_records<T>, held by reference or by
/// value): the operator checkpoints it with its own state.
template <class H>
concept stateful_side_output = stateful<std::remove_cvref_t<decltype(side_output_target(std::declval<H&>()))>>;

}  // namespace detail
}  // namespace laminar
