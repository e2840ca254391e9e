// The two kinds of node instance a worker steps: a source task (a pull
// source driving its chain; one that its watermark alignment group pauses
// yields instead of pulling) and an input task (input channels, merged and
// aligned, driving a body: a chain, or a two-input operator and its chain).
// Both end in an output_state or a sink, and both take processing time on
// their worker's tick.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/source.hpp"
#include "laminar/core/time.hpp"
#include "laminar/core/two_input.hpp"
#include "laminar/dag/detail/edge.hpp"
#include "laminar/dag/detail/input_merge.hpp"
#include "laminar/dag/detail/output.hpp"
#include "laminar/dag/detail/ring_queue.hpp"
#include "laminar/dag/message.hpp"
#include "laminar/runtime/task.hpp"

namespace laminar::detail {

/// Where tasks hand the snapshots they take when a barrier reaches them,
/// where a graph checkpoint learns it is complete (or is aborted), and
/// where tasks learn that outcome to pass it down their chains. It keeps
/// the newest `retained` completed checkpoints; a reader shares one, it
/// does not copy it.
class checkpoint_board {
 public:
  using task_snapshots = std::map<std::string, snapshot>;

  using collected_fn = std::function<void(std::uint64_t, std::shared_ptr<const task_snapshots>)>;

  explicit checkpoint_board(std::size_t tasks = 0, std::size_t retained = 2) : tasks_(tasks), retained_(retained) {}
  void set_tasks(std::size_t n) { tasks_ = n; }
  /// From now on a checkpoint whose snapshots are all in is handed to
  /// `persist` (on the depositing task's thread, which must not wait on
  /// it) and completes only at confirm(id). Call before tasks deposit.
  void persist_with(collected_fn persist) { persist_ = std::move(persist); }

  /// Checkpoint `id` is incremental on `*on` (snapshot::take_incremental),
  /// or whole: set before its barriers go out, read by every task.
  void set_incremental(std::uint64_t id, std::optional<std::uint64_t> on) {
    std::lock_guard<std::mutex> lock(mu_);
    if (on) incremental_[id] = *on;
  }
  [[nodiscard]] std::optional<std::uint64_t> incremental_of(std::uint64_t id) const {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = incremental_.find(id);
    if (it == incremental_.end()) return std::nullopt;
    return it->second;
  }

  void deposit(std::uint64_t id, const std::string& task, snapshot s) {
    std::shared_ptr<const task_snapshots> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (id <= last_aborted_ && aborted_.count(id) != 0) return;  // too late: it was aborted
      auto& cp = pending_[id];
      cp[task] = std::move(s);
      if (cp.size() != tasks_) return;
      all = std::make_shared<const task_snapshots>(std::move(cp));
      pending_.erase(id);
      if (!persist_) {
        complete(id, all);
        return;
      }
      collected_[id] = all;
    }
    persist_(id, std::move(all));  // unlocked: whoever persists may call abort()
  }
  /// Checkpoint `id`, handed to the persist function, is durable: it
  /// completes. False if it was aborted meanwhile.
  bool confirm(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = collected_.find(id);
    if (it == collected_.end()) return false;
    auto all = std::move(it->second);
    collected_.erase(it);
    complete(id, std::move(all));
    return true;
  }
  /// Checkpoint `id` failed (a timeout, a stage's error, its write): what
  /// was deposited for it is dropped, and tasks tell their stages.
  void abort(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (completed_.count(id) != 0) return;
    pending_.erase(id);
    collected_.erase(id);
    incremental_.erase(incremental_.begin(), incremental_.upper_bound(id));
    aborted_.insert(id);
    if (id > last_aborted_) last_aborted_ = id;
    if (id > last_aborted_id_.load(std::memory_order_relaxed)) last_aborted_id_.store(id, std::memory_order_release);
  }
  [[nodiscard]] std::shared_ptr<const task_snapshots> completed(std::uint64_t id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = completed_.find(id);
    return it == completed_.end() ? nullptr : it->second;
  }
  /// The newest completed and aborted checkpoint ids (0: none), read by
  /// every task once per step.
  [[nodiscard]] std::uint64_t last_completed() const noexcept { return last_completed_.load(std::memory_order_acquire); }
  [[nodiscard]] std::uint64_t last_aborted() const noexcept { return last_aborted_id_.load(std::memory_order_acquire); }
  /// Completed checkpoints held now.
  [[nodiscard]] std::size_t retained() const {
    std::lock_guard<std::mutex> lock(mu_);
    return completed_.size();
  }

