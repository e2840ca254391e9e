// laminar: a header-only C++20 stream processor. This umbrella includes
// everything without a dependency beyond cereal, Boost and libnuma: the core
// (time, the stage protocol, composition, checkpoints and state ids,
// watermarks, two-input operators), the stateless operators, sources and
// sinks, aggregates, windows, the four joins, keyed state (state/),
// channels, graphs (dag/) and their executor (runtime/). Optional parts
// with their own dependencies (connectors, serde, SQL) live in their own
// headers and are never included from here.
//
// It is the four feature headers together; a translation unit that needs
// fewer includes those instead, and compiles faster (docs/getting-started.md,
// "Headers and compile time"):
//   laminar/core.hpp     pipelines in one thread: core, operators, sources, sinks
//   laminar/windows.hpp  core + aggregates and windows
//   laminar/joins.hpp    core + the ASOF, interval, temporal and lookup joins
//   laminar/dag.hpp      core + channels, graphs and the executor
#pragma once

#include "laminar/core.hpp"
#include "laminar/dag.hpp"
#include "laminar/joins.hpp"
#include "laminar/windows.hpp"
