// Options of a graph's edges, and the error a wrongly built graph reports.
// How the graph is run is the runtime's (runtime/options.hpp).
#pragma once

#include <cstddef>

#include "laminar/channel/wait_policy.hpp"
#include "laminar/core/error.hpp"

namespace laminar {

/// One edge between nodes: its channels' capacity (messages; a power of two
/// is used), how a producer waits when a channel is full, and how many
/// messages it batches per channel.
struct edge_options {
  std::size_t capacity = 1024;
  wait_policy policy = wait_policy::spin_then_yield;
  /// A producer writes records, watermarks and barriers into a channel
  /// unseen and publishes them together: when `batch` are waiting, when the
  /// channel is full, and at the end of each step of the producing node (at
  /// most runtime_options::budget input messages, and at once when its
  /// input runs dry, so a quiet stream is not held). A batch crosses
  /// between the cores as a run of cache lines instead of one line per
  /// message written while the consumer reads it. 1 publishes every message
  /// at once. Clamped to the capacity.
  std::size_t batch = 64;
};

/// A graph was built wrongly: the message names the node and the fix.
class graph_error : public error {
 public:
  using error::error;
};

}  // namespace laminar
