// The runtime layer: workers, pinning, NUMA placement, tasks, processing time.
#pragma once

#include "laminar/runtime/affinity.hpp"
#include "laminar/runtime/clock.hpp"
#include "laminar/runtime/task.hpp"
