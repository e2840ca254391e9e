// The file source with codecs: JSON lines and CSV records out of a list of
// files or a directory, into a window; every refused record a dead letter
// with its file, byte offset, number and reason (or, failing fast, an
// error naming the same); checkpointed mid-file and restored; a followed
// file read as it grows, until stopped.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <laminar/checkpoint/file_sink.hpp>
#include <laminar/connector/file_source.hpp>
#include <laminar/laminar.hpp>
#include <laminar/serde/csv.hpp>
#include <laminar/serde/json.hpp>
#include <map>
#include <random>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/temp_dir.hpp"
#include "serde/records.hpp"

using namespace laminar;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using serde_test::order;

namespace {

order make_order(std::uint32_t i) {
  order o;
  o.sym = i % 3 == 0 ? "A,\"B\"\nC" : "S" + std::to_string(i % 5);  // CSV quoting, a line break in a field
  o.at = {static_cast<double>(i) / 4, static_cast<std::int64_t>(i)};
  if (i % 2 == 0) o.limit = 1.5;
  o.ts = timestamp::from_nanos(static_cast<std::int64_t>(i) * 1'000'000);
  o.venue = i;
  return o;
}

template <class Codec>
void write_records(const fs::path& file, const Codec& codec, std::uint32_t from, std::uint32_t to,
                   const std::string& prefix = {}) {
  std::string text = prefix;
  for (std::uint32_t i = from; i < to; ++i) codec.encode(make_order(i), text);
  std::ofstream(file, std::ios::binary) << text;
}

void append(const fs::path& file, const std::string& text) {
  std::ofstream(file, std::ios::binary | std::ios::app) << text;
}

}  // namespace

TEST_CASE("file source: JSON lines from a list of files, in order, into a window") {
  test::temp_dir dir("files-json");
  const json_codec<order> json;
  write_records(dir.path() / "b.jsonl", json, 0, 300);
  write_records(dir.path() / "a.jsonl", json, 300, 500);
  std::vector<std::uint32_t> venues;
  auto p = from_files({dir.path() / "b.jsonl", dir.path() / "a.jsonl"}, json).block_bytes(4096) |
           sink([&](const order& o) { venues.push_back(o.venue); });
  p.run();
  REQUIRE(venues.size() == 500);
  for (std::uint32_t i = 0; i < 500; ++i) CHECK(venues[i] == i);  // the list's order, not the names'
  CHECK(p.source().records() == 500);
  CHECK(p.source().dead_letters() == 0);

  // The same records, counted per symbol in 100 ms windows, equal a count by hand.
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> by_hand, got;
  for (std::uint32_t i = 0; i < 500; ++i) {
    const order o = make_order(i);
    ++by_hand[{o.sym, o.ts.nanos() / 100'000'000}];
  }
  auto w = from_files({dir.path() / "b.jsonl", dir.path() / "a.jsonl"}, json) |
           with_watermarks(&order::ts, bounded_out_of_orderness(0ms)) | key_by(&order::sym) |
           tumbling(100ms).aggregate(count()) |
           sink([&](const auto& row) { got[{row.key, row.start.nanos() / 100'000'000}] += row.value; });
  w.run();
  CHECK(got == by_hand);
}

TEST_CASE("file source: CSV from a directory, header rows skipped, quoted line breaks kept, dot files left out") {
  test::temp_dir dir("files-csv");
  const csv_codec<order> csv;
  write_records(dir.path() / "part-2.csv", csv, 100, 250, csv.header_row());
  write_records(dir.path() / "part-1.csv", csv, 0, 100, csv.header_row());
  write_records(dir.path() / ".part-3.csv.inprogress", csv, 250, 260);
  fs::create_directories(dir.path() / "sub.csv");  // not a regular file
  std::vector<order> got;
  auto p = from_directory(dir.path(), csv) | sink([&](const order& o) { got.push_back(o); });
  p.run();
  REQUIRE(got.size() == 250);
  for (std::uint32_t i = 0; i < 250; ++i) CHECK(got[i] == make_order(i));
}

