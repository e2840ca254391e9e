// An exactly-once file sink: rolling part files, committed by rename when
// the checkpoint that covers them completes (two_phase_commit.hpp).
//
//   <dir>/.part-00000000000000000000.inprogress   the open epoch
//   <dir>/.part-<first>-<last>.pending             pre-committed, invisible
//   <dir>/part-<first>-<last>                      committed
//
// first and last (exclusive) number the sink's output records, 20 digits, so
// the committed parts in name order are the output in order. Records are
// encoded by a user function (a line per record, a fixed binary layout...),
// buffered, written out and renamed pending at the barrier, and made
// durable (fdatasync) by the checkpoint's writer before the checkpoint
// completes: the worker never waits for the disk.
//
// The record count is saved in the checkpoint. After a crash, parts that
// were committed after the checkpoint (by a newer checkpoint that did not
// survive, or at the end of the input) already hold some of the records the
// recovered run replays: the sink skips the replayed records they cover and
// goes on from there, so the committed parts still hold every record once.
// That relies on the pipeline producing the same records in the same order
// when replayed from the same checkpoint, which a deterministic chain over
// replayable sources does.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "laminar/checkpoint/detail/durable_writer.hpp"
#include "laminar/checkpoint/two_phase_commit.hpp"
#include "laminar/core/error.hpp"

namespace laminar {

/// The transactional writer behind transactional_file_sink (see above).
template <class T, class Encode>
class part_file_writer {
 public:
  /// What commit needs: the pending part's range (empty: nothing to commit).
  struct committable {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    template <class Archive>
    void serialize(Archive& ar) {
      ar(first, last);
    }
  };

  part_file_writer(std::filesystem::path dir, Encode encode, std::size_t buffer_bytes)
      : dir_(std::move(dir)), encode_(std::move(encode)), buffer_bytes_(buffer_bytes) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw storage_error("file sink: creating '" + dir_.string() + "' failed: " + ec.message(), ec.value());
  }
  part_file_writer(part_file_writer&&) noexcept = default;
  part_file_writer& operator=(part_file_writer&&) noexcept = default;
  /// A copy (a graph copies a node's operators for each instance) has the
  /// configuration and no open file; only one copy may write into the
  /// directory (the first to write claims it).
  part_file_writer(const part_file_writer& o)
      : dir_(o.dir_), encode_(o.encode_), buffer_bytes_(o.buffer_bytes_), seq_(o.seq_), first_(o.first_),
        skip_until_(o.skip_until_) {}
  part_file_writer& operator=(const part_file_writer&) = delete;
  ~part_file_writer() = default;

  void begin(std::uint64_t) { first_ = seq_; }

  void write(const T& record) {
    if (seq_ < skip_until_) {  // committed already, by a run that did not checkpoint it
      ++seq_;
      first_ = seq_;
      return;
    }
    if (!fd_) open();
    if constexpr (requires { encode_.encode(record, buffer_); }) {
      encode_.encode(record, buffer_);  // a codec (laminar/serde/)
    } else {
      encode_(record, buffer_);
    }
    ++seq_;
    if (buffer_.size() >= buffer_bytes_) spill();
  }

  /// At every barrier: the open part is written out and renamed pending.
  /// Its fdatasync, and the directory's (for the renames), are left to the
  /// checkpoint's writer, which does them before the checkpoint completes:
  /// the worker does not wait for the disk. Parts an aborted checkpoint
  /// left unsynced are asked for again.
  committable pre_commit(const checkpoint_barrier& b) {
    committable c{seq_, seq_};
    if (fd_) {
      c = close_part(false);
      unsynced_.push_back(c);
    }
    for (const committable& u : unsynced_) b.target().sync_before_durable(pending(u));
    b.target().sync_before_durable(dir_.string());
    return c;
  }
  /// At the end of the stream: the open part and every pending one synced
  /// here; the commits that follow sync the directory.
  committable pre_commit() {
    ending_ = true;
    committable c{seq_, seq_};
    if (fd_) c = close_part(true);
    std::vector<std::string> paths;
    for (const committable& u : unsynced_) paths.push_back(pending(u));
    detail::sync_written_files(paths);
    unsynced_.clear();
    return c;
  }

  /// Renames a pending part committed. Its directory entry is made
  /// durable by the next checkpoint (a crash before it restores an earlier
  /// one, which commits the part again), or here at the end of the stream.
  void commit(const committable& c) {
    if (c.first == c.last) return;
    std::erase_if(unsynced_, [&](const committable& u) { return u.first == c.first && u.last == c.last; });
    const std::string from = pending(c), to = committed(c);
    if (::rename(from.c_str(), to.c_str()) != 0) {
      const int err = errno;
      std::error_code ec;
      if (err == ENOENT && std::filesystem::exists(to, ec)) return;  // committed before: idempotent
      fail("committing", from, err);
    }
    if (ending_) detail::sync_directory(dir_.string());
  }

