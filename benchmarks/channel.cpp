// Channels vs Boost.Lockfree, two threads on two CPUs.
//
//   spsc_msgs_per_s / boost_spsc_msgs_per_s / spsc_vs_boost_spsc_queue
//       32-byte messages through a capacity-4096 spsc_channel and a
//       boost::lockfree::spsc_queue of the same capacity (compile-time, its
//       fastest form). The producer pushes one message at a time; the
//       consumer takes whatever is ready in one batch (consume /
//       consume_all) and pauses once after an empty poll, then polls.
//   spsc_batch16_msgs_per_s / boost_..._batch16_... / spsc_batch16_vs_boost_spsc_queue
//       The same, the producer pushing 16 messages at a time (push_n;
//       Boost's push(const T*, n)).
//   spsc_oneway_latency_p50_ns / _p99_ns (and boost_...)
//       Ping-pong over two channels, one message in flight: half of each
//       round trip, timed with the cycle timer. Both sides poll with a PAUSE
//       between empty polls (wait_policy::spin).
//   cache_line_oneway_latency_p50_ns / spsc_latency_vs_cache_line
//       The same ping-pong over one bare shared cache line: the machine's
//       floor for any hand-off, measured in the same run.
//   mpsc_msgs_per_s / boost_queue_msgs_per_s / mpsc_vs_boost_queue
//       mpsc_channel vs boost::lockfree::queue (bounded, capacity 4096),
//       producer threads against the main thread as consumer. On a machine
//       with fewer than 3 CPUs there is one producer thread (two spinning
//       producers plus a consumer on two CPUs measure the scheduler, not the
//       queue); LAMINAR_BENCH_MPSC_PRODUCERS overrides.
//
// Cross-thread figures on a shared VM are bimodal (about one run in five is
// several times slower: the host's scheduling of the vCPUs), so the
// contenders run interleaved, ours first then theirs then the other way
// round, for 7 trials each, and each figure is the median. Every trial checks
// that every message arrived exactly once and in order (per producer for
// MPSC); the program exits non-zero otherwise.
#include <laminar/channel/channel.hpp>
#include <laminar/runtime/affinity.hpp>

#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/bench.hpp"
#include "support/latency_histogram.hpp"

namespace lb = laminar::bench;
using laminar::mpsc_channel;
using laminar::spsc_channel;
using laminar::wait_policy;

namespace {

struct msg {
  std::uint64_t seq;
  std::uint64_t producer;
  std::uint64_t payload;
  std::uint64_t stamp;
};
static_assert(sizeof(msg) == 32, "the benchmark's message is 32 bytes");

constexpr std::size_t capacity = 4096;
constexpr int trials = 7;

// ---- threads and CPUs ----

const std::vector<int>& cpus() {
  static const std::vector<int> all = laminar::allowed_cpus();
  return all;
}

// Pins the calling thread to the i-th allowed CPU, when there are two or more.
void pin_to(std::size_t i) {
  if (cpus().size() < 2) return;
  if (!laminar::pin_current_thread(cpus()[i % cpus().size()])) std::fprintf(stderr, "channel: pinning failed\n");
}

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "channel: %s: %s\n", what, detail.c_str());
  std::exit(1);
}

// ---- what every throughput trial checks ----

// The consumer's view: per-producer next sequence number and a checksum.
struct tally {
  std::vector<std::uint64_t> next;
  std::uint64_t count = 0;
  std::uint64_t sum = 0;
  bool ordered = true;

  explicit tally(std::size_t producers) : next(producers, 0) {}
  void take(const msg& m) noexcept {
    if (m.producer >= next.size() || m.seq != next[m.producer] || m.payload != m.seq * 3 + m.producer) {
      ordered = false;
      return;
    }
    ++next[m.producer];
    ++count;
    sum += m.payload;
  }
  // Every message 0..n-1 of every producer, once, in order.
  void check(const char* name, std::uint64_t per_producer) const {
    std::uint64_t want = 0;
    for (std::uint64_t p = 0; p < next.size(); ++p) want += 3 * (per_producer * (per_producer - 1) / 2) + p * per_producer;
    if (!ordered || count != per_producer * next.size() || sum != want) {
      fail(name, "lost, duplicated or reordered messages (count " + std::to_string(count) + " of " +
                     std::to_string(per_producer * next.size()) + ")");
    }
  }
};

