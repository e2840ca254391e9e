// The runtime against the single-thread chain: the same results with 1, 2
// and 4 exchange instances, under forced backpressure, through fan-out and
// fan-in; clean stop with data in flight; a throwing operator; validation.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <laminar/dag/graph.hpp>
#include <laminar/laminar.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "support/event_stream.hpp"
#include "support/keep_last.hpp"
#include "support/keyed_sum.hpp"
#include "support/recording_sink.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using test::event;
using test::key_total;

namespace {
// Per key, the sequence of running totals, in order.
std::map<std::uint64_t, std::vector<std::int64_t>> by_key(const std::vector<key_total>& out) {
  std::map<std::uint64_t, std::vector<std::int64_t>> m;
  for (const auto& kt : out) m[kt.key].push_back(kt.total);
  return m;
}

std::vector<key_total> single_thread(const std::vector<event>& in) {
  std::vector<key_total> out;
  auto p = from(in) | key_by(&event::key) | test::keyed_sum(&event::value) | collect(out);
  p.run();
  return out;
}

std::vector<key_total> in_graph(const std::vector<event>& in, std::size_t instances, edge_options edge,
                                runtime_options options = {}) {
  std::vector<key_total> out;
  options.workers = 2;
  graph g(options);
  auto src = g.source("events", from(in) | with_watermarks(&event::ts, bounded_out_of_orderness(20ms)) |
                                    key_by(&event::key));
  auto sums = g.parallel("sum", src, instances, test::keyed_sum(&event::value), edge);
  g.merge("collect", collect(out), sums);
  g.run();
  return out;
}

// Emits records up to `gate_at`, then nothing until the gate opens: lets a
// test take a checkpoint at a known point of a running graph.
struct gated_source : source_base<gated_source> {
  using value_type = event;
  const std::vector<event>* records = nullptr;
  std::size_t gate_at = 0;
  std::atomic<bool>* gate = nullptr;
  std::uint64_t pos = 0;

  auto context() const { return stream_context<event>{}; }
  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t n) {
    std::size_t done = 0;
    while (done != n && pos != records->size()) {
      if (pos == gate_at && !gate->load(std::memory_order_acquire)) break;
      chain.on_event((*records)[pos++]);
      ++done;
    }
    return done;
  }
  bool exhausted() const { return pos == records->size(); }
  void save_state(state_writer& w) const { w(pos); }
  void load_state(state_reader& r) { r(pos); }
};

test::stream_options stream(std::uint64_t seed, std::size_t records = 20'000) {
  test::stream_options o;
  o.seed = seed;
  o.records = records;
  o.keys = 300;
  return o;
}
}  // namespace

TEST_CASE("exchange by key: 1, 2 and 4 instances, batches of 1, 7, 64 and 256, give the single-thread chain's results") {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const auto in = test::make_stream(stream(seed));
    const auto expected = by_key(single_thread(in));
    for (std::size_t n : {1UL, 2UL, 4UL}) {
      for (std::size_t batch : {1UL, 7UL, 64UL, 256UL}) {
        CAPTURE(seed);
        CAPTURE(n);
        CAPTURE(batch);
        edge_options edge;
        edge.batch = batch;
        const auto out = in_graph(in, n, edge);
        CHECK(out.size() == in.size());
        CHECK(by_key(out) == expected);
      }
    }
  }
}

TEST_CASE("backpressure: capacity-2 channels lose and duplicate nothing, with every wait policy") {
  const auto in = test::make_stream(stream(7, 5000));
  const auto expected = by_key(single_thread(in));
  for (wait_policy p : {wait_policy::spin, wait_policy::spin_then_yield, wait_policy::park}) {
    CAPTURE(static_cast<int>(p));
    runtime_options o;
    o.idle_policy = p;
    o.budget = 3;
    const auto out = in_graph(in, 4, edge_options{2, p}, o);
    CHECK(out.size() == in.size());
    CHECK(by_key(out) == expected);
  }
}

