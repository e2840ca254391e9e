// Rescaling: a graph checkpoint taken with N instances of a keyed node
// restores into M instances, its keyed state moved by key group. Keyed
// windows (sliced: hopping; key-major: sessions) and a user's keyed
// operator, checkpointed with 2 instances and restored with 1, 3 and 4,
// give the rows of a run that never stopped; a node whose state is not
// split by key group refuses, naming its stage.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <laminar/checkpoint.hpp>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

#include "checkpoint/temp_dir.hpp"
#include "support/event_stream.hpp"
#include "support/keep_last.hpp"
#include "support/keyed_sum.hpp"
#include "support/recording_sink.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using laminar::test::event;

namespace {

using row = window_row<std::uint32_t, std::tuple<std::int64_t, std::int64_t>>;


std::vector<row> sorted(std::vector<row> rows) {
  std::stable_sort(rows.begin(), rows.end(),
                   [](const row& a, const row& b) { return std::tie(a.end, a.key, a.start) < std::tie(b.end, b.key, b.start); });
  return rows;
}

// The rows a sink saw before the barrier of checkpoint `id` (all of them
// for id 0).
std::vector<row> rows_before(const std::vector<test::message<row>>& trace, std::uint64_t id) {
  std::vector<row> out;
  for (const auto& m : trace) {
    if (const auto* b = std::get_if<test::barrier_seen>(&m); b != nullptr && b->id == id) break;
    if (const row* r = std::get_if<row>(&m)) out.push_back(*r);
  }
  return out;
}

}  // namespace

TEST_CASE("rescaling: keyed windows checkpointed with 2 instances restore into 1, 3 and 4 with every row exact") {
  const auto stream = [](std::uint32_t keys) {
    test::stream_options o;
    o.records = 12'000;
    o.keys = keys;
    o.late_fraction = 0;  // lateness is the window tests' subject, not this one's
    return test::make_stream(o);
  };
  const auto strategy = bounded_out_of_orderness(60ms);
  // With deltas: a whole checkpoint and two incremental ones, each saved
  // instance's chain applied before its keys are split (many keys, few
  // changed between checkpoints, long windows: deltas, not whole states).
  for (const auto& [sessions, deltas] : {std::pair{false, 0UL}, std::pair{true, 0UL}, std::pair{false, 2UL},
                                         std::pair{true, 2UL}}) {
    CAPTURE(sessions);
    CAPTURE(deltas);
    const auto in = stream(deltas == 0 ? 200 : 4'000);
    const auto hop_window = [deltas] {
      return deltas == 0 ? hopping(60ms, 20ms).aggregate(aggregates(sum(&event::value), count()))
                         : hopping(4s, 1s).aggregate(aggregates(sum(&event::value), count()));
    };
    const auto gap_window = [deltas] {
      return session(deltas == 0 ? 30ms : 3s).aggregate(aggregates(sum(&event::value), count()));
    };
    std::vector<row> expected;
    {
      auto src = from(in) | with_watermarks(&event::ts, strategy) | key_by(&event::key);
      if (sessions) {
        auto p = std::move(src) | gap_window() | collect(expected);
        p.run();
      } else {
        auto p = std::move(src) | hop_window() | collect(expected);
        p.run();
      }
    }
    REQUIRE(expected.size() > 1000);
    const auto build = [&](graph& g, std::size_t instances, std::vector<test::message<row>>& trace, bool slow) {
      auto src = g.source("events", from(in) | with_watermarks(&event::ts, strategy) | tap([slow](const event&) {
                                       if (slow) std::this_thread::sleep_for(std::chrono::microseconds(20));
                                     }) | key_by(&event::key));
      if (sessions) {
        g.merge("sink", test::record(trace), g.parallel("windows", src, instances, gap_window()));
      } else {
        g.merge("sink", test::record(trace), g.parallel("windows", src, instances, hop_window()));
      }
    };
    for (const std::size_t m : deltas == 0 ? std::vector<std::size_t>{1, 3, 4} : std::vector<std::size_t>{3}) {
      CAPTURE(m);
      test::temp_dir dir("rescale-windows");
      std::uint64_t taken = 0;
      std::vector<test::message<row>> first;
      {
        checkpoint_store store(dir.path());
        checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max(), .deltas = deltas});
        graph g(runtime_options{.workers = 2, .pin = false});
        build(g, 2, first, true);
        coord.attach(g);
        g.start();
        for (std::size_t k = 0; k <= deltas; ++k) {
          std::this_thread::sleep_for(std::chrono::milliseconds(deltas == 0 ? 30 : 12));
          taken = coord.trigger();
          REQUIRE(coord.wait_for(taken));
        }
        if (deltas != 0) CHECK(store.load(taken).depends_on.size() == deltas);  // the windows wrote a chain
        g.stop();  // a crash, some way past the checkpoint
      }
      std::vector<test::message<row>> second;
      checkpoint_store store(dir.path());
      checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
      graph g(runtime_options{.workers = 2, .pin = false});
      build(g, m, second, false);
      CHECK(coord.recover(g) == taken);
      g.start();
      g.wait();
      std::vector<row> got = rows_before(first, taken);
      REQUIRE(got.size() < expected.size());  // the checkpoint came before the end
      const std::vector<row> after = rows_before(second, 0);
      got.insert(got.end(), after.begin(), after.end());
      CHECK(sorted(got) == sorted(expected));
    }
  }
}

