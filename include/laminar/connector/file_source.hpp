// A replayable source over files: from_file(path, decoder),
// from_files({paths...}, decoder), from_directory(dir, decoder).
//
// The decoder is a codec (json_codec, csv_codec, binary_codec: anything
// with decode(bytes) -> decoded<T>) or a function of the record's bytes
// that returns the record (and throws to refuse it). The codec frames the
// records (serde/frame.hpp: lines unless it frames them itself); a CSV
// codec's header row at the top of a file is recognized and skipped.
//
// Files are read in order, in large blocks with pread (not mapped: a file
// that shrinks under the reader is an error, not a crash). The checkpointed
// state is the current file's name, the byte offset of its next record and
// the count of records read from it, so recovery resumes exactly where the
// checkpoint was; a checkpoint naming a file the source does not have, or
// an offset past its end, is refused.
//
// A record the decoder refuses stops the stream with a file_source_error
// naming the file, the record's number, its byte offset and the reason;
// with .dead_letters_to(out) it becomes a dead_letter (connector/
// dead_letter.hpp) handed to `out` instead, counted, and the stream goes on.
//
// .follow(poll, stop) keeps reading a file that grows (and, for a
// directory, files that appear after the last one, in name order): at the
// end of what is there the source looks again every `poll`, without
// blocking its thread, until `stop` is requested; then it reads what is
// left and ends.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/connector/dead_letter.hpp"
#include "laminar/connector/detail/record_decoding.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/core/source.hpp"
#include "laminar/runtime/doorbell.hpp"
#include "laminar/serde/decode_error.hpp"

namespace laminar {

/// A file could not be read, or (failing fast) one of its records decoded.
class file_source_error : public error {
 public:
  using error::error;
};

namespace detail {

/// An owned file descriptor.
class file_handle {
 public:
  file_handle() = default;
  explicit file_handle(int fd) noexcept : fd_(fd) {}
  file_handle(file_handle&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  file_handle& operator=(file_handle&& o) noexcept {
    if (this != &o) {
      close();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  file_handle(const file_handle&) = delete;
  file_handle& operator=(const file_handle&) = delete;
  ~file_handle() { close(); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool open() const noexcept { return fd_ >= 0; }
  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// What a file source reads and how: fixed before it starts.
struct file_source_config {
  std::vector<std::filesystem::path> files;
  std::filesystem::path directory;  // from_directory: where later files appear (followed)
  std::size_t block_bytes = std::size_t{1} << 20;
  std::size_t max_record_bytes = std::size_t{16} << 20;
  bool follow = false;
  duration poll = std::chrono::milliseconds(10);
  std::stop_token stop;
};

/// The regular files of `dir` whose names sort after `after`, in name
/// order; names starting with '.' (files still being written) are left out.
inline std::vector<std::filesystem::path> directory_files(const std::filesystem::path& dir,
                                                          const std::string& after = {}) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || name <= after) continue;
    std::error_code type_ec;
    if (it->is_regular_file(type_ec)) files.push_back(it->path());
  }
  if (ec) throw file_source_error("file source: listing the directory '" + dir.string() + "' failed: " + ec.message());
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.filename().string() < b.filename().string(); });
  return files;
}

}  // namespace detail

template <class Decoder, class DeadLetters = detail::fail_fast>
class file_source : public source_base<file_source<Decoder, DeadLetters>> {
 public:
  using value_type = detail::decoded_record_t<Decoder>;
  static constexpr std::string_view state_name = "file_source";

  file_source(detail::file_source_config config, Decoder decoder, DeadLetters dead = {})
      : config_(std::move(config)), decoding_(std::move(decoder), std::move(dead)) {
    if (config_.files.empty() && config_.directory.empty()) {
      throw usage_error("laminar: a file source needs at least one file");
    }
    for (const auto& f : config_.files) {  // fail now, not at the file's turn
      if (detail::file_handle h(::open(f.c_str(), O_RDONLY | O_CLOEXEC)); !h.open()) fail_io(f, "cannot open it", errno);
    }
  }

  // ---- configuration (before it reads) ----

  /// Hands each record the decoder refuses to `out` (a callable taking a
  /// dead_letter, or a side_records<dead_letter> by reference, which is
  /// checkpointed with the source) instead of stopping the stream.
  template <class F>
  [[nodiscard]] auto dead_letters_to(F&& out) && {
    return file_source<Decoder, detail::side_output_holder_t<F>>(
        std::move(config_), decoding_.take_decoder(), detail::hold_dead_letters(std::forward<F>(out)));
  }
  /// Keeps reading as the last file grows (and, from a directory, as files
  /// appear after it), looking every `poll` once it has read all there is,
  /// until `stop` is requested; then reads what is left and ends.
  [[nodiscard]] file_source follow(duration poll, std::stop_token stop) && {
    if (poll <= duration::zero()) throw usage_error("laminar: file source follow(poll): poll must be positive");
    config_.follow = true;
    config_.poll = poll;
    config_.stop = std::move(stop);
    return std::move(*this);
  }
  /// The size of a read (at least 4 KiB; 1 MiB unless set).
  [[nodiscard]] file_source block_bytes(std::size_t n) && {
    config_.block_bytes = n < 4096 ? 4096 : n;
    return std::move(*this);
  }
  /// The largest record (frame) accepted: a file with more bytes than this
  /// and no record end in them is an error (16 MiB unless set).
  [[nodiscard]] file_source max_record_bytes(std::size_t n) && {
    config_.max_record_bytes = n == 0 ? 1 : n;
    return std::move(*this);
  }

