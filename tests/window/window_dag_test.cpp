// Windows inside a DAG: exchange by key to 1, 2 and 4 parallel instances,
// with edges batching 1, 7, 64 and 256 records, gives the single-thread
// chain's rows.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include <laminar/laminar.hpp>

#include "support/event_stream.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using laminar::test::event;

namespace {

using row = window_row<std::uint32_t, std::tuple<std::int64_t, std::int64_t, ohlc_bar<std::int64_t>>>;

auto window() {
  return hopping(60ms, 20ms)
      .aggregate(aggregates(sum(&event::value), count(), ohlc(&event::value)))
      .allowed_lateness(10ms);
}

std::vector<row> sorted(std::vector<row> rows) {
  // Stable: a key's corrections keep their order.
  std::stable_sort(rows.begin(), rows.end(), [](const row& a, const row& b) { return std::tie(a.end, a.key) < std::tie(b.end, b.key); });
  return rows;
}

}  // namespace

TEST_CASE("windows in a DAG: 1, 2 and 4 exchange instances give the single-thread rows") {
  for (std::uint64_t seed = 1; seed <= 2; ++seed) {
    test::stream_options o;
    o.seed = seed;
    o.records = 20'000;
    o.keys = 300;
    const auto in = test::make_stream(o);
    auto strategy = bounded_out_of_orderness(20ms);
    std::vector<row> expected;
    {
      auto p = from(in) | with_watermarks(&event::ts, strategy) | key_by(&event::key) | window() | collect(expected);
      p.run();
    }
    REQUIRE(!expected.empty());
    // Each edge batches 64 records by default; 1, 7 and 256 too (a batch
    // lets a watermark move past records that are not late for it).
    for (std::size_t n : {1UL, 2UL, 4UL}) {
      for (std::size_t batch : {1UL, 7UL, 64UL, 256UL}) {
        if (batch != 64 && n == 1) continue;
        CAPTURE(seed);
        CAPTURE(n);
        CAPTURE(batch);
        std::vector<row> out;
        graph g(runtime_options{.workers = 2});
        edge_options edge;
        edge.batch = batch;
        auto src = g.source("events", from(in) | with_watermarks(&event::ts, strategy) | key_by(&event::key));
        auto bars = g.parallel("bars", src, n, window(), edge);
        g.merge("collect", collect(out), bars);
        g.run();
        CHECK(sorted(out) == sorted(expected));
      }
    }
  }
}

TEST_CASE("windows with keyed watermarks in a DAG: 1, 2 and 4 exchange instances give the single-thread rows") {
  // Keys lag one another by up to 80 ms; the stream watermark stays a
  // second behind, so every key fires and judges lateness by its own
  // watermark, which depends on its own records only: the same in any graph.
  using sum_row = window_row<std::uint32_t, std::tuple<std::int64_t, std::int64_t>>;
  const auto keyed_window = [] {
    return tumbling(50ms)
        .aggregate(aggregates(sum(&event::value), count()))
        .allowed_lateness(20ms)
        .emit(emit_mode::on_close)
        .keyed_watermarks(15ms);
  };
  const auto by_key = [](std::vector<sum_row> rows) {
    std::stable_sort(rows.begin(), rows.end(), [](const sum_row& a, const sum_row& b) { return a.key < b.key; });
    return rows;
  };
  test::stream_options o;
  o.seed = 5;
  o.records = 20'000;
  o.keys = 20;
  o.max_disorder_ns = 10'000'000;
  o.late_fraction = 0.03;
  auto in = test::make_stream(o);
  for (event& e : in) e.ts -= static_cast<std::int64_t>(e.key % 3) * 40'000'000;
  const auto strategy = bounded_out_of_orderness(1s);
  std::vector<sum_row> expected;
  {
    auto p = from(in) | with_watermarks(&event::ts, strategy) | key_by(&event::key) | keyed_window() | collect(expected);
    p.run();
    REQUIRE(p.chain().late_count() > 0);  // the keys' own watermarks made some records late
  }
  REQUIRE(!expected.empty());
  for (std::size_t n : {1UL, 2UL, 4UL}) {
    CAPTURE(n);
    std::vector<sum_row> out;
    graph g(runtime_options{.workers = 2});
    auto src = g.source("events", from(in) | with_watermarks(&event::ts, strategy) | key_by(&event::key));
    auto bars = g.parallel("bars", src, n, keyed_window());
    g.merge("collect", collect(out), bars);
    g.run();
    CHECK(by_key(out) == by_key(expected));
  }
}
