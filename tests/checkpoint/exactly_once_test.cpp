// Exactly-once output and replayable input: the two-phase-commit books
// against a writer that records what it is asked, the transactional file
// sink through crashes at every kind of moment, and the file source's
// position and errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <laminar/checkpoint.hpp>
#include <laminar/checkpoint/file_sink.hpp>
#include <laminar/checkpoint/two_phase_commit.hpp>
#include <laminar/connector/file_source.hpp>
#include <laminar/core.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/temp_dir.hpp"

using namespace laminar;
namespace fs = std::filesystem;

namespace {

// Records every call; its committable is the epoch and the records in it.
struct journal_writer {
  struct committable {
    std::uint64_t epoch = 0;
    std::vector<int> records;
    template <class A>
    void serialize(A& ar) {
      ar(epoch, records);
    }
  };
  std::vector<std::string>* log;
  std::vector<int>* committed;
  std::vector<int> open;
  std::uint64_t epoch = 0;

  void begin(std::uint64_t e) {
    epoch = e;
    log->push_back("begin " + std::to_string(e));
  }
  void write(int r) { open.push_back(r); }
  committable pre_commit() {
    log->push_back("pre_commit " + std::to_string(epoch));
    return {epoch, std::exchange(open, {})};
  }
  void commit(const committable& c) {
    log->push_back("commit " + std::to_string(c.epoch));
    committed->insert(committed->end(), c.records.begin(), c.records.end());
  }
  void discard_open() { log->push_back("discard_open"); }
};

std::string committed_output(const fs::path& dir) {
  std::vector<fs::path> parts;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with("part-")) parts.push_back(e.path());
  }
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& p : parts) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    out += s.str();
  }
  return out;
}

void write_lines(const fs::path& file, int n) {
  std::ofstream f(file, std::ios::binary);
  for (int i = 0; i < n; ++i) f << i << "\n";
}

auto parse_int = [](std::string_view line) {
  int v = 0;
  const auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
  if (ec != std::errc() || p != line.data() + line.size()) throw std::invalid_argument("not an integer");
  return v;
};
auto encode_line = [](int v, std::string& out) {
  out += std::to_string(v);
  out += '\n';
};

}  // namespace

TEST_CASE("two_phase_commit: pre-commit at the barrier, commit on completion, an abort waits for the next") {
  std::vector<std::string> log;
  std::vector<int> committed;
  std::vector<int> in{1, 2, 3, 4, 5, 6, 7};
  auto p = from(in) | two_phase_commit(journal_writer{&log, &committed, {}, 0});
  p.run_for(2);
  const snapshot s1 = p.checkpoint(1);
  p.run_for(2);
  (void)p.checkpoint(2);
  CHECK(committed.empty());  // pre-committed, not visible
  p.checkpoint_abort(2);     // epoch 1's records wait for the next completed checkpoint
  p.checkpoint_complete(1);
  CHECK(committed == std::vector<int>{1, 2});
  p.run_for(1);
  (void)p.checkpoint(3);
  p.checkpoint_complete(3);
  CHECK(committed == std::vector<int>{1, 2, 3, 4, 5});
  p.run();  // the end commits the rest
  CHECK(committed == in);
  CHECK(log == std::vector<std::string>{"begin 0", "pre_commit 0", "begin 1", "pre_commit 1", "commit 0", "begin 2",
                                        "pre_commit 2", "commit 1", "commit 2", "begin 3", "pre_commit 3", "commit 3"});

  // Restored from checkpoint 1: its committable is committed again (the
  // crash may have come before its commit), then what later runs left open
  // is discarded; records come again from the source's position.
  log.clear();
  committed.clear();
  auto q = from(in) | two_phase_commit(journal_writer{&log, &committed, {}, 0});
  q.restore(s1);
  CHECK(log == std::vector<std::string>{"commit 0", "discard_open"});
  CHECK(committed == std::vector<int>{1, 2});
  q.run();
  CHECK(committed == in);
}

