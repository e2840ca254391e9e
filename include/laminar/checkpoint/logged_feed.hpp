// logged_feed<T>: a push feed (source/push_feed.hpp) whose records are
// written to a write-ahead log (wal.hpp) before the graph sees them, so
// that a feed that cannot be replayed from its origin (a market-data
// handler's thread pushing decoded ticks) survives a crash.
//
//   laminar::logged_feed<tick> ticks(dir / "ticks-wal", {.log = {.durability = wal_durability::every_batch}});
//   auto in = g.source("ticks", ticks.source() | with_watermarks(...));
//   coordinator.recover(g);  // the feed's source replays what the checkpoint does not cover
//   g.start(); coordinator.attach(g);
//   // on the feed handler's thread:
//   ticks.push(t);           // logged; handed to the graph once durable
//   ticks.commit();          // every_batch: one fdatasync for what was pushed since
//
// Records are numbered in the log from 1. The pushing thread appends each
// record to the log and hands it to the graph only once it is durable (by
// the log's policy: at once under every_record, at commit() under
// every_batch, when the interval has passed under interval), so a record
// the graph has seen is always in the log: the worker never waits for the
// disk, the pusher does. The feed's source saves in each checkpoint the
// number of the last record it passed on; a restored source first replays
// the logged records after it (read from the log's files, on the worker,
// once), then reads the feed. When a checkpoint completes, the log drops
// the segments that the newest `retained` completed checkpoints no longer
// need (on the pushing thread, at its next push or commit).
//
// One log directory belongs to one feed of one job. A source started
// without a restore replays the whole log: a log whose first records were
// dropped (a completed checkpoint covered them) then refuses to start,
// naming the checkpoint it needs.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "laminar/channel/wait_policy.hpp"
#include "laminar/checkpoint/wal.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/source.hpp"
#include "laminar/source/push_feed.hpp"

namespace laminar {

struct logged_feed_options {
  /// The log: its durability policy, segment size, storage options.
  wal_options log{};
  /// Records the feed holds for the graph (a power of two is used); push()
  /// waits by `policy` while it is full.
  std::size_t capacity = 4096;
  wait_policy policy = wait_policy::spin_then_yield;
  /// The log keeps what the newest `retained` completed checkpoints need:
  /// give it the checkpoint store's retained count, so that a recovery that
  /// falls back to an older checkpoint (the newest damaged) still finds
  /// every record after it.
  std::size_t retained = 2;
};

namespace detail {

template <class T>
struct logged_feed_state : push_feed_state<T> {
  logged_feed_state(const logged_feed_options& o, wal_replay<T> r, std::filesystem::path d)
      : push_feed_state<T>(o.capacity, o.policy), replay(std::move(r)), dir(std::move(d)), retained(o.retained) {}
  wal_replay<T> replay;  // logged before this run: the source replays them first
  std::filesystem::path dir;
  std::size_t retained;
  std::atomic<std::uint64_t> truncate_upto{0};  // set by the source, applied by the pusher
};

}  // namespace detail

/// The source a graph node (or a pipeline) reads a logged feed through.
template <class T>
class logged_feed_source : public source_base<logged_feed_source<T>> {
 public:
  using value_type = T;
  static constexpr std::string_view state_name = "logged_feed";

  explicit logged_feed_source(std::shared_ptr<detail::logged_feed_state<T>> state) : state_(std::move(state)) {}

  [[nodiscard]] auto context() const { return stream_context<T>{}; }

  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max_records) {
    std::size_t n = 0;
    if (replaying_) n = replay(chain, max_records);
    if (!replaying_ && n < max_records) {
      const std::size_t got = state_->read(chain, max_records - n);
      position_ += got;  // barriers come between steps, never inside one
      n += got;
    }
    return n;
  }
  [[nodiscard]] bool exhausted() const noexcept {
    return !replaying_ && state_->closed.load(std::memory_order_acquire) && !state_->channel.ready();
  }
  [[nodiscard]] bool has_input() const noexcept {
    return replaying_ || state_->channel.ready() || state_->closed.load(std::memory_order_acquire);
  }
  /// The reading worker's doorbell (null: the graph stopped reading).
  void attach(detail::doorbell* bell) { state_->attach(bell, "logged_feed"); }

  /// The number of the last record passed on (0: none).
  [[nodiscard]] std::uint64_t position() const noexcept { return position_; }

  template <class Chain>
  void on_barrier(Chain& chain, const checkpoint_barrier& b) {
    source_base<logged_feed_source<T>>::on_barrier(chain, b);
    if (!b.restoring()) saved_[b.id()] = position_;
  }
  void save_state(state_writer& w) const { w(position_); }
  void load_state(state_reader& r) {
    std::uint64_t at = 0;
    r(at);
    const wal_replay<T>& log = state_->replay;
    if (at > log.last_seq()) {
      throw checkpoint_error("logged feed '" + state_->dir.string() + "': the checkpoint has passed on records up to " +
                             std::to_string(at) + ", but the log ends at record " + std::to_string(log.last_seq()) +
                             ": the log was lost or damaged");
    }
    position_ = at;
    state_->replay.seek(at);
    replaying_ = at < log.last_seq();
  }

