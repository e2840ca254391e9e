// The two kinds of node instance a worker steps: a source task (a pull
// source driving its chain; one that its watermark alignment group pauses
// yields instead of pulling) and a chain task (input channels, merged and
// aligned, driving its chain). Both end in an output_state or a sink, and
// both take processing time on their worker's tick.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/source.hpp"
#include "laminar/core/time.hpp"
#include "laminar/dag/detail/edge.hpp"
#include "laminar/dag/detail/input_merge.hpp"
#include "laminar/dag/detail/output.hpp"
#include "laminar/dag/message.hpp"
#include "laminar/runtime/task.hpp"

namespace laminar::detail {

/// Where tasks hand the snapshots they take when a barrier reaches them,
/// and where a graph checkpoint learns it is complete.
class checkpoint_board {
 public:
  explicit checkpoint_board(std::size_t tasks = 0) : tasks_(tasks) {}
  void set_tasks(std::size_t n) { tasks_ = n; }

  void deposit(std::uint64_t id, const std::string& task, snapshot s) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& cp = pending_[id];
    cp[task] = std::move(s);
    if (cp.size() == tasks_) {
      completed_[id] = std::move(cp);
      pending_.erase(id);
    }
  }
  [[nodiscard]] std::optional<std::map<std::string, snapshot>> completed(std::uint64_t id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = completed_.find(id);
    if (it == completed_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable std::mutex mu_;
  std::size_t tasks_;
  std::map<std::uint64_t, std::map<std::string, snapshot>> pending_;
  std::map<std::uint64_t, std::map<std::string, snapshot>> completed_;
};

/// What every task shares with its graph.
struct task_env {
  worker_context* worker = nullptr;
  checkpoint_board* board = nullptr;
  const std::atomic<std::uint64_t>* checkpoint_request = nullptr;  // sources poll it between steps
  const std::map<std::string, snapshot>* restore_from = nullptr;   // set when the graph restores
  bell_set* pause_bells = nullptr;  // workers that run a pausable source
  std::string name;  // "node#instance"
};

/// Snapshot (or restore) of one task: the barrier reaches its stages in
/// chain order, each saves into the task's own snapshot.
template <class Apply>
void task_checkpoint(task_env& env, std::uint64_t id, Apply&& apply) {
  snapshot s(id);
  apply(checkpoint_barrier(id, s, checkpoint_barrier::kind::snapshot));
  env.board->deposit(id, env.name, std::move(s));
}

template <class Apply>
void task_restore(task_env& env, Apply&& apply) {
  if (!env.restore_from) return;
  auto it = env.restore_from->find(env.name);
  if (it == env.restore_from->end()) {
    throw checkpoint_error("graph checkpoint has no state for node instance '" + env.name +
                           "': the graph's shape differs from the saved one");
  }
  snapshot s = it->second;
  s.rewind();
  apply(checkpoint_barrier(s.checkpoint_id(), s, checkpoint_barrier::kind::restore));
  s.expect_fully_restored();
}

template <class Source, class Chain, class Output>
class source_task final : public task {
 public:
  source_task(node_metrics& m, task_env env, Source src, Chain chain, std::unique_ptr<Output> out)
      : task(m), env_(std::move(env)), src_(std::move(src)), chain_(std::move(chain)), out_(std::move(out)) {
    task_restore(env_, [&](const checkpoint_barrier& b) { src_.on_barrier(chain_, b); });
  }

  bool step(std::size_t budget) override {
    if (out_->blocked()) {
      const bool moved = out_->drain();
      if (out_->blocked() || ended_) {
        if (!out_->blocked()) finish_task();
        out_->flush();
        return moved;
      }
    }
    if (ended_) {
      finish_task();
      return false;
    }
    const std::uint64_t wanted = env_.checkpoint_request->load(std::memory_order_acquire);
    const bool barrier = wanted > last_checkpoint_;
    if (barrier) {  // injected even while paused, so checkpoints complete
      last_checkpoint_ = wanted;
      task_checkpoint(env_, wanted, [&](const checkpoint_barrier& b) { src_.on_barrier(chain_, b); });
    }
    if (src_.exhausted()) {
      src_.finish(chain_);
      ended_ = true;
      if (!out_->blocked()) finish_task();
      out_->flush();
      release_group();  // it has left its alignment group
      return true;
    }
    if constexpr (pausable_source<Source>) {
      // Ahead of its alignment group: yield to the worker's other tasks
      // until the group's low watermark catches up (a member that raises
      // it rings this worker's doorbell).
      if (src_.paused()) {
        out_->flush();
        return barrier;
      }
    }
    const std::size_t n = src_.run_for(chain_, budget);
    pulled_ = true;
    emitted_ += n;
    metrics_->events_in.store(emitted_, std::memory_order_relaxed);
    out_->flush();
    if (n != 0) release_group();
    return true;
  }

  void on_processing_time(timestamp now) override {
    // Under backpressure the tick waits: what it emits would only queue.
    if (ended_ || out_->blocked()) return;
    if constexpr (idle_checked) {
      // Idle means pulled and found empty: a source left alone since the
      // last tick (paused by its group, or blocked) is not idle, and its
      // watermark must not run ahead of the records it still holds.
      if (pulled_) {
        src_.poll_idle(chain_, now);
        pulled_ = false;
        release_group();
      }
    }
    if constexpr (requires { chain_.on_processing_time(now); }) chain_.on_processing_time(now);
    out_->flush();
  }
  [[nodiscard]] bool takes_processing_time() const override {
    return idle_checked || requires(Chain& c) { c.on_processing_time(timestamp{}); };
  }
  [[nodiscard]] bool ready() const override {
    if (out_->blocked()) return out_->can_drain();
    if constexpr (pausable_source<Source>) {
      return ended_ || !src_.paused() ||
             env_.checkpoint_request->load(std::memory_order_relaxed) > last_checkpoint_;
    } else {
      return true;
    }
  }
  [[nodiscard]] wait_policy blocked_policy() const override { return out_->blocked_policy(); }

 private:
  static constexpr bool idle_checked = requires(Source& s, Chain& c) { s.poll_idle(c, timestamp{}); };

  // An alignment-group member whose watermark may have risen (it pulled,
  // went idle or ended) may have released a source paused on another
  // worker, which it sends nothing: ring the workers that run pausable
  // sources. Per step, never per record.
  void release_group() noexcept {
    if constexpr (pausable_source<Source>) env_.pause_bells->ring_all(&env_.worker->bell());
  }

  task_env env_;
  Source src_;
  Chain chain_;
  std::unique_ptr<Output> out_;
  std::uint64_t emitted_ = 0;
  std::uint64_t last_checkpoint_ = 0;
  bool ended_ = false;
  bool pulled_ = false;  // pulled since the last tick
};

template <class In, class Chain, class Output>
class chain_task final : public task {
 public:
  using channel_type = typename typed_edge<In>::channel_type;
  using message = stream_message<In>;

  chain_task(node_metrics& m, task_env env, std::vector<channel_type*> inputs, Chain chain, std::unique_ptr<Output> out,
             duration idle_timeout)
      : task(m),
        env_(std::move(env)),
        inputs_(std::move(inputs)),
        merge_(inputs_.size(), idle_timeout),
        pending_(inputs_.size()),
        chain_(std::move(chain)),
        out_(std::move(out)),
        watch_idle_(idle_timeout != duration::max()) {
    metrics_->queue_depth = [ins = inputs_] {
      std::size_t n = 0;
      for (const channel_type* ch : ins) n += ch->size();
      return n;
    };
    task_restore(env_, [&](const checkpoint_barrier& b) { chain_.on_barrier(b); });
  }

  bool step(std::size_t budget) override {
    bool moved = false;
    if (out_->blocked()) {
      moved = out_->drain();
      if (out_->blocked()) {  // backpressure: read nothing until there is room
        out_->flush();
        return moved;
      }
    }
    if (ended_) {
      finish_task();
      out_->flush();
      return moved;
    }
    std::size_t handled = 0;
    if (watch_idle_) now_ = env_.worker->now();  // read once per round by the worker
    // Messages held back during the last alignment come first, in order.
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      while (!pending_[i].empty() && merge_.readable(i)) {
        message m = std::move(pending_[i].front());
        pending_[i].pop_front();
        dispatch(i, m);
        ++handled;
      }
    }
    const std::size_t n = inputs_.size();
    for (std::size_t k = 0; k < n && handled < budget && !out_->blocked(); ++k) {
      const std::size_t i = (next_ + k) % n;
      if (!merge_.readable(i)) continue;
      const std::size_t got = inputs_[i]->consume([&](message& m) { dispatch(i, m); }, budget - handled);
      if (got && watch_idle_) merge_.on_activity(i, now_);
      handled += got;
    }
    next_ = (next_ + 1) % (n ? n : 1);
    metrics_->events_in.store(in_, std::memory_order_relaxed);
    if (merge_.all_ended() && !ended_) {
      ended_ = true;
      chain_.on_end();
      if (!out_->blocked()) finish_task();
      handled += 1;
    }
    out_->flush();
    return handled != 0 || moved;
  }

  [[nodiscard]] bool ready() const override {
    if (out_->blocked()) return out_->can_drain();
    if (ended_) return true;
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      if (merge_.readable(i) && inputs_[i]->ready()) return true;
      if (!pending_[i].empty() && merge_.readable(i)) return true;
    }
    return merge_.all_ended();
  }
  [[nodiscard]] wait_policy blocked_policy() const override { return out_->blocked_policy(); }

