// All built-in aggregates. See docs/aggregates.md.
#pragma once

#include "laminar/aggregate/aggregate.hpp"
#include "laminar/aggregate/basic.hpp"
#include "laminar/aggregate/composite.hpp"
#include "laminar/aggregate/distinct.hpp"
#include "laminar/aggregate/first_last.hpp"
#include "laminar/aggregate/ohlc.hpp"
#include "laminar/aggregate/percentile.hpp"
#include "laminar/aggregate/variance.hpp"
