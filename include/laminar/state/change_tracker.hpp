// What incremental checkpoints need of keyed state: which slots of a table
// changed since a checkpoint (change_tracker, a bit per slot), and which
// capture a stage's delta can build on (incremental_capture).
//
// A table marks a slot when a record finds, inserts or erases it (one
// predictable branch while tracking is off). A capture folds the marks into
// the slots it owes; they stay owed until a checkpoint whose capture wrote
// them completes, so a delta that failed is covered by the next one, which
// holds every change since the last completed checkpoint. A mark may be
// spurious (a slot read through a mutable accessor): a delta then holds an
// unchanged slot, never misses a changed one.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "laminar/core/state_archive.hpp"

namespace laminar {

/// Which slots of one keyed table changed: since the last capture, and
/// owed to the next incremental checkpoint.
class change_tracker {
 public:
  /// From now on every slot noted is marked changed.
  void track(bool on) noexcept { on_ = on; }
  [[nodiscard]] bool tracking() const noexcept { return on_; }

  /// Slot i changed (a no-op while not tracking: one predictable branch
  /// on the record path, the marking itself out of line).
  [[gnu::always_inline]] void note(std::size_t i) {
    if (on_) [[unlikely]] mark(i);
  }
  /// The changes since the last fold join those owed (a capture).
  void fold() {
    if (owed_.size() < changed_.size()) owed_.resize(changed_.size(), 0);
    for (std::size_t w = 0; w < changed_.size(); ++w) {
      owed_[w] |= changed_[w];
      changed_[w] = 0;
    }
  }
  /// What is owed is durable (the capture's checkpoint completed).
  void clear_owed() noexcept { std::fill(owed_.begin(), owed_.end(), 0); }
  /// Forgets every change (a whole capture was just taken, or the table
  /// was emptied).
  void clear() noexcept {
    std::fill(changed_.begin(), changed_.end(), 0);
    std::fill(owed_.begin(), owed_.end(), 0);
  }
  /// How many slots are owed.
  [[nodiscard]] std::size_t owed_count() const noexcept {
    std::size_t n = 0;
    for (const std::uint64_t w : owed_) n += static_cast<std::size_t>(std::popcount(w));
    return n;
  }
  [[nodiscard]] bool changed(std::size_t i) const noexcept { return test(changed_, i); }
  [[nodiscard]] bool owed(std::size_t i) const noexcept { return test(owed_, i); }
  /// Every slot owed, in slot order.
  template <class F>
  void for_each_owed(F&& f) const {
    for (std::size_t w = 0; w < owed_.size(); ++w) {
      for (std::uint64_t bits = owed_[w]; bits != 0; bits &= bits - 1) {
        f(w * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
      }
    }
  }
  /// A table that moves its slots (a rehash) moves their marks: `old`
  /// holds the marks by the old slots (take it with std::exchange).
  void move_marks(const change_tracker& old, std::size_t from, std::size_t to) {
    if (old.changed(from)) set(changed_, to);
    if (old.owed(from)) set(owed_, to);
  }
  /// An empty tracker with the same setting (for move_marks).
  [[nodiscard]] change_tracker take_marks() {
    change_tracker old;
    old.changed_.swap(changed_);
    old.owed_.swap(owed_);
    return old;
  }

 private:
  [[gnu::noinline]] void mark(std::size_t i) { set(changed_, i); }
  static void set(std::vector<std::uint64_t>& bits, std::size_t i) {
    if (i / 64 >= bits.size()) bits.resize(i / 64 + 1, 0);
    bits[i / 64] |= std::uint64_t{1} << (i % 64);
  }
  [[nodiscard]] static bool test(const std::vector<std::uint64_t>& bits, std::size_t i) noexcept {
    return i / 64 < bits.size() && ((bits[i / 64] >> (i % 64)) & 1U) != 0;
  }

  bool on_ = false;
  std::vector<std::uint64_t> changed_;
  std::vector<std::uint64_t> owed_;
};

/// A stage's side of incremental checkpoints: the capture since which its
/// tables track their changes, and its newest capture. `trackers(f)`
/// calls f(change_tracker&) for every table of the stage.
class incremental_capture {
 public:
  /// Whether this capture may write changes only (and says so with
  /// w.write_delta()): the checkpoints are incremental, every change since
  /// w.delta_base()'s capture is known, and at most three quarters of the
  /// stage's `entries` (keys or groups held now) changed; a delta of more
  /// (each change names its slot) would outweigh the whole state. A whole
  /// capture starts keeping track afresh.
  template <class Trackers>
  bool begin(state_writer& w, Trackers&& trackers, std::size_t entries) {
    if (!w.incremental()) return false;
    bool delta = since_ != 0 && w.delta_base() != 0 && w.delta_base() >= since_;
    if (delta) {
      std::size_t owed = 0;
      trackers([&owed](change_tracker& c) {
        c.fold();
        owed += c.owed_count();
      });
      delta = owed <= entries / 4 * 3;
    }
    if (delta) {
      w.write_delta();
    } else {
      since_ = w.checkpoint_id();
      trackers([](change_tracker& c) {
        c.clear();
        c.track(true);
      });
    }
    last_ = w.checkpoint_id();
    return delta;
  }
  /// Checkpoint `id` completed: what the newest capture wrote is durable.
  template <class Trackers>
  void complete(std::uint64_t id, Trackers&& trackers) {
    if (since_ != 0 && id >= last_) trackers([](change_tracker& c) { c.clear_owed(); });
  }
  /// The state was restored whole: the next capture is whole too (and
  /// starts tracking again).
  template <class Trackers>
  void restart(Trackers&& trackers) {
    since_ = 0;
    trackers([](change_tracker& c) {
      c.track(false);
      c.clear();
    });
  }
  /// Whether the stage's tables track their changes.
  [[nodiscard]] bool tracking() const noexcept { return since_ != 0; }

 private:
  std::uint64_t since_ = 0;  // 0: not tracking
  std::uint64_t last_ = 0;
};

}  // namespace laminar
