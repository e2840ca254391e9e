// A typed DAG of fused chains across threads. Build it from sources and
// pipes; each call returns a handle whose type is the stream's context, so
// an edge whose two ends disagree on the record type does not compile:
//
//   laminar::graph g;
//   auto ticks = g.source("ticks", from(v) | with_watermarks(&tick::ts, bounded_out_of_orderness(5ms)));
//   auto big   = g.node("big", ticks, filter(is_big) | key_by(&tick::symbol));
//   auto sums  = g.parallel("sum", big, 4, running_sum());   // exchange by key
//   g.merge("out", collect(results), sums);                   // fan-in
//   g.run();
//
// A join node reads two streams (g.join("fills", trades, quotes, 4,
// asof_join() | map(f))), exchanged by key to its instances.
//
// A handle used by several nodes is multicast: every consumer gets every
// message. Nodes can only read handles that exist, so a graph has no cycles.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/core/compose.hpp"
#include "laminar/core/connect.hpp"
#include "laminar/core/source.hpp"
#include "laminar/core/two_input.hpp"
#include "laminar/dag/detail/edge.hpp"
#include "laminar/dag/detail/output.hpp"
#include "laminar/dag/detail/tasks.hpp"
#include "laminar/dag/options.hpp"
#include "laminar/runtime/executor.hpp"
#include "laminar/runtime/metrics.hpp"
#include "laminar/runtime/options.hpp"
#include "laminar/runtime/task.hpp"

namespace laminar {

class graph;

/// A node's output stream: its record type, key and event-time projections
/// (the context), and how many parallel instances produce it.
template <class Ctx>
class stream_handle {
 public:
  using context_type = Ctx;
  using value_type = typename Ctx::value_type;
  [[nodiscard]] std::size_t parallelism() const noexcept { return parallelism_; }

 private:
  friend class graph;
  stream_handle(std::size_t node, std::size_t parallelism, Ctx ctx)
      : node_(node), parallelism_(parallelism), ctx_(std::move(ctx)) {}
  std::size_t node_;
  std::size_t parallelism_;
  Ctx ctx_;
};

/// A node that ends in a sink: nothing reads from it.
struct sink_handle {
  std::size_t node;
};

/// A pipe that states its input type, so that connecting it to a stream of
/// another type is a readable compile error: g.node("x", h, chain_of<Tick>(map(f) | ...)).
template <class In, class Pipe>
struct typed_chain {
  Pipe pipe;
};
template <class In, class P>
auto chain_of(P p) {
  auto as = detail::as_pipe(std::move(p));
  return typed_chain<In, decltype(as)>{std::move(as)};
}

/// A two-input operator and the operators after it, possibly ending in a
/// sink: the body of a join node (`asof_join() | map(f) | ...`).
template <class Op, class Pipe>
struct two_input_chain {
  Op op;
  Pipe ops;
};

template <two_input_factory Op, pipeable P>
auto operator|(Op&& op, P&& p) {
  auto ops = detail::as_pipe(std::forward<P>(p));
  return two_input_chain<std::remove_cvref_t<Op>, decltype(ops)>{std::forward<Op>(op), std::move(ops)};
}
template <class Op, class Pipe, pipeable P>
auto operator|(two_input_chain<Op, Pipe>&& c, P&& p) {
  auto ops = detail::concat(std::move(c.ops), detail::as_pipe(std::forward<P>(p)));
  return two_input_chain<Op, decltype(ops)>{std::move(c.op), std::move(ops)};
}

/// The snapshots of every node instance for one completed graph checkpoint
/// ("node#instance" -> its stages' state, each under an id scoped by the
/// node's name), shared with the graph's board: a copy copies no state.
class graph_snapshot {
 public:
  using task_snapshots = std::map<std::string, snapshot>;
  graph_snapshot(std::uint64_t id, std::shared_ptr<const task_snapshots> tasks) : id_(id), tasks_(std::move(tasks)) {}
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
  [[nodiscard]] const task_snapshots& tasks() const noexcept { return *tasks_; }

