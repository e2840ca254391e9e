// keep_last(): passes records on and keeps the last one as its state,
// written against the public operator protocol. Its state is a record, so
// checkpointing it needs the record type to be serializable: the tests of
// that requirement use it.
#pragma once

#include <string_view>
#include <type_traits>
#include <utility>

#include <laminar/laminar.hpp>

namespace laminar::test {

template <class T, class Next>
class keep_last_stage : public forwarding_stage<Next> {
 public:
  static constexpr std::string_view state_name = "keep_last";
  explicit keep_last_stage(Next next) : forwarding_stage<Next>(std::move(next)) {}

  void on_event(const T& record) {
    last_ = record;
    this->next_.on_event(record);
  }
  void on_barrier(const checkpoint_barrier& b) {
    b.checkpoint(*this);
    this->next_.on_barrier(b);
  }
  void save_state(state_writer& w) const { w(last_); }
  void load_state(state_reader& r) { r(last_); }

 private:
  T last_{};
};

struct keep_last_operator {
  using is_operator = void;
  template <class Ctx>
  auto output_context(const Ctx& ctx) const {
    return ctx;
  }
  template <class Ctx, class Next>
  auto bind(const Ctx&, Next&& next) && {
    return keep_last_stage<typename Ctx::value_type, std::remove_cvref_t<Next>>(std::forward<Next>(next));
  }
};

inline keep_last_operator keep_last() { return {}; }

}  // namespace laminar::test
