// The DAG layer: typed graphs of fused chains across threads.
#pragma once

#include "laminar/dag/graph.hpp"
#include "laminar/dag/message.hpp"
#include "laminar/dag/options.hpp"
