// JSON lines for described records (core/record_fields.hpp), on
// nlohmann_json (Debian nlohmann-json3-dev): one object per line, one
// member per field, a nested record as a nested object.
//
//   json_codec<quote> json;
//   json.encode(q, out);                        // appends {"sym":"AB","bid":{"px":1.5,...},...} and '\n'
//   decoded<quote> d = json.decode(line);       // one object, without its '\n'
//
// The type mapping, checked both ways (a value of another JSON type, or a
// number out of its field's range, is a decode_error naming the field):
//
//   bool                   true / false
//   integers, enums        an integer (an enum by its underlying integer); a
//                          number with a fraction or exponent is refused
//   float, double          any number; encoded as the shortest that reads back the same
//   std::string            a string
//   timestamp, duration    an integer: nanoseconds
//   std::optional<V>       V, or null; a missing member is none too
//   a described record     an object
//
// A missing member of any other type is an error; members the record does
// not describe are ignored (a producer may add fields). A line that is not
// JSON is an error at the byte where parsing stopped.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "laminar/core/error.hpp"
#include "laminar/core/record_fields.hpp"
#include "laminar/serde/decode_error.hpp"
#include "laminar/serde/detail/scalar_text.hpp"

namespace laminar {

namespace detail {

template <class V>
nlohmann::json to_json_value(const V& v) {
  if constexpr (described_record<V>) {
    nlohmann::json object = nlohmann::json::object();
    for_each_field(v, [&object](std::string_view name, const auto& value) {
      object[std::string(name)] = to_json_value(value);
    });
    return object;
  } else if constexpr (is_optional_scalar<V>) {
    return v ? to_json_value(*v) : nlohmann::json(nullptr);
  } else if constexpr (std::same_as<V, timestamp> || std::same_as<V, duration>) {
    return v.nanos();
  } else if constexpr (std::is_enum_v<V>) {
    return static_cast<std::underlying_type_t<V>>(v);
  } else {
    static_assert(text_scalar<V>,
                  "laminar: json_codec: a field must be a number, bool, enum, std::string, timestamp, duration, a "
                  "std::optional of one, or a described record");
    return v;
  }
}

// JSON's name for what a value is, for a decode error.
inline const char* json_kind(const nlohmann::json& j) noexcept {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "a bool";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::number_float: return "a number with a fraction";
    default: return "an integer";
  }
}

// Reads j into v; a failure names the field (`path`) and what was expected.
template <class V>
bool from_json_value(const nlohmann::json& j, V& v, const std::string& path, decode_error& error) {
  const auto fail = [&](std::string expected) {
    error = decode_error{path, 0, "expected " + std::move(expected) + ", found " + json_kind(j)};
    return false;
  };
  if constexpr (described_record<V>) {
    if (!j.is_object()) return fail("an object");
    bool ok = true;
    for_each_field(v, [&](std::string_view name, auto& value) {
      if (!ok) return;
      using F = std::remove_cvref_t<decltype(value)>;
      const std::string member = path.empty() ? std::string(name) : path + "." + std::string(name);
      const auto it = j.find(name);
      if (it == j.end()) {
        if constexpr (is_optional_scalar<F>) {
          value.reset();
        } else {
          error = decode_error{member, 0, "missing"};
          ok = false;
        }
        return;
      }
      ok = from_json_value(*it, value, member, error);
    });
    return ok;
  } else if constexpr (is_optional_scalar<V>) {
    if (j.is_null()) {
      v.reset();
      return true;
    }
    typename V::value_type inner{};
    if (!from_json_value(j, inner, path, error)) return false;
    v = std::move(inner);
    return true;
  } else if constexpr (std::same_as<V, bool>) {
    if (!j.is_boolean()) return fail("true or false");
    v = j.get<bool>();
    return true;
  } else if constexpr (std::same_as<V, std::string>) {
    if (!j.is_string()) return fail("a string");
    v = j.get_ref<const std::string&>();
    return true;
  } else if constexpr (std::same_as<V, timestamp> || std::same_as<V, duration>) {
    std::int64_t ns = 0;
    if (!from_json_value(j, ns, path, error)) return false;
    v = V::from_nanos(ns);
    return true;
  } else if constexpr (std::is_enum_v<V>) {
    std::underlying_type_t<V> n{};
    if (!from_json_value(j, n, path, error)) return false;
    v = static_cast<V>(n);
    return true;
  } else if constexpr (std::floating_point<V>) {
    if (!j.is_number()) return fail("a number");
    v = j.get<V>();
    return true;
  } else {
    static_assert(std::integral<V>);
    if (j.is_number_unsigned()) {
      const auto n = j.get<std::uint64_t>();
      if (n > static_cast<std::uint64_t>(std::numeric_limits<V>::max())) return fail("an integer in range");
      v = static_cast<V>(n);
      return true;
    }
    if (j.is_number_integer()) {
      const auto n = j.get<std::int64_t>();
      if constexpr (std::is_unsigned_v<V>) {
        if (n < 0) return fail("an integer in range");
      } else {
        if (n < std::numeric_limits<V>::min() || n > std::numeric_limits<V>::max()) return fail("an integer in range");
      }
      v = static_cast<V>(n);
      return true;
    }
    return fail("an integer");
  }
}

}  // namespace detail

/// Encodes and decodes T as JSON lines.
template <described_record T>
class json_codec {
 public:
  /// Appends `record` as one JSON object, and '\n'.
  /// JSON text is UTF-8: a string field that is not is a usage_error.
  void encode(const T& record, std::string& out) const {
    try {
      out += detail::to_json_value(record).dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
    } catch (const nlohmann::json::type_error& e) {
      throw usage_error(std::string("laminar: json_codec: a string field is not valid UTF-8, which JSON text must be: ") +
                        e.what());
    }
    out += '\n';
  }

  /// Decodes one line (without its '\n'; a final CR is ignored).
  [[nodiscard]] decoded<T> decode(std::string_view line) const {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line.begin(), line.end());
    } catch (const nlohmann::json::parse_error& e) {
      // e.byte counts from 1; the error is at the byte before it.
      return decode_error{"", e.byte == 0 ? 0 : static_cast<std::size_t>(e.byte - 1), "not JSON: " + reason_of(e)};
    }
    T record{};
    decode_error error;
    if (!detail::from_json_value(j, record, "", error)) return error;
    return record;
  }

 private:
  // nlohmann's message without its "[json.exception.parse_error.101] " prefix.
  static std::string reason_of(const nlohmann::json::parse_error& e) {
    std::string_view what = e.what();
    if (const std::size_t close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
    return std::string(what);
  }
};

}  // namespace laminar
