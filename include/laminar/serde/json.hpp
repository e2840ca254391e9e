// JSON lines for described records (core/record_fields.hpp): one object
// per line, one member per field, a nested record as a nested object.
// Decoding parses with simdjson (Debian libsimdjson-dev, a compiled
// library: a program using this header links it, -lsimdjson, or CMake's
// simdjson::simdjson from find_package(simdjson)); encoding writes with
// nlohmann_json (Debian nlohmann-json3-dev, header-only).
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
// not describe are ignored (a producer may add fields); a member given
// twice is read twice, the last one counting. A line that is not JSON is
// an error at the byte where parsing stopped; a value of the wrong type or
// range is an error at the byte where the value starts (a missing member:
// where its object starts).
//
// A codec decodes on one thread at a time: it keeps simdjson's parser and a
// padded copy of the line from line to line (simdjson reads up to 64 bytes
// past a text's end), so a stream of lines allocates only the records'
// strings once the longest line has been seen. A copy of a codec starts
// with its own, empty buffers.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

// Debian's simdjson is built with threads, and its CMake target says so to
// every user (SIMDJSON_THREADS_ENABLED=1): its parser's layout depends on it.
#ifndef SIMDJSON_THREADS_ENABLED
#define SIMDJSON_THREADS_ENABLED 1
#endif
#include <simdjson.h>

#include "laminar/core/error.hpp"
#include "laminar/core/record_fields.hpp"
#include "laminar/serde/decode_error.hpp"
#include "laminar/serde/detail/scalar_text.hpp"

namespace laminar {

namespace detail {

// Where a value is: its member's name (for the error's field) and its
// place among its object's members (to find its bytes again), up to the
// root (no parent). Lives on the stack of a walk.
struct json_path {
  const json_path* parent = nullptr;
  std::string_view name;
  std::size_t ordinal = 0;

  // "outer.inner", and the ordinals from the root down.
  void spell(std::string& field, std::vector<std::size_t>& ordinals) const {
    if (parent == nullptr) return;
    parent->spell(field, ordinals);
    if (!field.empty()) field += '.';
    field += name;
    ordinals.push_back(ordinal);
  }
};

// ---- encoding: JSON text written directly ----

// Appends `text` as a JSON string: quoted, with '"', '\\' and the control
// characters escaped (\n, \t... or \u00XX), every other byte as it is
// (the caller knows the bytes are UTF-8).
inline void append_json_string(std::string_view text, std::string& out) {
  out += '"';
  std::size_t from = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + from, i - from);
    from = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        static constexpr char hex[] = "0123456789abcdef";
        const char escaped[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
        out.append(escaped, sizeof escaped);
      }
    }
  }
  out.append(text.data() + from, text.size() - from);
  out += '"';
}

// Appends a field's value as JSON text: a described record as an object
// whose members are its fields in description order. The `path` to the field
// (outer.inner) is spelled only for the error about a string that is not UTF-8.
template <class V>
void append_json_value(const V& v, std::string& out, const json_path& path) {
  if constexpr (described_record<V>) {
    out += '{';
    bool first = true;
    for_each_field(v, [&](std::string_view field, const auto& value) {
      if (!first) out += ',';
      first = false;
      append_json_string(field, out);  // a name is the program's own text: not checked for UTF-8
      out += ':';
      append_json_value(value, out, json_path{&path, field, 0});
    });
    out += '}';
  } else if constexpr (is_optional_scalar<V>) {
    if (v) {
      append_json_value(*v, out, path);
    } else {
      out += "null";
    }
  } else if constexpr (std::same_as<V, std::string>) {
    if (!simdjson::validate_utf8(v.data(), v.size())) {
      std::string field;
      std::vector<std::size_t> ordinals;
      path.spell(field, ordinals);
      throw usage_error("laminar: json: the string field '" + field + "' is not valid UTF-8, which JSON text must be");
    }
    append_json_string(v, out);
  } else if constexpr (std::is_floating_point_v<V>) {
    if (!std::isfinite(v)) {
      out += "null";  // JSON has no NaN or infinity
      return;
    }
    const std::size_t start = out.size();
    format_scalar(v, out);  // the shortest text that reads back the same
    // Written with a fraction (1.0, not 1), so it reads as a number with one.
    if (out.find_first_of(".e", start) == std::string::npos) out += ".0";
  } else if constexpr (std::same_as<V, bool> || std::same_as<V, timestamp> || std::same_as<V, duration> ||
                       std::is_enum_v<V> || std::is_integral_v<V>) {
    format_scalar(v, out);
  } else {
    static_assert(text_scalar<V>,
                  "laminar: json_codec: a field must be a number, bool, enum, std::string, timestamp, duration, a "
                  "std::optional of one, or a described record");
  }
}

