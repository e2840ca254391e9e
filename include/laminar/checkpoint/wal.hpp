// A write-ahead log of records, for inputs that cannot be replayed from
// their origin (a feed pushed into the process): each record is made
// durable, by a stated policy, before it is acknowledged; after a crash the
// log gives back every record after the position a checkpoint saved; a
// completed checkpoint lets the log drop what it covers.
//
//   <dir>/wal-00000000000000000001.log    records 1.. (a segment)
//   <dir>/wal-00000000000000052311.log    records 52311.. (the active one)
//
// A frame is [u32 length][u32 CRC-32C of seq and payload][u64 seq][payload],
// the payload the record in the state archives' format (cereal). Writes go
// through the checkpoint store's writer (io_uring, or pwrite and fdatasync,
// with the same fallback and fault injection).
//
// Durability (wal_options::durability):
//   every_record  append() returns once its record is on disk (an fdatasync each)
//   every_batch   append() buffers; commit() writes and syncs them together
//                 (group commit: one fdatasync for the batch)
//   interval      append() buffers; the buffer is written and synced when
//                 `interval` has passed since the last sync (checked at each
//                 append) and at commit(): records are at risk for at most
//                 that long
//
// On open, a last segment that ends in a torn frame (a crash during a
// write) is cut back to its last whole frame, and said so (file, offset,
// bytes dropped): those records were never acknowledged. A damaged frame
// anywhere else, or a segment missing between two others, is a
// checkpoint_error naming the file and the byte offset or the records lost.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "laminar/checkpoint/detail/crc32c.hpp"
#include "laminar/checkpoint/detail/durable_writer.hpp"
#include "laminar/checkpoint/storage_options.hpp"
#include "laminar/core/detail/le_bytes.hpp"
#include "laminar/core/detail/state_archives.hpp"
#include "laminar/core/state_archive.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

enum class wal_durability { every_record, every_batch, interval };

struct wal_options {
  wal_durability durability = wal_durability::every_batch;
  /// For wal_durability::interval: the longest a record waits to be synced.
  duration interval = std::chrono::milliseconds(5);
  /// A segment is closed, and a new one begun, past this size.
  std::size_t segment_bytes = std::size_t{64} << 20;
  /// How files are written (fallback, log, fault injection).
  storage_options storage{};
};

namespace detail {

inline constexpr std::size_t wal_header_bytes = 16;

struct wal_frame {
  std::uint64_t seq;
  std::string_view payload;
  std::size_t next;
};

// The frame at `at`; a bad one throws, naming the file and the offset.
inline wal_frame parse_wal_frame(std::string_view bytes, std::size_t at, const std::string& path) {
  le_reader r{bytes, at, path};
  const std::uint32_t len = r.u32("a frame's length");
  const std::uint32_t crc = r.u32("a frame's checksum");
  if (len > bytes.size() - at - wal_header_bytes) {
    throw checkpoint_error(path + ": the frame at byte offset " + std::to_string(at) + " is cut short (" +
                           std::to_string(len) + " bytes of record, " +
                           std::to_string(bytes.size() - at - wal_header_bytes) + " left)");
  }
  if (crc != crc32c(bytes.substr(at + 8, 8 + len))) {
    throw checkpoint_error(path + ": checksum mismatch in the frame at byte offset " + std::to_string(at));
  }
  const std::uint64_t seq = r.u64("a frame's sequence number");
  return {seq, bytes.substr(at + wal_header_bytes, len), at + wal_header_bytes + len};
}

/// One segment file of a log: the records first..last (last 0: none yet).
struct wal_segment {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::string path;
};

}  // namespace detail

/// The durable records of a log as they were when it was taken
/// (write_ahead_log::replayable()), read in order by a cursor, on any
/// thread, while the log goes on appending: records after its end are not
/// its. A segment is read whole when the cursor reaches it.
template <class T>
class wal_replay {
 public:
  wal_replay() = default;
  wal_replay(std::vector<detail::wal_segment> segments, std::uint64_t last)
      : segments_(std::move(segments)), last_(last) {
    std::erase_if(segments_, [](const detail::wal_segment& s) { return s.last == 0; });
  }

  /// The first record held (last_seq() + 1 when none is), and the last.
  [[nodiscard]] std::uint64_t first_seq() const noexcept {
    return segments_.empty() ? last_ + 1 : segments_.front().first;
  }
  [[nodiscard]] std::uint64_t last_seq() const noexcept { return last_; }

