// TCP on Boost.Asio: a source that connects to a feed and a sink that
// writes to a peer, both with any codec's framing (lines, CSV rows, length
// prefixes) and reconnection with backoff. Optional: only this header pulls
// in Asio.
//
//   auto in = laminar::from_tcp({"127.0.0.1", 9000}, laminar::json_codec<tick>{});
//   auto p = std::move(in) | ... | laminar::to_tcp({"127.0.0.1", 9100}, laminar::csv_codec<bar>{});
//
// Threads. Each source has an I/O thread of its own that connects, reads
// bytes into chunks (64 KiB) and hands whole chunks to the thread that runs
// the pipeline (a graph's worker) through a bounded single-producer channel,
// ringing the worker's doorbell. The worker frames and decodes the chunks
// straight into its fused chain: no record crosses a thread on its own, no
// allocation per record, and the worker never waits on the network
// (run_for returns what has arrived). The chunks are recycled: once the
// worker holds `max_chunks` of them, the I/O thread stops reading, so the
// kernel's socket buffer fills and TCP's flow control holds the sender back:
// backpressure without unbounded buffering, and without loss.
//
// The sink encodes on the worker into a chunk and hands full chunks (and
// the current one whenever the writer is idle, so a quiet stream is not
// held) to its writer thread; while `max_chunks` are waiting to be written
// the worker waits (backpressure reaches the pipeline).
//
// Connections. A connection that fails or closes is retried after a backoff
// that doubles from `backoff_min` to `backoff_max` (reset by a connection
// that works). The source numbers its connections; a record cut off by the
// end of a connection is a dead letter (or, failing fast, the error), never
// glued to the next connection's bytes. Without reconnection, the peer
// closing the connection ends the stream.
//
// Delivery. A socket cannot be replayed: the source's checkpoint holds its
// counts and dead letters, not a position, so recovery does not bring back
// the records in flight (use a replayable source or a logged_feed for
// exactly-once). The sink writes each chunk whole; a chunk whose write
// failed is written again whole on the next connection: at least once,
// whole records only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "laminar/channel/spsc.hpp"
#include "laminar/channel/wait_policy.hpp"
#include "laminar/connector/dead_letter.hpp"
#include "laminar/connector/detail/chunk_handoff.hpp"
#include "laminar/connector/detail/record_decoding.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/source.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/runtime/doorbell.hpp"

namespace laminar {

/// A TCP connection could not be made or used, or (failing fast) a record
/// read from it could not be decoded.
class tcp_error : public error {
 public:
  using error::error;
};

/// Where to connect.
struct tcp_endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  [[nodiscard]] std::string name() const { return host + ":" + std::to_string(port); }
};

struct tcp_options {
  /// Connect again after a failure or a close (with backoff); without it
  /// the first close (or failed connect) ends the stream.
  bool reconnect = true;
  duration backoff_min = std::chrono::milliseconds(10);
  duration backoff_max = std::chrono::seconds(1);
  /// The unit of reading and writing, and how many may be in flight: at
  /// most chunk_bytes * max_chunks bytes are buffered per connector.
  std::size_t chunk_bytes = std::size_t{64} << 10;
  std::size_t max_chunks = 16;
  /// The longest record (frame): more bytes than this with no record end
  /// is an error (the framing is lost).
  std::size_t max_record_bytes = std::size_t{16} << 20;
};

