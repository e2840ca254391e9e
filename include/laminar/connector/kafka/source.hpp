// A Kafka source on librdkafka: the records of a topic's messages, decoded
// by a codec, with their offsets in laminar's checkpoint. Optional: only
// the Kafka headers pull in librdkafka (link -lrdkafka).
//
//   auto in = laminar::from_kafka({.bootstrap_servers = "broker:9092", .topic = "trades",
//                                  .group_id = "bars"},
//                                 laminar::json_codec<trade>{})
//                 .dead_letters_to(bad)
//                 .until(stop.get_token());
//
// Partitions. With a group id the source subscribes: the group's members
// share the topic's partitions (eager rebalancing, or cooperative-sticky
// with `cooperative`). Without one it assigns itself every partition of
// the topic. A partition starts at the offset the checkpoint restored
// holds for it; one the checkpoint does not name starts where `start`
// says: the group's committed offset (else the earliest), the earliest,
// the latest (only messages produced from now on), or the first message
// at or after `start_time`.
//
// Threads. Each source has an I/O thread of its own that polls the
// consumer (serving rebalances and keeping the group membership alive) and
// copies each message's value, key and metadata into chunks (1 MiB), handed
// whole to the thread that runs the pipeline through a bounded channel
// (connector/detail/chunk_handoff.hpp), ringing its doorbell. The worker
// decodes them straight into its fused chain. When every chunk is with the
// worker the I/O thread pauses the partitions and keeps polling, so the
// consumer is never evicted for missing max.poll.interval.ms however long
// the pipeline holds back; it resumes them when a chunk comes back.
//
// Offsets. The checkpoint holds, per partition, the offset of the next
// message to read. Offsets are committed to the group only after the
// checkpoint that holds them completes (for lag monitoring and for a
// source started without a checkpoint): never on a timer, never ahead of
// what a recovery would replay. Recovery seeks every partition to the
// checkpoint's offset, so the records after it are read again: with a
// checkpointing pipeline and an exactly-once sink, each record counts once.
//
// Bad messages. A value the codec refuses stops the stream with a
// kafka_error naming the topic, partition and offset (its `offset` field;
// `record` is offset + 1), or with .dead_letters_to(out) becomes a
// dead_letter. A consumer error librdkafka cannot recover from (a fatal
// error, a topic that does not exist) ends the stream with a kafka_error;
// transient ones (a broker down) are retried by librdkafka and counted.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <cereal/types/map.hpp>  // the offsets in the checkpoint

#include "laminar/connector/dead_letter.hpp"
#include "laminar/connector/detail/chunk_handoff.hpp"
#include "laminar/connector/detail/record_decoding.hpp"
#include "laminar/connector/kafka/detail/client.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/source.hpp"
#include "laminar/core/time.hpp"
#include "laminar/runtime/doorbell.hpp"

