// The runtime layer: workers, pinning, NUMA placement, tasks.
#pragma once

#include "laminar/runtime/affinity.hpp"
#include "laminar/runtime/task.hpp"