namespace detail {

/// Bytes read from one connection, or its end.
struct tcp_chunk {
  enum class kind : std::uint8_t { bytes, connection_end };
  kind what = kind::bytes;
  std::uint64_t connection = 0;  // 1-based
  std::string data;
};

inline void check_tcp_options(const tcp_options& o) {
  if (o.chunk_bytes == 0 || o.max_chunks == 0 || o.backoff_min <= duration::zero() || o.backoff_max < o.backoff_min) {
    throw usage_error("laminar: tcp_options: chunk_bytes and max_chunks must be positive, and "
                      "0 < backoff_min <= backoff_max");
  }
}

// Room in a connector's channel beyond its chunks: the source's ends of
// connections (a new connection waits while more than this are queued).
[[nodiscard]] inline std::size_t marker_slots(std::size_t chunks) { return chunks + 2; }

inline duration next_backoff(duration current, const tcp_options& o) {
  const duration doubled = current > o.backoff_max ? o.backoff_max : duration::from_nanos(current.nanos() * 2);
  return doubled > o.backoff_max ? o.backoff_max : (doubled < o.backoff_min ? o.backoff_min : doubled);
}

/// The source's I/O thread: connects, reads into recycled chunks, hands
/// them over, reconnects. Lives on the heap so the source can move.
class tcp_reader {
 public:
  tcp_reader(tcp_endpoint at, tcp_options options, std::stop_token stop)
      : at_(std::move(at)),
        options_(options),
        handoff_(options.max_chunks, options.chunk_bytes, marker_slots(options.max_chunks)),
        socket_(ctx_),
        timer_(ctx_),
        backoff_(options.backoff_min) {
    thread_ = std::thread([this, token = std::move(stop)] { run(token); });
  }
  tcp_reader(const tcp_reader&) = delete;
  tcp_reader& operator=(const tcp_reader&) = delete;
  ~tcp_reader() {
    boost::asio::post(ctx_, [this] { finish(""); });
    thread_.join();
  }

  spsc_channel<tcp_chunk>& chunks() noexcept { return handoff_.items(); }
  /// A chunk's buffer back to the I/O thread, for reuse.
  void recycle(std::string&& buffer) noexcept { handoff_.recycle(std::move(buffer)); }
  void attach(doorbell* bell) noexcept { handoff_.attach(bell); }

  /// The stream ended (every chunk before the end is in the channel);
  /// end_reason() is why, if not asked to ("" when stopped).
  [[nodiscard]] bool ended() const noexcept { return ended_.load(std::memory_order_acquire); }
  [[nodiscard]] const std::string& end_reason() const noexcept { return end_reason_; }

  [[nodiscard]] std::uint64_t connections() const noexcept { return connected_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t failed_connects() const noexcept { return failed_.load(std::memory_order_relaxed); }
  [[nodiscard]] const tcp_endpoint& endpoint() const noexcept { return at_; }

 private:
  void run(const std::stop_token& token) {
    std::stop_callback on_stop(token, [this] { boost::asio::post(ctx_, [this] { finish(""); }); });
    connect();
    ctx_.run();
  }

  void connect() {
    if (done_) return;
    if (handoff_.in_flight() > options_.max_chunks) {
      // The worker has not caught up with the last connection's end: the
      // channel keeps a slot for every chunk and every connection's end.
      timer_.expires_after(std::chrono::milliseconds(1));
      timer_.async_wait([this](const boost::system::error_code& e) {
        if (!e) connect();
      });
      return;
    }
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(at_.host, ec);
    if (ec) {
      finish("'" + at_.host + "' is not an IP address: " + ec.message());
      return;
    }
    socket_.async_connect({address, at_.port}, [this](const boost::system::error_code& e) {
      if (done_) return;
      if (e) {
        failed_.fetch_add(1, std::memory_order_relaxed);
        retry("connecting to " + at_.name() + " failed: " + e.message());
        return;
      }
      ++connection_;
      open_ = true;
      connected_.fetch_add(1, std::memory_order_relaxed);
      backoff_ = options_.backoff_min;
      read();
    });
  }

  // After a failed connect or a closed connection: again after the backoff,
  // or the end of the stream (`why`: "" for the peer's close).
  void retry(const std::string& why) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    if (!options_.reconnect) {
      finish(why);
      return;
    }
    timer_.expires_after(backoff_.to_chrono());
    backoff_ = next_backoff(backoff_, options_);
    timer_.async_wait([this](const boost::system::error_code& e) {
      if (!e) connect();
    });
  }

