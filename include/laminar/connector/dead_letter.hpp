// What a connector does with a record it cannot decode. By default it
// fails fast: the stream stops with an error naming the source, where in it
// the record was, and why it was refused. Given a dead-letter output
// (`.dead_letters_to(out)`), it hands that output a dead_letter instead,
// counts it and goes on. Either way nothing is dropped silently.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "laminar/serde/decode_error.hpp"

namespace laminar {

/// A record a source could not decode: its bytes as read, where they came
/// from, and why they were refused.
struct dead_letter {
  std::string raw;           // the record's bytes (its frame's payload), as read
  std::string source;        // "file '/data/trades.jsonl'", "tcp 127.0.0.1:9000 connection 2"...
  std::uint64_t offset = 0;  // the byte offset of its frame in the file or the connection's stream
  std::uint64_t record = 0;  // its 1-based number among the frames of that file or connection
  decode_error error;        // the field, its byte in `raw` and the reason

  /// "file 'in.jsonl': record 3 (byte offset 120): field 'px' at byte 6: expected a number, found "x"".
  [[nodiscard]] std::string message() const {
    return source + ": record " + std::to_string(record) + " (byte offset " + std::to_string(offset) +
           "): " + error.message();
  }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(raw, source, offset, record, error.field, error.position, error.reason);
  }
  friend bool operator==(const dead_letter&, const dead_letter&) = default;
};

namespace detail {

/// No dead-letter output given: a record that cannot be decoded stops the
/// stream (the source throws its own error type with dead_letter::message()).
struct fail_fast {};

}  // namespace detail
}  // namespace laminar
