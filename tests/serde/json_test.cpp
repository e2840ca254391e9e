// The JSON lines codec (serde/json.hpp) on the same described records as
// the CSV tests: randomized records survive encode -> decode unchanged;
// none is null or a missing member; members the record does not describe
// are ignored; every malformed class is a decode_error naming the field
// (or the byte, for text that is not JSON) and what was expected.
#include <doctest/doctest.h>

#include <cstdint>
#include <laminar/laminar.hpp>
#include <laminar/serde/json.hpp>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "serde/records.hpp"
#include "support/counting_allocator.hpp"

using namespace laminar;
using serde_test::order;

TEST_CASE("json: randomized records survive encode and decode unchanged") {
  std::mt19937_64 rng(23);
  const std::vector<std::string> pieces = {"a", "b", ",", " ", "\"", "\\", "\n", "\t", "\xc3\xa9", "\xe2\x82\xac", "{", "}"};
  const double doubles[] = {0.0, -0.0, 0.1, 1e300, -2.5e-308, std::numeric_limits<double>::max(), 123456.789, -7.0};
  const json_codec<order> json;
  for (int i = 0; i < 2'000; ++i) {
    order o;
    for (std::size_t n = rng() % 8; n > 0; --n) o.sym += pieces[rng() % pieces.size()];
    o.dir = rng() % 2 ? serde_test::side::buy : serde_test::side::sell;
    o.at = {doubles[rng() % 8], rng() % 2 ? std::numeric_limits<std::int64_t>::min() : static_cast<std::int64_t>(rng())};
    if (rng() % 3 != 0) o.limit = doubles[rng() % 8] / 3;
    o.hidden = rng() % 2 == 0;
    o.ts = timestamp::from_nanos(static_cast<std::int64_t>(rng()));
    o.venue = rng() % 2 ? std::numeric_limits<std::uint32_t>::max() : static_cast<std::uint32_t>(rng());
    std::string line;
    json.encode(o, line);
    REQUIRE(line.back() == '\n');
    REQUIRE(line.find('\n') == line.size() - 1);  // one line: a line break in a string is escaped
    decoded<order> d = json.decode(std::string_view(line).substr(0, line.size() - 1));
    REQUIRE_MESSAGE(d.ok(), d.error().message());
    CHECK(d.value() == o);
  }
}

TEST_CASE("json: the form of a record; none, missing and unknown members") {
  const json_codec<order> json;
  order o{"AB", serde_test::side::sell, {1.5, 2}, std::nullopt, true, timestamp::from_nanos(10), 7};
  std::string line;
  json.encode(o, line);
  CHECK(line == R"({"sym":"AB","dir":-1,"at":{"px":1.5,"qty":2},"limit":null,"hidden":true,"ts":10,"venue":7})" "\n");
  // limit missing, an unknown member, CRLF, spaces: the same record.
  decoded<order> d = json.decode(R"( { "sym": "AB", "dir": -1, "at": {"px": 1.5, "qty": 2}, "hidden": true,)"
                                 R"( "ts": 10, "venue": 7, "exchange": "X" } )" "\r");
  REQUIRE_MESSAGE(d.ok(), d.error().message());
  CHECK(d.value() == o);
  // Escapes; a whole double keeps a fraction; JSON has no NaN or infinity.
  order p = o;
  p.sym = std::string("q\"b\\s/\n\t\x01\x1f\xc3\xa9", 12);
  p.at.px = 2;
  p.limit = -0.0;
  line.clear();
  json.encode(p, line);
  CHECK(line == R"({"sym":"q\"b\\s/\n\t\u0001\u001f)" "\xc3\xa9" R"(","dir":-1,"at":{"px":2.0,"qty":2},"limit":-0.0,)"
                R"("hidden":true,"ts":10,"venue":7})" "\n");
  p.at.px = std::numeric_limits<double>::quiet_NaN();
  p.limit = std::numeric_limits<double>::infinity();
  line.clear();
  json.encode(p, line);
  CHECK(line.find(R"("at":{"px":null,"qty":2},"limit":null,)") != std::string::npos);
  // An integer is a number for a double field.
  decoded<order> e = json.decode(R"({"sym":"AB","dir":-1,"at":{"px":3,"qty":2},"hidden":true,"ts":10,"venue":7,"limit":4})");
  REQUIRE(e.ok());
  CHECK(e.value().at.px == 3.0);
  CHECK(e.value().limit == 4.0);
}

