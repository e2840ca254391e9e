// The channel layer: bounded lock-free channels that connect fused chains
// running on different threads (SPSC, MPSC), and the wait policies their
// blocking calls take. See docs/channels.md.
#pragma once

#include "laminar/channel/mpsc.hpp"
#include "laminar/channel/spsc.hpp"
#include "laminar/channel/wait_policy.hpp"