// Parses `text` with nlohmann into `j`, or says why it cannot: not JSON
// (at the byte where parsing stopped), or a number beyond double. Never
// throws for the text.
inline std::optional<decode_error> parse_json_text(std::string_view text, nlohmann::json& j) {
  // nlohmann's message without its "[json.exception.parse_error.101] " prefix.
  const auto reason_of = [](const nlohmann::json::exception& e) {
    std::string_view what = e.what();
    if (const std::size_t close = what.find("] "); close != std::string_view::npos) what.remove_prefix(close + 2);
    return std::string(what);
  };
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte counts from 1; the error is at the byte before it.
    return decode_error{"", e.byte == 0 ? 0 : static_cast<std::size_t>(e.byte - 1), "not JSON: " + reason_of(e)};
  } catch (const nlohmann::json::exception& e) {  // a number beyond double (out_of_range 406)
    return decode_error{"", 0, "a number out of range: " + reason_of(e)};
  }
  return std::nullopt;
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

// Whether d converts to V without overflowing to infinity (it rounds to
// V's largest magnitude below max + half an ulp).
template <std::floating_point V>
bool fits_float(double d) noexcept {
  if constexpr (std::numeric_limits<V>::max_exponent >= std::numeric_limits<double>::max_exponent) {
    return true;
  } else {
    constexpr int half_ulp_exponent = std::numeric_limits<V>::max_exponent - std::numeric_limits<V>::digits - 1;
    const double limit = static_cast<double>(std::numeric_limits<V>::max()) + std::ldexp(1.0, half_ulp_exponent);
    return std::fabs(d) < limit;
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
    const double d = j.get<double>();
    if (!fits_float<V>(d)) return fail("a number in range");
    v = static_cast<V>(d);
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

// ---- decoding on simdjson ----

// Why a walk failed: the field, what was expected, and the value's place
// (its members' ordinals from the root), turned into a byte offset once.
struct json_fault {
  std::string field;
  std::vector<std::size_t> ordinals;
  std::string reason;

  bool at(const json_path& path, std::string why) {
    path.spell(field, ordinals);
    reason = std::move(why);
    return false;
  }
  bool missing(const json_path& object, std::string_view name) {
    object.spell(field, ordinals);  // the place is the object's
    if (!field.empty()) field += '.';
    field += name;
    reason = "missing";
    return false;
  }
};

// JSON's name for what a value is, for a decode error (as json_kind).
inline const char* simdjson_kind(simdjson::dom::element e) noexcept {
  switch (e.type()) {
    case simdjson::dom::element_type::NULL_VALUE: return "null";
    case simdjson::dom::element_type::BOOL: return "a bool";
    case simdjson::dom::element_type::STRING: return "a string";
    case simdjson::dom::element_type::OBJECT: return "an object";
    case simdjson::dom::element_type::ARRAY: return "an array";
    case simdjson::dom::element_type::DOUBLE: return "a number with a fraction";
    default: return "an integer";
  }
}

// Whether key is field I of R's name (a comparison of constant length,
// which the compiler inlines).
template <class R, std::size_t I>
bool is_field_named(std::string_view key) noexcept {
  constexpr std::string_view name = std::get<I>(fields_of<R>().fields).name;
  return key.size() == name.size() && std::memcmp(key.data(), name.data(), name.size()) == 0;
}

// R's field indices in the order of their names: the order json_codec
// writes members in, so the order a line's members most likely come in.
template <class R>
constexpr auto json_member_order() {
  constexpr auto fields = fields_of<R>().fields;
  return std::apply(
      [](const auto&... field) {
        std::array<std::pair<std::string_view, std::size_t>, sizeof...(field)> named{};
        std::size_t i = 0;
        ((named[i] = {field.name, i}, ++i), ...);
        std::sort(named.begin(), named.end());
        std::array<std::size_t, sizeof...(field)> order{};
        for (std::size_t k = 0; k < order.size(); ++k) order[k] = named[k].second;
        return order;
      },
      fields);
}

// Calls f(index, name, member) for the field of `record` called `key`,
// trying field `likely` first; false when the record describes none.
template <class R, class F, std::size_t... I>
bool visit_field_named(R& record, std::string_view key, std::size_t likely, F&& f, std::index_sequence<I...>) {
  constexpr auto fields = fields_of<R>().fields;
  const auto call = [&](auto index) {
    f(index, std::get<index>(fields).name, record.*(std::get<index>(fields).member));
    return true;
  };
  return ((likely == I && is_field_named<R, I>(key) && call(std::integral_constant<std::size_t, I>{})) || ...) ||
         ((likely != I && is_field_named<R, I>(key) && call(std::integral_constant<std::size_t, I>{})) || ...);
}

// Reads e into v (the mapping of from_json_value, on simdjson's document).
template <class V>
bool read_json(simdjson::dom::element e, V& v, const json_path& path, json_fault& fault) {
  using simdjson::dom::element_type;
  const auto fail = [&](const char* expected) {
    return fault.at(path, std::string("expected ") + expected + ", found " + simdjson_kind(e));
  };
  if constexpr (described_record<V>) {
    if (e.type() != element_type::OBJECT) return fail("an object");
    constexpr std::size_t n = decltype(fields_of<V>())::size;
    static constexpr std::array<std::size_t, n> likely = json_member_order<V>();
    std::array<bool, n> seen{};
    std::size_t ordinal = 0;
    const simdjson::dom::object object = e.get_object().value_unsafe();
    for (const simdjson::dom::key_value_pair member : object) {
      bool ok = true;
      visit_field_named(v, member.key, ordinal < n ? likely[ordinal] : 0,
                        [&](auto index, std::string_view name, auto& value) {
                          seen[index] = true;
                          ok = read_json(member.value, value, json_path{&path, name, ordinal}, fault);
                        },
                        std::make_index_sequence<n>{});
      if (!ok) return false;
      ++ordinal;
    }
    // The fields no member gave: none for an optional, an error otherwise.
    return std::apply(
        [&](const auto&... field) {
          std::size_t i = 0;
          return ([&] {
            using F = typename std::remove_cvref_t<decltype(field)>::value_type;
            if (seen[i++]) return true;
            if constexpr (is_optional_scalar<F>) {
              (v.*(field.member)).reset();
              return true;
            } else {
              return fault.missing(path, field.name);
            }
          }() && ...);
        },
        fields_of<V>().fields);
  } else if constexpr (is_optional_scalar<V>) {
    if (e.type() == element_type::NULL_VALUE) {
      v.reset();
      return true;
    }
    if (!v) v.emplace();
    return read_json(e, *v, path, fault);
  } else if constexpr (std::same_as<V, bool>) {
    if (e.type() != element_type::BOOL) return fail("true or false");
    v = e.get_bool().value_unsafe();
    return true;
  } else if constexpr (std::same_as<V, std::string>) {
    if (e.type() != element_type::STRING) return fail("a string");
    v.assign(e.get_string().value_unsafe());
    return true;
  } else if constexpr (std::same_as<V, timestamp> || std::same_as<V, duration>) {
    std::int64_t ns = 0;
    if (!read_json(e, ns, path, fault)) return false;
    v = V::from_nanos(ns);
    return true;
  } else if constexpr (std::is_enum_v<V>) {
    std::underlying_type_t<V> n{};
    if (!read_json(e, n, path, fault)) return false;
    v = static_cast<V>(n);
    return true;
  } else if constexpr (std::floating_point<V>) {
    double d = 0;
    switch (e.type()) {
      case element_type::DOUBLE: d = e.get_double().value_unsafe(); break;
      case element_type::INT64: d = static_cast<double>(e.get_int64().value_unsafe()); break;
      case element_type::UINT64: d = static_cast<double>(e.get_uint64().value_unsafe()); break;
      default: return fail("a number");
    }
    if (!fits_float<V>(d)) return fail("a number in range");
    v = static_cast<V>(d);
    return true;
  } else {
    static_assert(std::integral<V>);
    if (std::int64_t n = 0; e.get_int64().get(n) == simdjson::SUCCESS) {  // an integer in int64's range
      if constexpr (std::is_unsigned_v<V>) {
        if (n < 0 || static_cast<std::uint64_t>(n) > static_cast<std::uint64_t>(std::numeric_limits<V>::max())) {
          return fail("an integer in range");
        }
      } else {
        if (n < std::numeric_limits<V>::min() || n > std::numeric_limits<V>::max()) return fail("an integer in range");
      }
      v = static_cast<V>(n);
      return true;
    }
    if (e.type() == element_type::UINT64) {  // above int64's range
      const std::uint64_t n = e.get_uint64().value_unsafe();
      if (n > static_cast<std::uint64_t>(std::numeric_limits<V>::max())) return fail("an integer in range");
      v = static_cast<V>(n);
      return true;
    }
    return fail("an integer");
  }
}

// The byte where the value at `ordinals` starts in `text` (valid JSON,
// simdjson has read it): from the root, each ordinal the place of a member
// in the object reached so far. Past the end if the text is not as said.
inline std::size_t json_value_offset(std::string_view text, const std::vector<std::size_t>& ordinals) noexcept {
  std::size_t i = 0;
  const auto skip_space = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  };
  const auto skip_string = [&] {  // at the opening quote
    for (++i; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\') ++i;
    }
    ++i;
  };
  const auto skip_value = [&] {
    if (i < text.size() && text[i] == '"') return skip_string();
    if (i < text.size() && (text[i] == '{' || text[i] == '[')) {
      std::size_t depth = 0;
      while (i < text.size()) {
        const char c = text[i];
        if (c == '"') {
          skip_string();
          continue;
        }
        ++i;
        if (c == '{' || c == '[') {
          ++depth;
        } else if ((c == '}' || c == ']') && --depth == 0) {
          return;
        }
      }
      return;
    }
    while (i < text.size() && text[i] != ',' && text[i] != '}' && text[i] != ']' && text[i] != ' ' && text[i] != '\t' &&
           text[i] != '\n' && text[i] != '\r') {
      ++i;  // a number, true, false or null
    }
  };
  skip_space();
  for (const std::size_t ordinal : ordinals) {
    ++i;  // '{'
    for (std::size_t k = 0;; ++k) {
      skip_space();
      if (i >= text.size() || text[i] != '"') return text.size();
      skip_string();  // the name
      skip_space();
      ++i;  // ':'
      skip_space();
      if (k == ordinal) break;
      skip_value();
      skip_space();
      ++i;  // ','
    }
  }
  return std::min(i, text.size());
}

// A codec's decoding state: simdjson's parser, and the line copied where
// simdjson may read past it. Grows by doubling to the longest line, never
// shrinks; a copy starts empty.
class json_decode_buffers {
 public:
  json_decode_buffers() = default;
  json_decode_buffers(const json_decode_buffers&) noexcept {}
  json_decode_buffers& operator=(const json_decode_buffers&) noexcept { return *this; }
  json_decode_buffers(json_decode_buffers&&) noexcept = default;
  json_decode_buffers& operator=(json_decode_buffers&&) noexcept = default;
  ~json_decode_buffers() = default;

  /// Parses `line`; the document lives until the next parse.
  simdjson::error_code parse(std::string_view line, simdjson::dom::element& root) {
    if (line.empty()) return simdjson::EMPTY;
    if (line.size() > capacity_) {
      if (simdjson::error_code e = grow(line.size())) return e;
    }
    std::memcpy(text_.get(), line.data(), line.size());
    return parser_.parse(text_.get(), line.size(), false).get(root);
  }

 private:
  simdjson::error_code grow(std::size_t size) {
    const std::size_t capacity = std::max({size, 2 * capacity_, std::size_t{512}});
    text_ = std::make_unique<char[]>(capacity + simdjson::SIMDJSON_PADDING);  // zeroed
    capacity_ = capacity;
    // The parser's and the document's (else each grows to each longer line).
    if (simdjson::error_code e = parser_.allocate(capacity)) return e;
    return parser_.doc.allocate(capacity);
  }

  simdjson::dom::parser parser_;
  std::unique_ptr<char[]> text_;
  std::size_t capacity_ = 0;
};

}  // namespace detail

