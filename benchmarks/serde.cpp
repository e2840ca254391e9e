// The codecs of laminar/serde/: decode and encode rates, and decode against
// a same-run baseline.
//
// The record is an order event of 8 fields (a symbol string, an id, a side,
// a nested price level, an optional limit, a flag, a timestamp, a venue),
// 200k of them from a fixed seed: JSON lines of 140 bytes on average.
//
//   - JSON decode: json_codec<order_event>::decode of every line (which
//     copies the line into its padded buffer, parses it with simdjson's
//     document model and reads it into the record) against simdjson's own
//     parse of the same bytes, read in place from one padded buffer, every
//     member read by its name as its type:
//       - with the document model, the baseline of json_decode_vs_simdjson_parse:
//         the same job as the codec's (every byte of the line checked, the
//         kernel chosen at run time);
//       - on demand (json_decode_vs_simdjson_ondemand): simdjson's fastest,
//         which checks only what it reads, with the kernel the compiler
//         flags allow (here -march=native).
//     Each folds every value of every record into the same checksum.
//   - binary decode: binary_codec decode of every frame's payload against
//     a memcpy of the same payload bytes into a record-sized buffer.
//   - CSV decode, JSON and CSV encode: rates alone.
//
// Contenders of a figure run interleaved (the first one rotates) for 7
// repetitions after a warm-up (support/bench.hpp); figures are medians,
// ratios are ratios of medians, and every run must give the reference
// checksum (computed from the records themselves).
#include <laminar/laminar.hpp>
#include <laminar/serde/binary.hpp>
#include <laminar/serde/csv.hpp>
#include <laminar/serde/json.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "support/bench.hpp"
#include "support/trades.hpp"  // splitmix64

namespace desk {

enum class side : std::int8_t { buy = 1, sell = -1 };

struct level {
  double px = 0;
  std::int64_t qty = 0;
};
constexpr auto laminar_fields(const level*) {
  return laminar::describe(laminar::field_named("px", &level::px), laminar::field_named("qty", &level::qty));
}

// The JSON and CSV record.
struct order_event {
  std::string sym;
  std::uint64_t id = 0;
  side dir = side::buy;
  level at;
  std::optional<double> limit;
  bool hidden = false;
  laminar::timestamp ts;
  std::uint32_t venue = 0;
};
constexpr auto laminar_fields(const order_event*) {
  using laminar::field_named;
  return laminar::describe(field_named("sym", &order_event::sym), field_named("id", &order_event::id),
                           field_named("dir", &order_event::dir), field_named("at", &order_event::at),
                           field_named("limit", &order_event::limit), field_named("hidden", &order_event::hidden),
                           field_named("ts", &order_event::ts), field_named("venue", &order_event::venue));
}

// The same fields in fixed form, for the binary layout (a fixed-width
// symbol, NaN for no limit).
struct wire_order {
  std::array<char, 8> sym{};
  std::uint64_t id = 0;
  side dir = side::buy;
  level at;
  double limit = 0;
  bool hidden = false;
  laminar::timestamp ts;
  std::uint32_t venue = 0;
};
constexpr auto laminar_fields(const wire_order*) {
  using laminar::field_named;
  return laminar::describe(field_named("sym", &wire_order::sym), field_named("id", &wire_order::id),
                           field_named("dir", &wire_order::dir), field_named("at", &wire_order::at),
                           field_named("limit", &wire_order::limit), field_named("hidden", &wire_order::hidden),
                           field_named("ts", &wire_order::ts), field_named("venue", &wire_order::venue));
}

// A feed record laid out in memory as on the wire (no padding, fields in
// description order): the codec decodes it with one copy of its bytes,
// after checking its bool.
struct wire_tick {
  std::array<char, 8> sym{};
  std::uint64_t seq = 0;
  double px = 0;
  double qty = 0;
  laminar::timestamp ts;
  std::uint32_t venue = 0;
  std::uint16_t flags = 0;
  bool buy = false;
  std::uint8_t level = 0;
};
static_assert(sizeof(wire_tick) == 48);
constexpr auto laminar_fields(const wire_tick*) {
  using laminar::field_named;
  return laminar::describe(field_named("sym", &wire_tick::sym), field_named("seq", &wire_tick::seq),
                           field_named("px", &wire_tick::px), field_named("qty", &wire_tick::qty),
                           field_named("ts", &wire_tick::ts), field_named("venue", &wire_tick::venue),
                           field_named("flags", &wire_tick::flags), field_named("buy", &wire_tick::buy),
                           field_named("level", &wire_tick::level));
}

}  // namespace desk