msg make(std::uint64_t seq, std::uint64_t producer) noexcept { return msg{seq, producer, seq * 3 + producer, 0}; }

// Runs `produce(p)` on `producers` threads (the p-th pinned to CPU p + 1) and
// `consume()` on this thread (CPU 0), both started together; returns the
// seconds from the start to the consumer's end.
template <class Produce, class Consume>
double run_threads(std::size_t producers, Produce&& produce, Consume&& consume) {
  pin_to(0);
  std::atomic<std::size_t> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      pin_to(p + 1);
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) laminar::detail::cpu_relax();
      produce(p);
    });
  }
  while (ready.load() != producers) std::this_thread::yield();
  lb::stopwatch sw;
  go.store(true, std::memory_order_release);
  consume();
  const double secs = sw.elapsed_s();
  for (auto& t : threads) t.join();
  return secs;
}

// ---- SPSC throughput ----

double spsc_ours(std::uint64_t n) {
  auto ch = std::make_unique<spsc_channel<msg>>(capacity);
  tally got(1);
  const double secs = run_threads(
      1,
      [&](std::size_t) {
        for (std::uint64_t i = 0; i < n; ++i) ch->push(make(i, 0), wait_policy::spin);
      },
      [&] {
        while (got.count < n && got.ordered) {
          if (ch->consume([&](msg& m) { got.take(m); }) == 0) {
            laminar::detail::cpu_relax();
            ch->wait_for_data(wait_policy::spin);
          }
        }
      });
  got.check("spsc_channel", n);
  return static_cast<double>(n) / secs;
}

using boost_spsc = boost::lockfree::spsc_queue<msg, boost::lockfree::capacity<capacity>>;

// Boost's queues have no waiting of their own: they wait the way ours do,
// with laminar::wait_until(wait_policy::spin, ...), so that only the queues differ.
template <class Pred>
void spin_until(Pred&& pred) {
  static std::atomic<std::uint32_t> never_parked{0};
  laminar::wait_until(wait_policy::spin, pred, never_parked, nullptr);
}

double spsc_boost(std::uint64_t n) {
  auto q = std::make_unique<boost_spsc>();
  tally got(1);
  const double secs = run_threads(
      1,
      [&](std::size_t) {
        for (std::uint64_t i = 0; i < n; ++i) {
          while (!q->push(make(i, 0))) spin_until([&] { return q->write_available() > 0; });
        }
      },
      [&] {
        while (got.count < n && got.ordered) {
          if (q->consume_all([&](const msg& m) { got.take(m); }) == 0) {
            laminar::detail::cpu_relax();
            spin_until([&] { return q->read_available() > 0; });
          }
        }
      });
  got.check("boost spsc_queue", n);
  return static_cast<double>(n) / secs;
}

// The same with the producer pushing batches of `batch` messages at once
// (try_push_n, and Boost's push(const T*, n)).
constexpr std::size_t batch = 16;

double spsc_ours_batched(std::uint64_t n) {
  auto ch = std::make_unique<spsc_channel<msg>>(capacity);
  tally got(1);
  const double secs = run_threads(
      1,
      [&](std::size_t) {
        msg buf[batch];
        for (std::uint64_t i = 0; i < n; i += batch) {
          const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(batch, n - i));
          for (std::size_t j = 0; j < k; ++j) buf[j] = make(i + j, 0);
          ch->push_n(buf, k, wait_policy::spin);
        }
      },
      [&] {
        while (got.count < n && got.ordered) {
          if (ch->consume([&](msg& m) { got.take(m); }) == 0) {
            laminar::detail::cpu_relax();
            ch->wait_for_data(wait_policy::spin);
          }
        }
      });
  got.check("spsc_channel batched", n);
  return static_cast<double>(n) / secs;
}

