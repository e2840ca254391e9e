// from(range): a bounded source over a container or range. Its position (the
// number of records emitted) is its checkpointed state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <ranges>
#include <string>
#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/source.hpp"

namespace laminar {

template <std::ranges::input_range R>
class range_source : public source_base<range_source<R>> {
  // A random-access range is read by index, so a container held by reference
  // may grow between runs; other ranges keep an iterator, taken on first use.
  static constexpr bool indexed = std::ranges::random_access_range<R> && std::ranges::sized_range<R>;
  using iterator = std::ranges::iterator_t<R>;

 public:
  using value_type = std::ranges::range_value_t<R>;
  static constexpr bool stops_on_request = true;

  explicit range_source(R range) : range_(std::move(range)) {}
  range_source(range_source&& o) noexcept : range_(std::move(o.range_)) { seek(o.pos_); }
  range_source& operator=(range_source&&) = delete;

  [[nodiscard]] auto context() const { return stream_context<value_type>{}; }

  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max_records) {
    std::size_t n = 0;
    if constexpr (indexed) {
      const auto size = static_cast<std::uint64_t>(std::ranges::size(range_));
      const std::uint64_t left = size - pos_;
      const auto count = static_cast<std::size_t>(left < max_records ? left : max_records);
      const auto first = std::ranges::begin(range_) + static_cast<std::ranges::range_difference_t<R>>(pos_);
      const auto last = first + static_cast<std::ranges::range_difference_t<R>>(count);
      auto it = first;
      if constexpr (stopping_chain<Chain>) {
        while (it != last) {
          chain.on_event(*it++);
          if (chain.stop_requested()) break;
        }
        n = static_cast<std::size_t>(it - first);
      } else {
        for (; it != last; ++it) chain.on_event(*it);  // one compare per record, as a hand loop
        n = count;
      }
    } else {
      auto it = current();
      const auto end = std::ranges::end(range_);
      while (n != max_records && it != end) {
        chain.on_event(*it);
        ++it;
        ++n;
        if constexpr (stopping_chain<Chain>) {
          if (chain.stop_requested()) break;
        }
      }
      it_ = it;
    }
    pos_ += n;
    return n;
  }
  [[nodiscard]] bool exhausted() const {
    if constexpr (indexed) {
      return pos_ >= static_cast<std::uint64_t>(std::ranges::size(range_));
    } else {
      return it_ && *it_ == std::ranges::end(range_);
    }
  }

  /// Records emitted so far.
  [[nodiscard]] std::uint64_t position() const noexcept { return pos_; }

  void save_state(state_writer& w) const { w(pos_); }
  void load_state(state_reader& r) {
    std::uint64_t pos = 0;
    r(pos);
    seek(pos);
    if (pos_ != pos) {
      throw checkpoint_error("range source: saved position " + std::to_string(pos) +
                             " is past the end of the range (" + std::to_string(pos_) + " records)");
    }
  }

 private:
  iterator current() {
    if (!it_) it_ = std::ranges::begin(range_);
    return *it_;
  }
  // Moves to `pos` from the start (or to the end, if the range is shorter).
  void seek(std::uint64_t pos) {
    if constexpr (indexed) {
      const auto size = static_cast<std::uint64_t>(std::ranges::size(range_));
      pos_ = pos < size ? pos : size;
    } else {
      it_ = std::ranges::begin(range_);
      pos_ = 0;
      const auto end = std::ranges::end(range_);
      for (; pos_ != pos && *it_ != end; ++*it_) ++pos_;
    }
  }

  R range_;
  std::optional<iterator> it_;  // unused when indexed
  std::uint64_t pos_ = 0;
};

/// A bounded source over a range: a container (held by reference when an
/// lvalue, moved in when an rvalue) or any input view.
template <std::ranges::viewable_range R>
auto from(R&& range) {
  return range_source<std::views::all_t<R>>(std::views::all(std::forward<R>(range)));
}

}  // namespace laminar