 private:
  // Under mu_.
  void complete(std::uint64_t id, std::shared_ptr<const task_snapshots> all) {
    incremental_.erase(incremental_.begin(), incremental_.upper_bound(id));
    completed_[id] = std::move(all);
    while (completed_.size() > retained_) completed_.erase(completed_.begin());
    if (id > last_completed_.load(std::memory_order_relaxed)) last_completed_.store(id, std::memory_order_release);
  }

  mutable std::mutex mu_;
  std::size_t tasks_;
  std::size_t retained_;
  std::map<std::uint64_t, task_snapshots> pending_;
  std::map<std::uint64_t, std::shared_ptr<const task_snapshots>> collected_;  // handed to persist_
  collected_fn persist_;
  std::map<std::uint64_t, std::shared_ptr<const task_snapshots>> completed_;
  std::set<std::uint64_t> aborted_;
  std::map<std::uint64_t, std::uint64_t> incremental_;  // id -> the checkpoint it builds on (0: whole, tracked)
  std::uint64_t last_aborted_ = 0;
  std::atomic<std::uint64_t> last_completed_{0};
  std::atomic<std::uint64_t> last_aborted_id_{0};
};

/// A task's view of checkpoint outcomes: each newest completed or aborted
/// id is passed down its chain once, on the task's own worker.
class checkpoint_outcomes {
 public:
  template <class Chain>
  void deliver(const checkpoint_board& board, Chain& chain) {
    deliver(board, chain, [](std::uint64_t, bool) {});
  }
  /// ... and to a source task's source: tell(id, completed).
  template <class Chain, class Tell>
  void deliver(const checkpoint_board& board, Chain& chain, Tell&& tell) {
    const std::uint64_t c = board.last_completed();
    if (c > completed_) {
      completed_ = c;
      tell(c, true);
      chain.on_checkpoint_complete(c);
    }
    const std::uint64_t a = board.last_aborted();
    if (a > aborted_) {
      aborted_ = a;
      tell(a, false);
      chain.on_checkpoint_abort(a);
    }
  }

 private:
  std::uint64_t completed_ = 0;
  std::uint64_t aborted_ = 0;
};

/// What every task shares with its graph.
struct task_env {
  worker_context* worker = nullptr;
  checkpoint_board* board = nullptr;
  const std::atomic<std::uint64_t>* checkpoint_request = nullptr;  // sources poll it between steps
  std::uint64_t checkpoint_base = 0;  // ids before this one were taken before the graph started (recovery)
  const std::map<std::string, snapshot>* restore_from = nullptr;   // set when the graph restores
  bell_set* pause_bells = nullptr;  // workers that run a pausable source
  std::string name;  // "node#instance"
  std::string node;  // the node's name: the scope of its stages' state ids
  std::uint32_t key_groups = default_key_groups;
};

/// Snapshot (or restore) of one task: the barrier reaches its stages in
/// chain order, each saves into the task's own snapshot.
template <class Apply>
void task_checkpoint(task_env& env, std::uint64_t id, Apply&& apply) {
  snapshot s(id, env.key_groups);
  if (const auto on = env.board->incremental_of(id)) s.take_incremental(*on);
  s.enter_scope(env.node);
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
  s.enter_scope(env.node);
  apply(checkpoint_barrier(s.checkpoint_id(), s, checkpoint_barrier::kind::restore));
  s.expect_fully_restored();
}

template <class Source, class Chain, class Output>
class source_task final : public task {
 public:
  source_task(node_metrics& m, task_env env, Source src, Chain chain, std::unique_ptr<Output> out)
      : task(m),
        env_(std::move(env)),
        src_(std::move(src)),
        chain_(std::move(chain)),
        out_(std::move(out)),
        last_checkpoint_(env_.checkpoint_base) {
    task_restore(env_, [&](const checkpoint_barrier& b) { src_.on_barrier(chain_, b); });
    if constexpr (fed) src_.attach(&env_.worker->bell());
  }
  ~source_task() override {
    if constexpr (fed) src_.attach(nullptr);  // the feed's pushes stop waiting for it
  }
  source_task(const source_task&) = delete;
  source_task& operator=(const source_task&) = delete;

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
    deliver_outcomes();
    const std::uint64_t wanted = env_.checkpoint_request->load(std::memory_order_acquire);
    const bool barrier = wanted > last_checkpoint_;
    // Injected even while paused, so checkpoints complete; every id
    // requested since the last step, in order, so that the barriers a node
    // aligns across its inputs (fan-in, join) carry the same ids.
    while (last_checkpoint_ < wanted) {
      ++last_checkpoint_;
      task_checkpoint(env_, last_checkpoint_, [&](const checkpoint_barrier& b) { src_.on_barrier(chain_, b); });
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
    // A feed with nothing in it is no progress: the worker may yield or
    // park (the feed wakes it) instead of spinning on it.
    if constexpr (fed) return n != 0 || barrier;
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
    deliver_outcomes();
    chain_.on_processing_time(now);
    out_->flush();
  }
  [[nodiscard]] bool ready() const override {
    if (out_->blocked()) return out_->can_drain();
    if constexpr (fed) {
      return ended_ || src_.has_input() || env_.checkpoint_request->load(std::memory_order_relaxed) > last_checkpoint_;
    } else if constexpr (pausable_source<Source>) {
      return ended_ || !src_.paused() ||
             env_.checkpoint_request->load(std::memory_order_relaxed) > last_checkpoint_;
    } else {
      return true;
    }
  }
  [[nodiscard]] wait_policy blocked_policy() const override { return out_->blocked_policy(); }

