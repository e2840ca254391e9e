// Window operators. See docs/windows.md.
#pragma once

#include "laminar/window/assigners.hpp"
#include "laminar/window/emit.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/window/session_window.hpp"
#include "laminar/window/sliced_window_operator.hpp"
#include "laminar/window/window_row.hpp"
