// with_watermarks(time, strategy): gives a source event time and a watermark
// generator. It goes right after the source, where Flink's WatermarkStrategy
// goes, because idleness is a property of a source:
//   from(ticks) | with_watermarks(&Tick::ts, bounded_out_of_orderness(50ms)) | ...
#pragma once

#include <concepts>
#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/detail/result_or.hpp"
#include "laminar/core/source.hpp"
#include "laminar/core/time.hpp"
#include "laminar/core/watermark.hpp"

namespace laminar::detail {
class doorbell;  // runtime/doorbell.hpp: a fed source's worker
}  // namespace laminar::detail

namespace laminar {

/// The chain as a watermarked source sees it: records pass through and feed
/// the generator; a watermark follows the record that advanced it (or
/// every record, for a chain that absorbs repeated watermarks). Thinned
/// (the strategy sets an emission trigger), it follows the record on which
/// a trigger fired, and the held one is flushed before a checkpoint
/// barrier and when an explicit watermark arrives.
template <class T, class Time, class Generator, class Chain, bool Thinned = false>
class watermark_view {
 public:
  watermark_view(const Time& time, Generator& gen, Chain& chain) noexcept : time_(&time), gen_(&gen), chain_(&chain) {}
  void on_event(const T& record) {
    // The time is read before the chain runs: the chain's stores (an
    // accumulator's add) would otherwise force it to be read again.
    const timestamp ts = to_timestamp(std::invoke(*time_, record));
    chain_->on_event(record);
    if constexpr (Thinned) {
      if (gen_->on_record_thinned(record, ts)) [[unlikely]] flush();
    } else if constexpr (absorbs_repeated_watermarks<Chain>) {
      chain_->on_watermark(gen_->on_record_branch_free(record, ts));  // no branch on whether it advanced
    } else if (gen_->on_record(record, ts)) {
      chain_->on_watermark(gen_->current());
    }
  }
  void on_watermark(timestamp w) {
    if constexpr (Thinned) {
      gen_->on_watermark(w);
      flush();
    } else if (gen_->on_watermark(w)) {
      chain_->on_watermark(w);
    }
  }
  void on_barrier(const checkpoint_barrier& b) {
    if constexpr (Thinned) {
      if (!b.restoring()) flush();
    }
    b.checkpoint(*gen_);
    chain_->on_barrier(b);
  }
  void on_end() { chain_->on_end(); }
  /// Passes the held watermark on, if it advanced since the last one.
  void flush() {
    if (const auto w = gen_->take()) chain_->on_watermark(*w);
  }
  /// Passes a stop request on from the chain (stopping_chain).
  [[nodiscard]] bool stop_requested() const
    requires stopping_chain<Chain>
  {
    return chain_->stop_requested();
  }

 private:
  const Time* time_;
  Generator* gen_;
  Chain* chain_;
};

template <class Source, class Time, class Punctuation>
class watermarked_source {
  using generator = watermark_generator<Punctuation>;
  template <class Chain, bool Thinned = false>
  using view = watermark_view<typename Source::value_type, Time, generator, Chain, Thinned>;

 public:
  using is_source = void;
  using value_type = typename Source::value_type;
  static constexpr bool is_pushed = pushed_source<Source>;
  static constexpr bool stops_on_request = stoppable_source<Source>;

  watermarked_source(Source src, Time time, watermark_strategy<Punctuation> strategy)
      : src_(std::move(src)), time_(std::move(time)), gen_(std::move(strategy)), thinned_(gen_.strategy().thinned()) {}

