// How an executor runs its tasks (workers, pinning, NUMA, budget, waiting,
// processing time), and the error a failed task reports.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "laminar/channel/wait_policy.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/state_archive.hpp"  // default_key_groups
#include "laminar/core/time.hpp"

namespace laminar {

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
  /// Latency budget of a step: a node's output frames are published at the
  /// end of each of its steps, so a record waits at most one step of the
  /// node that produced it. A step that takes longer than this shrinks that
  /// node's next budget in proportion (down to one message), and quick steps
  /// grow it back to `budget`: once a node's cost per message is seen, a
  /// record waits about this long at most (a single message slower than
  /// this cannot be split). It costs nothing per record (the worker times
  /// every step anyway); a slow node publishes more, smaller frames.
  /// duration::max() turns it off: steps are bounded by `budget` alone.
  duration flush_interval = std::chrono::microseconds(50);
  /// Fan-in: an input silent for this long (processing time) stops holding
  /// back the combined watermark until it speaks again. Checked on ticks.
  duration idle_timeout = duration::max();
  /// How an idle worker (nothing to do in any of its nodes) waits.
  wait_policy idle_policy = wait_policy::spin_then_yield;
  /// How often each worker delivers processing time to its nodes (a tick:
  /// sources' idle timeouts, fan-in idle timeouts, periodic emission by
  /// processing time). 1 ms keeps those triggers within a millisecond of
  /// due, costs a clock read per round of the worker's loop and a call per
  /// node per millisecond, and matches how often a parked worker re-checks
  /// anyway. duration::max() turns processing time off.
  duration tick_interval = std::chrono::milliseconds(1);
  /// The processing-time clock; empty: the system clock (timestamp::now(),
  /// as pipeline::tick()). Every worker calls it, so it must be thread-safe;
  /// tests pass a manual_clock's reader() (runtime/clock.hpp).
  std::function<timestamp()> clock{};
  /// The longest a parked worker sleeps before it looks at its nodes
  /// unasked. Data, alignment releases, checkpoint requests and stop wake it
  /// at once (and ticks, when its nodes take processing time); this bounds
  /// only waits nobody signals, such as room freed in a park-policy edge.
  duration park_recheck = std::chrono::milliseconds(1);
  /// Keyed state is split into this many key groups: an exchange sends a
  /// key to the instance that owns its key group (a contiguous range of
  /// groups per instance), and checkpoints save keyed state by group, so a
  /// checkpoint can be restored with another number of instances. At least
  /// the largest parallelism of a node, at most 65536.
  std::uint32_t key_groups = default_key_groups;
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

namespace detail {

/// What makes `o` unusable, if anything; whoever starts an executor checks
/// its options first and reports this in its own error.
[[nodiscard]] inline std::optional<std::string> options_problem(const runtime_options& o) {
  if (o.tick_interval <= duration::zero()) {
    return "runtime_options::tick_interval must be positive (duration::max() turns ticks off)";
  }
  if (o.park_recheck <= duration::zero()) return "runtime_options::park_recheck must be positive";
  if (o.flush_interval <= duration::zero()) {
    return "runtime_options::flush_interval must be positive (duration::max() turns it off)";
  }
  if (o.key_groups == 0 || o.key_groups > 65536) return "runtime_options::key_groups must be in [1, 65536]";
  if (o.idle_timeout != duration::max() && o.tick_interval == duration::max()) {
    return "runtime_options::idle_timeout is checked on processing-time ticks: set tick_interval (not "
           "duration::max())";
  }
  return std::nullopt;
}

}  // namespace detail
}  // namespace laminar
