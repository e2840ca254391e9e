// fan_out(branches...) and fan_in(branches...): one stream into several
// fused branches, in the same thread and the same inlined call.
//
//   from(trades) | with_watermarks(&trade::ts, bounded_out_of_orderness(1ms))
//     | fan_out(key_by(&trade::sym) | tumbling(1s).aggregate(vwap(...)) | sink(bars),
//               filter(is_spike) | sink(alerts),
//               count_events(n));
//
//   ... | fan_in(filter(is_buy) | map(signed_qty), filter(is_sell) | map(negated_qty))
//       | sink(flow);
//
// A branch is a pipe bound to the stream's context where the fan stands
// (its key and event-time projections included). fan_out's branches end in
// sinks and close the chain; fan_in's branches are open, and what they emit
// (one record type) goes on into the chain after fan_in: an in-thread union.
// They nest: a fan_out branch may hold a fan_in, and the other way round.
//
// Every message goes to every branch, in branch order: each record, each
// watermark, each barrier, the end, processing-time ticks and checkpoint
// outcomes. fan_in passes on, once:
//   - each record as a branch emits it;
//   - the minimum over the branches' latest watermarks, when it rises (an
//     ended branch counts as the end of time);
//   - a barrier after the last branch has passed it;
//   - the end once every branch has ended;
//   - a tick or an outcome after the last branch has had it.
// Each branch is a state-id scope (core/snapshot.hpp): "branch0", "branch1",
// ..., or the name given with branch("vwap", pipe), so equal operators in
// two branches keep distinct, stable ids ("branch1/window", "vwap/window").
// fan_in's own state (each branch's watermark) has the id "fan_in".
//
// Costs: per record one inlined call per branch, no allocation, no virtual
// call. fan_in allocates one block when its chain is built (its branches end
// in ports that point at the downstream, which must therefore stay put as
// the chain is moved), and passes records through that pointer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <cereal/types/array.hpp>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/compose.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

/// A branch of fan_out / fan_in with a name: the scope of its state ids.
template <class Pipe>
struct named_branch {
  std::string name;
  Pipe pipe;
};

/// Names a branch: `branch("vwap", key_by(&t::sym) | tumbling(1s)... | sink(f))`.
/// Its stateful stages' ids then read "vwap/<name>" whatever its position.
/// An empty name, or one with a '/', is a usage_error.
template <pipeable P>
auto branch(std::string name, P&& p) {
  if (name.empty() || name.find('/') != std::string::npos) {
    throw usage_error("laminar: branch: \"" + name + "\" is not a branch name: use a non-empty name without '/'");
  }
  auto as = detail::as_pipe(std::forward<P>(p));
  return named_branch<decltype(as)>{std::move(name), std::move(as)};
}

namespace detail {

template <class B>
struct branch_traits {
  static constexpr bool named = false;
  using pipe_type = decltype(as_pipe(std::declval<B>()));
};
template <class P>
struct branch_traits<named_branch<P>> {
  static constexpr bool named = true;
  using pipe_type = P;
};
template <class B>
using branch_pipe_t = typename branch_traits<std::remove_cvref_t<B>>::pipe_type;
template <class B>
inline constexpr bool is_named_branch_v = branch_traits<std::remove_cvref_t<B>>::named;

template <class B>
auto take_pipe(B&& b) {
  if constexpr (is_named_branch_v<B>) {
    return std::forward<B>(b).pipe;
  } else {
    return as_pipe(std::forward<B>(b));
  }
}

/// Each branch's scope name ("branch<i>" unless named), checked to differ.
template <class... Bs>
std::array<std::string, sizeof...(Bs)> branch_names(const char* fan, const Bs&... bs) {
  std::size_t i = 0;
  const auto name_of = [&i]<class B>(const B& b) {
    std::string n = "branch" + std::to_string(i++);
    if constexpr (is_named_branch_v<B>) n = b.name;
    return n;
  };
  std::array<std::string, sizeof...(Bs)> scopes{name_of(bs)...};
  for (std::size_t a = 0; a < scopes.size(); ++a) {
    for (std::size_t b = a + 1; b < scopes.size(); ++b) {
      if (scopes[a] == scopes[b]) {
        throw usage_error(std::string("laminar: ") + fan + ": branches " + std::to_string(a) + " and " +
                          std::to_string(b) + " are both named '" + scopes[a] +
                          "': a branch's name scopes its state ids, so each must differ");
      }
    }
  }
  return scopes;
}

/// Sends each message to every branch in order; a barrier walks each
/// branch inside that branch's scope.
template <class... Chains>
class branch_chains {
 public:
  static constexpr std::size_t count = sizeof...(Chains);