  void read() {
    if (done_) return;
    if (!holding_ && !handoff_.take_buffer(buffer_)) {
      // Every chunk is with the worker: stop reading (the socket's buffer
      // fills and holds the sender back) and look again shortly.
      timer_.expires_after(std::chrono::microseconds(200));
      timer_.async_wait([this](const boost::system::error_code& e) {
        if (!e) read();
      });
      return;
    }
    holding_ = true;
    buffer_.resize(options_.chunk_bytes);
    socket_.async_read_some(boost::asio::buffer(buffer_.data(), buffer_.size()),
                            [this](const boost::system::error_code& e, std::size_t n) {
                              if (done_) return;
                              if (n != 0) {
                                buffer_.resize(n);
                                handoff_.hand_over(tcp_chunk{tcp_chunk::kind::bytes, connection_, std::move(buffer_)});
                                buffer_ = std::string();
                                holding_ = false;
                              }
                              if (e) {
                                end_connection();
                                // Without reconnection the peer's close is the end of the stream.
                                retry(e == boost::asio::error::eof ? "" : "reading failed: " + e.message());
                                return;
                              }
                              read();
                            });
  }

  void end_connection() {
    if (!open_) return;
    open_ = false;
    // The channel keeps a slot for the end of every connection it holds.
    handoff_.hand_over(tcp_chunk{tcp_chunk::kind::connection_end, connection_, {}});
  }

  void finish(const std::string& why) {
    if (done_) return;
    done_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
    end_connection();
    end_reason_ = why;
    ended_.store(true, std::memory_order_release);
    handoff_.ring();
    ctx_.stop();
  }

  tcp_endpoint at_;
  tcp_options options_;
  chunk_handoff<tcp_chunk> handoff_;  // I/O thread -> worker
  boost::asio::io_context ctx_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  duration backoff_;
  std::string buffer_;
  bool holding_ = false;  // buffer_ is one of the handoff's (an empty string is not)
  std::uint64_t connection_ = 0;
  bool open_ = false;
  bool done_ = false;
  std::string end_reason_;
  std::atomic<bool> ended_{false};
  std::atomic<std::uint64_t> connected_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::thread thread_;
};

}  // namespace detail

/// Records read from a TCP connection (see the top of this header).
template <class Decoder, class DeadLetters = detail::fail_fast>
class tcp_source : public source_base<tcp_source<Decoder, DeadLetters>> {
 public:
  using value_type = detail::decoded_record_t<Decoder>;
  static constexpr std::string_view state_name = "tcp_source";

  tcp_source(tcp_endpoint at, Decoder decoder, tcp_options options, DeadLetters dead = {}, std::stop_token stop = {})
      : at_(std::move(at)), options_(options), decoding_(std::move(decoder), std::move(dead)), stop_(std::move(stop)) {
    detail::check_tcp_options(options_);
  }

  /// Hands each record the decoder refuses to `out` (a callable taking a
  /// dead_letter, or a side_records<dead_letter> by reference) instead of
  /// stopping the stream.
  template <class F>
  [[nodiscard]] auto dead_letters_to(F&& out) && {
    expect_not_started("dead_letters_to");
    return tcp_source<Decoder, detail::side_output_holder_t<F>>(
        at_, decoding_.take_decoder(), options_, detail::hold_dead_letters(std::forward<F>(out)), stop_);
  }
  /// Ends the stream once `stop` is requested (after the records that
  /// arrived before it).
  [[nodiscard]] tcp_source until(std::stop_token stop) && {
    expect_not_started("until");
    stop_ = std::move(stop);
    return std::move(*this);
  }