namespace laminar {

/// Where a partition the restored checkpoint does not name starts.
enum class kafka_start : std::uint8_t {
  committed,  // the group's committed offset; the earliest without one (or without a group)
  earliest,   // the first message the topic still holds
  latest,     // the messages produced after the source starts
  timestamp,  // the first message whose timestamp is at or after start_time
};

struct kafka_source_options {
  std::string bootstrap_servers;
  std::string topic;
  /// The consumer group: its members share the topic's partitions. Empty:
  /// no group; the source reads every partition, and commits nothing.
  std::string group_id;
  kafka_start start = kafka_start::committed;
  timestamp start_time{};  // kafka_start::timestamp
  /// The cooperative-sticky assignor (a rebalance moves only the
  /// partitions that change owner) instead of the eager range assignor.
  bool cooperative = false;
  /// Any other librdkafka consumer setting, applied after the source's own.
  kafka_properties properties;
  /// How long the I/O thread waits for the broker's answer to a request of
  /// its own (the topic's partitions, offsets for start_time) before the
  /// stream ends with a kafka_error.
  duration request_timeout = std::chrono::seconds(10);
  /// The unit of the hand-off to the worker, and how many may be with it:
  /// at most chunk_bytes * max_chunks bytes are buffered (a larger message
  /// has a chunk of its own).
  std::size_t chunk_bytes = std::size_t{1} << 20;
  std::size_t max_chunks = 16;
};

namespace detail {

// A message as the I/O thread lays it in a chunk: this header, then its
// key's bytes, then its value's.
struct kafka_message_header {
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = 0;  // -1: none
  std::uint32_t key_bytes = 0;
  std::uint32_t value_bytes = 0;
  std::int32_t partition = 0;
  std::uint32_t flags = 0;  // bit 0: it has a key (an empty key is not none)
};

/// A chunk of messages, or the stream's end.
struct kafka_chunk {
  std::string data;
};

/// The next offsets to read, per partition (RD_KAFKA_OFFSET_INVALID: none).
using kafka_offsets = std::map<std::int32_t, std::int64_t>;

/// The consumer's settings: the source's own, then the options' properties.
inline kafka_properties kafka_consumer_settings(const kafka_source_options& o) {
  kafka_properties settings = {
      {"bootstrap.servers", o.bootstrap_servers},
      {"enable.auto.commit", "false"},  // commits follow checkpoints
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", o.start == kafka_start::latest ? "latest" : "earliest"},
      {"enable.partition.eof", "false"},
      // Without a group, a private one: librdkafka's consumer needs an id,
      // and nothing is committed under it.
      {"group.id", o.group_id.empty() ? "laminar-unmanaged-" + o.topic : o.group_id},
  };
  if (o.cooperative) settings.emplace_back("partition.assignment.strategy", "cooperative-sticky");
  settings.insert(settings.end(), o.properties.begin(), o.properties.end());
  return settings;
}

/// The source's I/O thread: the consumer, its rebalances, the chunks.
class kafka_reader {
 public:
  kafka_reader(kafka_source_options options, kafka_offsets restored, std::stop_token stop)
      : options_(std::move(options)),
        who_("kafka source '" + options_.topic + "'"),
        restored_(std::move(restored)),
        handoff_(options_.max_chunks, options_.chunk_bytes) {
    consumer_ = make_kafka_client(RD_KAFKA_CONSUMER, make_conf(), who_);
    rd_kafka_poll_set_consumer(consumer_.get());
    thread_ = std::thread([this, token = std::move(stop)] { run(token); });
  }
  kafka_reader(const kafka_reader&) = delete;
  kafka_reader& operator=(const kafka_reader&) = delete;
  ~kafka_reader() {
    quit_.store(true, std::memory_order_release);
    rd_kafka_yield(consumer_.get());  // out of a poll now, not at its timeout
    thread_.join();
  }

  spsc_channel<kafka_chunk>& chunks() noexcept { return handoff_.items(); }
  void recycle(std::string&& buffer) noexcept { handoff_.recycle(std::move(buffer)); }
  void attach(doorbell* bell) noexcept { handoff_.attach(bell); }

  /// The stream ended (every chunk before the end is in the channel);
  /// end_reason() is why, if not asked to ("" when stopped).
  [[nodiscard]] bool ended() const noexcept { return ended_.load(std::memory_order_acquire); }
  [[nodiscard]] const std::string& end_reason() const noexcept { return end_reason_; }

  /// Commits `offsets` to the group (from the worker, once a checkpoint
  /// holding them completed); the I/O thread sends them.
  void commit(kafka_offsets offsets) {
    const std::lock_guard lock(commit_mutex_);  // once per checkpoint, not per record
    for (const auto& [p, o] : offsets) to_commit_[p] = o;
  }