namespace {

namespace lb = laminar::bench;
using desk::order_event;
using desk::wire_order;
using desk::wire_tick;

std::vector<order_event> make_orders(std::size_t n, std::uint64_t seed) {
  static constexpr std::string_view symbols[] = {"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "BRK.B",
                                                 "JPM",  "V",    "XOM",  "UNH",  "LLY",   "AVGO", "MA",   "HD"};
  lb::splitmix64 rng{seed};
  std::vector<order_event> out(n);
  std::int64_t ts = 1'700'000'000'000'000'000;
  for (order_event& o : out) {
    o.sym = symbols[rng.next() % std::size(symbols)];
    o.id = rng.next() >> 20;
    o.dir = rng.next() % 2 ? desk::side::buy : desk::side::sell;
    o.at.px = static_cast<double>(1'000 + rng.next() % 500'000) / 100.0;
    o.at.qty = static_cast<std::int64_t>(1 + rng.next() % 5'000);
    if (rng.next() % 3 != 0) o.limit = o.at.px + static_cast<double>(rng.next() % 100) / 100.0;
    o.hidden = rng.next() % 8 == 0;
    ts += static_cast<std::int64_t>(rng.next() % 2'000);
    o.ts = laminar::timestamp::from_nanos(ts);
    o.venue = static_cast<std::uint32_t>(rng.next() % 40);
  }
  return out;
}

wire_order to_wire(const order_event& o) {
  wire_order w;
  std::memcpy(w.sym.data(), o.sym.data(), std::min(o.sym.size(), w.sym.size()));
  w.id = o.id;
  w.dir = o.dir;
  w.at = o.at;
  w.limit = o.limit ? *o.limit : std::numeric_limits<double>::quiet_NaN();
  w.hidden = o.hidden;
  w.ts = o.ts;
  w.venue = o.venue;
  return w;
}

// Every value of a record, folded into a checksum (what each decoding
// contender computes from what it read): a rotate and an xor per value,
// cheap beside the parse, so that the ratio is the parsers'.
struct fold {
  std::uint64_t h = 0;
  void add(std::uint64_t v) noexcept { h = std::rotl(h, 7) ^ v; }
  void add_string(std::string_view s) noexcept {
    add(s.size());
    std::uint64_t w = 0;
    std::memcpy(&w, s.data(), std::min<std::size_t>(s.size(), 8));
    add(w);
  }
  void add_double(double d) noexcept { add(std::bit_cast<std::uint64_t>(d)); }
  void add_fields(std::string_view sym, std::uint64_t id, std::int64_t dir, double px, std::int64_t qty,
                  std::optional<double> limit, bool hidden, std::int64_t ts, std::uint64_t venue) noexcept {
    add_string(sym);
    add(id);
    add(static_cast<std::uint64_t>(dir));
    add_double(px);
    add(static_cast<std::uint64_t>(qty));
    add(limit ? std::bit_cast<std::uint64_t>(*limit) : 1);
    add(hidden ? 3 : 5);
    add(static_cast<std::uint64_t>(ts));
    add(venue);
  }
  void add_record(const order_event& o) noexcept {
    add_fields(o.sym, o.id, static_cast<std::int64_t>(o.dir), o.at.px, o.at.qty, o.limit, o.hidden, o.ts.nanos(),
               o.venue);
  }
};

// ---- JSON decode: the codec, and simdjson's own parse ----

// The lines, one after the other in a padded buffer (each ends in '\n',
// which neither contender is given).
struct json_lines {
  simdjson::padded_string text;
  std::vector<std::size_t> starts;  // starts.back() == text.size()
  [[nodiscard]] std::size_t size() const noexcept { return starts.size() - 1; }
  [[nodiscard]] std::string_view line(std::size_t i) const noexcept {
    return {text.data() + starts[i], starts[i + 1] - starts[i] - 1};
  }
};

std::uint64_t codec_json_decode(const laminar::json_codec<order_event>& json, const json_lines& lines) {
  fold f;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    laminar::decoded<order_event> d = json.decode(lines.line(i));
    if (!d.ok()) {
      std::fprintf(stderr, "serde: json_codec: line %zu: %s\n", i, d.error().message().c_str());
      return 0;
    }
    f.add_record(d.value());
  }
  return f.h;
}

// simdjson on demand, each line in place (the buffer is padded past the
// last line), every member read by its name as its type.
std::uint64_t simdjson_ondemand_parse(simdjson::ondemand::parser& parser, const json_lines& lines) {
  namespace od = simdjson::ondemand;
  fold f;
  const std::size_t total = lines.text.size() + simdjson::SIMDJSON_PADDING;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines.line(i);
    od::document doc;
    if (parser.iterate(simdjson::padded_string_view(line.data(), line.size(), total - lines.starts[i])).get(doc)) {
      return 0;
    }
    od::object object;
    if (doc.get_object().get(object)) return 0;
    std::string_view sym;
    std::uint64_t id = 0, venue = 0;
    std::int64_t dir = 0, qty = 0, ts = 0;
    double px = 0;
    std::optional<double> limit;
    bool hidden = false;
    for (auto member : object) {
      std::string_view key;
      od::value value;
      if (member.unescaped_key().get(key) || member.value().get(value)) return 0;
      simdjson::error_code e = simdjson::SUCCESS;
      if (key == "sym") {
        e = value.get_string().get(sym);
      } else if (key == "id") {
        e = value.get_uint64().get(id);
      } else if (key == "dir") {
        e = value.get_int64().get(dir);
      } else if (key == "at") {
        od::object at;
        e = value.get_object().get(at);
        for (auto inner : at) {
          if (e) break;
          std::string_view k;
          od::value v;
          if ((e = inner.unescaped_key().get(k)) || (e = inner.value().get(v))) break;
          if (k == "px") {
            e = v.get_double().get(px);
          } else if (k == "qty") {
            e = v.get_int64().get(qty);
          }
        }
      } else if (key == "limit") {
        bool null = false;
        if (!(e = value.is_null().get(null)) && !null) {
          double l = 0;
          e = value.get_double().get(l);
          limit = l;
        }
      } else if (key == "hidden") {
        e = value.get_bool().get(hidden);
      } else if (key == "ts") {
        e = value.get_int64().get(ts);
      } else if (key == "venue") {
        e = value.get_uint64().get(venue);
      }
      if (e) return 0;
    }
    f.add_fields(sym, id, dir, px, qty, limit, hidden, ts, venue);
  }
  return f.h;
}

// simdjson's document model: each line parsed whole in place (every byte
// checked, as the codec does), then every member read by its name as its
// type.
std::uint64_t simdjson_dom_parse(simdjson::dom::parser& parser, const json_lines& lines) {
  namespace dom = simdjson::dom;
  fold f;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines.line(i);
    dom::object object;
    if (parser.parse(line.data(), line.size(), false).get(object)) return 0;
    std::string_view sym;
    std::uint64_t id = 0, venue = 0;
    std::int64_t dir = 0, qty = 0, ts = 0;
    double px = 0;
    std::optional<double> limit;
    bool hidden = false;
    for (const dom::key_value_pair member : object) {
      const std::string_view key = member.key;
      const dom::element value = member.value;
      simdjson::error_code e = simdjson::SUCCESS;
      if (key == "sym") {
        e = value.get_string().get(sym);
      } else if (key == "id") {
        e = value.get_uint64().get(id);
      } else if (key == "dir") {
        e = value.get_int64().get(dir);
      } else if (key == "at") {
        dom::object at;
        e = value.get_object().get(at);
        if (!e) {
          for (const dom::key_value_pair inner : at) {
            if (inner.key == "px") {
              e = inner.value.get_double().get(px);
            } else if (inner.key == "qty") {
              e = inner.value.get_int64().get(qty);
            }
            if (e) break;
          }
        }
      } else if (key == "limit") {
        if (!value.is_null()) {
          double l = 0;
          e = value.get_double().get(l);
          limit = l;
        }
      } else if (key == "hidden") {
        e = value.get_bool().get(hidden);
      } else if (key == "ts") {
        e = value.get_int64().get(ts);
      } else if (key == "venue") {
        e = value.get_uint64().get(venue);
      }
      if (e) return 0;
    }
    f.add_fields(sym, id, dir, px, qty, limit, hidden, ts, venue);
  }
  return f.h;
}

