// Incremental checkpoints: a keyed window checkpointed every batch, a whole
// checkpoint then deltas of the groups changed since the one before;
// restoring from any checkpoint of the chain (base + deltas) and running to
// the end gives the rows of a run that never stopped; a failed delta's
// changes go into the next; deltas are small; the store keeps what a
// retained delta builds on and drops it with the chain.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <laminar/checkpoint.hpp>
#include <laminar/laminar.hpp>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

#include "checkpoint/temp_dir.hpp"
#include "support/event_stream.hpp"
#include "support/recording_sink.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using laminar::test::event;
namespace fs = std::filesystem;

namespace {

using row = window_row<std::uint32_t, std::tuple<std::int64_t, std::int64_t>>;

std::vector<event> events(std::size_t n, std::uint32_t keys) {
  test::stream_options o;
  o.records = n;
  o.keys = keys;
  return test::make_stream(o);
}

auto windowed(const std::vector<event>& in, std::vector<row>& out) {
  return from(in) | with_watermarks(&event::ts, bounded_out_of_orderness(50ms)) | key_by(&event::key) |
         hopping(20s, 5s).aggregate(aggregates(sum(&event::value), count())) | collect(out);
}

}  // namespace

namespace {

// Checkpoints every `batch` records, a whole one then three deltas, each on
// the one before; restoring from any of them (base + deltas) and running to
// the end gives the rows of a run that never stopped. build(out) makes the
// pipeline; `record` is the id of the stage whose deltas are checked.
template <class Row, class Build>
void check_every_link(Build build, std::string_view record, std::size_t batch) {
  std::vector<Row> expected;
  {
    auto p = build(expected);
    p.run();
  }
  REQUIRE(expected.size() > 1000);
  test::temp_dir dir("incremental");
  std::vector<std::uint64_t> ids;
  std::vector<std::size_t> rows_at;  // rows emitted when each checkpoint was taken
  std::vector<std::size_t> whole_at;  // the stage's whole state then, in bytes
  {
    checkpoint_store store(dir.path(), 100);
    checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max(), .deltas = 3});
    std::vector<Row> out;
    auto p = build(out);
    while (!p.exhausted()) {
      p.run_for(batch);
      ids.push_back(coord.trigger(p));
      rows_at.push_back(out.size());
      coord.drain(p);
      // A whole snapshot of the same state, kept in memory: not part of
      // the chain, and the stages' tracking is not disturbed by it.
      whole_at.push_back(p.checkpoint(1'000'000 + ids.back()).find(record)->bytes.size());
    }
    p.finish();
    CHECK(out == expected);
    CHECK(coord.stats().completed == ids.size());
  }
  checkpoint_store store(dir.path(), 100);
  std::size_t deltas = 0;
  for (std::size_t k = 0; k < ids.size(); ++k) {
    CAPTURE(k);
    const stored_checkpoint cp = store.load(ids[k]);
    const state_record* stage = cp.tasks.at("pipeline").find(record);
    REQUIRE(stage != nullptr);
    // A whole checkpoint, then three deltas on it, each on the one before;
    // a stage writes its whole state instead where most of it changed.
    CHECK(stage->deltas.size() <= k % 4);
    if (!stage->deltas.empty()) {
      CHECK(cp.depends_on.size() >= stage->deltas.size());
      ++deltas;
      CHECK(stage->deltas.back().size() < whole_at[k]);  // only the keys changed since the checkpoint before
    }
    std::vector<Row> out(expected.begin(), expected.begin() + static_cast<std::ptrdiff_t>(rows_at[k]));
    auto q = build(out);
    q.restore(cp.tasks.at("pipeline"));
    q.run();
    CHECK(out == expected);
  }
  CHECK(deltas >= 10);
}