TEST_CASE("rescaling: a user's keyed operator that filters and merges by key group moves with its keys") {
  test::stream_options o;
  o.records = 20'000;
  o.keys = 97;
  const auto in = test::make_stream(o);
  std::map<std::uint64_t, std::int64_t> expected;
  for (const auto& e : in) expected[e.key] += e.value;
  for (const auto& [n, m] : {std::pair{3UL, 2UL}, std::pair{1UL, 4UL}}) {
    CAPTURE(n);
    CAPTURE(m);
    test::temp_dir dir("rescale-user");
    std::mutex mu;
    std::map<std::uint64_t, std::int64_t> last;
    const auto build = [&](graph& g, std::size_t instances, bool slow) {
      auto src = g.source("events", from(in) | map([slow](event e) {
                                       if (slow) std::this_thread::sleep_for(std::chrono::microseconds(10));
                                       return e;
                                     }) | key_by(&event::key));
      g.merge("sink", sink([&](const test::key_total& t) {
                std::lock_guard<std::mutex> lock(mu);
                last[t.key] = t.total;
              }),
              g.parallel("sum", src, instances, test::keyed_sum(&event::value)));
    };
    std::uint64_t taken = 0;
    {
      checkpoint_store store(dir.path());
      checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
      graph g(runtime_options{.workers = 2, .pin = false});
      build(g, n, true);
      coord.attach(g);
      g.start();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      taken = coord.trigger();
      REQUIRE(coord.wait_for(taken));
      g.stop();
    }
    last.clear();
    checkpoint_store store(dir.path());
    checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
    graph g(runtime_options{.workers = 2, .pin = false});
    build(g, m, false);
    CHECK(coord.recover(g) == taken);
    g.start();
    g.wait();
    CHECK(last == expected);
  }
}

TEST_CASE("rescaling: a node whose state is not split by key group refuses, naming the stage") {
  const auto in = test::make_stream(test::stream_options{});
  test::temp_dir dir("rescale-refused");
  // A feed: open until the checkpoint is taken, so its barrier always lands.
  const auto build = [&](graph& g, push_feed<event>& feed, std::size_t instances) {
    auto src = g.source("events", feed.source() | key_by(&event::key));
    g.merge("sink", sink([](const event&) {}), g.parallel("last", src, instances, test::keep_last()));
  };
  {
    checkpoint_store store(dir.path());
    checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
    push_feed<event> feed(64);
    graph g(runtime_options{.workers = 1, .pin = false});
    build(g, feed, 2);
    coord.attach(g);
    g.start();
    for (std::size_t i = 0; i < 100; ++i) feed.push(in[i]);
    REQUIRE(coord.wait_for(coord.trigger()));
    feed.close();
    g.wait();
  }
  checkpoint_store store(dir.path());
  checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
  push_feed<event> feed(64);
  feed.close();
  graph g(runtime_options{.workers = 1, .pin = false});
  build(g, feed, 3);
  coord.recover(g);
  std::string what;
  try {
    g.start();
    g.wait();
  } catch (const std::exception& e) {
    what = e.what();
  }
  CHECK(what.find("'last/keep_last'") != std::string::npos);
  CHECK(what.find("cannot be restored into another number of instances") != std::string::npos);
}