 private:
  std::uint64_t id_;
  std::shared_ptr<const task_snapshots> tasks_;
};

namespace detail {

template <class T>
inline constexpr bool is_pipeline_v = false;
template <class S, class C>
inline constexpr bool is_pipeline_v<pipeline<S, C>> = true;

template <class B>
auto as_two_input_chain(B body) {
  if constexpr (two_input_factory<B>) {
    return two_input_chain<B, pipe<>>{std::move(body), pipe<>{}};
  } else {
    return body;
  }
}
template <class T>
inline constexpr bool is_two_input_chain_v = false;
template <class Op, class Pipe>
inline constexpr bool is_two_input_chain_v<two_input_chain<Op, Pipe>> = true;

/// The key a keyed context projects, as a value type.
template <class Ctx>
using key_value_t = std::remove_cvref_t<decltype(key_of(std::declval<const Ctx&>(),
                                                        std::declval<const typename Ctx::value_type&>()))>;
template <class L, class R>
constexpr bool same_keys() {
  if constexpr (L::keyed() && R::keyed()) {
    return std::is_same_v<key_value_t<L>, key_value_t<R>>;
  } else {
    return false;
  }
}

template <class T>
struct typed_chain_traits {
  static constexpr bool typed = false;
};
template <class In, class P>
struct typed_chain_traits<typed_chain<In, P>> {
  static constexpr bool typed = true;
  using input = In;
};

/// Replaces a closed pipe's sink with the same sink, counted for metrics.
template <class... Fs>
auto with_counted_sink(pipe<Fs...> p, std::uint64_t* count) {
  constexpr std::size_t last = sizeof...(Fs) - 1;
  using tuple_type = std::tuple<Fs...>;
  using sink_type = std::tuple_element_t<last, tuple_type>;
  return [&]<std::size_t... Is>(std::index_sequence<Is...>) {
    using result = pipe<std::tuple_element_t<Is, tuple_type>..., counted_sink_factory<sink_type>>;
    return result{std::tuple<std::tuple_element_t<Is, tuple_type>..., counted_sink_factory<sink_type>>(
        std::get<Is>(std::move(p.factories))...,
        counted_sink_factory<sink_type>{std::get<last>(std::move(p.factories)), count})};
  }(std::make_index_sequence<last>{});
}

/// Builds one node instance's task on its worker thread.
struct task_maker {
  virtual ~task_maker() = default;
  virtual std::unique_ptr<task> make(std::size_t instance, worker_context& w, node_metrics& m, task_env env) = 0;
};

template <class F>
struct task_maker_of final : task_maker {
  explicit task_maker_of(F f) : f_(std::move(f)) {}
  std::unique_ptr<task> make(std::size_t instance, worker_context& w, node_metrics& m, task_env env) override {
    return f_(instance, w, m, std::move(env));
  }
  F f_;
};

struct node_spec {
  std::string name;
  std::size_t parallelism = 1;
  bool has_output = false;
  bool pausable = false;  // a source an alignment group may pause
  bool join = false;      // a two-input operator: reads its inputs paced by watermark
  std::vector<edge_base*> inputs;
  std::vector<edge_base*> outputs;
  std::unique_ptr<task_maker> maker;
};

/// One node instance as an executor builds it: its input channels, then
/// its task, on the worker it was dealt to.
class node_instance final : public task_builder {
 public:
  /// `env` is what the task shares with its graph, less its worker.
  node_instance(node_spec& spec, std::size_t index, node_metrics& m, task_env env)
      : spec_(&spec), index_(index), metrics_(&m), env_(std::move(env)) {}

  [[nodiscard]] const std::string& name() const override { return env_.name; }
  void placed(worker_context& w) override {
    metrics_->worker = w.id();
    env_.worker = &w;
    if (spec_->pausable) env_.pause_bells->add(&w.bell());
  }
  void prepare(worker_context& w) override {
    for (edge_base* e : spec_->inputs) e->create_inputs(index_, w.bell());
  }
  std::unique_ptr<task> build(worker_context& w) override { return spec_->maker->make(index_, w, *metrics_, env_); }

