// The checkpoint directory: round trips through io_uring and through the
// pwrite fallback, retention, an interrupted write's leftovers, damaged
// checkpoints found with the file and byte offset named, injected write
// faults that fail one checkpoint cleanly.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <laminar/checkpoint/store.hpp>
#include <string>
#include <vector>

#include "checkpoint/temp_dir.hpp"

using namespace laminar;
namespace fs = std::filesystem;

namespace {

// A checkpoint of two tasks, one of them stateless, with a record that spans
// three 64 KiB blocks.
stored_checkpoint sample(std::uint64_t id) {
  stored_checkpoint cp;
  cp.id = id;
  cp.key_groups = 16;
  snapshot a(id, 16);
  std::string big(150'000, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131 + id) & 0xFF);
  a.add({"bars/window", "u64:8;", big});
  a.add({"asof_join", "", "small state " + std::to_string(id)});
  cp.tasks.emplace("bars#0", std::move(a));
  cp.tasks.emplace("feed#0", snapshot(id, 16));
  return cp;
}

void check_same(const stored_checkpoint& got, const stored_checkpoint& want) {
  CHECK(got.id == want.id);
  CHECK(got.key_groups == want.key_groups);
  REQUIRE(got.tasks.size() == want.tasks.size());
  for (const auto& [task, snap] : want.tasks) {
    REQUIRE(got.tasks.count(task) == 1);
    CHECK(got.tasks.at(task).records() == snap.records());
  }
}

fs::path state_file(const fs::path& dir, std::uint64_t id, std::string_view part) {
  for (const auto& e : fs::directory_iterator(dir / checkpoint_store::dir_name(id))) {
    if (e.path().filename().string().find(part) != std::string::npos) return e.path();
  }
  FAIL("no file with '" << part << "' in checkpoint " << id);
  return {};
}

void flip_byte(const fs::path& file, std::size_t at) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(c ^ 0x10));
}

}  // namespace

TEST_CASE("checkpoint_store: round trip, through io_uring and through pwrite + fdatasync") {
  for (const bool fallback : {false, true}) {
    CAPTURE(fallback);
    test::temp_dir dir("store");
    std::vector<std::string> log;
    checkpoint_store store(dir.path(), 3,
                           storage_options{.force_fallback = fallback, .log = [&](std::string_view m) {
                                             log.emplace_back(m);
                                           }});
    if (fallback) CHECK_FALSE(store.uses_io_uring());
    CHECK_FALSE(store.load_newest().has_value());
    store.write(sample(7));
    store.write(sample(9));
    CHECK(store.checkpoints() == std::vector<std::uint64_t>{7, 9});
    check_same(store.load(7), sample(7));
    auto newest = store.load_newest();
    REQUIRE(newest.has_value());
    check_same(*newest, sample(9));
    // A fresh store over the same directory finds them.
    checkpoint_store again(dir.path());
    check_same(again.load(9), sample(9));
    CHECK(log.empty());
  }
}

TEST_CASE("checkpoint_store: keeps the newest N, and ids must increase") {
  test::temp_dir dir("retain");
  checkpoint_store store(dir.path(), 2);
  for (std::uint64_t id = 1; id <= 5; ++id) store.write(sample(id));
  CHECK(store.checkpoints() == std::vector<std::uint64_t>{4, 5});
  CHECK_THROWS_WITH_AS(store.write(sample(5)), doctest::Contains("already stored"), checkpoint_error);
}

TEST_CASE("checkpoint_store: an interrupted write's directory is ignored and removed on open") {
  test::temp_dir dir("interrupted");
  {
    checkpoint_store store(dir.path());
    store.write(sample(1));
  }
  const fs::path leftover = dir.path() / (checkpoint_store::dir_name(2) + ".inprogress");
  fs::create_directory(leftover);
  std::ofstream(leftover / "0000-half") << "half a state";
  checkpoint_store store(dir.path());
  CHECK_FALSE(fs::exists(leftover));
  CHECK(store.checkpoints() == std::vector<std::uint64_t>{1});
}

