// Debezium's JSON change events for described records
// (core/record_fields.hpp), decoded into changelog rows (core/changelog.hpp):
// a database table's changes, captured by Debezium, as a laminar
// changelog stream. On nlohmann_json, with json.hpp's type mapping for the
// rows (serde/json.hpp: the same fields, the same rules, the same errors).
//
//   debezium_codec<holding> cdc;
//   decoded<debezium_event<holding>> d = cdc.decode(message);  // one Kafka value, or one line
//   d.value().for_each_row([&](const change<holding>& row) { feed.push(row); },
//                          [&] { /* the table was truncated: every row of it is gone */ });
//
// A message is the envelope: {"schema": ..., "payload": {...}}, or the
// payload alone (schemas.enable=false). The payload's members:
//
//   op        "c" create, "r" read (a snapshot's row), "u" update, "d" delete, "t" truncate
//   before    the row before the change (an object of T's fields), or null
//   after     the row after it, or null
//   ts_ms     when the connector processed the change (optional)
//   source    where it came from; only its ts_ms (when the database made the change) is read
//
// and the rows an event gives:
//
//   c, r      +I after
//   u         -U before, +U after
//   d         -D before
//   t         no row: a truncate, which the caller must handle (for_each_row's
//             second function; or debezium_format{.truncate = debezium_truncate::error})
//   null      a Kafka tombstone (the value that follows a delete, for log
//             compaction): no row, op() == tombstone
//
// A row that is needed and null (an update's before when the source table
// does not log whole old rows, PostgreSQL's REPLICA IDENTITY other than
// FULL), or a row missing one of T's fields (a delete's before holding only
// the key), is a decode_error: the codec never makes up a retraction.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "laminar/core/changelog.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/record_fields.hpp"
#include "laminar/serde/decode_error.hpp"
#include "laminar/serde/json.hpp"

namespace laminar {

/// What a Debezium event says happened.
enum class debezium_op : std::uint8_t {
  create,     // "c": +I after
  read,       // "r": a row of a snapshot: +I after
  update,     // "u": -U before, +U after
  remove,     // "d": -D before
  truncate,   // "t": every row of the table removed; no row of its own
  tombstone,  // a null message (after a delete, for Kafka's log compaction): nothing changed
};

/// "c", "r", "u", "d", "t", or "tombstone".
constexpr const char* to_string(debezium_op op) noexcept {
  switch (op) {
    case debezium_op::create: return "c";
    case debezium_op::read: return "r";
    case debezium_op::update: return "u";
    case debezium_op::remove: return "d";
    case debezium_op::truncate: return "t";
    case debezium_op::tombstone: return "tombstone";
  }
  return "?";
}

/// One Debezium event: its op, its times, and the changelog rows it gives
/// (none, one, or two for an update). Made by debezium_codec::decode, or
/// by the functions below for encoding.
template <class T>
class debezium_event {
 public:
  std::optional<std::int64_t> ts_ms;         // payload.ts_ms: when the connector processed the change
  std::optional<std::int64_t> source_ts_ms;  // source.ts_ms: when the database made it

  [[nodiscard]] static debezium_event created(T after) { return {debezium_op::create, change_kind::insert, std::move(after)}; }
  [[nodiscard]] static debezium_event read(T after) { return {debezium_op::read, change_kind::insert, std::move(after)}; }
  [[nodiscard]] static debezium_event updated(T before, T after) {
    debezium_event e{debezium_op::update, change_kind::update_before, std::move(before)};
    e.rows_[1] = change<T>{std::move(after), change_kind::update_after};
    e.n_ = 2;
    return e;
  }
  [[nodiscard]] static debezium_event deleted(T before) { return {debezium_op::remove, change_kind::remove, std::move(before)}; }
  [[nodiscard]] static debezium_event truncated() { return debezium_event(debezium_op::truncate); }
  [[nodiscard]] static debezium_event tombstone() { return debezium_event(debezium_op::tombstone); }

  [[nodiscard]] debezium_op op() const noexcept { return op_; }
  /// Whether the table was truncated: every row it held is gone, and no
  /// row here says so.
  [[nodiscard]] bool truncate() const noexcept { return op_ == debezium_op::truncate; }

  /// The rows, in order: +I; -U then +U; -D; or none (truncate, tombstone).
  [[nodiscard]] std::span<const change<T>> rows() const noexcept { return {rows_.data(), n_}; }
  [[nodiscard]] std::span<change<T>> rows() noexcept { return {rows_.data(), n_}; }

