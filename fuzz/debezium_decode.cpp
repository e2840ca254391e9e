// Fuzz target: debezium_codec<order>::decode (laminar/serde/debezium.hpp):
// a Debezium change event, as the envelope ({"schema":...,"payload":...})
// or the payload alone, into changelog rows.
//
// The input is one message. Checked, with truncates kept as events and
// with truncates refused:
//  - decode returns an event or a decode_error (never throws, never
//    crashes); a "not JSON" error's position lies within the message;
//  - the two codecs agree, but for a truncate, which the second refuses;
//  - an event has the rows its operation says (create and read: +I;
//    update: -U then +U; delete: -D; truncate and tombstone: none), and
//    for_each_row passes each row, or the truncate, once;
//  - an event encodes (no usage_error: what was decoded is valid UTF-8) to
//    one line, which decodes to an equal event (NaN equal to NaN) that
//    encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "laminar/serde/debezium.hpp"
#include "records.hpp"

namespace {

using laminar_fuzz::order;
using event = laminar::debezium_event<order>;

bool same(const event& a, const event& b) {
  if (a.op() != b.op() || a.ts_ms != b.ts_ms || a.source_ts_ms != b.source_ts_ms || a.rows().size() != b.rows().size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.rows().size(); ++i) {
    if (a.rows()[i].kind != b.rows()[i].kind || !laminar_fuzz::same(a.rows()[i], b.rows()[i])) return false;
  }
  return true;
}

void check_rows(const event& e) {
  using laminar::change_kind;
  using laminar::debezium_op;
  const auto rows = e.rows();
  bool fits = false;
  switch (e.op()) {
    case debezium_op::create:
    case debezium_op::read: fits = rows.size() == 1 && rows[0].kind == change_kind::insert; break;
    case debezium_op::update:
      fits = rows.size() == 2 && rows[0].kind == change_kind::update_before && rows[1].kind == change_kind::update_after;
      break;
    case debezium_op::remove: fits = rows.size() == 1 && rows[0].kind == change_kind::remove; break;
    case debezium_op::truncate:
    case debezium_op::tombstone: fits = rows.empty(); break;
  }
  if (!fits) laminar_fuzz::finding("debezium_decode", std::string("an event's rows do not fit its operation ") + laminar::to_string(e.op()));
  std::size_t passed = 0;
  std::size_t truncates = 0;
  e.for_each_row([&](const laminar::change<order>&) { ++passed; }, [&] { ++truncates; });
  if (passed != rows.size() || truncates != (e.truncate() ? 1U : 0U)) {
    laminar_fuzz::finding("debezium_decode", "for_each_row did not pass each row, or the truncate, once");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const laminar::debezium_codec<order> cdc;
  static const laminar::debezium_codec<order> strict(laminar::debezium_format{.truncate = laminar::debezium_truncate::error});
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  const laminar::decoded<event> d = cdc.decode(message);
  const laminar::decoded<event> s = strict.decode(message);
  if (!d) {
    if (s) laminar_fuzz::finding("debezium_decode", "the strict codec decoded what the other refused");
    if (d.error().field.empty() && d.error().position > message.size()) {
      laminar_fuzz::finding("debezium_decode", "a decode_error's position is past the message: " + d.error().message());
    }
    (void)d.error().message();
    return 0;
  }
  if (d.value().truncate() ? bool(s) : !s || !same(d.value(), s.value())) {
    laminar_fuzz::finding("debezium_decode", "the strict codec and the other disagree on a message");
  }
  check_rows(d.value());
  std::string out;
  try {
    cdc.encode(d.value(), out);
  } catch (const laminar::error& e) {
    laminar_fuzz::finding("debezium_decode", std::string("a decoded event does not encode: ") + e.what());
  }
  if (out.empty() || out.back() != '\n' || out.find('\n') != out.size() - 1) {
    laminar_fuzz::finding("debezium_decode", "encode did not write one line: " + out);
  }
  const laminar::decoded<event> again = cdc.decode(std::string_view(out).substr(0, out.size() - 1));
  if (!again) {
    laminar_fuzz::finding("debezium_decode", "an encoded event does not decode: " + again.error().message() + " in " + out);
  }
  if (!same(d.value(), again.value())) laminar_fuzz::finding("debezium_decode", "the round trip changed the event: " + out);
  std::string out2;
  cdc.encode(again.value(), out2);
  if (out2 != out) laminar_fuzz::finding("debezium_decode", "an event encodes differently after a round trip: " + out + " then " + out2);
  return 0;
}