 private:
  static constexpr bool idle_checked = requires(Source& s, Chain& c) { s.poll_idle(c, timestamp{}); };
  // Fed from outside the graph (push_feed.hpp): it may have nothing to read.
  static constexpr bool fed = requires(const Source& s) { s.has_input(); };

  void deliver_outcomes() {
    outcomes_.deliver(*env_.board, chain_, [this](std::uint64_t id, bool completed) {
      if (completed) {
        detail::source_checkpoint_complete(src_, id);
      } else {
        detail::source_checkpoint_abort(src_, id);
      }
    });
  }

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
  checkpoint_outcomes outcomes_;
  std::uint64_t emitted_ = 0;
  std::uint64_t last_checkpoint_ = 0;
  bool ended_ = false;
  bool pulled_ = false;  // pulled since the last tick
};

/// Names one input of a node: 0 for a single-input node, 0 (left) and 1
/// (right) for a join.
template <std::size_t P>
using input_index = std::integral_constant<std::size_t, P>;

/// What a single-input node runs: its chain.
template <class Chain>
class chain_body {
 public:
  static constexpr bool paced = false;
  explicit chain_body(Chain chain) : chain_(std::move(chain)) {}
  template <class T>
  void on_event(input_index<0>, const T& record) {
    chain_.on_event(record);
  }
  void on_watermark(input_index<0>, timestamp w) { chain_.on_watermark(w); }
  void on_end(input_index<0>) { chain_.on_end(); }
  void on_barrier(const checkpoint_barrier& b) { chain_.on_barrier(b); }
  void on_processing_time(timestamp now) { chain_.on_processing_time(now); }
  void on_checkpoint_complete(std::uint64_t id) { chain_.on_checkpoint_complete(id); }
  void on_checkpoint_abort(std::uint64_t id) { chain_.on_checkpoint_abort(id); }

 private:
  Chain chain_;
};

/// What a join node runs: a two-input stage (the operator and its chain)
/// in its adapter; input 0 is its left input, input 1 its right. Its inputs
/// are read in the order of their watermarks (input_task::step_paced).
template <class Stage>
class two_input_body {
 public:
  static constexpr bool paced = true;
  explicit two_input_body(Stage stage) : adapter_(std::move(stage)) {}
  template <class T>
  void on_event(input_index<0>, const T& record) {
    adapter_.on_event(left_input{}, record);
  }
  template <class T>
  void on_event(input_index<1>, const T& record) {
    adapter_.on_event(right_input{}, record);
  }
  void on_watermark(input_index<0>, timestamp w) { adapter_.on_watermark(left_input{}, w); }
  void on_watermark(input_index<1>, timestamp w) { adapter_.on_watermark(right_input{}, w); }
  void on_end(input_index<0>) { adapter_.on_end(left_input{}); }
  void on_end(input_index<1>) { adapter_.on_end(right_input{}); }
  // The task aligns a barrier across both inputs: it reaches both sides at once.
  void on_barrier(const checkpoint_barrier& b) {
    adapter_.on_barrier(left_input{}, b);
    adapter_.on_barrier(right_input{}, b);
  }
  // These come from the task, not down the inputs: once each.
  void on_processing_time(timestamp now) { adapter_.stage().on_processing_time(now); }
  void on_checkpoint_complete(std::uint64_t id) { adapter_.stage().on_checkpoint_complete(id); }
  void on_checkpoint_abort(std::uint64_t id) { adapter_.stage().on_checkpoint_abort(id); }

 private:
  two_input_adapter<Stage> adapter_;
};