  [[nodiscard]] std::uint64_t errors() const noexcept { return errors_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t rebalances() const noexcept { return rebalances_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t pauses() const noexcept { return pauses_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t commits() const noexcept { return commits_.load(std::memory_order_relaxed); }
  [[nodiscard]] const std::string& who() const noexcept { return who_; }

 private:
  kafka_conf make_conf() {
    kafka_conf conf = make_kafka_conf(kafka_consumer_settings(options_), who_);
    rd_kafka_conf_set_opaque(conf.get(), this);
    if (!options_.group_id.empty()) rd_kafka_conf_set_rebalance_cb(conf.get(), &kafka_reader::on_rebalance);
    return conf;
  }

  void run(const std::stop_token& stop) {
    try {
      start();
      while (!quit_.load(std::memory_order_acquire) && !stop.stop_requested() && !done_) step();
      hand_over_partial();
      finish("");
    } catch (const std::exception& e) {
      finish(e.what());
    }
    rd_kafka_consumer_close(consumer_.get());
  }

  void start() {
    if (!options_.group_id.empty()) {
      kafka_partitions topics(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(topics.get(), options_.topic.c_str(), RD_KAFKA_PARTITION_UA);
      check(rd_kafka_subscribe(consumer_.get(), topics.get()), "subscribing");
      return;
    }
    // No group: every partition of the topic.
    rd_kafka_topic_t* t = rd_kafka_topic_new(consumer_.get(), options_.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* meta = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(consumer_.get(), 0, t, &meta, timeout_ms());
    rd_kafka_topic_destroy(t);
    check(err, "reading the topic's metadata");
    kafka_partitions all(rd_kafka_topic_partition_list_new(8));
    std::string missing;
    if (meta->topic_cnt != 1) {
      missing = "the broker did not describe the topic";
    } else if (meta->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      missing = rd_kafka_err2str(meta->topics[0].err);
    } else if (meta->topics[0].partition_cnt == 0) {
      missing = "the topic has no partitions";
    } else {
      for (int i = 0; i < meta->topics[0].partition_cnt; ++i) {
        rd_kafka_topic_partition_list_add(all.get(), options_.topic.c_str(), meta->topics[0].partitions[i].id);
      }
    }
    rd_kafka_metadata_destroy(meta);
    if (!missing.empty()) throw kafka_error(who_ + ": reading the topic's metadata: " + missing);
    place(all.get());
    check(rd_kafka_assign(consumer_.get(), all.get()), "assigning the partitions");
  }

  // Sets each partition's start: the restored checkpoint's offset, else
  // the options' start.
  void place(rd_kafka_topic_partition_list_t* parts) {
    kafka_partitions by_time(rd_kafka_topic_partition_list_new(parts->cnt > 0 ? parts->cnt : 1));
    for (int i = 0; i < parts->cnt; ++i) {
      rd_kafka_topic_partition_t& p = parts->elems[i];
      if (const auto it = restored_.find(p.partition); it != restored_.end() && it->second >= 0) {
        p.offset = it->second;
        continue;
      }
      switch (options_.start) {
        case kafka_start::committed: p.offset = RD_KAFKA_OFFSET_STORED; break;
        case kafka_start::earliest: p.offset = RD_KAFKA_OFFSET_BEGINNING; break;
        case kafka_start::latest: p.offset = RD_KAFKA_OFFSET_END; break;
        case kafka_start::timestamp:
          rd_kafka_topic_partition_list_add(by_time.get(), p.topic, p.partition)->offset =
              options_.start_time.nanos() / 1'000'000;
          break;
      }
    }
    if (by_time->cnt == 0) return;
    check(rd_kafka_offsets_for_times(consumer_.get(), by_time.get(), timeout_ms()), "finding the offsets for start_time");
    for (int i = 0; i < by_time->cnt; ++i) {
      const rd_kafka_topic_partition_t& t = by_time->elems[i];
      check(t.err, "finding the offset for start_time");
      // No message at or after the time: the partition's end.
      rd_kafka_topic_partition_list_find(parts, t.topic, t.partition)->offset = t.offset < 0 ? RD_KAFKA_OFFSET_END : t.offset;
    }
  }

  static void on_rebalance(rd_kafka_t* k, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* opaque) {
    auto* self = static_cast<kafka_reader*>(opaque);
    self->rebalances_.fetch_add(1, std::memory_order_relaxed);
    const char* protocol = rd_kafka_rebalance_protocol(k);
    const bool cooperative = protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
    try {
      if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        self->place(parts);
        if (cooperative) {
          self->check_error(rd_kafka_incremental_assign(k, parts), "taking the assigned partitions");
        } else {
          self->check(rd_kafka_assign(k, parts), "taking the assigned partitions");
        }
        if (self->paused_) rd_kafka_pause_partitions(k, parts);
      } else if (cooperative) {
        self->check_error(rd_kafka_incremental_unassign(k, parts), "giving up the revoked partitions");
      } else {
        self->check(rd_kafka_assign(k, nullptr), "giving up the revoked partitions");
      }
    } catch (const std::exception& e) {
      self->fail_ = e.what();  // thrown again from the poll loop
    }
  }

  void step() {
    if (!fail_.empty()) throw kafka_error(fail_);
    send_commits();
    if (paused_ && !have_buffer()) {
      rd_kafka_message_t* none = rd_kafka_consumer_poll(consumer_.get(), 10);  // keeps the membership
      if (none != nullptr) take(none);  // fetched before the pause
      return;
    }
    if (paused_) resume();
    // Waits for messages while the chunk is empty; with messages in it,
    // hands it over as soon as no more are ready.
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), buffer_.empty() ? 10 : 0);
    if (m == nullptr) {
      hand_over_partial();  // a quiet topic: what has arrived goes now
      return;
    }
    take(m);
  }

  // One message (destroyed here): into the chunk, or an error.
  void take(rd_kafka_message_t* m) {
    struct destroy_message {
      rd_kafka_message_t* m;
      ~destroy_message() { rd_kafka_message_destroy(m); }
    } guard{m};
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      on_error(m->err, rd_kafka_message_errstr(m));
      return;
    }
    const std::size_t bytes = sizeof(kafka_message_header) + m->key_len + m->len;
    if (!buffer_.empty() && buffer_.size() + bytes > options_.chunk_bytes) hand_over_partial();
    if (!paused_ && have_buffer()) {
      lay_out(m, buffer_);
      return;
    }
    // Every chunk is with the worker: hold the message (and any fetched
    // before the pause took hold), pause the partitions, poll on.
    lay_out(m, held_);
    pause();
  }

  static void lay_out(const rd_kafka_message_t* m, std::string& out) {
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    const std::int64_t ts = rd_kafka_message_timestamp(m, &type);
    kafka_message_header h;
    h.offset = m->offset;
    h.timestamp_ms = type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts;
    h.key_bytes = static_cast<std::uint32_t>(m->key_len);
    h.value_bytes = static_cast<std::uint32_t>(m->len);
    h.partition = m->partition;
    h.flags = m->key != nullptr ? 1U : 0U;
    out.append(reinterpret_cast<const char*>(&h), sizeof h);
    if (m->key_len != 0) out.append(static_cast<const char*>(m->key), m->key_len);
    if (m->len != 0) out.append(static_cast<const char*>(m->payload), m->len);
  }

  [[nodiscard]] bool have_buffer() {
    if (!holding_) holding_ = handoff_.take_buffer(buffer_);
    return holding_;
  }

  void pause() {
    if (paused_) return;
    kafka_partitions assigned = assignment();
    rd_kafka_pause_partitions(consumer_.get(), assigned.get());
    paused_ = true;
    pauses_.fetch_add(1, std::memory_order_relaxed);
  }
  void resume() {
    kafka_partitions assigned = assignment();
    rd_kafka_resume_partitions(consumer_.get(), assigned.get());
    paused_ = false;
    if (!held_.empty()) {
      buffer_.append(held_);
      held_.clear();
    }
  }
  kafka_partitions assignment() {
    rd_kafka_topic_partition_list_t* list = nullptr;
    check(rd_kafka_assignment(consumer_.get(), &list), "reading the assignment");
    return kafka_partitions(list);
  }

  void hand_over_partial() {
    if (buffer_.empty()) return;
    handoff_.hand_over(kafka_chunk{std::move(buffer_)});
    buffer_ = std::string();
    holding_ = false;
  }

  void send_commits() {
    kafka_offsets offsets;
    {
      const std::lock_guard lock(commit_mutex_);
      if (to_commit_.empty()) return;
      offsets.swap(to_commit_);
    }
    if (options_.group_id.empty()) return;  // no group to commit to
    kafka_partitions list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
    for (const auto& [p, o] : offsets) rd_kafka_topic_partition_list_add(list.get(), options_.topic.c_str(), p)->offset = o;
    // Asynchronous: a commit that fails is superseded by the next
    // checkpoint's; the checkpoint, not the group, is what recovery reads.
    if (rd_kafka_commit(consumer_.get(), list.get(), 1) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      commits_.fetch_add(1, std::memory_order_relaxed);
    } else {
      errors_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void on_error(rd_kafka_resp_err_t err, const char* what) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    char fatal[512];
    if (rd_kafka_fatal_error(consumer_.get(), fatal, sizeof fatal) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw kafka_error(who_ + ": a fatal consumer error: " + fatal);
    }
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
      throw kafka_error(who_ + ": " + what);
    }
    // Anything else (a broker down, a timeout) librdkafka retries.
  }

  [[nodiscard]] int timeout_ms() const noexcept {
    return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(options_.request_timeout.to_chrono()).count());
  }

