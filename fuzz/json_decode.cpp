// Fuzz target: json_codec<order>::decode (laminar/serde/json.hpp).
//
// The input is one line of JSON text (a final CR is the codec's to
// strip). Checked:
//  - decode returns a record or a decode_error (never throws, never
//    crashes); a "not JSON" error's position lies within the line;
//  - a record that decodes encodes (no usage_error: what was decoded is
//    valid UTF-8) to one line ending in '\n', and that line decodes to an
//    equal record (NaN equal to NaN), which encodes to the same bytes.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "laminar/serde/json.hpp"
#include "records.hpp"

using laminar_fuzz::order;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const laminar::json_codec<order> json;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  laminar::decoded<order> d = json.decode(line);
  if (!d) {
    if (d.error().field.empty() && d.error().position > line.size()) {
      laminar_fuzz::finding("json_decode", "a decode_error's position is past the line: " + d.error().message());
    }
    (void)d.error().message();
    return 0;
  }
  std::string out;
  try {
    json.encode(d.value(), out);
  } catch (const laminar::error& e) {
    laminar_fuzz::finding("json_decode", std::string("a decoded record does not encode: ") + e.what());
  }
  if (out.empty() || out.back() != '\n' || out.find('\n') != out.size() - 1) {
    laminar_fuzz::finding("json_decode", "encode did not write one line: " + out);
  }
  const std::string_view encoded(out.data(), out.size() - 1);
  laminar::decoded<order> again = json.decode(encoded);
  if (!again) {
    laminar_fuzz::finding("json_decode", "an encoded record does not decode: " + again.error().message() + " in " + out);
  }
  if (!laminar_fuzz::same(d.value(), again.value())) laminar_fuzz::finding("json_decode", "the round trip changed the record: " + out);
  std::string out2;
  json.encode(again.value(), out2);
  if (out2 != out) laminar_fuzz::finding("json_decode", "a record encodes differently after a round trip: " + out + " then " + out2);
  return 0;
}
