// Watermark alignment across threads: source tasks on different workers
// share one alignment group. Each case holds the slow source at a gate that
// opens only once the group has acted (an episode, a dropped record), so
// the policy is exercised whatever the scheduling (the tests also pass with
// both workers on one CPU); the bounds checked hold for every interleaving.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <laminar/dag/graph.hpp>
#include <laminar/laminar.hpp>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

using namespace laminar;
using namespace std::chrono_literals;

namespace {
constexpr std::int64_t t0 = 1'700'000'000'000'000'000;
constexpr std::int64_t ms = 1'000'000;

struct rec {
  int src = 0;
  std::int64_t ts = 0;
  std::uint64_t seq = 0;
  friend bool operator==(const rec&, const rec&) = default;
  friend bool operator<(const rec& a, const rec& b) { return std::tie(a.src, a.seq) < std::tie(b.src, b.seq); }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(src, ts, seq);
  }
};

// n records `step` apart from t0 + step; emits nothing at position gate_at
// until open() says so.
struct gated_feed : source_base<gated_feed> {
  using value_type = rec;
  int src = 0;
  std::int64_t step = ms;
  std::uint64_t n = 0;
  std::uint64_t gate_at = 0;
  std::function<bool()> open = [] { return true; };
  std::uint64_t pos = 0;

  auto context() const { return stream_context<rec>{}; }
  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max) {
    std::size_t done = 0;
    while (done != max && pos != n) {
      if (pos == gate_at && !open()) break;
      ++pos;
      chain.on_event(rec{src, t0 + static_cast<std::int64_t>(pos) * step, pos});
      ++done;
    }
    return done;
  }
  bool exhausted() const { return pos == n; }
  void save_state(state_writer& w) const { w(pos); }
  void load_state(state_reader& r) { r(pos); }
};

auto feed(int src, std::int64_t step, std::uint64_t n, std::uint64_t gate_at = 0,
          std::function<bool()> open = [] { return true; }) {
  return gated_feed{{}, src, step, n, gate_at, std::move(open)} | with_watermarks(&rec::ts, monotonous_timestamps());
}

// Per source: every record once, in order.
void check_complete(const std::vector<rec>& out, int src, std::uint64_t n) {
  std::vector<std::uint64_t> seqs;
  for (const rec& r : out) {
    if (r.src == src) seqs.push_back(r.seq);
  }
  CHECK(seqs.size() == n);
  CHECK(std::is_sorted(seqs.begin(), seqs.end()));
  CHECK(std::adjacent_find(seqs.begin(), seqs.end()) == seqs.end());
}

// Warn and drop hold nothing back, so the fast source could finish before
// the slow one starts: it waits at record 5 for the slow one's first
// watermark (member 1 has reported), then must run ahead of it.
std::function<bool()> after_slow_reported(const alignment_group& group) {
  return [group] { return group.watermark(1) != timestamp::min(); };
}

constexpr std::size_t budget = 32;

// Idle workers yield, or park on their doorbell (a paused source is then
// not ready, and its worker sleeps until the next check).
void pause_across_workers(wait_policy idle) {
  const duration d = 20ms;
  // A source can run ahead by max_drift plus one record: 3 ms for the fast
  // one, 1 ms for the slow one.
  const duration bound = d + duration::from_nanos(3 * ms);
  alignment_group group(d, alignment_policy::pause);
  std::atomic<std::uint64_t> violations{0};
  auto within = [group, bound, &violations](const rec& r) {
    const timestamp low = group.low_watermark();
    if (low != timestamp::min() && low != timestamp::max() && to_timestamp(r.ts) - low > bound) ++violations;
  };
  std::vector<rec> out;
  graph g(runtime_options{.workers = 2, .budget = budget, .idle_policy = idle});
  auto fast = g.source("fast", feed(0, 3 * ms, 2000) | aligned(group) | tap(within));
  // The slow source stops at 100 records until the fast one has been beyond
  // the bound: with the slow one stuck, the fast one must get there.
  auto slow = g.source("slow", feed(1, 1 * ms, 6000, 100, [group] { return group.drift_episodes() > 0; }) |
                                   aligned(group) | tap(within));
  g.merge("out", collect(out), fast, slow);
  g.run();

  CHECK(violations.load() == 0);
  CHECK(group.drift_episodes() >= 1);
  CHECK(group.max_drift_seen() > d);
  CHECK(group.max_drift_seen() <= bound);
  CHECK(group.low_watermark() == timestamp::max());
  check_complete(out, 0, 2000);
  check_complete(out, 1, 6000);
  const auto m = g.metrics();
  CHECK(m[0].worker != m[1].worker);  // the two sources ran on different workers
}
}  // namespace

TEST_CASE("pause across workers: the fast source yields, drift stays within max_drift plus one record, nothing is lost") {
  for (wait_policy idle : {wait_policy::spin_then_yield, wait_policy::park}) {
    CAPTURE(static_cast<int>(idle));
    pause_across_workers(idle);
  }
}

