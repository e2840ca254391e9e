// What every source connector does with the bytes it reads: cut the next
// frame out of them (serde/frame.hpp), decode it with its decoder (a codec,
// or a function that throws to refuse), hand the record to the chain, or
// refuse it: a dead letter to the program's output, or (failing fast) the
// connector's error, naming the same. The connectors differ only in where
// the bytes come from (a file's blocks, a connection's chunks, datagrams).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "laminar/connector/dead_letter.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/serde/decode_error.hpp"
#include "laminar/serde/frame.hpp"

namespace laminar::detail {

template <class R>
struct decoded_value {
  using type = R;
};
template <class T>
struct decoded_value<decoded<T>> {
  using type = T;
};

/// A codec: decode(bytes) -> decoded<T>.
template <class D>
concept decoding_codec = requires(const D& d, std::string_view bytes) {
  { d.decode(bytes) } -> std::same_as<decoded<typename decoded_value<decltype(d.decode(bytes))>::type>>;
};

template <class D>
struct decoder_result {
  using type = std::remove_cvref_t<std::invoke_result_t<D&, std::string_view>>;
};
template <decoding_codec D>
struct decoder_result<D> {
  using type = decltype(std::declval<const D&>().decode(std::string_view{}));
};

/// The record type a decoder gives.
template <class D>
using decoded_record_t = typename decoded_value<typename decoder_result<D>::type>::type;

template <class D>
concept has_header_row = requires(const D& d, std::string_view row) {
  { d.is_header(row) } -> std::convertible_to<bool>;
};

/// How a source holds the output given to .dead_letters_to(out): a
/// callable taking a dead_letter, or a side_records<dead_letter> by
/// reference (checkpointed with the source).
template <class F>
side_output_holder_t<F> hold_dead_letters(F&& out) {
  static_assert(std::is_invocable_v<std::remove_reference_t<F>&, const dead_letter&>,
                "laminar: dead_letters_to(out): out must be callable with a const laminar::dead_letter&");
  return hold_side_output(std::forward<F>(out));
}

/// Where a source is in the stream it reads (a file, a connection, a
/// datagram).
struct stream_position {
  std::uint64_t offset = 0;  // the byte offset of the next frame
  std::uint64_t record = 0;  // the frames read before it
};

/// What read_next did.
enum class read_step : std::uint8_t {
  need_bytes,  // no whole frame in the bytes given
  delivered,   // a record went into the chain
  held_back,   // a frame was read: a header row, or a record refused
};

/// A source's decoder, its dead-letter output, its position in the stream
/// it reads and its counts.
template <class Decoder, class DeadLetters>
class record_decoding {
 public:
  using value_type = decoded_record_t<Decoder>;
  static constexpr bool failing_fast = std::is_same_v<DeadLetters, fail_fast>;

  record_decoding(Decoder decoder, DeadLetters dead) : decoder_(std::move(decoder)), dead_(std::move(dead)) {}

  [[nodiscard]] const Decoder& decoder() const noexcept { return decoder_; }
  Decoder&& take_decoder() noexcept { return std::move(decoder_); }
  DeadLetters&& take_dead() noexcept { return std::move(dead_); }

  /// The position in the current stream; start_stream() starts another.
  [[nodiscard]] const stream_position& position() const noexcept { return at_; }
  void start_stream(stream_position at = {}) noexcept { at_ = at; }

  /// Cuts the next frame out of `rest` (the stream's bytes from
  /// position().offset on; `at_end`: no more follow), moves past it and
  /// delivers it. need_bytes when `rest` holds no whole frame; then more
  /// than `max_record_bytes` bytes are an error (the framing is lost), as
  /// is a stream the codec cannot cut (framing_error). `where()` names the
  /// stream; errors are Error(prefix + where() + ": " + what).
  template <class Error, class Chain, class Where>
  read_step read_next(Chain& chain, std::string_view rest, bool at_end, std::size_t max_record_bytes, Where&& where,
                      const char* prefix) {
    std::optional<frame> fr;
    if (!rest.empty()) {
      try {
        fr = next_frame_of(decoder_, rest, at_end);
      } catch (const framing_error& e) {
        throw Error(prefix + where() + ": cannot cut records out of it at byte offset " + std::to_string(at_.offset) +
                    ": " + e.what());
      }
    }
    if (!fr) {
      if (!at_end && rest.size() >= max_record_bytes) {
        throw Error(prefix + where() + ": no record ends within " + std::to_string(max_record_bytes) +
                    " bytes of byte offset " + std::to_string(at_.offset) + " (max_record_bytes)");
      }
      return read_step::need_bytes;
    }
    const std::uint64_t offset = at_.offset;
    at_.offset += fr->size;
    ++at_.record;
    return deliver<Error>(chain, rest.substr(fr->payload_begin, fr->payload_size), offset, at_.record, where, prefix)
               ? read_step::delivered
               : read_step::held_back;
  }

  /// A record already cut out (a message): the `record`-th (1-based) of its
  /// stream, at `offset`: into the chain (true), skipped as a header row
  /// (the first of its stream, unless !may_be_header), or refused. `where()` names the stream; failing fast, a refusal throws
  /// Error(prefix + the dead letter's message).
  template <class Error, class Chain, class Where>
  bool deliver(Chain& chain, std::string_view payload, std::uint64_t offset, std::uint64_t record, Where&& where,
               const char* prefix, bool may_be_header = true) {
    if constexpr (has_header_row<Decoder>) {
      if (may_be_header && record == 1 && decoder_.is_header(payload)) return false;
    }
    decoded<value_type> d = decode(payload);
    if (!d.ok()) {
      ++refused_;
      dead_letter letter{std::string(payload), where(), offset, record, d.error()};
      if constexpr (failing_fast) {
        throw Error(prefix + letter.message());
      } else {
        side_output_target(dead_)(letter);
      }
      return false;
    }
    ++emitted_;
    chain.on_event(d.value());
    return true;
  }

  /// Records handed on, and records refused (dead letters).
  [[nodiscard]] std::uint64_t emitted() const noexcept { return emitted_; }
  [[nodiscard]] std::uint64_t refused() const noexcept { return refused_; }

  void save_state(state_writer& w) const {
    w(emitted_, refused_);
    if constexpr (stateful_side_output<DeadLetters>) side_output_target(dead_).save_state(w);
  }
  void load_state(state_reader& r) {
    r(emitted_, refused_);
    if constexpr (stateful_side_output<DeadLetters>) side_output_target(dead_).load_state(r);
  }

 private:
  decoded<value_type> decode(std::string_view bytes) {
    if constexpr (decoding_codec<Decoder>) {
      return decoder_.decode(bytes);
    } else {
      try {
        return decoder_(bytes);
      } catch (const std::exception& e) {
        return decode_error{"", 0, e.what()};
      }
    }
  }

  Decoder decoder_;
  DeadLetters dead_;
  stream_position at_;
  std::uint64_t emitted_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace laminar::detail
