#include <doctest/doctest.h>

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
  CHECK(test::watermarks_of(trace) == std::vector<timestamp>{timestamp::from_nanos(1000), timestamp::from_nanos(2000)});
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
