// Checkpoints in a chain: the barrier that carries a snapshot through it.
//
// When a checkpoint barrier reaches a stateful stage (state_archive.hpp),
// the stage calls barrier.checkpoint(*this) and passes the barrier on. A
// snapshot barrier adds the stage's state as one record, under the stage's
// id (snapshot.hpp); a restore barrier (replaying a checkpoint into a
// fresh pipeline) reads the record under that id back. Stateless stages
// only pass the barrier on, so they have no id and restore needs no
// extra member.
#pragma once

#include <cstdint>
#include <utility>

#include "laminar/core/snapshot.hpp"
#include "laminar/core/state_archive.hpp"

namespace laminar {

/// A checkpoint barrier, in-band with the data. A snapshot barrier asks every
/// stage it reaches to save its state; a restore barrier replays a saved
/// checkpoint into a fresh pipeline before any data. Either way a stage calls
/// checkpoint(*this) if it is stateful, then passes the barrier downstream.
class checkpoint_barrier {
 public:
  enum class kind : std::uint8_t { snapshot, restore };

  constexpr checkpoint_barrier(std::uint64_t id, laminar::snapshot& target, kind k) noexcept
      : id_(id), target_(&target), kind_(k) {}

  [[nodiscard]] constexpr std::uint64_t id() const noexcept { return id_; }
  [[nodiscard]] constexpr bool restoring() const noexcept { return kind_ == kind::restore; }
  [[nodiscard]] laminar::snapshot& target() const noexcept { return *target_; }

  /// Saves (snapshot barrier) or loads (restore barrier) a stateful stage.
  template <stateful S>
  void checkpoint(S& stage) const {
    if (restoring()) {
      target_->load(stage);
    } else {
      target_->save(std::as_const(stage));
    }
  }

 private:
  std::uint64_t id_;
  laminar::snapshot* target_;
  kind kind_;
};

namespace detail {
/// A checkpoint's outcome reaches the source too where it asks for it (a
/// logged feed drops the log a completed checkpoint covers).
template <class S>
void source_checkpoint_complete(S& src, std::uint64_t id) {
  if constexpr (requires { src.on_checkpoint_complete(id); }) src.on_checkpoint_complete(id);
}
template <class S>
void source_checkpoint_abort(S& src, std::uint64_t id) {
  if constexpr (requires { src.on_checkpoint_abort(id); }) src.on_checkpoint_abort(id);
}
}  // namespace detail

}  // namespace laminar