TEST_CASE("file source: each malformed record is a dead letter naming file, offset, number and reason") {
  test::temp_dir dir("files-dead");
  const json_codec<order> json;
  std::string good;
  json.encode(make_order(1), good);
  const auto replaced = [&](const std::string& what, const std::string& with) {
    std::string line = good;
    REQUIRE(line.find(what) != std::string::npos);
    return line.replace(line.find(what), what.size(), with);
  };
  const std::string lines[] = {
      good,
      replaced("\"px\":0.25", "\"px\":\"abc\""),  // a field of the wrong type
      "not json\n",                                 // not JSON
      good,
      replaced("\"venue\":1", "\"venue\":-1"),  // out of range
      good,
      "{\"sym\":",  // cut off at the end of the file
  };
  std::string text;
  std::vector<std::uint64_t> offsets;
  for (const auto& l : lines) {
    offsets.push_back(text.size());
    text += l;
  }
  std::ofstream(dir.path() / "in.jsonl", std::ios::binary) << text;

  side_records<dead_letter> dead;
  std::vector<order> got;
  auto p = from_file(dir.path() / "in.jsonl", json).dead_letters_to(dead) |
           sink([&](const order& o) { got.push_back(o); });
  p.run();
  CHECK(got.size() == 3);
  REQUIRE(dead.records().size() == 4);
  CHECK(p.source().dead_letters() == 4);
  const auto& d = dead.records();
  const std::string where = "file '" + (dir.path() / "in.jsonl").string() + "'";
  CHECK(d[0].source == where);
  CHECK(d[0].record == 2);
  CHECK(d[0].offset == offsets[1]);
  CHECK(d[0].raw == lines[1].substr(0, lines[1].size() - 1));
  CHECK(d[0].error.field == "at.px");
  CHECK(d[0].error.reason.find("expected a number") != std::string::npos);
  CHECK(d[1].record == 3);
  CHECK(d[1].offset == offsets[2]);
  CHECK(d[1].error.reason.find("not JSON") != std::string::npos);
  CHECK(d[2].record == 5);
  CHECK(d[2].error.field == "venue");
  CHECK(d[3].record == 7);
  CHECK(d[3].offset == offsets[6]);
  CHECK(d[3].raw == "{\"sym\":");
  CHECK(d[0].message() == where + ": record 2 (byte offset " + std::to_string(offsets[1]) + "): " + d[0].error.message());

  // Failing fast (no dead-letter output): the first bad record stops the stream, named the same way.
  std::vector<order> before;
  auto f = from_file(dir.path() / "in.jsonl", json) | sink([&](const order& o) { before.push_back(o); });
  const std::string first_bad = where + ": record 2 (byte offset " + std::to_string(offsets[1]) + "): field 'at.px'";
  CHECK_THROWS_WITH_AS(f.run(), doctest::Contains(first_bad.c_str()), file_source_error);
  CHECK(before.size() == 1);

  // A callable dead-letter output.
  std::size_t called = 0;
  auto c = from_file(dir.path() / "in.jsonl", json).dead_letters_to([&](const dead_letter&) { ++called; }) |
           sink([](const order&) {});
  c.run();
  CHECK(called == 4);
}

TEST_CASE("file source: a checkpoint mid-file (dead letters with it) restores exactly, across files") {
  test::temp_dir dir("files-restore");
  const json_codec<order> json;
  std::mt19937 rng(7);
  std::vector<fs::path> files;
  std::vector<std::uint32_t> expected;
  std::uint32_t bad = 0;
  for (int f = 0; f < 3; ++f) {
    std::string text;
    for (std::uint32_t i = 0; i < 200; ++i) {
      const std::uint32_t id = static_cast<std::uint32_t>(f) * 1000 + i;
      if (rng() % 10 == 0) {
        text += "{bad " + std::to_string(id) + "}\n";
        ++bad;
      } else {
        json.encode(make_order(id), text);
        expected.push_back(id);
      }
    }
    files.push_back(dir.path() / ("f" + std::to_string(f) + ".jsonl"));
    std::ofstream(files.back(), std::ios::binary) << text;
  }
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{150}, std::size_t{199}, std::size_t{200},
                          std::size_t{390}, expected.size()}) {
    CAPTURE(cut);
    side_records<dead_letter> dead;
    std::vector<std::uint32_t> got;
    auto p = from_files(files, json).block_bytes(4096).dead_letters_to(dead) |
             sink([&](const order& o) { got.push_back(o.venue); });
    p.run_for(cut);
    const snapshot s = p.checkpoint(1);
    const auto dead_at_cut = dead.count();

    side_records<dead_letter> dead2;
    std::vector<std::uint32_t> rest;
    auto q = from_files(files, json).dead_letters_to(dead2) | sink([&](const order& o) { rest.push_back(o.venue); });
    q.restore(s);
    CHECK(dead2.count() == dead_at_cut);
    q.run();
    got.insert(got.end(), rest.begin(), rest.end());
    CHECK(got == expected);
    CHECK(dead2.count() == bad);
    CHECK(q.source().dead_letters() == bad);
  }

  // A checkpoint naming a file the source does not read is refused.
  auto p = from_files(files, json).dead_letters_to([](const dead_letter&) {}) | sink([](const order&) {});
  p.run_for(450);
  const snapshot s = p.checkpoint(1);
  auto q = from_files({files[0], files[1]}, json).dead_letters_to([](const dead_letter&) {}) | sink([](const order&) {});
  CHECK_THROWS_WITH_AS(q.restore(s), doctest::Contains("which is not among its files"), checkpoint_error);
}