/// A node instance that reads channels: per input (port) of its body, the
/// channels from every upstream instance, merged by input_merge (each
/// input's watermark is the minimum over its channels; a barrier is aligned
/// across every channel of every input; an input ends when all its channels
/// have ended).
///
/// A single-input body reads its channels in turns. A paced body (a join)
/// reads them in the order of their watermarks, as connect() pulls its two
/// sources: next comes the channel whose watermark is lowest (ties: the
/// left input first). A channel carries its source's watermarks between its
/// records, so each key's records of both inputs reach the operator in the
/// order in which they would in one thread. While that channel is empty the
/// task waits, leaving the others to backpressure.
/// When it waits at a checkpoint barrier, the other channels are read
/// ahead to theirs and what they held before it is saved with the snapshot
/// (with each channel's watermark), so a checkpoint changes no order.
template <class Body, class Output, class... Ins>
class input_task final : public task {
  static constexpr std::size_t ports = sizeof...(Ins);
  static constexpr bool paced = Body::paced;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  template <class T>
  struct port_state {
    using channel_type = typename typed_edge<T>::channel_type;
    using message = stream_message<T>;
    std::size_t first = 0;  // its first channel's index in merge_
    std::vector<channel_type*> channels;
    std::vector<ring_queue<message>> pending;  // read but not yet handed to the body, in order
    // Per channel: how far into its front frame the body has been handed
    // (a paced task stops partway when the other input takes the lead).
    std::vector<typename frame_view<T>::position> cursor;
  };

 public:
  using channel_lists = std::tuple<std::vector<typename typed_edge<Ins>::channel_type*>...>;

  /// Per input, the key group of a record (a join's keyed inputs; empty
  /// elsewhere): what a rescaled restore filters held records by.
  using key_group_fns = std::tuple<std::function<std::uint32_t(const Ins&)>...>;

  input_task(node_metrics& m, task_env env, channel_lists inputs, Body body, std::unique_ptr<Output> out,
             duration idle_timeout, key_group_fns key_groups = {})
      : task(m),
        key_group_of_(std::move(key_groups)),
        env_(std::move(env)),
        merge_(std::apply([](const auto&... v) { return std::vector<std::size_t>{v.size()...}; }, inputs),
               idle_timeout),
        body_(std::move(body)),
        out_(std::move(out)),
        watch_idle_(idle_timeout != duration::max()) {
    held_.assign(merge_.size(), npos);
    [&]<std::size_t... Ps>(std::index_sequence<Ps...>) {
      std::size_t first = 0;
      ((std::get<Ps>(ports_).first = first, std::get<Ps>(ports_).channels = std::get<Ps>(inputs),
        std::get<Ps>(ports_).pending.resize(std::get<Ps>(inputs).size()),
        std::get<Ps>(ports_).cursor.resize(std::get<Ps>(inputs).size()), first += std::get<Ps>(inputs).size()),
       ...);
    }(std::make_index_sequence<ports>{});
    metrics_->publish_queue_depth([ins = std::move(inputs)] {
      return std::apply(
          [](const auto&... v) {
            std::size_t n = 0;
            ((std::for_each(v.begin(), v.end(), [&](const auto* ch) { n += ch->queued_records(); })), ...);
            return n;
          },
          ins);
    });
    task_restore(env_, [&](const checkpoint_barrier& b) { checkpoint(b); });
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
    outcomes_.deliver(*env_.board, body_);
    if (ended_) {
      finish_task();
      out_->flush();
      return moved;
    }
    if (watch_idle_) now_ = env_.worker->now();  // read once per round by the worker
    std::size_t handled = 0;
    if constexpr (paced) {
      handled = step_paced(budget);
    } else {
      handled = step_in_turns(budget);
    }
    metrics_->events_in.store(in_, std::memory_order_relaxed);
    if (merge_.all_ended() && !ended_) {
      ended_ = true;
      if (!out_->blocked()) finish_task();
      handled += 1;
    }
    out_->flush();
    return handled != 0 || moved;
  }

  [[nodiscard]] bool ready() const override {
    if (out_->blocked()) return out_->can_drain();
    if (ended_ || merge_.all_ended()) return true;
    if constexpr (paced) {
      const std::size_t j = pick();
      if (j == npos) return false;
      if (has_input(j)) return true;
      if (!merge_.blocked(j)) return false;
      for (std::size_t k = 0; k < merge_.size(); ++k) {
        if (merge_.readable(k) && channel_ready(k)) return true;
      }
      return false;
    } else {
      for (std::size_t j = 0; j < merge_.size(); ++j) {
        if (has_input(j)) return true;
      }
      return false;
    }
  }
  [[nodiscard]] wait_policy blocked_policy() const override { return out_->blocked_policy(); }

  void on_processing_time(timestamp now) override {
    // Under backpressure the tick waits: what it emits would only queue.
    if (ended_ || out_->blocked()) return;
    if (watch_idle_) {
      if constexpr (paced) {
        // A channel left waiting by the pacing is not silent.
        for (std::size_t j = 0; j < merge_.size(); ++j) {
          if (has_input(j) || pending_size(j) != 0) merge_.on_activity(j, now);
        }
      }
      each_port([&](auto p) {
        if (auto w = merge_.on_idle_check(now, decltype(p)::value)) advance(p, *w);
      });
    }
    outcomes_.deliver(*env_.board, body_);
    body_.on_processing_time(now);
    out_->flush();
  }

