// laminar/windows.hpp: laminar/core.hpp, the aggregates and the window
// operators (tumbling, hopping, cumulate, session; keyed watermarks). See
// docs/windows.md and docs/aggregates.md.
#pragma once

#include "laminar/core.hpp"

#include "laminar/aggregate/aggregates.hpp"
#include "laminar/window/windows.hpp"
