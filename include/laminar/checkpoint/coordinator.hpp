// The checkpoint coordinator: starts checkpoints at an interval (or on
// demand), at most one in flight, writes each to a checkpoint_store on a
// background thread, and tells every stage how it ended: completed once it
// is durable (exactly-once sinks commit then), aborted when its write
// failed or its alignment timed out. Recovery restores the newest
// checkpoint that reads back whole.
//
// A pipeline is driven by its own thread, so the coordinator is polled by
// that thread between run_for() batches: poll() captures the state in place
// when a checkpoint is due (the stall the thread sees: serialising the
// state into memory, no disk) and hands it to the writer thread, and
// delivers the outcome of a finished write. A graph's nodes take their own
// snapshots on their workers; attach() makes the coordinator's thread start
// each checkpoint, collect the snapshots once every node instance took its
// own, write them, and only then complete it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "laminar/checkpoint/store.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/pipeline.hpp"
#include "laminar/core/time.hpp"
#include "laminar/dag/graph.hpp"

namespace laminar {

/// When checkpoints are taken.
struct checkpoint_options {
  /// How often a checkpoint starts (after the previous one ended);
  /// duration::max(): only when trigger() asks.
  duration interval = std::chrono::seconds(1);
  /// A graph checkpoint whose snapshots are not all taken this long after
  /// it started (a barrier stuck behind backpressure, a node that does not
  /// align) is aborted. Once its files are being written it completes or
  /// fails with the write: a write cannot be recalled half done.
  duration timeout = std::chrono::seconds(60);
  /// Incremental checkpoints: after each whole checkpoint, up to this many
  /// that write only what changed since the one before (the stages that
  /// keep track of their changes: the sliced windows); restore reads the
  /// chain. 0: every checkpoint is whole.
  std::size_t deltas = 0;
};

/// What the coordinator has done so far.
struct checkpoint_stats {
  std::uint64_t started = 0;
  std::uint64_t completed = 0;
  std::uint64_t aborted = 0;
  std::uint64_t last_completed = 0;  ///< id of the newest durable checkpoint (0: none)
  std::string last_error;            ///< why the newest aborted checkpoint was aborted
  duration last_stall{};             ///< a pipeline's thread: how long the newest capture held it
  duration max_stall{};              ///< ... and the longest so far
};

class checkpoint_coordinator {
 public:
  /// Writes to `store` (which must outlive the coordinator). A coordinator
  /// attached to a graph must be destroyed before the graph: declare it
  /// after the graph.
  explicit checkpoint_coordinator(checkpoint_store& store, checkpoint_options options = {})
      : store_(&store), options_(options) {
    const auto ids = store.checkpoints();
    if (!ids.empty()) last_id_ = ids.back();
    next_due_ = due_after(clock::now());
    thread_ = std::thread([this] { run(); });
  }
  checkpoint_coordinator(const checkpoint_coordinator&) = delete;
  checkpoint_coordinator& operator=(const checkpoint_coordinator&) = delete;
  /// Stops the thread; a write in progress finishes first.
  ~checkpoint_coordinator() { stop(); }

