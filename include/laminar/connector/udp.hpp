// A UDP source for feed datagrams, on Boost.Asio (optional: only this
// header pulls in Asio).
//
//   auto in = laminar::from_udp({"127.0.0.1", 9200}, laminar::binary_codec<tick>{})
//                 .sequence(&tick::seq)          // the feed's sequence number
//                 .gaps_to(reports)              // gaps, duplicates, reordering
//                 .until(stop.get_token());
//
// Each datagram holds one or more records, framed by the codec (lines,
// length prefixes); a record cut off by the datagram's end is a dead letter
// (or, failing fast, the error).
//
// Threads. The socket is bound when the source is made; its I/O thread
// receives datagrams into recycled buffers and hands them to the thread
// that runs the pipeline (a graph's worker) through a bounded channel,
// ringing the worker's doorbell; the worker decodes them into its fused
// chain. UDP has no flow control: while the worker holds `max_datagrams`
// the I/O thread stops receiving and the kernel drops what overflows its
// socket buffer; the sequence numbers then show the loss as a gap.
//
// Sequence numbers. Given .sequence(projection), the source checks each
// record's number against the next one expected: a jump is a gap (the
// numbers missing are reported), a number seen before is a duplicate (not
// passed on: a feed's retransmission or a doubled datagram), and a number
// missing before and arriving late is reordered (passed on, and reported).
// Reports go to .gaps_to(out) as sequence_report records; gaps(),
// duplicates() and reordered() count them either way.
//
// Delivery: a socket cannot be replayed; the checkpoint holds the counts,
// the next sequence number expected and the dead letters and reports kept.
#pragma once

#include <atomic>
#include <bitset>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "laminar/channel/spsc.hpp"
#include "laminar/connector/dead_letter.hpp"
#include "laminar/connector/detail/chunk_handoff.hpp"
#include "laminar/connector/detail/record_decoding.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/core/source.hpp"
#include "laminar/runtime/doorbell.hpp"

namespace laminar {

/// A UDP socket could not be bound or used, or (failing fast) a record
/// could not be decoded.
class udp_error : public error {
 public:
  using error::error;
};

/// Where to receive (bind): a port of 0 picks a free one (local_port()).
struct udp_endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
};

struct udp_options {
  std::size_t max_datagram_bytes = 65507;  // the largest UDP payload over IPv4
  std::size_t max_datagrams = 256;         // held between the I/O thread and the worker
  int receive_buffer_bytes = 0;            // SO_RCVBUF; 0 leaves the system's
};

/// What the sequence check found.
struct sequence_report {
  enum class kind : std::uint8_t { gap, duplicate, reordered };
  kind what = kind::gap;
  std::uint64_t first = 0;     // gap: the first number missing; otherwise the record's
  std::uint64_t last = 0;      // gap: one past the last missing; otherwise first + 1
  std::uint64_t datagram = 0;  // the 1-based number of the datagram that showed it

  [[nodiscard]] std::uint64_t count() const noexcept { return last - first; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(what, first, last, datagram);
  }
  friend bool operator==(const sequence_report&, const sequence_report&) = default;
};

namespace detail {

/// No sequence numbers: no check.
struct no_sequence {};

/// The sequence check: the next number expected, and which of the
/// `window` numbers below it have been seen (to tell a duplicate from a
/// late arrival).
class sequence_tracker {
 public:
  static constexpr std::uint64_t window = 4096;

  /// How `seq` fits; calls report(kind, first, last) for what it finds.
  /// False: a duplicate, not to be passed on.
  template <class Report>
  bool check(std::uint64_t seq, Report&& report) {
    if (!started_) {
      started_ = true;
      next_ = seq + 1;
      mark(seq);
      return true;
    }
    if (seq >= next_) {
      if (seq > next_) report(sequence_report::kind::gap, next_, seq);
      // Numbers now below the window are forgotten; those skipped are unseen.
      for (std::uint64_t s = next_; s < seq && s - next_ < window; ++s) unmark(s);
      next_ = seq + 1;
      mark(seq);
      return true;
    }
    if (next_ - seq > window || seen(seq)) {  // too old to tell: counted as a duplicate, never passed twice
      report(sequence_report::kind::duplicate, seq, seq + 1);
      return false;
    }
    mark(seq);
    report(sequence_report::kind::reordered, seq, seq + 1);
    return true;
  }
  [[nodiscard]] std::uint64_t next() const noexcept { return next_; }

