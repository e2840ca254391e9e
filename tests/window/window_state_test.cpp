// Windows: checkpoints at random points, state back to empty, adversarial
// timestamps, retractions and cascading views, no allocation per event in
// steady state, global windows.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include <laminar/laminar.hpp>

#include "support/counting_allocator.hpp"
#include "support/differential.hpp"
#include "support/event_stream.hpp"
#include "window/window_reference.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using laminar::test::event;
using laminar::test::ref_row;

namespace {

constexpr std::int64_t i64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t i64_min = std::numeric_limits<std::int64_t>::min();

auto all_six() {
  return aggregates(sum(&event::value), count(), laminar::min(&event::value), laminar::max(&event::value),
                    first(&event::value), last(&event::value));
}

std::vector<event> stream(std::uint64_t seed, std::size_t n, std::uint32_t keys = 50) {
  test::stream_options o;
  o.seed = seed;
  o.records = n;
  o.keys = keys;
  o.start_ns = 1'000'000'000;
  o.max_disorder_ns = 20'000'000;
  o.late_fraction = 0.05;
  return test::make_stream(o);
}

// Builds the pipeline under test around `rows` and `late`.
template <class Window>
auto build(Window window, std::vector<ref_row>& rows, side_records<event>& late) {
  return push<event>() | event_time(&event::ts) | key_by(&event::key) | std::move(window).late_to(late) | collect(rows);
}

// Pushes events [from, to) with a watermark of (highest ts - 30ms) every 7th.
template <class P>
void feed(P& p, const std::vector<event>& in, std::size_t from, std::size_t to, std::int64_t& front, std::int64_t& wm) {
  for (std::size_t i = from; i < to; ++i) {
    p.push(in[i]);
    front = std::max(front, in[i].ts);
    if (i % 7 == 6 && front - 30'000'000 > wm) {
      wm = front - 30'000'000;
      p.push_watermark(timestamp::from_nanos(wm));
    }
  }
}

template <class MakeWindow>
void check_restore(MakeWindow make_window, std::uint64_t seed) {
  const auto in = stream(seed, 1500);
  std::vector<ref_row> whole;
  side_records<event> whole_late;
  std::uint64_t whole_late_count = 0;
  {
    auto p = build(make_window(), whole, whole_late);
    std::int64_t front = i64_min, wm = i64_min;
    feed(p, in, 0, in.size(), front, wm);
    p.finish();
    whole_late_count = p.chain().late_count();
  }
  // The stream has late records (so that the count below compares something).
  CHECK(whole_late_count > 0);
  CHECK(whole_late_count == whole_late.count());
  std::mt19937_64 rng(seed);
  for (int trial = 0; trial < 4; ++trial) {
    const std::size_t cut = rng() % in.size();
    CAPTURE(cut);
    std::string bytes;
    std::vector<ref_row> first_part;
    side_records<event> first_late;
    std::int64_t front = i64_min, wm = i64_min;
    {
      auto p = build(make_window(), first_part, first_late);
      feed(p, in, 0, cut, front, wm);
      bytes = p.checkpoint(42).to_bytes();
    }
    std::vector<ref_row> rows = first_part;  // collect's checkpoint holds only its length
    side_records<event> late;
    auto p = build(make_window(), rows, late);
    p.restore(snapshot::from_bytes(bytes));
    feed(p, in, cut, in.size(), front, wm);
    p.finish();
    // side_records were restored with their contents, collect's vector
    // with its length.
    test::same_nonempty_outputs(rows, whole, "rows after restore");
    test::same_outputs(late.records(), whole_late.records(), "late records after restore");
    CHECK(late.count() == whole_late.count());
    // The window's own count came back with its state: the records late
    // before the cut, and those after it.
    CHECK(p.chain().late_count() == whole_late_count);
  }
}

}  // namespace