 private:
  node_spec* spec_;
  std::size_t index_;
  node_metrics* metrics_;
  task_env env_;
};

template <class T>
std::vector<typename output_state<T>::route> routes_of(const node_spec& spec, std::size_t instance) {
  std::vector<typename output_state<T>::route> routes;
  for (edge_base* e : spec.outputs) {
    auto& edge = static_cast<typed_edge<T>&>(*e);
    typename output_state<T>::route r;
    r.channels = edge.outputs_of(instance);
    for (std::size_t c = 0; c < edge.consumers(); ++c) {
      if (edge.connects(instance, c)) r.bells.push_back(edge.bell(c));
    }
    r.partitioned = edge.route() == routing::partition;
    r.policy = edge.options().policy;
    r.paced = edge.paced();
    routes.push_back(std::move(r));
  }
  return routes;
}

/// Node instance `instance`'s channels from `edges`, edge by edge, in producer order.
template <class T>
std::vector<typename typed_edge<T>::channel_type*> channels_of(const std::vector<edge_base*>& edges,
                                                               std::size_t instance) {
  std::vector<typename typed_edge<T>::channel_type*> ins;
  for (edge_base* e : edges) {
    for (auto* ch : static_cast<typed_edge<T>&>(*e).inputs_of(instance)) ins.push_back(ch);
  }
  return ins;
}

/// Closes `p` for one node instance and returns {chain, output}: the chain
/// ends in the node's output channels when the pipe is open, in its own
/// (counted) sink when it is closed.
template <class Ctx, class Pipe>
auto close_for_instance(const Ctx& ctx, Pipe p, const node_spec& spec, std::size_t instance, node_metrics& m,
                        std::uint32_t key_groups) {
  if constexpr (Pipe::closed) {
    auto out = std::make_unique<sink_output>(m);
    auto chain = bind_chain(ctx, with_counted_sink(std::move(p), &out->count));
    return std::make_pair(std::move(chain), std::move(out));
  } else {
    using out_ctx = decltype(output_context_of(ctx, p));
    using T = typename out_ctx::value_type;
    auto out = std::make_unique<output_state<T>>(routes_of<T>(spec, instance), m, key_groups);
    auto chain = bind_chain(ctx, detail::concat(std::move(p), as_pipe(channel_output_factory<T>{out.get()})));
    return std::make_pair(std::move(chain), std::move(out));
  }
}

}  // namespace detail

/// The topology a program builds (nodes, edges, handles); start() turns
/// each node instance into a task and hands them to an executor
/// (runtime/executor.hpp), which runs them on its workers.
class graph {
 public:
  explicit graph(runtime_options options = {}) : executor_(std::move(options)) {}
  graph(const graph&) = delete;
  graph& operator=(const graph&) = delete;
  ~graph() { executor_.stop(); }  // before the nodes and edges its workers use

  /// A source node: a source, or a source with operators (`from(v) | map(f)`).
  /// A source whose pipe ends in a sink is a whole pipeline in one node.
  template <class S>
  auto source(std::string name, S&& src) {
    if constexpr (laminar::source<std::remove_cvref_t<S>>) {
      return add_source(std::move(name), std::forward<S>(src), pipe<>{});
    } else if constexpr (detail::is_pipeline_v<std::remove_cvref_t<S>>) {
      return add_pipeline(std::move(name), std::move(src));
    } else {
      return add_source(std::move(name), std::move(src.src), std::move(src.ops));
    }
  }

  /// A node that reads `in` and runs `body` (operators, possibly ending in a
  /// sink). It has as many instances as `in`'s producer, each reading one.
  template <class Ctx, class Body>
  auto node(std::string name, const stream_handle<Ctx>& in, Body body, edge_options edge = {}) {
    return add_chain(std::move(name), in.ctx_, unwrap<typename Ctx::value_type>(std::move(body)), in.parallelism_,
                     edge, {in.node_}, detail::routing::one_to_one);
  }

  /// `n` instances of `body`, each reading the records of `in` whose key
  /// (from the key_by that ends `in`) hashes to it. Watermarks, barriers and
  /// the end of the stream go to every instance.
  template <class Ctx, class Body>
  auto parallel(std::string name, const stream_handle<Ctx>& in, std::size_t n, Body body, edge_options edge = {}) {
    static_assert(Ctx::keyed(),
                  "laminar::graph::parallel exchanges records by key: end the input node's chain with key_by(...)");
    if (n == 0) throw graph_error("graph: parallel node '" + name + "' needs at least one instance");
    return add_chain(std::move(name), in.ctx_, unwrap<typename Ctx::value_type>(std::move(body)), n, edge,
                     {in.node_}, detail::routing::partition);
  }