  /// Places the cursor after record `after`.
  void seek(std::uint64_t after) {
    after_ = after;
    index_ = 0;
    bytes_.clear();
    at_ = 0;
  }
  /// The next record after the cursor into `record`, its number into
  /// `seq`; false at the end.
  bool next(std::uint64_t& seq, T& record) {
    for (;;) {
      if (after_ >= last_) return false;  // what follows may be a write in progress
      if (at_ < bytes_.size()) {
        const detail::wal_frame fr = detail::parse_wal_frame(bytes_, at_, segments_[index_ - 1].path);
        at_ = fr.next;
        if (fr.seq <= after_) continue;
        state_reader r(fr.payload);
        r(record);
        seq = after_ = fr.seq;
        return true;
      }
      while (index_ < segments_.size() && segments_[index_].last <= after_) ++index_;
      if (index_ == segments_.size()) return false;
      bytes_ = detail::read_whole_file(segments_[index_].path);
      at_ = 0;
      ++index_;
    }
  }

 private:
  std::vector<detail::wal_segment> segments_;
  std::uint64_t last_ = 0;
  std::uint64_t after_ = 0;
  std::size_t index_ = 0;  // the next segment to read
  std::string bytes_;      // segments_[index_ - 1]'s
  std::size_t at_ = 0;
};

template <class T>
class write_ahead_log {
 public:
  static constexpr std::size_t header_bytes = detail::wal_header_bytes;