  // ---- the source protocol ----

  [[nodiscard]] auto context() const { return stream_context<value_type>{}; }

  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max_records) {
    std::size_t n = 0;
    waiting_ = false;
    const auto where = [this] { return "file '" + config_.files[file_].string() + "'"; };
    while (n < max_records && !done_) {
      if (!fd_.open() && !open_current()) break;
      const bool read_all = buf_base_ + buf_.size() >= size_;
      const bool complete = read_all && !may_grow();
      switch (decoding_.template read_next<file_source_error>(chain, unread(), complete, config_.max_record_bytes,
                                                              where, "file source: ")) {
        case detail::read_step::delivered:
          ++n;
          if constexpr (stopping_chain<Chain>) {
            if (chain.stop_requested()) return n;
          }
          break;
        case detail::read_step::held_back: break;
        case detail::read_step::need_bytes:
          if (!read_all) {
            fill();  // the record continues past the block: read from its start
          } else if (complete) {
            next_file();
          } else if (!look_again()) {
            waiting_ = true;
            return n;
          }
          break;
      }
    }
    return n;
  }
  [[nodiscard]] bool exhausted() const noexcept { return done_; }

  /// Whether a run_for may find records: false while a followed file has
  /// been read to its end and the next look is not due (a graph's worker
  /// then leaves the source alone; pipeline::run sleeps).
  [[nodiscard]] bool has_input() const noexcept {
    return !waiting_ || config_.stop.stop_requested() || clock::now() - last_look_ >= config_.poll;
  }
  /// A graph's worker offers its doorbell to sources that may have no
  /// input; nothing rings it for a file: a parked worker re-checks
  /// has_input() every runtime_options::park_recheck (1 ms) on its own.
  void attach(detail::doorbell*) noexcept {}

  // ---- where it is ----

  /// The file being read, the byte offset of its next record and that
  /// record's 1-based number in it.
  [[nodiscard]] std::filesystem::path file() const {
    if (config_.files.empty()) return config_.directory;
    return config_.files[std::min(file_, config_.files.size() - 1)];
  }
  [[nodiscard]] std::uint64_t offset() const noexcept { return decoding_.position().offset; }
  [[nodiscard]] std::uint64_t record() const noexcept { return decoding_.position().record + 1; }
  /// Records emitted, and records refused (dead letters), since it started
  /// (or since the checkpoint it was restored from).
  [[nodiscard]] std::uint64_t records() const noexcept { return decoding_.emitted(); }
  [[nodiscard]] std::uint64_t dead_letters() const noexcept { return decoding_.refused(); }

  void save_state(state_writer& w) const {
    const std::string name = file_ < config_.files.size() ? config_.files[file_].string() : std::string();
    w(name, decoding_.position().offset, decoding_.position().record);
    decoding_.save_state(w);
  }
  void load_state(state_reader& r) {
    std::string name;
    std::uint64_t offset = 0, record = 0;
    r(name, offset, record);
    decoding_.load_state(r);
    fd_.close();
    buf_.clear();
    done_ = false;
    if (name.empty()) {  // it had read every file
      file_ = config_.files.size();
      done_ = !config_.follow;
      return;
    }
    if (!config_.directory.empty()) config_.files = detail::directory_files(config_.directory);
    const auto it = std::find_if(config_.files.begin(), config_.files.end(),
                                 [&](const auto& f) { return f.string() == name; });
    if (it == config_.files.end()) {
      throw checkpoint_error("file source: the checkpoint was reading '" + name + "', which is not among its files");
    }
    file_ = static_cast<std::size_t>(it - config_.files.begin());
    open_current();
    if (offset > size_) {
      throw checkpoint_error("file source: file '" + name + "': the checkpoint's byte offset " +
                             std::to_string(offset) + " is past the end of the file (" + std::to_string(size_) +
                             " bytes)");
    }
    decoding_.start_stream({offset, record});
    buf_base_ = offset;
  }

 private:
  using clock = std::chrono::steady_clock;

  // Opens config_.files[file_] (false when there is none: the end, or a
  // followed directory's next file has not appeared).
  bool open_current() {
    if (file_ >= config_.files.size()) {
      if (!may_grow()) done_ = true;
      return false;
    }
    const auto& path = config_.files[file_];
    fd_ = detail::file_handle(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_.open()) fail_io(path, "cannot open it", errno);
    decoding_.start_stream();
    buf_base_ = 0;
    buf_.clear();
    size_ = current_size();
    return true;
  }

