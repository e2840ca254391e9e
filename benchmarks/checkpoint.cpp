// Durable checkpoints (laminar/checkpoint.hpp): what a checkpoint of a keyed
// window with a million keys costs, what recovery costs, how the store's
// writes compare with a plain write + fsync of the same bytes, what the
// pipeline's thread is held for, and what checkpointing every second costs
// a running keyed window.
//
//   checkpoint_1m_keys_ms          capture + durable write of 1M keys' window state
//   checkpoint_capture_1m_keys_ms  ... of which the pipeline's thread: the capture
//   recovery_1m_keys_ms            load, check and restore it into a fresh pipeline
//   incremental_checkpoint_1pct_changed_ms   after a whole checkpoint of it, 1% of the keys change: a delta,
//                                  against a whole checkpoint of the same (incremental_vs_whole_checkpoint);
//                                  _sessions: the same on session windows (keys in a slot table)
//   checkpoint_write_vs_raw_write  the store's bytes/s over write + fdatasync + rename of one file
//   checkpoint_stall_p99_us        the capture's p99 on a keyed window of 100k keys, a checkpoint every 10 ms
//   checkpoint_throughput_cost     events/s with a checkpoint every second over events/s without
//   wal_append_ns_<policy>         a 32-byte record appended to the write-ahead log, per policy, against
//                                  a plain pwrite + fdatasync of the same frame (wal_every_record_vs_raw_sync)
//
// The directory is under $TMPDIR (or /tmp): the figures are that file
// system's. Each benchmark says whether io_uring or the fallback wrote.
#include <laminar/checkpoint.hpp>
#include <laminar/checkpoint/wal.hpp>
#include <laminar/laminar.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "support/bench.hpp"

namespace lb = laminar::bench;
using namespace laminar;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct ev {
  std::int64_t ts;
  std::uint64_t key;
  std::int64_t v;
};