  branch_chains(std::tuple<Chains...> chains, std::array<std::string, count> scopes)
      : chains_(std::move(chains)), names_(std::move(scopes)) {}

  template <class T>
  [[gnu::always_inline]] void on_event(const T& record) {
    std::apply([&](Chains&... c) { (c.on_event(record), ...); }, chains_);
  }
  void on_watermark(timestamp w) {
    std::apply([&](Chains&... c) { (c.on_watermark(w), ...); }, chains_);
  }
  void on_barrier(const checkpoint_barrier& b) {
    for_each([&]<std::size_t I>(auto& c) {
      b.target().enter_scope(names_[I]);
      c.on_barrier(b);
      b.target().leave_scope();
    });
  }
  void on_end() {
    std::apply([&](Chains&... c) { (c.on_end(), ...); }, chains_);
  }
  void on_processing_time(timestamp now) {
    std::apply([&](Chains&... c) { (c.on_processing_time(now), ...); }, chains_);
  }
  void on_checkpoint_complete(std::uint64_t id) {
    std::apply([&](Chains&... c) { (c.on_checkpoint_complete(id), ...); }, chains_);
  }
  void on_checkpoint_abort(std::uint64_t id) {
    std::apply([&](Chains&... c) { (c.on_checkpoint_abort(id), ...); }, chains_);
  }

  template <std::size_t I>
  [[nodiscard]] auto& chain() noexcept {
    return std::get<I>(chains_);
  }
  [[nodiscard]] const std::string& name(std::size_t i) const noexcept { return names_[i]; }

 private:
  template <class F>
  void for_each(F&& f) {
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
      (f.template operator()<Is>(std::get<Is>(chains_)), ...);
    }(std::make_index_sequence<count>{});
  }

  std::tuple<Chains...> chains_;
  std::array<std::string, count> names_;
};

template <class Ctx, class... Pipes, std::size_t... Is>
auto bind_branches(const Ctx& ctx, std::tuple<Pipes...>&& pipes, std::index_sequence<Is...>) {
  return std::tuple(bind_chain(ctx, std::get<Is>(std::move(pipes)))...);
}

}  // namespace detail

// ---- fan_out: branches that end in sinks ----

template <class In, class... Chains>
class fan_out_stage {
 public:
  /// Repeated watermarks are free here when every branch takes them so.
  static constexpr bool absorbs_repeated_watermarks = (laminar::absorbs_repeated_watermarks<Chains> && ...);

  fan_out_stage(std::tuple<Chains...> chains, std::array<std::string, sizeof...(Chains)> scopes)
      : branches_(std::move(chains), std::move(scopes)) {}

  [[gnu::always_inline]] void on_event(const In& record) { branches_.on_event(record); }
  void on_watermark(timestamp w) { branches_.on_watermark(w); }
  void on_barrier(const checkpoint_barrier& b) { branches_.on_barrier(b); }
  void on_end() { branches_.on_end(); }
  void on_processing_time(timestamp now) { branches_.on_processing_time(now); }
  void on_checkpoint_complete(std::uint64_t id) { branches_.on_checkpoint_complete(id); }
  void on_checkpoint_abort(std::uint64_t id) { branches_.on_checkpoint_abort(id); }

  /// Branch I's chain (its first stage).
  template <std::size_t I>
  [[nodiscard]] auto& branch() noexcept {
    return branches_.template chain<I>();
  }

 private:
  detail::branch_chains<Chains...> branches_;
};

template <class... Pipes>
struct fan_out_factory {
  using is_sink = void;
  std::tuple<Pipes...> branches;
  std::array<std::string, sizeof...(Pipes)> scopes;

  template <class Ctx>
  auto bind(const Ctx& ctx) && {
    auto chains = detail::bind_branches(ctx, std::move(branches), std::index_sequence_for<Pipes...>{});
    return [&]<class... Chains>(std::tuple<Chains...>& c) {
      return fan_out_stage<typename Ctx::value_type, Chains...>(std::move(c), std::move(scopes));
    }(chains);
  }
};

