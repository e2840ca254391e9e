// What a codec says of input it cannot decode: which field, where, and
// what it expected. A decoder never throws for bad input and never
// guesses: it returns the record or this (decoded<T>), and the caller
// routes it (a dead letter) or stops (fail-fast) with the reason intact.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "laminar/core/error.hpp"

namespace laminar {

/// Why a record could not be decoded.
struct decode_error {
  std::string field;        // the field's name ("quote.bid" nested), or empty for the record as a whole
  std::size_t position = 0;  // where in the record's bytes: the offset its field or the fault starts at
  std::string reason;        // what was expected, and what was found

  /// "field 'bid' at byte 12: expected a number, found 'abc'".
  [[nodiscard]] std::string message() const {
    std::string m = field.empty() ? std::string("the record") : "field '" + field + "'";
    m += " at byte " + std::to_string(position) + ": " + reason;
    return m;
  }
  friend bool operator==(const decode_error&, const decode_error&) = default;
};

/// A record decoded, or why it could not be.
template <class T>
class decoded {
 public:
  decoded(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor): a decoder returns either
  decoded(decode_error e) : error_(std::move(e)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  /// The record; a usage_error naming the decode error if there is none.
  [[nodiscard]] T& value() & {
    if (!value_) throw usage_error("laminar: decoded::value() of a record that failed to decode: " + error_.message());
    return *value_;
  }
  [[nodiscard]] T&& value() && { return std::move(value()); }
  [[nodiscard]] const decode_error& error() const noexcept { return error_; }

 private:
  std::optional<T> value_;
  decode_error error_;
};

}  // namespace laminar
