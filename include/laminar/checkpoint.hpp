// Durable checkpoints and exactly-once output: the checkpoint directory on
// disk (store.hpp), the coordinator that takes, writes, completes and
// recovers checkpoints of a pipeline or a graph (coordinator.hpp), the
// two-phase-commit sink (two_phase_commit.hpp), the transactional file
// sink on it (file_sink.hpp), the write-ahead log (wal.hpp) and the push
// feed logged to it (logged_feed.hpp).
//
// Not part of laminar.hpp: it is the one part of the core that writes files
// and links liburing (LAMINAR_NO_URING writes with pwrite and fdatasync
// instead), so a program that never checkpoints to disk neither compiles
// nor links it.
#pragma once

#include "laminar/checkpoint/storage_options.hpp"
#include "laminar/checkpoint/store.hpp"
#include "laminar/checkpoint/coordinator.hpp"
#include "laminar/checkpoint/file_sink.hpp"
#include "laminar/checkpoint/two_phase_commit.hpp"
#include "laminar/checkpoint/wal.hpp"
#include "laminar/checkpoint/logged_feed.hpp"
