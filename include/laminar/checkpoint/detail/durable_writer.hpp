// Writes whole files durably: each created (or truncated), written and
// fdatasync'ed, many at once. Through io_uring (liburing) where the kernel
// allows it: every file's write is linked to its fdatasync and a batch of
// files goes to the kernel in one submission. Where io_uring is refused
// (EPERM, ENOSYS or ENOMEM from io_uring_queue_init, as under Docker's
// default seccomp profile), or LAMINAR_NO_URING is defined, or
// storage_options::force_fallback asks, with pwrite and fdatasync, and says
// so once per process.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#if defined(LAMINAR_NO_URING)
#define LAMINAR_HAS_URING 0
#elif __has_include(<liburing.h>)
#include <liburing.h>
#define LAMINAR_HAS_URING 1
#else
#define LAMINAR_HAS_URING 0
#endif

#include "laminar/checkpoint/storage_options.hpp"
#include "laminar/core/detail/huge_pages.hpp"

namespace laminar::detail {

/// A message through storage_options::log, or on standard error.
inline void storage_log(const storage_options& o, std::string_view message) {
  if (o.log) {
    o.log(message);
  } else {
    std::fprintf(stderr, "laminar: %.*s\n", static_cast<int>(message.size()), message.data());
  }
}

[[nodiscard]] inline std::string errno_text(int err) {
  return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
}

/// An open file descriptor, closed once.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// A whole file's bytes (as many as there are when it is read: a file cut
/// short while read comes back short, for the caller's size check).
inline std::string read_whole_file(const std::string& path) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw storage_error(path + ": cannot open it: " + errno_text(errno), errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw storage_error(path + ": fstat failed: " + errno_text(errno), errno);
  std::string out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  advise_huge_pages(out.data(), out.capacity());  // a large state file: a fault per 2 MiB, not per 4 KiB
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t r = ::pread(fd.get(), out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw storage_error(path + ": reading at byte offset " + std::to_string(got) + " failed: " + errno_text(errno),
                          errno);
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

/// Makes a directory's entries (a rename, a new file) durable.
inline void sync_directory(const std::string& dir) {
  unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw storage_error("opening directory '" + dir + "' to sync it failed: " + errno_text(errno), errno);
  if (::fsync(fd.get()) != 0) throw storage_error("syncing directory '" + dir + "' failed: " + errno_text(errno), errno);
}

/// fdatasync of files written earlier (and of their directories, for
/// their names): what snapshot::sync_before_durable asked for.
inline void sync_written_files(const std::vector<std::string>& paths) {
  std::vector<std::string> dirs;
  for (const std::string& path : paths) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw storage_error("opening '" + path + "' to sync it failed: " + errno_text(errno), errno);
    if (::fdatasync(fd.get()) != 0) throw storage_error("syncing '" + path + "' failed: " + errno_text(errno), errno);
    const std::size_t slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? std::string(".") : path.substr(0, slash == 0 ? 1 : slash);
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(std::move(dir));
  }
  for (const std::string& dir : dirs) sync_directory(dir);
}

class durable_writer {
 public:
  /// One file to write: its path and its whole content.
  struct file {
    std::string path;
    std::string_view bytes;
  };

  explicit durable_writer(storage_options options = {}) : options_(std::move(options)) {
#if LAMINAR_HAS_URING
    if (options_.force_fallback) return;
    const int rc = io_uring_queue_init(ring_entries, &ring_, 0);
    if (rc == 0) {
      uring_ = true;
      return;
    }
    say_fallback_once(options_, "io_uring is not available here (io_uring_queue_init: " + errno_text(-rc) +
                      "): durable files are written with pwrite and fdatasync");
#endif
  }
  durable_writer(const durable_writer&) = delete;
  durable_writer& operator=(const durable_writer&) = delete;
  ~durable_writer() {
#if LAMINAR_HAS_URING
    if (uring_) io_uring_queue_exit(&ring_);
#endif
  }

  /// Whether files go through io_uring (else pwrite and fdatasync).
  [[nodiscard]] bool uses_io_uring() const noexcept { return uring_; }
  [[nodiscard]] const storage_options& options() const noexcept { return options_; }

  /// One positioned write: `bytes` at `offset` of the open file `fd`
  /// (named `path` in errors), then, if `sync`, an fdatasync of it.
  struct write_job {
    int fd = -1;
    std::uint64_t offset = 0;
    std::string_view bytes;
    const std::string* path = nullptr;
    bool sync = true;
  };

  /// Creates (or truncates) each file, writes its bytes and syncs them.
  /// Throws storage_error naming the first file that failed; the others
  /// may or may not have been written.
  void write_files(std::span<const file> files) {
    std::vector<unique_fd> fds;
    std::vector<write_job> jobs;
    fds.reserve(files.size());
    jobs.reserve(files.size());
    for (const file& f : files) {
      check_fault(f.path);
      unique_fd fd(::open(f.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (!fd) throw storage_error("creating '" + f.path + "' failed: " + errno_text(errno), errno);
      jobs.push_back({fd.get(), 0, f.bytes, &f.path, true});
      fds.push_back(std::move(fd));
    }
    write(jobs);
  }

  /// Runs the jobs (through one io_uring submission per round, or pwrite
  /// and fdatasync); throws storage_error naming the first that failed.
  void write(std::span<const write_job> jobs) {
#if LAMINAR_HAS_URING
    if (uring_) {
      write_through_ring(jobs);
      return;
    }
#endif
    for (const write_job& j : jobs) write_plain(j);
  }

  /// storage_options::inject_fault for `path`: throws what it injects.
  void check_fault(const std::string& path) const {
    if (const int injected = options_.inject_fault ? options_.inject_fault(path) : 0) {
      throw storage_error("writing '" + path + "' failed: " + errno_text(injected) + " [injected]", injected);
    }
  }

 private:
  static constexpr unsigned ring_entries = 64;
  // One write is at most this long, so that a huge state is several writes.
  static constexpr std::size_t max_write = std::size_t{1} << 28;

  static void say_fallback_once(const storage_options& o, const std::string& why) {
    static std::atomic<bool> said{false};
    if (!said.exchange(true)) storage_log(o, why);
  }

  static void write_plain(const write_job& j) {
    std::size_t done = 0;
    while (done < j.bytes.size()) {
      const std::size_t n = std::min(j.bytes.size() - done, max_write);
      const ssize_t w = ::pwrite(j.fd, j.bytes.data() + done, n, static_cast<off_t>(j.offset + done));
      if (w < 0) {
        if (errno == EINTR) continue;
        throw storage_error("writing '" + *j.path + "' at byte offset " + std::to_string(j.offset + done) +
                                " failed: " + errno_text(errno),
                            errno);
      }
      if (w == 0) {
        throw storage_error("writing '" + *j.path + "' wrote nothing at byte offset " + std::to_string(j.offset + done),
                            EIO);
      }
      done += static_cast<std::size_t>(w);
    }
    if (j.sync && ::fdatasync(j.fd) != 0) {
      throw storage_error("syncing '" + *j.path + "' failed: " + errno_text(errno), errno);
    }
  }

#if LAMINAR_HAS_URING
  // Per job and round: a write of what is left (linked to the sync) and an
  // fdatasync. A short write cancels its linked sync; the next round
  // writes the rest.
  void write_through_ring(std::span<const write_job> jobs) {
    constexpr std::size_t per_round = ring_entries / 2;
    for (std::size_t first = 0; first < jobs.size(); first += per_round) {
      const std::size_t last = std::min(jobs.size(), first + per_round);
      std::vector<std::size_t> written(last - first, 0);
      std::vector<bool> done(last - first, false);
      for (;;) {
        unsigned queued = 0;
        for (std::size_t i = first; i < last; ++i) {
          const std::size_t k = i - first;
          if (done[k]) continue;
          const write_job& j = jobs[i];
          const bool more = written[k] < j.bytes.size();
          if (more) {
            io_uring_sqe* w = io_uring_get_sqe(&ring_);
            const std::size_t n = std::min(j.bytes.size() - written[k], max_write);
            io_uring_prep_write(w, j.fd, j.bytes.data() + written[k], static_cast<unsigned>(n), j.offset + written[k]);
            io_uring_sqe_set_data64(w, tag(i, false));
            if (j.sync) w->flags |= IOSQE_IO_LINK;
            ++queued;
          }
          if (j.sync) {
            io_uring_sqe* sq = io_uring_get_sqe(&ring_);
            io_uring_prep_fsync(sq, j.fd, IORING_FSYNC_DATASYNC);
            io_uring_sqe_set_data64(sq, tag(i, true));
            ++queued;
          } else if (!more) {
            done[k] = true;
          }
        }
        if (queued == 0) break;
        const int submitted = io_uring_submit_and_wait(&ring_, queued);
        if (submitted < 0) {
          throw storage_error("io_uring_submit for '" + *jobs[first].path + "' failed: " + errno_text(-submitted),
                              -submitted);
        }
        int failed = 0;
        std::size_t failed_job = 0;
        bool failed_sync = false;
        for (unsigned got = 0; got < queued; ++got) {
          io_uring_cqe* cqe = nullptr;
          const int rc = io_uring_wait_cqe(&ring_, &cqe);
          if (rc < 0) throw storage_error("io_uring_wait_cqe failed: " + errno_text(-rc), -rc);
          const std::uint64_t t = io_uring_cqe_get_data64(cqe);
          const int res = cqe->res;
          io_uring_cqe_seen(&ring_, cqe);
          const std::size_t i = static_cast<std::size_t>(t >> 1);
          const bool sync = (t & 1U) != 0;
          const std::size_t k = i - first;
          if (!sync) {
            if (res < 0 && res != -ECANCELED && failed == 0) {
              failed = -res, failed_job = i, failed_sync = false;
            } else if (res == 0 && written[k] < jobs[i].bytes.size() && failed == 0) {
              failed = EIO, failed_job = i, failed_sync = false;
            } else if (res > 0) {
              written[k] += static_cast<std::size_t>(res);
            }
          } else if (res == 0) {
            done[k] = written[k] == jobs[i].bytes.size();
          } else if (res != -ECANCELED && failed == 0) {
            failed = -res, failed_job = i, failed_sync = true;
          }
        }
        if (failed != 0) {
          throw storage_error(std::string(failed_sync ? "syncing '" : "writing '") + *jobs[failed_job].path +
                                  "' failed: " + errno_text(failed),
                              failed);
        }
      }
    }
  }
  static std::uint64_t tag(std::size_t i, bool sync) noexcept { return (static_cast<std::uint64_t>(i) << 1) | sync; }

  io_uring ring_{};
#endif

  storage_options options_;
  bool uring_ = false;
};

}  // namespace laminar::detail