// ---- binary decode: the codec, and a memcpy of the same bytes ----

// Length-prefixed frames of one record type, back to back.
template <class W>
struct binary_frames {
  static constexpr std::size_t record_bytes = laminar::binary_codec<W>::record_bytes;
  static constexpr std::size_t stride = laminar::binary_frame_header_bytes + record_bytes;
  std::string bytes;
  std::size_t count = 0;
  [[nodiscard]] std::string_view payload(std::size_t i) const noexcept {
    return {bytes.data() + i * stride + laminar::binary_frame_header_bytes, record_bytes};
  }
};

template <class W>
std::uint64_t codec_binary_decode(const laminar::binary_codec<W>& bin, const binary_frames<W>& frames) {
  std::uint64_t ok = 0;
  for (std::size_t i = 0; i < frames.count; ++i) {
    laminar::decoded<W> d = bin.decode(frames.payload(i));
    if (d.ok()) {
      lb::do_not_optimize(d.value());
      ++ok;
    }
  }
  return ok;
}

template <class W>
std::uint64_t memcpy_payloads(const binary_frames<W>& frames) {
  std::uint64_t copied = 0;
  alignas(W) unsigned char record[sizeof(W)];
  static_assert(sizeof(W) >= binary_frames<W>::record_bytes);
  for (std::size_t i = 0; i < frames.count; ++i) {
    const std::string_view p = frames.payload(i);
    std::memcpy(record, p.data(), p.size());
    lb::do_not_optimize(record);
    ++copied;
  }
  return copied;
}

