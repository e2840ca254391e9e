// How a codec's records are cut out of a byte stream (a file, a TCP
// connection): by default each is a line ending in '\n'; a codec may frame
// its records itself with next_frame(buffer, at_end) (CSV: a quoted field
// may hold a line break; the binary codec: a length prefix).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "laminar/core/error.hpp"

namespace laminar {

/// Where the first record of a buffer lies.
struct frame {
  std::size_t payload_begin = 0;  // the record's bytes: [payload_begin, payload_begin + payload_size)
  std::size_t payload_size = 0;
  std::size_t size = 0;           // the whole frame, its delimiter or prefix included
};

/// A stream that cannot be cut into records any more (a length prefix past
/// the largest frame allowed): nothing after it can be trusted.
class framing_error : public error {
 public:
  using error::error;
};

/// Line framing: a record ends at '\n' (a codec ignores a final '\r'). At
/// the end of the stream, text after the last '\n' is a record too.
[[nodiscard]] inline std::optional<frame> next_line(std::string_view buffer, bool at_end) noexcept {
  const std::size_t nl = buffer.find('\n');
  if (nl != std::string_view::npos) return frame{0, nl, nl + 1};
  if (at_end && !buffer.empty()) return frame{0, buffer.size(), buffer.size()};
  return std::nullopt;
}

/// A codec that frames its records itself.
template <class Codec>
concept self_framing = requires(const Codec& c, std::string_view b) {
  { c.next_frame(b, true) } -> std::same_as<std::optional<frame>>;
};

/// The first frame of `buffer` by the codec's framing (lines unless the
/// codec frames itself); none while the buffer holds no whole frame. At the
/// stream's end (`at_end`), bytes left over are one last frame, whole or not.
template <class Codec>
[[nodiscard]] std::optional<frame> next_frame_of(const Codec& codec, std::string_view buffer, bool at_end) {
  if constexpr (self_framing<Codec>) {
    return codec.next_frame(buffer, at_end);
  } else {
    return next_line(buffer, at_end);
  }
}

}  // namespace laminar
