// Options of a graph's edges and of the runtime that runs it, and the error
// a failed node reports.
#pragma once

#include <cstddef>
#include <string>

#include "laminar/channel/wait_policy.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

/// One edge between nodes: its channels' capacity (messages; a power of two
/// is used) and how a producer waits when a channel is full.
struct edge_options {
  std::size_t capacity = 1024;
  wait_policy policy = wait_policy::spin_then_yield;
};

/// How the runtime runs a graph.
struct runtime_options {
  /// Worker threads; 0 means one per CPU this process may use.
  std::size_t workers = 0;
  /// Pin each worker to its own CPU (pthread_setaffinity_np).
  bool pin = true;
  /// Build each worker's channels and operator state on its NUMA node
  /// (libnuma; a no-op where NUMA is absent).
  bool numa = true;
  /// Task budget: the most input messages one node handles before the other
  /// nodes of its worker get a turn.
  std::size_t budget = 256;
  /// Fan-in: an input silent for this long (processing time) stops holding
  /// back the combined watermark until it speaks again.
  duration idle_timeout = duration::max();
  /// How an idle worker (nothing to do in any of its nodes) waits.
  wait_policy idle_policy = wait_policy::spin_then_yield;
};

/// A node of a running graph failed: names the node instance and the error.
class node_error : public error {
 public:
  node_error(std::string node, const std::string& what)
      : error("node '" + node + "' failed: " + what), node_(std::move(node)) {}
  [[nodiscard]] const std::string& node() const noexcept { return node_; }

 private:
  std::string node_;
};

/// A graph was built wrongly: the message names the node and the fix.
class graph_error : public error {
 public:
  using error::error;
};

}  // namespace laminar