TEST_CASE("json: every malformed line is a decode_error naming the field or the byte") {
  const json_codec<order> json;
  const std::string good = R"({"sym":"AB","dir":-1,"at":{"px":1.5,"qty":2},"hidden":true,"ts":10,"venue":7})";
  struct bad_line {
    std::string line;
    std::string field;
    std::string reason;
  };
  const bad_line cases[] = {
      {R"({"sym":"AB","dir":-1,"at":{"px":1.5},"hidden":true,"ts":10,"venue":7})", "at.qty", "missing"},
      {R"({"sym":7,"dir":-1,"at":{"px":1.5,"qty":2},"hidden":true,"ts":10,"venue":7})", "sym",
       "expected a string, found an integer"},
      {R"({"sym":"AB","dir":-1,"at":{"px":"1.5","qty":2},"hidden":true,"ts":10,"venue":7})", "at.px",
       "expected a number, found a string"},
      {R"({"sym":"AB","dir":-1,"at":{"px":1.5,"qty":2.5},"hidden":true,"ts":10,"venue":7})", "at.qty",
       "expected an integer, found a number with a fraction"},
      {R"({"sym":"AB","dir":-1,"at":{"px":1.5,"qty":2},"hidden":true,"ts":10,"venue":-1})", "venue",
       "expected an integer in range, found an integer"},
      {R"({"sym":"AB","dir":300,"at":{"px":1.5,"qty":2},"hidden":true,"ts":10,"venue":7})", "dir",
       "expected an integer in range, found an integer"},
      {R"({"sym":"AB","dir":-1,"at":[1.5,2],"hidden":true,"ts":10,"venue":7})", "at",
       "expected an object, found an array"},
      {R"({"sym":"AB","dir":-1,"at":{"px":1.5,"qty":2},"hidden":1,"ts":10,"venue":7})", "hidden",
       "expected true or false, found an integer"},
      {R"([1,2])", "", "expected an object, found an array"},
  };
  for (const bad_line& c : cases) {
    CAPTURE(c.line);
    const decoded<order> d = json.decode(c.line);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().field == c.field);
    CHECK(d.error().reason == c.reason);
  }
  // Text that is not JSON: the byte where parsing stopped.
  const decoded<order> cut = json.decode(good.substr(0, 20));
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().field.empty());
  CHECK(cut.error().position == 20);  // the text ended there
  CHECK(cut.error().reason.rfind("not JSON: ", 0) == 0);
  const decoded<order> junk = json.decode(R"({"sym":"AB",,})");
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.error().position == 12);
  CHECK_FALSE(json.decode("").ok());
  // A string that is not UTF-8 cannot be JSON text: encoding says so,
  // naming the field, and appends nothing.
  order bad;
  bad.sym = "\xff";
  std::string out = "kept\n";
  CHECK_THROWS_WITH_AS(json.encode(bad, out), doctest::Contains("the string field 'sym' is not valid UTF-8"), usage_error);
  CHECK(out == "kept\n");
}

TEST_CASE("json: a field's error is at the byte where its value starts; a missing member's where its object does") {
  const json_codec<order> json;
  const std::string wrong = R"({"sym":"AB","dir":-1,"at":{"px":1.5,"qty":"2"},"hidden":true,"ts":10,"venue":7})";
  const decoded<order> d = json.decode(wrong);
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().field == "at.qty");
  CHECK(d.error().position == wrong.find("\"2\""));
  const std::string missing = R"({"sym":"AB","dir":-1, "at" : {"px":1.5},"hidden":true,"ts":10,"venue":7})";
  const decoded<order> m = json.decode(missing);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().field == "at.qty");
  CHECK(m.error().reason == "missing");
  CHECK(m.error().position == missing.find("{\"px\""));
  // Members before it with nested values, escapes and brackets in strings.
  const std::string after = R"({"x":{"a":[1,{"b":"]}\""}]},"sym":"A\"}","dir":-1,"at":{"px":1.5,"qty":2},)"
                            R"("hidden":true,"ts":10,"venue":true})";
  const decoded<order> a = json.decode(after);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().field == "venue");
  CHECK(a.error().reason == "expected an integer, found a bool");
  CHECK(a.error().position == after.rfind("true"));
  // A member given twice: the last one counts.
  decoded<order> twice = json.decode(R"({"sym":"A","sym":"B","dir":-1,"at":{"px":1.5,"qty":2},"hidden":true,"ts":10,"venue":7})");
  REQUIRE(twice.ok());
  CHECK(twice.value().sym == "B");
}

