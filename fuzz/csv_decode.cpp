// Fuzz target: csv_codec<order>::decode and csv_row_end
// (laminar/serde/csv.hpp).
//
// The input is a buffer of CSV text. Checked:
//  - csv_row_end returns npos or the offset of a '\n' in the buffer;
//  - the buffer cut into rows by csv_row_end, each row decodes to a record
//    or a decode_error (never throws, never crashes), with three codecs
//    (delimiters ',', ';' and tab);
//  - a decode_error's position lies within the row;
//  - a record that decodes encodes to one row ending in its only unquoted
//    '\n' (csv_row_end finds it), and that row decodes to an equal record
//    (NaN equal to NaN), which encodes to the same bytes again.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "laminar/serde/csv.hpp"
#include "records.hpp"

namespace {

using laminar_fuzz::order;

void check_row(const laminar::csv_codec<order>& csv, std::string_view row) {
  laminar::decoded<order> d = csv.decode(row);
  if (!d) {
    if (d.error().position > row.size()) laminar_fuzz::finding("csv_decode", "a decode_error's position is past the row: " + d.error().message());
    (void)d.error().message();
    return;
  }
  std::string out;
  csv.encode(d.value(), out);
  if (out.empty() || out.back() != '\n') laminar_fuzz::finding("csv_decode", "encode did not end its row in '\\n'");
  if (laminar::csv_row_end(out) != out.size() - 1) {
    laminar_fuzz::finding("csv_decode", "csv_row_end does not find the end of an encoded row: " + out);
  }
  const std::string_view encoded(out.data(), out.size() - 1);
  laminar::decoded<order> again = csv.decode(encoded);
  if (!again) laminar_fuzz::finding("csv_decode", "an encoded record does not decode: " + again.error().message() + " in " + out);
  if (!laminar_fuzz::same(d.value(), again.value())) laminar_fuzz::finding("csv_decode", "the round trip changed the record: " + out);
  std::string out2;
  csv.encode(again.value(), out2);
  if (out2 != out) laminar_fuzz::finding("csv_decode", "a record encodes differently after a round trip: " + out + " then " + out2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const laminar::csv_codec<order> codecs[] = {laminar::csv_codec<order>(laminar::csv_format{','}),
                                                     laminar::csv_codec<order>(laminar::csv_format{';'}),
                                                     laminar::csv_codec<order>(laminar::csv_format{'\t'})};
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // csv_row_end on the whole buffer, then row by row as a reader would.
  for (;;) {
    const std::size_t end = laminar::csv_row_end(text);
    if (end != std::string_view::npos && (end >= text.size() || text[end] != '\n')) {
      laminar_fuzz::finding("csv_decode", "csv_row_end returned an offset that is not a '\\n'");
    }
    const std::string_view row = text.substr(0, end);
    for (const auto& csv : codecs) {
      (void)csv.is_header(row);
      check_row(csv, row);
    }
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return 0;
}