  void next_file() {
    fd_.close();
    ++file_;
    decoding_.start_stream();
    if (file_ >= config_.files.size() && !may_grow()) done_ = true;
  }

  // Following, the last file read to its end may still grow (or, from a
  // directory, be followed by another) until stop is requested.
  [[nodiscard]] bool may_grow() const noexcept {
    return config_.follow && file_ + 1 >= config_.files.size() && !stopped_;
  }

  // At the end of a followed file: looks again, once per poll. True when
  // there may be more to read now (it grew, a file appeared, or stop was
  // requested, after which the end is the end).
  bool look_again() {
    const auto now = clock::now();
    if (config_.stop.stop_requested() && !stopped_) {
      stopped_ = true;  // one last look, then the end is the end
    } else if (now - last_look_ < config_.poll) {
      return false;
    }
    last_look_ = now;
    if (stopped_ && fd_.open()) {
      size_ = current_size();
      if (config_.directory.empty()) return true;
    } else if (fd_.open()) {
      const std::uint64_t size = current_size();
      if (size != size_) {
        size_ = size;
        return true;
      }
    }
    if (!config_.directory.empty()) {
      const std::string after = config_.files.empty() ? std::string() : config_.files.back().filename().string();
      auto later = detail::directory_files(config_.directory, after);
      if (!later.empty()) {
        config_.files.insert(config_.files.end(), later.begin(), later.end());
        return true;  // the file being read is complete now
      }
    }
    return stopped_;
  }

  std::uint64_t current_size() {
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) fail_io(config_.files[file_], "fstat failed", errno);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size < decoding_.position().offset || size < buf_base_ + buf_.size()) {
      fail("it shrank to " + std::to_string(size) + " bytes while read (it was read to byte offset " +
           std::to_string(buf_base_ + buf_.size()) + ")");
    }
    return size;
  }

  // The bytes read and not yet framed: from the next record on.
  [[nodiscard]] std::string_view unread() const noexcept {
    const auto at = static_cast<std::size_t>(decoding_.position().offset - buf_base_);
    return {buf_.data() + at, buf_.size() - at};
  }

  // Reads the next block from the next unread record.
  void fill() {
    const std::uint64_t from = decoding_.position().offset;
    const std::uint64_t left = size_ - from;
    std::size_t want = config_.block_bytes;
    if (unread().size() >= want) want = unread().size() * 2;  // a record longer than a block
    if (want > left) want = static_cast<std::size_t>(left);
    buf_.resize(want);
    std::size_t got = 0;
    while (got < want) {
      const ssize_t r = ::pread(fd_.get(), buf_.data() + got, want - got, static_cast<off_t>(from + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        fail_io(config_.files[file_], "reading at byte offset " + std::to_string(from + got) + " failed", errno);
      }
      if (r == 0) {
        fail("it ended at byte offset " + std::to_string(from + got) + ", before its size (" +
             std::to_string(size_) + " bytes): it shrank while read");
      }
      got += static_cast<std::size_t>(r);
    }
    buf_base_ = from;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw file_source_error("file source: file '" + config_.files[file_].string() + "': " + what);
  }
  [[noreturn]] static void fail_io(const std::filesystem::path& path, const std::string& what, int err) {
    throw file_source_error("file source: file '" + path.string() + "': " + what + ": " + std::strerror(err));
  }

  detail::file_source_config config_;
  detail::record_decoding<Decoder, DeadLetters> decoding_;
  std::size_t file_ = 0;       // config_.files index being read
  detail::file_handle fd_;
  std::uint64_t size_ = 0;     // of the file being read, as last seen
  std::string buf_;            // its bytes from buf_base_ on (the next record's offset is decoding_.position())
  std::uint64_t buf_base_ = 0;
  bool done_ = false;
  bool stopped_ = false;       // following ended: what is there is all there is
  bool waiting_ = false;       // the last run_for found nothing new in a followed file
  clock::time_point last_look_{};
};

/// A replayable source over the records of the file at `path`, decoded by
/// `decoder` (a codec, or a function of a record's bytes).
template <class Decoder>
auto from_file(std::filesystem::path path, Decoder decoder) {
  detail::file_source_config c;
  c.files.push_back(std::move(path));
  return file_source<Decoder>(std::move(c), std::move(decoder));
}

/// ... over the records of `paths`, one file after another.
template <class Decoder>
auto from_files(std::vector<std::filesystem::path> paths, Decoder decoder) {
  if (paths.empty()) throw usage_error("laminar: from_files needs at least one file");
  detail::file_source_config c;
  c.files = std::move(paths);
  return file_source<Decoder>(std::move(c), std::move(decoder));
}

/// ... over the regular files of `dir` in name order (names starting with
/// '.' left out: files still being written, such as a file sink's open
/// parts); followed, the files that appear after the last one too.
template <class Decoder>
auto from_directory(std::filesystem::path dir, Decoder decoder) {
  detail::file_source_config c;
  c.files = detail::directory_files(dir);
  c.directory = std::move(dir);
  return file_source<Decoder>(std::move(c), std::move(decoder));
}

}  // namespace laminar
