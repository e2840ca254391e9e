// What every source connector does with a frame's bytes: decode them with
// its decoder (a codec, or a function that throws to refuse), hand the
// record to the chain, or refuse it: a dead letter to the program's output,
// or (failing fast) the connector's error, naming the same.
#pragma once

#include <concepts>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "laminar/connector/dead_letter.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/serde/decode_error.hpp"

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

/// A source's decoder, its dead-letter output and its counts.
template <class Decoder, class DeadLetters>
class record_decoding {
 public:
  using value_type = decoded_record_t<Decoder>;
  static constexpr bool failing_fast = std::is_same_v<DeadLetters, fail_fast>;

  record_decoding(Decoder decoder, DeadLetters dead) : decoder_(std::move(decoder)), dead_(std::move(dead)) {}

  [[nodiscard]] const Decoder& decoder() const noexcept { return decoder_; }
  Decoder&& take_decoder() noexcept { return std::move(decoder_); }
  DeadLetters&& take_dead() noexcept { return std::move(dead_); }

  /// The `record`-th frame (1-based) of its file or connection, at byte
  /// `offset`: into the chain (true), skipped as a header row, or refused.
  /// `where()` names the file or connection; failing fast, a refusal
  /// throws Error(prefix + the dead letter's message).
  template <class Error, class Chain, class Where>
  bool deliver(Chain& chain, std::string_view payload, std::uint64_t offset, std::uint64_t record, Where&& where,
               const char* prefix) {
    if constexpr (has_header_row<Decoder>) {
      if (record == 1 && decoder_.is_header(payload)) return false;
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
  std::uint64_t emitted_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace laminar::detail
