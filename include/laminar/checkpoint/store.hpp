// A checkpoint directory: completed checkpoints on disk, written atomically
// and checksummed, the newest `retained` kept, the newest undamaged one
// found again after a crash.
//
//   <dir>/chk-00000000000000000042/          one completed checkpoint
//       0000-<state id>                      one file per operator state
//       0001-<state id>                      (its raw bytes)
//       MANIFEST                             what the checkpoint holds
//   <dir>/chk-00000000000000000043.inprogress   being written (or a crash's
//                                               leftover, removed on open)
//
// A checkpoint is written into its `.inprogress` directory: every state file
// and the manifest, each synced (durable_writer: io_uring, or pwrite and
// fdatasync), then the directory is synced, renamed to its final name, and
// the parent synced. The rename is the commit: a crash before it leaves an
// `.inprogress` directory that no reader looks at, a crash after it a whole
// checkpoint. The manifest names every task (a pipeline is one task, a graph
// one per node instance), each of its state records (id, layout) and the
// file holding it, with its size and a CRC-32C per 64 KiB block, and ends in
// a CRC-32C of itself: a file truncated, torn or bit-flipped afterwards is
// found on reading, with the byte offset where it goes wrong, and recovery
// falls back to the checkpoint before.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "laminar/checkpoint/detail/durable_writer.hpp"
#include "laminar/checkpoint/storage_options.hpp"
#include "laminar/checkpoint/detail/crc32c.hpp"
#include "laminar/core/detail/le_bytes.hpp"
#include "laminar/core/snapshot.hpp"

namespace laminar {

/// One checkpoint as stored: the snapshot of each task, by task name
/// ("pipeline" for a pipeline, "node#instance" for a graph's tasks).
struct stored_checkpoint {
  std::uint64_t id = 0;
  std::uint32_t key_groups = default_key_groups;
  std::map<std::string, snapshot> tasks;
  /// The older checkpoints whose records this one's deltas build on (an
  /// incremental checkpoint's chain), oldest first; kept while it is.
  std::vector<std::uint64_t> depends_on;
};

class checkpoint_store {
 public:
  static constexpr std::string_view manifest_name = "MANIFEST";
  static constexpr std::string_view manifest_magic = "LMNRMNFT";
  static constexpr std::uint32_t manifest_version = 2;  // 2: record bases and dependencies; 1 is read too
  /// The checksummed unit of a state file: a damaged byte is located to
  /// within this many.
  static constexpr std::size_t block_size = std::size_t{64} << 10;