double spsc_boost_batched(std::uint64_t n) {
  auto q = std::make_unique<boost_spsc>();
  tally got(1);
  const double secs = run_threads(
      1,
      [&](std::size_t) {
        msg buf[batch];
        for (std::uint64_t i = 0; i < n; i += batch) {
          const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(batch, n - i));
          for (std::size_t j = 0; j < k; ++j) buf[j] = make(i + j, 0);
          std::size_t done = 0;
          while ((done += q->push(buf + done, k - done)) < k) spin_until([&] { return q->write_available() > 0; });
        }
      },
      [&] {
        while (got.count < n && got.ordered) {
          if (q->consume_all([&](const msg& m) { got.take(m); }) == 0) {
            laminar::detail::cpu_relax();
            spin_until([&] { return q->read_available() > 0; });
          }
        }
      });
  got.check("boost spsc_queue batched", n);
  return static_cast<double>(n) / secs;
}

// ---- MPSC throughput ----

double mpsc_ours(std::size_t producers, std::uint64_t per_producer) {
  auto ch = std::make_unique<mpsc_channel<msg>>(capacity);
  tally got(producers);
  const std::uint64_t total = per_producer * producers;
  const double secs = run_threads(
      producers,
      [&](std::size_t p) {
        for (std::uint64_t i = 0; i < per_producer; ++i) ch->push(make(i, p), wait_policy::spin);
      },
      [&] {
        while (got.count < total && got.ordered) {
          if (ch->consume([&](msg& m) { got.take(m); }) == 0) ch->wait_for_data(wait_policy::spin);
        }
      });
  got.check("mpsc_channel", per_producer);
  return static_cast<double>(total) / secs;
}

using boost_queue = boost::lockfree::queue<msg, boost::lockfree::capacity<capacity>>;

double mpsc_boost(std::size_t producers, std::uint64_t per_producer) {
  auto q = std::make_unique<boost_queue>();
  tally got(producers);
  const std::uint64_t total = per_producer * producers;
  const double secs = run_threads(
      producers,
      [&](std::size_t p) {
        for (std::uint64_t i = 0; i < per_producer; ++i) {
          // boost::lockfree::queue cannot tell "full" without trying: pause and retry.
          while (!q->bounded_push(make(i, p))) laminar::detail::cpu_relax();
        }
      },
      [&] {
        while (got.count < total && got.ordered) {
          if (q->consume_all([&](const msg& m) { got.take(m); }) == 0) spin_until([&] { return !q->empty(); });
        }
      });
  got.check("boost queue", per_producer);
  return static_cast<double>(total) / secs;
}

// ---- SPSC one-way latency: ping-pong ----

struct latency {
  double p50 = 0;
  double p99 = 0;
};

// The echo side answers each ping with the same message; the timing side
// records half of each round trip.
template <class Send, class Receive, class Echo>
latency ping_pong(const lb::cycle_timer& timer, std::uint64_t rounds, Send&& send, Receive&& receive, Echo&& echo) {
  auto hist = std::make_unique<lb::latency_histogram>();
  std::uint64_t bad = 0;
  run_threads(
      1, [&](std::size_t) { echo(rounds); },
      [&] {
        for (std::uint64_t i = 0; i < rounds; ++i) {
          const auto t0 = lb::cycle_timer::start();
          send(make(i, 0));
          const msg back = receive();
          const auto t1 = lb::cycle_timer::stop();
          if (back.seq != i) ++bad;
          hist->record(timer.to_ns_rounded(t1 - t0) / 2);
        }
      });
  if (bad != 0) fail("ping-pong", std::to_string(bad) + " answers out of order");
  return {static_cast<double>(hist->percentile(50)), static_cast<double>(hist->percentile(99))};
}

