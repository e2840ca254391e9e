// A polling subscription: publish(sub) ends a chain by handing its records to
// another thread, which reads them with sub.poll(f). Bounded: when the reader
// falls behind, the publishing chain waits (spins, then yields), so memory
// stays bounded and no record is lost.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <string_view>
#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/forwarding_stage.hpp"
#include "laminar/channel/spsc.hpp"
#include "laminar/core/stage.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

template <class T>
class subscription {
 public:
  explicit subscription(std::size_t capacity = 4096) : ring_(capacity) {}

  /// Reader side: calls f(record) for up to max_records queued records and
  /// returns how many it handled (0 when nothing is queued).
  template <class F>
  std::size_t poll(F&& f, std::size_t max_records = SIZE_MAX) {
    return ring_.consume([&](T& record) { f(record); }, max_records);
  }

  /// True once the publishing chain ended and every record has been polled.
  [[nodiscard]] bool finished() const noexcept { return ended_.load(std::memory_order_acquire) && ring_.size() == 0; }
  /// The latest watermark the publishing chain passed on.
  [[nodiscard]] timestamp watermark() const noexcept {
    return timestamp::from_nanos(watermark_.load(std::memory_order_acquire));
  }
  /// Records published so far.
  [[nodiscard]] std::uint64_t published() const noexcept { return published_.load(std::memory_order_relaxed); }

  // Publisher side (used by the publish sink).
  void push(T record) {
    ring_.push(std::move(record), wait_policy::spin_then_yield);
    published_.store(published_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void set_watermark(timestamp w) noexcept { watermark_.store(w.nanos(), std::memory_order_release); }
  void end() noexcept { ended_.store(true, std::memory_order_release); }
  void restore_published(std::uint64_t n) noexcept { published_.store(n, std::memory_order_relaxed); }

 private:
  spsc_channel<T> ring_;
  std::atomic<std::int64_t> watermark_{timestamp::min().nanos()};
  std::atomic<std::uint64_t> published_{0};
  std::atomic<bool> ended_{false};
};

template <class In, class T>
class publish_sink : public consuming_stage {
 public:
  static constexpr std::string_view state_name = "publish";
  explicit publish_sink(subscription<T>& sub) noexcept : sub_(&sub) {}
  void on_event(const In& event) { sub_->push(T(event)); }
  void on_watermark(timestamp watermark) noexcept { sub_->set_watermark(watermark); }
  void on_barrier(const checkpoint_barrier& barrier) { barrier.checkpoint(*this); }
  void on_end() noexcept { sub_->end(); }


  // What was published is the reader's already; the count is the position.
  void save_state(state_writer& w) const { w(sub_->published()); }
  void load_state(state_reader& r) {
    std::uint64_t n = 0;
    r(n);
    sub_->restore_published(n);
  }

 private:
  subscription<T>* sub_;
};

template <class T>
struct publish_sink_factory {
  using is_sink = void;
  subscription<T>* sub;
  template <class Ctx>
  auto bind(const Ctx&) && {
    static_assert(std::convertible_to<const typename Ctx::value_type&, T>,
                  "laminar::publish: the stream's record type does not convert to the subscription's type");
    return publish_sink<typename Ctx::value_type, T>(*sub);
  }
};

/// Ends a chain by publishing its records to a subscription another thread polls.
template <class T>
auto publish(subscription<T>& sub) {
  return publish_sink_factory<T>{&sub};
}

}  // namespace laminar