// Decodes `frames` with the codec and copies their payloads, alternately;
// reports <name>_events_per_s and <name>_vs_memcpy.
template <class W>
bool report_binary_decode(const char* name, const binary_frames<W>& frames, int reps) {
  const laminar::binary_codec<W> bin;
  static constexpr std::string_view names[] = {"binary_codec decode", "memcpy"};
  const auto r = lb::interleaved_rates(name, names, frames.count, reps, static_cast<std::uint64_t>(frames.count),
                                       [&](std::size_t i) {
                                         return i == 0 ? codec_binary_decode(bin, frames) : memcpy_payloads(frames);
                                       });
  if (!r) return false;
  const std::string n(name);
  lb::report(n + "_events_per_s", (*r)[0], "events/s", 0);
  lb::report(n + "_memcpy_events_per_s", (*r)[1], "events/s", 0);
  lb::report(n + "_vs_memcpy", (*r)[0] / (*r)[1], "x", 3);
  return true;
}

// ---- CSV decode, encodes ----

std::uint64_t codec_csv_decode(const laminar::csv_codec<order_event>& csv, std::string_view text) {
  fold f;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    laminar::decoded<order_event> d = csv.decode(text.substr(0, end));
    if (!d.ok()) {
      std::fprintf(stderr, "serde: csv_codec: %s\n", d.error().message().c_str());
      return 0;
    }
    f.add_record(d.value());
    text.remove_prefix(end + 1);
  }
  return f.h;
}

template <class Codec>
std::uint64_t encode_all(const Codec& codec, const std::vector<order_event>& orders, std::string& out) {
  out.clear();
  for (const order_event& o : orders) codec.encode(o, out);
  return out.size();
}

}  // namespace

