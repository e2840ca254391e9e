// How long a record takes through a graph: a feed thread pushes stamped
// records into a push_feed, a source node reads them and sends them on
// (hop 1) to a map node, which sends them on (hop 2) to a sink node that
// takes the time. Default edges (batches of 64, published at the end of each
// step) and budget; one worker, so that the feed thread and the worker have
// a core each on these 2 cores (with 2 workers, three spinning threads share
// two cores and the figure is the scheduler's time slice, milliseconds).
//
//   dag_hop_latency_p99_ns       at 1M records/s offered (one every µs)
//   dag_hop_latency_p99_ns_idle  one record every 100 µs
//
// And what runtime_options::flush_interval buys: a map node that spends
// 2 µs on each record, fed bursts of 256 records every 2 ms, with the
// default interval (50 µs) and with none (`..._no_flush_interval`): without
// it, a burst's records all wait for the end of the step that handles the
// whole burst (~0.5 ms).
//
// Against the one-way latency of a bare spsc_channel between two threads,
// measured in the same run with the same pacing (`channel_one_way_*`): the
// ratio says what the graph's two hops, its batching and its workers add.
// The feed thread paces itself by spinning on the TSC.
#include <laminar/laminar.hpp>

#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

#include "support/bench.hpp"
#include "support/latency_histogram.hpp"

namespace lb = laminar::bench;
using namespace laminar;

namespace {

struct stamped {
  std::uint64_t t0 = 0;  // cycle_timer ticks when it was due
  std::uint64_t seq = 0;
};

// Pushes `n` records, one every `gap_ns`, each stamped with its due time
// (so a late push counts against the latency, as a queued one would).
template <class Push>
void paced(std::size_t n, double gap_ns, const lb::cycle_timer& timer, Push&& push) {
  const double ticks_per_gap = gap_ns / timer.to_ns(1);
  const std::uint64_t start = lb::cycle_timer::now();
  for (std::size_t i = 0; i < n; ++i) {
    const auto due = start + static_cast<std::uint64_t>(static_cast<double>(i) * ticks_per_gap);
    while (lb::cycle_timer::now() < due) {
    }
    push(stamped{due, i});
  }
}

// Pushes `n` records in bursts of `burst`, one burst every `period_ns`,
// each record stamped with its burst's due time.
template <class Push>
void bursts(std::size_t n, std::size_t burst, double period_ns, const lb::cycle_timer& timer, Push&& push) {
  const double ticks_per_period = period_ns / timer.to_ns(1);
  const std::uint64_t start = lb::cycle_timer::now();
  for (std::size_t i = 0; i < n; ++i) {
    const auto due = start + static_cast<std::uint64_t>(static_cast<double>(i / burst) * ticks_per_period);
    while (lb::cycle_timer::now() < due) {
    }
    push(stamped{due, i});
  }
}

// The map node spends `work_ns` on each record (0: none).
template <class Feed>
lb::latency_histogram through_graph(const lb::cycle_timer& timer, std::size_t n, runtime_options options,
                                    double work_ns, Feed&& feed_records) {
  lb::latency_histogram h;
  push_feed<stamped> feed(4096);
  graph g(options);
  auto src = g.source("feed", feed.source());
  const auto work_ticks = static_cast<std::uint64_t>(work_ns / timer.to_ns(1));
  auto hop = g.node("map", src, map([work_ticks](stamped s) {
                      if (work_ticks != 0) {
                        const std::uint64_t until = lb::cycle_timer::now() + work_ticks;
                        while (lb::cycle_timer::now() < until) {
                        }
                      }
                      s.seq += 1;
                      return s;
                    }));
  std::uint64_t got = 0;
  g.node("sink", hop, sink([&](const stamped& s) {
           h.record(static_cast<std::uint64_t>(timer.to_ns(lb::cycle_timer::now() - s.t0)));
           ++got;
         }));
  g.start();
  feed_records([&](const stamped& s) { feed.push(s); });
  feed.close();
  g.wait();
  if (got != n) {
    std::fprintf(stderr, "dag_latency: %llu of %zu records arrived\n", static_cast<unsigned long long>(got), n);
    std::exit(1);
  }
  return h;
}

lb::latency_histogram through_channel(std::size_t n, double gap_ns, const lb::cycle_timer& timer) {
  lb::latency_histogram h;
  spsc_channel<stamped> ch(4096);
  std::thread consumer([&] {
    std::size_t got = 0;
    while (got < n) {
      got += ch.consume([&](stamped& s) {
        h.record(static_cast<std::uint64_t>(timer.to_ns(lb::cycle_timer::now() - s.t0)));
      });
    }
  });
  paced(n, gap_ns, timer, [&](const stamped& s) { ch.push(stamped(s)); });
  consumer.join();
  return h;
}

}  // namespace

