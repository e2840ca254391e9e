// The fixed-layout binary codec (serde/binary.hpp): the exact bytes of a
// small record (little-endian, packed, in description order); randomized
// records encoded into one buffer, split back into frames from arbitrary
// read sizes and decoded unchanged, with no allocation per record; a
// payload of the wrong length, a bool byte that is neither 0 nor 1, an
// absurd length prefix and a cut frame; the codec's own framing (as the
// file source uses it); records with a field of no fixed form refused at
// compile time.
#include <doctest/doctest.h>

#include <array>
#include <bit>
#include <cstdint>
#include <laminar/laminar.hpp>
#include <laminar/serde/binary.hpp>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "serde/records.hpp"
#include "support/counting_allocator.hpp"

using namespace laminar;

namespace binary_test {

// Every kind of field once: the layout is checked byte by byte.
struct small {
  std::uint16_t a = 0;
  bool b = false;
  std::int32_t c = 0;
  serde_test::side d = serde_test::side::buy;  // an std::int8_t enum
  double e = 0;
  timestamp t;
  std::array<char, 3> s{};
  friend bool operator==(const small&, const small&) = default;
};
constexpr auto laminar_fields(const small*) {
  using laminar::field_named;
  return laminar::describe(field_named("a", &small::a), field_named("b", &small::b), field_named("c", &small::c),
                           field_named("d", &small::d), field_named("e", &small::e), field_named("t", &small::t),
                           field_named("s", &small::s));
}

enum class venue : std::uint16_t { xnas = 1, xlon = 7 };

struct book_level {
  double px = 0;
  std::int32_t qty = 0;
  bool firm = false;
  friend bool operator==(const book_level&, const book_level&) = default;
};
constexpr auto laminar_fields(const book_level*) {
  using laminar::field_named;
  return laminar::describe(field_named("px", &book_level::px), field_named("qty", &book_level::qty),
                           field_named("firm", &book_level::firm));
}

// A packed feed record: a fixed-width symbol, nested levels, an array of
// flags, every integer width.
struct tick {
  std::array<char, 8> sym{};
  std::uint64_t seq = 0;
  book_level bid, ask;
  venue where = venue::xnas;
  float last = 0;
  timestamp ts;
  duration latency;
  std::int8_t i8 = 0;
  std::uint8_t u8 = 0;
  std::int16_t i16 = 0;
  std::array<bool, 2> flags{};
  friend bool operator==(const tick&, const tick&) = default;
};
constexpr auto laminar_fields(const tick*) {
  using laminar::field_named;
  return laminar::describe(field_named("sym", &tick::sym), field_named("seq", &tick::seq), field_named("bid", &tick::bid),
                           field_named("ask", &tick::ask), field_named("where", &tick::where),
                           field_named("last", &tick::last), field_named("ts", &tick::ts),
                           field_named("latency", &tick::latency), field_named("i8", &tick::i8),
                           field_named("u8", &tick::u8), field_named("i16", &tick::i16),
                           field_named("flags", &tick::flags));
}

// Records with a field of no fixed binary form.
struct with_string {
  std::int64_t id = 0;
  std::string name;
};
constexpr auto laminar_fields(const with_string*) {
  return laminar::describe(laminar::field_named("id", &with_string::id), laminar::field_named("name", &with_string::name));
}
struct with_optional {
  std::optional<double> px;
};
constexpr auto laminar_fields(const with_optional*) {
  return laminar::describe(laminar::field_named("px", &with_optional::px));
}
struct nests_string {
  small ok;
  with_string bad;
};
constexpr auto laminar_fields(const nests_string*) {
  return laminar::describe(laminar::field_named("ok", &nests_string::ok), laminar::field_named("bad", &nests_string::bad));
}
struct with_long_double {
  long double x = 0;
};
constexpr auto laminar_fields(const with_long_double*) {
  return laminar::describe(laminar::field_named("x", &with_long_double::x));
}

}  // namespace binary_test