 private:
  // ---- reading ----

  // Single input: messages held back during the last alignment first, then
  // each channel in turn.
  std::size_t step_in_turns(std::size_t budget) {
    std::size_t handled = 0;
    each_input([&](auto p, std::size_t i, std::size_t j) {
      while (dispatchable(j) != 0) {
        pop_and_deliver(p, i);
        ++handled;
      }
    });
    const std::size_t n = merge_.size();
    for (std::size_t k = 0; k < n && handled < budget && !out_->blocked(); ++k) {
      const std::size_t j = (next_ + k) % n;
      if (!merge_.readable(j)) continue;
      std::size_t got = 0;
      with_input(j, [&](auto p, std::size_t i) { got = read(p, i, budget - handled, false); });
      if (got && watch_idle_) merge_.on_activity(j, now_);
      handled += got;
    }
    next_ = (next_ + 1) % (n ? n : 1);
    return handled;
  }

  // By watermark: the channel that leads, until a watermark, end or barrier
  // may hand the lead to another.
  std::size_t step_paced(std::size_t budget) {
    std::size_t handled = 0;
    while (handled < budget && !out_->blocked()) {
      const std::size_t j = pick();
      if (j == npos) break;
      std::size_t n = 0;
      with_input(j, [&](auto p, std::size_t i) { n = deliver_from(p, i, budget - handled); });
      if (n == 0) {
        if (!merge_.blocked(j)) break;  // its next message has not arrived: wait for it
        n = read_ahead(budget - handled);
        if (n == 0) break;
      }
      handled += n;
    }
    return handled;
  }

  // Channel j's messages while it leads: held ones first, then one batch
  // from the channel, whose messages past the point where j stops leading
  // wait in pending (one read per batch, not per message).
  template <class P>
  std::size_t deliver_from(P p, std::size_t i, std::size_t budget) {
    const std::size_t j = port(p).first + i;
    std::size_t n = 0;
    bool first = true;
    while (n < budget && first && dispatchable(j) != 0 && !out_->blocked()) {
      const bool record = port(p).pending[i].front().index() == 0;
      pop_and_deliver(p, i);
      ++n;
      if (!record) first = leads(j);
    }
    if (!first || n == budget || out_->blocked() || !merge_.readable(j) || dispatchable(j) != 0) return n;
    // Then frames, while it leads: a frame's records go to the body in runs,
    // and after each of its watermarks the lead is weighed again; where it
    // passes, the frame stays in the channel and is resumed from there.
    std::size_t got = 0;
    auto& ch = *port(p).channels[i];
    auto& at = port(p).cursor[i];
    while (first && n + got < budget && !out_->blocked() && merge_.readable(j)) {
      auto v = ch.peek();
      if (!v) break;
      if (v->kind != frame_kind::data || merge_.blocked(j) || !port(p).pending[i].empty()) {
        got += receive_frame(p, i, *v, false, at);
        at = {};
        ch.pop();
        first = first && leads(j);
        continue;
      }
      const auto from = at;
      at = v->walk(
          [&](T_of<P>* r, std::uint32_t count) {
            deliver_records(p, r, count);
            return true;
          },
          [&](timestamp w) {
            deliver_watermark(p, j, w);
            return first = leads(j);
          },
          from);
      got += (at.record - from.record) + (at.mark - from.mark);
      if (at.record == v->count && at.mark == v->mark_count) {
        at = {};
        ch.pop();
      }
    }
    if (got && watch_idle_) merge_.on_activity(j, now_);
    return n + got;
  }

  // Whether channel j still comes first by watermark (ties: the lower
  // channel); pick() has the last word.
  [[nodiscard]] bool leads(std::size_t j) const noexcept {
    if (merge_.blocked(j) || merge_.ended(j)) return false;
    const timestamp w = merge_.input_watermark(j);
    for (std::size_t k = 0; k < merge_.size(); ++k) {
      if (k == j || merge_.ended(k) || merge_.idle(k)) continue;
      const timestamp wk = merge_.input_watermark(k);
      if (wk < w || (wk == w && k < j)) return false;
    }
    return true;
  }

  // The channel that comes next waits at a barrier: the others are read up
  // to theirs, into pending.
  std::size_t read_ahead(std::size_t budget) {
    std::size_t got = 0;
    for (std::size_t k = 0; k < merge_.size() && got < budget; ++k) {
      if (!merge_.readable(k)) continue;
      std::size_t n = 0;
      with_input(k, [&](auto p, std::size_t i) { n = read(p, i, budget - got, true); });
      if (n && watch_idle_) merge_.on_activity(k, now_);
      got += n;
    }
    return got;
  }

