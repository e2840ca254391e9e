// The Kafka source against a bare librdkafka consume loop, on librdkafka's
// mock cluster (one broker, in process, over loopback), in the same run:
//
//   kafka_source_events_per_s          JSON trades from three partitions through
//                                      from_kafka (its I/O thread polls and fills
//                                      chunks, the worker decodes) into a sink
//   kafka_source_vs_librdkafka_consume that, against one thread that polls
//                                      rd_kafka_consumer_poll and decodes each message
//                                      with the same codec inline: the source's cost
//                                      (or, with polling and decoding on two threads,
//                                      its gain)
//
// Both read every message of the topic from the earliest offset, with the
// same consumer settings, a fresh consumer per trial (the time includes
// connecting, the topic's metadata and fetching). Medians of interleaved trials. The mock broker
// serves fetches from memory: what is measured is the client side.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <laminar/connector/kafka/source.hpp>
#include <laminar/laminar.hpp>
#include <laminar/serde/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <librdkafka/rdkafka_mock.h>  // after rdkafka.h

#include "support/bench.hpp"

using namespace laminar;

namespace {

namespace lb = laminar::bench;

struct trade {
  std::string symbol;
  double price = 0;
  std::int64_t qty = 0;
  timestamp ts;
  std::uint32_t venue = 0;
};
constexpr auto laminar_fields(const trade*) {
  return describe(field_named("symbol", &trade::symbol), field_named("price", &trade::price),
                  field_named("qty", &trade::qty), field_named("ts", &trade::ts), field_named("venue", &trade::venue));
}

constexpr int partitions = 3;
const kafka_properties quiet = {{"log_level", "3"}};

// The sum of the quantities: what both contenders must agree on.
std::uint64_t produce(rd_kafka_t* producer, std::size_t n) {
  const char* names[] = {"AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "AVGO"};
  std::mt19937_64 rng(42);
  const json_codec<trade> json;
  const std::string topic = "trades";
  std::string line;
  std::uint64_t qty = 0;
  double px = 100;
  for (std::size_t i = 0; i < n; ++i) {
    px += (static_cast<double>(rng() % 21) - 10.0) * 0.01;
    const trade t{names[rng() % 8], px, 1 + static_cast<std::int64_t>(rng() % 500),
                  timestamp::from_nanos(static_cast<std::int64_t>(i) * 1'000), static_cast<std::uint32_t>(i)};
    qty += static_cast<std::uint64_t>(t.qty);
    line.clear();
    json.encode(t, line);
    line.pop_back();
    while (detail::kafka_produce(producer, topic, static_cast<std::int32_t>(i % partitions), line) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer, 10);
    }
  }
  if (rd_kafka_flush(producer, 60'000) != RD_KAFKA_RESP_ERR_NO_ERROR) std::fprintf(stderr, "kafka: flush failed\n");
  return qty;
}

// The bare loop: one consumer, every partition from the start, decode inline.
std::uint64_t consume_loop(const std::string& bootstrap, std::size_t n) {
  kafka_properties settings = {{"bootstrap.servers", bootstrap}, {"group.id", "bench-bare"},
                               {"enable.auto.commit", "false"}, {"enable.partition.eof", "false"}};
  settings.insert(settings.end(), quiet.begin(), quiet.end());
  detail::kafka_handle k =
      detail::make_kafka_client(RD_KAFKA_CONSUMER, detail::make_kafka_conf(settings, "bench"), "bench");
  rd_kafka_poll_set_consumer(k.get());
  // The topic's metadata first, as the source asks for its partitions:
  // without it the first fetch waits some 500 ms for a metadata refresh.
  rd_kafka_topic_t* topic = rd_kafka_topic_new(k.get(), "trades", nullptr);
  const rd_kafka_metadata_t* meta = nullptr;
  if (rd_kafka_metadata(k.get(), 0, topic, &meta, 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_metadata_destroy(meta);
  rd_kafka_topic_destroy(topic);
  detail::kafka_partitions all(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(all.get(), "trades", p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(k.get(), all.get());
  const json_codec<trade> json;
  std::uint64_t qty = 0;
  std::size_t got = 0;
  while (got < n) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(k.get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      decoded<trade> d = json.decode(std::string_view(static_cast<const char*>(m->payload), m->len));
      if (d.ok()) qty += static_cast<std::uint64_t>(d.value().qty);
      ++got;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(k.get());
  return qty;
}

// The source: every partition from the start, into a sink.
std::uint64_t source_run(const std::string& bootstrap, std::size_t n) {
  kafka_source_options o;
  o.bootstrap_servers = bootstrap;
  o.topic = "trades";
  o.start = kafka_start::earliest;
  o.properties = quiet;
  std::uint64_t qty = 0;
  std::size_t got = 0;
  auto p = from_kafka(o, json_codec<trade>{}) | sink([&](const trade& t) {
             qty += static_cast<std::uint64_t>(t.qty);
             ++got;
           });
  while (got < n) {
    // Nothing has arrived: wait a little, as a parked graph worker would,
    // leaving the cores to the I/O thread and librdkafka's.
    if (p.run_for(4096) == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return qty;
}

}  // namespace

int main() {
  // The mock broker keeps about 100k messages a partition set (it drops the
  // oldest past that): the topic stays under it.
  const std::size_t n = lb::pick<std::size_t>(90'000, 2'000);
  const int reps = lb::pick(5, 1);
  detail::kafka_handle producer = detail::make_kafka_client(
      RD_KAFKA_PRODUCER,
      detail::make_kafka_conf({{"test.mock.num.brokers", "1"}, {"log_level", "3"}, {"linger.ms", "5"}}, "mock"),
      "mock");
  rd_kafka_mock_cluster_t* cluster = rd_kafka_handle_mock_cluster(producer.get());
  const std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
  rd_kafka_mock_topic_create(cluster, "trades", partitions, 1);
  const std::uint64_t want = produce(producer.get(), n);
  std::fprintf(stderr, "kafka: %zu JSON trades in %d partitions of a mock broker%s\n", n, partitions,
               lb::smoke() ? " (smoke run)" : "");

  static constexpr std::string_view names[] = {"from_kafka", "bare consume loop"};
  const auto r = lb::interleaved_rates("kafka_source", names, n, reps, want, [&](std::size_t i) {
    return i == 0 ? source_run(bootstrap, n) : consume_loop(bootstrap, n);
  });
  if (!r) return 1;
  lb::report("kafka_source_events_per_s", (*r)[0], "events/s", 0);
  lb::report("kafka_librdkafka_consume_events_per_s", (*r)[1], "events/s", 0);
  lb::report("kafka_source_vs_librdkafka_consume", (*r)[0] / (*r)[1], "x", 3);
  return 0;
}