  /// Opens (creating) `dir`, removing what an interrupted write left there.
  /// Keeps the newest `retained` completed checkpoints (at least 1).
  explicit checkpoint_store(std::filesystem::path dir, std::size_t retained = 3, storage_options options = {})
      : dir_(std::move(dir)), retained_(retained ? retained : 1), writer_(std::move(options)) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw storage_error("creating checkpoint directory '" + dir_.string() + "' failed: " + ec.message(), ec.value());
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("chk-") && name.ends_with(".inprogress")) std::filesystem::remove_all(entry.path(), ec);
    }
  }

  [[nodiscard]] const std::filesystem::path& directory() const noexcept { return dir_; }
  /// Whether files are written through io_uring (else pwrite and fdatasync).
  [[nodiscard]] bool uses_io_uring() const noexcept { return writer_.uses_io_uring(); }
  [[nodiscard]] std::size_t retained() const noexcept { return retained_; }

  /// Writes checkpoint `cp` durably, then drops all but the newest
  /// `retained`. A failed write throws storage_error (naming the file and
  /// the system's error) and leaves the stored checkpoints as they were.
  void write(const stored_checkpoint& cp) { write_tasks(cp.id, cp.key_groups, cp.tasks); }

  /// The completed checkpoints' ids, oldest first (damaged ones included:
  /// load() says what is wrong with them).
  [[nodiscard]] std::vector<std::uint64_t> checkpoints() const {
    std::vector<std::uint64_t> ids;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      if (auto id = parse_dir_name(entry.path().filename().string())) ids.push_back(*id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

 private:
  friend class checkpoint_coordinator;  // writes a graph's shared snapshots without copying them

  void write_tasks(std::uint64_t id, std::uint32_t key_groups, const std::map<std::string, snapshot>& tasks) {
    const std::filesystem::path final_dir = dir_ / dir_name(id);
    std::error_code ec;
    if (std::filesystem::exists(final_dir, ec)) {
      throw checkpoint_error("checkpoint " + std::to_string(id) + " is already stored in '" + final_dir.string() +
                             "': checkpoint ids must increase");
    }
    const std::filesystem::path tmp = dir_ / (dir_name(id) + ".inprogress");
    std::filesystem::remove_all(tmp, ec);
    if (!std::filesystem::create_directory(tmp, ec) || ec) {
      throw storage_error("creating '" + tmp.string() + "' failed: " + ec.message(), ec.value());
    }
    try {
      // First what the stages wrote themselves and left to be synced here
      // (a file sink's pre-committed parts): the checkpoint must not
      // complete before they are durable.
      std::vector<std::string> deferred;
      for (const auto& [task, snap] : tasks) {
        for (const std::string& path : snap.deferred_syncs()) {
          writer_.check_fault(path);
          deferred.push_back(path);
        }
      }
      detail::sync_written_files(deferred);
      std::vector<detail::durable_writer::file> files;
      const std::vector<std::uint64_t> deps = dependencies_of(id, tasks);
      std::string manifest(manifest_magic);
      detail::put_u32(manifest, manifest_version);
      detail::put_u64(manifest, id);
      detail::put_u32(manifest, key_groups);
      detail::put_u32(manifest, static_cast<std::uint32_t>(deps.size()));
      for (const std::uint64_t d : deps) detail::put_u64(manifest, d);
      detail::put_u32(manifest, static_cast<std::uint32_t>(tasks.size()));
      std::size_t n = 0;
      for (const auto& [task, snap] : tasks) {
        detail::put_str(manifest, task);
        detail::put_u32(manifest, static_cast<std::uint32_t>(snap.records().size()));
        for (const state_record& r : snap.records()) {
          const std::string file = state_file_name(n++, task, r.id);
          detail::put_str(manifest, r.id);
          detail::put_str(manifest, r.layout);
          detail::put_u64(manifest, r.base);
          detail::put_str(manifest, file);
          detail::put_u64(manifest, r.bytes.size());
          for (std::size_t at = 0; at < r.bytes.size(); at += block_size) {
            detail::put_u32(manifest, detail::crc32c(std::string_view(r.bytes).substr(at, block_size)));
          }
          files.push_back({(tmp / file).string(), r.bytes});
        }
      }
      detail::put_u32(manifest, detail::crc32c(manifest));
      files.push_back({(tmp / manifest_name).string(), manifest});
      writer_.write_files(files);
      detail::sync_directory(tmp.string());
      if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
        throw storage_error("renaming '" + tmp.string() + "' to '" + final_dir.string() +
                                "' failed: " + detail::errno_text(errno),
                            errno);
      }
      detail::sync_directory(dir_.string());
    } catch (...) {
      std::filesystem::remove_all(tmp, ec);
      throw;
    }
    drop_old();
  }

 public:
  /// Reads checkpoint `id` and checks every byte against its manifest; a
  /// missing, truncated or damaged file is a checkpoint_error naming the
  /// file and the byte offset.
  [[nodiscard]] stored_checkpoint load(std::uint64_t id) const {
    chain_reads chain;
    return load_chained(id, chain);
  }

 private:
  // The checkpoints a load's deltas build on, each read once; a base's
  // record is moved into the delta that builds on it, unless taken before.
  struct chain_reads {
    std::map<std::uint64_t, stored_checkpoint> loaded;
    std::set<std::pair<std::uint64_t, std::string>> taken;  // (checkpoint, task/record)
  };

  // load(), with the checkpoints a delta builds on read once into `chain`.
  stored_checkpoint load_chained(std::uint64_t id, chain_reads& chain) const {
    const std::filesystem::path cp_dir = dir_ / dir_name(id);
    const std::string mpath = (cp_dir / manifest_name).string();
    const std::string mbytes = detail::read_whole_file(mpath);
    detail::le_reader m{mbytes, 0, mpath};
    if (mbytes.size() < manifest_magic.size() + 4 || mbytes.substr(0, manifest_magic.size()) != manifest_magic) {
      throw checkpoint_error(mpath + ": bad magic at byte offset 0: not a laminar checkpoint manifest");
    }
    const std::string_view body = std::string_view(mbytes).substr(0, mbytes.size() - 4);
    detail::le_reader tail{mbytes, mbytes.size() - 4, mpath};
    if (tail.u32("manifest checksum") != detail::crc32c(body)) {
      throw checkpoint_error(mpath + ": checksum mismatch over its " + std::to_string(body.size()) +
                             " bytes: the manifest is torn or corrupted");
    }
    m.data = body;
    m.pos = manifest_magic.size();
    const std::uint32_t version = m.u32("manifest version");
    if (version != manifest_version && version != 1) {
      throw checkpoint_error(mpath + ": manifest version " + std::to_string(version) + " at byte offset 8 is not " +
                             std::to_string(manifest_version));
    }
    stored_checkpoint cp;
    cp.id = m.u64("checkpoint id");
    if (cp.id != id) {
      throw checkpoint_error(mpath + ": holds checkpoint " + std::to_string(cp.id) + ", its directory says " +
                             std::to_string(id));
    }
    cp.key_groups = m.u32("key group count");
    if (cp.key_groups == 0) throw checkpoint_error(mpath + ": a key group count of 0");
    if (version >= 2) {
      const std::uint32_t n = m.u32("dependency count");
      for (std::uint32_t d = 0; d < n; ++d) cp.depends_on.push_back(m.u64("dependency"));
    }
    const std::uint32_t task_count = m.u32("task count");
    for (std::uint32_t t = 0; t < task_count; ++t) {
      const std::string task(m.str("task #" + std::to_string(t) + " name"));
      snapshot snap(cp.id, cp.key_groups);
      const std::uint32_t records = m.u32("record count of task '" + task + "'");
      for (std::uint32_t r = 0; r < records; ++r) {
        const std::string where = "record #" + std::to_string(r) + " of task '" + task + "'";
        state_record rec;
        rec.id = std::string(m.str(where + " id"));
        rec.layout = std::string(m.str(where + " layout"));
        const std::uint64_t base = version >= 2 ? m.u64(where + " base") : 0;
        const std::string file(m.str(where + " file name"));
        if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
          throw checkpoint_error(mpath + ": " + where + " names the file '" + file + "', which is not a file name");
        }
        const std::uint64_t size = m.u64(where + " size");
        const std::string path = (cp_dir / file).string();
        rec.bytes = detail::read_whole_file(path);
        if (rec.bytes.size() != size) {
          throw checkpoint_error(path + ": " + std::to_string(rec.bytes.size()) + " bytes where the manifest says " +
                                 std::to_string(size) + ": " +
                                 (rec.bytes.size() < size ? "truncated at byte offset " + std::to_string(rec.bytes.size())
                                                          : "unexpected bytes from byte offset " + std::to_string(size)));
        }
        for (std::size_t at = 0; at < rec.bytes.size(); at += block_size) {
          const std::uint32_t want = m.u32(where + " block checksum");
          if (want != detail::crc32c(std::string_view(rec.bytes).substr(at, block_size))) {
            const std::size_t end = std::min(rec.bytes.size(), at + block_size);
            throw checkpoint_error(path + ": checksum mismatch in bytes " + std::to_string(at) + " to " +
                                   std::to_string(end) + " (the block at byte offset " + std::to_string(at) +
                                   "): the file is corrupted");
          }
        }
        if (base != 0) {
          // A delta: the record as the checkpoint it builds on restores it,
          // then this delta.
          if (base >= id) throw checkpoint_error(mpath + ": " + where + " builds on checkpoint " + std::to_string(base) + ", which is not older");
          std::string delta = std::move(rec.bytes);
          rec = base_record(base, task, rec.id, chain, mpath);
          rec.deltas.push_back(std::move(delta));
        }
        snap.add(std::move(rec));
      }
      cp.tasks.emplace(task, std::move(snap));
    }
    if (m.pos != body.size()) {
      throw checkpoint_error(mpath + ": " + std::to_string(body.size() - m.pos) +
                             " unexpected bytes at byte offset " + std::to_string(m.pos));
    }
    return cp;
  }

  // Task `task`'s record `rid` as checkpoint `base` restores it (whole, or
  // its own chain), for a delta of a newer checkpoint.
  state_record base_record(std::uint64_t base, const std::string& task, const std::string& rid,
                           chain_reads& chain, const std::string& mpath) const {
    auto at = chain.loaded.find(base);
    if (at == chain.loaded.end()) {
      try {
        at = chain.loaded.emplace(base, load_chained(base, chain)).first;
      } catch (const error& e) {
        throw checkpoint_error(mpath + ": builds on checkpoint " + std::to_string(base) + ", which does not read back: " +
                               e.what());
      }
    }
    const auto t = at->second.tasks.find(task);
    state_record* r = t == at->second.tasks.end() ? nullptr : t->second.find(rid);
    if (r == nullptr) {
      throw checkpoint_error(mpath + ": a delta of '" + rid + "' (task '" + task + "') builds on checkpoint " +
                             std::to_string(base) + ", which holds no such record");
    }
    // A record is large (a whole keyed state): the delta on it takes it.
    // All of a checkpoint's deltas build on one checkpoint, so no record is
    // the base of two.
    if (!chain.taken.emplace(base, task + '/' + rid).second) {
      throw checkpoint_error(mpath + ": two deltas of '" + rid + "' build on checkpoint " + std::to_string(base));
    }
    return std::move(*r);
  }

  // The checkpoints a new one's deltas need: their bases, and what those
  // need in turn (read from their manifests).
  std::vector<std::uint64_t> dependencies_of(std::uint64_t id, const std::map<std::string, snapshot>& tasks) const {
    std::set<std::uint64_t> deps;
    for (const auto& [task, snap] : tasks) {
      for (const state_record& r : snap.records()) {
        if (r.base == 0 || deps.count(r.base) != 0) continue;
        if (r.base >= id) {
          throw checkpoint_error("checkpoint " + std::to_string(id) + ": '" + r.id + "' is a delta on checkpoint " +
                                 std::to_string(r.base) + ", which is not older");
        }
        std::error_code ec;
        if (!std::filesystem::exists(dir_ / dir_name(r.base) / manifest_name, ec)) {
          throw checkpoint_error("checkpoint " + std::to_string(id) + ": '" + r.id + "' is a delta on checkpoint " +
                                 std::to_string(r.base) + ", which is not in '" + dir_.string() + "'");
        }
        deps.insert(r.base);
        for (const std::uint64_t d : manifest_dependencies(r.base)) deps.insert(d);
      }
    }
    return {deps.begin(), deps.end()};
  }

 public:

  /// The newest checkpoint that reads back whole, or none. Each newer one
  /// that does not is reported through storage_options::log (what is wrong,
  /// in which file, at which byte offset) and skipped.
  [[nodiscard]] std::optional<stored_checkpoint> load_newest() const {
    const std::vector<std::uint64_t> ids = checkpoints();
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
      try {
        return load(*it);
      } catch (const checkpoint_error& e) {
        detail::storage_log(writer_.options(), "checkpoint " + std::to_string(*it) + " in '" + dir_.string() +
                                                   "' is damaged, using the one before: " + e.what());
      }
    }
    return std::nullopt;
  }

  /// The name of checkpoint `id`'s directory.
  [[nodiscard]] static std::string dir_name(std::uint64_t id) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "chk-%020llu", static_cast<unsigned long long>(id));
    return buf;
  }

 private:
  static std::optional<std::uint64_t> parse_dir_name(std::string_view name) {
    if (name.size() != 24 || !name.starts_with("chk-")) return std::nullopt;
    std::uint64_t id = 0;
    for (char c : name.substr(4)) {
      if (c < '0' || c > '9') return std::nullopt;
      id = id * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return id;
  }

  // "0007-bars_window": the index keeps names unique, the id makes them readable.
  static std::string state_file_name(std::size_t n, std::string_view task, std::string_view id) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04zu-", n);
    std::string name = buf;
    std::string readable = std::string(task) + "." + std::string(id);
    if (readable.size() > 96) readable.resize(96);
    for (char c : readable) {
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                         c == '-' || c == '_';
      name.push_back(plain ? c : '_');
    }
    return name;
  }

  // Keeps the newest `retained_` checkpoints and those their deltas build on.
  void drop_old() {
    const std::vector<std::uint64_t> ids = checkpoints();
    if (ids.size() <= retained_) return;
    std::set<std::uint64_t> keep;
    for (std::size_t i = ids.size() - retained_; i < ids.size(); ++i) {
      keep.insert(ids[i]);
      for (const std::uint64_t d : manifest_dependencies(ids[i])) keep.insert(d);
    }
    std::error_code ec;
    for (const std::uint64_t id : ids) {
      if (keep.count(id) == 0) std::filesystem::remove_all(dir_ / dir_name(id), ec);
    }
  }
  // The dependency list of checkpoint id's manifest (none if it cannot be read).
  [[nodiscard]] std::vector<std::uint64_t> manifest_dependencies(std::uint64_t id) const {
    try {
      const std::string path = (dir_ / dir_name(id) / manifest_name).string();
      const std::string bytes = detail::read_whole_file(path);
      detail::le_reader m{bytes, manifest_magic.size(), path};
      if (m.u32("manifest version") < 2) return {};
      (void)m.u64("checkpoint id");
      (void)m.u32("key group count");
      const std::uint32_t n = m.u32("dependency count");
      std::vector<std::uint64_t> deps;  // read one by one: a damaged count meets the end of the file, not a huge allocation
      for (std::uint32_t d = 0; d < n; ++d) deps.push_back(m.u64("dependency"));
      return deps;
    } catch (const error&) {
      return {};
    }
  }

  std::filesystem::path dir_;
  std::size_t retained_;
  detail::durable_writer writer_;
};

}  // namespace laminar
