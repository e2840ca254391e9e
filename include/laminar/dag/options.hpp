// Options of a graph's edges, and the error a wrongly built graph reports.
// How the graph is run is the runtime's (runtime/options.hpp).
#pragma once

#include <cstddef>

#include "laminar/channel/wait_policy.hpp"
#include "laminar/core/error.hpp"

namespace laminar {

/// One edge between nodes: its channels' capacity (messages; a power of two
/// is used) and how a producer waits when a channel is full.
struct edge_options {
  std::size_t capacity = 1024;
  wait_policy policy = wait_policy::spin_then_yield;
};

/// A graph was built wrongly: the message names the node and the fix.
class graph_error : public error {
 public:
  using error::error;
};

}  // namespace laminar
