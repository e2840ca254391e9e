// push<T>(): a source that user code pushes into, such as a market-data
// callback: pipeline.push(record), pipeline.push_watermark(w), and an
// explicit pipeline.finish() when the feed ends.
#pragma once

#include <cstdint>
#include <string>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/source.hpp"

namespace laminar {

template <class T>
class push_source : public source_base<push_source<T>> {
 public:
  using value_type = T;
  static constexpr bool is_pushed = true;

  [[nodiscard]] auto context() const { return stream_context<T>{}; }

  template <class Chain>
  void push(Chain& chain, const T& record) {
    chain.on_event(record);
    ++pushed_;
  }
  /// A watermark from user code. Going backwards is a usage error; repeating
  /// the current watermark is not passed on.
  template <class Chain>
  void watermark(Chain& chain, timestamp w) {
    if (w < watermark_) {
      throw usage_error("push source: watermark went backwards: " + std::to_string(w.nanos()) + "ns after " +
                        std::to_string(watermark_.nanos()) + "ns");
    }
    if (w == watermark_) return;
    watermark_ = w;
    chain.on_watermark(w);
  }

  /// Records pushed so far.
  [[nodiscard]] std::uint64_t position() const noexcept { return pushed_; }

  void save_state(state_writer& w) const { w(pushed_, watermark_); }
  void load_state(state_reader& r) { r(pushed_, watermark_); }

 private:
  std::uint64_t pushed_ = 0;
  timestamp watermark_ = timestamp::min();
};

/// A source of T records pushed by user code.
template <class T>
auto push() {
  return push_source<T>{};
}

}  // namespace laminar
