// The logged feed: records pushed into a pipeline or a graph are logged
// before it sees them; a crash after a checkpoint is recovered by replaying
// the log from the checkpoint's position, so every record counts once; a
// completed checkpoint drops the log it covers; each durability policy
// hands records over when they are durable; a log that cannot serve the
// restored position says so.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <laminar/checkpoint.hpp>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/temp_dir.hpp"
#include "support/event_stream.hpp"
#include "support/keyed_sum.hpp"

using namespace laminar;

namespace {

std::vector<test::event> events(std::size_t n) {
  test::stream_options o;
  o.records = n;
  o.keys = 20;
  return test::make_stream(o);
}

std::map<std::uint64_t, std::int64_t> reference_totals(const std::vector<test::event>& in) {
  std::map<std::uint64_t, std::int64_t> out;
  for (const auto& e : in) out[e.key] += e.value;
  return out;
}

template <class Feed>
auto keyed_totals(Feed& feed, std::map<std::uint64_t, std::int64_t>& last) {
  return feed.source() | key_by(&test::event::key) | test::keyed_sum(&test::event::value) |
         sink([&last](const test::key_total& t) { last[t.key] = t.total; });
}

// Runs `p` until it has read `n` records in all (it reads what was pushed).
template <class P>
void read_until(P& p, std::uint64_t n) {
  while (p.source().position() < n) p.run_for(std::min<std::uint64_t>(64, n - p.source().position()));
}

logged_feed_options small_segments(wal_durability d = wal_durability::every_batch) {
  logged_feed_options o;
  o.log.durability = d;
  o.log.segment_bytes = 4096;  // many segments, so that dropping them shows
  o.retained = 1;
  return o;
}

}  // namespace

