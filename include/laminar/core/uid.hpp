// uid("id", op): the stable id of an operator's state, as Flink's uid().
//
// Every stateful stage has an id by default: its state name within the
// scopes it is in (core/snapshot.hpp), such as "bars/window" in the
// graph node "bars". uid("vwap", op) makes "vwap" a scope around op's
// stages, so their ids read "vwap/<name>" wherever op stands in the chain:
// operators may then be added before or after it, stateful or not, and
// its state still restores. Works for one-input operators and for
// two-input operators (joins); costs nothing per record.
#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/compose.hpp"
#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/two_input.hpp"

namespace laminar {

namespace detail {

/// After the operator's stages: the scope ends where the barrier leaves them.
template <class Next>
class uid_exit : public forwarding_stage<Next> {
 public:
  static constexpr bool absorbs_repeated_watermarks = laminar::absorbs_repeated_watermarks<Next>;
  using forwarding_stage<Next>::forwarding_stage;
  template <class T>
  [[gnu::always_inline]] void on_event(const T& record) {
    this->next_.on_event(record);
  }
  void on_barrier(const checkpoint_barrier& b) {
    b.target().leave_scope();
    this->next_.on_barrier(b);
  }
};

/// Before them: a barrier opens the scope on its way in. What the one- and
/// two-input forms share: every message but the records goes to the
/// operator's own stage.
template <class Inner>
class uid_scope {
 public:
  uid_scope(std::string id, Inner inner) : inner_(std::move(inner)), id_(std::move(id)) {}

  void on_watermark(timestamp w) { inner_.on_watermark(w); }
  void on_barrier(const checkpoint_barrier& b) {
    b.target().enter_scope(id_);
    inner_.on_barrier(b);
  }
  void on_end() { inner_.on_end(); }
  void on_processing_time(timestamp now) { inner_.on_processing_time(now); }
  void on_checkpoint_complete(std::uint64_t id) { inner_.on_checkpoint_complete(id); }
  void on_checkpoint_abort(std::uint64_t id) { inner_.on_checkpoint_abort(id); }

  /// The operator's own stage.
  [[nodiscard]] Inner& inner() noexcept { return inner_; }
  [[nodiscard]] const Inner& inner() const noexcept { return inner_; }

 protected:
  Inner inner_;
  std::string id_;
};

template <class Inner>
class uid_stage : public uid_scope<Inner> {
 public:
  static constexpr bool absorbs_repeated_watermarks = laminar::absorbs_repeated_watermarks<Inner>;
  using uid_scope<Inner>::uid_scope;
  template <class T>
  [[gnu::always_inline]] void on_event(const T& record) {
    this->inner_.on_event(record);
  }
};

template <class Inner>
class uid_two_input_stage : public uid_scope<Inner> {
 public:
  using uid_scope<Inner>::uid_scope;
  template <class Side, class T>
  [[gnu::always_inline]] void on_event(Side side, const T& record) {
    this->inner_.on_event(side, record);
  }
  template <class Side>
  void on_input_watermark(Side side, timestamp w) {
    this->inner_.on_input_watermark(side, w);
  }
  template <class Side>
  void on_input_end(Side side) {
    this->inner_.on_input_end(side);
  }
};

template <class Op>
struct uid_operator {
  using is_operator = void;
  std::string id;
  Op op;

  template <class Ctx>
  auto output_context(const Ctx& ctx) const {
    return op.output_context(ctx);
  }
  template <class Ctx, class Next>
  auto bind(const Ctx& ctx, Next&& next) && {
    auto inner = checked_stage<typename Ctx::value_type>(
        std::move(op).bind(ctx, uid_exit<std::remove_cvref_t<Next>>(std::forward<Next>(next))));
    return uid_stage<decltype(inner)>(std::move(id), std::move(inner));
  }
};

template <class Op>
struct uid_two_input_operator {
  using is_two_input_operator = void;
  std::string id;
  Op op;

  template <class LCtx, class RCtx>
  auto output_context(const LCtx& l, const RCtx& r) const {
    return op.output_context(l, r);
  }
  template <class LCtx, class RCtx, class Next>
  auto bind(const LCtx& l, const RCtx& r, Next&& next) && {
    auto inner = std::move(op).bind(l, r, uid_exit<std::remove_cvref_t<Next>>(std::forward<Next>(next)));
    return uid_two_input_stage<decltype(inner)>(std::move(id), std::move(inner));
  }
};

}  // namespace detail

/// Gives operator `op`'s state the stable id `id` (a scope: its stateful
/// stages' ids read "id/<name>"). An empty id, or one with a '/', is a
/// usage_error.
template <class Op>
auto uid(std::string id, Op op) {
  if (id.empty() || id.find('/') != std::string::npos) {
    throw usage_error("uid(\"" + id + "\", ...): an id is a non-empty name without '/'");
  }
  if constexpr (requires { typename Op::is_two_input_operator; }) {
    return detail::uid_two_input_operator<Op>{std::move(id), std::move(op)};
  } else {
    static_assert(operator_factory<Op>, "laminar::uid: the second argument must be an operator (map(f), a window, a join...)");
    return detail::uid_operator<Op>{std::move(id), std::move(op)};
  }
}

}  // namespace laminar
