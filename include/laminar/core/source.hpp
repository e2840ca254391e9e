// The source protocol and how sources compose with pipes.
//
// A source drives a chain it is handed by reference. A pull source (range,
// generator, union) has run_for(chain, n) and exhausted(); a push source
// (push<T>()) has push(chain, record) and watermark(chain, w). Every source
// has context(), finish(chain) (final watermark, then end) and
// on_barrier(chain, barrier) (save its position, then pass the barrier on).
// A pull source may also have paused() (see pausable_source) and honour a
// chain's stop_requested() (see stoppable_source).
// Adapters such as with_watermarks wrap the chain in a by-reference view per
// call, so the whole path from source to sink still inlines.
#pragma once

#include <concepts>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/compose.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/core/pipeline.hpp"

namespace laminar {

/// A source of records; says so with `using is_source = void;`.
template <class S>
concept source = requires { typename std::remove_cvref_t<S>::is_source; };

/// A source that is pulled: run_for(chain, n) emits up to n records.
template <class S>
concept pull_source = source<S> && requires(const S& s) { { s.exhausted() } -> std::convertible_to<bool>; };

/// A source that user code pushes records into.
template <class S>
concept pushed_source = source<S> && std::remove_cvref_t<S>::is_pushed;

/// A pull source that may ask not to be pulled for now (a member of a
/// watermark alignment group that ran ahead): its driver (union_of, a
/// graph's source task) leaves it alone while paused() is true.
template <class S>
concept pausable_source = pull_source<S> && requires(const S& s) { { s.paused() } -> std::convertible_to<bool>; };

/// A chain that may ask the source driving it to stop within run_for: once
/// stop_requested() is true after a record, a source that honours it
/// returns from run_for (an alignment group's member stops at its bound).
template <class C>
concept stopping_chain = requires(const C& c) { { c.stop_requested() } -> std::convertible_to<bool>; };

/// A pull source that honours stop_requested() (range, generator); says so
/// with `static constexpr bool stops_on_request = true;`.
template <class S>
concept stoppable_source = pull_source<S> && requires { requires std::remove_cvref_t<S>::stops_on_request; };

namespace detail {
/// The end of a bounded stream: the watermark reaches the end of time, then
/// the chain flushes.
template <class Chain>
void end_stream(Chain& chain) {
  chain.on_watermark(timestamp::max());
  chain.on_end();
}
}  // namespace detail

/// A base for sources whose checkpointed state is their own (a position):
/// it supplies the end of stream and the barrier protocol. The built-in
/// sources use it; so may user sources (Derived must be stateful).
template <class Derived>
class source_base {
 public:
  using is_source = void;

  template <class Chain>
  void finish(Chain& chain) {
    detail::end_stream(chain);
  }
  template <class Chain>
  void on_barrier(Chain& chain, const checkpoint_barrier& b) {
    b.checkpoint(static_cast<Derived&>(*this));
    chain.on_barrier(b);
  }
};

/// A source followed by operators not yet closed by a sink.
template <class Source, class Pipe>
struct source_pipe {
  Source src;
  Pipe ops;
};

namespace detail {
template <class Source, class... Fs>
auto close(Source&& src, pipe<Fs...>&& p) {
  using S = std::remove_cvref_t<Source>;
  if constexpr (pipe<Fs...>::closed) {
    auto chain = bind_chain(src.context(), std::move(p));
    return pipeline<S, decltype(chain)>(std::forward<Source>(src), std::move(chain));
  } else {
    // The source fixes the record type, so the operators can be checked
    // now, at this `|`: a misfit's "required from here" then points at
    // the `|` that appended it, not at the sink's.
    using checked = typename detail::context_after<decltype(src.context()), Fs...>::type;
    static_assert(sizeof(checked) > 0);
    return source_pipe<S, pipe<Fs...>>{std::forward<Source>(src), std::move(p)};
  }
}
}  // namespace detail

/// `source | operators...` and, once a sink closes it, a runnable pipeline.
template <source S, pipeable P>
auto operator|(S&& src, P&& p) {
  return detail::close(std::forward<S>(src), detail::as_pipe(std::forward<P>(p)));
}

template <class Source, class Pipe, pipeable P>
auto operator|(source_pipe<Source, Pipe>&& sp, P&& p) {
  return detail::close(std::move(sp.src), detail::concat(std::move(sp.ops), detail::as_pipe(std::forward<P>(p))));
}

/// A pipeline is closed by its sink: nothing can be composed after it.
/// (This and the other misplaced-`|` overloads return auto: deducing it
/// instantiates the body at the `|`, so their assertion is the first error,
/// ahead of the caller's `auto p = ...` of a void.)
template <class Source, class Chain, pipeable P>
auto operator|(const pipeline<Source, Chain>&, P&&) {
  static_assert(sizeof(P) == 0, "laminar: nothing can follow a sink: the sink must be the last stage of a chain");
}

}  // namespace laminar