  /// Stops starting checkpoints and joins the thread (a write in progress
  /// finishes; its outcome reaches a pipeline at its next drain()).
  void stop() {
    {
      std::lock_guard<std::mutex> lock(sh_->mu);
      if (stopping_) return;
      stopping_ = true;
      sh_->closed = true;
    }
    sh_->cv.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // ---- recovery ----

  /// Restores a freshly built pipeline from the newest checkpoint in the
  /// store that reads back whole (damaged newer ones are reported through
  /// storage_options::log and skipped). Returns its id, or nothing: the
  /// pipeline starts from the beginning. Sources resume from the position
  /// they saved; exactly-once sinks commit again, on restore, what the
  /// checkpoint had pre-committed.
  template <class S, class C>
  std::optional<std::uint64_t> recover(pipeline<S, C>& p) {
    auto cp = store_->load_newest();
    if (!cp) return std::nullopt;
    auto it = cp->tasks.find(std::string(pipeline_task));
    if (it == cp->tasks.end() || cp->tasks.size() != 1) {
      throw checkpoint_error("checkpoint " + std::to_string(cp->id) + " in '" + store_->directory().string() +
                             "' was not taken from a pipeline (it holds " + std::to_string(cp->tasks.size()) +
                             " tasks)");
    }
    p.restore(std::move(it->second));
    note_recovered(cp->id);
    return cp->id;
  }

  /// Restores a freshly built graph (before start() and attach()) from the
  /// newest checkpoint that reads back whole. Returns its id, or nothing.
  std::optional<std::uint64_t> recover(graph& g) {
    auto cp = store_->load_newest();
    if (!cp) return std::nullopt;
    const std::uint64_t id = cp->id;
    g.restore(graph_snapshot(id, std::make_shared<const graph_snapshot::task_snapshots>(std::move(cp->tasks))));
    note_recovered(id);
    return id;
  }

  // ---- a pipeline ----

  /// Call from the pipeline's thread between run_for() batches: delivers
  /// the outcome of a finished write (p.checkpoint_complete or
  /// p.checkpoint_abort) and starts a checkpoint when the interval has
  /// passed and none is in flight.
  template <class P>
  void poll(P& p) {
    deliver(p);
    if (in_flight_ == 0 && options_.interval != duration::max() && clock::now() >= next_due_) (void)trigger(p);
  }

  /// Starts a checkpoint of `p` now, unless one is in flight: captures its
  /// state on this thread and hands it to the writer. Returns its id, or 0.
  template <class P>
  std::uint64_t trigger(P& p) {
    deliver(p);
    if (in_flight_ != 0) return 0;
    const std::uint64_t id = next_id();
    const auto start = clock::now();
    stored_checkpoint cp;
    cp.id = id;
    std::optional<std::uint64_t> incremental_on;
    {
      std::lock_guard<std::mutex> lock(sh_->mu);
      incremental_on = next_incremental();
      in_flight_delta_ = incremental_on.value_or(0) != 0;  // read by the writer thread's ended()
    }
    snapshot s = p.checkpoint(id, incremental_on);
    cp.key_groups = s.key_groups();
    cp.tasks.emplace(std::string(pipeline_task), std::move(s));
    const duration stall = clock::now() - start;
    {
      std::lock_guard<std::mutex> lock(sh_->mu);
      // Checked where the job is queued: a stopped thread would never write it.
      if (stopping_) throw usage_error("checkpoint_coordinator: trigger() after stop()");
      in_flight_ = id;
      ++stats_.started;
      stats_.last_stall = stall;
      if (stall > stats_.max_stall) stats_.max_stall = stall;
      job_ = std::move(cp);
    }
    sh_->cv.notify_all();
    return id;
  }

  /// Waits for the checkpoint in flight, if any, and delivers its outcome
  /// to `p`. Call before ending a run that must leave its output committed.
  template <class P>
  void drain(P& p) {
    if (in_flight_ == 0) return;
    std::unique_lock<std::mutex> lock(sh_->mu);
    sh_->cv.wait(lock, [&] { return outcome_.has_value(); });  // the thread writes a queued job even when stopping
    lock.unlock();
    deliver(p);
  }

  // ---- a graph ----

  /// Takes charge of `g`'s checkpoints (before g.start()): this
  /// coordinator's thread starts one every interval (trigger() at once),
  /// writes it when every node instance has taken its snapshot, then
  /// completes it in the graph (every stage hears on_checkpoint_complete)
  /// or aborts it.
  void attach(graph& g) {
    std::uint64_t base = 0;
    {
      std::lock_guard<std::mutex> lock(sh_->mu);
      if (graph_ != nullptr || attaching_) throw usage_error("checkpoint_coordinator: attach() twice");
      attaching_ = true;
      base = last_id_;
    }
    // The hook runs on a worker and may outlive this coordinator (a graph
    // left running): it holds the shared part, not the coordinator.
    g.persist_checkpoints(base, [sh = sh_](std::uint64_t id, std::shared_ptr<const graph_snapshot::task_snapshots> t) {
      {
        std::lock_guard<std::mutex> lock(sh->mu);
        if (sh->closed) return;
        sh->collected.emplace_back(id, std::move(t));
      }
      sh->cv.notify_all();
    });
    {
      std::lock_guard<std::mutex> lock(sh_->mu);
      graph_ = &g;  // only now may the thread start checkpoints: ids continue after base
      next_due_ = due_after(clock::now());
    }
    sh_->cv.notify_all();
  }

  /// Starts a graph checkpoint now unless one is in flight; returns its id,
  /// or 0.
  std::uint64_t trigger() {
    std::uint64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(sh_->mu);
      if (graph_ == nullptr) throw usage_error("checkpoint_coordinator: trigger() without a graph: attach() it first");
      id = start_graph_checkpoint();
    }
    sh_->cv.notify_all();  // the thread watches its deadline
    return id;
  }

