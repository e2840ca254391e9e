#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <laminar/laminar.hpp>
#include <optional>
#include <vector>

#include "support/event_stream.hpp"
#include "support/recording_sink.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using test::event;
using msg = test::message<event>;

TEST_CASE("watermarks from with_watermarks never go backwards, records are never dropped") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    test::stream_options o;
    o.seed = seed;
    o.records = 5000;
    o.absurd_fraction = 0.002;
    const auto stream = test::make_stream(o);
    std::vector<msg> trace;
    auto p = from(stream) | with_watermarks(&event::ts, bounded_out_of_orderness(10ms)) | test::record(trace);
    p.run();
    const auto wms = test::watermarks_of(trace);
    for (std::size_t i = 1; i < wms.size(); ++i) CHECK(wms[i] > wms[i - 1]);
    CHECK(test::events_of(trace) == stream);
  }
}

TEST_CASE("an absurd timestamp does not fast-forward the stream's watermark") {
  std::vector<event> in{{1, 1000, 0, 0}, {1, std::numeric_limits<std::int64_t>::max(), 0, 1}, {1, 2000, 0, 2}};
  std::vector<msg> trace;
  auto p = from(in) | with_watermarks(&event::ts, monotonous_timestamps().with_max_future_skew(1s)) |
           test::record(trace);
  p.run_for(3);
  // The first record is held until the next one near it (the third) confirms it.
  CHECK(test::watermarks_of(trace) == std::vector<timestamp>{timestamp::from_nanos(2000)});
  CHECK(test::events_of(trace).size() == 3);  // the absurd record still flows downstream
  CHECK(p.source().watermarks().suspects() == 1);  // the absurd one; the held first record does not count
}

