// A pipeline: a source bound to its fused chain, ready to run in one thread.
// It is what `source | operators | sink` returns.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "laminar/core/checkpoint.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/time.hpp"

namespace laminar {

template <class Source, class Chain>
class pipeline {
 public:
  using value_type = typename Source::value_type;

  pipeline(Source source, Chain chain) : source_(std::move(source)), chain_(std::move(chain)) {}

  // ---- pull sources ----

  /// Runs the source to its end and finishes the stream.
  void run()
    requires requires(Source& s, Chain& c) { s.run_for(c, std::size_t{}); }
  {
    expect_open("run");
    while (!source_.exhausted()) {
      if constexpr (requires(const Source& s) { s.has_input(); }) {
        // A source with nothing to read yet (a followed file at its end):
        // this is the caller's thread, so it may wait.
        if (!source_.has_input()) {
          std::this_thread::sleep_for(std::chrono::microseconds(100));
          continue;
        }
      }
      source_.run_for(chain_, std::numeric_limits<std::size_t>::max());
    }
    finish();
  }

  /// Emits up to `max_records` records; returns how many it emitted.
  std::size_t run_for(std::size_t max_records)
    requires requires(Source& s, Chain& c) { s.run_for(c, std::size_t{}); }
  {
    expect_open("run_for");
    return source_.run_for(chain_, max_records);
  }

  [[nodiscard]] bool exhausted() const
    requires requires(const Source& s) { s.exhausted(); }
  {
    return source_.exhausted();
  }

  // ---- push sources ----

  void push(const value_type& record)
    requires requires(Source& s, Chain& c, const value_type& r) { s.push(c, r); }
  {
    expect_open("push");
    source_.push(chain_, record);
  }

  void push_watermark(timestamp w)
    requires requires(Source& s, Chain& c) { s.watermark(c, w); }
  {
    expect_open("push_watermark");
    source_.watermark(chain_, w);
  }

  // ---- every source ----

  /// Ends the stream: the watermark goes to the end of time, then every
  /// stage flushes. Nothing may be pushed afterwards.
  void finish() {
    expect_open("finish");
    finished_ = true;
    source_.finish(chain_);
  }
  [[nodiscard]] bool finished() const noexcept { return finished_; }

  /// Processing-time tick: the source's idle timeout (see watermark.hpp),
  /// then the stages' processing-time triggers (periodic window emission).
  /// Call it from the thread that drives the pipeline, as often as those
  /// triggers need (a timer, or between run_for batches).
  void tick(timestamp now = timestamp::now()) {
    if (finished_) return;
    if constexpr (requires(Source& s, Chain& c) { s.poll_idle(c, now); }) source_.poll_idle(chain_, now);
    chain_.on_processing_time(now);
  }

  /// Processing-time tick for idle-source timeouts (see watermark.hpp).
  void poll_idle(timestamp now = timestamp::now())
    requires requires(Source& s, Chain& c) { s.poll_idle(c, now); }
  {
    if (!finished_) source_.poll_idle(chain_, now);
  }

  /// Sends a checkpoint barrier through the pipeline; every stateful stage
  /// saves its state into the returned snapshot, in chain order.
  ///
  /// `incremental_on`: an incremental checkpoint (checkpoint_coordinator,
  /// checkpoint_options::deltas): stages that kept track of their changes
  /// since checkpoint `*incremental_on`'s capture write only them (0: whole,
  /// and keep track from now on).
  snapshot checkpoint(std::uint64_t checkpoint_id, std::optional<std::uint64_t> incremental_on = std::nullopt) {
    expect_open("checkpoint");
    snapshot s(checkpoint_id);
    if (incremental_on) s.take_incremental(*incremental_on);
    source_.on_barrier(chain_, checkpoint_barrier(checkpoint_id, s, checkpoint_barrier::kind::snapshot));
    return s;
  }

  /// Replays a snapshot into this pipeline (normally a fresh one built the
  /// same way): every stateful stage loads its record, so the pipeline
  /// continues exactly where the saved one was.
  void restore(snapshot s) {
    expect_open("restore");
    s.rewind();
    source_.on_barrier(chain_, checkpoint_barrier(s.checkpoint_id(), s, checkpoint_barrier::kind::restore));
    s.expect_fully_restored();
  }

  /// Tells every stage that checkpoint `checkpoint_id` is complete (it is
  /// durable wherever the caller keeps it): exactly-once sinks commit what
  /// they staged for it. Call it from the thread that drives the pipeline.
  void checkpoint_complete(std::uint64_t checkpoint_id) {
    detail::source_checkpoint_complete(source_, checkpoint_id);
    chain_.on_checkpoint_complete(checkpoint_id);
  }
  /// Tells every stage that checkpoint `checkpoint_id` failed: what was
  /// staged for it is discarded.
  void checkpoint_abort(std::uint64_t checkpoint_id) {
    detail::source_checkpoint_abort(source_, checkpoint_id);
    chain_.on_checkpoint_abort(checkpoint_id);
  }

  [[nodiscard]] Source& source() noexcept { return source_; }
  [[nodiscard]] Chain& chain() noexcept { return chain_; }

 private:
  // Inline: the per-record pushes pay one test of a flag, not a call.
  [[gnu::always_inline]] void expect_open(const char* what) const {
    if (finished_) [[unlikely]] ended(what);
  }
  [[noreturn, gnu::cold, gnu::noinline]] static void ended(const char* what) {
    throw usage_error(std::string("pipeline: ") + what + "() after finish(): the stream has ended");
  }

  Source source_;
  Chain chain_;
  bool finished_ = false;
};

}  // namespace laminar