/// Sends the stream into every branch, each a pipe ending in a sink (or a
/// branch("name", pipe)); closes the chain. See the top of this header.
template <class... Bs>
auto fan_out(Bs&&... branches) {
  static_assert(sizeof...(Bs) >= 1, "laminar::fan_out: give it the branches to send the stream into");
  static_assert((detail::branch_pipe_t<Bs>::closed && ...),
                "laminar::fan_out: every branch must end in a sink (sink(f), collect(v), ...); to merge branches "
                "into the chain that follows, use fan_in(...)");
  auto scopes = detail::branch_names("fan_out", branches...);
  return fan_out_factory<detail::branch_pipe_t<Bs>...>{
      std::tuple<detail::branch_pipe_t<Bs>...>(detail::take_pipe(std::forward<Bs>(branches))...), std::move(scopes)};
}

// ---- fan_in: branches that meet again ----

namespace detail {

/// Where fan_in's branches meet: the downstream, each branch's watermark,
/// and which branches have passed the barrier and the end. Heap-held, so
/// the ports at the branches' ends can point at it.
template <class Next, std::size_t N>
class fan_in_merge {
 public:
  static constexpr std::string_view state_name = "fan_in";

  explicit fan_in_merge(Next next) : next_(std::move(next)) { watermarks_.fill(timestamp::min()); }

  template <class T>
  [[gnu::always_inline]] void on_event(const T& record) {
    next_.on_event(record);
  }
  void branch_watermark(std::size_t i, timestamp w) {
    if (w <= watermarks_[i]) return;
    watermarks_[i] = w;
    timestamp low = watermarks_[0];
    for (std::size_t k = 1; k < N; ++k) low = watermarks_[k] < low ? watermarks_[k] : low;
    if (low > emitted_) {
      emitted_ = low;
      next_.on_watermark(low);
    }
  }
  void branch_barrier(std::size_t i) noexcept { passed_[i] = true; }
  void branch_end(std::size_t i) {
    if (ended_[i]) return;
    ended_[i] = true;
    branch_watermark(i, timestamp::max());  // an ended branch holds nothing back
    if (++ended_count_ == N) next_.on_end();
  }

  /// The branch that has not passed the barrier on, or N; resets for the next.
  [[nodiscard]] std::size_t barrier_stuck_at() noexcept {
    std::size_t stuck = N;
    for (std::size_t i = N; i-- > 0;) stuck = passed_[i] ? stuck : i;
    passed_.fill(false);
    return stuck;
  }
  /// The first branch that has not ended, or N.
  [[nodiscard]] std::size_t first_open() const noexcept {
    for (std::size_t i = 0; i < N; ++i) {
      if (!ended_[i]) return i;
    }
    return N;
  }

  [[nodiscard]] Next& next() noexcept { return next_; }
  [[nodiscard]] timestamp watermark() const noexcept { return emitted_; }

  void save_state(state_writer& w) const { w(watermarks_, emitted_); }
  void load_state(state_reader& r) { r(watermarks_, emitted_); }

 private:
  Next next_;
  std::array<timestamp, N> watermarks_{};
  timestamp emitted_ = timestamp::min();
  std::array<bool, N> passed_{};
  std::array<bool, N> ended_{};
  std::size_t ended_count_ = 0;
};

/// The sink that ends fan_in's branch I. Ticks and checkpoint outcomes stop
/// here: fan_in passes each on once, after its last branch.
template <class Merge, std::size_t I>
class fan_in_port : public consuming_stage {
 public:
  explicit fan_in_port(Merge* merge) noexcept : merge_(merge) {}
  template <class T>
  [[gnu::always_inline]] void on_event(const T& record) {
    merge_->on_event(record);
  }
  void on_watermark(timestamp w) { merge_->branch_watermark(I, w); }
  void on_barrier(const checkpoint_barrier&) noexcept { merge_->branch_barrier(I); }
  void on_end() { merge_->branch_end(I); }

 private:
  Merge* merge_;
};

template <class Merge, std::size_t I>
struct fan_in_port_factory {
  using is_sink = void;
  Merge* merge;
  template <class Ctx>
  auto bind(const Ctx&) && {
    return fan_in_port<Merge, I>(merge);
  }
};

/// The record type a branch emits, given its input context.
template <class Ctx, class Pipe>
using branch_output_t =
    typename decltype(output_context_of(std::declval<const Ctx&>(), std::declval<const Pipe&>()))::value_type;

}  // namespace detail

template <class In, class Merge, class... Chains>
class fan_in_stage {
 public:
  fan_in_stage(std::unique_ptr<Merge> merge, std::tuple<Chains...> chains,
               std::array<std::string, sizeof...(Chains)> scopes)
      : merge_(std::move(merge)), branches_(std::move(chains), std::move(scopes)) {}