TEST_CASE("poll_idle advances a quiet push source's watermark with processing time") {
  std::vector<msg> trace;
  auto p = push<event>() |
           with_watermarks(&event::ts, bounded_out_of_orderness(100ns).with_idle_timeout(1000ns).with_max_future_skew(
                                           duration::max())) |
           test::record(trace);
  p.push(event{1, 5000, 0, 0});
  p.poll_idle(timestamp::from_nanos(10'000));
  p.poll_idle(timestamp::from_nanos(11'500));
  CHECK(test::watermarks_of(trace) ==
        std::vector<timestamp>{timestamp::from_nanos(4900), timestamp::from_nanos(11'400)});
}

TEST_CASE("explicit watermarks on a watermarked push source merge with generated ones") {
  std::vector<msg> trace;
  auto p = push<event>() | with_watermarks(&event::ts, monotonous_timestamps().with_max_future_skew(duration::max())) |
           test::record(trace);
  p.push(event{1, 100, 0, 0});
  p.push_watermark(timestamp::from_nanos(50));   // behind the generated one: not passed on
  p.push_watermark(timestamp::from_nanos(150));  // ahead: passed on
  p.push(event{1, 120, 0, 1});                   // late now; still delivered
  CHECK(test::watermarks_of(trace) == std::vector<timestamp>{timestamp::from_nanos(100), timestamp::from_nanos(150)});
  CHECK(test::events_of(trace).size() == 2);
}

TEST_CASE("punctuated watermarks through a pipeline") {
  struct mark {
    std::int64_t ts;
    bool heartbeat;
  };
  std::vector<mark> in{{10, false}, {20, true}, {15, false}, {40, true}};
  std::vector<timestamp> wms;
  auto p = from(in) | with_watermarks(&mark::ts, punctuated([](const mark& m) -> std::optional<std::int64_t> {
                                        if (m.heartbeat) return m.ts;
                                        return std::nullopt;
                                      })) |
           sink([](const mark&) {}, [&](timestamp w) { wms.push_back(w); });
  p.run();
  // The first punctuation (20) waits for the second (40) to confirm it.
  CHECK(wms == std::vector<timestamp>{timestamp::from_nanos(40), timestamp::max()});
}

TEST_CASE("a watermarked pipeline restored mid-stream emits the same trace as the uninterrupted one") {
  test::stream_options o;
  o.records = 3000;
  o.absurd_fraction = 0.003;
  const auto stream = test::make_stream(o);
  auto build = [&](std::vector<msg>& trace) {
    return from(stream) | with_watermarks(&event::ts, bounded_out_of_orderness(3ms).with_max_future_skew(10s)) |
           filter([](const event& e) { return e.value > -500; }) | test::record(trace);
  };
  std::vector<msg> expected;
  auto whole = build(expected);
  whole.run();
  for (std::size_t cut : {1UL, 777UL, 2999UL}) {
    std::vector<msg> first_trace, trace;
    auto first = build(first_trace);
    first.run_for(cut);
    const snapshot s = snapshot::from_bytes(first.checkpoint(1).to_bytes());
    auto second = build(trace);
    second.restore(s);
    second.run();
    std::vector<msg> tail(expected.begin() + static_cast<std::ptrdiff_t>(first_trace.size() - 1), expected.end());
    CHECK(std::vector<msg>(trace.begin() + 1, trace.end()) == tail);
  }
}

namespace {
// A sink that takes repeated watermarks (absorbs_repeated_watermarks) and
// records each one it is given.
struct absorbing_recorder {
  static constexpr bool absorbs_repeated_watermarks = true;
  std::vector<timestamp>* watermarks;
  std::size_t* events;
  void on_event(const event&) { ++*events; }
  void on_watermark(timestamp w) { watermarks->push_back(w); }
  void on_barrier(const checkpoint_barrier&) {}
  void on_end() {}
  void on_processing_time(timestamp) {}
  void on_checkpoint_complete(std::uint64_t) {}
  void on_checkpoint_abort(std::uint64_t) {}
};
struct absorbing_record {
  using is_sink = void;
  std::vector<timestamp>* watermarks;
  std::size_t* events;
  template <class Ctx>
  auto bind(const Ctx&) && {
    return absorbing_recorder{watermarks, events};
  }
};
static_assert(absorbs_repeated_watermarks<absorbing_recorder>);
static_assert(!absorbs_repeated_watermarks<test::recording_sink<event>>);
}  // namespace

TEST_CASE("a chain that absorbs repeated watermarks is given one after every record, others only advances") {
  test::stream_options o;
  o.records = 3000;
  o.absurd_fraction = 0.002;
  const auto stream = test::make_stream(o);
  const auto strategy = bounded_out_of_orderness(2ms).with_max_future_skew(10s);

  std::vector<msg> trace;
  (from(stream) | with_watermarks(&event::ts, strategy) | test::record(trace)).run();
  const auto advances = test::watermarks_of(trace);

  std::vector<timestamp> every;
  std::size_t events = 0;
  (from(stream) | with_watermarks(&event::ts, strategy) | absorbing_record{&every, &events}).run();
  REQUIRE(events == stream.size());
  REQUIRE(every.size() == stream.size() + 1);  // one per record, then the end of time
  CHECK(every.back() == timestamp::max());
  std::vector<timestamp> distinct;
  for (const timestamp w : every) {
    if (distinct.empty() || w > distinct.back()) distinct.push_back(w);
    CHECK(w >= distinct.back());  // never backwards
  }
  if (!distinct.empty() && distinct.front() == timestamp::min()) distinct.erase(distinct.begin());
  CHECK(distinct == advances);
}

TEST_CASE("a window's rows do not depend on whether its input watermarks repeat") {
  // The same stream through a window that is handed a watermark after every
  // record (with_watermarks straight into it), one that gets only advancing
  // watermarks (a filter that passes everything stands between), and a
  // window whose own downstream takes watermarks: the same trace of rows and
  // output watermarks, the same late records.
  using row = window_row<std::uint32_t, std::int64_t>;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    test::stream_options o;
    o.seed = seed;
    o.records = 4000;
    o.keys = 20;
    o.late_fraction = 0.05;
    o.absurd_fraction = seed % 2 ? 0.002 : 0.0;
    const auto stream = test::make_stream(o);
    const auto strategy = bounded_out_of_orderness(20ms).with_max_future_skew(seed % 2 ? duration::max() : 10s);
    const auto pass = filter([](const event&) { return true; });
    const auto check_shape = [&](const auto& window, const char* name) {
      CAPTURE(seed);
      CAPTURE(name);
      side_records<event> late_every, late_advancing, late_traced;
      std::vector<row> every;
      auto p_every = from(stream) | with_watermarks(&event::ts, strategy) | key_by(&event::key) |
                     window.late_to(late_every) | collect(every);
      p_every.run();
      std::vector<test::message<row>> advancing;
      (from(stream) | with_watermarks(&event::ts, strategy) | pass | key_by(&event::key) |
       window.late_to(late_advancing) | test::record(advancing))
          .run();
      std::vector<test::message<row>> traced;
      auto p_traced = from(stream) | with_watermarks(&event::ts, strategy) | key_by(&event::key) |
                      window.late_to(late_traced) | test::record(traced);
      p_traced.run();
      CHECK(traced == advancing);
      CHECK(every == test::events_of(traced));
      CHECK(late_every.records() == late_advancing.records());
      CHECK(late_traced.records() == late_advancing.records());
      CHECK(p_every.chain().late_count() == late_every.records().size());
      CHECK(!every.empty());
    };
    const auto sum = laminar::sum(&event::value);
    for (const emit_mode mode : {emit_mode::final, emit_mode::on_close, emit_mode::eager}) {
      CAPTURE(static_cast<int>(mode));
      check_shape(tumbling(100ms).aggregate(sum).emit(mode).allowed_lateness(50ms), "tumbling");
      check_shape(tumbling(100ms).aggregate(sum).emit(mode).dense_keys(), "tumbling, dense keys");
      check_shape(hopping(200ms, 50ms).aggregate(sum).emit(mode).allowed_lateness(30ms), "hopping");
      check_shape(cumulate(50ms, 200ms).aggregate(sum).emit(mode), "cumulate");
    }
    check_shape(tumbling(100ms).aggregate(sum).emit_every(30ms).allowed_lateness(50ms), "periodic");
  }
}

namespace {
std::vector<event> ascending_events(std::size_t n) {
  std::vector<event> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(event{1, 1'000'000 + static_cast<std::int64_t>(i) * 1000, 0, i});
  return v;
}
timestamp ts_of(const event& e) { return timestamp::from_nanos(e.ts); }
}  // namespace

TEST_CASE("with_emit_every(n): a watermark after every n-th record, the held one flushed before the end") {
  const auto in = ascending_events(1000);
  std::vector<msg> trace;
  (from(in) | with_watermarks(&event::ts, monotonous_timestamps().with_emit_every(256)) | test::record(trace)).run();
  CHECK(test::watermarks_of(trace) ==
        std::vector<timestamp>{ts_of(in[255]), ts_of(in[511]), ts_of(in[767]), ts_of(in[999]), timestamp::max()});
  // Each follows the record on which the count ran out.
  const auto at = std::find(trace.begin(), trace.end(), msg{ts_of(in[255])});
  REQUIRE(at != trace.begin());
  CHECK(*(at - 1) == msg{in[255]});
  CHECK(test::events_of(trace) == in);
}

TEST_CASE("thinned watermarks: flushed before a checkpoint barrier, at an explicit watermark and at a quiet poll") {
  std::vector<msg> trace;
  auto p =
      push<event>() | with_watermarks(&event::ts, monotonous_timestamps().with_emit_every(1000)) | test::record(trace);
  const auto in = ascending_events(30);
  for (std::size_t i = 0; i < 10; ++i) p.push(in[i]);
  CHECK(test::watermarks_of(trace).empty());
  (void)p.checkpoint(1);
  CHECK(trace.back() == msg{test::barrier_seen{1, false}});
  CHECK(trace[trace.size() - 2] == msg{ts_of(in[9])});  // flushed first: the snapshot's state matches it
  for (std::size_t i = 10; i < 20; ++i) p.push(in[i]);
  p.push_watermark(timestamp::from_nanos(100));  // behind: the held one passes on instead
  CHECK(trace.back() == msg{ts_of(in[19])});
  for (std::size_t i = 20; i < 30; ++i) p.push(in[i]);
  p.poll_idle(timestamp::from_nanos(1'000'000'000));  // records since the last poll: not quiet
  CHECK(trace.back() == msg{in[29]});
  p.poll_idle(timestamp::from_nanos(1'000'000'001));  // quiet
  CHECK(trace.back() == msg{ts_of(in[29])});
  p.finish();
  CHECK(test::watermarks_of(trace) ==
        std::vector<timestamp>{ts_of(in[9]), ts_of(in[19]), ts_of(in[29]), timestamp::max()});
}

TEST_CASE("a thinned pipeline restored from a checkpoint emits the same trace as the one that took it") {
  test::stream_options o;
  o.records = 3000;
  o.absurd_fraction = 0.003;
  const auto stream = test::make_stream(o);
  const auto strategy =
      bounded_out_of_orderness(3ms).with_max_future_skew(10s).with_emit_every(64).with_emit_interval(5ms);
  auto build = [&](std::vector<msg>& trace) {
    return from(stream) | with_watermarks(&event::ts, strategy) | test::record(trace);
  };
  for (std::size_t cut : {1UL, 777UL, 2999UL}) {
    std::vector<msg> first_trace, trace;
    auto first = build(first_trace);
    first.run_for(cut);
    const snapshot s = snapshot::from_bytes(first.checkpoint(1).to_bytes());
    const std::size_t at_barrier = first_trace.size();
    first.run();
    auto second = build(trace);
    second.restore(s);
    second.run();
    CHECK(std::vector<msg>(trace.begin() + 1, trace.end()) ==
          std::vector<msg>(first_trace.begin() + static_cast<std::ptrdiff_t>(at_barrier), first_trace.end()));
  }
}

TEST_CASE("windows give the same rows whether the source passes on every watermark or thins them") {
  using row = window_row<std::uint32_t, std::int64_t>;
  const auto sum = laminar::sum(&event::value);
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    CAPTURE(seed);
    // Disorder within the bound and no stragglers: no record is late with
    // either emission (those at INT64_MIN are late with both).
    test::stream_options o;
    o.seed = seed;
    o.records = 4000;
    o.keys = 20;
    o.late_fraction = 0.0;
    o.duplicate_fraction = 0.0;
    o.absurd_fraction = 0.003;
    const auto stream = test::make_stream(o);
    const auto every = bounded_out_of_orderness(50ms).with_max_future_skew(10s);
    const auto thin = seed % 2 ? every.with_emit_every(97) : every.with_emit_every(300).with_emit_interval(20ms);
    const auto check = [&](const auto& window, const char* name) {
      CAPTURE(name);
      std::vector<row> a, b;
      side_records<event> late_a, late_b;
      (from(stream) | with_watermarks(&event::ts, every) | key_by(&event::key) | window.late_to(late_a) | collect(a))
          .run();
      (from(stream) | with_watermarks(&event::ts, thin) | key_by(&event::key) | window.late_to(late_b) | collect(b))
          .run();
      CHECK(a == b);
      CHECK(late_a.records() == late_b.records());
      CHECK(!a.empty());
    };
    for (const emit_mode mode : {emit_mode::final, emit_mode::on_close, emit_mode::eager}) {
      CAPTURE(static_cast<int>(mode));
      check(tumbling(100ms).aggregate(sum).emit(mode), "tumbling");
      check(hopping(200ms, 50ms).aggregate(sum).emit(mode).allowed_lateness(30ms), "hopping");
      check(cumulate(50ms, 200ms).aggregate(sum).emit(mode), "cumulate");
    }
    // With stragglers the thinned watermark, never ahead, makes no record
    // late that per-record emission keeps, and every record is counted once.
    o.late_fraction = 0.05;
    const auto late_stream = test::make_stream(o);
    std::vector<window_row<std::uint32_t, std::int64_t>> a, b;
    side_records<event> late_a, late_b;
    const auto counting = tumbling(100ms).aggregate(laminar::count()).emit(emit_mode::final);
    (from(late_stream) | with_watermarks(&event::ts, every) | key_by(&event::key) | counting.late_to(late_a) |
     collect(a))
        .run();
    (from(late_stream) | with_watermarks(&event::ts, thin) | key_by(&event::key) | counting.late_to(late_b) |
     collect(b))
        .run();
    std::int64_t counted_a = 0, counted_b = 0;
    for (const auto& r : a) counted_a += r.value;
    for (const auto& r : b) counted_b += r.value;
    CHECK(static_cast<std::size_t>(counted_a) + late_a.records().size() == late_stream.size());
    CHECK(static_cast<std::size_t>(counted_b) + late_b.records().size() == late_stream.size());
    CHECK(late_b.records().size() <= late_a.records().size());
    for (const event& e : late_b.records()) {
      CHECK(std::find(late_a.records().begin(), late_a.records().end(), e) != late_a.records().end());
    }
  }
}
