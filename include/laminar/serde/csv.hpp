// CSV (RFC 4180) for described records (core/record_fields.hpp): one row
// per record, one column per field, a nested record's fields flattened as
// "outer.inner", the type mapping of serde/detail/scalar_text.hpp.
//
//   csv_codec<quote> csv;                      // columns sym,bid,ask,last
//   std::string out = csv.header_row();        // "sym,bid,ask,last\n"
//   csv.encode(q, out);                        // appends one row and '\n'
//   decoded<quote> d = csv.decode(row);        // a row without its line end
//   if (!d) std::puts(d.error().message().c_str());
//
// A codec decodes on one thread at a time: it keeps the cells of the row
// it splits from row to row (a stream of rows allocates only its strings).
// Quoting: a field holding the delimiter, a quote, CR or LF is written in
// quotes, a quote in it doubled; decoding takes quoted fields anywhere and
// refuses a quote inside an unquoted field, text after a closing quote, a
// quote left open and a row with too few or too many fields, naming the
// field and the byte. A row may end in CR (CRLF line ends). A quoted field
// may hold a line break: csv_row_end finds where such a row ends in a
// buffer of text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/core/error.hpp"
#include "laminar/core/record_fields.hpp"
#include "laminar/serde/decode_error.hpp"
#include "laminar/serde/detail/scalar_text.hpp"
#include "laminar/serde/frame.hpp"

namespace laminar {

struct csv_format {
  char delimiter = ',';
};

/// The end of the first row of `text`: the offset of the '\n' that ends it
/// (a '\n' inside quotes does not), or npos when the text ends first.
[[nodiscard]] inline std::size_t csv_row_end(std::string_view text) noexcept {
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"') {
      quoted = !quoted;  // a doubled quote toggles twice
    } else if (text[i] == '\n' && !quoted) {
      return i;
    }
  }
  return std::string_view::npos;
}

namespace detail {

// Every leaf field of a described record (nested records flattened), in
// order: f(value) with a reference to the member.
template <class R, class F>
void for_each_csv_leaf(R& record, F& f) {
  for_each_field(record, [&f](std::string_view, auto& value) {
    using V = std::remove_const_t<std::remove_reference_t<decltype(value)>>;
    if constexpr (described_record<V>) {
      for_each_csv_leaf(value, f);
    } else {
      static_assert(text_scalar<V> || is_optional_scalar<V>,
                    "laminar: csv_codec: a field must be a number, bool, enum, std::string, timestamp, duration, a "
                    "std::optional of one, or a described record");
      f(value);
    }
  });
}

// The leaf columns' names of T, "outer.inner" for nested records.
template <class T>
void csv_column_names(std::string_view prefix, std::vector<std::string>& out) {
  std::apply(
      [&](const auto&... field) {
        (
            [&] {
              using V = typename std::remove_cvref_t<decltype(field)>::value_type;
              std::string name = prefix.empty() ? std::string(field.name) : std::string(prefix) + "." + std::string(field.name);
              if constexpr (described_record<V>) {
                csv_column_names<V>(name, out);
              } else {
                out.push_back(std::move(name));
              }
            }(),
            ...);
      },
      fields_of<T>().fields);
}

}  // namespace detail

