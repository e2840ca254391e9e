// laminar/core.hpp: what a pipeline in one thread needs, without windows,
// joins or graphs: the core (time, the stage protocol, composition,
// connect() and two-input operators, checkpoints and state ids,
// watermarks), the stateless operators, the sources and the sinks.
//
// The feature headers add to it: laminar/windows.hpp (aggregates and
// windows), laminar/joins.hpp (the four joins), laminar/dag.hpp (graphs,
// channels and the executor). laminar/laminar.hpp is all of them. A
// translation unit that includes only what it uses compiles faster: see
// docs/getting-started.md, "Headers and compile time".
#pragma once

#include "laminar/version.hpp"

#include "laminar/core/changelog.hpp"
#include "laminar/core/checkpoint.hpp"
#include "laminar/core/compose.hpp"
#include "laminar/core/connect.hpp"
#include "laminar/core/emit.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/fan_out.hpp"
#include "laminar/core/field.hpp"
#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/pipeline.hpp"
#include "laminar/core/record_fields.hpp"
#include "laminar/core/source.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/tagged_key.hpp"
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
