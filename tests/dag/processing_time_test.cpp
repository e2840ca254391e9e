// Processing time in a graph: workers tick their nodes on the graph's clock.
// Every case runs on a manual_clock, so it is deterministic on any machine:
// the clock moves only when the test moves it, sources stop at gates the
// test opens, and the test waits until a tick has reached the nodes (a probe
// stage counts the ticks) before it goes on. Results are compared with a
// single-thread pipeline ticked at the same points. The last cases check
// that parked workers are woken by what gives them work: they run with a
// park re-check of an hour, so a missing wake-up hangs them (and the test
// fails on its timeout) instead of costing a millisecond.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <laminar/dag/graph.hpp>
#include <laminar/laminar.hpp>
#include <mutex>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

using namespace laminar;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t t0 = 1'700'000'000'000'000'000;  // on a whole second
constexpr std::int64_t ms = 1'000'000;

struct rec {
  std::uint32_t key = 0;
  std::int64_t ts = 0;
  std::int64_t value = 0;
  friend bool operator==(const rec&, const rec&) = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(key, ts, value);
  }
};

/// Gates the test opens one after the other.
struct gates {
  std::atomic<std::size_t> opened{0};
  void open_next() { opened.fetch_add(1, std::memory_order_release); }
};

/// Emits `records` in order; stops before position at[i] until gate i is open.
struct gated_source : source_base<gated_source> {
  using value_type = rec;
  std::vector<rec> records;
  std::vector<std::size_t> at;
  gates* g = nullptr;
  std::size_t pos = 0;

  auto context() const { return stream_context<rec>{}; }
  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max) {
    std::size_t done = 0;
    while (done != max && pos != records.size() && !closed()) {
      chain.on_event(records[pos++]);
      ++done;
    }
    return done;
  }
  bool exhausted() const { return pos == records.size(); }
  void save_state(state_writer& w) const { w(pos); }
  void load_state(state_reader& r) { r(pos); }

 private:
  bool closed() const {
    const std::size_t open = g->opened.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < at.size(); ++i) {
      if (at[i] == pos && open <= i) return true;
    }
    return false;
  }
};

/// Counts the processing-time ticks that reach it (after the stages before
/// it have handled them); records and watermarks pass through.
template <class In, class Next>
class tick_probe_stage : public forwarding_stage<Next> {
 public:
  tick_probe_stage(std::atomic<int>* ticks, Next next) : forwarding_stage<Next>(std::move(next)), ticks_(ticks) {}
  void on_event(const In& e) { this->next_.on_event(e); }
  void on_processing_time(timestamp now) {
    forwarding_stage<Next>::on_processing_time(now);
    ticks_->fetch_add(1, std::memory_order_release);
  }

 private:
  std::atomic<int>* ticks_;
};

struct tick_probe {
  using is_operator = void;
  std::atomic<int>* ticks;
  template <class Ctx>
  auto output_context(const Ctx& ctx) const {
    return ctx;
  }
  template <class Ctx, class Next>
  auto bind(const Ctx&, Next&& next) && {
    return tick_probe_stage<typename Ctx::value_type, std::remove_cvref_t<Next>>(ticks, std::forward<Next>(next));
  }
};

/// What a sink saw, readable while the graph runs.
template <class T>
struct shared_log {
  std::mutex mu;
  std::vector<T> rows;
  std::atomic<std::int64_t> watermark{timestamp::min().nanos()};

  std::vector<T> read() {
    std::lock_guard<std::mutex> lock(mu);
    return rows;
  }
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return rows.size();
  }
  timestamp last_watermark() const { return timestamp::from_nanos(watermark.load(std::memory_order_acquire)); }
};

template <class T>
class log_sink : public consuming_stage {
 public:
  explicit log_sink(shared_log<T>& log) : log_(&log) {}
  void on_event(const T& r) {
    std::lock_guard<std::mutex> lock(log_->mu);
    log_->rows.push_back(r);
  }
  void on_watermark(timestamp w) { log_->watermark.store(w.nanos(), std::memory_order_release); }

 private:
  shared_log<T>* log_;
};

template <class T>
struct to_log {
  using is_sink = void;
  shared_log<T>* log;
  template <class Ctx>
  auto bind(const Ctx&) && {
    return log_sink<T>(*log);
  }
};

template <class F>
void wait_until(F&& done) {
  while (!done()) std::this_thread::yield();
}

// Stable: a group's changes keep their order.
template <class Row>
std::vector<Row> by_window_and_key(std::vector<Row> rows) {
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return std::tie(a.end, a.key) < std::tie(b.end, b.key); });
  return rows;
}

