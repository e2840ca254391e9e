// 15 · Durable checkpoints and exactly-once output, through a real crash.
// A child process runs a keyed window over trades, writing one-millisecond
// volume bars through the transactional file sink and checkpointing to disk
// every few milliseconds; halfway through its input it kills itself with
// SIGKILL. The parent then recovers: the newest complete checkpoint restores
// the window's state and the source's position, the sink commits what that
// checkpoint had pre-committed and discards what came after it, and the
// run goes on to the end. The committed files hold every bar exactly once,
// as an uninterrupted run would have written them.
#include <laminar/checkpoint.hpp>  // checkpoint_store, checkpoint_coordinator, transactional_file_sink
#include <laminar/laminar.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace laminar;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct trade {
  std::int64_t ts;
  std::uint32_t symbol;
  std::int64_t qty;
};

using bar = window_row<std::uint32_t, std::int64_t>;

// One line per bar: "end_ns,symbol,volume".
void encode(const bar& b, std::string& out) {
  out += std::to_string(b.end.nanos()) + "," + std::to_string(b.key) + "," + std::to_string(b.value) + "\n";
}

// The pipeline: the same in the child, the recovery and the reference.
template <class Sink>
auto bars(const std::vector<trade>& trades, Sink s) {
  return from(trades) | with_watermarks(&trade::ts, bounded_out_of_orderness(200us)) | key_by(&trade::symbol) |
         tumbling(1ms).aggregate(sum(&trade::qty)) | std::move(s);
}

std::string committed(const fs::path& dir) {
  std::vector<fs::path> parts;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with("part-")) parts.push_back(e.path());
  }
  std::sort(parts.begin(), parts.end());  // named by record number: name order is output order
  std::string out;
  for (const auto& p : parts) {
    std::ifstream f(p, std::ios::binary);
    out.append(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  return out;
}

int main() {
  std::vector<trade> trades;
  for (std::int64_t i = 0; i < 200'000; ++i) {
    trades.push_back({1'000'000'000 + i * 1'000 - (i * 7919) % 150'000, static_cast<std::uint32_t>(i % 8), 1 + i % 97});
  }
  const fs::path dir = fs::temp_directory_path() / ("laminar-example-15-" + std::to_string(::getpid()));
  fs::remove_all(dir);

  // The child: checkpoints every 2 ms while it runs, then dies half-way.
  const pid_t child = ::fork();
  if (child == 0) {
    checkpoint_store store(dir / "checkpoints");
    checkpoint_coordinator coord(store, checkpoint_options{.interval = 2ms});
    auto p = bars(trades, transactional_file_sink(dir / "out", encode));
    while (p.source().inner().position() < trades.size() / 2) {
      p.run_for(1000);
      coord.poll(p);
    }
    coord.drain(p);  // let the newest write land, so the crash has a checkpoint to come back to
    p.run_for(5000);  // more work that only the recovery will commit
    ::raise(SIGKILL);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  std::printf("child killed by signal %d half-way through %zu trades\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0,
              trades.size());

  // The recovery: the same pipeline, restored from the newest checkpoint.
  checkpoint_store store(dir / "checkpoints");
  std::printf("checkpoints on disk: %zu (the newest %zu kept)\n", store.checkpoints().size(), store.retained());
  checkpoint_coordinator coord(store, checkpoint_options{.interval = 2ms});
  auto p = bars(trades, transactional_file_sink(dir / "out", encode));
  const auto from_id = coord.recover(p);
  std::printf("recovered from checkpoint %llu at trade %llu\n",
              static_cast<unsigned long long>(from_id.value_or(0)),
              static_cast<unsigned long long>(p.source().inner().position()));
  while (!p.exhausted()) {
    p.run_for(1000);
    coord.poll(p);
  }
  coord.drain(p);
  p.finish();  // the end commits the last bars

  // What an uninterrupted run writes.
  std::string expected;
  auto reference = bars(trades, sink([&](const bar& b) { encode(b, expected); }));
  reference.run();
  const std::string got = committed(dir / "out");
  const auto lines = std::count(got.begin(), got.end(), '\n');
  std::printf("committed %lld bars; the same bytes as an uninterrupted run: %s\n", static_cast<long long>(lines),
              got == expected ? "yes" : "NO");
  fs::remove_all(dir);
  return got == expected ? 0 : 1;
}
