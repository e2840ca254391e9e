// collect(v): appends every record to a caller-owned vector. Its contents are
// its state: a checkpoint saves them and a restore puts them back (the record
// type then needs a cereal serialize function; without one, a checkpoint
// barrier reaching the sink is a checkpoint_error).
#pragma once

#include <cereal/types/vector.hpp>

#include <concepts>
#include <string_view>
#include <type_traits>
#include <vector>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/forwarding_stage.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

template <class In, class T, class A>
class collect_sink : public consuming_stage {
  static constexpr bool serializable = archivable<T>;

 public:
  static constexpr std::string_view state_name = "collect";
  static constexpr bool absorbs_repeated_watermarks = true;  // it ignores them

  explicit collect_sink(std::vector<T, A>& out) noexcept : out_(&out) {}
  void on_event(const In& event) { out_->push_back(event); }
  void on_barrier(const checkpoint_barrier& barrier) {
    if constexpr (serializable) {
      barrier.checkpoint(*this);
    } else {
      // A chain that is never checkpointed need not make its records
      // serializable; one that is gets told what to add.
      throw checkpoint_error(
          "laminar::collect: checkpointing this sink saves its records, but the record type has no cereal "
          "serialize(Archive&) function: add one");
    }
  }

  void save_state(state_writer& w) const {
    if constexpr (serializable) w(*out_);
  }
  void load_state(state_reader& r) {
    if constexpr (serializable) {
      out_->clear();
      r(*out_);
    }
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

/// Ends a chain by appending every record to `out`.
template <class T, class A>
auto collect(std::vector<T, A>& out) {
  return collect_sink_factory<T, A>{&out};
}

}  // namespace laminar