  template <class Archive>
  void serialize(Archive& ar) {
    std::string bits = seen_.to_string();
    ar(started_, next_, bits);
    seen_ = std::bitset<window>(bits);
  }

 private:
  [[nodiscard]] bool seen(std::uint64_t s) const { return seen_.test(s % window); }
  void mark(std::uint64_t s) { seen_.set(s % window); }
  void unmark(std::uint64_t s) { seen_.reset(s % window); }

  bool started_ = false;
  std::uint64_t next_ = 0;
  std::bitset<window> seen_;
};

/// The I/O thread: a bound socket receiving datagrams into recycled buffers.
class udp_reader {
 public:
  udp_reader(const udp_endpoint& at, const udp_options& options)
      : options_(options), handoff_(options.max_datagrams, options.max_datagram_bytes), socket_(ctx_), timer_(ctx_) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(at.host, ec);
    if (ec) throw udp_error("udp source: '" + at.host + "' is not an IP address: " + ec.message());
    const boost::asio::ip::udp::endpoint local(address, at.port);
    socket_.open(local.protocol(), ec);
    if (!ec && options.receive_buffer_bytes > 0) {
      socket_.set_option(boost::asio::socket_base::receive_buffer_size(options.receive_buffer_bytes), ec);
    }
    if (!ec) socket_.bind(local, ec);
    if (ec) throw udp_error("udp source: binding " + at.host + ":" + std::to_string(at.port) + " failed: " + ec.message());
    port_ = socket_.local_endpoint().port();
    name_ = "udp " + at.host + ":" + std::to_string(port_);
    receive();
    thread_ = std::thread([this] { ctx_.run(); });
  }
  udp_reader(const udp_reader&) = delete;
  udp_reader& operator=(const udp_reader&) = delete;
  ~udp_reader() {
    boost::asio::post(ctx_, [this] {
      boost::system::error_code ignored;
      timer_.cancel();
      socket_.close(ignored);
      ctx_.stop();
    });
    thread_.join();
  }

  spsc_channel<std::string>& datagrams() noexcept { return handoff_.items(); }
  void recycle(std::string&& b) noexcept { handoff_.recycle(std::move(b)); }
  void attach(doorbell* bell) noexcept { handoff_.attach(bell); }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// Receiving failed for good ("" while it works).
  [[nodiscard]] bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }
  [[nodiscard]] const std::string& failure() const noexcept { return failure_; }

 private:
  void receive() {
    if (!holding_ && !handoff_.take_buffer(buffer_)) {
      // Every buffer is with the worker: the kernel's buffer takes the
      // next datagrams, or drops them (a gap the sequence shows).
      timer_.expires_after(std::chrono::microseconds(200));
      timer_.async_wait([this](const boost::system::error_code& e) {
        if (!e) receive();
      });
      return;
    }
    holding_ = true;
    buffer_.resize(options_.max_datagram_bytes);
    socket_.async_receive(boost::asio::buffer(buffer_.data(), buffer_.size()),
                          [this](const boost::system::error_code& e, std::size_t n) {
                            if (e == boost::asio::error::operation_aborted) return;
                            if (e && e != boost::asio::error::message_size) {
                              failure_ = "receiving failed: " + e.message();
                              failed_.store(true, std::memory_order_release);
                              handoff_.ring();
                              return;
                            }
                            buffer_.resize(n);
                            handoff_.hand_over(std::move(buffer_));
                            buffer_ = std::string();
                            holding_ = false;
                            receive();
                          });
  }
  udp_options options_;
  chunk_handoff<std::string> handoff_;  // I/O thread -> worker
  boost::asio::io_context ctx_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::steady_timer timer_;
  std::string buffer_;
  bool holding_ = false;  // buffer_ is one of the handoff's (an empty string is not)
  std::uint16_t port_ = 0;
  std::string name_;
  std::string failure_;
  std::atomic<bool> failed_{false};
  std::thread thread_;
};

}  // namespace detail

/// Records received in datagrams (see the top of this header).
template <class Decoder, class Sequence = detail::no_sequence, class DeadLetters = detail::fail_fast,
          class Reports = detail::discard_side_output>
