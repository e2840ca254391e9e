// collect(v): appends every record to a caller-owned vector (tests,
// examples, small results).
//
// Checkpoints. The vector is the sink's output, as a file is a file sink's,
// so a checkpoint does not copy it: it holds only the vector's length when
// the barrier passed (8 bytes, whatever the records; they need no
// serialize). A restore truncates the vector back to that length: the
// records collected after the checkpoint go, and the restored chain, which
// replays from the checkpoint, appends them again. Each record is in the
// vector exactly once, and restore-and-continue leaves it equal to an
// uninterrupted run's. (Flink's file sink truncates its part files to the
// checkpointed length the same way.) So restore into the vector the
// checkpointed run collected into, or a copy of it; one holding fewer
// records than the checkpoint covers cannot be made whole, and restoring
// into it is a usage_error. Records the vector held before the chain
// started count as collected and are kept.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/stage.hpp"

namespace laminar {

template <class In, class T, class A>
class collect_sink : public consuming_stage {
 public:
  static constexpr std::string_view state_name = "collect";
  static constexpr bool absorbs_repeated_watermarks = true;  // it ignores them

  explicit collect_sink(std::vector<T, A>& out) noexcept : out_(&out) {}
  void on_event(const In& event) { out_->push_back(event); }
  void on_barrier(const checkpoint_barrier& barrier) { barrier.checkpoint(*this); }

  void save_state(state_writer& w) const { w(static_cast<std::uint64_t>(out_->size())); }
  void load_state(state_reader& r) {
    std::uint64_t length = 0;
    r(length);
    if (length > out_->size()) {
      throw usage_error("laminar: collect: the checkpoint covers the first " + std::to_string(length) +
                             " records of the vector, which holds " + std::to_string(out_->size()) +
                             ": collect keeps no copy of its records, so restore into the vector the checkpointed "
                             "run collected into");
    }
    out_->erase(out_->begin() + static_cast<std::ptrdiff_t>(length), out_->end());
  }

 private:
  std::vector<T, A>* out_;
};

template <class T, class A>
struct collect_sink_factory {
  using is_sink = void;
  std::vector<T, A>* out;
  template <class Ctx>
  auto bind(const Ctx&) && {
    static_assert(std::convertible_to<const typename Ctx::value_type&, T>,
                  "laminar::collect: the stream's record type does not convert to the vector's element type");
    return collect_sink<typename Ctx::value_type, T, A>(*out);
  }
};

/// Ends a chain by appending every record to `out`; a checkpoint holds
/// only how many records `out` held (see above).
template <class T, class A>
auto collect(std::vector<T, A>& out) {
  return collect_sink_factory<T, A>{&out};
}

}  // namespace laminar