using binary_test::small;
using binary_test::tick;

// Only records of fixed-size fields have a binary form; binary_codec<T>
// for another is a static_assert naming the rule.
static_assert(binary_record<small> && binary_record<tick> && binary_record<binary_test::book_level>);
static_assert(!binary_record<binary_test::with_string>);
static_assert(!binary_record<binary_test::with_optional>);
static_assert(!binary_record<binary_test::nests_string>);
static_assert(!binary_record<binary_test::with_long_double>);
static_assert(!binary_record<serde_test::order>);  // std::string and std::optional fields
static_assert(!binary_record<int>);                // not a described record
static_assert(binary_codec<small>::record_bytes == 2 + 1 + 4 + 1 + 8 + 8 + 3);
static_assert(binary_codec<binary_test::book_level>::record_bytes == 13);
static_assert(binary_codec<tick>::record_bytes == 8 + 8 + 13 + 13 + 2 + 4 + 8 + 8 + 1 + 1 + 2 + 2);

namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string s;
  for (const int v : values) s += static_cast<char>(static_cast<unsigned char>(v));
  return s;
}

tick random_tick(std::mt19937_64& rng) {
  tick t;
  for (char& c : t.sym) c = static_cast<char>(rng());  // any byte, NUL included
  t.seq = rng();
  // Any bit pattern but NaN (NaN != NaN): infinities, subnormals, -0.
  const auto finite_double = [&] {
    for (;;) {
      const double d = std::bit_cast<double>(rng());
      if (d == d) return d;
    }
  };
  t.bid = {finite_double(), static_cast<std::int32_t>(rng()), rng() % 2 == 0};
  t.ask = {rng() % 4 == 0 ? -0.0 : finite_double(), std::numeric_limits<std::int32_t>::min(), rng() % 2 == 0};
  t.where = static_cast<binary_test::venue>(rng());  // any value: an enum is its underlying integer
  for (;;) {
    t.last = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    if (t.last == t.last) break;
  }
  t.ts = timestamp::from_nanos(static_cast<std::int64_t>(rng()));
  t.latency = duration::from_nanos(rng() % 2 ? std::numeric_limits<std::int64_t>::min() : static_cast<std::int64_t>(rng()));
  t.i8 = static_cast<std::int8_t>(rng());
  t.u8 = static_cast<std::uint8_t>(rng());
  t.i16 = static_cast<std::int16_t>(rng());
  t.flags = {rng() % 2 == 0, rng() % 2 == 0};
  return t;
}

}  // namespace

TEST_CASE("binary: the exact bytes of a record: little-endian, packed, in description order") {
  const binary_codec<small> bin;
  small s;
  s.a = 0x0102;
  s.b = true;
  s.c = -2;
  s.d = serde_test::side::sell;
  s.e = 1.0;
  s.t = timestamp::from_nanos(0x0102030405060708);
  s.s = {'A', 'B', '\0'};
  std::string out = "x";  // encode appends
  bin.encode(s, out);
  std::string expected = "x";  // (appended, not "x" + ...: g++ 12 at -O3 warns falsely in operator+, GCC bug 105329)
  expected += bytes({27, 0, 0, 0,                                 // the length prefix
                                            0x02, 0x01,                                  // a
                                            0x01,                                        // b
                                            0xfe, 0xff, 0xff, 0xff,                      // c
                                            0xff,                                        // d: -1
                                            0, 0, 0, 0, 0, 0, 0xf0, 0x3f,                // e: 1.0
                                            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // t
                                            'A', 'B', 0});                               // s
  CHECK(out == expected);
  const binary_frame f = split_binary_frame(std::string_view(out).substr(1));
  REQUIRE(f.state == frame_state::complete);
  CHECK(f.payload == 27);
  CHECK(f.end() == 31);
  decoded<small> d = bin.decode(f.payload_of(std::string_view(out).substr(1)));
  REQUIRE_MESSAGE(d.ok(), d.error().message());
  CHECK(d.value() == s);
  // encode_payload: the same bytes, no prefix.
  std::array<char, binary_codec<small>::record_bytes> raw{};
  bin.encode_payload(s, raw.data());
  CHECK(std::string_view(raw.data(), raw.size()) == std::string_view(expected).substr(5));
}