  /// One node reading several streams of the same record type (every
  /// instance of each): fan-in. Its watermark is the minimum over its
  /// inputs (idle inputs excluded after runtime_options::idle_timeout);
  /// checkpoint barriers are aligned; it ends when every input has ended.
  template <class Body, class Ctx, class... Ctxs>
  auto merge(std::string name, Body body, const stream_handle<Ctx>& first, const stream_handle<Ctxs>&... rest) {
    using T = typename Ctx::value_type;
    static_assert((std::is_same_v<T, typename Ctxs::value_type> && ...),
                  "laminar::graph::merge: every input must carry the same record type");
    return add_chain(std::move(name), stream_context<T>{}, unwrap<T>(std::move(body)), 1, edge_options{},
                     {first.node_, rest.node_...}, detail::routing::to_single);
  }

  /// A join node: `n` instances of a two-input operator and the operators
  /// after it (`asof_join() | map(f) | ...`, possibly ending in a sink),
  /// reading `left` as its left input and `right` as its right. With n > 1
  /// both inputs must be keyed by the same key type: each record goes to
  /// the instance its key hashes to, from either side, so equal keys meet;
  /// with n == 1 every upstream instance feeds the one instance. Each
  /// input's watermark is the minimum over its upstream instances, the
  /// operator's the minimum of the two; barriers are aligned across both
  /// inputs; it ends when both have. An instance reads its inputs in the
  /// order of their watermarks, as connect() does in one thread (docs/dag.md,
  /// "Joins in a graph").
  template <class LCtx, class RCtx, class Body>
  auto join(std::string name, const stream_handle<LCtx>& left, const stream_handle<RCtx>& right, std::size_t n,
            Body body, edge_options edge = {}) {
    static_assert(two_input_factory<Body> || detail::is_two_input_chain_v<Body>,
                  "laminar::graph::join: the body must start with a two-input operator (asof_join(), ...), "
                  "optionally followed by operators: asof_join() | map(f)");
    if (n == 0) throw graph_error("graph: join node '" + name + "' needs at least one instance");
    if (n > 1 && !detail::same_keys<LCtx, RCtx>()) {
      throw graph_error("graph: join node '" + name + "' has " + std::to_string(n) +
                        " instances, so both inputs must be keyed by the same key type (end each input's chain "
                        "with key_by(...)): equal keys must meet in one instance");
    }
    return add_join(std::move(name), left, right, n, detail::as_two_input_chain(std::move(body)), edge);
  }

  /// Restores every node instance from a completed checkpoint of a graph
  /// built the same way. Call before start().
  void restore(graph_snapshot s) {
    if (started_) throw graph_error("graph: restore() after start(): restore a freshly built graph");
    restore_ = std::move(s);
  }

  /// Checks the graph, then starts its workers.
  void start() {
    validate();
    mark_paced_edges();
    started_ = true;
    const graph_snapshot::task_snapshots* restore_from = restore_tasks();
    std::vector<std::unique_ptr<detail::task_builder>> instances;
    for (auto& n : nodes_) {
      for (std::size_t i = 0; i < n->parallelism; ++i) {
        metrics_.push_back(std::make_unique<detail::node_metrics>());
        metrics_.back()->node = n->name;
        metrics_.back()->instance = i;
        detail::task_env env{.board = &board_,
                             .checkpoint_request = &checkpoint_request_,
                             .checkpoint_base = checkpoint_base_,
                             .restore_from = restore_from,
                             .pause_bells = &pause_bells_,
                             .name = n->name + "#" + std::to_string(i),
                             .node = n->name,
                             .key_groups = executor_.options().key_groups};
        instances.push_back(std::make_unique<detail::node_instance>(*n, i, *metrics_.back(), std::move(env)));
      }
    }
    board_.set_tasks(instances.size());
    executor_.start(std::move(instances));
  }
  /// Waits until every node has ended (or the graph was stopped or failed);
  /// rethrows the first node's error as a node_error.
  void wait() { executor_.wait(); }
  /// start() then wait().
  void run() {
    start();
    wait();
  }
  /// Stops the workers wherever they are (records in flight are dropped)
  /// and joins them.
  void stop() { executor_.stop(); }