std::vector<rec> spaced(std::size_t n, std::int64_t from, std::int64_t step, std::uint32_t keys) {
  std::vector<rec> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(rec{static_cast<std::uint32_t>(i % keys), from + static_cast<std::int64_t>(i) * step,
                      static_cast<std::int64_t>(i % 7) + 1});
  }
  return out;
}

}  // namespace

TEST_CASE("periodic emission by processing time: the graph's ticks give a keyed window the single-thread early rows") {
  // 120 records 10 ms apart over keys 0..7: the first second's window stays
  // open through two early emissions (after 40 and 80 records) and fires in
  // the third part.
  const auto records = spaced(120, t0, 10 * ms, 8);
  const auto strategy = bounded_out_of_orderness(50ms);
  const auto window = [] {
    return tumbling(1s).aggregate(sum(&rec::value)).emit_every(100ms, time_domain::processing_time);
  };
  using row = window_row<std::uint32_t, std::int64_t>;
  const timestamp p0 = timestamp::from_nanos(t0 + 5'000 * ms);  // processing time: any clock will do

  std::vector<row> expected;
  auto p = from(records) | with_watermarks(&rec::ts, strategy) | key_by(&rec::key) | window() | collect(expected);
  p.tick(p0);
  p.run_for(40);
  p.tick(p0 + 100ms);
  REQUIRE(expected.size() == 8);  // every key early, once
  p.run_for(40);
  p.tick(p0 + 200ms);
  REQUIRE(expected.size() == 24);  // every key changed: -U/+U each
  p.run();

  for (std::size_t n : {1UL, 2UL}) {
    CAPTURE(n);
    manual_clock clock(p0);
    gates parts;
    std::atomic<int> ticks{0};
    std::atomic<std::size_t> consumed{0};
    std::vector<row> out;
    runtime_options o{.workers = 2};
    o.clock = clock.reader();
    graph g(o);
    auto src = g.source("events", gated_source{{}, records, {0, 40, 80}, &parts} | with_watermarks(&rec::ts, strategy) |
                                      key_by(&rec::key));
    auto win = g.parallel("window", src, n,
                          tap([&consumed](const rec&) { consumed.fetch_add(1, std::memory_order_release); }) |
                              window() | tick_probe{&ticks});
    g.merge("out", collect(out), win);
    g.start();
    const int instances = static_cast<int>(n);
    // Each worker ticks before its first step: the windows start their
    // schedule at p0 with nothing to emit.
    wait_until([&] { return ticks.load() >= instances; });
    parts.open_next();
    wait_until([&] { return consumed.load() == 40; });
    clock.advance(100ms);
    wait_until([&] { return ticks.load() >= 2 * instances; });
    parts.open_next();
    wait_until([&] { return consumed.load() == 80; });
    clock.advance(100ms);
    wait_until([&] { return ticks.load() >= 3 * instances; });
    parts.open_next();
    g.wait();

    CHECK(ticks.load() == 3 * instances);  // the clock moved twice: no other tick
    if (n == 1) {
      CHECK(out == expected);
    } else {
      CHECK(by_window_and_key(out) == by_window_and_key(expected));
    }
  }
}

TEST_CASE("an idle source's watermark advances in a graph and closes the windows of its quiet spell") {
  // 30 records, then silence: the idle timeout (200 ms of processing time)
  // moves the watermark to processing time - 50 ms, which closes the last
  // window; 20 later records follow after the spell.
  auto records = spaced(30, t0, 10 * ms, 4);
  for (const rec& r : spaced(20, t0 + 2'000 * ms, 10 * ms, 4)) records.push_back(r);
  const auto strategy = bounded_out_of_orderness(50ms).with_idle_timeout(200ms);
  const auto window = [] { return tumbling(100ms).aggregate(count()); };
  using row = window_row<std::uint32_t, std::int64_t>;
  const timestamp p0 = timestamp::from_nanos(t0 + 1'000 * ms);
  const timestamp p1 = p0 + 200ms;  // the first tick after the records: they were activity
  const timestamp p2 = p1 + 200ms;  // 200 ms without records: idle

  std::vector<row> expected;
  auto p = from(records) | with_watermarks(&rec::ts, strategy) | key_by(&rec::key) | window() | collect(expected);
  p.run_for(30);
  const std::size_t before_idle = expected.size();
  p.tick(p1);
  p.tick(p2);
  const std::vector<row> at_idle = expected;
  REQUIRE(at_idle.size() > before_idle);  // the idle watermark closed the window of records 20..29
  p.run();

  manual_clock clock(p0);
  gates parts;
  std::atomic<int> source_ticks{0};
  std::atomic<std::size_t> emitted{0};
  shared_log<row> log;
  graph g(runtime_options{.workers = 2, .clock = clock.reader()});
  auto src = g.source("events", gated_source{{}, records, {0, 30}, &parts} | with_watermarks(&rec::ts, strategy) |
                                    tap([&emitted](const rec&) { emitted.fetch_add(1, std::memory_order_release); }) |
                                    tick_probe{&source_ticks} | key_by(&rec::key));
  g.node("window", src, window() | to_log<row>{&log});
  g.start();
  wait_until([&] { return source_ticks.load() >= 1; });
  parts.open_next();
  wait_until([&] { return emitted.load() == 30; });
  clock.set(p1);
  wait_until([&] { return source_ticks.load() >= 2; });
  clock.set(p2);
  wait_until([&] { return source_ticks.load() >= 3; });
  // The idle watermark is on its way to the window node; nothing else can
  // move the watermark while the source waits at its gate.
  wait_until([&] { return log.last_watermark() >= p2 - 50ms; });
  CHECK(log.last_watermark() == p2 - 50ms);
  CHECK(log.read() == at_idle);
  parts.open_next();
  g.wait();
  CHECK(log.read() == expected);
}

TEST_CASE("a fan-in input silent for the idle timeout on the graph's clock stops holding the watermark back") {
  // a: 10 records, then silence. b: 10 records, and 10 more (not moving its
  // watermark) after the tick at p0 + 100 ms. At p0 + 250 ms a has been
  // silent for 250 ms (idle), b for 150 ms (not). Neither ends before the
  // last gate: an ended input would leave the minimum anyway.
  auto a_records = spaced(20, t0, 10 * ms, 1);
  auto b_records = spaced(10, t0 + 1'000 * ms, 10 * ms, 1);
  for (std::size_t i = 0; i < 10; ++i) b_records.push_back(rec{0, t0 + 1'000 * ms, 1});
  for (const rec& r : spaced(10, t0 + 2'000 * ms, 10 * ms, 1)) b_records.push_back(r);
  const timestamp a_mark = timestamp::from_nanos(a_records[9].ts);
  const timestamp b_mark = timestamp::from_nanos(b_records[9].ts);
  const timestamp p0 = timestamp::from_nanos(t0);
  manual_clock clock(p0);
  gates a_gates, b_gates;
  std::atomic<int> ticks{0};
  shared_log<rec> log;
  runtime_options o{.workers = 2, .idle_timeout = 200ms};
  o.clock = clock.reader();
  graph g(o);
  auto a = g.source("a", gated_source{{}, a_records, {0, 10}, &a_gates} |
                             with_watermarks(&rec::ts, monotonous_timestamps()));
  auto b = g.source("b", gated_source{{}, b_records, {0, 10, 20}, &b_gates} |
                             with_watermarks(&rec::ts, monotonous_timestamps()));
  g.merge("out", tick_probe{&ticks} | to_log<rec>{&log}, a, b);
  g.start();
  wait_until([&] { return ticks.load() >= 1; });
  a_gates.open_next();
  b_gates.open_next();
  wait_until([&] { return log.size() == 20 && log.last_watermark() >= a_mark; });
  CHECK(log.last_watermark() == a_mark);  // the slower input's
  clock.advance(100ms);
  wait_until([&] { return ticks.load() >= 2; });
  CHECK(log.last_watermark() == a_mark);  // 100 ms: nobody idle
  b_gates.open_next();  // b's next records arrive at p0 + 100 ms
  wait_until([&] { return log.size() == 30; });
  clock.advance(150ms);
  wait_until([&] { return ticks.load() >= 3; });
  CHECK(log.last_watermark() == b_mark);  // a is idle: b's alone
  a_gates.open_next();
  b_gates.open_next();
  g.wait();
  std::vector<rec> from_a, from_b;  // a's records are all before b's
  for (const rec& r : log.read()) (r.ts < b_records.front().ts ? from_a : from_b).push_back(r);
  CHECK(from_a == a_records);
  CHECK(from_b == b_records);
  CHECK(log.last_watermark() == timestamp::max());
}

TEST_CASE("processing-time options are checked when the graph starts") {
  std::vector<rec> out;
  const auto records = spaced(10, t0, ms, 2);
  {
    graph g(runtime_options{.tick_interval = duration::zero()});
    g.source("s", from(records) | collect(out));
    CHECK_THROWS_AS(g.start(), graph_error);
  }
  {
    graph g(runtime_options{.idle_timeout = 1s, .tick_interval = duration::max()});
    g.source("s", from(records) | collect(out));
    CHECK_THROWS_WITH_AS(g.start(), doctest::Contains("tick_interval"), graph_error);
  }
  {
    graph g(runtime_options{.park_recheck = duration::zero()});
    g.source("s", from(records) | collect(out));
    CHECK_THROWS_AS(g.start(), graph_error);
  }
}

namespace {

// Parked workers that only a wake-up can bring back: an hour between
// re-checks, and no ticks to wake them either.
runtime_options parked(std::size_t workers) {
  runtime_options o{.workers = workers, .budget = 16, .idle_policy = wait_policy::park};
  o.tick_interval = duration::max();
  o.park_recheck = std::chrono::hours(1);
  return o;
}

// n records `step` apart; stops at position gate_at while !open().
struct feed_source : source_base<feed_source> {
  using value_type = rec;
  std::uint32_t src = 0;
  std::int64_t step = ms;
  std::size_t n = 0;
  std::size_t gate_at = 0;
  std::function<bool()> open = [] { return true; };
  std::size_t pos = 0;

  auto context() const { return stream_context<rec>{}; }
  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max) {
    std::size_t done = 0;
    while (done != max && pos != n) {
      if (pos == gate_at && !open()) break;
      ++pos;
      chain.on_event(rec{src, t0 + static_cast<std::int64_t>(pos) * step, static_cast<std::int64_t>(pos)});
      ++done;
    }
    return done;
  }
  bool exhausted() const { return pos == n; }
  void save_state(state_writer& w) const { w(pos); }
  void load_state(state_reader& r) { r(pos); }
};

std::size_t count_from(const std::vector<rec>& out, std::uint32_t src) {
  return static_cast<std::size_t>(std::count_if(out.begin(), out.end(), [src](const rec& r) { return r.key == src; }));
}

}  // namespace

TEST_CASE("a source released by its alignment group wakes its parked worker (no re-check needed)") {
  // Three workers: the fast source alone on worker 0, the slow one on 1, the
  // merge on 2. The fast source runs ahead and is paused; its worker parks,
  // and nothing but the slow source's progress (on another worker, sending
  // it nothing) can release it.
  alignment_group group(20ms, alignment_policy::pause);
  std::vector<rec> out;
  graph g(parked(3));
  auto fast = g.source("fast", feed_source{{}, 0, 3 * ms, 600} | with_watermarks(&rec::ts, monotonous_timestamps()) |
                                   aligned(group));
  // The slow source waits at record 100 until the fast one has been beyond
  // the bound, so that a pause happens whatever the scheduling.
  auto slow = g.source("slow", feed_source{{}, 1, 1 * ms, 1800, 100, [group] { return group.drift_episodes() > 0; }} |
                                   with_watermarks(&rec::ts, monotonous_timestamps()) | aligned(group));
  g.merge("out", collect(out), fast, slow);
  g.run();
  CHECK(group.drift_episodes() >= 1);
  CHECK(count_from(out, 0) == 600);
  CHECK(count_from(out, 1) == 1800);
  const auto m = g.metrics();
  CHECK(m[0].worker == 0);
  CHECK(m[1].worker == 1);
  CHECK(m[2].worker == 2);
}

TEST_CASE("a checkpoint request wakes a worker parked on a paused source, and stop() wakes every parked worker") {
  // The fast source is paused for good (the slow one never passes its gate),
  // so its worker parks; the merge's worker parks once its input is drained.
  alignment_group group(20ms, alignment_policy::pause);
  std::atomic<bool> release{false};
  std::atomic<std::size_t> seen{0};
  graph g(parked(3));
  auto fast = g.source("fast", feed_source{{}, 0, 3 * ms, 600} | with_watermarks(&rec::ts, monotonous_timestamps()) |
                                   aligned(group));
  auto slow = g.source("slow", feed_source{{}, 1, 1 * ms, 1800, 100, [&release] { return release.load(); }} |
                                   with_watermarks(&rec::ts, monotonous_timestamps()) | aligned(group));
  std::vector<rec> out;
  g.merge("out", tap([&seen](const rec&) { seen.fetch_add(1, std::memory_order_relaxed); }) | collect(out), fast, slow);
  g.start();
  wait_until([&] { return group.drift_episodes() > 0 && seen.load() >= 100; });
  const std::uint64_t id = g.checkpoint();
  wait_until([&] { return g.completed_checkpoint(id).has_value(); });
  g.stop();  // returns once every worker, parked or not, has left
  CHECK(g.completed_checkpoint(id)->tasks().size() == 3);
}
