// What the fuzz targets share: a finding is reported and aborts (libFuzzer
// saves the input), and the checkpoint targets' scratch directory.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace laminar_fuzz {

/// A property the target checks does not hold: say which, and abort.
[[noreturn]] inline void finding(const char* target, std::string_view what) {
  std::fprintf(stderr, "laminar fuzz %s: FINDING: %.*s\n", target, static_cast<int>(what.size()), what.data());
  std::abort();
}

/// With LAMINAR_FUZZ_VERBOSE set, says what an input did (the error a
/// reader threw): for looking at one input, not for fuzzing.
inline void note(std::string_view what) {
  static const bool verbose = std::getenv("LAMINAR_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "laminar fuzz: %.*s\n", static_cast<int>(what.size()), what.data());
}

/// A directory of this process's own, made once and removed at exit:
/// under $LAMINAR_FUZZ_TMP, else /dev/shm (memory: fdatasync costs
/// nothing), else the system's temporary directory.
inline const std::filesystem::path& scratch_dir(const char* target) {
  static const std::filesystem::path dir = [target] {
    std::filesystem::path base;
    if (const char* env = std::getenv("LAMINAR_FUZZ_TMP"); env != nullptr && *env != '\0') {
      base = env;
    } else if (std::error_code ec; std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) {
      base = "/dev/shm";
    } else {
      base = std::filesystem::temp_directory_path();
    }
    std::filesystem::path d = base / ("laminar-fuzz-" + std::string(target) + "-" + std::to_string(::getpid()));
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
    std::filesystem::create_directories(d);
    return d;
  }();
  static const bool cleanup = [] {
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    });
    return true;
  }();
  (void)cleanup;
  return dir;
}

/// Removes everything in `dir`, keeping it.
inline void empty_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) std::filesystem::remove_all(e.path(), ec);
}

/// Writes `bytes` to `path` (created or truncated).
inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::fprintf(stderr, "laminar fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

/// Splits `data` at each `sep`.
template <class F>
void split_chunks(std::string_view data, std::string_view sep, F&& f) {
  for (;;) {
    const std::size_t at = data.find(sep);
    f(data.substr(0, at));
    if (at == std::string_view::npos) return;
    data.remove_prefix(at + sep.size());
  }
}

/// The separator of the container inputs of checkpoint_read and wal_read.
inline constexpr std::string_view chunk_separator = "LMNRFUZZ";

}  // namespace laminar_fuzz
