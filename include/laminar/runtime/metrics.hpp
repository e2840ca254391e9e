// Per-task metrics of a run (one task per graph node instance), and their
// rendering in the Prometheus text exposition format. Workers publish
// counters once per step (relaxed atomics), never per record.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "laminar/core/time.hpp"

namespace laminar {

/// One node instance's figures at the moment they were read.
struct node_metrics_snapshot {
  std::string node;            ///< the node's name
  std::size_t instance = 0;    ///< which parallel instance
  int worker = -1;             ///< the worker thread running it
  std::uint64_t events_in = 0;   ///< records consumed from input channels (or emitted by a source)
  std::uint64_t events_out = 0;  ///< records sent to output channels (or reaching its sink)
  std::size_t queue_depth = 0;   ///< messages waiting in its input channels
  timestamp watermark = timestamp::min();  ///< its current (combined input) watermark
  duration busy = duration::zero();        ///< time spent in steps that made progress
};

namespace detail {
struct node_metrics {
  std::string node;
  std::size_t instance = 0;
  std::atomic<int> worker{-1};  // set when the task is placed; read by any thread
  std::atomic<std::uint64_t> events_in{0};
  std::atomic<std::uint64_t> events_out{0};
  std::atomic<std::int64_t> busy_ns{0};
  std::atomic<std::int64_t> watermark{timestamp::min().nanos()};
  std::function<std::size_t()> queue_depth;  // reads channel sizes; safe from any thread once published
  std::atomic<bool> queue_depth_published{false};

  // Set by the worker that builds the task, while another thread may be
  // reading the metrics (a /metrics scrape during start): read only after
  // the flag says it is there. Set once per run.
  void publish_queue_depth(std::function<std::size_t()> f) {
    if (queue_depth_published.load(std::memory_order_relaxed)) return;
    queue_depth = std::move(f);
    queue_depth_published.store(true, std::memory_order_release);
  }

  [[nodiscard]] node_metrics_snapshot read() const {
    return {node,
            instance,
            worker.load(std::memory_order_relaxed),
            events_in.load(std::memory_order_relaxed),
            events_out.load(std::memory_order_relaxed),
            queue_depth_published.load(std::memory_order_acquire) ? queue_depth() : 0,
            timestamp::from_nanos(watermark.load(std::memory_order_relaxed)),
            duration::from_nanos(busy_ns.load(std::memory_order_relaxed))};
  }
};

inline std::string prometheus_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}
}  // namespace detail

/// Renders metrics in the Prometheus text exposition format (version 0.0.4).
inline std::string render_prometheus(const std::vector<node_metrics_snapshot>& metrics) {
  std::ostringstream os;
  struct family {
    const char* name;
    const char* type;
    const char* help;
    std::function<void(std::ostream&, const node_metrics_snapshot&)> value;
  };
  const family families[] = {
      {"laminar_node_events_in_total", "counter", "Records a node instance consumed.",
       [](std::ostream& o, const node_metrics_snapshot& m) { o << m.events_in; }},
      {"laminar_node_events_out_total", "counter", "Records a node instance emitted.",
       [](std::ostream& o, const node_metrics_snapshot& m) { o << m.events_out; }},
      {"laminar_node_queue_depth", "gauge", "Messages waiting in a node instance's input channels.",
       [](std::ostream& o, const node_metrics_snapshot& m) { o << m.queue_depth; }},
      {"laminar_node_watermark_seconds", "gauge", "A node instance's current event-time watermark (Unix seconds).",
       [](std::ostream& o, const node_metrics_snapshot& m) {
         if (m.watermark == timestamp::min()) {
           o << "-Inf";
         } else if (m.watermark == timestamp::max()) {
           o << "+Inf";
         } else {
           o << static_cast<double>(m.watermark.nanos()) / 1e9;
         }
       }},
      {"laminar_node_busy_seconds_total", "counter", "Time a node instance spent processing.",
       [](std::ostream& o, const node_metrics_snapshot& m) { o << static_cast<double>(m.busy.nanos()) / 1e9; }},
  };
  for (const family& f : families) {
    os << "# HELP " << f.name << ' ' << f.help << '\n' << "# TYPE " << f.name << ' ' << f.type << '\n';
    for (const auto& m : metrics) {
      os << f.name << "{node=\"" << detail::prometheus_escape(m.node) << "\",instance=\"" << m.instance
         << "\",worker=\"" << m.worker << "\"} ";
      f.value(os, m);
      os << '\n';
    }
  }
  return os.str();
}

}  // namespace laminar