  /// A completed checkpoint: the log may drop what the newest `retained`
  /// completed checkpoints have all passed on.
  void on_checkpoint_complete(std::uint64_t id) {
    const auto it = saved_.find(id);
    if (it == saved_.end()) return;
    completed_.push_back(it->second);
    saved_.erase(saved_.begin(), std::next(it));
    if (completed_.size() > state_->retained) completed_.erase(completed_.begin());
    if (completed_.size() == state_->retained) {
      std::uint64_t cur = state_->truncate_upto.load(std::memory_order_relaxed);
      while (completed_.front() > cur &&
             !state_->truncate_upto.compare_exchange_weak(cur, completed_.front(), std::memory_order_release)) {
      }
    }
  }
  void on_checkpoint_abort(std::uint64_t id) { saved_.erase(id); }

 private:
  template <class Chain>
  std::size_t replay(Chain& chain, std::size_t max_records) {
    wal_replay<T>& log = state_->replay;
    if (!checked_) {
      checked_ = true;
      if (log.first_seq() > position_ + 1) {
        throw checkpoint_error("logged feed '" + state_->dir.string() + "': the log begins at record " +
                               std::to_string(log.first_seq()) + ", so records " + std::to_string(position_ + 1) +
                               " to " + std::to_string(log.first_seq() - 1) +
                               " are covered only by a checkpoint: restore the graph from it before starting");
      }
    }
    std::size_t n = 0;
    std::uint64_t seq = 0;
    while (n < max_records && log.next(seq, record_)) {
      position_ = seq;
      ++n;
      chain.on_event(record_);
      if constexpr (stopping_chain<Chain>) {
        if (chain.stop_requested()) break;
      }
    }
    if (position_ >= log.last_seq()) replaying_ = false;
    return n;
  }

  std::shared_ptr<detail::logged_feed_state<T>> state_;
  std::uint64_t position_ = 0;
  bool replaying_ = true;  // until load_state says otherwise, the whole log
  bool checked_ = false;
  T record_{};
  std::map<std::uint64_t, std::uint64_t> saved_;  // checkpoint id -> position, until it ends
  std::vector<std::uint64_t> completed_;          // positions of the newest completed checkpoints
};

/// Records pushed into a graph by one thread, each logged before the graph
/// sees it.
template <class T>
class logged_feed {
 public:
  /// Opens (creating) the log in `dir`: its records become the replay of
  /// this run's source (from the restored checkpoint's position on).
  explicit logged_feed(std::filesystem::path dir, logged_feed_options options = {})
      : log_(dir, options.log) {
    state_ = std::make_shared<detail::logged_feed_state<T>>(options, log_.replayable(), std::move(dir));
  }
  logged_feed(const logged_feed&) = delete;
  logged_feed& operator=(const logged_feed&) = delete;

  /// What a graph's source node (or a pipeline) reads.
  [[nodiscard]] logged_feed_source<T> source() const { return logged_feed_source<T>(state_); }

  /// Logs a record; it reaches the graph once durable (every_record: before
  /// push returns; every_batch: at commit(); interval: at the first push or
  /// commit after the interval). Waits while the feed is full. false, the
  /// record not logged, if the graph stopped reading; a record logged but
  /// not yet read when it stops is replayed by the next recovery.
  bool push(T record) {
    if (state_->detached.load(std::memory_order_acquire)) return false;
    drop_covered();
    log_.append(record);
    pending_.push_back(std::move(record));
    if (log_.durable_seq() == log_.last_seq()) hand_over();
    return true;
  }
  /// push() of each record of `records` (moved from); returns how many
  /// were logged.
  std::size_t push_n(std::span<T> records) {
    std::size_t n = 0;
    for (T& r : records) {
      if (!push(std::move(r))) break;
      ++n;
    }
    return n;
  }
  /// Makes every logged record durable (one fdatasync) and hands it to the
  /// graph: the group commit of every_batch, and what ends an interval's
  /// wait early.
  void commit() {
    drop_covered();
    log_.commit();
    hand_over();
  }
  /// commit(), then the end of the stream.
  void close() {
    commit();
    state_->closed.store(true, std::memory_order_release);
    state_->wake_reader();
  }

  /// The newest record logged, and the newest durable.
  [[nodiscard]] std::uint64_t last_seq() const noexcept { return log_.last_seq(); }
  [[nodiscard]] std::uint64_t durable_seq() const noexcept { return log_.durable_seq(); }
  /// Log segments on disk.
  [[nodiscard]] std::size_t segments() const noexcept { return log_.segments(); }

 private:
  // Durable records into the feed; those the graph no longer takes (it
  // stopped) stay in the log for the next recovery.
  void hand_over() {
    if (pending_.empty()) return;
    (void)state_->channel.push_n(pending_.data(), pending_.size(), state_->policy, &state_->detached);
    pending_.clear();
    state_->wake_reader();
  }
  void drop_covered() {
    const std::uint64_t upto = state_->truncate_upto.load(std::memory_order_acquire);
    if (upto > dropped_upto_) {
      log_.truncate(upto);
      dropped_upto_ = upto;
    }
  }

  write_ahead_log<T> log_;
  std::shared_ptr<detail::logged_feed_state<T>> state_;
  std::vector<T> pending_;  // logged, not yet durable
  std::uint64_t dropped_upto_ = 0;
};

}  // namespace laminar