int main() {
  const lb::cycle_timer timer;
  const std::size_t loaded = lb::pick<std::size_t>(2'000'000, 20'000);
  const std::size_t idle = lb::pick<std::size_t>(20'000, 500);
  const std::size_t bursty = lb::pick<std::size_t>(256 * 200, 256 * 4);
  const int trials = lb::pick(3, 1);
  std::vector<double> graph_loaded, graph_idle, chan_loaded, chan_idle, graph_loaded_50, graph_idle_50;
  std::vector<double> graph_burst_50, graph_burst_50_off;
  for (int t = 0; t < trials; ++t) {
    const runtime_options one{.workers = 1};
    const auto gl = through_graph(timer, loaded, one, 0, [&](auto push) { paced(loaded, 1000.0, timer, push); });
    const auto gi = through_graph(timer, idle, one, 0, [&](auto push) { paced(idle, 100'000.0, timer, push); });
    // A slow node (2 us a record) fed bursts of 256 every 2 ms: without a
    // flush interval, every record of a burst waits for the step that ends
    // after the burst's last one.
    runtime_options off = one;
    off.flush_interval = duration::max();
    auto burst_feed = [&](auto push) { bursts(bursty, 256, 2'000'000.0, timer, push); };
    const auto gb = through_graph(timer, bursty, one, 2000.0, burst_feed);
    const auto gb_off = through_graph(timer, bursty, off, 2000.0, burst_feed);
    graph_burst_50.push_back(static_cast<double>(gb.percentile(50.0)));
    graph_burst_50_off.push_back(static_cast<double>(gb_off.percentile(50.0)));
    const auto cl = through_channel(loaded, 1000.0, timer);
    const auto ci = through_channel(idle, 100'000.0, timer);
    graph_loaded.push_back(static_cast<double>(gl.percentile(99.0)));
    graph_loaded_50.push_back(static_cast<double>(gl.percentile(50.0)));
    graph_idle.push_back(static_cast<double>(gi.percentile(99.0)));
    graph_idle_50.push_back(static_cast<double>(gi.percentile(50.0)));
    chan_loaded.push_back(static_cast<double>(cl.percentile(99.0)));
    chan_idle.push_back(static_cast<double>(ci.percentile(99.0)));
  }
  const double gl = lb::median(graph_loaded), gi = lb::median(graph_idle);
  const double cl = lb::median(chan_loaded), ci = lb::median(chan_idle);
  lb::report("dag_hop_latency_p50_ns", lb::median(graph_loaded_50), "ns", 0);
  lb::report("dag_hop_latency_p99_ns", gl, "ns", 0);
  lb::report("dag_hop_latency_p50_ns_idle", lb::median(graph_idle_50), "ns", 0);
  lb::report("dag_hop_latency_p99_ns_idle", gi, "ns", 0);
  lb::report("channel_one_way_latency_p99_ns", cl, "ns", 0);
  lb::report("channel_one_way_latency_p99_ns_idle", ci, "ns", 0);
  lb::report("dag_hop_latency_p99_vs_channel", gl / cl, "x");
  lb::report("dag_hop_latency_p99_vs_channel_idle", gi / ci, "x");
  const double gb = lb::median(graph_burst_50), gb_off = lb::median(graph_burst_50_off);
  lb::report("dag_hop_latency_p50_ns_slow_node_bursts", gb, "ns", 0);
  lb::report("dag_hop_latency_p50_ns_slow_node_bursts_no_flush_interval", gb_off, "ns", 0);
  lb::report("dag_flush_interval_p50_vs_none", gb / gb_off, "x");
}