  void check(rd_kafka_resp_err_t err, const char* doing) const {
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) throw kafka_error(who_ + ": " + doing + " failed: " + rd_kafka_err2str(err));
  }
  void check_error(rd_kafka_error_t* e, const char* doing) const {
    if (e == nullptr) return;
    const std::string why = rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
    throw kafka_error(who_ + ": " + doing + " failed: " + why);
  }

  void finish(const std::string& why) {
    if (ended_.load(std::memory_order_relaxed)) return;
    end_reason_ = why;
    ended_.store(true, std::memory_order_release);
    handoff_.ring();
  }

  kafka_source_options options_;
  std::string who_;
  kafka_offsets restored_;
  chunk_handoff<kafka_chunk> handoff_;  // I/O thread -> worker
  kafka_handle consumer_;
  std::string buffer_;    // the chunk being filled
  bool holding_ = false;  // buffer_ is one of the handoff's (an empty string is not)
  std::string held_;      // messages laid out for a chunk, while paused
  bool paused_ = false;
  bool done_ = false;
  std::string fail_;
  std::mutex commit_mutex_;
  kafka_offsets to_commit_;
  std::string end_reason_;
  std::atomic<bool> ended_{false};
  std::atomic<bool> quit_{false};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::uint64_t> rebalances_{0};
  std::atomic<std::uint64_t> pauses_{0};
  std::atomic<std::uint64_t> commits_{0};
  std::thread thread_;
};

}  // namespace detail