latency latency_ours(const lb::cycle_timer& timer, std::uint64_t rounds) {
  auto ping = std::make_unique<spsc_channel<msg>>(capacity);
  auto pong = std::make_unique<spsc_channel<msg>>(capacity);
  auto receive_from = [](spsc_channel<msg>& ch) {
    msg m{};
    while (!ch.try_pop(m)) ch.wait_for_data(wait_policy::spin);
    return m;
  };
  return ping_pong(
      timer, rounds, [&](msg m) { ping->try_push(std::move(m)); }, [&] { return receive_from(*pong); },
      [&](std::uint64_t n) {
        for (std::uint64_t i = 0; i < n; ++i) pong->try_push(receive_from(*ping));
      });
}

latency latency_boost(const lb::cycle_timer& timer, std::uint64_t rounds) {
  auto ping = std::make_unique<boost_spsc>();
  auto pong = std::make_unique<boost_spsc>();
  auto receive_from = [](boost_spsc& q) {
    msg m{};
    while (!q.pop(m)) spin_until([&] { return q.read_available() > 0; });
    return m;
  };
  return ping_pong(
      timer, rounds, [&](msg m) { ping->push(m); }, [&] { return receive_from(*pong); },
      [&](std::uint64_t n) {
        for (std::uint64_t i = 0; i < n; ++i) pong->push(receive_from(*ping));
      });
}

// The floor under any channel: one 64-byte line that both threads write,
// the sequence number itself being the message. Measured in the same run,
// so the channels' latency reads against what the machine allows today.
latency latency_cache_line(const lb::cycle_timer& timer, std::uint64_t rounds) {
  struct alignas(64) line {
    std::atomic<std::uint64_t> value{0};
  };
  auto shared = std::make_unique<line>();
  auto wait_for = [&](std::uint64_t want) {
    while (shared->value.load(std::memory_order_acquire) != want) {
    }
  };
  return ping_pong(
      timer, rounds, [&](msg m) { shared->value.store(2 * m.seq + 1, std::memory_order_release); },
      [&] {
        // The echo answers ping 2i+1 with 2i+2.
        std::uint64_t v;
        while (((v = shared->value.load(std::memory_order_acquire)) & 1U) != 0 || v == 0) {
        }
        return make(v / 2 - 1, 0);
      },
      [&](std::uint64_t n) {
        for (std::uint64_t i = 0; i < n; ++i) {
          wait_for(2 * i + 1);
          shared->value.store(2 * i + 2, std::memory_order_release);
        }
      });
}

// ---- interleaving ----

// Runs ours and theirs `trials` times each, alternating which goes first.
template <class Ours, class Theirs>
void interleave(Ours&& ours, Theirs&& theirs) {
  for (int t = 0; t < trials; ++t) {
    if (t % 2 == 0) {
      ours();
      theirs();
    } else {
      theirs();
      ours();
    }
  }
}

// The trials behind a median, on stderr: shows when a run was bimodal.
void print_trials(const char* what, const std::vector<double>& ours, const std::vector<double>& theirs) {
  std::fprintf(stderr, "channel: %s trials, ours:", what);
  for (double v : ours) std::fprintf(stderr, " %.4g", v);
  std::fprintf(stderr, "; boost:");
  for (double v : theirs) std::fprintf(stderr, " %.4g", v);
  std::fprintf(stderr, "\n");
}

std::size_t mpsc_producers() {
  if (const char* v = std::getenv("LAMINAR_BENCH_MPSC_PRODUCERS"); v != nullptr && *v != '\0') {
    return static_cast<std::size_t>(std::max(1, std::atoi(v)));
  }
  return cpus().size() >= 3 ? 2 : 1;
}

}  // namespace

