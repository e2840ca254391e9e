// laminar/dag.hpp: laminar/core.hpp and what runs chains across threads:
// channels, graphs (dag/) and their executor (runtime/). A graph's nodes
// take any operator: include laminar/windows.hpp or laminar/joins.hpp as
// well for those. See docs/dag.md.
#pragma once

#include "laminar/core.hpp"

#include "laminar/channel/channel.hpp"
#include "laminar/dag/dag.hpp"
#include "laminar/runtime/runtime.hpp"
#include "laminar/source/push_feed.hpp"