/// Records read from a Kafka topic (see the top of this header).
template <class Decoder, class DeadLetters = detail::fail_fast>
class kafka_source : public source_base<kafka_source<Decoder, DeadLetters>> {
 public:
  using value_type = detail::decoded_record_t<Decoder>;
  static constexpr std::string_view state_name = "kafka_source";

  kafka_source(kafka_source_options options, Decoder decoder, DeadLetters dead = {}, std::stop_token stop = {})
      : options_(std::move(options)), decoding_(std::move(decoder), std::move(dead)), stop_(std::move(stop)) {
    check_options();
  }

  /// Hands each message the decoder refuses to `out` (a callable taking a
  /// dead_letter, or a side_records<dead_letter> by reference) instead of
  /// stopping the stream.
  template <class F>
  [[nodiscard]] auto dead_letters_to(F&& out) && {
    expect_not_started("dead_letters_to");
    return kafka_source<Decoder, detail::side_output_holder_t<F>>(
        std::move(options_), decoding_.take_decoder(), detail::hold_dead_letters(std::forward<F>(out)), stop_);
  }
  /// Ends the stream once `stop` is requested (after the messages already
  /// handed to the worker).
  [[nodiscard]] kafka_source until(std::stop_token stop) && {
    expect_not_started("until");
    stop_ = std::move(stop);
    return std::move(*this);
  }

