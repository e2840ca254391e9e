// from_file(path, parse): a replayable source over a file of lines. Its
// checkpointed state is the byte offset of the next line, so recovery
// resumes exactly where the checkpoint was; a checkpoint restored into a
// source over a shorter file is refused.
//
// parse(line) turns a line (without its '\n') into a record. A line it
// rejects (it throws) stops the stream with a file_source_error naming the
// file, the line number and the byte offset, and the parser's reason:
// nothing is skipped silently. The file is read in large blocks with
// pread, not mapped, so a file that grows or shrinks under the reader gives
// an error, not a crash.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/source.hpp"

namespace laminar {

/// A line of a file source could not be read or parsed.
class file_source_error : public error {
 public:
  using error::error;
};

template <class Parse>
class file_source : public source_base<file_source<Parse>> {
 public:
  using value_type = std::remove_cvref_t<std::invoke_result_t<Parse&, std::string_view>>;
  static constexpr std::string_view state_name = "file_source";

  file_source(std::filesystem::path path, Parse parse, std::size_t block_bytes)
      : path_(std::move(path)), parse_(std::move(parse)), block_(block_bytes < 4096 ? 4096 : block_bytes) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail_io("cannot open it", errno);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail_io("fstat failed", errno);
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  file_source(file_source&& o) noexcept
      : path_(std::move(o.path_)),
        parse_(std::move(o.parse_)),
        block_(o.block_),
        fd_(std::exchange(o.fd_, -1)),
        size_(o.size_),
        offset_(o.offset_),
        line_(o.line_) {}
  file_source& operator=(file_source&&) = delete;
  file_source(const file_source&) = delete;
  ~file_source() {
    if (fd_ >= 0) ::close(fd_);
  }

  [[nodiscard]] auto context() const { return stream_context<value_type>{}; }

  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max_records) {
    std::size_t n = 0;
    while (n < max_records && offset_ < size_) {
      if (at_ == buf_.size()) fill();
      const std::string_view rest(buf_.data() + at_, buf_.size() - at_);
      const std::size_t nl = rest.find('\n');
      if (nl == std::string_view::npos && buf_base_ + buf_.size() < size_) {
        fill();  // the line continues past the block: read from its start
        continue;
      }
      const std::string_view line = rest.substr(0, nl == std::string_view::npos ? rest.size() : nl);
      const std::size_t used = line.size() + (nl == std::string_view::npos ? 0 : 1);
      value_type record = parse_line(line);
      at_ += used;
      offset_ += used;
      ++line_;
      ++n;
      chain.on_event(record);
      if constexpr (stopping_chain<Chain>) {
        if (chain.stop_requested()) break;
      }
    }
    return n;
  }
  [[nodiscard]] bool exhausted() const noexcept { return offset_ >= size_; }

  /// The byte offset of the next line, and its 1-based number.
  [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }
  [[nodiscard]] std::uint64_t line() const noexcept { return line_ + 1; }

  void save_state(state_writer& w) const { w(offset_, line_); }
  void load_state(state_reader& r) {
    std::uint64_t offset = 0, line = 0;
    r(offset, line);
    if (offset > size_) {
      throw checkpoint_error("file source '" + path_.string() + "': the checkpoint's byte offset " +
                             std::to_string(offset) + " is past the end of the file (" + std::to_string(size_) +
                             " bytes)");
    }
    offset_ = offset;
    line_ = line;
    buf_.clear();
    at_ = 0;
    buf_base_ = offset_;
  }

 private:
  value_type parse_line(std::string_view line) {
    try {
      return parse_(line);
    } catch (const std::exception& e) {
      throw file_source_error("file source '" + path_.string() + "': line " + std::to_string(line_ + 1) +
                              " (byte offset " + std::to_string(offset_) + ") was rejected: " + e.what());
    }
  }

  // Reads the next block from the next unread byte (offset_).
  void fill() {
    const std::uint64_t left = size_ - offset_;
    std::size_t want = block_;
    if (want < left && buf_.size() - at_ >= block_) want = (buf_.size() - at_) * 2;  // a line longer than a block
    if (want > left) want = static_cast<std::size_t>(left);
    buf_.resize(want);
    std::size_t got = 0;
    while (got < want) {
      const ssize_t r = ::pread(fd_, buf_.data() + got, want - got, static_cast<off_t>(offset_ + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        fail_io("reading at byte offset " + std::to_string(offset_ + got) + " failed", errno);
      }
      if (r == 0) {
        throw file_source_error("file source '" + path_.string() + "': the file ended at byte offset " +
                                std::to_string(offset_ + got) + ", before its size when opened (" +
                                std::to_string(size_) + " bytes): it shrank while read");
      }
      got += static_cast<std::size_t>(r);
    }
    buf_base_ = offset_;
    at_ = 0;
  }

  [[noreturn]] void fail_io(const std::string& what, int err) const {
    throw file_source_error("file source '" + path_.string() + "': " + what + ": " + std::strerror(err));
  }

  std::filesystem::path path_;
  Parse parse_;
  std::size_t block_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t offset_ = 0;  // next unread line
  std::uint64_t line_ = 0;    // lines read
  std::string buf_;           // bytes from buf_base_ on
  std::uint64_t buf_base_ = 0;
  std::size_t at_ = 0;        // offset_ - buf_base_
};

/// A replayable source over the lines of the file at `path` (as it is when
/// opened), each turned into a record by parse(std::string_view line).
template <class Parse>
auto from_file(std::filesystem::path path, Parse parse, std::size_t block_bytes = 1 << 20) {
  return file_source<Parse>(std::move(path), std::move(parse), block_bytes);
}

}  // namespace laminar