  [[nodiscard]] auto context() const { return src_.context().with_time(time_); }

  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max_records)
    requires pull_source<Source>
  {
    // The emission policy is chosen once per batch: each view's record path
    // is compiled for its own policy.
    const std::size_t n = with_view(chain, [&](auto& v) { return src_.run_for(v, max_records); });
    if (n != 0) gen_.mark_active();  // for the idle timeout, once per batch
    return n;
  }
  [[nodiscard]] bool exhausted() const
    requires pull_source<Source>
  {
    return src_.exhausted();
  }
  // A source fed from outside (push_feed_source): whether it has input, and the
  // worker to wake when it gets some.
  [[nodiscard]] bool has_input() const
    requires requires(const Source& s) { s.has_input(); }
  {
    return src_.has_input();
  }
  void attach(detail::doorbell* bell)
    requires requires(Source& s) { s.attach(bell); }
  {
    src_.attach(bell);
  }
  template <class Chain>
  void push(Chain& chain, const value_type& record)
    requires pushed_source<Source>
  {
    gen_.mark_active();
    with_view(chain, [&](auto& v) { src_.push(v, record); });
  }
  template <class Chain>
  void watermark(Chain& chain, timestamp w)
    requires pushed_source<Source>
  {
    with_view(chain, [&](auto& v) { src_.watermark(v, w); });
  }
  /// The end: thinned, the held watermark first, then the source's end
  /// (the end of time, then on_end()).
  template <class Chain>
  void finish(Chain& chain) {
    with_view(chain, [&](auto& v) {
      if (thinned_) v.flush();
      src_.finish(v);
    });
  }
  template <class Chain>
  void on_barrier(Chain& chain, const checkpoint_barrier& b) {
    with_view(chain, [&](auto& v) { src_.on_barrier(v, b); });
  }
  template <class Chain>
  void poll_idle(Chain& chain, timestamp now) {
    if (const auto w = gen_.on_processing_time(now)) chain.on_watermark(*w);
  }

  [[nodiscard]] const generator& watermarks() const noexcept { return gen_; }
  [[nodiscard]] Source& inner() noexcept { return src_; }

 private:
  template <class Chain, class F>
  decltype(auto) with_view(Chain& chain, F&& f) {
    if (thinned_) {
      view<Chain, true> v(time_, gen_, chain);
      return f(v);
    }
    view<Chain> v(time_, gen_, chain);
    return f(v);
  }

  Source src_;
  [[no_unique_address]] Time time_;
  generator gen_;
  bool thinned_;
};

template <class Time, class Punctuation>
struct watermark_assigner {
  Time time;
  watermark_strategy<Punctuation> strategy;
};

/// Event time from `time` (a member pointer such as &Tick::ts, or a callable)
/// and watermarks by `strategy`; compose it right after a source.
template <class Time, class Punctuation>
auto with_watermarks(Time time, watermark_strategy<Punctuation> strategy) {
  return watermark_assigner<Time, Punctuation>{std::move(time), std::move(strategy)};
}

template <source S, class Time, class Punctuation>
auto operator|(S&& src, watermark_assigner<Time, Punctuation> a) {
  using Src = std::remove_cvref_t<S>;
  using T = typename Src::value_type;
  static_assert(std::invocable<const Time&, const T&>,
                "laminar::with_watermarks: the time projection cannot be applied to the source's record type");
  static_assert(!std::invocable<const Time&, const T&> || timestamp_like<detail::result_or_t<const Time&, const T&>>,
                "laminar::with_watermarks: the time projection must return a laminar::timestamp, a std::chrono "
                "time_point or duration, or integer nanoseconds since the epoch");
  return watermarked_source<Src, Time, Punctuation>(std::forward<S>(src), std::move(a.time), std::move(a.strategy));
}

namespace detail {
template <class P>
inline constexpr bool not_after_a_source = false;
}  // namespace detail

/// with_watermarks belongs right after a source; anywhere else is an error.
template <class P, class Time, class Punctuation>
  requires(!source<P>)
auto operator|(P&&, watermark_assigner<Time, Punctuation>) {
  static_assert(detail::not_after_a_source<P>,
                "laminar::with_watermarks goes right after a source: from(x) | with_watermarks(...) | ...; "
                "use event_time(...) to name the event time later in a chain");
}

}  // namespace laminar
