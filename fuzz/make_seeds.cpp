// Writes the seed corpus of the fuzz targets, fuzz/corpus/<target>/, with
// the library's own writers: encoded records (csv_decode, json_decode,
// binary_decode, debezium_decode), a
// snapshot file (snapshot_read), checkpoint directories written by
// checkpoint_store, a delta chain included, packed in checkpoint_read's
// input format, and logs written by write_ahead_log, packed in wal_read's;
// plus a few damaged inputs of each. Deterministic: rerunning it rewrites
// the same files.
//
//   clang++-16 -std=c++20 -O1 -Iinclude fuzz/make_seeds.cpp -o build/fuzz/make_seeds -lsimdjson -luring -pthread
//   build/fuzz/make_seeds fuzz/corpus
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "laminar/checkpoint/store.hpp"
#include "laminar/checkpoint/wal.hpp"
#include "laminar/core/snapshot.hpp"
#include "laminar/serde/binary.hpp"
#include "laminar/serde/csv.hpp"
#include "laminar/serde/debezium.hpp"
#include "laminar/serde/json.hpp"
#include "stages.hpp"

namespace {

namespace fs = std::filesystem;
using laminar_fuzz::order;
using laminar_fuzz::side;

fs::path out_root;

void seed(const std::string& target, const std::string& name, std::string_view bytes) {
  const fs::path dir = out_root / target;
  fs::create_directories(dir);
  laminar_fuzz::write_file(dir / name, bytes);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<order> orders() {
  std::vector<order> v(4);
  v[0].sym = "AB";
  v[0].at = {101.25, 300, 0.5F};
  v[0].ts = laminar::timestamp::from_nanos(1'700'000'000'000'000'000);
  v[0].ttl = laminar::duration::from_nanos(5'000'000'000);
  v[0].venue = 3;
  v[0].note = "plain";
  v[1].sym = "C,D \"quoted\"";
  v[1].dir = side::sell;
  v[1].at = {-0.001, -7, 1e-3F};
  v[1].limit = 99.5;
  v[1].hidden = true;
  v[1].lot = -12;
  v[1].note = "two\nlines\r";
  v[2].sym = "";
  v[2].at = {1e300, std::numeric_limits<std::int64_t>::min(), 3.4e38F};
  v[2].limit = 0.0;
  v[2].ts = laminar::timestamp::min();
  v[2].venue = std::numeric_limits<std::uint32_t>::max();
  v[2].note = "caf\xc3\xa9;\t";
  v[3].sym = "E";
  v[3].at = {5e-324, 1, -0.0F};
  v[3].lot = std::numeric_limits<std::int32_t>::max();
  v[3].ttl = laminar::duration::max();
  return v;
}

laminar::storage_options quiet() {
  laminar::storage_options o;
  o.force_fallback = true;
  o.log = [](std::string_view) {};
  return o;
}

laminar_fuzz::stage_a make_a(int i) {
  laminar_fuzz::stage_a a;
  a.rec = orders()[static_cast<std::size_t>(i) % 4];
  a.names = {"x", "yz"};
  a.flag = i % 2 == 1;
  return a;
}
laminar_fuzz::stage_b make_b(int i) {
  laminar_fuzz::stage_b b;
  b.counts = {{"k", i}, {"m", -1}};
  b.rows = {{1.5, 2.5}, {}};
  if (i % 2 == 0) b.opt = i;
  b.items = {1, 2, static_cast<std::uint64_t>(i)};
  return b;
}

// A snapshot with both stages' records (and one no stage claims).
laminar::snapshot make_snapshot(std::uint64_t id, int i, bool extra) {
  laminar::snapshot s(id, 16);
  s.save(make_a(i));
  s.save(make_b(i));
  if (extra) s.add(laminar::state_record("other", "", "\x01\x02\x03"));
  return s;
}

// checkpoint_read's input: flags, then each file of checkpoints 1 and 2.
std::string pack_checkpoints(const fs::path& dir, unsigned flags) {
  std::string out(1, static_cast<char>(flags));
  bool first = true;
  for (const std::uint64_t id : {1, 2}) {
    const fs::path cp = dir / laminar::checkpoint_store::dir_name(id);
    if (!fs::exists(cp)) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(cp)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      if (!first) out += laminar_fuzz::chunk_separator;
      first = false;
      out += static_cast<char>(id);
      out += f.filename().string();
      out += '\0';
      out += slurp(f);
    }
  }
  return out;
}

// wal_read's input: flags, then each segment with its first record number - 1.
std::string pack_wal(const fs::path& dir, unsigned flags) {
  std::string out(1, static_cast<char>(flags));
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  bool first = true;
  for (const fs::path& f : files) {
    const std::string name = f.filename().string();
    const std::uint64_t n = std::stoull(name.substr(4, 20));
    if (n < 1 || n > 256) std::abort();
    if (!first) out += laminar_fuzz::chunk_separator;
    first = false;
    out += static_cast<char>(n - 1);
    out += slurp(f);
  }
  return out;
}

void text_seeds() {
  const laminar::csv_codec<order> csv;
  const laminar::json_codec<order> json;
  std::string all_rows = csv.header_row();
  int n = 0;
  for (const order& o : orders()) {
    std::string row, line;
    csv.encode(o, row);
    json.encode(o, line);
    all_rows += row;
    row.pop_back();
    line.pop_back();
    seed("csv_decode", "valid-" + std::to_string(n), row);
    seed("json_decode", "valid-" + std::to_string(n), line);
    ++n;
  }
  seed("csv_decode", "valid-file-crlf", all_rows + "E,1,1,2,0,,0,0,0,,0,x\r\n");
  seed("csv_decode", "invalid-open-quote", "\"AB,1,1.5,2,0.5,,false,0,0,,1,x");
  seed("csv_decode", "invalid-quote-inside", "A\"B,1,1.5,2,0.5,,false,0,0,,1,x");
  seed("csv_decode", "invalid-after-quote", "\"AB\"x,1,1.5,2,0.5,,false,0,0,,1,x");
  seed("csv_decode", "invalid-too-few", "AB,1,1.5");
  seed("csv_decode", "invalid-number", "AB,1,1.5x,2,0.5,,maybe,0,0,,99999999999,x");
  seed("csv_decode", "nan-inf", "AB,-1,nan,2,-inf,inf,1,-9223372036854775808,9223372036854775807,-2147483648,0,");
  seed("json_decode", "missing-optionals",
       R"({"sym":"A","dir":-1,"at":{"px":1,"qty":2,"weight":3},"hidden":true,"ts":1,"ttl":2,"venue":4,"note":"n","extra":[1,{"x":null}]})");
  seed("json_decode", "invalid-not-json", R"({"sym":"A",)");
  seed("json_decode", "invalid-types",
       R"({"sym":1,"dir":1.5,"at":[],"limit":"x","hidden":0,"ts":1e3,"ttl":-1,"venue":-1,"note":null})");
  seed("json_decode", "invalid-range", R"({"sym":"\u00e9\ud83d\ude00","dir":300,"at":{"px":-1e308,"qty":18446744073709551615,"weight":1},"hidden":false,"ts":0,"ttl":0,"venue":4294967296,"note":""})");
}

void binary_seeds() {
  const laminar::binary_codec<laminar_fuzz::feed_quote> quotes;
  const laminar::binary_codec<laminar_fuzz::wire_tick> ticks;
  laminar_fuzz::feed_quote q;
  q.sym = {'A', 'B', 'C', 0, 0, 0};
  q.dir = side::sell;
  q.bid = {101.25, 300, true};
  q.ask = {101.5, -7, false};
  q.flags = {true, false};
  q.weight = -0.0F;
  q.ts = laminar::timestamp::from_nanos(1'700'000'000'000'000'000);
  q.ttl = laminar::duration::max();
  q.venue = 65535;
  laminar_fuzz::wire_tick t;
  t.seq = 42;
  t.px = 1e300;
  t.ts = laminar::timestamp::min();
  t.qty = -1;
  t.venue = 7;
  t.buy = true;
  t.level = 255;
  std::string stream;
  quotes.encode(q, stream);
  ticks.encode(t, stream);
  seed("binary_decode", "valid-one-of-each", stream);
  std::string two_ticks;
  ticks.encode(t, two_ticks);
  t.buy = false;
  ticks.encode(t, two_ticks);
  seed("binary_decode", "valid-two-ticks", two_ticks);
  std::string bad_bool = two_ticks;
  bad_bool[laminar::binary_frame_header_bytes + 30] = 2;  // wire_tick::buy
  seed("binary_decode", "invalid-bool", bad_bool);
  seed("binary_decode", "invalid-cut", stream.substr(0, stream.size() - 5));
  seed("binary_decode", "invalid-too-large", std::string("\xff\xff\x00\x00" "abc", 7));
}

void debezium_seeds() {
  const laminar::debezium_codec<order> cdc;
  const std::vector<order> o = orders();
  using event = laminar::debezium_event<order>;
  event created = event::created(o[0]);
  created.ts_ms = 1'700'000'000'123;
  created.source_ts_ms = 1'700'000'000'000;
  const event all[] = {created, event::read(o[1]), event::updated(o[2], o[3]), event::deleted(o[0]),
                       event::truncated(), event::tombstone()};
  int n = 0;
  for (const event& e : all) {
    std::string line;
    cdc.encode(e, line);
    line.pop_back();
    seed("debezium_decode", "valid-" + std::to_string(n++), line);
  }
  seed("debezium_decode", "valid-envelope",
       R"({"schema":{"type":"struct","fields":[]},"payload":{"before":null,"after":{"sym":"A","dir":1,"at":{"px":1,"qty":2,"weight":0.5},"hidden":false,"ts":1,"ttl":2,"venue":3,"note":"n"},"source":{"ts_ms":4},"op":"c","ts_ms":5}})");
  seed("debezium_decode", "invalid-update-without-before",
       R"({"before":null,"after":{"sym":"A","dir":1,"at":{"px":1,"qty":2,"weight":0.5},"hidden":false,"ts":1,"ttl":2,"venue":3,"note":"n"},"op":"u"})");
  seed("debezium_decode", "invalid-op", R"({"before":null,"after":null,"op":"x"})");
  seed("debezium_decode", "invalid-not-json", R"({"payload":{"op":"c",)");
}

void snapshot_seeds() {
  const std::string bytes = make_snapshot(7, 1, true).to_bytes();
  seed("snapshot_read", "valid", bytes);
  seed("snapshot_read", "valid-empty", laminar::snapshot(1).to_bytes());
  seed("snapshot_read", "valid-b-only", [] {
    laminar::snapshot s(2, 1);
    s.save(make_b(2));
    return s.to_bytes();
  }());
  std::string flipped = bytes;
  flipped[40] = static_cast<char>(flipped[40] ^ 0x20);
  seed("snapshot_read", "invalid-flipped", flipped);
  seed("snapshot_read", "invalid-truncated", bytes.substr(0, bytes.size() / 2));
}

void checkpoint_seeds(const fs::path& scratch) {
  const fs::path dir = scratch / "store";
  fs::remove_all(dir);
  {
    laminar::checkpoint_store store(dir, 3, quiet());
    laminar::stored_checkpoint one;
    one.id = 1;
    one.key_groups = 16;
    one.tasks.emplace("pipeline", make_snapshot(1, 0, false));
    one.tasks.emplace("node#1", make_snapshot(1, 3, true));
    store.write(one);
    // Checkpoint 2: "a" of the pipeline a delta on checkpoint 1 (bytes
    // that stage_a reads on top of the base: a whole state again).
    laminar::stored_checkpoint two;
    two.id = 2;
    two.key_groups = 16;
    laminar::snapshot p(2, 16);
    laminar::state_writer w(16);
    make_a(1).save_state(w);
    p.add(laminar::state_record("a", laminar::detail::state_layout<laminar_fuzz::stage_a>(), w.take_bytes(), 1));
    laminar::state_writer wb(16);
    make_b(5).save_state(wb);
    p.add(laminar::state_record("b", "", wb.take_bytes()));
    two.tasks.emplace("pipeline", std::move(p));
    store.write(two);
  }
  seed("checkpoint_read", "valid-chain", pack_checkpoints(dir, 0));
  seed("checkpoint_read", "valid-chain-fix", pack_checkpoints(dir, 1));
  seed("checkpoint_read", "valid-chain-write", pack_checkpoints(dir, 3));
  // Damaged: checkpoint 2's manifest cut short; a state file flipped.
  const fs::path m2 = dir / laminar::checkpoint_store::dir_name(2) / "MANIFEST";
  const std::string manifest = slurp(m2);
  laminar_fuzz::write_file(m2, manifest.substr(0, manifest.size() - 9));
  seed("checkpoint_read", "invalid-manifest-cut", pack_checkpoints(dir, 2));
  laminar_fuzz::write_file(m2, manifest);
  fs::path state;
  for (const auto& e : fs::directory_iterator(dir / laminar::checkpoint_store::dir_name(1))) {
    if (e.path().filename() != "MANIFEST") state = std::max(state, e.path());
  }
  std::string bytes = slurp(state);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 1);
  laminar_fuzz::write_file(state, bytes);
  seed("checkpoint_read", "invalid-state-flipped", pack_checkpoints(dir, 0));
  fs::remove_all(dir);
}

void wal_seeds(const fs::path& scratch) {
  const fs::path dir = scratch / "wal";
  const auto log = [&](std::size_t segment_bytes, int records) {
    fs::remove_all(dir);
    laminar::wal_options o;
    o.storage = quiet();
    o.segment_bytes = segment_bytes;
    laminar::write_ahead_log<order> wal(dir, o);
    for (int i = 0; i < records; ++i) {
      wal.append(orders()[static_cast<std::size_t>(i) % 4]);
      wal.commit();
    }
  };
  log(std::size_t{1} << 20, 3);
  seed("wal_read", "valid-one-segment", pack_wal(dir, 0));
  seed("wal_read", "valid-one-segment-append", pack_wal(dir, 3));
  log(200, 5);  // a segment per record or two
  const std::string segments = pack_wal(dir, 2);
  seed("wal_read", "valid-segments", segments);
  seed("wal_read", "invalid-torn-tail", segments.substr(0, segments.size() - 5));
  std::string flipped = segments;
  flipped[20] = static_cast<char>(flipped[20] ^ 4);
  seed("wal_read", "invalid-flipped", flipped);
  fs::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
    return 2;
  }
  out_root = argv[1];
  const fs::path scratch = laminar_fuzz::scratch_dir("make_seeds");
  text_seeds();
  binary_seeds();
  debezium_seeds();
  snapshot_seeds();
  checkpoint_seeds(scratch);
  wal_seeds(scratch);
  return 0;
}