TEST_CASE("json: numbers beyond a field's range, or beyond double, are decode errors") {
  const json_codec<order> json;
  // Beyond double: refused by the parser, a decode_error rather than an exception.
  for (const std::string& line : {std::string(R"({"sym":"A","at":{"px":1e400}})"), std::string("1e400")}) {
    CAPTURE(line);
    const decoded<order> d = json.decode(line);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().field.empty());
  }
  // An integer beyond 64 bits is a number (with nlohmann's reading of it): fine for a double, not for an integer.
  const std::string big = "123456789012345678901234567890";
  decoded<order> px =
      json.decode(R"({"sym":"A","dir":-1,"at":{"px":)" + big + R"(,"qty":2},"hidden":true,"ts":10,"venue":7})");
  REQUIRE_MESSAGE(px.ok(), px.error().message());
  CHECK(px.value().at.px == 123456789012345678901234567890.0);
  const decoded<order> qty =
      json.decode(R"({"sym":"A","dir":-1,"at":{"px":1,"qty":)" + big + R"(},"hidden":true,"ts":10,"venue":7})");
  REQUIRE_FALSE(qty.ok());
  CHECK(qty.error().field == "at.qty");
  CHECK(qty.error().reason == "expected an integer, found a number with a fraction");
  // 2^64 - 1 fits no signed field, and an unsigned one only as wide.
  const decoded<order> venue = json.decode(
      R"({"sym":"A","dir":-1,"at":{"px":1,"qty":2},"hidden":true,"ts":10,"venue":18446744073709551615})");
  REQUIRE_FALSE(venue.ok());
  CHECK(venue.error().reason == "expected an integer in range, found an integer");
}

namespace {
struct gauge {
  float level = 0;
  friend bool operator==(const gauge&, const gauge&) = default;
};
constexpr auto laminar_fields(const gauge*) { return describe(field_named("level", &gauge::level)); }
}  // namespace

TEST_CASE("json: a number beyond float's range is a decode error for a float field") {
  const json_codec<gauge> json;
  const decoded<gauge> d = json.decode(R"({"level":1e300})");
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().field == "level");
  CHECK(d.error().reason == "expected a number in range, found a number with a fraction");
  CHECK_FALSE(json.decode(R"({"level":-3.5e38})").ok());
  // The largest float, written as a float's shortest text (a double just above it), reads as itself.
  decoded<gauge> top = json.decode(R"({"level":3.4028235e38})");
  REQUIRE(top.ok());
  CHECK(top.value().level == std::numeric_limits<float>::max());
  std::string line;
  json.encode(top.value(), line);
  decoded<gauge> again = json.decode(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE(again.ok());
  CHECK(again.value() == top.value());
}

TEST_CASE("json: a stream of lines allocates nothing per record beyond its strings; a copied codec decodes too") {
  std::mt19937_64 rng(7);
  const json_codec<order> json;
  std::string stream;
  for (int i = 0; i < 1'000; ++i) {
    order o;
    o.sym = std::string(1 + rng() % 15, 'A');  // short strings: no allocation of their own
    o.dir = rng() % 2 ? serde_test::side::buy : serde_test::side::sell;
    o.at = {static_cast<double>(rng() % 100'000) / 100, static_cast<std::int64_t>(rng() % 1'000)};
    if (rng() % 2) o.limit = 1.5;
    o.ts = timestamp::from_nanos(static_cast<std::int64_t>(rng() >> 1));
    o.venue = static_cast<std::uint32_t>(rng() % 50);
    json.encode(o, stream);
  }
  const auto decode_all = [&](const json_codec<order>& codec) {
    std::size_t ok = 0;
    for (std::string_view rest = stream; !rest.empty();) {
      const std::size_t end = rest.find('\n');
      decoded<order> d = codec.decode(rest.substr(0, end));
      if (d.ok() && !d.value().sym.empty()) ++ok;
      rest.remove_prefix(end + 1);
    }
    return ok;
  };
  CHECK(decode_all(json) == 1'000);  // the first pass grows the buffers to the longest line
  test::allocation_counter allocs;
  CHECK(decode_all(json) == 1'000);
  CHECK(allocs.count() == 0);
  const json_codec<order> copy = json;  // its own buffers
  CHECK(decode_all(copy) == 1'000);
}
