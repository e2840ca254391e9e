// How durable files (checkpoints, the write-ahead log) are written, and the
// error a failed write or read reports.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "laminar/core/error.hpp"

namespace laminar {

/// How a checkpoint store (store.hpp) writes its files.
struct storage_options {
  /// Write with pwrite and fdatasync even where io_uring is available, so
  /// that tests cover both paths.
  bool force_fallback = false;
  /// Where the store says what the caller did not ask about: that io_uring
  /// was refused and the fallback is used (once per process), a damaged
  /// checkpoint skipped on recovery (naming the file and the byte offset).
  /// Empty: a line on standard error.
  std::function<void(std::string_view)> log{};
  /// Fault injection for tests: called with each file's path before it is
  /// written; a nonzero errno (ENOSPC, EIO...) fails that write as the disk
  /// would. Empty: none.
  std::function<int(std::string_view path)> inject_fault{};
};

/// A file could not be written, synced, renamed or read: names the file,
/// what was being done and the system's error.
class storage_error : public checkpoint_error {
 public:
  storage_error(const std::string& what, int err) : checkpoint_error(what), errno_(err) {}
  /// The errno behind it (0 when there is none).
  [[nodiscard]] int error_number() const noexcept { return errno_; }

 private:
  int errno_;
};

}  // namespace laminar