class udp_source : public source_base<udp_source<Decoder, Sequence, DeadLetters, Reports>> {
  static constexpr bool sequenced = !std::is_same_v<Sequence, detail::no_sequence>;

 public:
  using value_type = detail::decoded_record_t<Decoder>;
  static constexpr std::string_view state_name = "udp_source";

  udp_source(std::unique_ptr<detail::udp_reader> reader, Decoder decoder, Sequence sequence = {},
             DeadLetters dead = {}, Reports reports = {}, std::stop_token stop = {})
      : reader_(std::move(reader)),
        decoding_(std::move(decoder), std::move(dead)),
        sequence_(std::move(sequence)),
        reports_(std::move(reports)),
        stop_(std::move(stop)) {}

  /// The record's sequence number: a pointer to an unsigned integer member,
  /// or a function of the record.
  template <class P>
  [[nodiscard]] auto sequence(P projection) && {
    static_assert(std::is_convertible_v<std::invoke_result_t<P&, const value_type&>, std::uint64_t>,
                  "laminar: udp source sequence(p): p must give the record's sequence number (an unsigned integer)");
    return udp_source<Decoder, P, DeadLetters, Reports>(std::move(reader_), decoding_.take_decoder(),
                                                        std::move(projection), take_dead(), std::move(reports_), stop_);
  }
  /// Gaps, duplicates and reordering, as sequence_report records, to `out`
  /// (a callable, or a side_records<sequence_report> by reference).
  template <class F>
  [[nodiscard]] auto gaps_to(F&& out) && {
    static_assert(std::is_invocable_v<std::remove_reference_t<F>&, const sequence_report&>,
                  "laminar: gaps_to(out): out must be callable with a const laminar::sequence_report&");
    return udp_source<Decoder, Sequence, DeadLetters, detail::side_output_holder_t<F>>(
        std::move(reader_), decoding_.take_decoder(), std::move(sequence_), take_dead(),
        detail::hold_side_output(std::forward<F>(out)), stop_);
  }
  /// Records the decoder refuses to `out` (dead_letter) instead of failing.
  template <class F>
  [[nodiscard]] auto dead_letters_to(F&& out) && {
    return udp_source<Decoder, Sequence, detail::side_output_holder_t<F>, Reports>(
        std::move(reader_), decoding_.take_decoder(), std::move(sequence_),
        detail::hold_dead_letters(std::forward<F>(out)), std::move(reports_), stop_);
  }
  /// Ends the stream once `stop` is requested (after what has arrived).
  [[nodiscard]] udp_source until(std::stop_token stop) && {
    stop_ = std::move(stop);
    return std::move(*this);
  }

