// The checkpoint coordinator: a pipeline and a graph checkpointed to disk,
// dropped mid-stream as a crash would, recovered from the directory, and
// finishing with the same state as a run that never stopped; outcomes
// delivered to the stages; a failed write aborts one checkpoint and the
// next completes; a graph checkpoint that cannot align times out.
#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <laminar/checkpoint.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "checkpoint/temp_dir.hpp"
#include "support/event_stream.hpp"
#include "support/keyed_sum.hpp"
#include "support/recording_sink.hpp"

using namespace laminar;

namespace {

std::vector<test::event> events(std::size_t n) {
  test::stream_options o;
  o.records = n;
  o.keys = 50;
  return test::make_stream(o);
}

// Each key's final total, summed the plain way.
std::map<std::uint64_t, std::int64_t> reference_totals(const std::vector<test::event>& in) {
  std::map<std::uint64_t, std::int64_t> out;
  for (const auto& e : in) out[e.key] += e.value;
  return out;
}

auto keyed_totals(const std::vector<test::event>& in, std::map<std::uint64_t, std::int64_t>& last) {
  return from(in) | key_by(&test::event::key) | test::keyed_sum(&test::event::value) |
         sink([&last](const test::key_total& t) { last[t.key] = t.total; });
}

template <class T>
std::vector<std::uint64_t> outcomes(const std::vector<test::message<T>>& trace, bool completed) {
  std::vector<std::uint64_t> ids;
  for (const auto& m : trace) {
    if (completed) {
      if (auto* c = std::get_if<test::complete_seen>(&m)) ids.push_back(c->id);
    } else if (auto* a = std::get_if<test::abort_seen>(&m)) {
      ids.push_back(a->id);
    }
  }
  return ids;
}

}  // namespace