TEST_CASE("file source: a followed file is read as it grows; a followed directory picks up new files") {
  test::temp_dir dir("files-follow");
  const json_codec<order> json;
  const fs::path file = dir.path() / "0.jsonl";
  write_records(file, json, 0, 10);
  std::stop_source stop;
  std::vector<std::uint32_t> got;
  auto p = from_directory(dir.path(), json).follow(1ms, stop.get_token()) |
           sink([&](const order& o) { got.push_back(o.venue); });
  CHECK(p.run_for(1000) == 10);
  CHECK(!p.exhausted());
  CHECK(p.run_for(1000) == 0);  // nothing new: returns at once

  // Half a record: held until its end arrives.
  std::string more;
  json.encode(make_order(10), more);
  append(file, more.substr(0, 7));
  const auto drive = [&](std::size_t want, std::chrono::milliseconds limit = 5000ms) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (got.size() < want && std::chrono::steady_clock::now() < until) {
      p.run_for(1000);
      std::this_thread::sleep_for(1ms);
    }
  };
  drive(11, 50ms);
  CHECK(got.size() == 10);
  append(file, more.substr(7));
  drive(11);
  CHECK(got.size() == 11);

  // A later file: the first is complete, its trailing half record a record of its own.
  append(file, "{\"sym\"");
  write_records(dir.path() / "1.jsonl", json, 11, 20);
  CHECK_THROWS_WITH_AS(drive(20), doctest::Contains("record 12"), file_source_error);
}

TEST_CASE("file source: stopping a followed file ends the stream after what is there; run() waits without spinning") {
  test::temp_dir dir("files-stop");
  const json_codec<order> json;
  const fs::path file = dir.path() / "in.jsonl";
  write_records(file, json, 0, 5);
  std::stop_source stop;
  std::vector<std::uint32_t> got;
  auto p = from_file(file, json).follow(1ms, stop.get_token()) | sink([&](const order& o) { got.push_back(o.venue); });
  std::thread writer([&] {
    for (std::uint32_t i = 5; i < 50; ++i) {
      std::string line;
      json.encode(make_order(i), line);
      append(file, line);
      std::this_thread::sleep_for(200us);
    }
    std::string last;
    json.encode(make_order(50), last);
    last.pop_back();  // no final newline: at the end of a stopped file it is a record all the same
    append(file, last);
    stop.request_stop();
  });
  p.run();  // ends once stopped
  writer.join();
  REQUIRE(got.size() == 51);
  for (std::uint32_t i = 0; i < 51; ++i) CHECK(got[i] == i);
}

TEST_CASE("file source: bad files and bad settings are clear errors") {
  test::temp_dir dir("files-bad");
  const json_codec<order> json;
  CHECK_THROWS_WITH_AS(from_file(dir.path() / "missing.jsonl", json), doctest::Contains("cannot open it"),
                       file_source_error);
  CHECK_THROWS_AS(from_files({}, json), usage_error);
  CHECK_THROWS_WITH_AS(from_directory(dir.path() / "nowhere", json), doctest::Contains("listing the directory"),
                       file_source_error);
  std::stop_source stop;
  CHECK_THROWS_AS((void)from_file(dir.path(), json).follow(0ms, stop.get_token()), usage_error);

  // A record longer than max_record_bytes with no end.
  std::ofstream(dir.path() / "long.jsonl", std::ios::binary) << std::string(10'000, 'x');
  auto p = from_file(dir.path() / "long.jsonl", json).block_bytes(4096).max_record_bytes(5000) |
           sink([](const order&) {});
  CHECK_THROWS_WITH_AS(p.run(), doctest::Contains("no record ends within 5000 bytes of byte offset 0"),
                       file_source_error);

  // An empty directory is an empty stream.
  fs::create_directories(dir.path() / "empty");
  std::size_t n = 0;
  auto e = from_directory(dir.path() / "empty", json) | sink([&](const order&) { ++n; });
  e.run();
  CHECK(n == 0);
}

TEST_CASE("file source and sink: JSON lines in, CSV part files out (a codec as the sink's encoder), read back") {
  test::temp_dir dir("files-sink");
  const json_codec<order> json;
  write_records(dir.path() / "in.jsonl", json, 0, 400);
  const fs::path out = dir.path() / "out";
  {
    auto p = from_file(dir.path() / "in.jsonl", json) | transactional_file_sink(out, csv_codec<order>{}, 4096);
    p.run();
  }
  std::vector<order> got;
  auto q = from_directory(out, csv_codec<order>{}) | sink([&](const order& o) { got.push_back(o); });
  q.run();
  REQUIRE(got.size() == 400);
  for (std::uint32_t i = 0; i < 400; ++i) CHECK(got[i] == make_order(i));
}