  [[gnu::always_inline]] void on_event(const In& record) { branches_.on_event(record); }
  void on_watermark(timestamp w) { branches_.on_watermark(w); }
  void on_barrier(const checkpoint_barrier& b) {
    branches_.on_barrier(b);
    if (const std::size_t stuck = merge_->barrier_stuck_at(); stuck != sizeof...(Chains)) {
      throw usage_error("laminar: fan_in: branch '" + branches_.name(stuck) +
                        "' did not pass the checkpoint barrier on: a stage in it drops on_barrier");
    }
    b.checkpoint(*merge_);
    merge_->next().on_barrier(b);
  }
  void on_end() {
    branches_.on_end();
    if (const std::size_t open = merge_->first_open(); open != sizeof...(Chains)) {
      throw usage_error("laminar: fan_in: branch '" + branches_.name(open) +
                        "' did not pass on_end() on: a stage in it drops the end of the stream");
    }
  }
  void on_processing_time(timestamp now) {
    branches_.on_processing_time(now);
    merge_->next().on_processing_time(now);
  }
  void on_checkpoint_complete(std::uint64_t id) {
    branches_.on_checkpoint_complete(id);
    merge_->next().on_checkpoint_complete(id);
  }
  void on_checkpoint_abort(std::uint64_t id) {
    branches_.on_checkpoint_abort(id);
    merge_->next().on_checkpoint_abort(id);
  }

  /// Branch I's chain (its first stage), the chain after the union, and the
  /// union's watermark (the minimum over the branches' latest).
  template <std::size_t I>
  [[nodiscard]] auto& branch() noexcept {
    return branches_.template chain<I>();
  }
  [[nodiscard]] auto& downstream() noexcept { return merge_->next(); }
  [[nodiscard]] timestamp watermark() const noexcept { return merge_->watermark(); }

 private:
  std::unique_ptr<Merge> merge_;
  detail::branch_chains<Chains...> branches_;
};

template <class... Pipes>
struct fan_in_operator {
  using is_operator = void;
  std::tuple<Pipes...> branches;
  std::array<std::string, sizeof...(Pipes)> scopes;

  /// The union's record type; its context carries no key or event-time
  /// projection (branches may have changed either): name them again after
  /// fan_in where an operator needs them.
  template <class Ctx>
  auto output_context(const Ctx&) const {
    using U = detail::branch_output_t<Ctx, std::tuple_element_t<0, std::tuple<Pipes...>>>;
    static_assert((std::is_same_v<U, detail::branch_output_t<Ctx, Pipes>> && ...),
                  "laminar::fan_in: every branch must produce the same record type (map them to one type)");
    return context_of<U>{};
  }

  template <class Ctx, class Next>
  auto bind(const Ctx& ctx, Next&& next) && {
    (void)output_context(ctx);
    using merge_type = detail::fan_in_merge<std::remove_cvref_t<Next>, sizeof...(Pipes)>;
    auto merge = std::make_unique<merge_type>(std::forward<Next>(next));
    auto chains = [&]<std::size_t... Is>(std::index_sequence<Is...>) {
      return std::tuple(bind_chain(ctx, detail::concat(std::get<Is>(std::move(branches)),
                                                       detail::as_pipe(detail::fan_in_port_factory<merge_type, Is>{
                                                           merge.get()})))...);
    }(std::index_sequence_for<Pipes...>{});
    return [&]<class... Chains>(std::tuple<Chains...>& c) {
      return fan_in_stage<typename Ctx::value_type, merge_type, Chains...>(std::move(merge), std::move(c),
                                                                             std::move(scopes));
    }(chains);
  }
};

/// Sends the stream into every branch, each a pipe of operators without a
/// sink (or a branch("name", pipe)), and merges what they emit, one record
/// type, into the chain after it. See the top of this header.
template <class... Bs>
auto fan_in(Bs&&... branches) {
  static_assert(sizeof...(Bs) >= 1, "laminar::fan_in: give it the branches to send the stream into");
  static_assert((!detail::branch_pipe_t<Bs>::closed && ...),
                "laminar::fan_in: a branch ends in a sink, so nothing of it reaches the union: drop the sink, or "
                "put that branch in a fan_out(...)");
  auto scopes = detail::branch_names("fan_in", branches...);
  return fan_in_operator<detail::branch_pipe_t<Bs>...>{
      std::tuple<detail::branch_pipe_t<Bs>...>(detail::take_pipe(std::forward<Bs>(branches))...), std::move(scopes)};
}

}  // namespace laminar