  [[nodiscard]] auto context() const { return stream_context<value_type>{}; }

  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max_records) {
    std::size_t n = 0;
    while (n < max_records && !ended_) {
      if (pending_.empty()) {
        if (!reader_->datagrams().try_pop(pending_)) {
          if (reader_->failed()) throw udp_error(reader_->name() + ": " + reader_->failure());
          if (stop_.stop_requested() && !reader_->datagrams().ready()) ended_ = true;
          break;
        }
        ++datagram_;
        decoding_.start_stream();
      }
      const detail::read_step step = read_next(chain);
      if (step == detail::read_step::need_bytes || decoding_.position().offset >= pending_.size()) {
        reader_->recycle(std::move(pending_));  // read to its end
        pending_ = std::string();
      }
      if (step == detail::read_step::delivered) {
        ++n;
        if constexpr (stopping_chain<Chain>) {
          if (chain.stop_requested()) break;
        }
      }
    }
    return n;
  }
  [[nodiscard]] bool exhausted() const noexcept { return ended_; }
  [[nodiscard]] bool has_input() const noexcept {
    return ended_ || !pending_.empty() || reader_->datagrams().ready() || stop_.stop_requested() || reader_->failed();
  }
  void attach(detail::doorbell* bell) { reader_->attach(bell); }

  /// The port the socket is bound to.
  [[nodiscard]] std::uint16_t local_port() const noexcept { return reader_->port(); }
  [[nodiscard]] std::uint64_t datagrams() const noexcept { return datagram_; }
  /// Records passed on (duplicates are not).
  [[nodiscard]] std::uint64_t records() const noexcept { return decoding_.emitted() - duplicates_; }
  [[nodiscard]] std::uint64_t dead_letters() const noexcept { return decoding_.refused(); }
  [[nodiscard]] std::uint64_t gaps() const noexcept { return gaps_; }
  [[nodiscard]] std::uint64_t missing() const noexcept { return missing_; }
  [[nodiscard]] std::uint64_t duplicates() const noexcept { return duplicates_; }
  [[nodiscard]] std::uint64_t reordered() const noexcept { return reordered_; }

  void save_state(state_writer& w) const {
    decoding_.save_state(w);
    w(datagram_, gaps_, missing_, duplicates_, reordered_, tracker_);
    if constexpr (detail::stateful_side_output<Reports>) detail::side_output_target(reports_).save_state(w);
  }
  void load_state(state_reader& r) {
    decoding_.load_state(r);
    r(datagram_, gaps_, missing_, duplicates_, reordered_, tracker_);
    if constexpr (detail::stateful_side_output<Reports>) detail::side_output_target(reports_).load_state(r);
  }

 private:
  template <class D, class S, class L, class R>
  friend class udp_source;

  DeadLetters take_dead() { return decoding_.take_dead(); }

  // The datagram's next record: decoded, checked against the sequence and
  // passed on (delivered), or not (held_back: refused, or a duplicate).
  template <class Chain>
  detail::read_step read_next(Chain& chain) {
    const auto at = static_cast<std::size_t>(decoding_.position().offset);
    const std::string_view unread(pending_.data() + at, pending_.size() - at);
    const auto where = [this] { return this->where(); };
    // A datagram is whole: a record its end cuts off is refused.
    if constexpr (!sequenced) {
      return decoding_.template read_next<udp_error>(chain, unread, true, unread.size(), where, "udp source: ");
    } else {
      sequence_gate<Chain> gate{this, &chain};
      const detail::read_step step =
          decoding_.template read_next<udp_error>(gate, unread, true, unread.size(), where, "udp source: ");
      return step == detail::read_step::delivered && !gate.passed ? detail::read_step::held_back : step;
    }
  }

  // Between the decoder and the chain: the sequence check.
  template <class Chain>
  struct sequence_gate {
    udp_source* self;
    Chain* chain;
    bool passed = false;
    void on_event(const value_type& record) {
      const auto seq = static_cast<std::uint64_t>(std::invoke(self->sequence_, record));
      passed = self->tracker_.check(seq, [this](sequence_report::kind k, std::uint64_t first, std::uint64_t last) {
        self->report(k, first, last);
      });
      if (passed) chain->on_event(record);
    }
  };

  void report(sequence_report::kind k, std::uint64_t first, std::uint64_t last) {
    switch (k) {
      case sequence_report::kind::gap:
        ++gaps_;
        missing_ += last - first;
        break;
      case sequence_report::kind::duplicate: ++duplicates_; break;
      case sequence_report::kind::reordered: ++reordered_; break;
    }
    detail::side_output_target(reports_)(sequence_report{k, first, last, datagram_});
  }

  [[nodiscard]] std::string where() const { return reader_->name() + " datagram " + std::to_string(datagram_); }

  std::unique_ptr<detail::udp_reader> reader_;
  detail::record_decoding<Decoder, DeadLetters> decoding_;
  [[no_unique_address]] Sequence sequence_;
  Reports reports_;
  std::stop_token stop_;
  detail::sequence_tracker tracker_;
  std::string pending_;  // the datagram being decoded (the next record's offset: decoding_.position())
  std::uint64_t datagram_ = 0;
  std::uint64_t gaps_ = 0, missing_ = 0, duplicates_ = 0, reordered_ = 0;
  bool ended_ = false;
};

/// A source of the records in the datagrams received at `at` (bound now),
/// decoded by `decoder` (a codec, or a function of a record's bytes).
template <class Decoder>
auto from_udp(const udp_endpoint& at, Decoder decoder, udp_options options = {}) {
  if (options.max_datagrams == 0 || options.max_datagram_bytes == 0) {
    throw usage_error("laminar: udp_options: max_datagrams and max_datagram_bytes must be positive");
  }
  return udp_source<Decoder>(std::make_unique<detail::udp_reader>(at, options), std::move(decoder));
}

}  // namespace laminar
