// The runtime layer: the executor and its workers, pinning, NUMA placement,
// tasks, processing time, options and metrics.
#pragma once

#include "laminar/runtime/affinity.hpp"
#include "laminar/runtime/clock.hpp"
#include "laminar/runtime/doorbell.hpp"
#include "laminar/runtime/executor.hpp"
#include "laminar/runtime/metrics.hpp"
#include "laminar/runtime/options.hpp"
#include "laminar/runtime/task.hpp"
