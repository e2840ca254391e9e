// laminar: a header-only C++20 stream processor. This umbrella includes
// everything without a dependency beyond cereal, Boost and libnuma: the core
// (time, the stage protocol, composition and fan-out, checkpoints and state ids,
// watermarks, two-input operators), the stateless operators, sources and
// sinks, aggregates, windows, the four joins, keyed state (state/),
// channels, graphs (dag/) and their executor (runtime/). Optional parts
// with their own dependencies (connectors, serde, SQL) live in their own
// headers and are never included from here.
#pragma once

#include "laminar/version.hpp"

#include "laminar/core/changelog.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/compose.hpp"
#include "laminar/core/connect.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/fan_out.hpp"
#include "laminar/core/field.hpp"
#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/pipeline.hpp"
#include "laminar/core/source.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"
#include "laminar/core/two_input.hpp"
#include "laminar/core/uid.hpp"
#include "laminar/core/watermark.hpp"

#include "laminar/operator/filter.hpp"
#include "laminar/operator/flat_map.hpp"
#include "laminar/operator/key_by.hpp"
#include "laminar/operator/map.hpp"
#include "laminar/operator/tap.hpp"

#include "laminar/source/generator.hpp"
#include "laminar/source/push.hpp"
#include "laminar/source/range.hpp"
#include "laminar/source/union.hpp"
#include "laminar/source/watermarks.hpp"

#include "laminar/sink/callback.hpp"
#include "laminar/sink/collect.hpp"
#include "laminar/sink/count.hpp"
#include "laminar/sink/subscription.hpp"

#include "laminar/aggregate/aggregates.hpp"
#include "laminar/window/windows.hpp"
#include "laminar/join/asof.hpp"
#include "laminar/join/interval.hpp"
#include "laminar/join/temporal.hpp"
#include "laminar/join/lookup.hpp"
#include "laminar/channel/channel.hpp"
#include "laminar/dag/dag.hpp"
#include "laminar/runtime/runtime.hpp"