  /// Opens (creating) the log in `dir`, checking every segment, cutting a
  /// torn tail.
  explicit write_ahead_log(std::filesystem::path dir, wal_options options = {})
      : dir_(std::move(dir)), options_(std::move(options)), writer_(options_.storage) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw storage_error("wal: creating '" + dir_.string() + "' failed: " + ec.message(), ec.value());
    open_existing();
    last_sync_ = std::chrono::steady_clock::now();
  }
  write_ahead_log(const write_ahead_log&) = delete;
  write_ahead_log& operator=(const write_ahead_log&) = delete;
  ~write_ahead_log() {
    try {
      commit();
    } catch (...) {  // a destructor must not throw: what was not acknowledged is not owed
    }
  }

  /// Appends a record; returns its sequence number (from 1). Durable on
  /// return under every_record; see the policies above otherwise.
  std::uint64_t append(const T& record) {
    const std::uint64_t seq = ++last_seq_;
    const std::size_t at = pending_.size();
    pending_.resize(at + header_bytes);
    {
      detail::state_output_archive ar(pending_);
      ar(record);
    }
    const std::size_t len = pending_.size() - at - header_bytes;
    char* h = pending_.data() + at;
    put(h, static_cast<std::uint32_t>(len), 4);
    put(h + 8, seq, 8);
    const std::uint32_t crc = detail::crc32c(std::string_view(h + 8, 8 + len));
    put(h + 4, crc, 4);
    ++pending_records_;
    if (options_.durability == wal_durability::every_record) {
      commit();
    } else if (options_.durability == wal_durability::interval &&
               std::chrono::steady_clock::now() - last_sync_ >= options_.interval.to_chrono()) {
      commit();
    }
    return seq;
  }

  /// Writes and syncs every appended record (the group commit).
  void commit() {
    if (pending_records_ == 0) return;
    if (!active_ || active_size_ + pending_.size() > options_.segment_bytes) roll(last_seq_ - pending_records_ + 1);
    writer_.check_fault(active_path_);
    const detail::durable_writer::write_job job{active_.get(), active_size_, pending_, &active_path_, true};
    writer_.write(std::span(&job, 1));
    active_size_ += pending_.size();
    segments_.back().last = last_seq_;
    durable_seq_ = last_seq_;
    pending_.clear();
    pending_records_ = 0;
    last_sync_ = std::chrono::steady_clock::now();
  }

  /// The newest record appended, and the newest on disk.
  [[nodiscard]] std::uint64_t last_seq() const noexcept { return last_seq_; }
  [[nodiscard]] std::uint64_t durable_seq() const noexcept { return durable_seq_; }
  [[nodiscard]] bool uses_io_uring() const noexcept { return writer_.uses_io_uring(); }
  /// Segments on disk (the active one included).
  [[nodiscard]] std::size_t segments() const noexcept { return segments_.size(); }

  /// Calls f(seq, record) for every durable record after `after`, in order;
  /// returns how many.
  template <class F>
  std::size_t replay(std::uint64_t after, F&& f) const {
    wal_replay<T> cursor = replayable();
    cursor.seek(after);
    std::size_t n = 0;
    std::uint64_t seq = 0;
    T record{};
    while (cursor.next(seq, record)) {
      f(seq, record);
      ++n;
    }
    return n;
  }

  /// The durable records as they are now, for a reader on another thread.
  [[nodiscard]] wal_replay<T> replayable() const { return wal_replay<T>(segments_, durable_seq_); }

  /// Drops the segments whose records are all at or before `upto` (a
  /// completed checkpoint covers them); the active segment stays.
  void truncate(std::uint64_t upto) {
    std::error_code ec;
    while (segments_.size() > 1 && segments_.front().last != 0 && segments_.front().last <= upto) {
      std::filesystem::remove(segments_.front().path, ec);
      segments_.erase(segments_.begin());
    }
    detail::sync_directory(dir_.string());
  }

 private:
  using segment = detail::wal_segment;
  using frame = detail::wal_frame;

  static void put(char* p, std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFFU);
  }

  [[nodiscard]] std::string segment_name(std::uint64_t first) const {
    char buf[40];
    std::snprintf(buf, sizeof buf, "wal-%020llu.log", static_cast<unsigned long long>(first));
    return (dir_ / buf).string();
  }

  // Reads every segment: their ranges, a torn tail cut, gaps refused.
  void open_existing() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      if (name.size() == 28 && name.starts_with("wal-") && name.ends_with(".log") &&
          std::all_of(name.begin() + 4, name.begin() + 24, [](char c) { return c >= '0' && c <= '9'; })) {
        names.push_back(e.path().string());
      }
    }
    std::sort(names.begin(), names.end());
    for (std::size_t k = 0; k < names.size(); ++k) {
      const bool last_segment = k + 1 == names.size();
      const std::string bytes = detail::read_whole_file(names[k]);
      std::uint64_t first = 0;
      const char* digits = names[k].data() + names[k].size() - 24;
      if (std::from_chars(digits, digits + 20, first).ec != std::errc()) {
        throw checkpoint_error(names[k] + ": the record number in its name is past 2^64");
      }
      segment s{first, 0, names[k]};
      std::size_t at = 0;
      std::uint64_t expect = s.first;
      while (at < bytes.size()) {
        try {
          if (bytes.size() - at < header_bytes) {
            throw checkpoint_error(names[k] + ": " + std::to_string(bytes.size() - at) +
                                   " bytes at byte offset " + std::to_string(at) + ", shorter than a frame header");
          }
          const frame fr = detail::parse_wal_frame(bytes, at, names[k]);
          if (fr.seq != expect) {
            throw checkpoint_error(names[k] + ": the frame at byte offset " + std::to_string(at) + " holds record " +
                                   std::to_string(fr.seq) + " where record " + std::to_string(expect) + " belongs");
          }
          s.last = fr.seq;
          ++expect;
          at = fr.next;
        } catch (const checkpoint_error& e) {
          if (!last_segment) throw;
          // A crash in the middle of a write: what follows was never acknowledged.
          detail::storage_log(options_.storage, std::string("wal: cutting a torn tail: ") + e.what() + "; " +
                                                    std::to_string(bytes.size() - at) + " bytes dropped");
          if (::truncate(names[k].c_str(), static_cast<off_t>(at)) != 0) {
            throw storage_error("wal: cutting '" + names[k] + "' at byte offset " + std::to_string(at) +
                                    " failed: " + detail::errno_text(errno),
                                errno);
          }
          break;
        }
      }
      if (!segments_.empty()) {
        const std::uint64_t want = (segments_.back().last != 0 ? segments_.back().last : segments_.back().first - 1) + 1;
        if (s.first != want) {
          throw checkpoint_error("wal: '" + names[k] + "' begins at record " + std::to_string(s.first) +
                                 " where record " + std::to_string(want) + " follows: records " + std::to_string(want) +
                                 " to " + std::to_string(s.first - 1) + " are missing");
        }
      }
      last_seq_ = s.last != 0 ? s.last : s.first - 1;
      segments_.push_back(std::move(s));
    }
    durable_seq_ = last_seq_;
    if (!segments_.empty()) {  // go on appending to the last segment
      const segment& s = segments_.back();
      active_path_ = s.path;
      active_ = detail::unique_fd(::open(s.path.c_str(), O_WRONLY | O_CLOEXEC));
      if (!active_) throw storage_error("wal: opening '" + s.path + "' failed: " + detail::errno_text(errno), errno);
      struct stat st {};
      ::fstat(active_.get(), &st);
      active_size_ = static_cast<std::uint64_t>(st.st_size);
    }
  }

  // Begins a segment whose first record is `first`.
  void roll(std::uint64_t first) {
    active_path_ = segment_name(first);
    writer_.check_fault(active_path_);
    active_ = detail::unique_fd(::open(active_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!active_) throw storage_error("wal: creating '" + active_path_ + "' failed: " + detail::errno_text(errno), errno);
    detail::sync_directory(dir_.string());
    active_size_ = 0;
    segments_.push_back({first, 0, active_path_});
  }

  std::filesystem::path dir_;
  wal_options options_;
  detail::durable_writer writer_;
  std::vector<segment> segments_;
  detail::unique_fd active_;
  std::string active_path_;
  std::uint64_t active_size_ = 0;
  std::string pending_;  // frames appended, not yet written
  std::size_t pending_records_ = 0;
  std::uint64_t last_seq_ = 0;
  std::uint64_t durable_seq_ = 0;
  std::chrono::steady_clock::time_point last_sync_;
};

}  // namespace laminar