TEST_CASE("drop across workers: each source's excess goes to its own side output, emitted + excess = input") {
  alignment_group group(10ms, alignment_policy::drop);
  side_records<rec> fast_excess, slow_excess;
  std::vector<rec> out;
  graph g(runtime_options{.workers = 2, .budget = budget});
  auto fast = g.source("fast", feed(0, 3 * ms, 2000, 5, after_slow_reported(group)) | aligned(group).excess_to(fast_excess));
  auto slow = g.source("slow", feed(1, 1 * ms, 6000, 100, [group] { return group.dropped() > 0; }) |
                                   aligned(group).excess_to(slow_excess));
  g.merge("out", collect(out), fast, slow);
  g.run();

  CHECK(fast_excess.count() >= 1);
  CHECK(group.dropped() == fast_excess.count() + slow_excess.count());
  std::vector<rec> all = out;
  all.insert(all.end(), fast_excess.records().begin(), fast_excess.records().end());
  all.insert(all.end(), slow_excess.records().begin(), slow_excess.records().end());
  std::sort(all.begin(), all.end());
  CHECK(all.size() == 8000);
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
  CHECK(std::count_if(all.begin(), all.end(), [](const rec& r) { return r.src == 0; }) == 2000);
}

TEST_CASE("warn across workers: nothing is held back, the hook is told once per episode") {
  alignment_group group(10ms, alignment_policy::warn);
  std::atomic<std::uint64_t> told{0};
  group.on_drift([&](const drift_event& e) {
    if (e.drift > 10ms) told.fetch_add(1, std::memory_order_relaxed);
  });
  std::vector<rec> out;
  graph g(runtime_options{.workers = 2, .budget = budget});
  auto fast = g.source("fast", feed(0, 3 * ms, 2000, 5, after_slow_reported(group)) | aligned(group));
  auto slow = g.source("slow", feed(1, 1 * ms, 6000, 100, [group] { return group.drift_episodes() > 0; }) |
                                   aligned(group));
  g.merge("out", collect(out), fast, slow);
  g.run();

  CHECK(group.drift_episodes() >= 1);
  CHECK(told.load() == group.drift_episodes());
  CHECK(group.dropped() == 0);
  check_complete(out, 0, 2000);
  check_complete(out, 1, 6000);
}

TEST_CASE("an aligned union is one graph source, it completes") {
  std::vector<rec> out;
  graph g(runtime_options{.workers = 2, .budget = budget});
  auto u = g.source("u", union_of_batched(8, feed(0, 3 * ms, 1000), feed(1, 1 * ms, 3000)).aligned(15ms));
  g.node("out", u, collect(out));
  g.run();
  check_complete(out, 0, 1000);
  check_complete(out, 1, 3000);
}

TEST_CASE("aligned sources in a graph restore from a checkpoint and finish with every record once") {
  auto build = [](graph& g, std::vector<rec>& out, alignment_group group, std::atomic<std::uint64_t>* reached,
                  bool gated) {
    // Gates at the same event time (1.5 s) for both, so neither is paused there.
    auto count = [reached](const rec& r) { reached[r.src].fetch_add(1, std::memory_order_relaxed); };
    auto closed = [gated] { return !gated; };
    auto a = g.source("a", feed(0, 3 * ms, 2000, 500, closed) | aligned(group) | tap(count));
    auto b = g.source("b", feed(1, 1 * ms, 6000, 1500, closed) | aligned(group) | tap(count));
    g.merge("out", collect(out), a, b);
  };
  std::vector<rec> first_out;
  std::atomic<std::uint64_t> first_reached[2] = {0, 0};
  alignment_group first_group(20ms, alignment_policy::pause);
  graph first(runtime_options{.workers = 2, .budget = budget});
  build(first, first_out, first_group, first_reached, true);
  first.start();
  while (first_reached[0].load() < 500 || first_reached[1].load() < 1500) std::this_thread::yield();
  const std::uint64_t id = first.checkpoint();
  std::optional<graph_snapshot> snap;
  while (!(snap = first.completed_checkpoint(id))) std::this_thread::yield();
  first.stop();
  CHECK(snap->tasks().at("a#0").records().back().id == "a/aligned_source");

  std::vector<rec> out = first_out;  // collect truncates it to the checkpoint's length
  std::atomic<std::uint64_t> reached[2] = {0, 0};
  alignment_group group(20ms, alignment_policy::pause);
  graph second(runtime_options{.workers = 2, .budget = budget});
  build(second, out, group, reached, false);
  second.restore(*snap);
  second.run();
  // The whole output, once.
  check_complete(out, 0, 2000);
  check_complete(out, 1, 6000);
  CHECK(reached[0].load() == 1500);
  CHECK(reached[1].load() == 4500);
}
