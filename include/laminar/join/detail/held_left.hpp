// The left records a join holds until their answer is exact, released in
// left event-time order (equal times in arrival order), and the output
// watermark they hold back: the ASOF join's final policy and the temporal
// join share it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/side_output.hpp"
#include "laminar/core/time.hpp"

namespace laminar::detail {

template <class L>
class held_left {
 public:
  struct entry {
    timestamp t;
    std::uint64_t seq;  // arrival: orders equal times
    L record;
  };

  [[nodiscard]] bool empty() const noexcept { return heap_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return heap_.size(); }
  /// The earliest held record (time, then arrival); not empty.
  [[nodiscard]] const entry& front() const noexcept { return heap_.front(); }
  /// `w`, held back to the earliest held record's time: what a watermark
  /// or an eviction bound may say while these records have not left.
  [[nodiscard]] timestamp held_back(timestamp w) const noexcept {
    return heap_.empty() ? w : std::min(w, heap_.front().t);
  }

  /// The join's combined input watermark rose to w: the output watermark
  /// follows, held back to the earliest held record (rows leave with their
  /// left record's time).
  template <class Next>
  void on_watermark(timestamp w, Next& next) {
    combined_ = w;
    advance(next, combined_);
  }
  /// Records left: the output watermark may rise.
  template <class Next>
  void advance(Next& next) {
    advance(next, combined_);
  }

  void push(timestamp t, const L& l) {
    heap_.push_back(entry{t, next_seq_++, l});
    std::push_heap(heap_.begin(), heap_.end(), later);
  }
  /// Takes the earliest held record out; not empty.
  [[nodiscard]] entry pop() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    entry x = std::move(heap_.back());
    heap_.pop_back();
    return x;
  }
  /// More records are held than the join's bound: the earliest leaves
  /// before its answer is exact, unjoined to the overflow side output
  /// (held as side_output_holder_t), or without one through `join_early`
  /// (which pops it and joins it with what has arrived).
  template <class Overflow, class JoinEarly>
  void release_earliest(Overflow& overflow, JoinEarly&& join_early) {
    if constexpr (std::is_same_v<Overflow, discard_side_output>) {
      join_early();
    } else {
      side_output_target(overflow)(pop().record);
    }
  }

  void save_state(state_writer& w) const {
    w(combined_, output_, next_seq_, static_cast<std::uint64_t>(heap_.size()));
    for (const entry& x : heap_) w(x.t, x.seq, x.record);
  }
  /// `op` names the join in the error a broken checkpoint gets.
  void load_state(state_reader& r, const char* op) {
    load_state(r, op, [](const L&) { return true; });
  }
  /// ... and rescaled (state_reader::rescaling()), only the records
  /// `owned(record)` are kept, and a later part (merging()) adds its own to
  /// those held.
  template <class Owned>
  void load_state(state_reader& r, const char* op, Owned&& owned) {
    timestamp combined{}, output{};
    std::uint64_t next_seq = 0;
    r(combined, output, next_seq);
    if (r.merging()) {
      combined_ = std::min(combined_, combined);
      output_ = std::min(output_, output);
      next_seq_ = std::max(next_seq_, next_seq);
    } else {
      combined_ = combined;
      output_ = output;
      next_seq_ = next_seq;
      heap_.clear();
    }
    const std::uint64_t n = r.read_count("held left records", 2 * sizeof(std::int64_t));
    const std::size_t before = heap_.size();
    for (std::uint64_t i = 0; i < n; ++i) {
      entry x{timestamp{}, 0, L{}};
      r(x.t, x.seq, x.record);
      if (x.seq >= next_seq) {
        throw checkpoint_error(std::string("laminar: ") + op + ": the checkpoint's held left record " +
                               std::to_string(i) + " has arrival number " + std::to_string(x.seq) +
                               ", not below the next one (" + std::to_string(next_seq) + ")");
      }
      if (!r.rescaling() || owned(x.record)) heap_.push_back(std::move(x));
    }
    if (r.rescaling()) {
      std::make_heap(heap_.begin(), heap_.end(), later);  // equal times of two saved instances: either first
    } else if (!std::is_heap(heap_.begin() + static_cast<std::ptrdiff_t>(before), heap_.end(), later)) {
      throw checkpoint_error(std::string("laminar: ") + op + ": the checkpoint's held left records are out of order");
    }
  }

 private:
  template <class Next>
  void advance(Next& next, timestamp combined) {
    const timestamp out = held_back(combined);
    if (out > output_) {
      output_ = out;
      next.on_watermark(out);
    }
  }

  // A min-heap on (time, arrival).
  static bool later(const entry& a, const entry& b) noexcept { return a.t != b.t ? a.t > b.t : a.seq > b.seq; }

  std::vector<entry> heap_;
  std::uint64_t next_seq_ = 0;
  timestamp combined_ = timestamp::min();  // the join's input watermark
  timestamp output_ = timestamp::min();    // the join's output watermark
};

}  // namespace laminar::detail
