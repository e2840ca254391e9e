// laminar/joins.hpp: laminar/core.hpp and the four joins (ASOF, interval,
// temporal, lookup), each a two-input operator for connect() or a graph's
// join node. See docs/joins.md.
#pragma once

#include "laminar/core.hpp"

#include "laminar/join/asof.hpp"
#include "laminar/join/interval.hpp"
#include "laminar/join/lookup.hpp"
#include "laminar/join/temporal.hpp"