TEST_CASE("transactional_file_sink: committed parts hold every record once, whatever the crash") {
  // Records 0..9999; checkpoints every 1000; a crash is the pipeline and
  // coordinator dropped at `crash_at` records, after the checkpoint at
  // `checkpoint_at`; `end_commit` has the crashed run reach the end and
  // commit before the recovery restores an older checkpoint (as when the
  // newest checkpoint is damaged).
  std::string expected;
  for (int i = 0; i < 10'000; ++i) encode_line(i, expected);
  struct scenario {
    const char* what;
    std::size_t crash_at;
    bool drop_newest_checkpoint;
  };
  const scenario cases[] = {
      {"crash between checkpoints", 4'500, false},
      {"crash right after a checkpoint", 4'000, false},
      {"crash before any checkpoint", 500, false},
      {"ran to the end, then recovered from an older checkpoint", 10'000, true},
  };
  for (const scenario& c : cases) {
    CAPTURE(c.what);
    test::temp_dir dir("file-sink");
    const fs::path input = dir.path() / "input.txt", out = dir.path() / "out", cps = dir.path() / "cp";
    write_lines(input, 10'000);
    {
      checkpoint_store store(cps, 10);
      checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
      auto p = from_file(input, parse_int) | transactional_file_sink(out, encode_line);
      std::size_t done = 0;
      while (done < c.crash_at) {
        done += p.run_for(std::min<std::size_t>(1000, c.crash_at - done));
        if (done % 1000 == 0 && done < 10'000) {
          coord.trigger(p);
          coord.drain(p);
        }
      }
      if (p.exhausted()) p.finish();  // the end commits everything
    }
    if (c.drop_newest_checkpoint) {
      checkpoint_store store(cps, 10);
      const auto ids = store.checkpoints();
      for (std::size_t k = ids.size() - 3; k < ids.size(); ++k) fs::remove_all(cps / checkpoint_store::dir_name(ids[k]));
    }
    checkpoint_store store(cps, 10);
    checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
    auto p = from_file(input, parse_int) | transactional_file_sink(out, encode_line);
    coord.recover(p);
    while (!p.exhausted()) {
      p.run_for(700);
      coord.trigger(p);
      coord.drain(p);
    }
    p.finish();
    CHECK(committed_output(out) == expected);
    for (const auto& e : fs::directory_iterator(out)) CHECK_FALSE(e.path().filename().string().starts_with(".part-"));
  }
}

TEST_CASE("transactional_file_sink: a part is synced by the checkpoint's writer, again after an aborted one") {
  test::temp_dir dir("file-sink-sync");
  const fs::path input = dir.path() / "input.txt", out = dir.path() / "out", cps = dir.path() / "cp";
  write_lines(input, 3'000);
  std::vector<std::string> seen;  // the store's writer thread, then this one (drain waits for it)
  int fail_pending = 0;
  checkpoint_store store(cps, 3, storage_options{.inject_fault = [&](std::string_view path) {
                           seen.emplace_back(path);
                           return std::string_view(path).ends_with(".pending") ? fail_pending : 0;
                         }});
  checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
  auto p = from_file(input, parse_int) | transactional_file_sink(out, encode_line);
  const auto pending_synced = [&] {
    return static_cast<std::size_t>(
        std::count_if(seen.begin(), seen.end(), [](const std::string& f) { return f.ends_with(".pending"); }));
  };

  // The barrier leaves the part's fdatasync to the writer thread.
  p.run_for(1'000);
  coord.trigger(p);
  coord.drain(p);
  CHECK(pending_synced() == 1);
  CHECK(coord.stats().completed == 1);

  // A checkpoint whose part cannot be synced is aborted; its part waits.
  p.run_for(1'000);
  fail_pending = EIO;
  coord.trigger(p);
  coord.drain(p);
  CHECK(coord.stats().aborted == 1);
  CHECK(coord.stats().last_error.find("Input/output error") != std::string::npos);
  // The next barrier asks again for the aborted one's part, with its own.
  fail_pending = 0;
  seen.clear();
  p.run_for(500);
  coord.trigger(p);
  coord.drain(p);
  CHECK(pending_synced() == 2);
  CHECK(coord.stats().completed == 2);
  p.run();
  std::string expected;
  for (int i = 0; i < 3'000; ++i) encode_line(i, expected);
  CHECK(committed_output(out) == expected);
}

TEST_CASE("from_file: lines to records, its byte offset checkpointed, a bad line named with its number and offset") {
  test::temp_dir dir("file-source");
  const fs::path input = dir.path() / "in.txt";
  {
    std::ofstream f(input, std::ios::binary);
    f << "10\n20\n" << std::string(5000, '7') << "\n30";  // a line longer than a block; no final newline
  }
  std::vector<long long> got;
  auto parse = [](std::string_view line) { return static_cast<long long>(line.size() == 5000 ? -1 : std::stoll(std::string(line))); };
  auto p = from_file(input, parse).block_bytes(4096) | sink([&](long long v) { got.push_back(v); });
  CHECK(p.run_for(2) == 2);
  CHECK(p.source().offset() == 6);
  CHECK(p.source().record() == 3);
  const snapshot s = p.checkpoint(1);
  p.run();
  CHECK(got == std::vector<long long>{10, 20, -1, 30});

  got.clear();
  auto q = from_file(input, parse).block_bytes(4096) | sink([&](long long v) { got.push_back(v); });
  q.restore(s);
  q.run();
  CHECK(got == std::vector<long long>{-1, 30});

  // A checkpoint of another file is refused; so is one past the end of the file, shortened since.
  const fs::path other = dir.path() / "other.txt";
  std::ofstream(other) << "1\n2\n3\n4\n";
  auto o = from_file(other, parse) | sink([](long long) {});
  CHECK_THROWS_WITH_AS(o.restore(s), doctest::Contains("which is not among its files"), checkpoint_error);
  std::ofstream(input, std::ios::trunc) << "1\n";
  auto r = from_file(input, parse) | sink([](long long) {});
  CHECK_THROWS_WITH_AS(r.restore(s), doctest::Contains("past the end of the file"), checkpoint_error);

  const fs::path bad = dir.path() / "bad.txt";
  std::ofstream(bad) << "1\n2\nthree\n4\n";
  std::vector<int> ints;
  auto b = from_file(bad, parse_int) | sink([&](int v) { ints.push_back(v); });
  const std::string named = "file '" + bad.string() + "': record 3 (byte offset 4): the record at byte 0: not an integer";
  CHECK_THROWS_WITH_AS(b.run(), doctest::Contains(named.c_str()),
                       file_source_error);
  CHECK(ints == std::vector<int>{1, 2});

  CHECK_THROWS_WITH_AS(from_file(dir.path() / "missing.txt", parse_int), doctest::Contains("cannot open it"),
                       file_source_error);
}
