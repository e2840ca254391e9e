// The Kafka source against librdkafka's mock cluster (in process, over
// 127.0.0.1; every wait bounded): every partition without a group, with
// dead letters naming partition and offset; each start position; a
// checkpoint restoring the offsets exactly and, once complete, committing
// them to the group; a pipeline held back longer than max.poll.interval.ms
// without eviction or loss; configuration and topic errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <laminar/connector/kafka/source.hpp>
#include <laminar/laminar.hpp>
#include <laminar/serde/json.hpp>
#include <map>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <librdkafka/rdkafka_mock.h>  // after rdkafka.h (the source's)

#include "serde/records.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using serde_test::order;

namespace {

order make_order(std::uint32_t i) {
  order o;
  o.sym = "S" + std::to_string(i % 7);
  o.at = {static_cast<double>(i) / 8, static_cast<std::int64_t>(i)};
  o.ts = timestamp::from_nanos(static_cast<std::int64_t>(i) * 1'000'000);
  o.venue = i;
  return o;
}

/// A mock cluster of one broker, with the producer that holds it.
struct mock_kafka {
  detail::kafka_handle producer;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  std::string bootstrap;

  mock_kafka() {
    producer = detail::make_kafka_client(
        RD_KAFKA_PRODUCER, detail::make_kafka_conf({{"test.mock.num.brokers", "1"}, {"log_level", "3"}}, "mock"), "mock");
    cluster = rd_kafka_handle_mock_cluster(producer.get());
    bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
  }
  void topic(const std::string& name, int partitions) const {
    REQUIRE(rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void produce(const std::string& topic, std::int32_t partition, const std::string& value, std::int64_t ts_ms = 0) {
    REQUIRE(detail::kafka_produce(producer.get(), topic, partition, value, ts_ms) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void flush() const { REQUIRE(rd_kafka_flush(producer.get(), 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR); }
  kafka_source_options options(const std::string& topic, const std::string& group = {}) const {
    kafka_source_options o;
    o.bootstrap_servers = bootstrap;
    o.topic = topic;
    o.group_id = group;
    // The mock coordinator waits out a departed member's session before a
    // new member joins: short sessions keep the tests short (but longer
    // than the 3 s it waits for members before the first assignment).
    o.properties = {{"log_level", "3"}, {"session.timeout.ms", "4000"}, {"heartbeat.interval.ms", "500"}};
    return o;
  }
};

std::string json_of(std::uint32_t i) {
  std::string line;
  json_codec<order>{}.encode(make_order(i), line);
  line.pop_back();
  return line;
}

/// Drives a pipeline until done() or the deadline.
template <class P, class Done>
void drive(P& p, Done done, std::chrono::seconds limit = 20s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done() && !p.exhausted() && std::chrono::steady_clock::now() < until) {
    if (p.run_for(4096) == 0) std::this_thread::sleep_for(200us);
  }
}

}  // namespace

TEST_CASE("kafka: every partition without a group, in order per partition; bad messages are dead letters") {
  mock_kafka kafka;
  kafka.topic("orders", 3);
  std::map<std::int32_t, std::vector<std::uint32_t>> produced;
  for (std::uint32_t i = 0; i < 600; ++i) {
    const auto p = static_cast<std::int32_t>(i % 3);
    if (i == 100 || i == 401) {
      kafka.produce("orders", p, "{not json " + std::to_string(i) + "}");
      continue;
    }
    kafka.produce("orders", p, json_of(i));
    produced[p].push_back(i);
  }
  kafka.flush();

  side_records<dead_letter> bad;
  std::map<std::int32_t, std::vector<std::uint32_t>> got;
  std::size_t n = 0;
  auto p = from_kafka(kafka.options("orders"), json_codec<order>{}).dead_letters_to(bad) |
           sink([&](const order& o) {
             got[static_cast<std::int32_t>(o.venue % 3)].push_back(o.venue);
             ++n;
           });
  drive(p, [&] { return n == 598 && bad.count() == 2; });
  CHECK(got == produced);
  REQUIRE(bad.count() == 2);
  // Partitions interleave in no set order: each letter found by its bytes.
  std::vector<dead_letter> letters = bad.records();
  std::sort(letters.begin(), letters.end(), [](const dead_letter& a, const dead_letter& b) { return a.raw < b.raw; });
  CHECK(letters[0].raw == "{not json 100}");
  CHECK(letters[0].source == "kafka orders[1]");  // message 100: partition 1, its 34th
  CHECK(letters[0].offset == 33);
  CHECK(letters[0].record == 34);
  CHECK(letters[0].message().rfind("kafka orders[1]: record 34 (byte offset 33): ", 0) == 0);
  CHECK(letters[1].raw == "{not json 401}");
  CHECK(letters[1].source == "kafka orders[2]");
  CHECK(letters[1].offset == 133);
  CHECK(p.source().records() == 598);
  CHECK(p.source().positions() == detail::kafka_offsets{{0, 200}, {1, 200}, {2, 200}});

  // Failing fast, the first bad message stops the stream with its place.
  auto q = from_kafka(kafka.options("orders"), json_codec<order>{}) | sink([](const order&) {});
  std::string what;
  try {
    drive(q, [] { return false; });
  } catch (const kafka_error& e) {
    what = e.what();
  }
  CHECK((what.find("kafka orders[1]: record 34 (byte offset 33)") != std::string::npos ||
         what.find("kafka orders[2]: record 134 (byte offset 133)") != std::string::npos));
}

TEST_CASE("kafka: start positions: earliest, the first message at a time, latest, the group's committed offsets") {
  mock_kafka kafka;
  kafka.topic("ticks", 1);
  for (std::uint32_t i = 0; i < 100; ++i) kafka.produce("ticks", 0, json_of(i), 1'000'000 + i * 10);
  kafka.flush();
  const auto read_from = [&](kafka_source_options o, std::size_t expect, auto&& before_end) {
    std::vector<std::uint32_t> got;
    std::stop_source stop;
    auto p = from_kafka(std::move(o), json_codec<order>{}).until(stop.get_token()) |
             sink([&](const order& r) { got.push_back(r.venue); });
    before_end(p);
    drive(p, [&] { return got.size() >= expect; });
    stop.request_stop();
    drive(p, [] { return false; }, 5s);  // to the end: nothing more arrives
    return got;
  };
  const auto nothing = [](auto&) {};
  std::vector<std::uint32_t> all(100);
  for (std::uint32_t i = 0; i < 100; ++i) all[i] = i;

  kafka_source_options earliest = kafka.options("ticks");
  earliest.start = kafka_start::earliest;
  CHECK(read_from(earliest, 100, nothing) == all);

  // A time: librdkafka 2.0.2's mock broker answers every offset-for-time
  // request with the end of the partition (-1), so what the mock can show
  // is that the request is made and its answer taken: a time past the
  // last message starts at the end, like latest.
  kafka_source_options at_time = kafka.options("ticks");
  at_time.start = kafka_start::timestamp;
  at_time.start_time = timestamp::from_nanos((1'000'000 + 40 * 10 - 5) * 1'000'000LL);  // between 39 and 40
  CHECK(read_from(at_time, 0, [](auto& p) { drive(p, [] { return false; }, 2s); }).empty());

  // Latest: none of the messages there before; those produced while it
  // reads, in order.
  {
    kafka_source_options latest = kafka.options("ticks", "latest-group");
    latest.start = kafka_start::latest;
    std::atomic<bool> producing{true};
    std::thread producer([&] {
      for (std::uint32_t i = 1'000; producing.load() && i < 3'000; ++i) {
        kafka.produce("ticks", 0, json_of(i));
        kafka.flush();
        std::this_thread::sleep_for(5ms);
      }
    });
    std::vector<std::uint32_t> got;
    std::stop_source stop;
    auto p = from_kafka(latest, json_codec<order>{}).until(stop.get_token()) |
             sink([&](const order& r) { got.push_back(r.venue); });
    drive(p, [&] { return got.size() >= 20; });
    producing = false;
    producer.join();
    stop.request_stop();
    drive(p, [] { return false; }, 5s);
    REQUIRE(got.size() >= 20);
    CHECK(got.front() > 1'000);  // not from the start: the messages before it started are skipped
    for (std::size_t i = 1; i < got.size(); ++i) CHECK(got[i] == got[i - 1] + 1);
  }
  for (std::uint32_t i = 100; i < 110; ++i) kafka.produce("ticks", 0, json_of(i));
  kafka.flush();

  // Committed: a checkpoint that completes commits its offsets to the
  // group; a source of that group without a checkpoint starts there.
  {
    std::vector<std::uint32_t> got;
    std::stop_source stop;
    auto p = from_kafka(kafka.options("ticks", "bars"), json_codec<order>{}).until(stop.get_token()) |
             sink([&](const order& r) { got.push_back(r.venue); });
    drive(p, [&] { return !got.empty() && got.back() == 109; });
    REQUIRE(got.size() >= 110);
    (void)p.checkpoint(1);
    p.checkpoint_complete(1);
    drive(p, [&] { return p.source().commits() >= 1; }, 5s);
    CHECK(p.source().commits() == 1);
    std::this_thread::sleep_for(200ms);  // the asynchronous commit reaches the broker
    stop.request_stop();
    drive(p, [] { return false; }, 5s);
  }
  for (std::uint32_t i = 110; i < 120; ++i) kafka.produce("ticks", 0, json_of(i));
  kafka.flush();
  CHECK(read_from(kafka.options("ticks", "bars"), 10, nothing) ==
        std::vector<std::uint32_t>{110, 111, 112, 113, 114, 115, 116, 117, 118, 119});
}

TEST_CASE("kafka: a checkpoint restores every partition's offset exactly") {
  mock_kafka kafka;
  kafka.topic("fills", 4);
  std::vector<std::uint32_t> expected;
  for (std::uint32_t i = 0; i < 2'000; ++i) {
    kafka.produce("fills", static_cast<std::int32_t>(i % 4), json_of(i));
    expected.push_back(i);
  }
  kafka.flush();
  for (const std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{777}, std::size_t{2'000}}) {
    CAPTURE(cut);
    // Exactly `cut` records, one run_for(1) at a time, then the checkpoint.
    std::vector<std::uint32_t> before;
    auto q = from_kafka(kafka.options("fills"), json_codec<order>{}) |
             sink([&](const order& o) { before.push_back(o.venue); });
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (before.size() < cut && std::chrono::steady_clock::now() < deadline) {
      if (q.run_for(1) == 0) std::this_thread::sleep_for(200us);
    }
    REQUIRE(before.size() == cut);
    const snapshot s = q.checkpoint(1);

    std::stop_source stop;
    std::vector<std::uint32_t> rest;
    auto r = from_kafka(kafka.options("fills"), json_codec<order>{}).until(stop.get_token()) |
             sink([&](const order& o) { rest.push_back(o.venue); });
    r.restore(s);
    drive(r, [&] { return before.size() + rest.size() >= expected.size(); });
    stop.request_stop();
    drive(r, [] { return false; }, 5s);
    std::vector<std::uint32_t> all = before;
    all.insert(all.end(), rest.begin(), rest.end());
    std::sort(all.begin(), all.end());
    CHECK(all == expected);  // each once: nothing lost, nothing twice
  }
}

TEST_CASE("kafka: a pipeline held back longer than max.poll.interval.ms: partitions paused, no eviction, no loss") {
  mock_kafka kafka;
  kafka.topic("burst", 2);
  for (std::uint32_t i = 0; i < 4'000; ++i) kafka.produce("burst", static_cast<std::int32_t>(i % 2), json_of(i));
  kafka.flush();
  kafka_source_options o = kafka.options("burst", "slow");
  o.chunk_bytes = 16384;  // about 100 messages a chunk
  o.max_chunks = 2;
  o.properties.emplace_back("max.poll.interval.ms", "4000");
  std::vector<std::uint32_t> got;
  std::stop_source stop;
  auto p = from_kafka(o, json_codec<order>{}).until(stop.get_token()) |
           sink([&](const order& r) { got.push_back(r.venue); });
  drive(p, [&] { return !got.empty(); });
  std::this_thread::sleep_for(6s);  // the worker does nothing: well past max.poll.interval.ms
  drive(p, [&] { return got.size() >= 4'000; }, 60s);
  CHECK(p.source().pauses() >= 1);
  CHECK(p.source().rebalances() == 1);  // assigned once, never evicted
  std::sort(got.begin(), got.end());
  got.erase(std::unique(got.begin(), got.end()), got.end());
  CHECK(got.size() == 4'000);
  stop.request_stop();
  drive(p, [] { return false; }, 5s);
}

TEST_CASE("kafka: settings and topics that cannot work are clear errors") {
  mock_kafka kafka;
  kafka_source_options bad = kafka.options("t");
  bad.properties.emplace_back("fetch.wait.max.ms", "soon");
  CHECK_THROWS_WITH_AS(from_kafka(bad, json_codec<order>{}), doctest::Contains("fetch.wait.max.ms=soon is refused"),
                       kafka_error);
  CHECK_THROWS_AS(from_kafka(kafka_source_options{}, json_codec<order>{}), usage_error);
  // A broker that does not answer: the stream ends with an error that
  // says what failed. (The mock broker creates any topic asked about, so
  // a missing topic cannot be shown here.)
  kafka_source_options dead = kafka.options("t");
  dead.bootstrap_servers = "127.0.0.1:1";
  dead.request_timeout = 1s;
  auto p = from_kafka(dead, json_codec<order>{}) | sink([](const order&) {});
  CHECK_THROWS_WITH_AS(drive(p, [] { return false; }),
                       doctest::Contains("kafka source 't': reading the topic's metadata failed"), kafka_error);
}

TEST_CASE("kafka: in a graph, a completed checkpoint commits the source's offsets; a new member starts there") {
  mock_kafka kafka;
  kafka.topic("fills", 2);
  for (std::uint32_t i = 0; i < 200; ++i) kafka.produce("fills", static_cast<std::int32_t>(i % 2), json_of(i));
  kafka.flush();
  std::atomic<std::size_t> n{0};
  std::stop_source stop;
  graph g(runtime_options{.workers = 2});
  auto in = g.source("fills", from_kafka(kafka.options("fills", "graph-group"), json_codec<order>{}).until(stop.get_token()));
  g.node("count", in, sink([&](const order&) { ++n; }));
  g.start();
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (n.load() < 200 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  REQUIRE(n.load() == 200);
  const std::uint64_t id = g.checkpoint();
  while (!g.completed_checkpoint(id) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  REQUIRE(g.completed_checkpoint(id));
  std::this_thread::sleep_for(500ms);  // the I/O thread sends the commit
  stop.request_stop();
  g.wait();

  for (std::uint32_t i = 200; i < 210; ++i) kafka.produce("fills", static_cast<std::int32_t>(i % 2), json_of(i));
  kafka.flush();
  std::vector<std::uint32_t> got;
  std::stop_source stop2;
  auto p = from_kafka(kafka.options("fills", "graph-group"), json_codec<order>{}).until(stop2.get_token()) |
           sink([&](const order& o) { got.push_back(o.venue); });
  drive(p, [&] { return got.size() >= 10; });
  stop2.request_stop();
  drive(p, [] { return false; }, 5s);
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::uint32_t>{200, 201, 202, 203, 204, 205, 206, 207, 208, 209});
}
