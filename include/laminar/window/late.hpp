// Late data: records that arrive after every window they belong to has
// closed (the watermark passed the window's end plus the allowed lateness).
// A window operator never drops them silently: it counts them (the count is
// part of its checkpointed state) and hands each to its late side output,
// given with .late_to(...): any callable taking the record, or a
// late_records<T> that keeps them for the program to read.
#pragma once

#include "laminar/core/side_output.hpp"

namespace laminar {

/// A late side output that keeps the late records and their count:
/// `.late_to(late)`, held by reference and checkpointed with the window.
template <class T>
using late_records = side_records<T>;

namespace detail {
/// No side output given: late records are only counted.
using no_late_output = discard_side_output;
}  // namespace detail

}  // namespace laminar
