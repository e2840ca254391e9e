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
  CHECK(line == R"({"at":{"px":1.5,"qty":2},"dir":-1,"hidden":true,"limit":null,"sym":"AB","ts":10,"venue":7})" "\n");
  // limit missing, an unknown member, CRLF, spaces: the same record.
  decoded<order> d = json.decode(R"( { "sym": "AB", "dir": -1, "at": {"px": 1.5, "qty": 2}, "hidden": true,)"
                                 R"( "ts": 10, "venue": 7, "exchange": "X" } )" "\r");
  REQUIRE_MESSAGE(d.ok(), d.error().message());
  CHECK(d.value() == o);
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
  // A string that is not UTF-8 cannot be JSON text: encoding says so.
  order bad;
  bad.sym = "\xff";
  std::string out;
  CHECK_THROWS_AS(json.encode(bad, out), usage_error);
}