TEST_CASE("binary: randomized records split out of one buffer, read in any pieces, decode unchanged") {
  std::mt19937_64 rng(31);
  const binary_codec<tick> bin;
  std::vector<tick> in;
  std::string stream;
  for (int i = 0; i < 3'000; ++i) {
    in.push_back(random_tick(rng));
    bin.encode(in.back(), stream);
  }
  CHECK(stream.size() == in.size() * (4 + binary_codec<tick>::record_bytes));
  // A reader that gets the stream in pieces of random size (as a socket
  // would), splits what it has and keeps the rest for the next read.
  std::vector<tick> out;
  std::string pending;
  std::size_t read = 0;
  while (read < stream.size()) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % 200, stream.size() - read);
    pending.append(stream, read, n);
    read += n;
    std::string_view rest = pending;
    for (;;) {
      const binary_frame f = split_binary_frame(rest);
      REQUIRE(f.state != frame_state::too_large);
      if (f.state == frame_state::incomplete) break;
      decoded<tick> d = bin.decode(f.payload_of(rest));
      REQUIRE_MESSAGE(d.ok(), d.error().message());
      out.push_back(d.value());
      rest.remove_prefix(f.end());
    }
    pending.erase(0, pending.size() - rest.size());
  }
  CHECK(pending.empty());
  REQUIRE(out.size() == in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    CAPTURE(i);
    CHECK(out[i] == in[i]);
  }
  // Re-encoding gives the same bytes (-0.0 and 0.0 included).
  std::string again;
  for (const tick& t : out) bin.encode(t, again);
  CHECK(again == stream);
}

TEST_CASE("binary: decoding in place allocates nothing per record") {
  std::mt19937_64 rng(5);
  const binary_codec<tick> bin;
  std::string stream;
  for (int i = 0; i < 1'000; ++i) bin.encode(random_tick(rng), stream);
  std::uint64_t sum = 0;
  test::allocation_counter allocs;
  std::string_view rest = stream;
  for (binary_frame f = split_binary_frame(rest); f.state == frame_state::complete; f = split_binary_frame(rest)) {
    decoded<tick> d = bin.decode(f.payload_of(rest));
    if (d.ok()) sum += d.value().seq;
    rest.remove_prefix(f.end());
  }
  CHECK(allocs.count() == 0);
  CHECK(rest.empty());
  CHECK(sum != 0);
}

TEST_CASE("binary: a payload of the wrong length and a bool byte that is neither 0 nor 1") {
  const binary_codec<tick> bin;
  std::mt19937_64 rng(7);
  std::string frame;
  bin.encode(random_tick(rng), frame);
  const std::string payload = frame.substr(4);
  constexpr std::size_t n = binary_codec<tick>::record_bytes;

  const decoded<tick> short_one = bin.decode(std::string_view(payload).substr(0, n - 1));
  REQUIRE_FALSE(short_one.ok());
  CHECK(short_one.error().field.empty());
  CHECK(short_one.error().position == 0);
  CHECK(short_one.error().reason == "expected 70 bytes, found 69");
  const decoded<tick> long_one = bin.decode(payload + '\0');
  REQUIRE_FALSE(long_one.ok());
  CHECK(long_one.error().reason == "expected 70 bytes, found 71");
  CHECK_FALSE(bin.decode("").ok());

  struct bad_bool {
    std::size_t offset;
    std::string field;
  };
  // bid.firm after sym (8), seq (8), bid.px (8), bid.qty (4); ask.firm 13
  // bytes later; the flags are the last two bytes.
  const bad_bool cases[] = {{28, "bid.firm"}, {41, "ask.firm"}, {n - 2, "flags[0]"}, {n - 1, "flags[1]"}};
  for (const bad_bool& c : cases) {
    for (const int byte : {2, 0xff}) {
      CAPTURE(c.field);
      std::string bad = payload;
      bad[c.offset] = static_cast<char>(byte);
      const decoded<tick> d = bin.decode(bad);
      REQUIRE_FALSE(d.ok());
      CHECK(d.error().field == c.field);
      CHECK(d.error().position == c.offset);
      CHECK(d.error().reason == "expected 0 or 1 for a bool, found " + std::to_string(byte));
    }
  }
  // The same offsets hold 0 and 1 in a good record.
  for (const bad_bool& c : cases) CHECK(static_cast<unsigned char>(payload[c.offset]) <= 1);

  const binary_codec<small> sb;
  std::string s;
  sb.encode(small{}, s);
  s[4 + 2] = '\x02';
  const decoded<small> d = sb.decode(std::string_view(s).substr(4));
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().field == "b");
  CHECK(d.error().position == 2);
  CHECK(d.error().message() == "field 'b' at byte 2: expected 0 or 1 for a bool, found 2");
}

