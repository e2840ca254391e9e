// union_of(a, b, ...): one stream from several sources of the same record
// type, pulled in turn (round robin, `batch` records at a time). Its
// watermark is the minimum over the inputs that have not ended; it ends when
// every input has ended. A checkpoint saves every input's position and the
// per-input watermarks, and passes one barrier on.
//
// union_of(a, b).aligned(max_drift, policy) makes the inputs an alignment
// group (source/alignment.hpp). A paused input sits out its turn, and an
// input that becomes paused within its turn stops there (its watermark
// passes the bound by at most one record's advance). The union never stalls
// on alignment: if every input that has not ended is paused (possible only
// when the group has members outside the union), the input with the lowest
// watermark takes its turn anyway.
#pragma once

#include <array>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include <cereal/types/array.hpp>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/source.hpp"
#include "laminar/core/time.hpp"
#include "laminar/source/alignment.hpp"

namespace laminar {

template <class... Sources>
class union_source {
  static constexpr std::size_t n_inputs = sizeof...(Sources);
  using first = std::tuple_element_t<0, std::tuple<Sources...>>;

 public:
  using is_source = void;
  using value_type = typename first::value_type;
  static_assert((std::is_same_v<value_type, typename Sources::value_type> && ...),
                "laminar::union_of: every input must have the same record type");
  static_assert((pull_source<Sources> && ...), "laminar::union_of: inputs must be pull sources (from, generate)");

  explicit union_source(std::size_t batch, Sources... inputs)
      : inputs_(std::move(inputs)...), batch_(batch ? batch : 1), batch_left_(batch_) {
    watermarks_.fill(timestamp::min());
    ended_.fill(false);
  }

  [[nodiscard]] auto context() const { return std::get<0>(inputs_).context(); }

  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max_records) {
    std::size_t n = 0;
    // The turn (cursor_, batch_left_) is state, so that a run cut short and
    // resumed, or restored from a checkpoint, interleaves exactly as one run.
    for (std::size_t idle_turns = 0; n != max_records && idle_turns < n_inputs;) {
      bool moved = false;
      visit_input(cursor_, [&]<std::size_t I>(auto& input) {
        if (ended_[I]) return;
        if (batch_left_ == batch_ && sits_out<I>()) {  // paused by its alignment group: skip this turn
          batch_left_ = 0;
          return;
        }
        port<I, Chain> p{this, &chain};
        const std::size_t want = max_records - n < batch_left_ ? max_records - n : batch_left_;
        const std::size_t got = input.run_for(p, want);
        n += got;
        batch_left_ -= got;
        moved = got != 0;
        if (input.exhausted()) {
          input.finish(p);
          batch_left_ = 0;
        } else if (input_paused<I>()) {  // it stopped at the bound: its turn is over
          batch_left_ = 0;
        }
      });
      if (ended_[cursor_] || batch_left_ == 0) {
        cursor_ = (cursor_ + 1) % n_inputs;
        batch_left_ = batch_;
      }
      idle_turns = moved ? 0 : idle_turns + 1;
    }
    return n;
  }
  [[nodiscard]] bool exhausted() const {
    bool all = true;
    for (bool e : ended_) all = all && e;
    return all;
  }

  template <class Chain>
  void finish(Chain& chain) {
    for_each_input([&]<std::size_t I>(auto& input) {
      port<I, Chain> p{this, &chain};
      if (!ended_[I]) input.finish(p);
    });
  }

  template <class Chain>
  void on_barrier(Chain& chain, const checkpoint_barrier& b) {
    b.checkpoint(*this);
    for_each_input([&]<std::size_t I>(auto& input) {
      port<I, Chain> p{this, &chain};
      input.on_barrier(p, b);
    });
    chain.on_barrier(b);
  }

  /// The combined watermark passed on so far.
  [[nodiscard]] timestamp watermark() const noexcept { return emitted_; }

  /// Whether every input that has not ended is paused by its alignment
  /// group (a graph's source task then yields instead of pulling).
  [[nodiscard]] bool paused() const
    requires(pausable_source<Sources> || ...)
  {
    return !exhausted() && every_live_input_paused();
  }

  /// Makes the inputs members of `group` (source/alignment.hpp); call it on
  /// a fresh union: union_of(a, b).aligned(group) | ...
  [[nodiscard]] auto aligned(alignment_group group) && {
    return std::move(*this).align_inputs(std::move(group), [](auto) { return detail::no_excess_output{}; });
  }
  /// The inputs as a new group of their own.
  [[nodiscard]] auto aligned(duration max_drift, alignment_policy policy = alignment_policy::pause) && {
    return std::move(*this).aligned(alignment_group(max_drift, policy));
  }
  /// As aligned(group), the drop policy's excess records going to `excess`:
  /// an side_records<T> (or any callable) given by reference is shared by
  /// the inputs and checkpointed once, with the first; a callable given by
  /// value is copied into each input.
  template <class Out>
  [[nodiscard]] auto aligned(alignment_group group, Out&& excess) && {
    return std::move(*this).align_inputs(std::move(group), [&excess]<class Index>(Index) {
      if constexpr (!std::is_lvalue_reference_v<Out>) {
        return std::remove_cvref_t<Out>(excess);
      } else if constexpr (Index::value == 0) {
        return &excess;
      } else {
        return detail::borrowed_output<std::remove_reference_t<Out>>{&excess};
      }
    });
  }
  /// The alignment group of an aligned union.
  [[nodiscard]] alignment_group alignment() const
    requires requires(const first& s) { s.group(); }
  {
    return std::get<0>(inputs_).group();
  }

