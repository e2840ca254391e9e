// Fuzz target: snapshot::from_bytes (laminar/core/snapshot.hpp), the
// checkpoint file format of snapshot::write/read, and the state archives
// (core/state_archive.hpp, core/detail/state_archives.hpp) that stages
// restore from its records.
//
// The input is a checkpoint file. It is read as it is, and again with its
// records' CRC-32s and its trailing CRC-32 recomputed (so that mutations
// get past the checksums to the records' state). Checked:
//  - a damaged file is a laminar::error (checkpoint_error), nothing else;
//  - a file that reads back is written back byte for byte by to_bytes(),
//    and that reads back to an equal snapshot;
//  - its records restore stage_a and stage_b (fuzz/stages.hpp) or fail
//    with a laminar::error, never a crash, an invalid value (UBSan: a bool
//    that is neither true nor false) or a huge allocation; what a restored
//    stage saves loads back and saves the same bytes again.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "laminar/core/detail/crc32.hpp"
#include "laminar/core/detail/le_bytes.hpp"
#include "laminar/core/snapshot.hpp"
#include "stages.hpp"

namespace {

volatile int sink = 0;

template <class Stage>
void restore(laminar::snapshot& snap) {
  Stage stage;
  try {
    snap.rewind();
    snap.load(stage);
  } catch (const laminar::error& e) {
    laminar_fuzz::note(e.what());
    return;
  }
  sink = sink + stage.use();
  laminar_fuzz::note("restored stage " + std::string(Stage::state_name));
  const laminar::state_record* rec = snap.find(Stage::state_name);
  if (rec == nullptr) laminar_fuzz::finding("snapshot_read", "a stage restored from a record that is not there");
  // What it saves loads back and saves the same again (the bytes read need
  // not be canonical: a map's repeated key, say).
  laminar::state_writer w(snap.key_groups());
  stage.save_state(w);
  Stage again;
  laminar::state_reader r(std::string_view(w.bytes()), snap.key_groups());
  try {
    again.load_state(r);
  } catch (const laminar::error& e) {
    laminar_fuzz::finding("snapshot_read", std::string("a restored stage's saved state does not load: ") + e.what());
  }
  laminar::state_writer w2(snap.key_groups());
  again.save_state(w2);
  if (!r.exhausted() || w2.bytes() != w.bytes()) laminar_fuzz::finding("snapshot_read", "a restored stage's saved state does not load and save back the same");
}

void read(std::string_view bytes) {
  laminar::snapshot snap;
  try {
    snap = laminar::snapshot::from_bytes(bytes);
  } catch (const laminar::error& e) {
    laminar_fuzz::note(e.what());
    return;
  }
  const std::string again = snap.to_bytes();
  if (again != bytes) laminar_fuzz::finding("snapshot_read", "to_bytes() of a snapshot read back differs from the file");
  if (!(laminar::snapshot::from_bytes(again) == snap)) laminar_fuzz::finding("snapshot_read", "a written snapshot reads back different");
  restore<laminar_fuzz::stage_a>(snap);
  restore<laminar_fuzz::stage_b>(snap);
  // Each record through the raw reader too, with each stage's reads.
  for (const laminar::state_record& r : snap.records()) {
    try {
      laminar_fuzz::stage_a a;
      laminar::state_reader reader(std::string_view(r.bytes), snap.key_groups());
      a.load_state(reader);
      sink = sink + a.use();
    } catch (const laminar::error& e) {
      laminar_fuzz::note(e.what());
    }
    try {
      laminar_fuzz::stage_b b;
      laminar::state_reader reader(std::string_view(r.bytes), snap.key_groups());
      b.load_state(reader);
      sink = sink + b.use();
    } catch (const laminar::error& e) {
      laminar_fuzz::note(e.what());
    }
  }
}

// The file with every record's CRC-32 recomputed where its framing
// holds, and the file's own: a mutated record's bytes get past the checks.
std::string fix_crcs(std::string_view bytes) {
  std::string out(bytes.substr(0, bytes.size() - 4));
  laminar::detail::le_reader r{out, 28, "fuzz"};
  try {
    if (out.size() < 28) throw laminar::checkpoint_error("short");
    r.pos = 24;
    const std::uint32_t count = r.u32("count");
    for (std::uint32_t i = 0; i < count; ++i) {
      std::string covered(r.str("id"));
      covered += r.str("layout");
      covered += r.bytes(r.u64("length"), "state");
      const std::size_t at = r.pos;
      (void)r.u32("crc");
      std::string crc;
      laminar::detail::put_u32(crc, laminar::detail::crc32(covered));
      out.replace(at, 4, crc);
    }
  } catch (const laminar::error&) {
  }
  laminar::detail::put_u32(out, laminar::detail::crc32(out));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  read(bytes);
  if (size >= 4) {
    const std::string fixed = fix_crcs(bytes);
    if (fixed != bytes) read(fixed);
  }
  return 0;
}