TEST_CASE("fan-out multicasts every message, fan-in ends once and carries monotonic watermarks") {
  const auto in = test::make_stream(stream(3, 10'000));
  std::vector<test::message<event>> trace;
  std::uint64_t evens = 0;
  graph g(runtime_options{.workers = 2});
  auto src = g.source("events", from(in) | with_watermarks(&event::ts, bounded_out_of_orderness(20ms)));
  auto a = g.node("a", src, filter([](const event& e) { return e.key % 2 == 0; }));
  auto b = g.node("b", src, filter([](const event& e) { return e.key % 2 == 1; }));
  g.node("count_evens", src, filter([](const event& e) { return e.key % 2 == 0; }) | count_events(evens));
  g.merge("both", test::record(trace), a, b);
  g.run();

  const auto events = test::events_of(trace);
  CHECK(events.size() == in.size());
  CHECK(evens == static_cast<std::uint64_t>(std::count_if(in.begin(), in.end(), [](const event& e) { return e.key % 2 == 0; })));
  const auto wms = test::watermarks_of(trace);
  REQUIRE(!wms.empty());
  for (std::size_t i = 1; i < wms.size(); ++i) CHECK(wms[i] > wms[i - 1]);
  CHECK(wms.back() == timestamp::max());
  CHECK(std::count(trace.begin(), trace.end(), test::message<event>{test::end_seen{}}) == 1);
  CHECK(trace.back() == test::message<event>{test::end_seen{}});
  // Per input, records keep their order (a and b each filter one ordered stream).
  std::vector<std::uint64_t> seq_even, seq_odd;
  for (const auto& e : events) (e.key % 2 ? seq_odd : seq_even).push_back(e.seq);
  CHECK(std::is_sorted(seq_even.begin(), seq_even.end()));
  CHECK(std::is_sorted(seq_odd.begin(), seq_odd.end()));
}

TEST_CASE("a merge's watermark never passes its slowest input") {
  // Two sources whose event times are far apart: the merged watermark must
  // stay at or below the slower one until it ends.
  std::vector<event> slow, fast;
  for (std::uint64_t i = 0; i < 2000; ++i) {
    slow.push_back({1, static_cast<std::int64_t>(1000 + i), 1, i});
    fast.push_back({2, static_cast<std::int64_t>(1'000'000 + i), 1, i});
  }
  std::vector<test::message<event>> trace;
  graph g(runtime_options{.workers = 2});
  auto s = g.source("slow", from(slow) | with_watermarks(&event::ts, monotonous_timestamps()));
  auto f = g.source("fast", from(fast) | with_watermarks(&event::ts, monotonous_timestamps()));
  g.merge("m", test::record(trace), s, f);
  g.run();
  timestamp slow_seen = timestamp::min();
  bool slow_ended = false;
  std::size_t slow_count = 0;
  for (const auto& m : trace) {
    if (const auto* e = std::get_if<event>(&m); e && e->key == 1) {
      slow_seen = std::max(slow_seen, timestamp::from_nanos(e->ts));
      slow_ended = ++slow_count == slow.size();
    }
    if (const auto* w = std::get_if<timestamp>(&m); w && !slow_ended) CHECK(*w <= slow_seen);
  }
  CHECK(test::watermarks_of(trace).back() == timestamp::max());
}

TEST_CASE("a checkpoint barrier crosses exchange and fan-in, aligned, and every instance snapshots once") {
  const auto in = test::make_stream(stream(11, 20'000));
  std::vector<test::message<key_total>> trace;
  std::atomic<bool> gate{false};
  std::atomic<std::uint64_t> reached{0};
  graph g(runtime_options{.workers = 2, .budget = 64});
  auto src = g.source("events", gated_source{{}, &in, 8000, &gate} | key_by(&event::key));
  auto sums = g.parallel("sum", src, 3, test::keyed_sum(&event::value) | tap([&](const key_total&) { ++reached; }),
                         edge_options{64});
  g.merge("sink", test::record(trace), sums);
  g.start();
  while (reached.load() < 8000) std::this_thread::yield();
  const std::uint64_t id = g.checkpoint();
  std::optional<graph_snapshot> done;
  while (!(done = g.completed_checkpoint(id))) std::this_thread::yield();
  gate.store(true);
  g.wait();

  CHECK(std::count_if(trace.begin(), trace.end(), [](const auto& m) {
          return std::holds_alternative<test::barrier_seen>(m);
        }) == 1);
  // Aligned: exactly the 8000 records before the gate precede the barrier.
  const auto at = std::find_if(trace.begin(), trace.end(), [](const auto& m) {
    return std::holds_alternative<test::barrier_seen>(m);
  });
  CHECK(std::count_if(trace.begin(), at, [](const auto& m) { return std::holds_alternative<key_total>(m); }) == 8000);
  CHECK(done->tasks().size() == 5);  // events#0, sum#0..2, sink#0
  CHECK(done->tasks().at("sum#1").records().size() == 1);
  CHECK(done->tasks().at("events#0").records().front().id == "events/gated_source");
  CHECK(test::events_of(trace).size() == in.size());
}

TEST_CASE("a graph restored from a checkpoint finishes with the uninterrupted results") {
  const auto in = test::make_stream(stream(5, 30'000));
  const auto expected = single_thread(in);
  auto build = [&](graph& g, std::vector<key_total>& out, std::atomic<bool>& gate) {
    auto src = g.source("events", gated_source{{}, &in, 12'345, &gate} | key_by(&event::key));
    auto sums = g.parallel("sum", src, 2, test::keyed_sum(&event::value), edge_options{16});
    g.merge("sink", collect(out), sums);
  };
  std::vector<key_total> first_out;
  std::atomic<bool> first_gate{false};
  graph first(runtime_options{.workers = 2, .budget = 16});
  build(first, first_out, first_gate);
  first.start();
  const auto id = first.checkpoint();
  std::optional<graph_snapshot> snap;
  while (!(snap = first.completed_checkpoint(id))) std::this_thread::yield();
  first.stop();  // a crash after the checkpoint: what came later is lost

  // The restored graph collects into the same vector: its collect sink
  // truncates it to the checkpoint's length, and the replay appends the
  // rest once, so the whole output, per key, equals the uninterrupted
  // single-thread run.
  std::atomic<bool> open{true};
  graph second(runtime_options{.workers = 2});
  build(second, first_out, open);
  second.restore(*snap);
  second.run();
  CHECK(first_out.size() == expected.size());
  CHECK(by_key(first_out) == by_key(expected));
}

namespace {
struct totals {  // no serialize: no checkpoint needs one
  std::int64_t sum = 0;
  std::int64_t n = 0;
  friend bool operator==(const totals&, const totals&) = default;
};
struct opaque_event {  // no serialize
  std::uint32_t key = 0;
};
}  // namespace

TEST_CASE("a graph node needs no serialize for what no checkpoint reaches: collect of window rows of a plain struct") {
  auto o = stream(11, 5000);
  o.late_fraction = 0;
  const auto in = test::make_stream(o);
  const auto window = [] { return tumbling(10ms).aggregate(aggregates_into<totals>(sum(&event::value), count())); };
  using row = window_row<std::uint32_t, totals>;
  std::vector<row> expected, got;
  auto p = from(in) | with_watermarks(&event::ts, bounded_out_of_orderness(20ms)) | key_by(&event::key) | window() |
           collect(expected);
  p.run();

  graph g(runtime_options{.workers = 2});
  auto src = g.source("events", from(in) | with_watermarks(&event::ts, bounded_out_of_orderness(20ms)) |
                                    key_by(&event::key));
  auto bars = g.parallel("bars", src, 2, window());
  g.merge("sink", collect(got), bars);
  g.run();
  const auto order = [](const row& a, const row& b) { return std::pair(a.key, a.start) < std::pair(b.key, b.start); };
  std::sort(expected.begin(), expected.end(), order);
  std::sort(got.begin(), got.end(), order);
  CHECK(!got.empty());
  CHECK(got == expected);
}

TEST_CASE("checkpointing a graph node whose state holds a type without serialize fails it, naming the stage and type") {
  const auto in = test::make_stream(stream(12, 1000));
  std::atomic<bool> gate{false};
  std::uint64_t n = 0;
  graph g(runtime_options{.workers = 2});
  auto src = g.source("events", gated_source{{}, &in, 500, &gate});
  g.node("last", src,
         map([](const event& e) { return opaque_event{e.key}; }) | test::keep_last() | count_events(n));
  g.start();
  (void)g.checkpoint();
  // The gate stays shut, so only the node's failure ends the graph; a
  // watchdog opens it after a while, failing the check instead of hanging.
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 2000 && !done.load(); ++i) std::this_thread::sleep_for(10ms);
    gate.store(true);
  });
  CHECK_THROWS_WITH_AS(g.wait(), doctest::Contains("the stage 'last/keep_last' keeps a `"), node_error);
  done.store(true);
  watchdog.join();
}

namespace {

// Counts the threads that ran it, and those of them that have ended: a
// thread's thread_local objects are destroyed as it ends, before a join()
// of it returns.
struct thread_census {
  std::atomic<int> entered{0};
  std::atomic<int> ended{0};
  struct mark {
    std::atomic<int>* ended = nullptr;
    ~mark() {
      if (ended != nullptr) ended->fetch_add(1);
    }
  };
  void here() {
    thread_local mark m;
    if (m.ended == nullptr) {
      m.ended = &ended;
      entered.fetch_add(1);
    }
  }
};

}  // namespace

TEST_CASE("stop() with data in flight joins every worker") {
  std::atomic<std::uint64_t> seen{0};
  thread_census workers;
  graph g(runtime_options{.workers = 2});
  auto src = g.source("endless", generate([&, i = std::uint64_t{0}]() mutable -> std::optional<std::uint64_t> {
                        workers.here();
                        return i++;
                      }));
  g.node("slow", src, sink([&](std::uint64_t) {
           workers.here();
           seen.fetch_add(1, std::memory_order_relaxed);
         }),
         edge_options{8});
  g.start();
  while (seen.load() < 1000) std::this_thread::yield();
  g.stop();
  // Every worker that ran a node has ended by the time stop() returns (the
  // endless source never lets one end by itself), and nothing runs after.
  CHECK(workers.entered.load() >= 1);
  CHECK(workers.ended.load() == workers.entered.load());
  const std::uint64_t at_stop = seen.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(seen.load() == at_stop);
}

TEST_CASE("an operator that throws stops the graph and is reported with its node") {
  std::vector<int> in(100'000);
  for (int i = 0; i < 100'000; ++i) in[static_cast<std::size_t>(i)] = i;
  graph g(runtime_options{.workers = 2});
  auto src = g.source("numbers", from(in));
  auto boom = g.node("boom", src, map([](int x) {
                       if (x == 5000) throw std::runtime_error("bad record 5000");
                       return x;
                     }));
  std::uint64_t n = 0;
  g.node("count", boom, count_events(n), edge_options{4});
  CHECK_THROWS_WITH_AS(g.run(), "node 'boom#0' failed: bad record 5000", node_error);
}

TEST_CASE("validation names the node and the fix") {
  std::vector<int> in{1, 2, 3};
  std::uint64_t n = 0;
  {
    graph g;
    auto src = g.source("numbers", from(in));
    (void)g.node("doubled", src, map([](int x) { return 2 * x; }));
    CHECK_THROWS_WITH_AS(g.run(), doctest::Contains("node 'doubled' has an output that no node reads"), graph_error);
  }
  {
    graph g;
    auto src = g.source("numbers", from(in));
    g.node("numbers", src, count_events(n));
    CHECK_THROWS_WITH_AS(g.run(), "graph: two nodes are named 'numbers': give each node its own name", graph_error);
  }
  {
    graph g;
    auto src = g.source("numbers", from(in) | key_by([](int x) { return x; }));
    CHECK_THROWS_AS((void)g.parallel("p", src, 0, count_events(n)), graph_error);
  }
  {
    graph g;
    g.source("numbers", from(in) | count_events(n));
    g.run();
    CHECK(n == 3);
    CHECK_THROWS_AS(g.run(), graph_error);
  }
}

TEST_CASE("metrics count records per node instance and render as Prometheus text") {
  const auto in = test::make_stream(stream(2, 5000));
  std::vector<key_total> out;
  graph g(runtime_options{.workers = 2});
  auto src = g.source("events", from(in) | key_by(&event::key));
  auto sums = g.parallel("sum", src, 2, test::keyed_sum(&event::value));
  g.merge("sink", collect(out), sums);
  g.run();
  const auto m = g.metrics();
  REQUIRE(m.size() == 4);
  std::uint64_t sum_in = 0, sum_out = 0;
  for (const auto& x : m) {
    if (x.node == "sum") {
      sum_in += x.events_in;
      sum_out += x.events_out;
    }
    CHECK(x.queue_depth == 0);
    CHECK(x.worker >= 0);
  }
  CHECK(sum_in == in.size());
  CHECK(sum_out == in.size());
  CHECK(m.front().node == "events");
  CHECK(m.front().events_out == in.size());
  CHECK(m.back().events_in == in.size());
  CHECK(m.back().watermark == timestamp::max());
  const std::string text = g.prometheus();
  CHECK(text.find("# TYPE laminar_node_events_in_total counter") != std::string::npos);
  CHECK(text.find("laminar_node_events_in_total{node=\"sink\",instance=\"0\",worker=\"") != std::string::npos);
  CHECK(text.find("laminar_node_watermark_seconds{node=\"sink\",instance=\"0\"") != std::string::npos);
}

TEST_CASE("many nodes share two workers: the task budget keeps every chain moving") {
  const auto in = test::make_stream(stream(9, 20'000));
  std::uint64_t counts[6] = {};
  graph g(runtime_options{.workers = 2, .budget = 16});
  auto src = g.source("events", from(in));
  for (int i = 0; i < 6; ++i) {
    g.node("n" + std::to_string(i), src, count_events(counts[i]), edge_options{32});
  }
  g.run();
  for (auto c : counts) CHECK(c == in.size());
}

TEST_CASE("without NUMA placement or pinning the graph runs the same") {
  const auto in = test::make_stream(stream(4, 5000));
  const auto expected = by_key(single_thread(in));
  runtime_options o;
  o.numa = false;
  o.pin = false;
  CHECK(by_key(in_graph(in, 2, edge_options{}, o)) == expected);
  const auto info = numa_probe();
  CHECK(info.nodes >= 1);
}

namespace {
// A sink that notes, per instance, the checkpoint outcomes it hears.
struct outcome_log {
  std::mutex mu;
  std::map<const void*, std::uint64_t> completed;
  std::map<const void*, std::uint64_t> aborted;
};
struct outcome_sink : consuming_stage {
  explicit outcome_sink(outcome_log* l) : log(l) {}
  outcome_log* log;
  template <class T>
  void on_event(const T&) {}
  void on_checkpoint_complete(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(log->mu);
    log->completed[this] = id;
  }
  void on_checkpoint_abort(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(log->mu);
    log->aborted[this] = id;
  }
};
struct note_outcomes {
  using is_sink = void;
  outcome_log* log;
  template <class Ctx>
  auto bind(const Ctx&) && {
    return outcome_sink(log);
  }
};

// Waits (bounded) until `done()`; false if it never happened.
template <class F>
bool eventually(F done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}
}  // namespace

TEST_CASE("every instance's stages hear a completed checkpoint, and an aborted one, on their own worker") {
  const auto in = test::make_stream(stream(17, 5'000));
  std::atomic<bool> gate{false};
  outcome_log log;
  std::vector<test::message<event>> trace;
  graph g(runtime_options{.workers = 2, .budget = 64});
  auto src = g.source("events", gated_source{{}, &in, 2'000, &gate} | key_by(&event::key));
  g.parallel("sum", src, 3, test::keyed_sum(&event::value) | note_outcomes{&log});
  g.node("trace", src, test::record(trace));
  g.start();
  const std::uint64_t id = g.checkpoint();
  REQUIRE(eventually([&] { return g.completed_checkpoint(id).has_value(); }));
  const auto heard = [&](const std::map<const void*, std::uint64_t>& m, std::uint64_t want) {
    std::lock_guard<std::mutex> lock(log.mu);
    return m.size() == 3 && std::all_of(m.begin(), m.end(), [&](const auto& kv) { return kv.second == want; });
  };
  CHECK(eventually([&] { return heard(log.completed, id); }));
  const std::uint64_t given_up = g.checkpoint() + 100;  // never requested: nothing completes it
  g.abort_checkpoint(given_up);
  CHECK(eventually([&] { return heard(log.aborted, given_up); }));
  gate.store(true);
  g.wait();
  CHECK(std::count(trace.begin(), trace.end(), test::message<event>(test::complete_seen{id})) == 1);
  CHECK(std::count(trace.begin(), trace.end(), test::message<event>(test::abort_seen{given_up})) == 1);
}

TEST_CASE("an exchange sends each key to the instance owning its key group; snapshots carry the count") {
  const auto in = test::make_stream(stream(23, 6'000));
  constexpr std::uint32_t groups = 16;
  std::mutex mu;
  std::map<std::uint64_t, std::set<const void*>> instances_of_key;
  std::map<const void*, std::set<std::uint32_t>> groups_of_instance;
  // Notes which instance (its own copy of this functor) saw which key.
  struct where_seen {
    std::mutex* mu;
    std::map<std::uint64_t, std::set<const void*>>* instances_of_key;
    std::map<const void*, std::set<std::uint32_t>>* groups_of_instance;
    void operator()(const event& e) const {
      std::lock_guard<std::mutex> lock(*mu);
      (*instances_of_key)[e.key].insert(this);
      (*groups_of_instance)[this].insert(key_group_of(e.key, groups));
    }
  };
  std::atomic<bool> gate{true};
  graph g(runtime_options{.workers = 2, .key_groups = groups});
  auto src = g.source("events", gated_source{{}, &in, 0, &gate} | key_by(&event::key));
  g.parallel("probe", src, 3,
             tap(where_seen{&mu, &instances_of_key, &groups_of_instance}) | test::keyed_sum(&event::value) |
                 sink([](const key_total&) {}));
  g.start();
  const std::uint64_t id = g.checkpoint();
  REQUIRE(eventually([&] { return g.completed_checkpoint(id).has_value(); }));
  g.wait();
  CHECK(g.completed_checkpoint(id)->tasks().at("probe#2").key_groups() == groups);
  REQUIRE(groups_of_instance.size() == 3);
  for (const auto& [key, where] : instances_of_key) CHECK(where.size() == 1);
  // Instance i of 3 owns the key groups g with 16i/3 <= g < 16(i+1)/3 (as
  // real numbers: g * 3 / 16 == i): 0-5, 6-10, 11-15, contiguous, disjoint.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;
  for (const auto& [inst, gs] : groups_of_instance) ranges.emplace_back(*gs.begin(), *gs.rbegin());
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    CHECK(ranges[i].first * 3 >= i * groups);
    CHECK(ranges[i].second * 3 < (i + 1) * groups);
  }

  graph bad(runtime_options{.key_groups = 2});
  auto s = bad.source("events", from(in) | key_by(&event::key));
  bad.parallel("sum", s, 3, test::keyed_sum(&event::value) | sink([](const key_total&) {}));
  CHECK_THROWS_WITH_AS(bad.start(), doctest::Contains("raise runtime_options::key_groups"), graph_error);
}
