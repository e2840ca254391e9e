// What a codec says of input it cannot decode: which field, where, and
// what it expected. A decoder never throws for bad input and never
// guesses: it returns the record or this (decoded<T>), and the caller
// routes it (a dead letter) or stops (fail-fast) with the reason intact.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <variant>

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

/// A record decoded, or why it could not be. Holding a record costs no
/// more than the record: the error exists only when there is one.
template <class T>
class decoded {
 public:
  decoded(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor): a decoder returns either
  decoded(decode_error e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT(google-explicit-constructor)
  /// A default record, for a decoder to fill in place.
  explicit decoded(std::in_place_t) : v_(std::in_place_index<0>) {}

  [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  /// The record; a usage_error naming the decode error if there is none.
  [[nodiscard]] T& value() & {
    if (!ok()) fail();
    return *std::get_if<0>(&v_);
  }
  [[nodiscard]] const T& value() const& {
    if (!ok()) fail();
    return *std::get_if<0>(&v_);
  }
  [[nodiscard]] T&& value() && { return std::move(value()); }
  /// Why it failed (an empty error when it did not).
  [[nodiscard]] const decode_error& error() const noexcept {
    static const decode_error none{};
    const decode_error* e = std::get_if<1>(&v_);
    return e != nullptr ? *e : none;
  }

 private:
  [[noreturn, gnu::cold]] void fail() const {
    throw usage_error("laminar: decoded::value() of a record that failed to decode: " + error().message());
  }

  std::variant<T, decode_error> v_;
};

}  // namespace laminar