  /// Waits until checkpoint `id` (of an attached graph) completed or was
  /// aborted, or `limit` passed; returns whether it completed.
  bool wait_for(std::uint64_t id, duration limit = std::chrono::seconds(60)) {
    std::unique_lock<std::mutex> lock(sh_->mu);
    sh_->cv.wait_for(lock, limit.to_chrono(), [&] { return stats_.last_completed >= id || last_aborted_ >= id || stopping_; });
    return stats_.last_completed >= id && !aborted_ids_contains(id);
  }

  [[nodiscard]] checkpoint_stats stats() const {
    std::lock_guard<std::mutex> lock(sh_->mu);
    return stats_;
  }

  /// The task name a pipeline's snapshot is stored under.
  static constexpr std::string_view pipeline_task = "pipeline";

 private:
  using clock = std::chrono::steady_clock;

  struct outcome {
    std::uint64_t id;
    bool ok;
  };

  // When the next checkpoint is due, `interval` after `now` (never, for
  // duration::max()).
  [[nodiscard]] clock::time_point due_after(clock::time_point now) const {
    if (options_.interval == duration::max()) return clock::time_point::max();
    return now + std::chrono::duration_cast<clock::duration>(options_.interval.to_chrono());
  }

  void note_recovered(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(sh_->mu);
    if (id > last_id_) last_id_ = id;
    stats_.last_completed = id;
  }
  std::uint64_t next_id() {
    std::lock_guard<std::mutex> lock(sh_->mu);
    return ++last_id_;
  }

  template <class P>
  void deliver(P& p) {
    std::optional<outcome> o;
    {
      std::lock_guard<std::mutex> lock(sh_->mu);
      o = std::exchange(outcome_, std::nullopt);
    }
    if (!o) return;
    in_flight_ = 0;
    next_due_ = due_after(clock::now());
    if (o->ok) {
      p.checkpoint_complete(o->id);
    } else {
      p.checkpoint_abort(o->id);
    }
  }

  // Under sh_->mu.
  std::uint64_t start_graph_checkpoint() {
    if (graph_in_flight_ != 0) return 0;
    const std::optional<std::uint64_t> incremental_on = next_incremental();
    in_flight_delta_ = incremental_on.value_or(0) != 0;
    graph_in_flight_ = graph_->checkpoint(incremental_on);
    if (graph_in_flight_ > last_id_) last_id_ = graph_in_flight_;
    deadline_ = options_.timeout == duration::max()
                    ? clock::time_point::max()
                    : clock::now() + std::chrono::duration_cast<clock::duration>(options_.timeout.to_chrono());
    ++stats_.started;
    return graph_in_flight_;
  }

  bool aborted_ids_contains(std::uint64_t id) const { return last_aborted_ == id; }

  // Under sh_->mu: what the next checkpoint builds on: the newest completed
  // one while the chain is short enough, else whole (0); none without deltas.
  [[nodiscard]] std::optional<std::uint64_t> next_incremental() const {
    if (options_.deltas == 0) return std::nullopt;
    const std::uint64_t base = stats_.last_completed;
    return base != 0 && deltas_since_whole_ < options_.deltas ? base : 0;
  }

  // Under sh_->mu: records how a checkpoint ended.
  void ended(std::uint64_t id, bool ok, const std::string& why) {
    if (ok) deltas_since_whole_ = in_flight_delta_ ? deltas_since_whole_ + 1 : 0;
    if (ok) {
      ++stats_.completed;
      if (id > stats_.last_completed) stats_.last_completed = id;
    } else {
      ++stats_.aborted;
      stats_.last_error = why;
      last_aborted_ = id;
    }
  }

