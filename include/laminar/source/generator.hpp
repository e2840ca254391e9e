// generate(f): a source that calls f() for each record until it returns an
// empty std::optional. Its state is the number of records generated; if f is
// itself stateful (save_state/load_state) its state is saved too, otherwise a
// restore replays f that many times (f must then be deterministic).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/source.hpp"

namespace laminar {

template <class F>
class generator_source : public source_base<generator_source<F>> {
  using result = std::remove_cvref_t<std::invoke_result_t<F&>>;

 public:
  using value_type = typename result::value_type;
  static constexpr bool stops_on_request = true;

  explicit generator_source(F f) : f_(std::move(f)) {}

  [[nodiscard]] auto context() const { return stream_context<value_type>{}; }

  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max_records) {
    std::size_t n = 0;
    while (n != max_records && !exhausted_) {
      auto next = std::invoke(f_);
      if (!next) {
        exhausted_ = true;
        break;
      }
      chain.on_event(*next);
      ++n;
      if constexpr (stopping_chain<Chain>) {
        if (chain.stop_requested()) break;
      }
    }
    pos_ += n;
    return n;
  }
  [[nodiscard]] bool exhausted() const noexcept { return exhausted_; }

  [[nodiscard]] std::uint64_t position() const noexcept { return pos_; }

  void save_state(state_writer& w) const {
    w(pos_, exhausted_);
    if constexpr (stateful<F>) f_.save_state(w);
  }
  void load_state(state_reader& r) {
    std::uint64_t pos = 0;
    r(pos, exhausted_);
    if constexpr (stateful<F>) {
      f_.load_state(r);
    } else {
      for (std::uint64_t i = pos_; i < pos; ++i) (void)std::invoke(f_);
    }
    pos_ = pos;
  }

 private:
  F f_;
  std::uint64_t pos_ = 0;
  bool exhausted_ = false;
};

/// A source that calls f() -> std::optional<T> until it returns nullopt.
template <class F>
auto generate(F f) {
  static_assert(std::is_invocable_v<F&>, "laminar::generate: the generator must be callable with no arguments");
  return generator_source<F>(std::move(f));
}

}  // namespace laminar