  // The non-ended channel with the lowest watermark (ties: the lower
  // input, then one with something to read); a channel gone idle holds
  // nothing back until it has input again.
  [[nodiscard]] std::size_t pick() const {
    // Whether a channel has input is asked only where it decides (an idle
    // channel, a tie within a port): it reads the producer's side.
    std::size_t best = npos;
    timestamp best_w = timestamp::min();
    int best_has = -1;  // unknown
    for (std::size_t j = 0; j < merge_.size(); ++j) {
      if (merge_.ended(j)) continue;
      int has = -1;
      if (merge_.idle(j)) {
        has = has_input(j) ? 1 : 0;
        if (has == 0) continue;
      }
      const timestamp w = merge_.input_watermark(j);
      bool take = best == npos || w < best_w;
      if (!take && w == best_w && merge_.port_of(j) == merge_.port_of(best)) {
        if (has < 0) has = has_input(j) ? 1 : 0;
        if (best_has < 0) best_has = has_input(best) ? 1 : 0;
        take = has == 1 && best_has == 0;
      }
      if (take) {
        best = j;
        best_w = w;
        best_has = has;
      }
    }
    return best;
  }

  template <class P>
  using T_of = std::tuple_element_t<P::value, std::tuple<Ins...>>;

  // Frames from channel i of input p until `max` messages (records,
  // watermarks, barriers, ends) have been read, or none is ready.
  template <class P>
  std::size_t read(P p, std::size_t i, std::size_t max, bool hold) {
    std::size_t got = 0;
    auto& ch = *port(p).channels[i];
    auto& at = port(p).cursor[i];
    while (got < max) {
      auto v = ch.peek();
      if (!v) break;
      got += receive_frame(p, i, *v, hold, at);
      at = {};
      ch.pop();
    }
    return got;
  }

  // The rest of a frame from `from`. A barrier or the end goes through
  // receive(). A data frame's runs of records go straight to the body, one
  // loop per run between watermarks, unless the channel must wait (held,
  // blocked at a barrier, or behind pending messages): then every message
  // goes to pending. Which of the two holds for the whole frame, since
  // handing records and watermarks to the body changes neither. Returns the
  // messages taken.
  template <class P>
  std::size_t receive_frame(P p, std::size_t i, frame_view<T_of<P>>& v, bool hold,
                            typename frame_view<T_of<P>>::position from) {
    using M = stream_message<T_of<P>>;
    const std::size_t j = port(p).first + i;
    if (v.kind == frame_kind::barrier) {
      M m(std::in_place_index<2>, v.token);
      receive(p, i, m, hold);
      return 1;
    }
    if (v.kind == frame_kind::end) {
      M m(std::in_place_index<3>, end_of_stream{});
      receive(p, i, m, hold);
      return 1;
    }
    auto& q = port(p).pending[i];
    const bool wait = hold || merge_.blocked(j) || !q.empty();
    v.walk(
        [&](T_of<P>* r, std::uint32_t count) {
          if (!wait) {
            deliver_records(p, r, count);
          } else {
            for (std::uint32_t k = 0; k < count; ++k) q.emplace_back(std::in_place_index<0>, std::move(r[k]));
          }
          return true;
        },
        [&](timestamp w) {
          if (!wait) {
            deliver_watermark(p, j, w);
          } else {
            q.emplace_back(std::in_place_index<1>, w);
          }
          return true;
        },
        from);
    return static_cast<std::size_t>(v.count - from.record) + (v.mark_count - from.mark);
  }

  // The node's input loop: a run of records into the body.
  template <class P, class T>
  void deliver_records(P p, T* r, std::uint32_t count) {
    in_ += count;
    for (std::uint32_t k = 0; k < count; ++k) body_.on_event(p, r[k]);
  }
  template <class P>
  void deliver_watermark(P p, std::size_t j, timestamp w) {
    if (auto low = merge_.on_watermark(j, w, now_)) advance(p, *low);
  }

  // A message just read: handed to the body, or kept in pending when it
  // must wait (held for alignment or pacing, or behind others that wait).
  // A barrier is never kept: it blocks its channel at once.
  template <class P, class M>
  void receive(P p, std::size_t i, M& m, bool hold) {
    const std::size_t j = port(p).first + i;
    auto& q = port(p).pending[i];
    if (m.index() == 2) {
      if (merge_.blocked(j)) {
        q.push_back(std::move(m));  // a later barrier, behind the one being aligned
      } else {
        arrive(j, std::get<2>(m), q.size());
      }
      return;
    }
    if (hold || merge_.blocked(j) || !q.empty()) {
      const bool end = m.index() == 3;
      q.push_back(std::move(m));
      if (end) {
        if (auto t = merge_.on_end_received(j)) complete(*t);
      }
      return;
    }
    deliver(p, i, m);
  }