TEST_CASE("binary: an absurd length prefix is an error at once, a cut frame waits for more") {
  const binary_frame huge = split_binary_frame(bytes({0xff, 0xff, 0xff, 0xff}));
  CHECK(huge.state == frame_state::too_large);
  CHECK(huge.payload == 0xffffffffu);
  CHECK(huge.error().position == 0);
  CHECK(huge.error().reason == "a frame's length prefix announces 4294967295 bytes, more than the limit of 16777216");
  // Just over the default limit, with its payload not there yet: still too large.
  CHECK(split_binary_frame(bytes({0x01, 0x00, 0x00, 0x01})).state == frame_state::too_large);
  CHECK(split_binary_frame(bytes({0x00, 0x00, 0x00, 0x01})).state == frame_state::incomplete);  // exactly 16 MiB
  // A limit of one's own.
  const std::string frame = bytes({65, 0, 0, 0}) + std::string(65, 'x');
  CHECK(split_binary_frame(frame, 64).state == frame_state::too_large);
  CHECK(split_binary_frame(frame, 64).error().reason ==
        "a frame's length prefix announces 65 bytes, more than the limit of 64");
  CHECK(split_binary_frame(frame, 65).state == frame_state::complete);

  // Every cut of a frame is incomplete; the prefix says how much is needed
  // once it is whole.
  const binary_codec<small> bin;
  std::string whole;
  bin.encode(small{}, whole);
  for (std::size_t cut = 0; cut < whole.size(); ++cut) {
    CAPTURE(cut);
    const binary_frame f = split_binary_frame(std::string_view(whole).substr(0, cut));
    CHECK(f.state == frame_state::incomplete);
    CHECK(f.payload == (cut < 4 ? 0 : binary_codec<small>::record_bytes));
  }
  CHECK(split_binary_frame(whole).state == frame_state::complete);
  // An empty frame is a frame (of a record of another type: decode says so).
  const binary_frame empty = split_binary_frame(bytes({0, 0, 0, 0}));
  CHECK(empty.state == frame_state::complete);
  CHECK(empty.end() == 4);
  CHECK(bin.decode(empty.payload_of(bytes({0, 0, 0, 0}))).error().reason == "expected 27 bytes, found 0");
}