fs::path scratch(const char* what) {
  const char* tmp = std::getenv("TMPDIR");
  fs::path p = fs::path(tmp && *tmp ? tmp : "/tmp") / ("laminar-bench-" + std::string(what) + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

// A keyed hour-long window, so every key's sum is still open when the
// checkpoint is taken.
auto keyed_window(const std::vector<ev>& in, std::uint64_t& out) {
  return from(in) | with_watermarks(&ev::ts, bounded_out_of_orderness(1s)) | key_by(&ev::key) |
         tumbling(std::chrono::hours(1)).aggregate(sum(&ev::v)) | count_events(out);
}

std::vector<ev> distinct_keys(std::size_t n) {
  std::vector<ev> in;
  in.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    in.push_back({1'000'000'000 + static_cast<std::int64_t>(i), i * 2654435761ULL, static_cast<std::int64_t>(i % 100)});
  }
  return in;
}

void million_keys() {
  const std::size_t keys = lb::pick<std::size_t>(1'000'000, 20'000);
  const auto in = distinct_keys(keys);
  const int trials = lb::pick(5, 1);
  std::vector<double> total, capture, recovery;
  std::size_t bytes = 0;
  bool uring = false;
  for (int t = 0; t < trials; ++t) {
    const fs::path dir = scratch("1m");
    {
      checkpoint_store store(dir);
      uring = store.uses_io_uring();
      checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
      std::uint64_t out = 0;
      auto p = keyed_window(in, out);
      p.run_for(in.size());
      lb::stopwatch sw;
      coord.trigger(p);
      capture.push_back(static_cast<double>(coord.stats().last_stall.nanos()) * 1e-6);
      coord.drain(p);
      total.push_back(sw.elapsed_s() * 1e3);
      if (coord.stats().completed != 1) {
        std::fprintf(stderr, "checkpoint bench: the checkpoint did not complete: %s\n", coord.stats().last_error.c_str());
        std::exit(1);
      }
      for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (e.is_regular_file()) bytes += static_cast<std::size_t>(e.file_size());
      }
    }
    {
      checkpoint_store store(dir);
      checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
      std::uint64_t out = 0;
      auto p = keyed_window(in, out);
      lb::stopwatch sw;
      if (!coord.recover(p)) std::exit(1);
      recovery.push_back(sw.elapsed_s() * 1e3);
      p.run();  // every key's window closes: the restored state is all there
      if (out != keys) {
        std::fprintf(stderr, "checkpoint bench: %llu windows after recovery, not %zu\n",
                     static_cast<unsigned long long>(out), keys);
        std::exit(1);
      }
    }
    fs::remove_all(dir);
  }
  std::fprintf(stderr, "checkpoint: %zu keys, %.1f MB per checkpoint, written through %s\n", keys,
               static_cast<double>(bytes) / trials / 1e6, uring ? "io_uring" : "pwrite + fdatasync");
  lb::report("checkpoint_1m_keys_ms", lb::median(total), "ms");
  lb::report("checkpoint_capture_1m_keys_ms", lb::median(capture), "ms");
  lb::report("recovery_1m_keys_ms", lb::median(recovery), "ms");
}

// Incremental checkpoints on the same 1M keys: a whole checkpoint, then 1%
// of the keys change and a delta is taken, against a whole checkpoint of
// the same state taken the same way. make_window() is the keyed stage: a
// tumbling window (a group table per slice) or sessions (a slot table).
template <class MakeWindow>
void incremental_of(MakeWindow make_window, const char* suffix) {
  const std::size_t keys = lb::pick<std::size_t>(1'000'000, 20'000);
  const auto in = distinct_keys(keys);
  std::vector<ev> changes;  // 1% of the keys, spread over the table
  for (std::size_t i = 0; i < keys; i += 100) changes.push_back({in[i].ts + 1, in[i].key, 1});
  const int trials = lb::pick(5, 1);
  std::vector<double> delta_ms, whole_ms;
  for (int t = 0; t < trials; ++t) {
    for (const std::size_t deltas : {std::size_t{1}, std::size_t{0}}) {
      const fs::path dir = scratch("incremental");
      {
        checkpoint_store store(dir);
        checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max(), .deltas = deltas});
        std::uint64_t out = 0;
        auto p = push<ev>() | with_watermarks(&ev::ts, bounded_out_of_orderness(1s)) | key_by(&ev::key) |
                 make_window() | count_events(out);
        for (const ev& e : in) p.push(e);
        coord.trigger(p);  // the whole one the delta builds on
        coord.drain(p);
        for (const ev& e : changes) p.push(e);
        lb::stopwatch sw;
        coord.trigger(p);
        coord.drain(p);
        (deltas != 0 ? delta_ms : whole_ms).push_back(sw.elapsed_s() * 1e3);
        if (coord.stats().completed != 2) std::exit(1);
      }
      fs::remove_all(dir);
    }
  }
  const std::string s(suffix);
  lb::report("incremental_checkpoint_1pct_changed" + s + "_ms", lb::median(delta_ms), "ms");
  lb::report("whole_checkpoint_1pct_changed" + s + "_ms", lb::median(whole_ms), "ms");
  lb::report("incremental_vs_whole_checkpoint" + s, lb::median(delta_ms) / lb::median(whole_ms), "x");
}

void incremental() {
  incremental_of([] { return tumbling(std::chrono::hours(1)).aggregate(sum(&ev::v)); }, "");
  incremental_of([] { return session(std::chrono::hours(1)).aggregate(sum(&ev::v)); }, "_sessions");
}

// The same bytes through the store and through a plain write + fdatasync
// of one file, rename and directory sync.
void raw_write_ratio() {
  const std::size_t size = lb::pick<std::size_t>(64u << 20, 1u << 20);
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131) >> 3);
  const int trials = lb::pick(6, 2);
  std::vector<double> store_s, raw_s;
  const auto through_store = [&](const fs::path& dir, int t) {
    checkpoint_store store(dir / "store", 1);
    stored_checkpoint cp;
    cp.id = static_cast<std::uint64_t>(t + 1);
    cp.tasks.emplace("pipeline", snapshot(cp.id));
    cp.tasks.at("pipeline").add({"state", "", bytes});
    lb::stopwatch sw;
    store.write(cp);
    store_s.push_back(sw.elapsed_s());
  };
  const auto raw = [&](const fs::path& dir) {
    // A fresh copy, as the store's snapshot holds one: where the bytes come
    // from (long-lived, perhaps huge pages, or just written) moves the
    // write's time by more than the store's own work does.
    const std::string copy = bytes;
    fs::create_directories(dir / "raw");
    const std::string tmp = (dir / "raw" / "state.tmp").string(), final_name = (dir / "raw" / "state").string();
    lb::stopwatch sw;
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd, copy.data() + done, copy.size() - done);
      if (n <= 0) std::exit(1);
      done += static_cast<std::size_t>(n);
    }
    ::fdatasync(fd);
    ::close(fd);
    ::rename(tmp.c_str(), final_name.c_str());
    const int dfd = ::open((dir / "raw").c_str(), O_RDONLY | O_DIRECTORY);
    ::fsync(dfd);
    ::close(dfd);
    raw_s.push_back(sw.elapsed_s());
  };
  // Alternating which goes first: the page cache the first one frees helps
  // the second.
  for (int t = 0; t < trials; ++t) {
    const fs::path dir = scratch("write");
    if (t % 2 == 0) {
      through_store(dir, t);
      raw(dir);
    } else {
      raw(dir);
      through_store(dir, t);
    }
    fs::remove_all(dir);
  }
  const double store_bps = static_cast<double>(size) / lb::median(store_s);
  const double raw_bps = static_cast<double>(size) / lb::median(raw_s);
  lb::report("checkpoint_write_bytes_per_s", store_bps, "bytes/s", 0);
  lb::report("raw_write_fsync_bytes_per_s", raw_bps, "bytes/s", 0);
  lb::report("checkpoint_write_vs_raw_write", store_bps / raw_bps, "x");
}