  // Whatever is open or pending now was opened after the restored
  // checkpoint (what it held is committed by now): its records come again.
  void discard_open() {
    claim();
    fd_.reset();
    buffer_.clear();
    std::uint64_t done = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with(".part-")) {
        std::filesystem::remove(entry.path(), ec);
      } else if (auto range = parse_committed(name)) {
        if (range->last > done) done = range->last;
      }
    }
    skip_until_ = done;
    first_ = seq_;
  }

  void save_state(state_writer& w) const { w(seq_); }
  void load_state(state_reader& r) {
    r(seq_);
    first_ = seq_;
  }

  /// Records written (or skipped as committed already) so far.
  [[nodiscard]] std::uint64_t records() const noexcept { return seq_; }

  /// "part-<first>-<last>" if `name` is a committed part.
  static std::optional<committable> parse_committed(std::string_view name) {
    if (name.size() != 5 + 20 + 1 + 20 || !name.starts_with("part-") || name[25] != '-') return std::nullopt;
    committable c;
    for (std::size_t i = 5; i < name.size(); ++i) {
      if (i == 25) continue;
      if (name[i] < '0' || name[i] > '9') return std::nullopt;
      std::uint64_t& v = i < 25 ? c.first : c.last;
      v = v * 10 + static_cast<std::uint64_t>(name[i] - '0');
    }
    return c;
  }

 private:
  static std::string number(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(v));
    return buf;
  }
  [[nodiscard]] std::string inprogress() const { return (dir_ / (".part-" + number(first_) + ".inprogress")).string(); }
  [[nodiscard]] std::string pending(const committable& c) const {
    return (dir_ / (".part-" + number(c.first) + "-" + number(c.last) + ".pending")).string();
  }
  [[nodiscard]] std::string committed(const committable& c) const {
    return (dir_ / ("part-" + number(c.first) + "-" + number(c.last))).string();
  }

  // One writer per directory in this process: two instances of one sink
  // would number their records over each other.
  struct dir_claim {
    std::string dir;
    explicit dir_claim(std::string d) : dir(std::move(d)) {
      std::lock_guard<std::mutex> lock(registry_mu());
      if (!registry().insert(dir).second) {
        throw usage_error("transactional_file_sink: '" + dir +
                          "' is written by another sink already (a node with several instances?): give each sink "
                          "instance a directory of its own");
      }
    }
    dir_claim(const dir_claim&) = delete;
    dir_claim& operator=(const dir_claim&) = delete;
    ~dir_claim() {
      std::lock_guard<std::mutex> lock(registry_mu());
      registry().erase(dir);
    }
    static std::mutex& registry_mu() {
      static std::mutex mu;
      return mu;
    }
    static std::set<std::string>& registry() {
      static std::set<std::string> dirs;
      return dirs;
    }
  };
  void claim() {
    if (!claim_) claim_ = std::make_unique<dir_claim>(std::filesystem::weakly_canonical(dir_).string());
  }

  void open() {
    claim();
    const std::string path = inprogress();
    fd_ = detail::unique_fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd_) fail("creating", path, errno);
  }
  void spill() {
    std::size_t done = 0;
    while (done < buffer_.size()) {
      const ssize_t n = ::write(fd_.get(), buffer_.data() + done, buffer_.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("writing", inprogress(), errno);
      }
      done += static_cast<std::size_t>(n);
    }
    buffer_.clear();
  }
  committable close_part(bool sync) {
    spill();
    if (sync && ::fdatasync(fd_.get()) != 0) fail("syncing", inprogress(), errno);
    fd_.reset();
    const committable c{first_, seq_};
    rename_or_fail(inprogress(), pending(c));
    return c;
  }
  static void rename_or_fail(const std::string& from, const std::string& to) {
    if (::rename(from.c_str(), to.c_str()) != 0) fail("renaming", from, errno);
  }
  [[noreturn]] static void fail(const char* what, const std::string& path, int err) {
    throw storage_error(std::string("file sink: ") + what + " '" + path + "' failed: " + detail::errno_text(err), err);
  }

  std::filesystem::path dir_;
  Encode encode_;
  std::size_t buffer_bytes_;
  std::string buffer_;
  detail::unique_fd fd_;
  std::uint64_t seq_ = 0;         // output records so far
  std::uint64_t first_ = 0;       // the open part's first record
  std::uint64_t skip_until_ = 0;  // records below this are committed already
  std::vector<committable> unsynced_;  // pending parts whose fdatasync was left to a checkpoint
  bool ending_ = false;                // the end of the stream: commits sync here
  std::unique_ptr<dir_claim> claim_;
};

namespace detail {

template <class Encode>
struct transactional_file_sink_factory {
  using is_sink = void;
  std::filesystem::path dir;
  Encode encode;
  std::size_t buffer_bytes;
  template <class Ctx>
  auto bind(const Ctx& ctx) && {
    using T = typename Ctx::value_type;
    static_assert(std::is_invocable_v<Encode&, const T&, std::string&> ||
                      requires(const Encode& c, const T& r, std::string& out) { c.encode(r, out); },
                  "laminar::transactional_file_sink: encode must be a codec of the record type (json_codec<T>, "
                  "csv_codec<T>...) or callable as encode(record, std::string& out)");
    return two_phase_commit(part_file_writer<T, Encode>(std::move(dir), std::move(encode), buffer_bytes)).bind(ctx);
  }
};

}  // namespace detail

/// An exactly-once sink writing part files into `dir`: `encode` is a codec
/// of laminar/serde/ (its encode(record, out)), or a function
/// `encode(record, out)` that appends a record's bytes to `out`. Parts are committed when the
/// checkpoint after them completes (checkpoint_coordinator), and at the
/// end of the stream.
template <class Encode>
auto transactional_file_sink(std::filesystem::path dir, Encode encode, std::size_t buffer_bytes = 1 << 20) {
  return detail::transactional_file_sink_factory<Encode>{std::move(dir), std::move(encode), buffer_bytes};
}

}  // namespace laminar
