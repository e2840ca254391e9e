// connect(left, right) | two_input_operator | operators... | sink: two
// streams into one two-input operator (joins), run in one thread.
//
//   auto p = connect(from(trades) | with_watermarks(&trade::ts, b) | key_by(&trade::symbol),
//                    from(quotes) | with_watermarks(&quote::ts, b) | key_by(&quote::symbol))
//          | asof_join(...) | sink(f);
//   p.run();
//
// Each input is a source, with or without operators after it. The result
// is a joined_pipeline: run() / run_for(n) for pull sources, push_left(l) /
// push_right(r) and push_left_watermark(w) / push_right_watermark(w) for push
// sources, finish(), checkpoint(id) / restore(s), tick(now).
//
// Pulling two sources in one thread, the pipeline pulls the input whose
// watermark is behind until it passes the other's (ties: left first), one
// record at a time where the source honours stop requests (from, generate),
// so the two inputs meet the operator in the order of their watermarks.
// Inputs without watermarks are pulled in turns of `batch` records. For
// records in the order a feed delivered them, push them.
//
// The operator, its input chains and the downstream chain live in one heap
// block allocated when the pipeline is built (the input chains end in ports
// that point at the operator), so the pipeline can be moved.
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/compose.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/source.hpp"
#include "laminar/core/time.hpp"
#include "laminar/core/two_input.hpp"

namespace laminar {

/// A two-input operator factory; says so with `using is_two_input_operator = void;` and has
///   template <class LCtx, class RCtx> auto output_context(const LCtx&, const RCtx&) const;
///   template <class LCtx, class RCtx, class Next> auto bind(const LCtx&, const RCtx&, Next&&) &&;
/// where bind returns a two_input_stage over the two contexts' record types.
template <class F>
concept two_input_factory = requires { typename std::remove_cvref_t<F>::is_two_input_operator; };

namespace detail {

/// One input of connect(): a source and the operators after it.
template <class Source, class Pipe>
struct connected_input {
  Source src;
  Pipe ops;
  [[nodiscard]] auto context() const { return output_context_of(src.context(), ops); }
};

template <class S>
auto as_connected_input(S&& s) {
  if constexpr (source<S>) {
    return connected_input<std::remove_cvref_t<S>, pipe<>>{std::forward<S>(s), pipe<>{}};
  } else {
    return connected_input<decltype(s.src), decltype(s.ops)>{std::move(s.src), std::move(s.ops)};
  }
}

template <class T>
inline constexpr bool is_source_pipe_v = false;
template <class S, class P>
inline constexpr bool is_source_pipe_v<source_pipe<S, P>> = true;

template <class T>
concept connectable = source<T> || is_source_pipe_v<std::remove_cvref_t<T>>;

/// The sink that ends an input's chain: the port into the two-input adapter.
template <class Adapter, class Side>
struct port_sink {
  using is_sink = void;
  Adapter* adapter;
  template <class Ctx>
  auto bind(const Ctx&) && {
    return input_port<Adapter, Side>(adapter);
  }
};

/// A chain as a side's source sees it: the chain, plus the driver's request
/// to stop once this side's watermark has passed the other's.
template <class Chain, class Adapter, class Side>
class side_view {
 public:
  side_view(Chain& chain, const Adapter& adapter, bool pace) noexcept : chain_(&chain), adapter_(&adapter), pace_(pace) {}
  template <class T>
  [[gnu::always_inline]] void on_event(const T& record) {
    chain_->on_event(record);
  }
  void on_watermark(timestamp w) { chain_->on_watermark(w); }
  void on_barrier(const checkpoint_barrier& b) { chain_->on_barrier(b); }
  void on_end() { chain_->on_end(); }
  // A side stops once its watermark has passed the other's (the right one
  // already on a tie, which goes to the left); with no watermarks on
  // either side, never (the driver's turns limit it).
  [[nodiscard]] bool stop_requested() const noexcept {
    if (!pace_) return false;
    const timestamp lw = adapter_->left_watermark(), rw = adapter_->right_watermark();
    if constexpr (std::is_same_v<Side, left_input>) {
      return lw > rw;
    } else {
      return rw > lw || (rw == lw && rw != timestamp::min());
    }
  }