TEST_CASE("windows: a checkpoint at a random point restores into a fresh pipeline that continues exactly") {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    for (emit_mode mode : {emit_mode::final, emit_mode::on_close, emit_mode::eager}) {
      CAPTURE(seed);
      CAPTURE(static_cast<int>(mode));
      check_restore([&] { return tumbling(50ms).aggregate(all_six()).emit(mode).allowed_lateness(10ms); }, seed);
      check_restore([&] { return hopping(60ms, 20ms).aggregate(all_six()).emit(mode).allowed_lateness(10ms); }, seed);
      check_restore([&] { return cumulate(25ms, 100ms).aggregate(all_six()).emit(mode); }, seed);
      check_restore([&] { return tumbling(50ms).aggregate(all_six()).emit(mode).dense_keys(); }, seed);
      check_restore([&] { return tumbling(50ms).aggregate(all_six()).emit(mode).keyed_watermarks(5ms); }, seed);
      check_restore(
          [&] { return hopping(60ms, 20ms).aggregate(all_six()).emit(mode).allowed_lateness(10ms).keyed_watermarks(0ms); },
          seed);
      check_restore([&] { return cumulate(25ms, 100ms).aggregate(all_six()).emit(mode).keyed_watermarks(8ms); }, seed);
    }
    CAPTURE(seed);
    check_restore([&] { return hopping(60ms, 20ms).aggregate(all_six()).emit_every(15ms).allowed_lateness(10ms); },
                  seed);
    check_restore([&] { return tumbling(50ms).aggregate(all_six()).emit_every(7ms).dense_keys(); }, seed);
  }
}

TEST_CASE("windows: state returns to empty once the watermark passes everything (no leak)") {
  const auto in = stream(9, 3000, 300);
  std::vector<ref_row> rows;
  side_records<event> late;
  auto p = build(hopping(60ms, 20ms).aggregate(all_six()).allowed_lateness(5ms), rows, late);
  std::int64_t front = i64_min, wm = i64_min;
  feed(p, in, 0, in.size(), front, wm);
  CHECK(p.chain().open_slices() > 0);
  CHECK(p.chain().open_slices() < 20);  // bounded by the watermark: only the windows still open
  p.finish();
  CHECK(p.chain().open_slices() == 0);
  CHECK(p.chain().open_groups() == 0);
  CHECK(p.chain().late_count() == late.count());
  CHECK(!rows.empty());
}