  template <class P>
  void pop_and_deliver(P p, std::size_t i) {
    const std::size_t j = port(p).first + i;
    auto& q = port(p).pending[i];
    if (held_[j] != npos && held_[j] != 0) --held_[j];
    if (auto* record = std::get_if<0>(&q.front())) {
      // A record moves out alone: a copy of the whole variant made g++ 12
      // see its storage as maybe uninitialized in the body (-Werror).
      T_of<P> r = std::move(*record);
      q.pop_front();
      deliver_records(p, &r, 1);
      return;
    }
    auto m = std::move(q.front());
    q.pop_front();
    deliver(p, i, m);
  }

  template <class P, class M>
  void deliver(P p, std::size_t i, M& m) {
    const std::size_t j = port(p).first + i;
    switch (m.index()) {
      case 0:
        deliver_records(p, &std::get<0>(m), 1);
        break;
      case 1:
        deliver_watermark(p, j, std::get<1>(m));
        break;
      case 3:
        if (auto w = merge_.on_end(j)) advance(p, *w);
        if (merge_.port_ended(P::value)) body_.on_end(p);
        if (auto t = merge_.release_if_aligned()) complete(*t);
        break;
      default:
        break;  // barriers are taken by receive()
    }
  }

  template <class P>
  void advance(P p, timestamp w) {
    timestamp low = timestamp::max();
    for (std::size_t q = 0; q < ports; ++q) low = std::min(low, merge_.watermark(q));
    metrics_->watermark.store(low.nanos(), std::memory_order_relaxed);
    body_.on_watermark(p, w);
  }

  // ---- checkpoints ----

  // Channel j delivered barrier `token`, with `held` of its pending messages before it.
  void arrive(std::size_t j, barrier_token token, std::size_t held) {
    held_[j] = held;
    if (auto t = merge_.on_barrier(j, token)) complete(*t);
  }

  // Every channel delivered the barrier (or ended): snapshot, then start
  // aligning any later barrier already read.
  void complete(barrier_token t) {
    if constexpr (!paced) {
      // What preceded the barrier goes through before the snapshot.
      each_input([&](auto p, std::size_t i, std::size_t j) {
        while (held_[j] != npos && held_[j] != 0) pop_and_deliver(p, i);
      });
    }
    task_checkpoint(env_, t.id, [&](const checkpoint_barrier& b) { checkpoint(b); });
    std::fill(held_.begin(), held_.end(), npos);
    each_input([&](auto p, std::size_t i, std::size_t j) {
      auto& q = port(p).pending[i];
      if (merge_.blocked(j)) return;  // aligning a later barrier already
      for (std::size_t k = 0; k < q.size(); ++k) {
        if (q[k].index() != 2) continue;
        const barrier_token next = std::get<2>(q[k]);
        q.erase(k);
        arrive(j, next, k);
        return;
      }
    });
  }

  void checkpoint(const checkpoint_barrier& b) {
    if constexpr (paced) {
      held_inputs held{this};
      b.checkpoint(held);
    }
    body_.on_barrier(b);
  }