/// Encodes and decodes T as CSV rows.
template <described_record T>
class csv_codec {
 public:
  explicit csv_codec(csv_format format = {}) : format_(format) {
    if (format.delimiter == '"' || format.delimiter == '\r' || format.delimiter == '\n') {
      throw usage_error("laminar: csv_codec: the delimiter cannot be a quote, CR or LF");
    }
    detail::csv_column_names<T>({}, columns_);
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (columns_[i] == columns_[j]) throw usage_error("laminar: csv_codec: two fields are called '" + columns_[i] + "'");
      }
      if (i != 0) header_ += format_.delimiter;
      append_quoted(columns_[i], header_);
    }
  }

  /// The columns, in order ("outer.inner" for a nested record's fields).
  [[nodiscard]] const std::vector<std::string>& columns() const noexcept { return columns_; }

  /// The header row, with its '\n'.
  [[nodiscard]] std::string header_row() const { return header_ + '\n'; }
  /// Whether `row` (without its '\n') is the header row.
  [[nodiscard]] bool is_header(std::string_view row) const {
    if (!row.empty() && row.back() == '\r') row.remove_suffix(1);
    return row == header_;
  }

  /// Frames rows in a stream: a row ends at a '\n' outside quotes
  /// (csv_row_end); at the end, what is left is the last row.
  [[nodiscard]] std::optional<frame> next_frame(std::string_view buffer, bool at_end) const noexcept {
    const std::size_t end = csv_row_end(buffer);
    if (end != std::string_view::npos) return frame{0, end, end + 1};
    if (at_end && !buffer.empty()) return frame{0, buffer.size(), buffer.size()};
    return std::nullopt;
  }

  /// Appends `record` as one row, and '\n'.
  void encode(const T& record, std::string& out) const {
    bool first = true;
    std::string text;
    auto put = [&](const auto& value) {
      if (!first) out += format_.delimiter;
      first = false;
      text.clear();
      using V = std::remove_cvref_t<decltype(value)>;
      if constexpr (detail::is_optional_scalar<V>) {
        if (value) detail::format_scalar(*value, text);
      } else {
        detail::format_scalar(value, text);
      }
      append_quoted(text, out);
    };
    detail::for_each_csv_leaf(record, put);
    out += '\n';
  }

  /// Decodes one row (without its '\n'; a final CR is ignored).
  [[nodiscard]] decoded<T> decode(std::string_view row) const {
    if (!row.empty() && row.back() == '\r') row.remove_suffix(1);
    cell_list& cells = cells_;
    cells.n = 0;
    if (auto bad = split(row, cells)) return std::move(*bad);
    if (cells.size() != columns_.size()) {
      return decode_error{"", row.size(),
                          "expected " + std::to_string(columns_.size()) + " fields, found " + std::to_string(cells.size())};
    }
    T record{};
    std::size_t i = 0;
    std::optional<decode_error> failed;
    std::string why;
    auto take = [&](auto& value) {
      const std::size_t at = i++;
      if (failed) return;
      const cell& c = cells[at];
      using V = std::remove_cvref_t<decltype(value)>;
      bool ok = true;
      const std::string_view text = c.text();
      if constexpr (detail::is_optional_scalar<V>) {
        if (text.empty()) {
          value.reset();
        } else {
          typename V::value_type v{};
          ok = detail::parse_scalar(text, v, why);
          if (ok) value = std::move(v);
        }
      } else {
        ok = detail::parse_scalar(text, value, why);
      }
      if (!ok) failed = decode_error{columns_[at], c.at, why + ", found '" + std::string(text) + "'"};
    };
    detail::for_each_csv_leaf(record, take);
    if (failed) return std::move(*failed);
    return record;
  }

 private:
  struct cell {
    std::string_view raw;   // between its quotes, or as it stands: into the row
    std::size_t at;         // its offset in the row
    bool doubled = false;   // quoted, with a doubled quote in it: `unescaped` holds it
    std::string unescaped;
    [[nodiscard]] std::string_view text() const noexcept { return doubled ? std::string_view(unescaped) : raw; }
  };
  // The cells of the row being decoded; kept from row to row, so that a
  // steady stream of rows allocates nothing here.
  struct cell_list {
    std::vector<cell> all;
    std::size_t n = 0;
    cell& add(std::string_view raw, std::size_t at, bool doubled) {
      if (n == all.size()) all.emplace_back();
      cell& c = all[n++];
      c.raw = raw;
      c.at = at;
      c.doubled = doubled;
      c.unescaped.clear();
      return c;
    }
    [[nodiscard]] std::size_t size() const noexcept { return n; }
    const cell& operator[](std::size_t i) const noexcept { return all[i]; }
  };

  // Splits a row into its fields; a malformed row is an error naming the
  // field (by its column, when within the columns) and the byte.
  std::optional<decode_error> split(std::string_view row, cell_list& cells) const {
    const auto column = [&](std::size_t k) { return k < columns_.size() ? columns_[k] : std::string(); };
    std::size_t i = 0;
    for (;;) {
      const std::size_t start = i;
      if (i < row.size() && row[i] == '"') {
        bool doubled = false;
        std::size_t j = i + 1;
        for (;; ++j) {
          if (j >= row.size()) return decode_error{column(cells.size()), start, "a quote is left open"};
          if (row[j] != '"') continue;
          if (j + 1 < row.size() && row[j + 1] == '"') {
            doubled = true;
            ++j;
            continue;
          }
          break;
        }
        cell& c = cells.add(row.substr(i + 1, j - i - 1), start, doubled);
        if (doubled) {
          for (std::size_t k = i + 1; k < j; ++k) {
            c.unescaped += row[k];
            if (row[k] == '"') ++k;  // the second of a doubled quote
          }
        }
        i = j + 1;
        if (i < row.size() && row[i] != format_.delimiter) {
          return decode_error{column(cells.size() - 1), i, "expected a delimiter after a closing quote"};
        }
      } else {
        std::size_t j = i;
        while (j < row.size() && row[j] != format_.delimiter) {
          if (row[j] == '"') return decode_error{column(cells.size()), j, "a quote inside an unquoted field"};
          ++j;
        }
        cells.add(row.substr(i, j - i), start, false);
        i = j;
      }
      if (i >= row.size()) return std::nullopt;
      ++i;  // the delimiter
    }
  }

  void append_quoted(std::string_view text, std::string& out) const {
    const char special[] = {format_.delimiter, '"', '\r', '\n'};
    if (text.find_first_of(std::string_view(special, sizeof special)) == std::string_view::npos) {
      out += text;
      return;
    }
    out += '"';
    for (const char c : text) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }

  csv_format format_;
  std::vector<std::string> columns_;
  std::string header_;  // without its '\n'
  mutable cell_list cells_;
};

}  // namespace laminar
