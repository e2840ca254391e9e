// The program scripts/crash-test.sh kills: a windowed and joined graph on
// two workers that reads two files and writes through the transactional
// file sink, checkpointing to disk and recovering from it at every start.
//
//   crash_child generate <input dir> [trades]   writes trades.txt, quotes.txt
//   crash_child run <input dir> <work dir> [options]
//       --interval-ms=N          checkpoint every N ms (default 10)
//       --throttle-ns=N          spend N ns on each trade (default 0)
//       --kill-at-file=K         SIGKILL itself before the K-th checkpoint file write
//       --kill-at-commit=K       SIGKILL itself before the K-th part commit
//       --feed=logged            trades pushed by a thread through a logged_feed
//                                (write-ahead log in <work dir>/trades-wal), not read
//                                from the file by the graph: the pusher resumes after
//                                the last logged trade, the graph replays the log
//
// The graph: trades -> [bars: 5 ms tumbling volume per symbol] -> asof join
// with quotes (final emission: the last quote at or before each bar's end)
// -> a line per bar into <work dir>/out, committed when each checkpoint
// completes. Exit 0 when the input is done, 1 on an error.
#include <laminar/checkpoint.hpp>
#include <laminar/connector/file_source.hpp>
#include <laminar/dag.hpp>
#include <laminar/joins.hpp>
#include <laminar/windows.hpp>

#include <signal.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

using namespace laminar;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct trade {
  std::int64_t ts = 0;
  std::uint32_t symbol = 0;
  std::int64_t qty = 0;
  template <class A>
  void serialize(A& ar) {
    ar(ts, symbol, qty);
  }
};
struct quote {
  std::int64_t ts = 0;
  std::uint32_t symbol = 0;
  std::int64_t bid = 0;
  template <class A>
  void serialize(A& ar) {
    ar(ts, symbol, bid);
  }
};

// "a,b,c" -> three integers.
void fields(std::string_view line, std::int64_t (&out)[3]) {
  const char* p = line.data();
  const char* end = line.data() + line.size();
  for (int i = 0; i < 3; ++i) {
    const auto [next, ec] = std::from_chars(p, end, out[i]);
    if (ec != std::errc()) throw std::invalid_argument("field " + std::to_string(i + 1) + " is not an integer");
    p = next;
    if (i < 2) {
      if (p == end || *p != ',') throw std::invalid_argument("expected ',' after field " + std::to_string(i + 1));
      ++p;
    }
  }
  if (p != end) throw std::invalid_argument("trailing bytes after field 3");
}

int generate(const fs::path& dir, std::size_t n) {
  fs::create_directories(dir);
  std::ofstream t(dir / "trades.txt", std::ios::binary), q(dir / "quotes.txt", std::ios::binary);
  std::mt19937_64 rng(42);
  std::int64_t ts = 1'000'000'000;
  for (std::size_t i = 0; i < n; ++i) {
    ts += 1'000 + static_cast<std::int64_t>(rng() % 20'000);
    const auto jitter = static_cast<std::int64_t>(rng() % 500'000);  // up to 0.5 ms out of order
    t << ts - jitter << ',' << rng() % 16 << ',' << 1 + rng() % 100 << '\n';
    q << ts - static_cast<std::int64_t>(rng() % 500'000) << ',' << rng() % 16 << ',' << 10'000 + rng() % 1'000 << '\n';
  }
  return t && q ? 0 : 1;
}

// Forwards to the file sink's writer, and kills the process before the
// K-th commit (a crash in the middle of committing).
template <class Inner>
struct killing_writer {
  using committable = typename Inner::committable;
  Inner inner;
  long kill_at = 0;
  long commits = 0;
  void begin(std::uint64_t e) { inner.begin(e); }
  template <class T>
  void write(const T& r) {
    inner.write(r);
  }
  committable pre_commit(const checkpoint_barrier& b) { return inner.pre_commit(b); }
  committable pre_commit() { return inner.pre_commit(); }
  void commit(const committable& c) {
    if (c.first != c.last && ++commits == kill_at) ::raise(SIGKILL);
    inner.commit(c);
  }
  void discard_open() { inner.discard_open(); }
  void save_state(state_writer& w) const { inner.save_state(w); }
  void load_state(state_reader& r) { inner.load_state(r); }
};

bool flag(int argc, char** argv, std::string_view arg) {
  for (int i = 4; i < argc; ++i) {
    if (argv[i] == arg) return true;
  }
  return false;
}

long option(int argc, char** argv, std::string_view name, long fallback) {
  for (int i = 4; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.starts_with(name) && a.size() > name.size() && a[name.size()] == '=') return std::stol(std::string(a.substr(name.size() + 1)));
  }
  return fallback;
}