 private:
  Chain* chain_;
  const Adapter* adapter_;
  bool pace_;
};

}  // namespace detail

/// Two streams for a two-input operator: connect(left, right) | op.
template <class L, class R>
struct connected {
  L left;
  R right;
};

template <detail::connectable L, detail::connectable R>
auto connect(L&& left, R&& right) {
  auto l = detail::as_connected_input(std::forward<L>(left));
  auto r = detail::as_connected_input(std::forward<R>(right));
  return connected<decltype(l), decltype(r)>{std::move(l), std::move(r)};
}

/// connect(...) | op, not yet closed by a sink. The operator comes first:
/// placed after `right`, g++ 12 at -O3 lost the points-to set of its side
/// outputs when copying it out (their records then looked missing to the
/// caller; docs/joins.md#known-issue).
template <class L, class R, class Op, class Pipe>
struct joined {
  Op op;
  L left;
  R right;
  Pipe ops;
};

template <class L, class R, class Op, class Pipe>
class joined_pipeline;

namespace detail {
template <class L, class R, class Op, class... Fs>
auto close_joined(L&& l, R&& r, Op&& op, pipe<Fs...>&& p) {
  if constexpr (pipe<Fs...>::closed) {
    return joined_pipeline<L, R, Op, pipe<Fs...>>(std::move(l), std::move(r), std::move(op), std::move(p));
  } else {
    return joined<L, R, Op, pipe<Fs...>>{std::move(op), std::move(l), std::move(r), std::move(p)};
  }
}
}  // namespace detail

template <class L, class R, two_input_factory Op>
auto operator|(connected<L, R>&& c, Op&& op) {
  return detail::close_joined(std::move(c.left), std::move(c.right), std::remove_cvref_t<Op>(std::forward<Op>(op)),
                              pipe<>{});
}

template <class L, class R, class Op, class Pipe, pipeable P>
auto operator|(joined<L, R, Op, Pipe>&& j, P&& p) {
  return detail::close_joined(std::move(j.left), std::move(j.right), std::move(j.op),
                              detail::concat(std::move(j.ops), detail::as_pipe(std::forward<P>(p))));
}

/// Two sources, their chains, a two-input operator and its downstream, run
/// in one thread.
template <class L, class R, class Op, class Pipe>
class joined_pipeline {
  using left_ctx = decltype(std::declval<const L&>().context());
  using right_ctx = decltype(std::declval<const R&>().context());
  using out_ctx = decltype(std::declval<const Op&>().output_context(std::declval<const left_ctx&>(),
                                                                  std::declval<const right_ctx&>()));
  using downstream = decltype(bind_chain(std::declval<const out_ctx&>(), std::declval<Pipe>()));
  using stage_type = decltype(std::declval<Op>().bind(std::declval<const left_ctx&>(), std::declval<const right_ctx&>(),
                                                      std::declval<downstream>()));
  using adapter = two_input_adapter<stage_type>;
  template <class Side, class In>
  using side_chain = decltype(bind_chain(std::declval<const decltype(std::declval<const In&>().context())&>(),
                                         detail::concat(std::declval<decltype(std::declval<In&>().ops)>(),
                                                        detail::as_pipe(detail::port_sink<adapter, Side>{nullptr}))));
  using left_chain = side_chain<left_input, L>;
  using right_chain = side_chain<right_input, R>;
  using left_source = decltype(std::declval<L&>().src);
  using right_source = decltype(std::declval<R&>().src);

  struct block {
    adapter join;
    left_chain left;
    right_chain right;
    block(L& l, R& r, Op&& op, Pipe&& p)
        : join(std::move(op).bind(l.context(), r.context(),
                                  bind_chain(op.output_context(l.context(), r.context()), std::move(p)))),
          left(bind_chain(l.context(), detail::concat(std::move(l.ops), detail::as_pipe(detail::port_sink<adapter, left_input>{&join})))),
          right(bind_chain(r.context(),
                           detail::concat(std::move(r.ops), detail::as_pipe(detail::port_sink<adapter, right_input>{&join})))) {}
  };

