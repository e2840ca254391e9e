// The in-band messages of a stream between two chains: a record, a
// watermark, a checkpoint barrier or the end of the stream. Channels carry
// them as frames (dag/detail/batch_channel.hpp); one message as a value (a
// std::variant: no heap allocation, no virtual call) is what waits in an
// overflow queue behind a full channel or in a join's read-ahead.
#pragma once

#include <cstdint>
#include <variant>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

/// A checkpoint barrier as it crosses threads: its id and kind. Each node
/// snapshots into its own state, so no pointer to a snapshot travels.
struct barrier_token {
  std::uint64_t id = 0;
  checkpoint_barrier::kind kind = checkpoint_barrier::kind::snapshot;
  friend bool operator==(const barrier_token&, const barrier_token&) = default;
};

/// The end of one producer's stream.
struct end_of_stream {
  friend bool operator==(const end_of_stream&, const end_of_stream&) = default;
};

/// One in-band message of a stream of T.
template <class T>
using stream_message = std::variant<T, timestamp, barrier_token, end_of_stream>;

}  // namespace laminar