int run(const fs::path& input, const fs::path& work, int argc, char** argv) {
  const long interval_ms = option(argc, argv, "--interval-ms", 10);
  const long throttle_ns = option(argc, argv, "--throttle-ns", 0);
  const long kill_at_file = option(argc, argv, "--kill-at-file", 0);
  const long kill_at_commit = option(argc, argv, "--kill-at-commit", 0);
  long files = 0;
  checkpoint_store store(work / "checkpoints", 3, storage_options{.inject_fault = [&](std::string_view) {
                                                                    if (++files == kill_at_file) ::raise(SIGKILL);
                                                                    return 0;
                                                                  }});
  const auto parse_trade = [](std::string_view line) {
    std::int64_t f[3];
    fields(line, f);
    return trade{f[0], static_cast<std::uint32_t>(f[1]), f[2]};
  };
  const auto parse_quote = [](std::string_view line) {
    std::int64_t f[3];
    fields(line, f);
    return quote{f[0], static_cast<std::uint32_t>(f[1]), f[2]};
  };
  const auto throttle = [throttle_ns](const trade&) {
    if (throttle_ns > 0) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(throttle_ns);
      while (std::chrono::steady_clock::now() < until) {
      }
    }
  };
  using bar = window_row<std::uint32_t, std::int64_t>;
  const auto encode = [](const asof_row<bar, quote>& r, std::string& out) {
    out += std::to_string(r.left.end.nanos());
    out += ',';
    out += std::to_string(r.left.key);
    out += ',';
    out += std::to_string(r.left.value);
    if (r.right) {
      out += ',';
      out += std::to_string(r.right->ts);
      out += ',';
      out += std::to_string(r.right->bid);
    }
    out += '\n';
  };
  using writer_type = part_file_writer<asof_row<bar, quote>, decltype(encode)>;

  graph g(runtime_options{.workers = 2, .pin = false});
  const bool logged = flag(argc, argv, "--feed=logged");
  std::optional<logged_feed<trade>> feed;
  if (logged) feed.emplace(work / "trades-wal", logged_feed_options{.retained = 3});
  const auto trades_from = [&](auto source) {
    return g.source("trades", std::move(source) | with_watermarks(&trade::ts, bounded_out_of_orderness(1ms)) |
                                  tap(throttle) | key_by(&trade::symbol));
  };
  auto trades = logged ? trades_from(feed->source()) : trades_from(from_file(input / "trades.txt", parse_trade));
  auto quotes = g.source("quotes", from_file(input / "quotes.txt", parse_quote) |
                                       with_watermarks(&quote::ts, bounded_out_of_orderness(1ms)) |
                                       key_by(&quote::symbol));
  auto bars = g.node("bars", trades,
                     tumbling(5ms).aggregate(sum(&trade::qty)) | key_by([](const bar& b) { return b.key; }));
  g.join("asof", bars, quotes, 1,
         asof_join().emit(emit_mode::final) |
             two_phase_commit(killing_writer<writer_type>{writer_type(work / "out", encode, 1 << 16), kill_at_commit}));
  checkpoint_coordinator coord(store, checkpoint_options{.interval = std::chrono::milliseconds(interval_ms)});
  coord.recover(g);
  coord.attach(g);
  g.start();
  std::thread pusher;
  if (logged) {
    // The feed handler: what the log holds was pushed by an earlier run.
    pusher = std::thread([&] {
      std::ifstream in(input / "trades.txt", std::ios::binary);
      std::string line;
      for (std::uint64_t skip = feed->last_seq(); skip > 0 && std::getline(in, line); --skip) {
      }
      std::uint64_t n = 0;
      while (std::getline(in, line)) {
        if (!feed->push(parse_trade(line))) return;  // the graph stopped
        if (++n % 64 == 0) feed->commit();
      }
      feed->close();
    });
  }
  try {
    g.wait();
  } catch (...) {
    if (pusher.joinable()) pusher.detach();  // the process ends with the error
    throw;
  }
  if (pusher.joinable()) pusher.join();
  coord.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 3 && std::strcmp(argv[1], "generate") == 0) {
      return generate(argv[2], argc >= 4 ? std::stoul(argv[3]) : 100'000);
    }
    if (argc >= 4 && std::strcmp(argv[1], "run") == 0) return run(argv[2], argv[3], argc, argv);
    std::fprintf(stderr, "usage: crash_child generate <input dir> [trades] | run <input dir> <work dir> [options]\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crash_child: %s\n", e.what());
    return 1;
  }
}