 public:
  using value_type = typename out_ctx::value_type;
  static_assert(two_input_stage<stage_type, typename left_ctx::value_type, typename right_ctx::value_type>,
                "laminar: a two-input operator's stage must accept on_event(left_input, L), on_event(right_input, R), "
                "on_input_watermark(Side, w), on_input_end(Side) and every control message");

  joined_pipeline(L l, R r, Op op, Pipe p)
      : left_src_(std::move(l.src)),
        right_src_(std::move(r.src)),
        block_(std::make_unique<block>(l, r, std::move(op), std::move(p))) {}

  // ---- pull sources ----

  /// Runs both sources to their ends and finishes the stream.
  void run()
    requires pull_source<left_source> && pull_source<right_source>
  {
    expect_open("run");
    while (!exhausted()) run_for(std::numeric_limits<std::size_t>::max());
    finish();
  }

  /// Emits up to `max_records` records from the two sources, the one whose
  /// watermark is behind first; returns how many.
  std::size_t run_for(std::size_t max_records)
    requires pull_source<left_source> && pull_source<right_source>
  {
    expect_open("run_for");
    std::size_t n = 0;
    for (unsigned idle = 0; n < max_records && idle < 2;) {
      const bool l_done = left_src_.exhausted(), r_done = right_src_.exhausted();
      if (l_done && !left_ended_) end_input<left_input>();
      if (r_done && !right_ended_) end_input<right_input>();
      if (l_done && r_done) break;
      const timestamp lw = block_->join.left_watermark(), rw = block_->join.right_watermark();
      // Until either input has a watermark, they take turns of `batch` records.
      const bool paced = lw != timestamp::min() || rw != timestamp::min();
      const bool take_left = r_done || (!l_done && (paced ? lw <= rw : turn_left_));
      const std::size_t want = std::min(paced ? max_records - n : batch_left_, max_records - n);
      std::size_t got = 0;
      if (take_left) {
        detail::side_view<left_chain, adapter, left_input> v(block_->left, block_->join, !r_done);
        got = left_src_.run_for(v, want);
      } else {
        detail::side_view<right_chain, adapter, right_input> v(block_->right, block_->join, !l_done);
        got = right_src_.run_for(v, want);
      }
      n += got;
      batch_left_ -= std::min(batch_left_, got);
      if (paced || batch_left_ == 0) {
        turn_left_ = !take_left;
        batch_left_ = batch_;
      }
      // A source that gives nothing without ending (paused, or waiting):
      // after both have had a turn, return.
      idle = got == 0 ? idle + 1 : 0;
    }
    return n;
  }

  [[nodiscard]] bool exhausted() const
    requires pull_source<left_source> && pull_source<right_source>
  {
    return left_src_.exhausted() && right_src_.exhausted();
  }

  /// Records per turn while neither input has a watermark (default 64).
  void set_batch(std::size_t records) noexcept { batch_ = batch_left_ = records ? records : 1; }

  // ---- push sources ----

  void push_left(const typename left_source::value_type& record)
    requires pushed_source<left_source>
  {
    expect_open("push_left");
    left_src_.push(block_->left, record);
  }
  void push_right(const typename right_source::value_type& record)
    requires pushed_source<right_source>
  {
    expect_open("push_right");
    right_src_.push(block_->right, record);
  }
  void push_left_watermark(timestamp w)
    requires pushed_source<left_source>
  {
    expect_open("push_left_watermark");
    left_src_.watermark(block_->left, w);
  }
  void push_right_watermark(timestamp w)
    requires pushed_source<right_source>
  {
    expect_open("push_right_watermark");
    right_src_.watermark(block_->right, w);
  }
  /// Ends one pushed input (the other may go on).
  void finish_left() {
    expect_open("finish_left");
    end_input<left_input>();
  }
  void finish_right() {
    expect_open("finish_right");
    end_input<right_input>();
  }

  // ---- every source ----

  /// Ends both inputs: each's watermark goes to the end of time, then the
  /// operator and its downstream flush.
  void finish() {
    expect_open("finish");
    end_input<left_input>();
    end_input<right_input>();
    finished_ = true;
  }
  [[nodiscard]] bool finished() const noexcept { return finished_; }

