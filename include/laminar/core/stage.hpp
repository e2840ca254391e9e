// The stage contract: what every operator and sink in a fused chain accepts.
//
// A stage receives seven messages from the stage before it. The first four
// are the stream, in order:
//   on_event(const T&)                      a record
//   on_watermark(timestamp)                 no later record will be older than this
//   on_barrier(const checkpoint_barrier&)   save (or restore) state, then pass it on
//   on_end()                                the input is finished: flush
// The other three come from the driver, between records:
//   on_processing_time(timestamp now)       the wall clock's tick: processing-time
//                                           triggers (periodic emission, cache TTLs)
//   on_checkpoint_complete(std::uint64_t)   every stage has saved checkpoint id:
//                                           an exactly-once sink commits its output
//   on_checkpoint_abort(std::uint64_t)      checkpoint id failed: discard what it staged
// A stage handles each message or passes it on; none is optional, so a stage
// cannot silently stop one on its way down. forwarding_stage<Next> passes on
// every message its derived stage does not handle; consuming_stage ends them
// (a sink). A stage that does neither for a message fails to compile with an
// error naming the message. Built-in stages and user stages meet the same
// concept; there is no other door.
#pragma once

#include <concepts>
#include <cstdint>
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

/// Accepts the driver's processing-time ticks.
template <class S>
concept accepts_processing_time = requires(S& s, timestamp now) { s.on_processing_time(now); };

/// Hears whether a checkpoint completed or was aborted.
template <class S>
concept accepts_checkpoint_notifications = requires(S& s, std::uint64_t checkpoint_id) {
  s.on_checkpoint_complete(checkpoint_id);
  s.on_checkpoint_abort(checkpoint_id);
};

/// Accepts the control messages every stage does, whatever its input:
/// watermarks, barriers, the end, processing time, checkpoint outcomes.
template <class S>
concept accepts_control = accepts_watermarks<S> && accepts_barriers<S> && accepts_end<S> &&
                          accepts_processing_time<S> && accepts_checkpoint_notifications<S>;

/// A stage of a chain whose input records are of type T.
template <class S, class T>
concept stage = accepts_events<S, T> && accepts_control<S>;

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
/// The control messages, one at a time: each must be handled or passed on.
template <class S>
consteval bool check_control() {
  static_assert(accepts_watermarks<S>,
                "laminar: this stage neither handles nor passes on on_watermark(laminar::timestamp): define it, or "
                "derive from laminar::forwarding_stage<Next> (passes it on) or laminar::consuming_stage (a sink)");
  static_assert(accepts_barriers<S>,
                "laminar: this stage neither handles nor passes on on_barrier(const laminar::checkpoint_barrier&): "
                "define it, or derive from laminar::forwarding_stage<Next> or laminar::consuming_stage");
  static_assert(accepts_end<S>,
                "laminar: this stage neither handles nor passes on on_end(): define it, or derive from "
                "laminar::forwarding_stage<Next> or laminar::consuming_stage");
  static_assert(accepts_processing_time<S>,
                "laminar: this stage neither handles nor passes on on_processing_time(laminar::timestamp): "
                "processing-time triggers after it would stop; define it, or derive from "
                "laminar::forwarding_stage<Next> or laminar::consuming_stage");
  static_assert(requires(S& s, std::uint64_t id) { s.on_checkpoint_complete(id); },
                "laminar: this stage neither handles nor passes on on_checkpoint_complete(std::uint64_t): "
                "exactly-once sinks after it would never commit; define it, or derive from "
                "laminar::forwarding_stage<Next> or laminar::consuming_stage");
  static_assert(requires(S& s, std::uint64_t id) { s.on_checkpoint_abort(id); },
                "laminar: this stage neither handles nor passes on on_checkpoint_abort(std::uint64_t): define it, "
                "or derive from laminar::forwarding_stage<Next> or laminar::consuming_stage");
  return true;
}

/// Checks the stage contract one member at a time, so that a type that does
/// not fit fails with a message naming the missing member; the compiler's
/// "required from" note names the stage type S and its input type T.
template <class S, class T>
consteval bool check_stage() {
  static_assert(accepts_events<S, T>,
                "laminar: this stage cannot take the records of its input: it needs on_event(const T&) "
                "(see S and T in the instantiation below)");
  (void)check_control<S>();
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