TEST_CASE("checkpoint_store: a damaged newest checkpoint is named, with the byte offset, and the one before is used") {
  struct damage {
    const char* what;
    void (*apply)(const fs::path& dir);
    const char* message;
  };
  const damage cases[] = {
      {"truncated state file",
       [](const fs::path& d) { fs::resize_file(state_file(d, 2, "window"), 100'000); },
       "100000 bytes where the manifest says 150000: truncated at byte offset 100000"},
      {"bit flipped in the second block",
       [](const fs::path& d) { flip_byte(state_file(d, 2, "window"), 70'000); },
       "checksum mismatch in bytes 65536 to 131072"},
      {"missing state file", [](const fs::path& d) { fs::remove(state_file(d, 2, "asof")); }, "cannot open it"},
      {"torn manifest",
       [](const fs::path& d) {
         const fs::path m = d / checkpoint_store::dir_name(2) / "MANIFEST";
         fs::resize_file(m, fs::file_size(m) - 7);
       },
       "the manifest is torn or corrupted"},
      {"missing manifest", [](const fs::path& d) { fs::remove(d / checkpoint_store::dir_name(2) / "MANIFEST"); },
       "MANIFEST: cannot open it"},
      {"flipped manifest", [](const fs::path& d) { flip_byte(d / checkpoint_store::dir_name(2) / "MANIFEST", 30); },
       "the manifest is torn or corrupted"},
  };
  for (const damage& c : cases) {
    CAPTURE(c.what);
    test::temp_dir dir("damaged");
    std::vector<std::string> log;
    checkpoint_store store(dir.path(), 3, storage_options{.log = [&](std::string_view m) { log.emplace_back(m); }});
    store.write(sample(1));
    store.write(sample(2));
    c.apply(dir.path());
    CHECK_THROWS_WITH_AS((void)store.load(2), doctest::Contains(c.message), checkpoint_error);
    auto got = store.load_newest();
    REQUIRE(got.has_value());
    check_same(*got, sample(1));
    REQUIRE(log.size() == 1);
    CHECK(log[0].find("checkpoint 2") != std::string::npos);
    CHECK(log[0].find(c.message) != std::string::npos);
    CHECK(log[0].find("using the one before") != std::string::npos);
  }
}

TEST_CASE("checkpoint_store: a failed write fails that checkpoint cleanly and the next one succeeds") {
  for (const bool fallback : {false, true}) {
    for (const int err : {ENOSPC, EIO}) {
      CAPTURE(fallback);
      CAPTURE(err);
      test::temp_dir dir("fault");
      bool fail = false;
      checkpoint_store store(dir.path(), 3,
                             storage_options{.force_fallback = fallback,
                                             .inject_fault = [&](std::string_view path) {
                                               return fail && path.find("asof") != std::string_view::npos ? err : 0;
                                             }});
      store.write(sample(1));
      fail = true;
      try {
        store.write(sample(2));
        FAIL("the injected fault did not fail the write");
      } catch (const storage_error& e) {
        CHECK(e.error_number() == err);
        CHECK(std::string(e.what()).find("asof_join") != std::string::npos);
      }
      CHECK(store.checkpoints() == std::vector<std::uint64_t>{1});
      CHECK_FALSE(fs::exists(dir.path() / (checkpoint_store::dir_name(2) + ".inprogress")));
      fail = false;
      store.write(sample(3));
      CHECK(store.checkpoints() == std::vector<std::uint64_t>{1, 3});
      check_same(*store.load_newest(), sample(3));
    }
  }
}

TEST_CASE("checkpoint_store: an unwritable directory is a storage_error naming it") {
  if (::geteuid() == 0) return;  // root writes anywhere
  test::temp_dir dir("readonly");
  checkpoint_store store(dir.path());
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
  const std::string where = dir.path().string();
  CHECK_THROWS_WITH_AS(store.write(sample(1)), doctest::Contains(where.c_str()), storage_error);
  fs::permissions(dir.path(), fs::perms::owner_all);
}

TEST_CASE("checkpoint_store: an older manifest damaged (short, or a huge dependency count) does not break the next write") {
  for (const std::string& damage : {std::string("\x01\x02\x03\x04", 4), std::string()}) {
    test::temp_dir dir("older-manifest");
    checkpoint_store store(dir.path(), 2);
    store.write(sample(1));
    store.write(sample(2));
    const fs::path manifest = dir.path() / checkpoint_store::dir_name(1) / "MANIFEST";
    if (!damage.empty()) {
      std::ofstream(manifest, std::ios::binary | std::ios::trunc) << damage;
    } else {
      // The dependency count (after magic, version, id and key-group count) made 0xFFFFFFFF.
      std::string bytes;
      {
        std::ifstream in(manifest, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
      }
      REQUIRE(bytes.substr(8, 4) == std::string("\x02\x00\x00\x00", 4));  // version 2, after the magic
      bytes.replace(8 + 4 + 8 + 4, 4, "\xff\xff\xff\xff", 4);
      std::ofstream(manifest, std::ios::binary | std::ios::trunc) << bytes;
    }
    store.write(sample(3));  // reads the older manifests' dependencies to retain what is needed
    store.write(sample(4));
    CHECK(store.checkpoints() == std::vector<std::uint64_t>{3, 4});
    check_same(store.load(4), sample(4));
  }
}