  [[nodiscard]] auto context() const { return stream_context<value_type>{}; }

  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max_records) {
    detail::kafka_reader& r = reader();
    std::size_t n = 0;
    while (n < max_records && !ended_) {
      if (at_ >= chunk_.size()) {
        if (holding_) r.recycle(std::move(chunk_));  // its buffer, back to the I/O thread
        holding_ = false;
        chunk_ = std::string();
        at_ = 0;
        detail::kafka_chunk c;
        if (!r.chunks().try_pop(c)) {
          if (r.ended() && !r.chunks().ready()) {
            ended_ = true;
            if (!r.end_reason().empty()) throw kafka_error(r.end_reason());
          }
          break;
        }
        chunk_ = std::move(c.data);
        holding_ = true;
      }
      detail::kafka_message_header h;
      std::memcpy(&h, chunk_.data() + at_, sizeof h);
      const std::string_view value(chunk_.data() + at_ + sizeof h + h.key_bytes, h.value_bytes);
      at_ += sizeof h + h.key_bytes + h.value_bytes;
      positions_[h.partition] = h.offset + 1;
      const auto where = [this, p = h.partition] { return "kafka " + options_.topic + "[" + std::to_string(p) + "]"; };
      // A message is a record of its own: never a header row.
      if (decoding_.template deliver<kafka_error>(chain, value, static_cast<std::uint64_t>(h.offset),
                                                 static_cast<std::uint64_t>(h.offset) + 1, where, "kafka source: ",
                                                 false)) {
        ++n;
        if constexpr (stopping_chain<Chain>) {
          if (chain.stop_requested()) break;
        }
      }
    }
    return n;
  }
  [[nodiscard]] bool exhausted() const noexcept { return ended_; }
  /// Messages or the end have arrived: the worker has something to do.
  [[nodiscard]] bool has_input() const noexcept {
    return ended_ || at_ < chunk_.size() || !reader_ || reader_->chunks().ready() || reader_->ended();
  }
  /// The reading worker's doorbell: the I/O thread rings it per chunk.
  void attach(detail::doorbell* bell) { reader().attach(bell); }

  /// Saves the offsets; a completed checkpoint commits them to the group.
  template <class Chain>
  void on_barrier(Chain& chain, const checkpoint_barrier& b) {
    b.checkpoint(*this);
    if (!b.restoring()) pending_commits_.emplace_back(b.id(), positions_);
    chain.on_barrier(b);
  }
  void on_checkpoint_complete(std::uint64_t id) {
    while (!pending_commits_.empty() && pending_commits_.front().first <= id) {
      if (pending_commits_.front().first == id && reader_) reader_->commit(pending_commits_.front().second);
      pending_commits_.erase(pending_commits_.begin());
    }
  }

  /// The next offset to read, per partition read from (or restored).
  [[nodiscard]] const detail::kafka_offsets& positions() const noexcept { return positions_; }
  /// Records emitted and refused (dead letters).
  [[nodiscard]] std::uint64_t records() const noexcept { return decoding_.emitted(); }
  [[nodiscard]] std::uint64_t dead_letters() const noexcept { return decoding_.refused(); }
  /// Consumer errors librdkafka retried, rebalances, pauses for
  /// backpressure, offset commits sent.
  [[nodiscard]] std::uint64_t errors() const noexcept { return reader_ ? reader_->errors() : 0; }
  [[nodiscard]] std::uint64_t rebalances() const noexcept { return reader_ ? reader_->rebalances() : 0; }
  [[nodiscard]] std::uint64_t pauses() const noexcept { return reader_ ? reader_->pauses() : 0; }
  [[nodiscard]] std::uint64_t commits() const noexcept { return reader_ ? reader_->commits() : 0; }

  void save_state(state_writer& w) const {
    w(positions_);
    decoding_.save_state(w);
  }
  void load_state(state_reader& r) {
    if (reader_) throw usage_error("laminar: kafka source: restored after it started reading");
    r(positions_);
    decoding_.load_state(r);
  }

 private:
  // The I/O thread starts on first use, once the source has its place in a
  // pipeline and any checkpoint is restored.
  detail::kafka_reader& reader() {
    if (!reader_) reader_ = std::make_unique<detail::kafka_reader>(options_, positions_, stop_);
    return *reader_;
  }
  void expect_not_started(const char* what) const {
    if (reader_) throw usage_error(std::string("laminar: kafka source: ") + what + " after it started reading");
  }
  void check_options() const {
    if (options_.topic.empty() || options_.bootstrap_servers.empty()) {
      throw usage_error("laminar: kafka source: bootstrap_servers and topic must be given");
    }
    if (options_.chunk_bytes == 0 || options_.max_chunks == 0) {
      throw usage_error("laminar: kafka source: chunk_bytes and max_chunks must be positive");
    }
    // A setting librdkafka refuses is an error now, not when reading starts.
    (void)detail::make_kafka_conf(detail::kafka_consumer_settings(options_), "kafka source '" + options_.topic + "'");
  }

  kafka_source_options options_;
  detail::record_decoding<Decoder, DeadLetters> decoding_;
  std::stop_token stop_;
  std::unique_ptr<detail::kafka_reader> reader_;
  std::string chunk_;  // the chunk being decoded, from at_
  bool holding_ = false;
  std::size_t at_ = 0;
  detail::kafka_offsets positions_;
  std::vector<std::pair<std::uint64_t, detail::kafka_offsets>> pending_commits_;
  bool ended_ = false;
};

/// A source of the records in `options.topic`'s messages, decoded by
/// `decoder` (a codec, or a function of a message's value).
template <class Decoder>
auto from_kafka(kafka_source_options options, Decoder decoder) {
  return kafka_source<Decoder>(std::move(options), std::move(decoder));
}

}  // namespace laminar