// The pipeline's thread is held for the capture only: its p99 over many
// checkpoints of a window with 100k keys.
void stall() {
  const std::size_t keys = lb::pick<std::size_t>(100'000, 5'000);
  const auto in = distinct_keys(keys);
  const fs::path dir = scratch("stall");
  std::vector<double> stalls;
  {
    checkpoint_store store(dir, 2);
    checkpoint_coordinator coord(store, checkpoint_options{.interval = duration::max()});
    std::uint64_t out = 0;
    auto p = keyed_window(in, out);
    p.run_for(in.size());
    const int checkpoints = lb::pick(200, 10);
    for (int c = 0; c < checkpoints; ++c) {
      coord.trigger(p);
      stalls.push_back(static_cast<double>(coord.stats().last_stall.nanos()) * 1e-3);
      coord.drain(p);
    }
  }
  fs::remove_all(dir);
  std::sort(stalls.begin(), stalls.end());
  const auto at = [&](double q) { return stalls[static_cast<std::size_t>(q * static_cast<double>(stalls.size() - 1))]; };
  lb::report("checkpoint_stall_p50_us", at(0.5), "us");
  lb::report("checkpoint_stall_p99_us", at(0.99), "us");
}

// A keyed window over 10k keys, run for about `seconds`, with a checkpoint
// every second and without: events/s, and their ratio.
void throughput_cost() {
  const double seconds = lb::pick(3.0, 0.2);
  std::vector<ev> in;
  const std::size_t n = 4'000'000;
  in.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    in.push_back({1'000'000'000 + static_cast<std::int64_t>(i) * 100, (i * 2654435761ULL) % 10'000, 1});
  }
  const auto run = [&](bool checkpoints) {
    const fs::path dir = scratch("cost");
    double rate = 0;
    {
      checkpoint_store store(dir, 2);
      checkpoint_coordinator coord(store, checkpoint_options{.interval = 1s});
      std::uint64_t events = 0;
      lb::stopwatch sw;
      while (sw.elapsed_s() < seconds) {
        std::uint64_t out = 0;
        auto p = keyed_window(in, out);
        while (!p.exhausted()) {
          p.run_for(4096);
          if (checkpoints) coord.poll(p);
        }
        if (checkpoints) coord.drain(p);
        p.finish();
        events += n;
      }
      rate = static_cast<double>(events) / sw.elapsed_s();
      if (checkpoints && coord.stats().completed == 0 && seconds > 1.5) {
        std::fprintf(stderr, "checkpoint bench: no checkpoint completed in %.1f s\n", seconds);
        std::exit(1);
      }
    }
    fs::remove_all(dir);
    return rate;
  };
  std::vector<double> with, without;
  for (int t = 0; t < lb::pick(3, 1); ++t) {
    without.push_back(run(false));
    with.push_back(run(true));
  }
  lb::report("keyed_window_events_per_s", lb::median(without), "events/s", 0);
  lb::report("keyed_window_checkpoint_every_1s_events_per_s", lb::median(with), "events/s", 0);
  lb::report("checkpoint_throughput_cost", lb::median(with) / lb::median(without), "x");
}

}  // namespace

