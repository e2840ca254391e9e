// What the Kafka connectors share on librdkafka (Debian librdkafka-dev):
// owned handles, configurations whose errors name the setting, and the
// error type. Only the Kafka headers include librdkafka; a program that
// includes them links it (-lrdkafka, or CMake's pkg-config rdkafka).
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
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

}  // namespace detail
}  // namespace laminar
