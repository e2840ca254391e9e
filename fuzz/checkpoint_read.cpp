// Fuzz target: checkpoint_store's readers (laminar/checkpoint/store.hpp):
// load() of a checkpoint directory (the manifest, the state files it names
// with their block checksums, the chain of checkpoints a delta builds on),
// and the manifest reading a later write does of the checkpoints it keeps
// and builds on.
//
// The input is a flags byte, then files separated by "LMNRFUZZ" (fuzz_support.hpp), each
//   [1 byte: 1 = checkpoint 1, else checkpoint 2] [file name] '\0' [bytes]
// written into chk-...01/ or chk-...02/ of a scratch checkpoint directory
// (a name that is not a plain file name is skipped). Flags:
//   bit 0  the MANIFESTs' trailing CRC-32C is recomputed (past the checksum)
//   bit 1  then checkpoint 3 is written, with a delta on checkpoint 2's
//          record "a", retaining 2: the write reads checkpoint 2's manifest
// Checked: load(2), load(1) and the write either succeed or throw a
// laminar::error, nothing else, no crash, no huge allocation; a checkpoint
// that loads restores stage_a and stage_b (fuzz/stages.hpp) or fails with
// a laminar::error; a record without deltas writes and reads back through
// the snapshot file format unchanged.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "laminar/checkpoint/detail/crc32c.hpp"
#include "laminar/checkpoint/store.hpp"
#include "laminar/core/detail/le_bytes.hpp"
#include "stages.hpp"

namespace {

namespace fs = std::filesystem;
volatile int sink = 0;

laminar::storage_options quiet() {
  laminar::storage_options o;
  o.force_fallback = true;  // pwrite and fdatasync: no io_uring ring per store
  o.log = [](std::string_view) {};
  return o;
}

template <class Stage>
void restore(laminar::snapshot& snap) {
  Stage stage;
  try {
    snap.rewind();
    snap.load(stage);
    sink = sink + stage.use();
    laminar_fuzz::note("restored stage " + std::string(Stage::state_name));
  } catch (const laminar::error& e) {
    laminar_fuzz::note(e.what());
  }
}

void use(laminar::stored_checkpoint& cp) {
  for (auto& [task, snap] : cp.tasks) {
    restore<laminar_fuzz::stage_a>(snap);
    restore<laminar_fuzz::stage_b>(snap);
    bool whole = true;
    for (const laminar::state_record& r : snap.records()) whole = whole && r.base == 0 && r.deltas.empty();
    if (!whole) continue;
    const std::string bytes = snap.to_bytes();
    if (!(laminar::snapshot::from_bytes(bytes) == snap)) {
      laminar_fuzz::finding("checkpoint_read", "a loaded task's snapshot does not write and read back the same");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path& dir = laminar_fuzz::scratch_dir("checkpoint_read");
  laminar_fuzz::empty_dir(dir);
  if (size == 0) return 0;
  const unsigned flags = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const fs::path cps[2] = {dir / laminar::checkpoint_store::dir_name(1), dir / laminar::checkpoint_store::dir_name(2)};
  fs::create_directory(cps[0]);
  fs::create_directory(cps[1]);
  laminar_fuzz::split_chunks(rest, laminar_fuzz::chunk_separator, [&](std::string_view chunk) {
    if (chunk.empty()) return;
    const fs::path& cp = cps[chunk[0] == 1 ? 0 : 1];
    chunk.remove_prefix(1);
    const std::size_t nul = chunk.find('\0');
    if (nul == std::string_view::npos) return;
    const std::string_view name = chunk.substr(0, nul);
    std::string bytes(chunk.substr(nul + 1));
    if (name.empty() || name.size() > 100 || name == "." || name == ".." || name.find('/') != std::string_view::npos) return;
    if ((flags & 1U) != 0 && name == laminar::checkpoint_store::manifest_name && bytes.size() >= 4) {
      bytes.resize(bytes.size() - 4);
      laminar::detail::put_u32(bytes, laminar::detail::crc32c(bytes));
    }
    laminar_fuzz::write_file(cp / std::string(name), bytes);
  });
  laminar::checkpoint_store store(dir, 2, quiet());
  for (const std::uint64_t id : {2, 1}) {
    try {
      laminar::stored_checkpoint cp = store.load(id);
      if (cp.id != id) laminar_fuzz::finding("checkpoint_read", "load(id) returned another checkpoint");
      laminar_fuzz::note("loaded checkpoint " + std::to_string(id));
      use(cp);
    } catch (const laminar::error& e) {
      laminar_fuzz::note(e.what());
    }
  }
  bool write = (flags & 2U) != 0;
  if (write) {
    laminar::stored_checkpoint next;
    next.id = 3;
    laminar::snapshot snap(3);
    snap.add(laminar::state_record("a", "", "delta", 2));
    next.tasks.emplace("pipeline", std::move(snap));
    try {
      store.write(next);
      laminar_fuzz::note("wrote checkpoint 3");
      laminar::stored_checkpoint cp = store.load(3);
      use(cp);
    } catch (const laminar::error& e) {
      laminar_fuzz::note(e.what());
    }
  }
  return 0;
}