// The write-ahead log: ns per appended record under each policy.
struct wal_rec {
  std::int64_t ts;
  std::uint64_t key;
  double px;
  std::int64_t qty;
  template <class A>
  void serialize(A& ar) {
    ar(ts, key, px, qty);
  }
};

void wal_append() {
  using rec = wal_rec;
  const auto run = [&](wal_durability d, std::size_t n, std::size_t batch) {
    const fs::path dir = scratch("wal");
    double ns = 0;
    {
      write_ahead_log<rec> wal(dir, wal_options{.durability = d, .interval = 1ms});
      lb::stopwatch sw;
      for (std::size_t i = 0; i < n; ++i) {
        wal.append(rec{static_cast<std::int64_t>(i), i % 100, 100.25, 7});
        if (batch != 0 && (i + 1) % batch == 0) wal.commit();
      }
      wal.commit();
      ns = static_cast<double>(sw.elapsed_ns()) / static_cast<double>(n);
    }
    fs::remove_all(dir);
    return ns;
  };
  // The floor of every_record: one small pwrite + fdatasync per record.
  const auto raw_sync = [&](std::size_t n) {
    const fs::path dir = scratch("walraw");
    fs::create_directories(dir);
    const int fd = ::open((dir / "log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    char frame[48] = {};
    lb::stopwatch sw;
    for (std::size_t i = 0; i < n; ++i) {
      if (::pwrite(fd, frame, sizeof frame, static_cast<off_t>(i * sizeof frame)) != sizeof frame) std::exit(1);
      ::fdatasync(fd);
    }
    const double ns = static_cast<double>(sw.elapsed_ns()) / static_cast<double>(n);
    ::close(fd);
    fs::remove_all(dir);
    return ns;
  };
  const std::size_t synced = lb::pick<std::size_t>(2'000, 50), buffered = lb::pick<std::size_t>(1'000'000, 10'000);
  const double every = run(wal_durability::every_record, synced, 0);
  const double raw = raw_sync(synced);
  lb::report("wal_append_ns_every_record", every, "ns");
  lb::report("raw_pwrite_fdatasync_ns", raw, "ns");
  lb::report("wal_every_record_vs_raw_sync", raw / every, "x");
  lb::report("wal_append_ns_every_batch_64", run(wal_durability::every_batch, buffered, 64), "ns");
  lb::report("wal_append_ns_every_batch_4096", run(wal_durability::every_batch, buffered, 4096), "ns");
  lb::report("wal_append_ns_interval_1ms", run(wal_durability::interval, buffered, 0), "ns");
}

// An argument runs only the part it names (million_keys, incremental, raw_write, stall,
// throughput_cost, wal): for profiling one of them.
int main(int argc, char** argv) {
  const std::string only = argc > 1 ? argv[1] : "";
  if (only.empty() || only == "million_keys") million_keys();
  if (only.empty() || only == "incremental") incremental();
  if (only.empty() || only == "raw_write") raw_write_ratio();
  if (only.empty() || only == "stall") stall();
  if (only.empty() || only == "throughput_cost") throughput_cost();
  if (only.empty() || only == "wal") wal_append();
}
