// count_events(n): counts records into a caller-owned counter (checkpointed).
#pragma once

#include <cstdint>
#include <string_view>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

class count_sink : public consuming_stage {
 public:
  static constexpr std::string_view state_name = "count_events";
  static constexpr bool absorbs_repeated_watermarks = true;  // it ignores them

  explicit count_sink(std::uint64_t& n) noexcept : n_(&n) {}
  template <class T>
  void on_event(const T&) noexcept {
    ++*n_;
  }
  void on_barrier(const checkpoint_barrier& barrier) { barrier.checkpoint(*this); }

  void save_state(state_writer& w) const { w(*n_); }
  void load_state(state_reader& r) { r(*n_); }

 private:
  std::uint64_t* n_;
};

struct count_sink_factory {
  using is_sink = void;
  std::uint64_t* n;
  template <class Ctx>
  auto bind(const Ctx&) && {
    return count_sink(*n);
  }
};

/// Ends a chain by counting its records into `n`.
inline auto count_events(std::uint64_t& n) { return count_sink_factory{&n}; }

}  // namespace laminar