  // Writes a checkpoint, unlocked; returns the error, or empty.
  std::string write(std::uint64_t id, std::uint32_t key_groups, const std::map<std::string, snapshot>& tasks) {
    try {
      store_->write_tasks(id, key_groups, tasks);
      return {};
    } catch (const std::exception& e) {
      return "checkpoint " + std::to_string(id) + " was not written: " + e.what();
    }
  }

  void run() {
    std::unique_lock<std::mutex> lock(sh_->mu);
    for (;;) {
      const auto wake = graph_ == nullptr                         ? clock::time_point::max()
                        : graph_in_flight_ != 0                   ? deadline_
                        : options_.interval == duration::max()    ? clock::time_point::max()
                                                                  : next_due_;
      if (!job_ && sh_->collected.empty() && !stopping_) {
        if (wake == clock::time_point::max()) {
          sh_->cv.wait(lock);
        } else {
          sh_->cv.wait_until(lock, wake);
        }
      }
      if (job_) {  // a pipeline's checkpoint: written even when stopping, so that drain() ends
        stored_checkpoint cp = std::move(*job_);
        job_.reset();
        writing_ = true;
        lock.unlock();
        const std::string err = write(cp.id, cp.key_groups, cp.tasks);
        lock.lock();
        writing_ = false;
        ended(cp.id, err.empty(), err);
        outcome_ = outcome{cp.id, err.empty()};
        sh_->cv.notify_all();
        continue;
      }
      if (stopping_) break;
      if (!sh_->collected.empty()) {  // a graph's checkpoint, every snapshot taken
        auto [id, tasks] = std::move(sh_->collected.front());
        sh_->collected.erase(sh_->collected.begin());
        if (id != graph_in_flight_) continue;  // aborted already (timed out)
        const std::uint32_t key_groups = tasks->empty() ? default_key_groups : tasks->begin()->second.key_groups();
        writing_ = true;
        lock.unlock();
        const std::string err = write(id, key_groups, *tasks);  // the shared snapshots, not a copy
        if (err.empty()) {
          graph_->confirm_checkpoint(id);
        } else {
          graph_->abort_checkpoint(id);
        }
        lock.lock();
        writing_ = false;
        graph_in_flight_ = 0;
        next_due_ = due_after(clock::now());
        ended(id, err.empty(), err);
        sh_->cv.notify_all();
        continue;
      }
      if (graph_ == nullptr) continue;
      const auto now = clock::now();
      if (graph_in_flight_ != 0 && now >= deadline_) {
        const std::uint64_t id = std::exchange(graph_in_flight_, 0);
        graph_->abort_checkpoint(id);
        next_due_ = due_after(now);
        ended(id, false, "checkpoint " + std::to_string(id) + " timed out: not every node instance took its snapshot");
        sh_->cv.notify_all();
      } else if (graph_in_flight_ == 0 && options_.interval != duration::max() && now >= next_due_) {
        start_graph_checkpoint();
      }
    }
  }

  checkpoint_store* store_;
  checkpoint_options options_;
  // What the graph's persist hook shares with the coordinator.
  struct shared {
    std::mutex mu;
    std::condition_variable cv;
    bool closed = false;
    std::vector<std::pair<std::uint64_t, std::shared_ptr<const graph_snapshot::task_snapshots>>> collected;
  };
  std::shared_ptr<shared> sh_ = std::make_shared<shared>();
  std::thread thread_;
  bool stopping_ = false;
  bool writing_ = false;
  std::uint64_t last_id_ = 0;  // ids continue after the store's newest
  checkpoint_stats stats_;
  std::uint64_t last_aborted_ = 0;
  // A pipeline's: touched by its thread only, except job_ and outcome_.
  std::uint64_t in_flight_ = 0;
  bool in_flight_delta_ = false;        // under sh_->mu: the checkpoint in flight builds on an earlier one
  std::size_t deltas_since_whole_ = 0;  // completed incremental ones since the last whole one
  clock::time_point next_due_{};
  std::optional<stored_checkpoint> job_;
  std::optional<outcome> outcome_;
  // A graph's, under sh_->mu.
  graph* graph_ = nullptr;
  bool attaching_ = false;
  std::uint64_t graph_in_flight_ = 0;
  clock::time_point deadline_{};
};

}  // namespace laminar