namespace {

// A row's place in a canonical order: its left and right records' arrival
// numbers (none last).
std::uint64_t seq_of(const event& e) { return e.seq; }
std::uint64_t seq_of(const std::optional<event>& e) { return e ? e->seq : ~std::uint64_t{0}; }
template <class L, class R>
std::pair<std::uint64_t, std::uint64_t> order_of(const joined_row<L, R>& r) {
  return {seq_of(r.left), seq_of(r.right)};
}

// A join node checkpointed with 2 instances restores into 1 and 3 with
// every row exact; make_join() is the join operator. With `deltas`, the
// first run takes that many incremental checkpoints after a whole one, and
// the rescaled restore reads the chain.
template <class Row, class MakeJoin>
void check_join_rescaling(MakeJoin make_join, std::size_t deltas = 0) {
  using jrow = Row;
  const auto stream = [deltas](std::uint64_t seed) {
    test::stream_options o;
    o.seed = seed;
    o.records = 8'000;
    o.keys = deltas == 0 ? 60 : 3'000;  // a delta where few keys changed
    o.late_fraction = 0;
    return test::make_stream(o);
  };
  const auto trades = stream(1), quotes = stream(2);
  const auto strategy = bounded_out_of_orderness(60ms);
  const auto in_order = [](const jrow& a, const jrow& b) { return order_of(a) < order_of(b); };
  std::vector<jrow> expected;
  {
    auto p = connect(from(trades) | with_watermarks(&event::ts, strategy) | key_by(&event::key),
                     from(quotes) | with_watermarks(&event::ts, strategy) | key_by(&event::key)) |
             make_join() | collect(expected);
    p.run();
  }
  std::sort(expected.begin(), expected.end(), in_order);
  REQUIRE(expected.size() >= trades.size() / 2);
  // One side slowed: the join holds the other side's records, read ahead,
  // when the checkpoint's barrier reaches it (they are saved with it).
  const auto build = [&](graph& g, std::size_t instances, std::vector<test::message<jrow>>& trace, int slow) {
    const auto pace = [](bool on) {
      return tap([on](const event&) {
        if (on) std::this_thread::sleep_for(std::chrono::microseconds(20));
      });
    };
    auto t = g.source("trades", from(trades) | with_watermarks(&event::ts, strategy) | pace(slow == 1) | key_by(&event::key));
    auto q = g.source("quotes", from(quotes) | with_watermarks(&event::ts, strategy) | pace(slow == 2) | key_by(&event::key));
    g.merge("sink", test::record(trace), g.join("join", t, q, instances, make_join()));
  };
  for (const auto& [m, slow] : {std::pair{1UL, 1}, std::pair{3UL, 1}, std::pair{3UL, 2}, std::pair{1UL, 2}}) {
    CAPTURE(m);
    CAPTURE(slow);
    test::temp_dir dir("rescale-join");
    std::uint64_t taken = 0;
    std::vector<test::message<jrow>> first;
    {
      checkpoint_store store(dir.path());
      checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max(), .deltas = deltas});
      graph g(runtime_options{.workers = 2, .pin = false});
      build(g, 2, first, slow);
      coord.attach(g);
      g.start();
      for (std::size_t k = 0; k <= deltas; ++k) {
        std::this_thread::sleep_for(std::chrono::milliseconds(deltas == 0 ? 30 : 12));
        taken = coord.trigger();
        REQUIRE(coord.wait_for(taken));
      }
      // Under load (a sanitizer, a busy machine) every key may change
      // between two checkpoints, and each capture is whole: go on until the
      // chain forms (once the inputs end, nothing changes).
      for (int more = 0; deltas != 0 && more < 400 && store.load(taken).depends_on.size() != deltas; ++more) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const std::uint64_t next = coord.trigger();
        if (!coord.wait_for(next, std::chrono::seconds(2))) break;  // the graph has ended
        taken = next;
      }
      if (deltas != 0) CHECK(store.load(taken).depends_on.size() == deltas);  // the join wrote a chain
      g.stop();
    }
    std::vector<test::message<jrow>> second;
    checkpoint_store store(dir.path());
    checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
    graph g(runtime_options{.workers = 2, .pin = false});
    build(g, m, second, 0);
    CHECK(coord.recover(g) == taken);
    g.start();
    g.wait();
    std::vector<jrow> got;
    for (const auto& msg : first) {
      if (const auto* b = std::get_if<test::barrier_seen>(&msg); b != nullptr && b->id == taken) break;
      if (const jrow* r = std::get_if<jrow>(&msg)) got.push_back(*r);
    }
    REQUIRE(got.size() < expected.size());
    for (const auto& msg : second) {
      if (const jrow* r = std::get_if<jrow>(&msg)) got.push_back(*r);
    }
    std::sort(got.begin(), got.end(), in_order);
    CHECK(got == expected);
  }
}

}  // namespace

TEST_CASE("rescaling: an ASOF join checkpointed with 2 instances restores into 1 and 3 with every row exact") {
  check_join_rescaling<asof_row<event, event>>([] { return asof_join(); });
}

TEST_CASE("rescaling: a temporal join checkpointed with 2 instances restores into 1 and 3 with every row exact") {
  check_join_rescaling<temporal_row<event, event>>([] { return temporal_join().type(join_type::left); });
}

TEST_CASE("rescaling: an interval join's held records and expiry queues move with their keys") {
  // Full outer: a record's expiry (rebuilt for the keys' new slots) emits
  // its unmatched row, so a wrong queue shows in the rows.
  check_join_rescaling<interval_row<event, event>>(
      [] { return interval_join(-20ms, 10ms).type(join_type::full); });
}

TEST_CASE("rescaling: a lookup join's table moves with its keys") {
  check_join_rescaling<lookup_row<event, event>>([] { return lookup_join(); });
}

TEST_CASE("rescaling: a join restores into another instance count from a chain of incremental checkpoints") {
  // Each saved instance's chain is applied before its keys are split.
  check_join_rescaling<asof_row<event, event>>([] { return asof_join(); }, 2);
  check_join_rescaling<lookup_row<event, event>>([] { return lookup_join(); }, 2);
}
