// The write-ahead log: every durability policy through io_uring and the
// fallback, segments and truncation, a torn tail cut on open, damage and
// gaps named, a failed write that loses nothing acknowledged.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <laminar/checkpoint/wal.hpp>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/temp_dir.hpp"

using namespace laminar;
namespace fs = std::filesystem;

namespace {

struct tick {
  std::int64_t ts = 0;
  std::uint32_t symbol = 0;
  std::string venue;
  friend bool operator==(const tick&, const tick&) = default;
  template <class A>
  void serialize(A& ar) {
    ar(ts, symbol, venue);
  }
};

tick make(std::uint64_t i) {
  std::string venue = "X";
  venue += std::to_string(i % 3);  // not "X" + ...: g++ 12 -O2 warns falsely (-Wstringop-overflow) on that
  return {static_cast<std::int64_t>(i) * 1000, static_cast<std::uint32_t>(i % 7), venue};
}

std::vector<tick> replayed(const write_ahead_log<tick>& wal, std::uint64_t after, std::vector<std::uint64_t>* seqs = nullptr) {
  std::vector<tick> out;
  wal.replay(after, [&](std::uint64_t seq, const tick& t) {
    if (seqs) seqs->push_back(seq);
    out.push_back(t);
  });
  return out;
}

std::vector<fs::path> segment_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("wal: every durability policy, through io_uring and through pwrite + fdatasync") {
  for (const bool fallback : {false, true}) {
    for (const auto policy : {wal_durability::every_record, wal_durability::every_batch, wal_durability::interval}) {
      CAPTURE(fallback);
      CAPTURE(static_cast<int>(policy));
      test::temp_dir dir("wal");
      std::vector<tick> want;
      {
        write_ahead_log<tick> wal(dir.path(), wal_options{.durability = policy,
                                                          .interval = std::chrono::hours(1),
                                                          .storage = {.force_fallback = fallback}});
        if (fallback) CHECK_FALSE(wal.uses_io_uring());
        for (std::uint64_t i = 1; i <= 300; ++i) {
          CHECK(wal.append(make(i)) == i);
          want.push_back(make(i));
        }
        CHECK(wal.durable_seq() == (policy == wal_durability::every_record ? 300U : 0U));
        wal.commit();
        CHECK(wal.durable_seq() == 300);
        CHECK(replayed(wal, 0) == want);
      }
      write_ahead_log<tick> again(dir.path());
      CHECK(again.last_seq() == 300);
      std::vector<std::uint64_t> seqs;
      const auto tail = replayed(again, 250, &seqs);
      CHECK(tail == std::vector<tick>(want.begin() + 250, want.end()));
      CHECK(seqs.front() == 251);
      CHECK(again.append(make(301)) == 301);
    }
  }
}

TEST_CASE("wal: an interval policy syncs once the interval has passed") {
  test::temp_dir dir("wal-interval");
  write_ahead_log<tick> wal(dir.path(), wal_options{.durability = wal_durability::interval,
                                                    .interval = std::chrono::milliseconds(1)});
  wal.append(make(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  wal.append(make(2));  // the interval has passed: both go to disk
  CHECK(wal.durable_seq() == 2);
}

TEST_CASE("wal: segments roll, a completed checkpoint truncates what it covers, numbering goes on") {
  test::temp_dir dir("wal-segments");
  {
    write_ahead_log<tick> wal(dir.path(), wal_options{.durability = wal_durability::every_batch, .segment_bytes = 2000});
    for (std::uint64_t i = 1; i <= 400; ++i) {
      wal.append(make(i));
      if (i % 20 == 0) wal.commit();
    }
    CHECK(wal.segments() > 3);
    const std::size_t before = wal.segments();
    wal.truncate(200);
    CHECK(wal.segments() < before);
    std::vector<std::uint64_t> seqs;
    replayed(wal, 200, &seqs);
    CHECK(seqs.size() == 200);
    CHECK(seqs.front() == 201);
    // Everything at or before 200 may be gone; nothing after it is.
    std::vector<std::uint64_t> all;
    replayed(wal, 0, &all);
    CHECK(all.back() == 400);
    CHECK(all.front() <= 201);
  }
  write_ahead_log<tick> again(dir.path(), wal_options{.segment_bytes = 2000});
  CHECK(again.last_seq() == 400);
  CHECK(again.append(make(401)) == 401);
}

TEST_CASE("wal: a torn tail is cut on open and said, with the file and the offset") {
  test::temp_dir dir("wal-torn");
  {
    write_ahead_log<tick> wal(dir.path());
    for (std::uint64_t i = 1; i <= 100; ++i) wal.append(make(i));
    wal.commit();
  }
  const fs::path seg = segment_files(dir.path()).back();
  const auto size = fs::file_size(seg);
  fs::resize_file(seg, size - 5);  // the last frame, half written
  std::vector<std::string> log;
  write_ahead_log<tick> wal(dir.path(), wal_options{.storage = {.log = [&](std::string_view m) { log.emplace_back(m); }}});
  REQUIRE(log.size() == 1);
  CHECK(log[0].find("torn tail") != std::string::npos);
  CHECK(log[0].find(seg.filename().string()) != std::string::npos);
  CHECK(log[0].find("byte offset") != std::string::npos);
  CHECK(wal.last_seq() == 99);
  CHECK(replayed(wal, 0).size() == 99);
  CHECK(wal.append(make(100)) == 100);
  wal.commit();
  CHECK(replayed(wal, 98).size() == 2);
}

TEST_CASE("wal: a damaged frame before the tail, and a missing segment, are errors naming what is lost") {
  const auto fill = [](const fs::path& d) {
    write_ahead_log<tick> wal(d, wal_options{.segment_bytes = 1500});
    for (std::uint64_t i = 1; i <= 200; ++i) {
      wal.append(make(i));
      if (i % 10 == 0) wal.commit();
    }
  };
  {
    test::temp_dir dir("wal-flip");
    fill(dir.path());
    const fs::path first = segment_files(dir.path()).front();
    {
      std::fstream f(first, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(20);  // inside the first frame's record
      f.put('\x7f');
    }
    CHECK_THROWS_WITH_AS(write_ahead_log<tick>(dir.path()), doctest::Contains("checksum mismatch in the frame at byte offset"),
                         checkpoint_error);
  }
  {
    test::temp_dir dir("wal-gap");
    fill(dir.path());
    const auto files = segment_files(dir.path());
    REQUIRE(files.size() >= 3);
    fs::remove(files[1]);
    CHECK_THROWS_WITH_AS(write_ahead_log<tick>(dir.path()), doctest::Contains("are missing"), checkpoint_error);
  }
}

TEST_CASE("wal: a failed write loses nothing acknowledged, and the next commit writes what waited") {
  for (const bool fallback : {false, true}) {
    CAPTURE(fallback);
    test::temp_dir dir("wal-fault");
    int fail = 0;
    {
      write_ahead_log<tick> wal(dir.path(), wal_options{.storage = {.force_fallback = fallback,
                                                                    .inject_fault = [&](std::string_view) { return fail; }}});
      for (std::uint64_t i = 1; i <= 10; ++i) wal.append(make(i));
      wal.commit();
      for (std::uint64_t i = 11; i <= 20; ++i) wal.append(make(i));
      fail = ENOSPC;
      CHECK_THROWS_AS(wal.commit(), storage_error);
      CHECK(wal.durable_seq() == 10);
      fail = 0;
      wal.commit();
      CHECK(wal.durable_seq() == 20);
    }
    write_ahead_log<tick> again(dir.path());
    CHECK(replayed(again, 0).size() == 20);
  }
}

TEST_CASE("wal: a segment name whose number overflows is refused; one that is not all digits is not a segment") {
  {
    test::temp_dir dir("wal-name-overflow");
    std::ofstream(dir.path() / "wal-99999999999999999999.log").put('\0');
    CHECK_THROWS_WITH_AS(write_ahead_log<tick>(dir.path()), doctest::Contains("past 2^64"), checkpoint_error);
  }
  {
    test::temp_dir dir("wal-name-letters");
    std::ofstream(dir.path() / "wal-0000000000000000000x.log").put('\0');
    write_ahead_log<tick> wal(dir.path());
    CHECK(wal.last_seq() == 0);  // an empty log: the file is not one of its segments
  }
}