  /// Calls on_row(row) for each row, in order, or on_truncate() for a
  /// truncate: a truncate is never passed over silently.
  template <class OnRow, class OnTruncate>
  void for_each_row(OnRow&& on_row, OnTruncate&& on_truncate) const {
    if (truncate()) {
      on_truncate();
      return;
    }
    for (const change<T>& row : rows()) on_row(row);
  }

  friend bool operator==(const debezium_event& a, const debezium_event& b)
    requires std::equality_comparable<T>
  {
    if (a.op_ != b.op_ || a.ts_ms != b.ts_ms || a.source_ts_ms != b.source_ts_ms || a.n_ != b.n_) return false;
    for (std::size_t i = 0; i < a.n_; ++i) {
      if (!(a.rows_[i] == b.rows_[i])) return false;
    }
    return true;
  }

 private:
  explicit debezium_event(debezium_op op) : op_(op) {}
  debezium_event(debezium_op op, change_kind kind, T row) : op_(op), n_(1) {
    rows_[0] = change<T>{std::move(row), kind};
  }

  debezium_op op_;
  std::array<change<T>, 2> rows_{};
  std::size_t n_ = 0;
};

/// What decode does with a truncate.
enum class debezium_truncate : std::uint8_t {
  event,  // an event with truncate() true (the default)
  error,  // a decode_error, for a pipeline that cannot take one
};

struct debezium_format {
  debezium_truncate truncate = debezium_truncate::event;
};

/// Decodes Debezium change events of a table of T rows into changelog
/// rows, and encodes rows as events.
template <described_record T>
class debezium_codec {
 public:
  explicit debezium_codec(debezium_format format = {}) : format_(format) {}

  /// Decodes one message: the envelope or the payload alone; trailing
  /// whitespace (a line end) is ignored.
  [[nodiscard]] decoded<debezium_event<T>> decode(std::string_view message) const {
    nlohmann::json j;
    if (std::optional<decode_error> not_json = detail::parse_json_text(message, j)) return std::move(*not_json);
    if (j.is_null()) return debezium_event<T>::tombstone();
    if (!j.is_object()) return decode_error{"", 0, std::string("expected an object, found ") + detail::json_kind(j)};
    const nlohmann::json* payload = &j;
    if (const auto it = j.find("payload"); it != j.end()) {
      if (it->is_null()) return debezium_event<T>::tombstone();
      if (!it->is_object()) {
        return decode_error{"payload", 0, std::string("expected an object, found ") + detail::json_kind(*it)};
      }
      payload = &*it;
    }
    return decode_payload(*payload);
  }

  /// Appends `event` as one payload (schemas.enable=false) on one line, its
  /// members in Debezium's order:
  /// {"before":...,"after":...,"source":{"ts_ms":...},"op":"u","ts_ms":...}
  /// and '\n' (a truncate has no before and after); a tombstone is the
  /// line "null". As json_codec, a string field that is not UTF-8 is a
  /// usage_error naming it (and nothing is appended).
  void encode(const debezium_event<T>& event, std::string& out) const {
    if (event.op() == debezium_op::tombstone) {
      out += "null\n";
      return;
    }
    const std::size_t start = out.size();
    try {
      out += '{';
      if (event.op() != debezium_op::truncate) {
        const T* before = nullptr;
        const T* after = nullptr;
        for (const change<T>& row : event.rows()) {
          const bool old = row.kind == change_kind::update_before || row.kind == change_kind::remove;
          (old ? before : after) = &static_cast<const T&>(row);
        }
        append_row("\"before\":", before, out);
        append_row(",\"after\":", after, out);
        out += ',';
      }
      out += "\"source\":{";
      if (event.source_ts_ms) {
        out += "\"ts_ms\":";
        detail::format_scalar(*event.source_ts_ms, out);
      }
      out += "},\"op\":\"";
      out += to_string(event.op());
      out += '"';
      if (event.ts_ms) {
        out += ",\"ts_ms\":";
        detail::format_scalar(*event.ts_ms, out);
      }
      out += "}\n";
    } catch (...) {
      out.resize(start);
      throw;
    }
  }

  /// Appends one row as an event: +I as a create, -D as a delete. An
  /// update is two rows: encode a debezium_event::updated; a lone -U or +U
  /// is a usage_error.
  void encode(const change<T>& row, std::string& out) const {
    if (row.kind == change_kind::insert) {
      encode(debezium_event<T>::created(static_cast<const T&>(row)), out);
    } else if (row.kind == change_kind::remove) {
      encode(debezium_event<T>::deleted(static_cast<const T&>(row)), out);
    } else {
      throw usage_error(std::string("laminar: debezium_codec: a ") + to_string(row.kind) +
                        " row alone is not an event: encode debezium_event::updated(before, after)");
    }
  }

