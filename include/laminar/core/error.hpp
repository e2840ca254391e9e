// The exception hierarchy. Everything laminar throws derives from
// laminar::error, and every message names the piece and the problem.
#pragma once

#include <stdexcept>
#include <string>

namespace laminar {

/// Base of every exception laminar throws.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A pipeline was used against its protocol: pushing after finish(), a
/// watermark going backwards, a checkpoint taken from a finished source.
class usage_error : public error {
 public:
  using error::error;
};

/// A checkpoint could not be written or read back: bad magic, bad checksum,
/// truncated file, a state record that belongs to another stage.
class checkpoint_error : public error {
 public:
  using error::error;
};

}  // namespace laminar