  /// Asks every source to inject checkpoint barrier `id` (ids increase);
  /// returns the id. The checkpoint completes when every node instance has
  /// snapshotted it.
  ///
  /// `incremental_on`: an incremental checkpoint (snapshot::take_incremental;
  /// checkpoint_coordinator with checkpoint_options::deltas).
  std::uint64_t checkpoint(std::optional<std::uint64_t> incremental_on = std::nullopt) {
    const std::uint64_t id = ++last_checkpoint_;
    board_.set_incremental(id, incremental_on);
    checkpoint_request_.store(id, std::memory_order_release);
    executor_.wake_all();  // a parked worker's paused source injects it too
    return id;
  }
  /// The snapshots of checkpoint `id`, once every node instance took its
  /// own; then every stage hears on_checkpoint_complete(id) on its worker.
  /// The graph keeps the newest two completed checkpoints.
  [[nodiscard]] std::optional<graph_snapshot> completed_checkpoint(std::uint64_t id) const {
    auto tasks = board_.completed(id);
    if (!tasks) return std::nullopt;
    return graph_snapshot(id, std::move(tasks));
  }
  /// Gives up checkpoint `id` (not yet complete): what its nodes saved is
  /// dropped, and every stage hears on_checkpoint_abort(id) on its worker.
  void abort_checkpoint(std::uint64_t id) { board_.abort(id); }

  /// Makes checkpoints durable before they complete (before start();
  /// checkpoint_coordinator does this): once every node instance has taken
  /// its snapshot of checkpoint id, `persist(id, snapshots)` is called, on
  /// that last instance's worker (it must hand the work to another thread),
  /// and the checkpoint completes only at confirm_checkpoint(id).
  /// Checkpoint ids continue after `last_id` (the newest one stored).
  void persist_checkpoints(std::uint64_t last_id,
                           std::function<void(std::uint64_t, std::shared_ptr<const graph_snapshot::task_snapshots>)>
                               persist) {
    if (started_) throw graph_error("graph: persist_checkpoints() after start()");
    if (last_id > last_checkpoint_) {
      last_checkpoint_ = checkpoint_base_ = last_id;
      checkpoint_request_.store(last_id, std::memory_order_release);
    }
    board_.persist_with(std::move(persist));
  }
  /// Checkpoint `id`, handed to the persist function, is durable: it
  /// completes, and every stage hears on_checkpoint_complete(id). False if
  /// it was aborted meanwhile.
  bool confirm_checkpoint(std::uint64_t id) { return board_.confirm(id); }

  /// Per node instance: events in/out, queue depth, watermark, busy time.
  [[nodiscard]] std::vector<node_metrics_snapshot> metrics() const {
    std::vector<node_metrics_snapshot> out;
    for (const auto& m : metrics_) out.push_back(m->read());
    return out;
  }
  /// metrics() in the Prometheus text exposition format.
  [[nodiscard]] std::string prometheus() const { return render_prometheus(metrics()); }

  [[nodiscard]] std::size_t workers() const noexcept { return executor_.workers(); }

 private:
  template <class T, class Body>
  static auto unwrap(Body body) {
    if constexpr (detail::typed_chain_traits<Body>::typed) {
      static_assert(std::is_same_v<T, typename detail::typed_chain_traits<Body>::input>,
                    "laminar::graph: this chain's input type differs from the record type of the stream it reads: "
                    "an edge's two ends must carry the same type");
      return std::move(body.pipe);
    } else {
      return detail::as_pipe(std::move(body));
    }
  }

  detail::node_spec& add_spec(std::string name, std::size_t parallelism) {
    nodes_.push_back(std::make_unique<detail::node_spec>());
    auto& spec = *nodes_.back();
    spec.name = std::move(name);
    spec.parallelism = parallelism;
    return spec;
  }