  [[nodiscard]] auto context() const { return stream_context<value_type>{}; }

  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max_records) {
    detail::tcp_reader& r = reader();
    std::size_t n = 0;
    while (n < max_records && !ended_) {
      switch (read_next(chain, false)) {
        case detail::read_step::delivered:
          ++n;
          if constexpr (stopping_chain<Chain>) {
            if (chain.stop_requested()) return n;
          }
          continue;
        case detail::read_step::held_back: continue;
        case detail::read_step::need_bytes: break;
      }
      detail::tcp_chunk c;
      if (!r.chunks().try_pop(c)) {
        // Nothing more has arrived; the end is read only after every chunk before it.
        if (r.ended() && !r.chunks().ready()) {
          ended_ = true;
          if (!r.end_reason().empty()) throw tcp_error("tcp source " + at_.name() + ": " + r.end_reason());
        }
        break;
      }
      switch (c.what) {
        case detail::tcp_chunk::kind::bytes:
          if (c.connection != connection_) start_connection(c.connection);
          // Drop what was framed, keep a partial record.
          buf_.erase(0, static_cast<std::size_t>(decoding_.position().offset - buf_base_));
          buf_base_ = decoding_.position().offset;
          buf_.append(c.data);
          r.recycle(std::move(c.data));
          break;
        case detail::tcp_chunk::kind::connection_end:
          // Bytes left over are the connection's last record, whole or not.
          if (read_next(chain, true) == detail::read_step::delivered) ++n;
          start_connection(c.connection);
          break;
      }
    }
    return n;
  }
  [[nodiscard]] bool exhausted() const noexcept { return ended_; }
  /// Bytes or the end have arrived: the worker has something to do.
  [[nodiscard]] bool has_input() const noexcept {
    return ended_ || !reader_ || reader_->chunks().ready() || reader_->ended();
  }
  /// The reading worker's doorbell: the I/O thread rings it per chunk.
  void attach(detail::doorbell* bell) { reader().attach(bell); }

  /// Records emitted and refused (dead letters); connections made and
  /// connects that failed.
  [[nodiscard]] std::uint64_t records() const noexcept { return decoding_.emitted(); }
  [[nodiscard]] std::uint64_t dead_letters() const noexcept { return decoding_.refused(); }
  [[nodiscard]] std::uint64_t connections() const noexcept { return reader_ ? reader_->connections() : 0; }
  [[nodiscard]] std::uint64_t failed_connects() const noexcept { return reader_ ? reader_->failed_connects() : 0; }

  /// A socket has no position to replay from: the counts and the dead
  /// letters (when kept) only.
  void save_state(state_writer& w) const { decoding_.save_state(w); }
  void load_state(state_reader& r) { decoding_.load_state(r); }

 private:
  // The I/O thread starts on first use, once the source has its place in a
  // pipeline (so the source can be moved until then).
  detail::tcp_reader& reader() {
    if (!reader_) reader_ = std::make_unique<detail::tcp_reader>(at_, options_, stop_);
    return *reader_;
  }
  void expect_not_started(const char* what) const {
    if (reader_) throw usage_error(std::string("laminar: tcp source: ") + what + " after it started reading");
  }

  template <class Chain>
  detail::read_step read_next(Chain& chain, bool at_end) {
    const auto at = static_cast<std::size_t>(decoding_.position().offset - buf_base_);
    const std::string_view unread(buf_.data() + at, buf_.size() - at);
    return decoding_.template read_next<tcp_error>(chain, unread, at_end, options_.max_record_bytes,
                                                   [this] { return where(); }, "tcp source: ");
  }

  void start_connection(std::uint64_t connection) {
    connection_ = connection;
    decoding_.start_stream();
    buf_.clear();
    buf_base_ = 0;
  }

  [[nodiscard]] std::string where() const { return "tcp " + at_.name() + " connection " + std::to_string(connection_); }

  tcp_endpoint at_;
  tcp_options options_;
  detail::record_decoding<Decoder, DeadLetters> decoding_;
  std::stop_token stop_;
  std::unique_ptr<detail::tcp_reader> reader_;
  std::string buf_;  // the connection's bytes from buf_base_ on (the next record's: decoding_.position())
  std::uint64_t buf_base_ = 0;
  std::uint64_t connection_ = 0;
  bool ended_ = false;
};

