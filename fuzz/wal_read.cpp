// Fuzz target: the write-ahead log's readers (laminar/checkpoint/wal.hpp):
// wal_replay over a segment as it lies on disk, and write_ahead_log's
// open (every segment checked, a torn tail cut, gaps refused) and replay.
//
// The input is a flags byte, then segments separated by "LMNRFUZZ" (fuzz_support.hpp), each
//   [1 byte: the segment's first record number - 1] [frames]
// written as wal-<first>.log in a scratch directory. Flags:
//   bit 0  each frame's CRC-32C is recomputed where its length fits (past
//          the checksums)
//   bit 1  after the open, one record is appended and committed
// Records are laminar_fuzz::order (fuzz/records.hpp), archived as a
// described record. Checked:
//  - wal_replay over the raw first segment yields records with increasing
//    numbers or throws a laminar::error;
//  - the open either throws a laminar::error or gives a log whose replay
//    yields exactly the records first_seq()..last_seq(), in order (or
//    throws a laminar::error for an undecodable payload), also from a
//    record in the middle;
//  - a record appended after the open gets the next number and replays
//    back equal.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "laminar/checkpoint/detail/crc32c.hpp"
#include "laminar/checkpoint/wal.hpp"
#include "records.hpp"

namespace {

namespace fs = std::filesystem;
using laminar_fuzz::order;
volatile int sink = 0;

laminar::wal_options quiet() {
  laminar::wal_options o;
  o.durability = laminar::wal_durability::every_batch;
  o.storage.force_fallback = true;  // pwrite and fdatasync: no io_uring ring per log
  o.storage.log = [](std::string_view) {};
  return o;
}

void fix_crcs(std::string& s) {
  std::size_t at = 0;
  while (s.size() - at >= laminar::detail::wal_header_bytes) {
    std::uint32_t len = 0;
    for (int i = 3; i >= 0; --i) len = (len << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
    if (len > s.size() - at - laminar::detail::wal_header_bytes) return;
    const std::uint32_t crc = laminar::detail::crc32c(std::string_view(s).substr(at + 8, 8 + len));
    for (int i = 0; i < 4; ++i) s[at + 4 + static_cast<std::size_t>(i)] = static_cast<char>((crc >> (8 * i)) & 0xFFU);
    at += laminar::detail::wal_header_bytes + len;
  }
}

std::string segment_name(std::uint64_t first) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "wal-%020llu.log", static_cast<unsigned long long>(first));
  return buf;
}

// Replays `wal` after `after`: the records must be after+1.. in order.
void replay_checked(const laminar::write_ahead_log<order>& wal, std::uint64_t after) {
  std::uint64_t want = after + 1;
  try {
    wal.replay(after, [&](std::uint64_t seq, const order& rec) {
      if (seq != want) laminar_fuzz::finding("wal_read", "replay skipped or repeated a record number");
      ++want;
      sink = sink + (rec.hidden ? 1 : 0) + static_cast<int>(rec.sym.size());
    });
  } catch (const laminar::error& e) {
    laminar_fuzz::note(e.what());
    return;  // a payload that does not decode
  }
  if (want != wal.durable_seq() + 1 && after < wal.durable_seq()) {
    laminar_fuzz::finding("wal_read", "replay ended before the log's last durable record");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path& dir = laminar_fuzz::scratch_dir("wal_read");
  laminar_fuzz::empty_dir(dir);
  if (size == 0) return 0;
  const unsigned flags = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::pair<std::uint64_t, std::string>> segments;
  laminar_fuzz::split_chunks(rest, laminar_fuzz::chunk_separator, [&](std::string_view chunk) {
    if (chunk.empty()) return;
    const std::uint64_t first = 1 + static_cast<unsigned char>(chunk[0]);
    std::string bytes(chunk.substr(1));
    if ((flags & 1U) != 0) fix_crcs(bytes);
    const fs::path path = dir / segment_name(first);
    laminar_fuzz::write_file(path, bytes);
    segments.emplace_back(first, path.string());
  });

  // The raw reader over the first segment, as it lies (before the open cuts anything).
  if (!segments.empty()) {
    constexpr std::uint64_t end = std::numeric_limits<std::uint64_t>::max() - 1;
    laminar::wal_replay<order> raw({laminar::detail::wal_segment{segments[0].first, end, segments[0].second}}, end);
    raw.seek(0);
    std::uint64_t seq = 0, prev = 0;
    order rec;
    try {
      while (raw.next(seq, rec)) {
        if (seq <= prev) laminar_fuzz::finding("wal_read", "wal_replay went back in record numbers");
        prev = seq;
        sink = sink + (rec.hidden ? 1 : 0);
      }
    } catch (const laminar::error& e) {
      laminar_fuzz::note(e.what());
    }
  }

  try {
    laminar::write_ahead_log<order> wal(dir, quiet());
    const std::uint64_t last = wal.durable_seq();
    if (wal.last_seq() != last) laminar_fuzz::finding("wal_read", "a log just opened has records that are not durable");
    const laminar::wal_replay<order> cursor = wal.replayable();
    if (cursor.last_seq() != last) laminar_fuzz::finding("wal_read", "replayable() ends elsewhere than durable_seq()");
    const std::uint64_t first = cursor.first_seq();
    if (first > last + 1) laminar_fuzz::finding("wal_read", "first_seq() is past last_seq() + 1");
    laminar_fuzz::note("opened a log of records " + std::to_string(first) + " to " + std::to_string(last));
    replay_checked(wal, first - 1);
    replay_checked(wal, first - 1 + (last + 1 - first) / 2);
    if ((flags & 2U) != 0) {
      order rec;
      rec.sym = "fuzz";
      rec.venue = 7;
      rec.limit = 1.5;
      const std::uint64_t seq = wal.append(rec);
      wal.commit();
      if (seq != last + 1) laminar_fuzz::finding("wal_read", "an appended record did not get the next number");
      std::size_t n = 0;
      wal.replay(seq - 1, [&](std::uint64_t s, const order& back) {
        ++n;
        if (s != seq || !laminar_fuzz::same(back, rec)) laminar_fuzz::finding("wal_read", "an appended record replays different");
      });
      if (n != 1) laminar_fuzz::finding("wal_read", "an appended record does not replay once");
    }
  } catch (const laminar::error& e) {
    laminar_fuzz::note(e.what());
  }
  return 0;
}