  template <class Src, class Pipe>
  auto add_source(std::string name, Src src, Pipe p) {
    using S = std::remove_cvref_t<Src>;
    static_assert(pull_source<S>, "laminar::graph::source: a graph source must be a pull source (from, generate, union_of)");
    auto& spec = add_spec(std::move(name), 1);
    const std::size_t id = nodes_.size() - 1;
    auto ctx = src.context();
    spec.has_output = !Pipe::closed;
    spec.pausable = pausable_source<S>;
    auto handle = result_handle(id, 1, ctx, p);
    auto make = [ctx, src_slot = std::make_shared<std::optional<S>>(std::move(src)), p = std::move(p),
                 spec_ptr = &spec](std::size_t instance, detail::worker_context& w, detail::node_metrics& m,
                                   detail::task_env env) mutable -> std::unique_ptr<detail::task> {
      (void)w;
      auto [chain, out] = detail::close_for_instance(ctx, std::move(p), *spec_ptr, instance, m, env.key_groups);
      using task_type = detail::source_task<S, decltype(chain), typename decltype(out)::element_type>;
      auto t = std::make_unique<task_type>(m, std::move(env), std::move(**src_slot), std::move(chain), std::move(out));
      src_slot->reset();
      return t;
    };
    spec.maker = std::make_unique<detail::task_maker_of<decltype(make)>>(std::move(make));
    return handle;
  }

  // A whole pipeline (source to sink) as one node.
  template <class Src, class Chain>
  sink_handle add_pipeline(std::string name, pipeline<Src, Chain> p) {
    static_assert(pull_source<Src>, "laminar::graph::source: a graph source must be a pull source (from, generate, union_of)");
    auto& spec = add_spec(std::move(name), 1);
    const std::size_t id = nodes_.size() - 1;
    spec.pausable = pausable_source<Src>;
    auto slot = std::make_shared<std::optional<pipeline<Src, Chain>>>(std::move(p));
    auto make = [slot](std::size_t, detail::worker_context&, detail::node_metrics& m,
                       detail::task_env env) -> std::unique_ptr<detail::task> {
      using task_type = detail::source_task<Src, Chain, detail::sink_output>;
      auto t = std::make_unique<task_type>(m, std::move(env), std::move((*slot)->source()), std::move((*slot)->chain()),
                                           std::make_unique<detail::sink_output>(m));
      slot->reset();
      return t;
    };
    spec.maker = std::make_unique<detail::task_maker_of<decltype(make)>>(std::move(make));
    return sink_handle{id};
  }

  // What a node returns: a handle on its output stream, or a sink_handle.
  template <class Ctx, class Pipe>
  static auto result_handle(std::size_t id, std::size_t parallelism, const Ctx& ctx, const Pipe& p) {
    if constexpr (Pipe::closed) {
      (void)parallelism;
      (void)ctx;
      (void)p;
      return sink_handle{id};
    } else {
      auto out = output_context_of(ctx, p);
      return stream_handle<decltype(out)>(id, parallelism, std::move(out));
    }
  }

  template <class Ctx, class Pipe>
  auto add_chain(std::string name, const Ctx& ctx, Pipe p, std::size_t instances, edge_options eo,
                 std::vector<std::size_t> inputs, detail::routing r) {
    using T = typename Ctx::value_type;
    static_assert(std::is_copy_constructible_v<Pipe>,
                  "laminar::graph: a node's operators are copied for each instance: they must be copyable");
    auto& spec = add_spec(std::move(name), instances);
    const std::size_t id = nodes_.size() - 1;
    spec.has_output = !Pipe::closed;
    for (std::size_t producer : inputs) add_input<T>(spec, producer, r, eo);
    auto handle = result_handle(id, instances, ctx, p);
    auto make = [ctx, p = std::move(p), spec_ptr = &spec, idle = executor_.options().idle_timeout](
                    std::size_t instance, detail::worker_context& w, detail::node_metrics& m,
                    detail::task_env env) -> std::unique_ptr<detail::task> {
      (void)w;
      auto ins = detail::channels_of<T>(spec_ptr->inputs, instance);
      auto [chain, out] = detail::close_for_instance(ctx, Pipe(p), *spec_ptr, instance, m, env.key_groups);
      using body_type = detail::chain_body<decltype(chain)>;
      using task_type = detail::input_task<body_type, typename decltype(out)::element_type, T>;
      return std::make_unique<task_type>(m, std::move(env), typename task_type::channel_lists{std::move(ins)},
                                         body_type(std::move(chain)), std::move(out), idle);
    };
    spec.maker = std::make_unique<detail::task_maker_of<decltype(make)>>(std::move(make));
    return handle;
  }