TEST_CASE("binary: the codec frames itself, as a stream reader asks (serde/frame.hpp)") {
  static_assert(self_framing<binary_codec<small>>);
  const binary_codec<small> bin;
  small s;
  s.a = 9;
  std::string stream;
  bin.encode(s, stream);
  bin.encode(s, stream);
  std::optional<frame> f = next_frame_of(bin, stream, false);
  REQUIRE(f);
  CHECK(f->payload_begin == 4);
  CHECK(f->payload_size == 27);
  CHECK(f->size == 31);
  CHECK(bin.decode(std::string_view(stream).substr(f->payload_begin, f->payload_size)).value() == s);
  // A cut frame: none yet; at the stream's end, its bytes are one last frame
  // that decode refuses (a dead letter, not a loss).
  const std::string_view cut = std::string_view(stream).substr(31, 20);
  CHECK_FALSE(bin.next_frame(cut, false));
  f = bin.next_frame(cut, true);
  REQUIRE(f);
  CHECK(f->size == 20);
  CHECK(bin.decode(cut.substr(f->payload_begin, f->payload_size)).error().reason == "expected 27 bytes, found 16");
  f = bin.next_frame(cut.substr(0, 3), true);  // the prefix itself cut
  REQUIRE(f);
  CHECK(f->payload_begin == 0);
  CHECK(f->size == 3);
  CHECK_FALSE(bin.next_frame("", true));
  // A length past the limit: the stream cannot be framed any more.
  CHECK_THROWS_AS((void)bin.next_frame(bytes({0xff, 0xff, 0xff, 0x7f}), false), framing_error);
  const binary_codec<small> tight(binary_format{.max_payload_bytes = 27});
  CHECK(tight.next_frame(stream, false));
  CHECK_THROWS_WITH_AS((void)tight.next_frame(bytes({28, 0, 0, 0}), false),
                       "laminar: binary_codec: a frame's length prefix announces 28 bytes, more than the limit of 27",
                       framing_error);
}

namespace binary_test {
// Laid out in memory exactly as on the wire (no padding, description order).
struct packed_tick {
  std::int64_t id = 0;
  double px = 0;
  timestamp ts;
  std::int32_t qty = 0;
  std::uint16_t venue = 0;
  bool hidden = false;
  std::uint8_t side = 0;
  friend bool operator==(const packed_tick&, const packed_tick&) = default;
};
constexpr auto laminar_fields(const packed_tick*) {
  return describe(field_named("id", &packed_tick::id), field_named("px", &packed_tick::px),
                  field_named("ts", &packed_tick::ts), field_named("qty", &packed_tick::qty),
                  field_named("venue", &packed_tick::venue), field_named("hidden", &packed_tick::hidden),
                  field_named("side", &packed_tick::side));
}
}  // namespace binary_test

TEST_CASE("binary: a record laid out as on the wire decodes as one copy, its bools still checked") {
  using binary_test::packed_tick;
  using binary_test::tick;
  static_assert(sizeof(packed_tick) == binary_codec<packed_tick>::record_bytes);
  CHECK(detail::native_layout<packed_tick>::of().same);
  CHECK(detail::native_layout<packed_tick>::of().bools == std::vector<std::size_t>{30});
  CHECK(!detail::native_layout<tick>::of().same);  // padded: field by field
  const binary_codec<packed_tick> bin;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; ++i) {
    const packed_tick t{static_cast<std::int64_t>(rng()), static_cast<double>(rng() % 100000) / 7,
                        timestamp::from_nanos(static_cast<std::int64_t>(rng())), static_cast<std::int32_t>(rng()),
                        static_cast<std::uint16_t>(rng()), rng() % 2 == 0, static_cast<std::uint8_t>(rng())};
    std::string frame;
    bin.encode(t, frame);
    decoded<packed_tick> d = bin.decode(std::string_view(frame).substr(binary_frame_header_bytes));
    REQUIRE(d.ok());
    CHECK(d.value() == t);
  }
  std::string frame;
  bin.encode(packed_tick{}, frame);
  frame[binary_frame_header_bytes + 30] = '\2';
  decoded<packed_tick> bad = bin.decode(std::string_view(frame).substr(binary_frame_header_bytes));
  REQUIRE(!bad.ok());
  CHECK(bad.error().field == "hidden");
  CHECK(bad.error().position == 30);
}