 private:
  decoded<debezium_event<T>> decode_payload(const nlohmann::json& p) const {
    decode_error error;
    // op
    const auto op_it = p.find("op");
    if (op_it == p.end()) return decode_error{"op", 0, "missing"};
    if (!op_it->is_string()) return decode_error{"op", 0, std::string("expected a string, found ") + detail::json_kind(*op_it)};
    const std::string& op_text = op_it->get_ref<const std::string&>();
    std::optional<debezium_op> op;
    if (op_text == "c") op = debezium_op::create;
    if (op_text == "r") op = debezium_op::read;
    if (op_text == "u") op = debezium_op::update;
    if (op_text == "d") op = debezium_op::remove;
    if (op_text == "t") op = debezium_op::truncate;
    if (!op) return decode_error{"op", 0, "expected one of c, r, u, d, t, found '" + op_text + "'"};
    // the times
    std::optional<std::int64_t> ts_ms, source_ts_ms;
    if (!read_time(p, "ts_ms", "ts_ms", ts_ms, error)) return error;
    if (const auto it = p.find("source"); it != p.end() && !it->is_null()) {
      if (!it->is_object()) return decode_error{"source", 0, std::string("expected an object, found ") + detail::json_kind(*it)};
      if (!read_time(*it, "ts_ms", "source.ts_ms", source_ts_ms, error)) return error;
    }
    // the rows
    std::optional<debezium_event<T>> event;
    switch (*op) {
      case debezium_op::create:
      case debezium_op::read: {
        T after{};
        if (!read_row(p, "after", *op, after, error)) return error;
        event = *op == debezium_op::create ? debezium_event<T>::created(std::move(after))
                                           : debezium_event<T>::read(std::move(after));
        break;
      }
      case debezium_op::update: {
        T before{}, after{};
        if (!read_row(p, "before", *op, before, error) || !read_row(p, "after", *op, after, error)) return error;
        event = debezium_event<T>::updated(std::move(before), std::move(after));
        break;
      }
      case debezium_op::remove: {
        T before{};
        if (!read_row(p, "before", *op, before, error)) return error;
        event = debezium_event<T>::deleted(std::move(before));
        break;
      }
      default:  // truncate: the table, not a row
        if (format_.truncate == debezium_truncate::error) {
          return decode_error{"op", 0, "a truncate (op t), which this codec is set to refuse (debezium_truncate::error)"};
        }
        event = debezium_event<T>::truncated();
        break;
    }
    event->ts_ms = ts_ms;
    event->source_ts_ms = source_ts_ms;
    return std::move(*event);
  }

  // Reads the integer member `name` of `object` (absent or null: none).
  static bool read_time(const nlohmann::json& object, const char* name, const char* path, std::optional<std::int64_t>& v,
                        decode_error& error) {
    const auto it = object.find(name);
    if (it == object.end() || it->is_null()) return true;
    std::int64_t n = 0;
    if (!detail::from_json_value(*it, n, path, error)) return false;
    v = n;
    return true;
  }

  // Reads the row `name` ("before" or "after") that an op of this kind needs.
  static bool read_row(const nlohmann::json& p, const char* name, debezium_op op, T& row, decode_error& error) {
    static constexpr const char* what[] = {"a create (op c)", "a snapshot read (op r)", "an update (op u)",
                                           "a delete (op d)"};
    const std::string needs = std::string(what[static_cast<std::size_t>(op)]) + " needs the row " +
                              (name[0] == 'b' ? "before it" : "after it");
    const auto it = p.find(name);
    if (it == p.end()) {
      error = decode_error{name, 0, "missing: " + needs};
      return false;
    }
    if (it->is_null()) {
      std::string reason = "found null: " + needs;
      if (op == debezium_op::update && name[0] == 'b') {
        reason += " (the source must log whole old rows: PostgreSQL's REPLICA IDENTITY FULL)";
      }
      error = decode_error{name, 0, std::move(reason)};
      return false;
    }
    return detail::from_json_value(*it, row, name, error);
  }

  static void append_row(const char* member, const T* row, std::string& out) {
    out += member;
    if (row == nullptr) {
      out += "null";
    } else {
      detail::append_json_value(*row, out, detail::json_path{});
    }
  }

  debezium_format format_;
};

}  // namespace laminar