  // An edge from every instance of node `producer` into `spec`, added as its next input.
  template <class T>
  void add_input(detail::node_spec& spec, std::size_t producer, detail::routing r, edge_options eo) {
    auto& from = *nodes_[producer];
    if (r == detail::routing::one_to_one && from.parallelism != spec.parallelism) r = detail::routing::partition;
    if (r == detail::routing::partition && spec.parallelism == 1) r = detail::routing::to_single;
    edges_.push_back(std::make_unique<detail::typed_edge<T>>(from.parallelism, spec.parallelism, r, eo));
    from.outputs.push_back(edges_.back().get());
    spec.inputs.push_back(edges_.back().get());
  }

  // A join: its left input is spec.inputs[0], its right spec.inputs[1].
  template <class LCtx, class RCtx, class Op, class Pipe>
  auto add_join(std::string name, const stream_handle<LCtx>& left, const stream_handle<RCtx>& right,
                std::size_t instances, two_input_chain<Op, Pipe> body, edge_options eo) {
    using L = typename LCtx::value_type;
    using R = typename RCtx::value_type;
    static_assert(std::is_copy_constructible_v<Op> && std::is_copy_constructible_v<Pipe>,
                  "laminar::graph: a node's operators are copied for each instance: they must be copyable");
    auto& spec = add_spec(std::move(name), instances);
    const std::size_t id = nodes_.size() - 1;
    spec.has_output = !Pipe::closed;
    spec.join = true;
    add_input<L>(spec, left.node_, detail::routing::partition, eo);
    add_input<R>(spec, right.node_, detail::routing::partition, eo);
    auto handle = result_handle(id, instances, body.op.output_context(left.ctx_, right.ctx_), body.ops);
    auto make = [lctx = left.ctx_, rctx = right.ctx_, op = std::move(body.op), p = std::move(body.ops),
                 spec_ptr = &spec, idle = executor_.options().idle_timeout](
                    std::size_t instance, detail::worker_context& w, detail::node_metrics& m,
                    detail::task_env env) -> std::unique_ptr<detail::task> {
      (void)w;
      auto lins = detail::channels_of<L>({spec_ptr->inputs[0]}, instance);
      auto rins = detail::channels_of<R>({spec_ptr->inputs[1]}, instance);
      auto [chain, out] = detail::close_for_instance(op.output_context(lctx, rctx), Pipe(p), *spec_ptr, instance, m,
                                                   env.key_groups);
      auto stage = Op(op).bind(lctx, rctx, std::move(chain));
      static_assert(two_input_stage<decltype(stage), L, R>,
                    "laminar: a two-input operator's stage must accept on_event(left_input, L), "
                    "on_event(right_input, R), on_input_watermark(Side, timestamp), on_input_end(Side) and every control message "
                    "(derive it from laminar::forwarding_two_input_stage)");
      using body_type = detail::two_input_body<decltype(stage)>;
      using task_type = detail::input_task<body_type, typename decltype(out)::element_type, L, R>;
      // A held record's key group, for a rescaled restore (keyed inputs only).
      const std::uint32_t groups = env.key_groups;
      typename task_type::key_group_fns key_groups;
      if constexpr (LCtx::keyed()) {
        std::get<0>(key_groups) = [lctx, groups](const L& l) { return key_group_of(key_of(lctx, l), groups); };
      }
      if constexpr (RCtx::keyed()) {
        std::get<1>(key_groups) = [rctx, groups](const R& r) { return key_group_of(key_of(rctx, r), groups); };
      }
      return std::make_unique<task_type>(m, std::move(env),
                                         typename task_type::channel_lists{std::move(lins), std::move(rins)},
                                         body_type(std::move(stage)), std::move(out), idle, std::move(key_groups));
    };
    spec.maker = std::make_unique<detail::task_maker_of<decltype(make)>>(std::move(make));
    return handle;
  }

  // An edge whose records reach a join, on any path, keeps every watermark
  // in its place among them: the join reads its inputs in the order of
  // their watermarks, so where a watermark lies decides which side's
  // records it sees first (batch_channel.hpp).
  void mark_paced_edges() {
    for (bool changed = true; changed;) {
      changed = false;
      for (const auto& n : nodes_) {
        bool feeds_join = n->join;
        for (const detail::edge_base* e : n->outputs) feeds_join = feeds_join || e->paced();
        if (!feeds_join) continue;
        for (detail::edge_base* e : n->inputs) {
          if (!e->paced()) {
            e->set_paced();
            changed = true;
          }
        }
      }
    }
  }