  // A paced task's channels: each one's watermark and the messages it
  // had delivered before the barrier that the body has not yet seen.
  struct held_inputs {
    static constexpr std::string_view state_name = "held_inputs";
    input_task* self;
    void save_state(state_writer& w) const {
      self->each_input([&](auto p, std::size_t i, std::size_t j) {
        const auto& q = self->port(p).pending[i];
        const std::size_t n = self->held_[j] != npos ? self->held_[j] : q.size();
        w(self->merge_.input_watermark(j), static_cast<std::uint64_t>(n));
        for (std::size_t k = 0; k < n; ++k) {
          const auto kind = static_cast<std::uint8_t>(q[k].index());
          w(kind);
          if (kind == 0) w(std::get<0>(q[k]));
          if (kind == 1) w(std::get<1>(q[k]));
        }
      });
    }
    // Rescaled (a join restored into another number of instances): the
    // records of key groups the instance does not own are dropped, and a
    // later part's are merged into each channel's queue between the same
    // watermarks (the saved instances' channels from one upstream instance
    // carried the same watermarks).
    static constexpr bool rescalable = true;
    void load_state(state_reader& r) {
      self->each_input([&](auto p, std::size_t i, std::size_t j) {
        using T = std::tuple_element_t<decltype(p)::value, std::tuple<Ins...>>;
        using M = stream_message<T>;
        auto& q = self->port(p).pending[i];
        timestamp w = timestamp::min();
        std::uint64_t n = 0;
        r(w, n);
        if (!r.merging()) (void)self->merge_.on_watermark(j, w, timestamp::min());
        std::vector<M> incoming;
        for (std::uint64_t k = 0; k < n; ++k) {
          std::uint8_t kind = 0;
          r(kind);
          if (kind == 0) {
            T record{};
            r(record);
            const auto& group_of = std::get<decltype(p)::value>(self->key_group_of_);
            if (r.rescaling() && group_of && !r.owns_key_group(group_of(record))) continue;
            incoming.emplace_back(std::in_place_index<0>, std::move(record));
          } else if (kind == 1) {
            timestamp t{};
            r(t);
            incoming.emplace_back(std::in_place_index<1>, t);
          } else if (kind == 3) {
            incoming.emplace_back(std::in_place_index<3>, end_of_stream{});
          } else {
            throw checkpoint_error("graph checkpoint: a held input message of unknown kind " + std::to_string(kind));
          }
        }
        if (!r.merging()) {
          for (M& m : incoming) q.push_back(std::move(m));
          return;
        }
        // Records up to each watermark (or the end) from the earlier parts,
        // then this part's, then the watermark once.
        std::vector<M> merged;
        std::size_t a = 0, b = 0;
        const auto record_at = [](const M& m) { return m.index() == 0; };
        while (a < q.size() || b < incoming.size()) {
          while (a < q.size() && record_at(q[a])) merged.push_back(std::move(q[a++]));
          while (b < incoming.size() && record_at(incoming[b])) merged.push_back(std::move(incoming[b++]));
          if (a < q.size()) {
            merged.push_back(std::move(q[a++]));
            if (b < incoming.size()) ++b;  // the same watermark, or the end, from this part
          } else if (b < incoming.size()) {
            merged.push_back(std::move(incoming[b++]));
          }
        }
        q.clear();
        for (M& m : merged) q.push_back(std::move(m));
      });
    }
  };

  // ---- channels ----

  template <class P>
  auto& port(P) noexcept {
    return std::get<P::value>(ports_);
  }
  template <class P>
  const auto& port(P) const noexcept {
    return std::get<P::value>(ports_);
  }

  // Calls f(input_index<P>, i) for channel j, the i-th of input P.
  template <class F>
  void with_input(std::size_t j, F&& f) const {
    [&]<std::size_t... Ps>(std::index_sequence<Ps...>) {
      (void)((j < std::get<Ps>(ports_).first + std::get<Ps>(ports_).channels.size()
                  ? (f(input_index<Ps>{}, j - std::get<Ps>(ports_).first), true)
                  : false) ||
             ...);
    }(std::make_index_sequence<ports>{});
  }
  // Calls f(input_index<P>, i, j) for every channel.
  template <class F>
  void each_input(F&& f) const {
    each_port([&](auto p) {
      const auto& pt = std::get<decltype(p)::value>(ports_);
      for (std::size_t i = 0; i < pt.channels.size(); ++i) f(p, i, pt.first + i);
    });
  }
  template <class F>
  static void each_port(F&& f) {
    [&]<std::size_t... Ps>(std::index_sequence<Ps...>) { (f(input_index<Ps>{}), ...); }(std::make_index_sequence<ports>{});
  }

  [[nodiscard]] std::size_t pending_size(std::size_t j) const {
    std::size_t n = 0;
    with_input(j, [&](auto p, std::size_t i) { n = port(p).pending[i].size(); });
    return n;
  }
  // Pending messages that may go to the body now: while the channel is
  // held at a barrier, those before it.
  [[nodiscard]] std::size_t dispatchable(std::size_t j) const {
    return merge_.blocked(j) ? held_[j] : pending_size(j);
  }
  [[nodiscard]] bool channel_ready(std::size_t j) const {
    bool r = false;
    with_input(j, [&](auto p, std::size_t i) { r = port(p).channels[i]->ready(); });
    return r;
  }
  [[nodiscard]] bool has_input(std::size_t j) const {
    return dispatchable(j) != 0 || (merge_.readable(j) && channel_ready(j));
  }

  key_group_fns key_group_of_;
  task_env env_;
  std::tuple<port_state<Ins>...> ports_;
  input_merge merge_;
  std::vector<std::size_t> held_;  // per channel: while at a barrier, its pending messages before it; else npos
  Body body_;
  std::unique_ptr<Output> out_;
  checkpoint_outcomes outcomes_;
  bool watch_idle_;
  timestamp now_ = timestamp::min();
  std::size_t next_ = 0;
  std::uint64_t in_ = 0;
  bool ended_ = false;
};

}  // namespace laminar::detail