namespace detail {

/// The sink's writer thread: takes whole chunks, writes each whole,
/// reconnecting with backoff. Lives on the heap.
class tcp_writer {
 public:
  tcp_writer(tcp_endpoint at, tcp_options options)
      : at_(std::move(at)), options_(options), handoff_(options.max_chunks, options.chunk_bytes), socket_(ctx_) {
    thread_ = std::thread([this] { run(); });
  }
  tcp_writer(const tcp_writer&) = delete;
  tcp_writer& operator=(const tcp_writer&) = delete;
  ~tcp_writer() {
    stop_.store(true, std::memory_order_release);
    handoff_.items().wake_waiters();
    thread_.join();
  }

  /// An empty buffer to fill (waits while every chunk is being written:
  /// backpressure); throws the writer's error, if it failed.
  std::string take_buffer() {
    std::string b;
    while (!handoff_.take_buffer(b)) {
      check();
      std::this_thread::yield();
    }
    return b;
  }
  void write(std::string&& chunk) {
    check();
    queued_.fetch_add(1, std::memory_order_relaxed);
    handoff_.hand_over(std::move(chunk));
  }
  /// Nothing queued: the writer waits for work.
  [[nodiscard]] bool idle() const noexcept { return queued_.load(std::memory_order_acquire) == 0; }
  /// Waits until everything queued is written (or the writer failed).
  void drain() {
    while (!idle()) {
      check();
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    check();
  }
  [[nodiscard]] std::uint64_t connections() const noexcept { return connected_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t bytes_written() const noexcept { return written_.load(std::memory_order_relaxed); }

 private:
  void check() const {
    if (failed_.load(std::memory_order_acquire)) throw tcp_error("tcp sink " + at_.name() + ": " + error_);
  }

  void run() {
    std::string chunk;
    while (true) {
      if (!handoff_.items().try_pop(chunk)) {
        if (stop_.load(std::memory_order_acquire)) return;
        handoff_.items().wait_for_data(wait_policy::park, &stop_);
        continue;
      }
      while (!write_whole(chunk)) {
        if (stop_.load(std::memory_order_acquire) || failed_.load(std::memory_order_relaxed)) return;
      }
      handoff_.recycle(std::move(chunk));
      queued_.fetch_sub(1, std::memory_order_release);
    }
  }

  // Writes the chunk on the connection (making one first); false after a
  // failure, once the backoff has passed (or the writer failed for good).
  bool write_whole(const std::string& chunk) {
    boost::system::error_code ec;
    if (!socket_.is_open()) {
      boost::asio::ip::address address = boost::asio::ip::make_address(at_.host, ec);
      if (ec) return fail("'" + at_.host + "' is not an IP address: " + ec.message());
      socket_.connect({address, at_.port}, ec);
      if (ec) return backoff("connecting failed: " + ec.message());
      connected_.fetch_add(1, std::memory_order_relaxed);
      backoff_ = options_.backoff_min;
    }
    boost::asio::write(socket_, boost::asio::buffer(chunk.data(), chunk.size()), ec);
    if (ec) return backoff("writing failed: " + ec.message());
    written_.fetch_add(chunk.size(), std::memory_order_relaxed);
    return true;
  }
  bool backoff(const std::string& why) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    if (!options_.reconnect) return fail(why);
    const auto until = std::chrono::steady_clock::now() + backoff_.to_chrono();
    backoff_ = next_backoff(backoff_, options_);
    while (std::chrono::steady_clock::now() < until && !stop_.load(std::memory_order_acquire)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
  bool fail(const std::string& why) {
    error_ = why;
    failed_.store(true, std::memory_order_release);
    return false;
  }

  tcp_endpoint at_;
  tcp_options options_;
  chunk_handoff<std::string> handoff_;  // worker -> writer thread
  boost::asio::io_context ctx_;
  boost::asio::ip::tcp::socket socket_;
  duration backoff_ = options_.backoff_min;
  std::string error_;
  std::atomic<bool> failed_{false};
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> queued_{0};
  std::atomic<std::uint64_t> connected_{0};
  std::atomic<std::uint64_t> written_{0};
  std::thread thread_;
};

/// The sink stage: encodes on the worker, writes on the writer thread.
template <class T, class Encoder>
class tcp_sink : public consuming_stage {
 public:
  tcp_sink(tcp_endpoint at, Encoder encoder, tcp_options options)
      : at_(std::move(at)), encoder_(std::move(encoder)), options_(options) {}
  tcp_sink(tcp_sink&&) noexcept = default;
  /// A copy (a graph copies a node's stages for each instance) has the
  /// configuration and connects on its own.
  tcp_sink(const tcp_sink& o) : consuming_stage(o), at_(o.at_), encoder_(o.encoder_), options_(o.options_) {}
  tcp_sink& operator=(const tcp_sink&) = delete;
  tcp_sink& operator=(tcp_sink&&) = delete;
  ~tcp_sink() = default;

  void on_event(const T& record) {
    if (!writer_) {
      writer_ = std::make_unique<tcp_writer>(at_, options_);
      chunk_ = writer_->take_buffer();
    }
    if constexpr (requires { encoder_.encode(record, chunk_); }) {
      encoder_.encode(record, chunk_);  // a codec (laminar/serde/)
    } else {
      encoder_(record, chunk_);
    }
    // Full, or the writer has nothing to do: hand the chunk over (a quiet
    // stream is not held back; a busy one is written a chunk at a time).
    if (chunk_.size() >= options_.chunk_bytes || writer_->idle()) hand_over();
  }
  void on_barrier(const checkpoint_barrier&) { flush(); }
  /// The end of the stream: everything is written before it returns.
  void on_end() {
    flush();
    if (writer_) writer_->drain();
  }

  [[nodiscard]] std::uint64_t connections() const noexcept { return writer_ ? writer_->connections() : 0; }

 private:
  void flush() {
    if (writer_ && !chunk_.empty()) hand_over();
  }
  void hand_over() {
    writer_->write(std::move(chunk_));
    chunk_ = writer_->take_buffer();
  }

  tcp_endpoint at_;
  Encoder encoder_;
  tcp_options options_;
  std::string chunk_;
  std::unique_ptr<tcp_writer> writer_;
};

template <class Encoder>
struct tcp_sink_factory {
  using is_sink = void;
  tcp_endpoint at;
  Encoder encoder;
  tcp_options options;
  template <class Ctx>
  auto bind(const Ctx&) && {
    using T = typename Ctx::value_type;
    static_assert(std::is_invocable_v<Encoder&, const T&, std::string&> ||
                      requires(const Encoder& c, const T& r, std::string& out) { c.encode(r, out); },
                  "laminar::to_tcp: the encoder must be a codec of the record type (json_codec<T>, csv_codec<T>...) "
                  "or callable as encode(record, std::string& out)");
    return tcp_sink<T, Encoder>(std::move(at), std::move(encoder), options);
  }
};

}  // namespace detail

/// A sink writing each record, encoded by `encoder` (a codec, or a function
/// encode(record, std::string& out)), to a TCP connection to `at`.
template <class Encoder>
auto to_tcp(tcp_endpoint at, Encoder encoder, tcp_options options = {}) {
  detail::check_tcp_options(options);
  return detail::tcp_sink_factory<Encoder>{std::move(at), std::move(encoder), options};
}

/// A source of the records read from `at`, decoded by `decoder` (a codec,
/// or a function of a record's bytes).
template <class Decoder>
auto from_tcp(tcp_endpoint at, Decoder decoder, tcp_options options = {}) {
  return tcp_source<Decoder>(std::move(at), std::move(decoder), options);
}

}  // namespace laminar