TEST_CASE("logged feed: a pipeline that crashes after a checkpoint replays the log and counts every record once") {
  const auto in = events(3'000);
  test::temp_dir dir("logged-pipeline");
  const auto log_dir = dir.path() / "wal";
  std::uint64_t taken = 0;
  {
    checkpoint_store store(dir.path() / "chk", 2);
    checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
    logged_feed<test::event> feed(log_dir, small_segments());
    std::map<std::uint64_t, std::int64_t> last;
    auto p = keyed_totals(feed, last);
    for (std::size_t i = 0; i < 2'000; ++i) feed.push(in[i]);
    feed.commit();
    read_until(p, 1'200);
    taken = coord.trigger(p);
    coord.drain(p);
    CHECK(coord.stats().completed == 1);
    read_until(p, 1'700);
    // A crash: 500 records past the checkpoint were counted and are lost
    // with the pipeline; 300 more were logged and never read.
  }
  checkpoint_store store(dir.path() / "chk", 2);
  checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
  logged_feed<test::event> feed(log_dir, small_segments());
  CHECK(feed.last_seq() == 2'000);
  std::map<std::uint64_t, std::int64_t> last;
  auto p = keyed_totals(feed, last);
  CHECK(coord.recover(p) == taken);
  CHECK(p.source().position() == 1'200);
  read_until(p, 2'000);  // the replay: records 1201..2000 from the log
  for (std::size_t i = 2'000; i < in.size(); ++i) feed.push(in[i]);
  feed.close();
  p.run();
  CHECK(p.source().position() == in.size());
  CHECK(last == reference_totals(in));
}

TEST_CASE("logged feed: a completed checkpoint drops the segments it covers; an unrestored start then refuses") {
  const auto in = events(2'000);
  test::temp_dir dir("logged-truncate");
  const auto log_dir = dir.path() / "wal";
  checkpoint_store store(dir.path() / "chk", 1);
  std::size_t before = 0;
  {
    checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
    logged_feed<test::event> feed(log_dir, small_segments());
    std::map<std::uint64_t, std::int64_t> last;
    auto p = keyed_totals(feed, last);
    for (std::size_t i = 0; i < 1'500; ++i) {
      feed.push(in[i]);
      if (i % 100 == 99) feed.commit();  // a segment holds about 4096 bytes
    }
    feed.commit();
    before = feed.segments();
    REQUIRE(before > 5);
    read_until(p, 1'500);
    coord.trigger(p);
    coord.drain(p);
    // The source asked; the pusher drops the covered segments at its next call.
    CHECK(feed.segments() == before);
    feed.push(in[1'500]);
    feed.commit();
    CHECK(feed.segments() < before);
    CHECK(feed.segments() <= 2);
  }
  // The log now begins after record 1'500: a source that is not restored
  // from the checkpoint that covers the rest cannot start.
  logged_feed<test::event> feed(log_dir, small_segments());
  std::map<std::uint64_t, std::int64_t> last;
  auto fresh = keyed_totals(feed, last);
  CHECK_THROWS_WITH_AS(fresh.run_for(10), doctest::Contains("restore the graph from it"), checkpoint_error);
}

TEST_CASE("logged feed: a restored position past the end of the log is refused, naming the log") {
  test::temp_dir dir("logged-lost");
  const auto in = events(100);
  {
    checkpoint_store store(dir.path() / "chk");
    checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
    logged_feed<test::event> feed(dir.path() / "wal", small_segments());
    std::map<std::uint64_t, std::int64_t> last;
    auto p = keyed_totals(feed, last);
    for (const auto& e : in) feed.push(e);
    feed.commit();
    read_until(p, in.size());
    coord.trigger(p);
    coord.drain(p);
  }
  std::filesystem::remove_all(dir.path() / "wal");  // the log is lost
  checkpoint_store store(dir.path() / "chk");
  checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
  logged_feed<test::event> feed(dir.path() / "wal", small_segments());
  std::map<std::uint64_t, std::int64_t> last;
  auto p = keyed_totals(feed, last);
  CHECK_THROWS_WITH_AS(coord.recover(p), doctest::Contains("the log ends at record 0"), checkpoint_error);
}

TEST_CASE("logged feed: each durability policy hands a record to the graph only once it is durable") {
  const auto in = events(10);
  SUBCASE("every_record: at once") {
    test::temp_dir dir("logged-every-record");
    logged_feed<test::event> feed(dir.path(), small_segments(wal_durability::every_record));
    std::map<std::uint64_t, std::int64_t> last;
    auto p = keyed_totals(feed, last);
    feed.push(in[0]);
    CHECK(feed.durable_seq() == 1);
    CHECK(p.run_for(10) == 1);
  }
  SUBCASE("every_batch: at commit()") {
    test::temp_dir dir("logged-every-batch");
    logged_feed<test::event> feed(dir.path(), small_segments(wal_durability::every_batch));
    std::map<std::uint64_t, std::int64_t> last;
    auto p = keyed_totals(feed, last);
    for (int i = 0; i < 3; ++i) feed.push(in[static_cast<std::size_t>(i)]);
    CHECK(feed.durable_seq() == 0);
    CHECK(p.run_for(10) == 0);
    feed.commit();
    CHECK(feed.durable_seq() == 3);
    CHECK(p.run_for(10) == 3);
  }
  SUBCASE("interval: at the first push after it") {
    test::temp_dir dir("logged-interval");
    auto o = small_segments(wal_durability::interval);
    o.log.interval = std::chrono::milliseconds(20);
    logged_feed<test::event> feed(dir.path(), o);
    std::map<std::uint64_t, std::int64_t> last;
    auto p = keyed_totals(feed, last);
    feed.push(in[0]);
    feed.push(in[1]);
    CHECK(p.run_for(10) == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    feed.push(in[2]);
    CHECK(feed.durable_seq() == 3);
    CHECK(p.run_for(10) == 3);
  }
}

TEST_CASE("logged feed: a graph fed by a thread, stopped after a checkpoint, recovers with every record once") {
  const auto in = events(20'000);
  test::temp_dir dir("logged-graph");
  std::mutex mu;
  std::map<std::uint64_t, std::int64_t> last;
  const auto build = [&](graph& g, logged_feed<test::event>& feed) {
    auto src = g.source("ticks", feed.source() | key_by(&test::event::key));
    auto sums = g.parallel("sum", src, 2, test::keyed_sum(&test::event::value));
    g.merge("sink", sink([&](const test::key_total& t) {
              std::lock_guard<std::mutex> lock(mu);
              last[t.key] = t.total;
            }),
            sums);
  };
  logged_feed_options o;
  o.log.segment_bytes = 64 << 10;
  std::uint64_t taken = 0;
  {
    checkpoint_store store(dir.path() / "chk", 2);
    logged_feed<test::event> feed(dir.path() / "wal", o);
    graph g(runtime_options{.workers = 2, .pin = false});
    build(g, feed);
    checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
    coord.attach(g);
    g.start();
    for (std::size_t i = 0; i < 12'000; ++i) {
      feed.push(in[i]);
      if (i % 64 == 63) feed.commit();
      if (i == 6'000) taken = coord.trigger();
    }
    feed.commit();
    REQUIRE(coord.wait_for(taken));
    g.stop();  // a crash: what the graph read after the checkpoint is lost
  }
  last.clear();
  checkpoint_store store(dir.path() / "chk", 2);
  logged_feed<test::event> feed(dir.path() / "wal", o);
  graph g(runtime_options{.workers = 2, .pin = false});
  build(g, feed);
  checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
  CHECK(coord.recover(g) == taken);
  coord.attach(g);
  g.start();
  std::thread pusher([&] {
    for (std::size_t i = 12'000; i < in.size(); ++i) {
      feed.push(in[i]);
      if (i % 64 == 63) feed.commit();
    }
    feed.close();
  });
  pusher.join();
  g.wait();
  CHECK(last == reference_totals(in));
}
