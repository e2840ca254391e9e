// Exactly-once output: a sink that writes each checkpoint epoch's records
// into a transaction, pre-commits it at the epoch's barrier and commits it
// only when that checkpoint is durable.
//
// The sink's own part is a transactional writer (the concept below): it
// knows how to open a transaction, write into it, make it durable without
// making it visible (pre-commit, returning a committable: what a commit
// needs, such as a pending file's name or a transaction id), make it
// visible (commit), and discard what earlier runs left open. The library's
// part, two_phase_commit(writer), keeps the books:
//
// - at each checkpoint barrier, the open transaction is pre-committed and
//   its committable saved in the checkpoint, with every earlier one not yet
//   committed;
// - when a checkpoint completes, every committable up to it is committed,
//   in order;
// - when a checkpoint is aborted while the stream goes on, its
//   committables stay pending and are committed with the next checkpoint
//   that completes: their records have left the stream and will not be
//   replayed, so dropping them would lose them;
// - on restore (recovery after a crash), the committables the checkpoint
//   holds are committed again (commit must be idempotent: some of them
//   may have been committed before the crash), then discard_open() removes
//   the transactions earlier runs had opened after it: their records are
//   replayed from the sources' saved positions;
// - at the end of the stream, the open transaction is pre-committed and
//   everything is committed.
//
// Between a barrier and its checkpoint's completion, pre-committed output
// is durable but invisible: a reader sees each record once, after the
// checkpoint that covers it completed.
//
// A writer may instead take the barrier, pre_commit(const checkpoint_barrier&
// b), to leave its durability to the checkpoint's writer thread instead of
// waiting for the disk on the worker: b.target().sync_before_durable(path)
// has a file fdatasync'ed before the checkpoint is written, so before it
// completes. That form is called at every barrier (its transaction may be
// empty), so that the writer can ask again for what an aborted checkpoint
// did not make durable; at the end of the stream pre_commit() is called,
// also with nothing open, and must make everything pending durable itself.
#pragma once

#include <cereal/types/utility.hpp>

#include <concepts>
#include <cstdint>
#include <utility>
#include <vector>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/state_archive.hpp"

namespace laminar {

/// What two_phase_commit(w) needs of w, writing records of type T.
template <class W, class T>
concept transactional_writer =
    archivable<typename W::committable> &&
    requires(W& w, const T& record, std::uint64_t epoch, const typename W::committable& c) {
      w.begin(epoch);  // opens epoch's transaction (before its first record)
      w.write(record);
      { w.pre_commit() } -> std::same_as<typename W::committable>;  // durable, not yet visible
      w.commit(c);       // visible; idempotent
      w.discard_open();  // after a restore: removes what earlier runs opened and did not pre-commit in it
    };

namespace detail {

template <class T, class W>
class two_phase_commit_sink : public consuming_stage {
 public:
  static constexpr std::string_view state_name = "two_phase_commit";
  using committable = typename W::committable;

  explicit two_phase_commit_sink(W w) : w_(std::move(w)) {}

  void on_event(const T& record) {
    if (!open_) {
      w_.begin(epoch_);
      open_ = true;
    }
    w_.write(record);
  }

  void on_barrier(const checkpoint_barrier& b) {
    if (b.restoring()) {
      b.checkpoint(*this);
      // Every committable the checkpoint holds was pre-committed at or
      // before it, and it is durable: commit them (again, perhaps).
      for (const auto& [id, c] : pending_) w_.commit(c);
      pending_.clear();
      w_.discard_open();
      open_ = false;
      return;
    }
    if constexpr (defers_durability) {
      pending_.emplace_back(b.id(), w_.pre_commit(b));  // at every barrier: it re-asks for what is not yet durable
      open_ = false;
    } else if (open_) {
      pending_.emplace_back(b.id(), w_.pre_commit());
      open_ = false;
    }
    ++epoch_;
    b.checkpoint(*this);
  }

  void on_checkpoint_complete(std::uint64_t id) {
    std::size_t n = 0;
    while (n < pending_.size() && pending_[n].first <= id) w_.commit(pending_[n++].second);
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  // An aborted checkpoint's committables wait for the next completed one.
  void on_checkpoint_abort(std::uint64_t) noexcept {}

  void on_end() {
    if (open_ || defers_durability) {
      pending_.emplace_back(0, w_.pre_commit());
      open_ = false;
    }
    for (const auto& [id, c] : pending_) w_.commit(c);
    pending_.clear();
  }

  void save_state(state_writer& out) const {
    out(epoch_, pending_);
    if constexpr (stateful<W>) w_.save_state(out);
  }
  void load_state(state_reader& in) {
    in(epoch_, pending_);
    if constexpr (stateful<W>) w_.load_state(in);
  }

  [[nodiscard]] const W& writer() const noexcept { return w_; }

 private:
  static constexpr bool defers_durability = requires(W& w, const checkpoint_barrier& b) {
    { w.pre_commit(b) } -> std::same_as<committable>;
  };

  W w_;
  std::uint64_t epoch_ = 0;  // the epoch the next record belongs to
  bool open_ = false;        // its transaction has begun
  std::vector<std::pair<std::uint64_t, committable>> pending_;  // (checkpoint id, pre-committed), oldest first
};

template <class W>
struct two_phase_commit_factory {
  using is_sink = void;
  W w;
  template <class Ctx>
  auto bind(const Ctx&) && {
    using T = typename Ctx::value_type;
    static_assert(transactional_writer<W, T>,
                  "laminar::two_phase_commit: the writer needs a `committable` type (archivable) and begin(epoch), "
                  "write(record), pre_commit() -> committable, commit(committable) and discard_open()");
    return two_phase_commit_sink<T, W>(std::move(w));
  }
};

}  // namespace detail

/// Ends a chain in an exactly-once sink around the transactional writer `w`.
template <class W>
auto two_phase_commit(W w) {
  return detail::two_phase_commit_factory<W>{std::move(w)};
}

}  // namespace laminar
