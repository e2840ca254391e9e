// What an operator factory's refinements (.tolerance(d), .emit(e),
// .max_held(n), ...) return: a copy of the factory with one setting
// changed. Factories are values, so a refinement never changes the one it
// was called on.
#pragma once

#include <utility>

namespace laminar::detail {

template <class Op, class Settings, class Field, class V>
[[nodiscard]] Op with_setting(Op op, Field Settings::*field, V&& value) {
  op.settings.*field = static_cast<Field>(std::forward<V>(value));
  return op;
}

}  // namespace laminar::detail