  // What each node instance restores from: the checkpoint's snapshots, and
  // for a node whose instance count differs from the checkpoint's
  // (rescaling), per new instance the saved instance whose key groups it
  // overlaps first, with the others that overlap it merged in (snapshot::
  // rescale). Instance i of n owns the key groups g with g * n / G == i.
  const graph_snapshot::task_snapshots* restore_tasks() {
    if (!restore_) return nullptr;
    const graph_snapshot::task_snapshots& saved = restore_->tasks();
    const std::uint32_t groups = executor_.options().key_groups;
    const auto first_group = [groups](std::size_t i, std::size_t n) {
      return static_cast<std::uint32_t>((i * groups + n - 1) / n);
    };
    for (const auto& n : nodes_) {
      std::size_t old = 0;
      while (saved.count(n->name + "#" + std::to_string(old)) != 0) ++old;
      if (old == 0 || old == n->parallelism) continue;
      const std::uint32_t saved_groups = saved.at(n->name + "#0").key_groups();
      if (saved_groups != groups) {
        throw checkpoint_error("graph: node '" + n->name + "' was saved with " + std::to_string(old) +
                               " instances over " + std::to_string(saved_groups) + " key groups; restoring it into " +
                               std::to_string(n->parallelism) + " instances needs the same key groups, and the graph has " +
                               std::to_string(groups));
      }
      if (!rescaled_) rescaled_ = saved;
      for (std::size_t j = 0; j < old; ++j) rescaled_->erase(n->name + "#" + std::to_string(j));
      for (std::size_t i = 0; i < n->parallelism; ++i) {
        const std::uint32_t from = first_group(i, n->parallelism), to = first_group(i + 1, n->parallelism);
        std::optional<snapshot> first;
        std::vector<snapshot> more;
        for (std::size_t j = 0; j < old; ++j) {
          if (std::max(from, first_group(j, old)) >= std::min(to, first_group(j + 1, old))) continue;
          const snapshot& part = saved.at(n->name + "#" + std::to_string(j));
          if (!first) {
            first = part;
          } else {
            more.push_back(part);
          }
        }
        first->rescale(from, to, std::move(more));
        rescaled_->emplace(n->name + "#" + std::to_string(i), std::move(*first));
      }
    }
    return rescaled_ ? &*rescaled_ : &saved;
  }

  void validate() const {
    if (started_) throw graph_error("graph: start() called twice: a graph runs once");
    if (nodes_.empty()) throw graph_error("graph: the graph is empty: add a source");
    if (auto problem = detail::options_problem(executor_.options())) throw graph_error("graph: " + *problem);
    std::set<std::string> names;
    bool any_source = false;
    for (const auto& n : nodes_) {
      if (n->parallelism > executor_.options().key_groups) {
        throw graph_error("graph: node '" + n->name + "' has " + std::to_string(n->parallelism) +
                          " instances but the graph has " + std::to_string(executor_.options().key_groups) +
                          " key groups: raise runtime_options::key_groups to at least the largest parallelism");
      }
      if (!names.insert(n->name).second) {
        throw graph_error("graph: two nodes are named '" + n->name + "': give each node its own name");
      }
      if (n->inputs.empty()) any_source = true;
      if (n->has_output && n->outputs.empty()) {
        throw graph_error("graph: node '" + n->name +
                          "' has an output that no node reads: connect it (graph::node, parallel, merge or join) or end "
                          "its chain with a sink");
      }
    }
    if (!any_source) throw graph_error("graph: there is no source");
  }

  std::vector<std::unique_ptr<detail::node_spec>> nodes_;
  std::vector<std::unique_ptr<detail::edge_base>> edges_;
  std::vector<std::unique_ptr<detail::node_metrics>> metrics_;
  detail::bell_set pause_bells_;  // workers that run a source an alignment group may pause
  detail::checkpoint_board board_;
  std::atomic<std::uint64_t> checkpoint_request_{0};
  std::uint64_t checkpoint_base_ = 0;  // persist_checkpoints(): ids continue after it
  std::uint64_t last_checkpoint_ = 0;
  std::optional<graph_snapshot> restore_;
  std::optional<graph_snapshot::task_snapshots> rescaled_;  // restore_'s, its nodes' instance counts changed
  bool started_ = false;
  detail::executor executor_;  // last: destroyed (its workers joined) first
};

}  // namespace laminar
