// The stage contract: what every operator and sink in a fused chain accepts.
//
// A stage receives four messages, in order, from the stage before it:
//   on_event(const T&)                      a record
//   on_watermark(timestamp)                 no later record will be older than this
//   on_barrier(const checkpoint_barrier&)   save (or restore) state, then pass it on
//   on_end()                                the input is finished: flush
// Built-in stages and user stages meet the same concept; there is no other door.
#pragma once

#include <concepts>
#include <type_traits>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

/// Accepts records of type T (as `const T&`).
template <class S, class T>
concept accepts_events = requires(S& s, const T& event) { s.on_event(event); };

/// Accepts watermarks.
template <class S>
concept accepts_watermarks = requires(S& s, timestamp watermark) { s.on_watermark(watermark); };

/// Accepts checkpoint barriers.
template <class S>
concept accepts_barriers = requires(S& s, const checkpoint_barrier& barrier) { s.on_barrier(barrier); };

/// Accepts the end of its input.
template <class S>
concept accepts_end = requires(S& s) { s.on_end(); };

/// A stage of a chain whose input records are of type T.
template <class S, class T>
concept stage = accepts_events<S, T> && accepts_watermarks<S> && accepts_barriers<S> && accepts_end<S>;

/// Watermarks never go backwards, but one may repeat the last. A stage for
/// which a repeat costs no branch and changes nothing (a sink that ignores
/// watermarks, a window operator) may say so with
/// `static constexpr bool absorbs_repeated_watermarks = true;`. The stage
/// before it may then pass its watermark after every record, repeated or
/// not, instead of branching on whether it advanced: with_watermarks does,
/// so that the per-record path of a disordered stream has no branch that
/// mispredicts. A stage that does not say so gets only watermarks that
/// advanced, as before.
template <class S>
concept absorbs_repeated_watermarks = requires { requires S::absorbs_repeated_watermarks; };

namespace detail {
/// Checks the stage contract one member at a time, so that a type that does
/// not fit fails with a message naming the missing member; the compiler's
/// "required from" note names the stage type S and its input type T.
template <class S, class T>
consteval bool check_stage() {
  static_assert(accepts_events<S, T>,
                "laminar: this stage cannot take the records of its input: it needs on_event(const T&) "
                "(see S and T in the instantiation below)");
  static_assert(accepts_watermarks<S>, "laminar: this stage needs on_watermark(laminar::timestamp)");
  static_assert(accepts_barriers<S>, "laminar: this stage needs on_barrier(const laminar::checkpoint_barrier&)");
  static_assert(accepts_end<S>, "laminar: this stage needs on_end()");
  return true;
}
}  // namespace detail

/// Marker for "no projection attached" in a stream context.
struct no_projection {};

/// What composition knows about a stream at one point of a chain: the record
/// type, and the key and event-time projections attached upstream (by key_by,
/// event_time or with_watermarks) for keyed and event-time operators to use.
template <class T, class Key = no_projection, class Time = no_projection>
struct stream_context {
  using value_type = T;
  using key_type = Key;
  using time_type = Time;
  [[no_unique_address]] Key key{};
  [[no_unique_address]] Time time{};

  [[nodiscard]] static constexpr bool keyed() noexcept { return !std::is_same_v<Key, no_projection>; }
  [[nodiscard]] static constexpr bool timed() noexcept { return !std::is_same_v<Time, no_projection>; }

  /// The context after an operator that keeps the record type.
  template <class K>
  [[nodiscard]] constexpr auto with_key(K k) const { return stream_context<T, K, Time>{std::move(k), time}; }
  template <class P>
  [[nodiscard]] constexpr auto with_time(P p) const { return stream_context<T, Key, P>{key, std::move(p)}; }
};

/// The context after an operator that changes the record type to U: the key
/// and time projections applied to the old type, so they are dropped.
template <class U>
using context_of = stream_context<U>;

/// An operator factory: a value (map(f), filter(p), ...) that becomes a stage
/// only once composition binds it to its input context and its downstream.
/// It says so with `using is_operator = void;` and provides
///   template <class Ctx> auto output_context(const Ctx&) const;
///   template <class Ctx, class Next> auto bind(const Ctx&, Next&&) &&;
template <class F>
concept operator_factory = requires { typename std::remove_cvref_t<F>::is_operator; };

/// A sink factory: like an operator factory, but the end of a chain. It says
/// so with `using is_sink = void;` and provides
///   template <class Ctx> auto bind(const Ctx&) &&;
template <class F>
concept sink_factory = requires { typename std::remove_cvref_t<F>::is_sink; };

}  // namespace laminar