  /// Processing-time tick: the sources' idle timeouts, then the stages'
  /// processing-time triggers (both inputs' chains, the operator, and what
  /// follows it).
  void tick(timestamp now = timestamp::now()) {
    if (finished_) return;
    if constexpr (requires { left_src_.poll_idle(block_->left, now); }) left_src_.poll_idle(block_->left, now);
    if constexpr (requires { right_src_.poll_idle(block_->right, now); }) right_src_.poll_idle(block_->right, now);
    // Down both inputs' chains; the join hears it once.
    block_->left.on_processing_time(now);
    block_->right.on_processing_time(now);
  }

  /// Checkpoint `checkpoint_id` is complete, or failed: down both inputs'
  /// chains, the join and what follows hearing it once (see pipeline).
  void checkpoint_complete(std::uint64_t checkpoint_id) {
    block_->left.on_checkpoint_complete(checkpoint_id);
    block_->right.on_checkpoint_complete(checkpoint_id);
  }
  void checkpoint_abort(std::uint64_t checkpoint_id) {
    block_->left.on_checkpoint_abort(checkpoint_id);
    block_->right.on_checkpoint_abort(checkpoint_id);
  }

  /// Sends a checkpoint barrier down both inputs; the operator saves its
  /// state once it has arrived on both, then passes it on.
  /// `incremental_on`: an incremental checkpoint, as pipeline::checkpoint.
  snapshot checkpoint(std::uint64_t checkpoint_id, std::optional<std::uint64_t> incremental_on = std::nullopt) {
    expect_open("checkpoint");
    snapshot s(checkpoint_id);
    if (incremental_on) s.take_incremental(*incremental_on);
    send_barrier(checkpoint_barrier(checkpoint_id, s, checkpoint_barrier::kind::snapshot));
    return s;
  }

  /// Replays a snapshot into this pipeline (a fresh one built the same way).
  void restore(snapshot s) {
    expect_open("restore");
    s.rewind();
    send_barrier(checkpoint_barrier(s.checkpoint_id(), s, checkpoint_barrier::kind::restore));
    s.expect_fully_restored();
  }

  /// The two-input operator's stage (its counters, its downstream()).
  [[nodiscard]] stage_type& join() noexcept { return block_->join.stage(); }
  /// Each input's watermark and the combined one.
  [[nodiscard]] const adapter& watermarks() const noexcept { return block_->join; }

 private:
  template <class Side>
  void end_input() {
    bool& ended = std::is_same_v<Side, left_input> ? left_ended_ : right_ended_;
    if (ended) return;
    ended = true;
    if constexpr (std::is_same_v<Side, left_input>) {
      left_src_.finish(block_->left);
    } else {
      right_src_.finish(block_->right);
    }
  }

  // The turn is state too: a run cut short and resumed, or restored, pulls
  // the inputs in the same order as one run.
  struct turn_state {
    static constexpr std::string_view state_name = "connect_turns";
    joined_pipeline* self;
    void save_state(state_writer& w) const { w(self->turn_left_, static_cast<std::uint64_t>(self->batch_left_)); }
    void load_state(state_reader& r) {
      std::uint64_t left = 0;
      r(self->turn_left_, left);
      self->batch_left_ = static_cast<std::size_t>(left);
    }
  };

  void send_barrier(const checkpoint_barrier& b) {
    turn_state turn{this};
    b.checkpoint(turn);
    left_src_.on_barrier(block_->left, b);
    right_src_.on_barrier(block_->right, b);
  }

  // Inline: the per-record pushes pay one test of a flag, not a call.
  [[gnu::always_inline]] void expect_open(const char* what) const {
    if (finished_) [[unlikely]] ended(what);
  }
  [[noreturn, gnu::cold, gnu::noinline]] static void ended(const char* what) {
    throw usage_error(std::string("joined pipeline: ") + what + "() after finish(): the stream has ended");
  }

  left_source left_src_;
  right_source right_src_;
  std::unique_ptr<block> block_;
  std::size_t batch_ = 64;
  std::size_t batch_left_ = 64;
  bool turn_left_ = true;
  bool left_ended_ = false;
  bool right_ended_ = false;
  bool finished_ = false;
};

}  // namespace laminar