int main() {
  const std::size_t n = lb::pick<std::size_t>(200'000, 500);
  const int reps = lb::pick(7, 1);
  const std::vector<order_event> orders = make_orders(n, 42);
  fold reference;
  for (const order_event& o : orders) reference.add_record(o);

  const laminar::json_codec<order_event> json;
  const laminar::csv_codec<order_event> csv;
  const laminar::binary_codec<wire_order> bin;

  std::string json_text, csv_text, scratch;
  encode_all(json, orders, json_text);
  encode_all(csv, orders, csv_text);
  json_lines lines{simdjson::padded_string(json_text), {0}};
  for (std::size_t i = 0; i < json_text.size(); ++i) {
    if (json_text[i] == '\n') lines.starts.push_back(i + 1);
  }
  binary_frames<wire_order> frames;
  for (const order_event& o : orders) bin.encode(to_wire(o), frames.bytes);
  frames.count = orders.size();
  binary_frames<wire_tick> ticks;  // the same orders, as a feed's wire-laid ticks
  for (const order_event& o : orders) {
    wire_tick t;
    const wire_order w = to_wire(o);
    t.sym = w.sym;
    t.seq = o.id;
    t.px = o.at.px;
    t.qty = static_cast<double>(o.at.qty);
    t.ts = o.ts;
    t.venue = o.venue;
    t.flags = static_cast<std::uint16_t>(o.id & 0xFFFF);
    t.buy = o.dir == desk::side::buy;
    t.level = static_cast<std::uint8_t>(o.id % 10);
    laminar::binary_codec<wire_tick>{}.encode(t, ticks.bytes);
  }
  ticks.count = orders.size();
  std::fprintf(stderr, "serde: %zu records; JSON lines %.1f bytes on average, CSV rows %.1f, binary payload %zu%s\n",
               n, static_cast<double>(json_text.size()) / static_cast<double>(n),
               static_cast<double>(csv_text.size()) / static_cast<double>(n),
               binary_frames<wire_order>::record_bytes, lb::smoke() ? " (smoke run)" : "");
  std::fprintf(stderr, "serde: simdjson's active implementation: %s\n",
               simdjson::get_active_implementation()->name().c_str());

  int failed = 0;
  simdjson::dom::parser dom_parser;
  simdjson::ondemand::parser ondemand_parser;
  {
    static constexpr std::string_view names[] = {"json_codec decode", "simdjson document parse",
                                                  "simdjson on-demand parse"};
    const auto r = lb::interleaved_rates("json_decode", names, n, reps, reference.h, [&](std::size_t i) {
      switch (i) {
        case 0: return codec_json_decode(json, lines);
        case 1: return simdjson_dom_parse(dom_parser, lines);
        default: return simdjson_ondemand_parse(ondemand_parser, lines);
      }
    });
    if (r) {
      lb::report("json_decode_events_per_s", (*r)[0], "events/s", 0);
      lb::report("json_simdjson_dom_events_per_s", (*r)[1], "events/s", 0);
      lb::report("json_simdjson_ondemand_events_per_s", (*r)[2], "events/s", 0);
      lb::report("json_decode_vs_simdjson_parse", (*r)[0] / (*r)[1], "x", 3);
      lb::report("json_decode_vs_simdjson_ondemand", (*r)[0] / (*r)[2], "x", 3);
    } else {
      failed = 1;
    }
  }
  {
    static constexpr std::string_view names[] = {"csv_codec decode"};
    const auto r = lb::interleaved_rates("csv_decode", names, n, reps, reference.h,
                                         [&](std::size_t) { return codec_csv_decode(csv, csv_text); });
    if (r) {
      lb::report("csv_decode_events_per_s", (*r)[0], "events/s", 0);
    } else {
      failed = 1;
    }
  }
  // A padded record (decoded field by field), and a wire-laid one (one copy).
  if (!report_binary_decode("binary_decode", frames, reps)) failed = 1;
  if (!report_binary_decode("binary_decode_wire_laid", ticks, reps)) failed = 1;
  {
    static constexpr std::string_view names[] = {"json_codec encode"};
    const auto r = lb::interleaved_rates("json_encode", names, n, reps, static_cast<std::uint64_t>(json_text.size()),
                                         [&](std::size_t) { return encode_all(json, orders, scratch); });
    if (r) {
      lb::report("json_encode_events_per_s", (*r)[0], "events/s", 0);
    } else {
      failed = 1;
    }
  }
  {
    static constexpr std::string_view names[] = {"csv_codec encode"};
    const auto r = lb::interleaved_rates("csv_encode", names, n, reps, static_cast<std::uint64_t>(csv_text.size()),
                                         [&](std::size_t) { return encode_all(csv, orders, scratch); });
    if (r) {
      lb::report("csv_encode_events_per_s", (*r)[0], "events/s", 0);
    } else {
      failed = 1;
    }
  }
  return failed;
}
