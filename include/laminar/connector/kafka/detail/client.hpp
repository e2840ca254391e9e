// What the Kafka connectors share on librdkafka (Debian librdkafka-dev):
// owned handles, configurations whose errors name the setting, and the
// error type. Only the Kafka headers include librdkafka; a program that
// includes them links it (-lrdkafka, or CMake's pkg-config rdkafka).
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "laminar/core/error.hpp"

namespace laminar {

/// A Kafka client could not be made or used, or (failing fast) a message
/// could not be decoded.
class kafka_error : public error {
 public:
  using error::error;
};

/// librdkafka settings beyond those a connector's options name
/// ("fetch.min.bytes", "security.protocol"...), applied after them.
using kafka_properties = std::vector<std::pair<std::string, std::string>>;

namespace detail {

struct kafka_handle_deleter {
  void operator()(rd_kafka_t* k) const noexcept { rd_kafka_destroy(k); }
};
using kafka_handle = std::unique_ptr<rd_kafka_t, kafka_handle_deleter>;

struct kafka_conf_deleter {
  void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
};
using kafka_conf = std::unique_ptr<rd_kafka_conf_t, kafka_conf_deleter>;

struct kafka_partitions_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const noexcept { rd_kafka_topic_partition_list_destroy(l); }
};
using kafka_partitions = std::unique_ptr<rd_kafka_topic_partition_list_t, kafka_partitions_deleter>;

/// A configuration with `settings` applied in order; a setting librdkafka
/// refuses is a kafka_error naming it (`who`: "kafka source 'trades'").
inline kafka_conf make_kafka_conf(const kafka_properties& settings, const std::string& who) {
  kafka_conf conf(rd_kafka_conf_new());
  char why[512];
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), why, sizeof why) != RD_KAFKA_CONF_OK) {
      throw kafka_error(who + ": the setting " + name + "=" + value + " is refused: " + why);
    }
  }
  return conf;
}

/// A client of `type` on `conf` (taken).
inline kafka_handle make_kafka_client(rd_kafka_type_t type, kafka_conf conf, const std::string& who) {
  char why[512];
  rd_kafka_t* k = rd_kafka_new(type, conf.get(), why, sizeof why);
  if (k == nullptr) throw kafka_error(who + ": cannot make the client: " + why);
  (void)conf.release();  // rd_kafka_new owns it now
  return kafka_handle(k);
}

/// Queues one message (its bytes copied) for `topic`'s `partition`
/// (RD_KAFKA_PARTITION_UA: the partitioner's choice), with a timestamp in
/// ms (0: now). rd_kafka_produceva, not the RD_KAFKA_V_ macros, which use a
/// GNU extension that -Wpedantic refuses. RD_KAFKA_RESP_ERR__QUEUE_FULL
/// when the producer's queue is full (poll it, then try again).
inline rd_kafka_resp_err_t kafka_produce(rd_kafka_t* producer, const std::string& topic, std::int32_t partition,
                                         std::string_view value, std::int64_t timestamp_ms = 0) {
  rd_kafka_vu_t vu[5] = {};
  vu[0].vtype = RD_KAFKA_VTYPE_TOPIC;
  vu[0].u.cstr = topic.c_str();
  vu[1].vtype = RD_KAFKA_VTYPE_PARTITION;
  vu[1].u.i32 = partition;
  vu[2].vtype = RD_KAFKA_VTYPE_VALUE;
  vu[2].u.mem.ptr = const_cast<char*>(value.data());  // copied (RD_KAFKA_MSG_F_COPY), not written
  vu[2].u.mem.size = value.size();
  vu[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vu[3].u.i = RD_KAFKA_MSG_F_COPY;
  vu[4].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
  vu[4].u.i64 = timestamp_ms;
  rd_kafka_error_t* e = rd_kafka_produceva(producer, vu, 5);
  if (e == nullptr) return RD_KAFKA_RESP_ERR_NO_ERROR;
  const rd_kafka_resp_err_t code = rd_kafka_error_code(e);
  rd_kafka_error_destroy(e);
  return code;
}

}  // namespace detail
}  // namespace laminar