  void on_processing_time(timestamp now) override {
    // Under backpressure the tick waits: what it emits would only queue.
    if (ended_ || out_->blocked()) return;
    if (watch_idle_) {
      if (auto w = merge_.on_idle_check(now)) emit_watermark(*w);
    }
    if constexpr (requires { chain_.on_processing_time(now); }) chain_.on_processing_time(now);
    out_->flush();
  }
  [[nodiscard]] bool takes_processing_time() const override {
    return watch_idle_ || requires(Chain& c) { c.on_processing_time(timestamp{}); };
  }

 private:
  void dispatch(std::size_t i, message& m) {
    if (!merge_.readable(i)) {  // held for barrier alignment
      pending_[i].push_back(std::move(m));
      return;
    }
    switch (m.index()) {
      case 0:
        ++in_;
        chain_.on_event(std::get<0>(m));
        break;
      case 1:
        if (auto w = merge_.on_watermark(i, std::get<1>(m), now_)) emit_watermark(*w);
        break;
      case 2:
        if (auto t = merge_.on_barrier(i, std::get<2>(m))) barrier(*t);
        break;
      default:
        if (auto w = merge_.on_end(i)) emit_watermark(*w);
        if (auto t = merge_.release_if_aligned()) barrier(*t);
        break;
    }
  }
  void emit_watermark(timestamp w) {
    metrics_->watermark.store(w.nanos(), std::memory_order_relaxed);
    chain_.on_watermark(w);
  }
  void barrier(barrier_token t) {
    task_checkpoint(env_, t.id, [&](const checkpoint_barrier& b) { chain_.on_barrier(b); });
  }

  task_env env_;
  std::vector<channel_type*> inputs_;
  input_merge merge_;
  std::vector<std::deque<message>> pending_;
  Chain chain_;
  std::unique_ptr<Output> out_;
  bool watch_idle_;
  timestamp now_ = timestamp::min();
  std::size_t next_ = 0;
  std::uint64_t in_ = 0;
  bool ended_ = false;
};

}  // namespace laminar::detail
