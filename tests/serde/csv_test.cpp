// Described records (core/record_fields.hpp) and the CSV codec
// (serde/csv.hpp): a record's fields named once serve both the checkpoint
// archive and CSV; randomized records survive encode -> decode unchanged
// (quotes, delimiters and line breaks in strings, extreme numbers, none);
// RFC 4180's corner cases decode as the RFC says; every malformed-row
// class is a decode_error naming the field and the byte.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <laminar/laminar.hpp>
#include <laminar/serde/csv.hpp>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "serde/records.hpp"

using namespace laminar;

using serde_test::order;

TEST_CASE("described records: fields in order, and the checkpoint archive needs no serialize of its own") {
  static_assert(described_record<order> && archivable<order> && archivable<std::vector<order>>);
  order o{"AB,C", serde_test::side::sell, {101.25, 7}, 99.5, true, timestamp::from_nanos(42), 3};
  std::vector<std::string> names;
  for_each_field(o, [&](std::string_view name, const auto&) { names.emplace_back(name); });
  CHECK(names == std::vector<std::string>{"sym", "dir", "at", "limit", "hidden", "ts", "venue"});
  state_writer w;
  w(o, std::vector<order>{o, order{}});
  order back;
  std::vector<order> more;
  state_reader r(w.bytes());
  r(back, more);
  CHECK(r.exhausted());
  CHECK(back == o);
  CHECK(more == std::vector<order>{o, order{}});
}

TEST_CASE("csv: the columns are the fields, nested ones flattened; a header row") {
  const csv_codec<order> csv;
  CHECK(csv.columns() == std::vector<std::string>{"sym", "dir", "at.px", "at.qty", "limit", "hidden", "ts", "venue"});
  CHECK(csv.header_row() == "sym,dir,at.px,at.qty,limit,hidden,ts,venue\n");
  CHECK(csv.is_header("sym,dir,at.px,at.qty,limit,hidden,ts,venue"));
  CHECK(csv.is_header("sym,dir,at.px,at.qty,limit,hidden,ts,venue\r"));
  CHECK_FALSE(csv.is_header("sym,dir"));
  CHECK_THROWS_AS(csv_codec<serde_test::twice>(), usage_error);
  CHECK_THROWS_AS(csv_codec<order>(csv_format{.delimiter = '"'}), usage_error);
}

TEST_CASE("csv: randomized records survive encode and decode unchanged") {
  std::mt19937_64 rng(17);
  const std::string alphabet = "ab, \"\r\n;x\xc3\xa9";
  const auto text = [&] {
    std::string s;
    for (std::size_t n = rng() % 8; n > 0; --n) s += alphabet[rng() % alphabet.size()];
    return s;
  };
  const double doubles[] = {0.0, -0.0, 0.1, 1e300, -2.5e-308, std::numeric_limits<double>::max(),
                            std::numeric_limits<double>::infinity(), 123456.789};
  for (const char delimiter : {',', ';', '\t'}) {
    CAPTURE(delimiter);
    const csv_codec<order> csv(csv_format{.delimiter = delimiter});
    std::string all;
    std::vector<order> written;
    for (int i = 0; i < 2'000; ++i) {
      order o;
      o.sym = text();
      o.dir = rng() % 2 ? serde_test::side::buy : serde_test::side::sell;
      o.at = {doubles[rng() % 8], static_cast<std::int64_t>(rng())};
      if (rng() % 3 != 0) o.limit = doubles[rng() % 8] / 3;
      o.hidden = rng() % 2 == 0;
      o.ts = timestamp::from_nanos(rng() % 2 ? std::numeric_limits<std::int64_t>::min() : static_cast<std::int64_t>(rng()));
      o.venue = static_cast<std::uint32_t>(rng());
      std::string row;
      csv.encode(o, row);
      REQUIRE(row.back() == '\n');
      const decoded<order> d = csv.decode(std::string_view(row).substr(0, row.size() - 1));
      REQUIRE_MESSAGE(d.ok(), d.error().message());
      CHECK(d.error().reason.empty());
      CHECK(decoded<order>(d).value() == o);
      all += row;
      written.push_back(o);
    }
    // The same rows split out of one buffer: a line break in quotes does
    // not end a row.
    std::string_view rest = all;
    std::size_t n = 0;
    for (std::size_t end = csv_row_end(rest); end != std::string_view::npos; end = csv_row_end(rest)) {
      decoded<order> d = csv.decode(rest.substr(0, end));
      REQUIRE(d.ok());
      CHECK(d.value() == written[n++]);
      rest.remove_prefix(end + 1);
    }
    CHECK(n == written.size());
    CHECK(rest.empty());
  }
}