TEST_CASE("windows: adversarial timestamps (INT64_MIN, INT64_MAX, far future) follow the stated policy") {
  std::vector<window_row<std::uint32_t, std::int64_t>> rows;
  side_records<event> late;
  auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) |
           tumbling(1s).aggregate(count()).late_to(late) | collect(rows);
  p.push(event{1, i64_max, 1, 0});
  p.push(event{1, i64_min, 1, 1});
  p.push(event{1, i64_max - 1, 1, 2});
  p.push(event{2, 5'000'000'000, 1, 3});
  p.push_watermark(timestamp::from_nanos(10'000'000'000));
  // The window at INT64_MIN closed with the watermark at 10s: it was emitted
  // then (it had its record before), and a record for it now is late.
  p.push(event{1, i64_min + 5, 1, 4});
  p.finish();
  REQUIRE(late.count() == 1);
  CHECK(late.records()[0].seq == 4);
  // Rows: INT64_MIN's clamped window, the 5s window, then the window at the
  // end of time (end saturated at INT64_MAX) with both records at the top.
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].start == timestamp::min());
  CHECK(rows[0].value == 1);
  CHECK(rows[1].start == timestamp::from_nanos(5'000'000'000));
  CHECK(rows[2].end == timestamp::max());
  CHECK(rows[2].value == 2);
  CHECK(p.chain().open_slices() == 0);
}

TEST_CASE("windows: hopping and cumulate windows near the ends of time do not overflow") {
  std::vector<window_row<std::uint32_t, std::int64_t>> rows;
  auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) | hopping(10s, 3s).aggregate(count()) |
           collect(rows);
  p.push(event{1, i64_max, 1, 0});
  p.push(event{1, i64_min, 1, 1});
  p.finish();
  CHECK(!rows.empty());
  for (const auto& r : rows) CHECK(r.start <= r.end);
  std::vector<window_row<std::uint32_t, std::int64_t>> crows;
  auto c = push<event>() | event_time(&event::ts) | key_by(&event::key) | cumulate(1s, 4s).aggregate(count()) |
           collect(crows);
  c.push(event{1, i64_max, 1, 0});
  c.push(event{1, i64_min, 1, 1});
  c.finish();
  CHECK(!crows.empty());
}

TEST_CASE("windows: no heap allocation per event in steady state (keyed tumbling sum and OHLC)") {
  const auto in = stream(3, 200'000, 1000);
  std::uint64_t rows = 0;
  auto run = [&](auto window) {
    auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) | std::move(window) |
             sink([&](const auto&) { ++rows; });
    std::int64_t front = i64_min, wm = i64_min;
    feed(p, in, 0, 50'000, front, wm);  // warm-up: tables reach their size
    test::allocation_counter allocs;
    feed(p, in, 50'000, in.size(), front, wm);
    const auto n = allocs.count();
    p.finish();
    return n;
  };
  const auto sum_allocs = run(tumbling(20ms).aggregate(sum(&event::value)));
  const auto ohlc_allocs = run(tumbling(20ms).aggregate(ohlc(&event::value)));
  const auto dense_allocs = run(tumbling(20ms).aggregate(sum(&event::value)).dense_keys());
  CHECK(rows > 0);
  // 150k events; a table that grows past its warm-up size may allocate a few times.
  CHECK(sum_allocs <= 8);
  CHECK(ohlc_allocs <= 8);
  CHECK(dense_allocs <= 8);
}

TEST_CASE("windows: a global (unkeyed) window aggregates every record into one row per window") {
  std::vector<event> in{{1, 100, 5, 0}, {2, 200, 7, 1}, {3, 1'100, 1, 2}, {4, 50, 2, 3}};
  std::vector<window_row<global_key, std::int64_t>> rows;
  auto p = from(in) | with_watermarks(&event::ts, bounded_out_of_orderness(duration::from_nanos(2000))) |
           tumbling(duration::from_nanos(1000)).aggregate(sum(&event::value)) | collect(rows);
  p.run();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].value == 14);
  CHECK(rows[1].value == 1);
}

// Per-symbol 1-second sums in update mode (a changelog of -U/+U rows) feed
// per-sector 3-second totals and maxima, which must equal a batch
// computation over the same input.
TEST_CASE("windows: a cascaded view over a changelog equals the batch computation") {
  const auto in = stream(5, 4000, 40);
  using sym_row = window_row<std::uint32_t, std::int64_t>;
  struct sector_totals {
    std::int64_t total;
    std::int64_t max_symbol_second;
    std::int64_t rows;
  };
  std::vector<window_row<std::uint32_t, std::tuple<std::int64_t, std::int64_t, std::int64_t>>> out;
  auto sector_of = [](const sym_row& r) { return r.key % 4; };
  auto value = [](const sym_row& r) { return r.value; };
  auto p = from(in) |
           with_watermarks(&event::ts, bounded_out_of_orderness(500ms).with_max_future_skew(duration::max())) |
           key_by(&event::key) | tumbling(1s).aggregate(sum(&event::value)).emit(emit_mode::eager) |
           key_by(sector_of) | tumbling(3s).aggregate(aggregates(sum(value), laminar::max(value), count())) |
           collect(out);
  p.run();
  // Batch: every record (none is late: the bound exceeds the disorder).
  std::map<std::pair<std::uint32_t, std::int64_t>, std::int64_t> per_symbol_second;  // (symbol, second) -> sum
  for (const event& e : in) per_symbol_second[{e.key, e.ts / 1'000'000'000}] += e.value;
  std::map<std::pair<std::uint32_t, std::int64_t>, std::tuple<std::int64_t, std::int64_t, std::int64_t>> expect;
  for (const auto& [k, s] : per_symbol_second) {
    auto& [total, mx, n] = expect[{k.first % 4, k.second / 3}];
    if (n == 0) mx = s;
    total += s;
    mx = std::max(mx, s);
    ++n;
  }
  std::map<std::pair<std::uint32_t, std::int64_t>, std::tuple<std::int64_t, std::int64_t, std::int64_t>> got;
  for (const auto& r : out) {
    CHECK(r.kind == change_kind::insert);
    got[{r.key, r.start.nanos() / 3'000'000'000}] = r.value;
  }
  CHECK(got.size() == expect.size());
  CHECK(got == expect);
}

namespace {

// The same changes as three changelog row types: change<T>, a record whose
// changelog_traits names its kind, one whose traits name its weight.
struct reading {
  std::uint32_t key;
  std::int64_t ts;
  std::int64_t value;
};
struct kind_row {
  std::uint32_t key;
  std::int64_t ts;
  std::int64_t value;
  change_kind op;
};
struct weight_row {
  std::uint32_t key;
  std::int64_t ts;
  std::int64_t value;
  int multiplicity;
};
// A record whose members are called kind and weight, and that does not opt in.
struct lookalike {
  std::uint32_t key;
  std::int64_t ts;
  std::int64_t value;
  change_kind kind;
  std::int64_t weight;
};

}  // namespace

template <>
struct laminar::changelog_traits<kind_row> {
  static constexpr auto kind = &kind_row::op;
};
template <>
struct laminar::changelog_traits<weight_row> {
  static constexpr auto weight = [](const weight_row& r) { return r.multiplicity; };
};

namespace {

static_assert(changelog_row<change<reading>>);
static_assert(changelog_row<kind_row>);
static_assert(changelog_row<weight_row>);
static_assert(changelog_row<window_row<std::uint32_t, std::int64_t>>);
static_assert(!changelog_row<reading>);
static_assert(!changelog_row<lookalike>);
static_assert(weight_of(lookalike{1, 1, 1, change_kind::remove, -1}) == 1);

using five = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t>;

// min, max, first, last and count over a changelog of key 1 in [0, 100),
// eager: every row the window emits.
template <class Row>
std::vector<window_row<std::uint32_t, five>> min_max_first_last(const std::vector<Row>& in) {
  std::vector<window_row<std::uint32_t, five>> rows;
  auto p = from(in) | event_time(&Row::ts) | key_by(&Row::key) |
           tumbling(duration::from_nanos(100))
               .aggregate(aggregates(laminar::min(&Row::value), laminar::max(&Row::value), first(&Row::value),
                                     last(&Row::value), count()))
               .emit(emit_mode::eager) |
           collect(rows);
  p.run();
  return rows;
}

void check_retracted(const std::vector<window_row<std::uint32_t, five>>& rows) {
  REQUIRE(rows.size() == 1 + 2 * 5);
  CHECK(rows.back().kind == change_kind::update_after);
  CHECK(rows.back().value == five{5, 7, 5, 7, 2});
  CHECK(rows[6].value == five{1, 5, 5, 1, 2});  // 9 retracted: the max falls back to 5
  CHECK(rows[8].value == five{5, 5, 5, 5, 1});  // 1 retracted: min and last fall back to 5
}

}  // namespace

TEST_CASE("windows: retractions (+I/-D rows) into a window with min/max/first/last") {
  SUBCASE("change<T>") {
    const std::vector<change<reading>> in{
        {{1, 10, 5}, change_kind::insert}, {{1, 20, 9}, change_kind::insert}, {{1, 30, 1}, change_kind::insert},
        {{1, 20, 9}, change_kind::remove},  // the max goes: 5 is the new max
        {{1, 30, 1}, change_kind::remove},  // the min and the last go
        {{1, 40, 7}, change_kind::insert},
    };
    // change<reading> is read through reading's own members.
    std::vector<window_row<std::uint32_t, five>> rows;
    auto p = from(in) | event_time(&reading::ts) | key_by(&reading::key) |
             tumbling(duration::from_nanos(100))
                 .aggregate(aggregates(laminar::min(&reading::value), laminar::max(&reading::value),
                                       first(&reading::value), last(&reading::value), count()))
                 .emit(emit_mode::eager) |
             collect(rows);
    p.run();
    check_retracted(rows);
  }
  SUBCASE("changelog_traits naming the kind") {
    check_retracted(min_max_first_last(std::vector<kind_row>{
        {1, 10, 5, change_kind::insert}, {1, 20, 9, change_kind::insert}, {1, 30, 1, change_kind::insert},
        {1, 20, 9, change_kind::remove}, {1, 30, 1, change_kind::remove}, {1, 40, 7, change_kind::insert}}));
  }
  SUBCASE("changelog_traits naming the weight") {
    check_retracted(min_max_first_last(std::vector<weight_row>{
        {1, 10, 5, 1}, {1, 20, 9, 1}, {1, 30, 1, 1}, {1, 20, 9, -1}, {1, 30, 1, -1}, {1, 40, 7, 1}}));
  }
}

TEST_CASE("windows: a weight counts the record that many times") {
  const auto rows = min_max_first_last(std::vector<weight_row>{{1, 10, 5, 3}, {1, 20, 9, 2}, {1, 30, 1, 1}, {1, 20, 9, -2}});
  REQUIRE(!rows.empty());
  CHECK(rows.back().value == five{1, 5, 5, 1, 4});  // 5 three times and 1 once; both 9s retracted
}

TEST_CASE("windows: a record with members named kind and weight that does not opt in is insert-only") {
  const auto rows = min_max_first_last(std::vector<lookalike>{
      {1, 10, 5, change_kind::insert, 1}, {1, 20, 9, change_kind::insert, 1}, {1, 30, 1, change_kind::insert, 1},
      {1, 20, 9, change_kind::remove, -1}, {1, 30, 1, change_kind::remove, -1}, {1, 40, 7, change_kind::insert, 1}});
  // Every record counts +1: the "removals" add 9 and 1 again.
  REQUIRE(rows.size() == 1 + 2 * 5);
  CHECK(rows.back().kind == change_kind::update_after);
  CHECK(rows.back().value == five{1, 9, 5, 7, 6});
  CHECK(rows[6].value == five{1, 9, 5, 1, 4});
  CHECK(rows[8].value == five{1, 9, 5, 1, 5});
}