/// Encodes and decodes T as JSON lines.
template <described_record T>
class json_codec {
 public:
  /// Appends `record` as one JSON object (its fields in description
  /// order), and '\n'. JSON text is UTF-8: a string field that is not is a
  /// usage_error naming it (and nothing is appended).
  void encode(const T& record, std::string& out) const {
    const std::size_t start = out.size();
    try {
      detail::append_json_value(record, out, detail::json_path{});
    } catch (...) {
      out.resize(start);
      throw;
    }
    out += '\n';
  }

  /// Decodes one line (without its '\n'; a final CR is ignored).
  [[nodiscard]] decoded<T> decode(std::string_view line) const {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    simdjson::dom::element root;
    if (buffers_.parse(line, root) != simdjson::SUCCESS) {
      // Not JSON to simdjson: nlohmann says where and why (or, for what
      // simdjson refuses and JSON allows, an integer beyond 64 bits say,
      // reads it: the same rules).
      return decode_with_nlohmann(line);
    }
    T record{};
    detail::json_fault fault;
    if (!detail::read_json(root, record, detail::json_path{}, fault)) {
      return decode_error{std::move(fault.field), detail::json_value_offset(line, fault.ordinals), std::move(fault.reason)};
    }
    return record;
  }

 private:
  [[nodiscard]] static decoded<T> decode_with_nlohmann(std::string_view line) {
    nlohmann::json j;
    if (std::optional<decode_error> not_json = detail::parse_json_text(line, j)) return std::move(*not_json);
    T record{};
    decode_error error;
    if (!detail::from_json_value(j, record, "", error)) return error;
    return record;
  }

  mutable detail::json_decode_buffers buffers_;
};

}  // namespace laminar