TEST_CASE("coordinator: a pipeline dropped mid-stream recovers from disk and ends as if it never stopped") {
  const auto in = events(20'000);
  test::temp_dir dir("pipeline-recovery");
  std::uint64_t saved = 0;
  {
    checkpoint_store store(dir.path(), 2);
    checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
    std::map<std::uint64_t, std::int64_t> last;
    auto p = keyed_totals(in, last);
    for (int batch = 0; batch < 13; ++batch) {
      p.run_for(1000);
      if (batch % 4 == 3) {
        CHECK(coord.trigger(p) != 0);
        coord.drain(p);
      }
    }
    // A crash: the pipeline, its sink and the coordinator are gone, with
    // 1000 records past the newest checkpoint (12000) processed and lost.
    saved = coord.stats().last_completed;
    CHECK(coord.stats().completed == 3);
    CHECK(coord.stats().aborted == 0);
  }
  checkpoint_store store(dir.path(), 2);
  CHECK(store.checkpoints().size() == 2);  // retained
  checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
  std::map<std::uint64_t, std::int64_t> last;
  auto p = keyed_totals(in, last);
  const auto recovered = coord.recover(p);
  REQUIRE(recovered.has_value());
  CHECK(*recovered == saved);
  CHECK(p.source().position() == 12'000);
  p.run();
  CHECK(last == reference_totals(in));
  // Ids continue after the recovered one.
  auto q = keyed_totals(in, last);
  CHECK(coord.trigger(q) == saved + 1);
  coord.drain(q);
}

TEST_CASE("coordinator: checkpoints at an interval, outcomes reach the stages, a failed write aborts only its own") {
  const auto in = events(50'000);
  test::temp_dir dir("pipeline-interval");
  bool fail = false;
  checkpoint_store store(dir.path(), 3,
                         storage_options{.inject_fault = [&](std::string_view) { return fail ? ENOSPC : 0; }});
  checkpoint_coordinator coord(store, checkpoint_options{.interval = std::chrono::milliseconds(1)});
  std::vector<test::message<test::key_total>> trace;
  auto p = from(in) | key_by(&test::event::key) | test::keyed_sum(&test::event::value) | test::record(trace);

  // On its interval, while the pipeline runs.
  std::size_t polls = 0;
  while (!p.exhausted()) {
    p.run_for(100);
    coord.poll(p);
    ++polls;
    if (polls % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  coord.drain(p);
  const auto stats = coord.stats();
  CHECK(stats.completed >= 2);
  CHECK(stats.aborted == 0);
  CHECK(outcomes(trace, true).size() == stats.completed);
  CHECK(store.checkpoints().size() == 3);
  CHECK(store.checkpoints().back() == stats.last_completed);
  CHECK(stats.max_stall >= stats.last_stall);

  // A write that fails: that checkpoint is aborted, the pipeline goes on,
  // and the next one completes.
  fail = true;
  const std::uint64_t bad = coord.trigger(p);
  REQUIRE(bad != 0);
  coord.drain(p);
  CHECK(outcomes(trace, false) == std::vector<std::uint64_t>{bad});
  CHECK(coord.stats().last_error.find("No space left on device") != std::string::npos);
  fail = false;
  const std::uint64_t good = coord.trigger(p);
  CHECK(good == bad + 1);
  coord.drain(p);
  CHECK(outcomes(trace, true).back() == good);
  CHECK(store.checkpoints().back() == good);
  p.finish();
}

TEST_CASE("coordinator: a graph stopped after a checkpoint recovers from disk and ends as if it never stopped") {
  const auto in = events(30'000);
  test::temp_dir dir("graph-recovery");
  std::mutex mu;
  std::map<std::uint64_t, std::int64_t> last;
  // Builds the graph: events -> 2 keyed sums -> sink; `slow` spends 5 us on
  // each record at the source, so that a checkpoint lands early.
  const auto build = [&](graph& g, bool slow) {
    auto src = g.source("events", from(in) | map([slow](test::event e) {
                                     if (slow) {
                                       const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(5);
                                       while (std::chrono::steady_clock::now() < until) {
                                       }
                                     }
                                     return e;
                                   }) | key_by(&test::event::key));
    auto sums = g.parallel("sum", src, 2, test::keyed_sum(&test::event::value));
    g.merge("sink", sink([&](const test::key_total& t) {
              std::lock_guard<std::mutex> lock(mu);
              last[t.key] = t.total;
            }),
            sums);
  };
  std::uint64_t taken = 0;
  {
    checkpoint_store store(dir.path(), 2);
    graph g(runtime_options{.workers = 2, .pin = false});
    build(g, true);
    checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
    CHECK_FALSE(coord.recover(g).has_value());  // an empty directory: from the beginning
    coord.attach(g);
    g.start();
    taken = coord.trigger();
    REQUIRE(coord.wait_for(taken));
    g.stop();  // a crash: what was processed after the checkpoint is lost
  }
  checkpoint_store store(dir.path(), 2);
  REQUIRE(store.checkpoints() == std::vector<std::uint64_t>{taken});
  CHECK(store.load(taken).tasks.size() == 4);  // events#0, sum#0, sum#1, sink#0
  last.clear();
  graph g(runtime_options{.workers = 2, .pin = false});
  build(g, false);
  checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
  CHECK(coord.recover(g) == taken);
  coord.attach(g);
  g.start();
  g.wait();
  CHECK(last == reference_totals(in));
}

TEST_CASE("coordinator: a graph checkpoint that cannot complete times out and is aborted in every stage") {
  test::temp_dir dir("graph-timeout");
  checkpoint_store store(dir.path());
  std::vector<test::message<int>> trace;
  push_feed<int> feed(64);
  graph g(runtime_options{.workers = 1, .pin = false});
  auto src = g.source("feed", feed.source());
  g.node("sink", src, test::record(trace));
  checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max(),
                                                         .timeout = std::chrono::milliseconds(50)});
  coord.attach(g);
  g.start();
  feed.push(1);
  const std::uint64_t ok = coord.trigger();
  CHECK(coord.wait_for(ok));
  feed.close();  // the feed ends: no source is left to inject the next barrier
  g.wait();
  const std::uint64_t stuck = coord.trigger();
  CHECK_FALSE(coord.wait_for(stuck, std::chrono::seconds(10)));
  const auto stats = coord.stats();
  CHECK(stats.completed == 1);
  CHECK(stats.aborted == 1);
  CHECK(stats.last_error.find("timed out") != std::string::npos);
  CHECK(store.checkpoints() == std::vector<std::uint64_t>{ok});
  CHECK(outcomes(trace, true) == std::vector<std::uint64_t>{ok});
}

TEST_CASE("coordinator: a graph checkpoint whose write fails is aborted in every stage, and the graph goes on") {
  test::temp_dir dir("graph-fault");
  std::atomic<int> fail{ENOSPC};  // read on the coordinator's thread
  checkpoint_store store(dir.path(), 3, storage_options{.inject_fault = [&](std::string_view) { return fail.load(); }});
  std::vector<test::message<int>> trace;
  push_feed<int> feed(64);
  graph g(runtime_options{.workers = 1, .pin = false});
  auto src = g.source("feed", feed.source());
  g.node("sink", src, test::record(trace));
  checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
  coord.attach(g);
  g.start();
  feed.push(1);
  const std::uint64_t bad = coord.trigger();
  CHECK_FALSE(coord.wait_for(bad));
  CHECK(coord.stats().last_error.find("No space left on device") != std::string::npos);
  fail = 0;
  feed.push(2);
  const std::uint64_t good = coord.trigger();
  CHECK(good == bad + 1);
  CHECK(coord.wait_for(good));
  feed.push(3);
  feed.close();
  g.wait();
  CHECK(store.checkpoints() == std::vector<std::uint64_t>{good});
  CHECK(outcomes(trace, false) == std::vector<std::uint64_t>{bad});
  CHECK(outcomes(trace, true) == std::vector<std::uint64_t>{good});
  std::vector<int> records;
  for (const auto& m : trace) {
    if (const int* r = std::get_if<int>(&m)) records.push_back(*r);
  }
  CHECK(records == std::vector<int>{1, 2, 3});
}

TEST_CASE("coordinator: stop() writes the checkpoint in flight, and a trigger after it is refused") {
  const auto in = events(5'000);
  test::temp_dir dir("pipeline-stop");
  checkpoint_store store(dir.path());
  checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
  std::map<std::uint64_t, std::int64_t> last;
  auto p = keyed_totals(in, last);
  p.run_for(1000);
  const std::uint64_t id = coord.trigger(p);
  coord.stop();
  coord.drain(p);  // its outcome still arrives
  CHECK(coord.stats().last_completed == id);
  CHECK(store.checkpoints() == std::vector<std::uint64_t>{id});
  CHECK_THROWS_WITH_AS(coord.trigger(p), doctest::Contains("after stop()"), usage_error);
}
