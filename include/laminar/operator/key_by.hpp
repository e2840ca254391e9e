// key_by(k) and event_time(t): attach a key or event-time projection to the
// stream for later keyed / event-time operators. Neither adds a stage: the
// projection travels in the composition context, at zero run-time cost.
#pragma once

#include <concepts>
#include <functional>
#include <type_traits>
#include <utility>

#include "laminar/core/detail/result_or.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/tagged_key.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

template <class K>
struct key_by_operator {
  using is_operator = void;
  K key;

  template <class Ctx>
  auto output_context(const Ctx& ctx) const {
    static_assert(std::invocable<const K&, const typename Ctx::value_type&>,
                  "laminar::key_by: the key projection cannot be applied to the stream's record type");
    return ctx.with_key(key);
  }
  template <class Ctx, class Next>
  auto bind(const Ctx& ctx, Next&& next) && {
    (void)output_context(ctx);
    return std::forward<Next>(next);
  }
};

/// Partitions the stream by a key: a member pointer (&Tick::symbol) or a
/// callable. Keyed operators downstream (windows, joins) group by it.
template <class K>
auto key_by(K key) {
  return key_by_operator<K>{std::move(key)};
}

/// Partitions the stream by a strong key: k's result tagged with Tag
/// (tagged_key<Tag, V>), so keys of different tags never meet in a join.
template <class Tag, class K>
auto key_by(K key) {
  return key_by_operator<detail::tagging_projection<Tag, K>>{{std::move(key)}};
}

template <class P>
struct event_time_operator {
  using is_operator = void;
  P time;

  template <class Ctx>
  auto output_context(const Ctx& ctx) const {
    using T = typename Ctx::value_type;
    static_assert(std::invocable<const P&, const T&>,
                  "laminar::event_time: the projection cannot be applied to the stream's record type (const T&)");
    static_assert(!std::invocable<const P&, const T&> || timestamp_like<detail::result_or_t<const P&, const T&>>,
                  "laminar::event_time: the projection must return a laminar::timestamp, a std::chrono time_point "
                  "or duration, or integer nanoseconds since the epoch");
    return ctx.with_time(time);
  }
  template <class Ctx, class Next>
  auto bind(const Ctx& ctx, Next&& next) && {
    (void)output_context(ctx);
    return std::forward<Next>(next);
  }
};

/// Names the event time of each record (a member pointer such as &Tick::ts,
/// or a callable) without generating watermarks.
template <class P>
auto event_time(P time) {
  return event_time_operator<P>{std::move(time)};
}

/// Applies a context's key projection to a record.
template <class Ctx>
decltype(auto) key_of(const Ctx& ctx, const typename Ctx::value_type& event) {
  static_assert(Ctx::keyed(), "laminar: this operator is keyed: put key_by(...) before it");
  return std::invoke(ctx.key, event);
}

/// Applies a context's event-time projection to a record.
template <class Ctx>
timestamp time_of(const Ctx& ctx, const typename Ctx::value_type& event) {
  static_assert(Ctx::timed(), "laminar: this operator needs event time: put event_time(...) or with_watermarks(...) before it");
  return to_timestamp(std::invoke(ctx.time, event));
}

}  // namespace laminar