int main() {
  std::fprintf(stderr, "channel: %zu CPUs available%s\n", cpus().size(),
               cpus().size() >= 2 ? ", threads pinned to separate CPUs" : ", threads not pinned");

  {
    const std::uint64_t n = lb::pick<std::uint64_t>(20'000'000, 20'000);
    spsc_ours(n / 10);  // warm-up: page faults, CPU clocks
    std::vector<double> ours, theirs;
    interleave([&] { ours.push_back(spsc_ours(n)); }, [&] { theirs.push_back(spsc_boost(n)); });
    print_trials("spsc", ours, theirs);
    const double a = lb::median(ours), b = lb::median(theirs);
    lb::report("spsc_msgs_per_s", a, "msgs/s");
    lb::report("boost_spsc_msgs_per_s", b, "msgs/s");
    lb::report("spsc_vs_boost_spsc_queue", a / b, "x");
    std::vector<double> ours_b, theirs_b;
    interleave([&] { ours_b.push_back(spsc_ours_batched(n)); }, [&] { theirs_b.push_back(spsc_boost_batched(n)); });
    print_trials("spsc batched", ours_b, theirs_b);
    lb::report("spsc_batch16_msgs_per_s", lb::median(ours_b), "msgs/s");
    lb::report("boost_spsc_batch16_msgs_per_s", lb::median(theirs_b), "msgs/s");
    lb::report("spsc_batch16_vs_boost_spsc_queue", lb::median(ours_b) / lb::median(theirs_b), "x");
  }
  {
    const lb::cycle_timer timer;
    const std::uint64_t rounds = lb::pick<std::uint64_t>(200'000, 2'000);
    latency_ours(timer, rounds / 10);
    std::vector<double> p50, p99, boost_p50, boost_p99;
    interleave(
        [&] {
          const latency l = latency_ours(timer, rounds);
          p50.push_back(l.p50);
          p99.push_back(l.p99);
        },
        [&] {
          const latency l = latency_boost(timer, rounds);
          boost_p50.push_back(l.p50);
          boost_p99.push_back(l.p99);
        });
    print_trials("spsc latency p50", p50, boost_p50);
    lb::report("spsc_oneway_latency_p50_ns", lb::median(p50), "ns");
    lb::report("spsc_oneway_latency_p99_ns", lb::median(p99), "ns");
    lb::report("boost_spsc_oneway_latency_p50_ns", lb::median(boost_p50), "ns");
    lb::report("boost_spsc_oneway_latency_p99_ns", lb::median(boost_p99), "ns");
    std::vector<double> line_p50;
    for (int t = 0; t < trials; ++t) line_p50.push_back(latency_cache_line(timer, rounds).p50);
    lb::report("cache_line_oneway_latency_p50_ns", lb::median(line_p50), "ns");
    lb::report("spsc_latency_vs_cache_line", lb::median(p50) / lb::median(line_p50), "x");
    // Each round trip includes one start/stop pair: half of it is in each figure.
    lb::report("latency_timer_cost_ns", lb::timer_cost_ns(timer, lb::pick<std::size_t>(100'000, 1'000)), "ns");
  }
  {
    const std::size_t producers = mpsc_producers();
    std::fprintf(stderr, "channel: mpsc with %zu producer thread(s) and the main thread consuming\n", producers);
    const std::uint64_t per = lb::pick<std::uint64_t>(10'000'000, 10'000) / producers;
    std::vector<double> ours, theirs;
    mpsc_ours(producers, per / 10);
    interleave([&] { ours.push_back(mpsc_ours(producers, per)); },
               [&] { theirs.push_back(mpsc_boost(producers, per)); });
    print_trials("mpsc", ours, theirs);
    const double a = lb::median(ours), b = lb::median(theirs);
    lb::report("mpsc_producers", static_cast<double>(producers), "threads", 0);
    lb::report("mpsc_msgs_per_s", a, "msgs/s");
    lb::report("boost_queue_msgs_per_s", b, "msgs/s");
    lb::report("mpsc_vs_boost_queue", a / b, "x");
  }
  return 0;
}