TEST_CASE("csv: RFC 4180 corner cases") {
  const csv_codec<order> csv;
  SUBCASE("quoted fields, doubled quotes, a line break in quotes, CRLF") {
    decoded<order> d = csv.decode("\"a \"\"b\"\",\nc\",-1,\"1.5\",2,,false,10,7\r");
    REQUIRE_MESSAGE(d.ok(), d.error().message());
    CHECK(d.value().sym == "a \"b\",\nc");
    CHECK(d.value().dir == serde_test::side::sell);
    CHECK(d.value().at == serde_test::level{1.5, 2});
    CHECK_FALSE(d.value().limit.has_value());
    CHECK(d.value().ts == timestamp::from_nanos(10));
  }
  SUBCASE("an empty first and last field; an empty quoted field") {
    decoded<order> d = csv.decode(",1,0,0,\"\",1,0,");
    CHECK_FALSE(d.ok());  // venue: an empty text is not an integer
    CHECK(d.error().field == "venue");
    decoded<order> e = csv.decode("\"\",1,0,0,\"\",1,0,5");
    REQUIRE(e.ok());
    CHECK(e.value().sym.empty());
    CHECK(e.value().hidden);
  }
  SUBCASE("a field is quoted only when it must be") {
    order o;
    o.sym = "plain";
    std::string row;
    csv.encode(o, row);
    CHECK(row == "plain,1,0,0,,false,0,0\n");
    row.clear();
    o.sym = "say \"hi\", twice";
    csv.encode(o, row);
    CHECK(row == "\"say \"\"hi\"\", twice\",1,0,0,,false,0,0\n");
  }
  SUBCASE("csv_row_end") {
    CHECK(csv_row_end("a,b\nc") == 3);
    CHECK(csv_row_end("\"a\nb\",c\nd") == 7);
    CHECK(csv_row_end("\"a\nb") == std::string_view::npos);
    CHECK(csv_row_end("a,b") == std::string_view::npos);
  }
}

TEST_CASE("csv: every malformed row is a decode_error naming the field and the byte") {
  const csv_codec<order> csv;
  struct bad_row {
    std::string row;
    std::string field;
    std::size_t position;
    std::string reason;
  };
  const bad_row cases[] = {
      {"x,1,1.5,2,,true,10", "", 18, "expected 8 fields, found 7"},
      {"x,1,1.5,2,,true,10,7,9", "", 22, "expected 8 fields, found 9"},
      {"x,1,abc,2,,true,10,7", "at.px", 4, "expected a number, found 'abc'"},
      {"x,1,1.5,2.0,,true,10,7", "at.qty", 8, "expected an integer, found '2.0'"},
      {"x,1,1.5,2,,yes,10,7", "hidden", 11, "expected true or false, found 'yes'"},
      {"x,1,1.5,2,,true,10,99999999999", "venue", 19, "expected an integer in range, found '99999999999'"},
      {"x,1,1.5,2, 3,true,10,7", "limit", 10, "expected a number, found ' 3'"},
      {"x\"y,1,1.5,2,,true,10,7", "sym", 1, "a quote inside an unquoted field"},
      {"\"x\"y,1,1.5,2,,true,10,7", "sym", 3, "expected a delimiter after a closing quote"},
      {"x,1,1.5,2,,true,10,\"7", "venue", 19, "a quote is left open"},
  };
  for (const bad_row& c : cases) {
    CAPTURE(c.row);
    const decoded<order> d = csv.decode(c.row);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().field == c.field);
    CHECK(d.error().position == c.position);
    CHECK(d.error().reason == c.reason);
  }
  const decoded<order> d = csv.decode("x,1,abc,2,,true,10,7");
  CHECK(d.error().message() == "field 'at.px' at byte 4: expected a number, found 'abc'");
  CHECK_THROWS_WITH_AS((void)decoded<order>(d).value(), doctest::Contains("at.px"), usage_error);
}