// Two keyed streams for the joins: trades (left) and quotes (right).
struct two_streams {
  std::vector<event> left, right;
  explicit two_streams(std::uint32_t keys) {
    test::stream_options o;
    o.records = 24'000;
    o.keys = keys;
    o.late_fraction = 0;
    o.seed = 1;
    left = test::make_stream(o);
    o.seed = 2;
    right = test::make_stream(o);
  }
  template <class Join, class Row>
  auto joined(Join join, std::vector<Row>& out) const {
    const auto strategy = bounded_out_of_orderness(50ms);
    return connect(from(left) | with_watermarks(&event::ts, strategy) | key_by(&event::key),
                   from(right) | with_watermarks(&event::ts, strategy) | key_by(&event::key)) |
           std::move(join) | collect(out);
  }
};

}  // namespace

TEST_CASE("incremental checkpoints: restoring from any checkpoint of a chain gives the uninterrupted rows") {
  const auto in = events(30'000, 5'000);
  SUBCASE("hopping window (slices of groups)") {
    check_every_link<row>([&](std::vector<row>& out) { return windowed(in, out); }, "window", 1'500);
  }
  SUBCASE("session window (keys in a slot table)") {
    check_every_link<row>(
        [&](std::vector<row>& out) {
          return from(in) | with_watermarks(&event::ts, bounded_out_of_orderness(50ms)) | key_by(&event::key) |
                 session(10s).aggregate(aggregates(sum(&event::value), count())) | collect(out);
        },
        "session_window", 1'500);
  }
  SUBCASE("tumbling window with keyed watermarks") {
    check_every_link<row>(
        [&](std::vector<row>& out) {
          return from(in) | with_watermarks(&event::ts, bounded_out_of_orderness(50ms)) | key_by(&event::key) |
                 tumbling(10s).aggregate(aggregates(sum(&event::value), count())).keyed_watermarks(30ms) |
                 collect(out);
        },
        "keyed_window", 1'500);
  }
}

TEST_CASE("incremental checkpoints: the joins' keyed state restores from any checkpoint of a chain") {
  const two_streams s(20'000);
  SUBCASE("asof join") {
    check_every_link<asof_row<event, event>>([&](auto& out) { return s.joined(asof_join(), out); }, "asof_join",
                                             2'000);
  }
  SUBCASE("temporal join") {
    check_every_link<temporal_row<event, event>>(
        [&](auto& out) { return s.joined(temporal_join().type(join_type::left), out); }, "temporal_join", 2'000);
  }
  SUBCASE("lookup join on a table") {
    check_every_link<lookup_row<event, event>>([&](auto& out) { return s.joined(lookup_join(), out); },
                                               "lookup_table", 2'000);
  }
}

TEST_CASE("incremental checkpoints: a failed delta's changes are written by the next one") {
  const auto in = events(12'000, 20'000);
  std::vector<row> expected;
  {
    auto p = windowed(in, expected);
    p.run();
  }
  test::temp_dir dir("incremental-fault");
  int fail = 0;
  checkpoint_store store(dir.path(), 100, storage_options{.inject_fault = [&](std::string_view) { return fail; }});
  checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max(), .deltas = 100});
  std::vector<row> out;
  auto p = windowed(in, out);
  std::vector<std::uint64_t> good;
  std::size_t rows_at_last = 0;
  for (int batch = 0; !p.exhausted(); ++batch) {
    p.run_for(1'000);
    fail = batch == 3 || batch == 4 ? EIO : 0;  // two deltas in a row fail
    const std::uint64_t id = coord.trigger(p);
    coord.drain(p);
    if (fail == 0) {
      good.push_back(id);
      rows_at_last = out.size();
    }
  }
  CHECK(coord.stats().aborted == 2);
  REQUIRE(good.size() > 5);
  const stored_checkpoint cp = store.load(good.back());
  CHECK(cp.tasks.at("pipeline").find("window")->deltas.size() == good.size() - 1);
  std::vector<row> resumed(expected.begin(), expected.begin() + static_cast<std::ptrdiff_t>(rows_at_last));
  auto q = windowed(in, resumed);
  q.restore(cp.tasks.at("pipeline"));
  q.run();
  CHECK(resumed == expected);
}

TEST_CASE("incremental checkpoints: the store keeps what a retained delta builds on, and drops it with the chain") {
  const auto in = events(10'000, 5'000);
  test::temp_dir dir("incremental-retain");
  checkpoint_store store(dir.path(), 1);
  checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max(), .deltas = 2});
  std::vector<row> out;
  auto p = windowed(in, out);
  std::vector<std::uint64_t> ids;
  for (int k = 0; k < 4; ++k) {
    p.run_for(1'000);
    ids.push_back(coord.trigger(p));
    coord.drain(p);
  }
  // Whole 1, deltas 2 and 3, whole 4: retaining 1 keeps 4 alone.
  CHECK(store.checkpoints() == std::vector<std::uint64_t>{ids[3]});
  p.run_for(1'000);
  ids.push_back(coord.trigger(p));
  coord.drain(p);
  // Delta 5 on 4: 4 stays while 5 is retained.
  CHECK(store.checkpoints() == std::vector<std::uint64_t>{ids[3], ids[4]});
  CHECK(store.load(ids[4]).depends_on == std::vector<std::uint64_t>{ids[3]});
  // A damaged base fails its deltas, naming it.
  fs::remove(dir.path() / checkpoint_store::dir_name(ids[3]) / checkpoint_store::manifest_name);
  CHECK_THROWS_WITH_AS((void)store.load(ids[4]), doctest::Contains("builds on checkpoint"), checkpoint_error);
}

TEST_CASE("incremental checkpoints: a graph's windows recover from a chain of deltas with every row exact") {
  test::stream_options o;
  o.records = 12'000;
  o.keys = 300;
  o.late_fraction = 0;
  const auto in = test::make_stream(o);
  const auto strategy = bounded_out_of_orderness(60ms);
  const auto window = [] { return hopping(4s, 1s).aggregate(aggregates(sum(&event::value), count())); };
  std::vector<row> expected;
  {
    auto p = from(in) | with_watermarks(&event::ts, strategy) | key_by(&event::key) | window() | collect(expected);
    p.run();
  }
  const auto build = [&](graph& g, std::vector<test::message<row>>& trace, bool slow) {
    auto src = g.source("events", from(in) | with_watermarks(&event::ts, strategy) | tap([slow](const event&) {
                                     if (slow) std::this_thread::sleep_for(std::chrono::microseconds(20));
                                   }) | key_by(&event::key));
    g.merge("sink", test::record(trace), g.parallel("windows", src, 2, window()));
  };
  test::temp_dir dir("incremental-graph");
  std::uint64_t last = 0;
  std::vector<test::message<row>> first;
  {
    checkpoint_store store(dir.path(), 10);
    checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max(), .deltas = 3});
    graph g(runtime_options{.workers = 2, .pin = false});
    build(g, first, true);
    coord.attach(g);
    g.start();
    for (int k = 0; k < 3; ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(15));
      last = coord.trigger();
      REQUIRE(coord.wait_for(last));
    }
    g.stop();  // a crash after the third: a whole checkpoint and two deltas
  }
  checkpoint_store store(dir.path(), 10);
  const stored_checkpoint cp = store.load(last);
  CHECK(cp.depends_on.size() == 2);
  CHECK(cp.tasks.at("windows#0").find("windows/window")->deltas.size() == 2);
  std::vector<test::message<row>> second;
  checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
  graph g(runtime_options{.workers = 2, .pin = false});
  build(g, second, false);
  CHECK(coord.recover(g) == last);
  g.start();
  g.wait();
  std::vector<row> got;
  for (const auto& m : first) {
    if (const auto* b = std::get_if<test::barrier_seen>(&m); b != nullptr && b->id == last) break;
    if (const row* r = std::get_if<row>(&m)) got.push_back(*r);
  }
  for (const auto& m : second) {
    if (const row* r = std::get_if<row>(&m)) got.push_back(*r);
  }
  const auto by_end = [](const row& a, const row& b) { return std::tie(a.end, a.key, a.start) < std::tie(b.end, b.key, b.start); };
  std::stable_sort(got.begin(), got.end(), by_end);
  std::stable_sort(expected.begin(), expected.end(), by_end);
  CHECK(got == expected);
}