  void save_state(state_writer& w) const { w(watermarks_, ended_, emitted_, cursor_, batch_left_); }
  void load_state(state_reader& r) { r(watermarks_, ended_, emitted_, cursor_, batch_left_); }

 private:
  // What input I's source sees as its chain.
  template <std::size_t I, class Chain>
  struct port {
    union_source* u;
    Chain* chain;
    void on_event(const value_type& record) { chain->on_event(record); }
    void on_watermark(timestamp w) { u->input_watermark(I, w, *chain); }
    void on_barrier(const checkpoint_barrier&) noexcept {}  // the union passes one barrier on
    void on_end() { u->input_end(I, *chain); }
  };

  template <class Chain>
  void input_watermark(std::size_t i, timestamp w, Chain& chain) {
    if (w > watermarks_[i]) watermarks_[i] = w;
    timestamp low = timestamp::max();
    for (std::size_t k = 0; k < n_inputs; ++k) {
      if (!ended_[k] && watermarks_[k] < low) low = watermarks_[k];
    }
    if (low > emitted_) {
      emitted_ = low;
      chain.on_watermark(low);
    }
  }

  template <class Chain>
  void input_end(std::size_t i, Chain& chain) {
    ended_[i] = true;
    input_watermark(i, timestamp::max(), chain);
    if (exhausted()) chain.on_end();
  }

  template <std::size_t I>
  [[nodiscard]] bool input_paused() const {
    if constexpr (pausable_source<std::tuple_element_t<I, std::tuple<Sources...>>>) {
      return std::get<I>(inputs_).paused();
    } else {
      return false;
    }
  }
  [[nodiscard]] bool every_live_input_paused() const {
    return [&]<std::size_t... Is>(std::index_sequence<Is...>) {
      return ((ended_[Is] || input_paused<Is>()) && ...);
    }(std::make_index_sequence<n_inputs>{});
  }
  // Whether input I sits out the turn that starts now: paused, unless every
  // live input is paused and I has the lowest watermark (progress first).
  template <std::size_t I>
  [[nodiscard]] bool sits_out() const {
    if (!input_paused<I>()) return false;
    if (!every_live_input_paused()) return true;
    for (std::size_t k = 0; k < n_inputs; ++k) {
      if (!ended_[k] && watermarks_[k] < watermarks_[I]) return true;
      if (!ended_[k] && watermarks_[k] == watermarks_[I] && k < I) return true;
    }
    return false;
  }

  // Wraps each input in an aligned_source that joins `group`, in input order.
  template <class MakeExcess>
  auto align_inputs(alignment_group group, MakeExcess make) && {
    return [&]<std::size_t... Is>(std::index_sequence<Is...>) {
      using result = union_source<
          aligned_source<Sources, decltype(make(std::integral_constant<std::size_t, Is>{}))>...>;
      // Braces: the inputs join the group left to right.
      return result{batch_, aligned_source<Sources, decltype(make(std::integral_constant<std::size_t, Is>{}))>(
                                std::get<Is>(std::move(inputs_)), group, make(std::integral_constant<std::size_t, Is>{}))...};
    }(std::make_index_sequence<n_inputs>{});
  }

  template <class F>
  void visit_input(std::size_t i, F&& f) {
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
      (void)((i == Is && (f.template operator()<Is>(std::get<Is>(inputs_)), true)) || ...);
    }(std::make_index_sequence<n_inputs>{});
  }

  template <class F>
  void for_each_input(F&& f) {
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
      (f.template operator()<Is>(std::get<Is>(inputs_)), ...);
    }(std::make_index_sequence<n_inputs>{});
  }

  std::tuple<Sources...> inputs_;
  std::size_t batch_;
  std::size_t batch_left_;
  std::size_t cursor_ = 0;
  std::array<timestamp, n_inputs> watermarks_{};
  std::array<bool, n_inputs> ended_{};
  timestamp emitted_ = timestamp::min();
};

/// One stream from several same-typed pull sources (each may carry its own
/// with_watermarks). Takes `batch` records from each input in turn.
template <source... Sources>
auto union_of(Sources&&... inputs) {
  static_assert(sizeof...(Sources) >= 2, "laminar::union_of needs at least two inputs");
  return union_source<std::remove_cvref_t<Sources>...>(64, std::forward<Sources>(inputs)...);
}

/// As union_of, taking `batch` records from each input in turn.
template <source... Sources>
auto union_of_batched(std::size_t batch, Sources&&... inputs) {
  return union_source<std::remove_cvref_t<Sources>...>(batch, std::forward<Sources>(inputs)...);
}

}  // namespace laminar
