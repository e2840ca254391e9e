// Fuzz target: binary_codec<T>::next_frame and decode
// (laminar/serde/binary.hpp), for a record padded in memory (feed_quote:
// decoded field by field) and one laid out as on the wire (wire_tick: one
// copy once its bool is checked).
//
// The input is a stream of length-prefixed frames, cut as the file source
// cuts one at its end (next_frame(rest, true)), with the largest payload
// set to 4 KiB. Checked, for each codec:
//  - next_frame gives a frame inside what is left and of at least one
//    byte, or throws a framing_error only for a prefix over 4 KiB;
//  - decode returns a record or a decode_error (never throws), whose
//    position lies within the payload; a payload of record_bytes whose
//    bools are 0 or 1 decodes;
//  - a decoded record encodes to the same bytes: its prefix, then the
//    payload it came from (every bit of it: floats are copied, not
//    converted).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "laminar/serde/binary.hpp"
#include "records.hpp"

namespace {

constexpr std::size_t max_payload = 4096;

template <class T>
void read_stream(std::string_view rest) {
  const laminar::binary_codec<T> bin(laminar::binary_format{.max_payload_bytes = max_payload});
  while (!rest.empty()) {
    std::optional<laminar::frame> fr;
    try {
      fr = bin.next_frame(rest, true);
    } catch (const laminar::framing_error& e) {
      if (rest.size() < laminar::binary_frame_header_bytes) laminar_fuzz::finding("binary_decode", "a framing_error without a whole prefix");
      std::uint32_t announced = 0;
      std::memcpy(&announced, rest.data(), sizeof announced);  // little-endian hosts only run this target
      if (announced <= max_payload) laminar_fuzz::finding("binary_decode", std::string("a framing_error for an allowed length: ") + e.what());
      return;
    }
    if (!fr) laminar_fuzz::finding("binary_decode", "no frame at the end of the stream with bytes left");
    if (fr->size == 0 || fr->size > rest.size() || fr->payload_begin + fr->payload_size > fr->size) {
      laminar_fuzz::finding("binary_decode", "a frame outside the bytes left");
    }
    const std::string_view payload = rest.substr(fr->payload_begin, fr->payload_size);
    const laminar::decoded<T> d = bin.decode(payload);
    if (!d) {
      if (d.error().position > payload.size()) laminar_fuzz::finding("binary_decode", "a decode_error's position is past the payload: " + d.error().message());
      if (payload.size() == laminar::binary_codec<T>::record_bytes && d.error().reason.find("bool") == std::string::npos) {
        laminar_fuzz::finding("binary_decode", "a payload of the record's size refused for a reason other than a bool: " + d.error().message());
      }
    } else {
      std::string out;
      bin.encode(d.value(), out);
      if (out.size() != laminar::binary_frame_header_bytes + payload.size() ||
          std::string_view(out).substr(laminar::binary_frame_header_bytes) != payload) {
        laminar_fuzz::finding("binary_decode", "a decoded record does not encode to the bytes it came from");
      }
      if (bin.next_frame(out, false)->size != out.size()) laminar_fuzz::finding("binary_decode", "an encoded frame does not frame whole");
    }
    rest.remove_prefix(fr->size);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  read_stream<laminar_fuzz::feed_quote>(bytes);
  read_stream<laminar_fuzz::wire_tick>(bytes);
  return 0;
}
