// Session windows: against a reference model that recomputes sessions from
// scratch (every emit mode x allowed lateness x gap x key count, with and
// without keyed watermarks, on seeded out-of-order streams with late
// records, duplicate timestamps and lagging keys; every row, retraction and
// late record compared); merging by a late bridging record, row by row;
// state back to empty; adversarial timestamps; restore at random points;
// keyed watermarks; no allocation per event in steady state.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <laminar/laminar.hpp>

#include "support/counting_allocator.hpp"
#include "support/differential.hpp"
#include "support/event_stream.hpp"
#include "window/session_reference.hpp"
#include "window/window_reference.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using laminar::test::event;
using laminar::test::ref_row;
using laminar::test::session_case;

namespace {

constexpr std::int64_t i64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t i64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t ms = 1'000'000;

auto all_six() {
  return aggregates(sum(&event::value), count(), laminar::min(&event::value), laminar::max(&event::value),
                    first(&event::value), last(&event::value));
}

// One input message: a record, or a watermark.
struct item {
  bool is_watermark = false;
  event e{};
  std::int64_t watermark = 0;
};

struct stream_shape {
  std::uint32_t keys = 13;
  std::size_t records = 400;
  std::int64_t lag = 0;       // keys divisible by 4 run this far behind the others
  std::int64_t wm_bound = 30 * ms;  // watermark: highest timestamp - up to this
  std::int64_t grid = 0;            // timestamps rounded down to this (windows then touch exactly)
};

// A generated stream with a watermark after every few records, and the end
// of time last. Each key's records come in bursts (a key is quiet most of
// the time), so sessions open, grow, merge and close.
std::vector<item> make_items(std::uint64_t seed, const stream_shape& shape) {
  test::stream_options o;
  o.seed = seed;
  o.records = shape.records;
  o.keys = shape.keys;
  o.start_ns = 1'000'000'000;
  o.mean_step_ns = 1 * ms;
  o.max_disorder_ns = 20 * ms;
  o.late_fraction = 0.05;
  auto events = test::make_stream(o);
  std::mt19937_64 rng(seed * 7 + 1);
  // Bursts: a third of the records follow their key's previous record
  // closely (a key's activity comes in bursts, with quiet gaps between).
  std::vector<std::int64_t> previous(shape.keys, i64_min);
  for (event& e : events) {
    if (previous[e.key] != i64_min && rng() % 3 == 0) e.ts = previous[e.key] + static_cast<std::int64_t>(rng() % (2 * ms));
    previous[e.key] = e.ts;
    if (shape.lag != 0 && e.key % 4 == 0) e.ts -= shape.lag;
    if (shape.grid != 0) e.ts -= e.ts % shape.grid;
  }
  std::vector<item> items;
  std::int64_t front = i64_min, wm = i64_min;
  for (const event& e : events) {
    items.push_back({false, e, 0});
    if (shape.lag == 0 || e.key % 4 != 0) front = std::max(front, e.ts);
    if (rng() % 4 == 0 && front != i64_min) {
      const std::int64_t w = front - static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(shape.wm_bound));
      if (w > wm) {
        wm = w;
        items.push_back({true, {}, w});
      }
    }
  }
  items.push_back({true, {}, i64_max});
  return items;
}

template <class Agg>
auto configure(Agg agg, const session_case& c) {
  auto w = session(duration::from_nanos(c.gap))
               .aggregate(std::move(agg))
               .emit(c.mode)
               .allowed_lateness(duration::from_nanos(c.lateness));
  return c.keyed_watermarks ? w.keyed_watermarks(duration::from_nanos(c.out_of_orderness)) : w;
}

struct run_result {
  std::vector<ref_row> rows;
  std::vector<event> late;
  bool rows_on_time = true;
  std::size_t open_sessions_at_end = 0;
  std::uint64_t late_count = 0;
};

// Runs the operator over the items; rows in canonical batches (one batch
// per input message). `project` maps the operator's result to a ref_result.
template <class Window, class Project>
run_result run_operator(Window window, const std::vector<item>& items, Project project) {
  run_result r;
  std::vector<ref_row> batch;
  std::int64_t out_wm = i64_min;
  side_records<event> late;
  auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) | std::move(window).late_to(late) |
           sink([&](const auto& row) {
             if (row.time().nanos() < out_wm) r.rows_on_time = false;
             batch.push_back(ref_row{row.key, row.start, row.end, project(row.value), row.kind});
           },
                [&](timestamp w) { out_wm = w.nanos(); });
  for (const item& it : items) {
    if (it.is_watermark) {
      p.push_watermark(timestamp::from_nanos(it.watermark));
    } else {
      p.push(it.e);
    }
    test::canonical(batch);
    r.rows.insert(r.rows.end(), batch.begin(), batch.end());
    batch.clear();
  }
  p.finish();
  r.late = late.records();
  r.open_sessions_at_end = p.chain().open_sessions() + p.chain().open_keys();
  r.late_count = p.chain().late_count();
  return r;
}

run_result run_reference(const session_case& c, const std::vector<item>& items) {
  test::session_reference ref(c);
  run_result r;
  for (const item& it : items) {
    auto batch = it.is_watermark ? ref.on_watermark(it.watermark) : ref.on_event(it.e);
    test::canonical(batch);
    r.rows.insert(r.rows.end(), batch.begin(), batch.end());
  }
  r.late = ref.late();
  return r;
}

const auto whole = [](const test::ref_result& v) { return v; };

bool compare_runs(const run_result& got, const run_result& want, const std::string& what) {
  CHECK_MESSAGE(got.rows_on_time, what << ": a row arrived behind the operator's output watermark");
  CHECK_MESSAGE(got.open_sessions_at_end == 0, what << ": state left after the final watermark");
  CHECK_MESSAGE(got.late_count == got.late.size(), what << ": late count and side output disagree");
  if (!test::same_nonempty_outputs(got.rows, want.rows, what + " rows")) return false;
  return test::same_outputs(got.late, want.late, what + " late records");
}

std::string describe(const session_case& c, std::uint64_t seed, const stream_shape& s) {
  std::ostringstream os;
  const char* modes[] = {"final", "on_close", "eager"};
  os << "session(gap " << c.gap << ") " << modes[static_cast<int>(c.mode)] << " lateness " << c.lateness;
  if (c.keyed_watermarks) os << " keyed watermarks (out-of-orderness " << c.out_of_orderness << ")";
  os << " keys " << s.keys << " lag " << s.lag << " seed " << seed;
  return os.str();
}

// Every emit mode x lateness x key count x gap x seed, with and without
// keyed watermarks (whose streams have lagging keys and a conservative
// stream watermark).
template <class F>
void for_each_case(F&& f) {
  const emit_mode modes[] = {emit_mode::final, emit_mode::on_close, emit_mode::eager};
  const std::int64_t latenesses[] = {0, 25 * ms};
  const std::uint32_t key_counts[] = {1, 13, 120};
  for (emit_mode mode : modes) {
    for (std::int64_t lateness : latenesses) {
      for (std::uint32_t keys : key_counts) {
        for (std::int64_t gap_per_key : {1 * ms / 2, 3 * ms}) {
          for (std::uint64_t seed = 1; seed <= 5; ++seed) {
            const std::int64_t gap = std::max<std::int64_t>(ms, gap_per_key * std::min<std::int64_t>(keys, 20) / ms * ms);
            // Even seeds put timestamps on a grid that the gap is a
            // multiple of, so windows touch exactly and timestamps repeat.
            const std::int64_t grid = seed % 2 == 1 ? 0 : static_cast<std::int64_t>(seed / 2) * ms / 2;
            stream_shape plain{keys, 400, 0, 30 * ms, grid};
            f(session_case{gap, mode, lateness, false, 0}, plain, seed);
            stream_shape lagging{keys, 400, 60 * ms, 90 * ms, grid};
            f(session_case{gap, mode, lateness, true, static_cast<std::int64_t>(seed) * 8 * ms}, lagging, seed);
          }
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("sessions: every emit mode x lateness x gap x keys, with and without keyed watermarks, equal the reference") {
  int cases = 0;
  for_each_case([&](const session_case& c, const stream_shape& shape, std::uint64_t seed) {
    const auto items = make_items(seed * 1000 + shape.keys * 10 + (c.keyed_watermarks ? 1 : 0), shape);
    const std::string what = describe(c, seed, shape);
    compare_runs(run_operator(configure(all_six(), c), items, whole), run_reference(c, items), what);
    ++cases;
  });
  CHECK(cases == 3 * 2 * 3 * 2 * 5 * 2);
}

TEST_CASE("sessions: single aggregates (sum, count, min, max, first, last) equal the reference's columns") {
  const emit_mode modes[] = {emit_mode::final, emit_mode::on_close, emit_mode::eager};
  int cases = 0;
  for (emit_mode mode : modes) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const stream_shape shape{13, 300, seed == 3 ? 60 * ms : 0, 40 * ms};
      const session_case c{20 * ms, mode, static_cast<std::int64_t>(seed - 1) * 15 * ms, seed == 3, 10 * ms};
      const auto items = make_items(seed * 77, shape);
      const run_result want = run_reference(c, items);
      // Keep one column of the reference's rows.
      auto column = [&](auto get) {
        run_result r = want;
        for (ref_row& row : r.rows) {
          const std::int64_t v = get(row.value);
          row.value = test::ref_result{v, 0, 0, 0, 0, 0};
        }
        return r;
      };
      auto as_column = [](auto v) { return test::ref_result{static_cast<std::int64_t>(v), 0, 0, 0, 0, 0}; };
      const std::string what = describe(c, seed, shape);
      compare_runs(run_operator(configure(sum(&event::value), c), items, as_column),
                   column([](const auto& v) { return std::get<0>(v); }), what + " sum");
      compare_runs(run_operator(configure(count(), c), items, as_column),
                   column([](const auto& v) { return std::get<1>(v); }), what + " count");
      compare_runs(run_operator(configure(laminar::min(&event::value), c), items, as_column),
                   column([](const auto& v) { return std::get<2>(v); }), what + " min");
      compare_runs(run_operator(configure(laminar::max(&event::value), c), items, as_column),
                   column([](const auto& v) { return std::get<3>(v); }), what + " max");
      compare_runs(run_operator(configure(first(&event::value), c), items, as_column),
                   column([](const auto& v) { return std::get<4>(v); }), what + " first");
      compare_runs(run_operator(configure(last(&event::value), c), items, as_column),
                   column([](const auto& v) { return std::get<5>(v); }), what + " last");
      cases += 6;
    }
  }
  CHECK(cases == 54);
}

// ---- merging ----

namespace {

using count_row = window_row<std::uint32_t, std::tuple<std::int64_t, std::int64_t>>;  // (sum, count)

count_row crow(std::int64_t start, std::int64_t end, std::int64_t sum, std::int64_t n, change_kind kind) {
  return count_row{7, timestamp::from_nanos(start), timestamp::from_nanos(end), {sum, n}, kind};
}

// gap 10, lateness 20: sessions [0, 10) and [15, 25) fire at watermark 25;
// then a record at 8 (window [8, 18)) touches both and merges them.
std::vector<count_row> bridge(emit_mode mode) {
  std::vector<count_row> rows;
  auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) |
           session(duration::from_nanos(10))
               .aggregate(aggregates(sum(&event::value), count()))
               .emit(mode)
               .allowed_lateness(duration::from_nanos(20)) |
           collect(rows);
  p.push(event{7, 0, 1, 0});
  p.push(event{7, 15, 2, 1});
  p.push_watermark(timestamp::from_nanos(25));
  p.push(event{7, 8, 4, 2});  // late for its own window's end (18 <= 25), within the lateness, bridging
  CHECK(p.chain().open_sessions() == 1);
  p.push_watermark(timestamp::from_nanos(44));  // 25 + 20 > 44: still open
  CHECK(p.chain().open_sessions() == 1);
  p.push_watermark(timestamp::from_nanos(45));
  CHECK(p.chain().open_sessions() == 0);
  CHECK(p.chain().open_keys() == 0);
  p.finish();
  return rows;
}

}  // namespace

TEST_CASE("sessions: a late record bridging two fired sessions merges them (rows per emit mode)") {
  using k = change_kind;
  SUBCASE("on_close: +I each at close, then -D both and +I the merged session at once") {
    const std::vector<count_row> want{crow(0, 10, 1, 1, k::insert), crow(15, 25, 2, 1, k::insert),
                                      crow(0, 10, 1, 1, k::remove), crow(15, 25, 2, 1, k::remove),
                                      crow(0, 25, 7, 3, k::insert)};
    CHECK(bridge(emit_mode::on_close) == want);
  }
  SUBCASE("eager: every record's change, -D of both absorbed sessions") {
    const std::vector<count_row> want{crow(0, 10, 1, 1, k::insert), crow(15, 25, 2, 1, k::insert),
                                      crow(0, 10, 1, 1, k::remove), crow(15, 25, 2, 1, k::remove),
                                      crow(0, 25, 7, 3, k::insert)};
    CHECK(bridge(emit_mode::eager) == want);
  }
  SUBCASE("final: one row, the merged session, at end + lateness") {
    const std::vector<count_row> want{crow(0, 25, 7, 3, k::insert)};
    CHECK(bridge(emit_mode::final) == want);
  }
}

TEST_CASE("sessions: windows that touch merge, a record inside a fired session is -U/+U, extending it is -D/+I") {
  using k = change_kind;
  std::vector<count_row> rows;
  auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) |
           session(duration::from_nanos(10))
               .aggregate(aggregates(sum(&event::value), count()))
               .allowed_lateness(duration::from_nanos(100)) |
           collect(rows);
  p.push(event{7, 0, 1, 0});
  p.push(event{7, 10, 2, 1});  // [10, 20) touches [0, 10): one session [0, 20)
  CHECK(p.chain().open_sessions() == 1);
  p.push_watermark(timestamp::from_nanos(30));
  p.push(event{7, 5, 4, 2});  // inside: same bounds
  p.push(event{7, 19, 8, 3});  // extends the end to 29 (still before the watermark)
  p.push(event{7, 25, 16, 4});  // extends past the watermark: kept up to date at once
  p.finish();
  const std::vector<count_row> want{
      crow(0, 20, 3, 2, k::insert),                                  // fired at 30
      crow(0, 20, 3, 2, k::update_before), crow(0, 20, 7, 3, k::update_after),  // record at 5
      crow(0, 20, 7, 3, k::remove),        crow(0, 29, 15, 4, k::insert),       // record at 19
      crow(0, 29, 15, 4, k::remove),       crow(0, 35, 31, 5, k::insert),       // record at 25
  };
  CHECK(rows == want);
}

TEST_CASE("sessions: late records are counted and sent to the side output, never dropped") {
  std::vector<count_row> rows;
  side_records<event> late;
  auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) |
           session(duration::from_nanos(10)).aggregate(aggregates(sum(&event::value), count())).late_to(late) |
           collect(rows);
  p.push(event{7, 100, 1, 0});  // [100, 110)
  p.push_watermark(timestamp::from_nanos(105));
  p.push(event{7, 92, 2, 1});   // [92, 102) closed by itself, but touches the open session: joins it
  p.push(event{7, 90, 4, 2});   // [90, 100) touches [92, 110): joins it
  p.push(event{7, 50, 8, 3});   // [50, 60): closed, touches nothing: late
  p.push(event{8, 94, 16, 4});  // another key, [94, 104): late
  p.push(event{8, 96, 32, 5});  // [96, 106): on time, a new session for key 8, not yet fired
  p.finish();
  REQUIRE(late.count() == 2);
  CHECK(late.records()[0].seq == 3);
  CHECK(late.records()[1].seq == 4);
  CHECK(p.chain().late_count() == 2);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == count_row{8, timestamp::from_nanos(96), timestamp::from_nanos(106), {32, 1}, change_kind::insert});
  CHECK(rows[1] == count_row{7, timestamp::from_nanos(90), timestamp::from_nanos(110), {7, 3}, change_kind::insert});
}

TEST_CASE("sessions: state returns to empty once the watermark passes everything") {
  test::stream_options o;
  o.seed = 11;
  o.records = 5000;
  o.keys = 300;
  o.start_ns = 1'000'000'000;
  o.late_fraction = 0.05;
  const auto in = test::make_stream(o);
  for (bool keyed : {false, true}) {
    CAPTURE(keyed);
    std::uint64_t rows = 0;
    side_records<event> late;
    auto w = session(5ms).aggregate(all_six()).allowed_lateness(5ms).late_to(late);
    auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) | (keyed ? w.keyed_watermarks(10ms) : w) |
             sink([&](const auto&) { ++rows; });
    std::int64_t front = i64_min;
    std::size_t max_open = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
      p.push(in[i]);
      front = std::max(front, in[i].ts);
      if (i % 7 == 6) p.push_watermark(timestamp::from_nanos(front - 60 * ms));
      max_open = std::max(max_open, p.chain().open_sessions());
    }
    CHECK(p.chain().open_sessions() > 0);
    CHECK(max_open < 300);  // bounded by the watermark, not by the stream's length
    p.finish();
    CHECK(p.chain().open_sessions() == 0);
    CHECK(p.chain().open_keys() == 0);
    CHECK(p.chain().late_count() == late.count());
    CHECK(late.count() > 0);
    CHECK(rows > 0);
  }
}

TEST_CASE("sessions: a global (unkeyed) session window") {
  std::vector<event> in{{1, 100, 5, 0}, {2, 105, 7, 1}, {3, 300, 1, 2}, {4, 110, 2, 3}};
  std::vector<window_row<global_key, std::int64_t>> rows;
  auto p = from(in) | with_watermarks(&event::ts, bounded_out_of_orderness(duration::from_nanos(300))) |
           session(duration::from_nanos(20)).aggregate(sum(&event::value)) | collect(rows);
  p.run();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].start == timestamp::from_nanos(100));
  CHECK(rows[0].end == timestamp::from_nanos(130));
  CHECK(rows[0].value == 14);
  CHECK(rows[1].value == 1);
}

TEST_CASE("sessions: adversarial timestamps (INT64_MIN, INT64_MAX) saturate and never overflow") {
  using row = window_row<std::uint32_t, std::tuple<std::int64_t, std::int64_t>>;
  for (bool keyed : {false, true}) {
    for (emit_mode mode : {emit_mode::final, emit_mode::on_close, emit_mode::eager}) {
      CAPTURE(keyed);
      CAPTURE(static_cast<int>(mode));
      std::vector<row> rows;
      side_records<event> late;
      auto w = session(1s).aggregate(aggregates(sum(&event::value), count())).emit(mode).allowed_lateness(duration::max()).late_to(late);
      auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) |
               (keyed ? w.keyed_watermarks(duration::max()) : w) | collect(rows);
      p.push(event{1, i64_max, 1, 0});
      p.push(event{1, i64_min, 2, 1});
      p.push(event{1, i64_max - 1, 4, 2});
      p.push(event{1, i64_min + 1, 8, 3});
      p.push(event{2, i64_max, 16, 4});
      // The session near INT64_MIN ends + lateness at ~1 s (no saturation
      // there): it closes now; the two at the top close at the end of time.
      p.push_watermark(timestamp::from_nanos(i64_max - 1));
      CHECK(p.chain().open_sessions() == 2);
      p.finish();
      CHECK(late.count() == 0);
      CHECK(p.chain().open_sessions() == 0);
      std::vector<row> finals;
      for (const row& r : rows) {
        CHECK(r.start <= r.end);
        if (mode == emit_mode::final) finals.push_back(r);
      }
      if (mode == emit_mode::final) {
        REQUIRE(finals.size() == 3);
        CHECK(finals[0].start == timestamp::min());
        CHECK(finals[0].end == timestamp::min() + 1s + duration::from_nanos(1));
        CHECK(finals[0].value == std::tuple<std::int64_t, std::int64_t>{10, 2});
        for (const row& r : {finals[1], finals[2]}) CHECK(r.end == timestamp::max());
      }
    }
  }
  // A closed session near INT64_MIN: a record for it is late; its end + lateness saturates without wrapping.
  std::vector<window_row<std::uint32_t, std::int64_t>> rows;
  side_records<event> late;
  auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) |
           session(1s).aggregate(count()).allowed_lateness(1s).late_to(late) | collect(rows);
  p.push(event{1, i64_min, 1, 0});
  p.push_watermark(timestamp::from_nanos(10'000'000'000));
  p.push(event{1, i64_min + 5, 1, 1});
  p.push(event{1, i64_max, 1, 2});
  p.finish();
  REQUIRE(late.count() == 1);
  CHECK(late.records()[0].seq == 1);
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].start == timestamp::max());
  CHECK(rows[1].end == timestamp::max());
}

// ---- checkpoints ----

namespace {

template <class Window>
auto build(Window window, std::vector<ref_row>& rows, side_records<event>& late) {
  return push<event>() | event_time(&event::ts) | key_by(&event::key) | std::move(window).late_to(late) |
         collect(rows);
}

void feed(auto& p, const std::vector<item>& items, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i) {
    if (items[i].is_watermark) {
      p.push_watermark(timestamp::from_nanos(items[i].watermark));
    } else {
      p.push(items[i].e);
    }
  }
}

template <class MakeWindow>
void check_restore(MakeWindow make_window, const std::vector<item>& items, std::uint64_t seed) {
  std::vector<ref_row> whole_rows;
  side_records<event> whole_late;
  {
    auto p = build(make_window(), whole_rows, whole_late);
    feed(p, items, 0, items.size() - 1);  // the last item is the end of time: finish() sends it
    p.finish();
  }
  std::mt19937_64 rng(seed);
  for (int trial = 0; trial < 4; ++trial) {
    const std::size_t cut = rng() % (items.size() - 1);
    CAPTURE(cut);
    std::string bytes;
    std::vector<ref_row> first_part;
    {
      side_records<event> first_late;
      auto p = build(make_window(), first_part, first_late);
      feed(p, items, 0, cut);
      bytes = p.checkpoint(42).to_bytes();
    }
    std::vector<ref_row> rows = first_part;  // collect's checkpoint holds only its length
    side_records<event> late;
    auto p = build(make_window(), rows, late);
    p.restore(snapshot::from_bytes(bytes));
    feed(p, items, cut, items.size() - 1);
    p.finish();
    // side_records were restored with their contents, collect's vector
    // with its length: the continued run's rows are the uninterrupted
    // run's, in the same order.
    test::same_nonempty_outputs(rows, whole_rows, "rows after restore");
    test::same_outputs(late.records(), whole_late.records(), "late records after restore");
    CHECK(late.count() == whole_late.count());
    CHECK(p.chain().late_count() == whole_late.count());
  }
}

}  // namespace

TEST_CASE("sessions: a checkpoint at a random point restores into a fresh pipeline that continues exactly") {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    for (emit_mode mode : {emit_mode::final, emit_mode::on_close, emit_mode::eager}) {
      CAPTURE(seed);
      CAPTURE(static_cast<int>(mode));
      const auto items = make_items(seed * 5 + 3, stream_shape{40, 1500, 0, 30 * ms});
      const auto lagging = make_items(seed * 5 + 4, stream_shape{40, 1500, 60 * ms, 90 * ms});
      check_restore([&] { return session(30ms).aggregate(all_six()).emit(mode).allowed_lateness(10ms); }, items, seed);
      check_restore([&] { return session(30ms).aggregate(all_six()).emit(mode); }, items, seed);
      check_restore(
          [&] { return session(30ms).aggregate(all_six()).emit(mode).allowed_lateness(10ms).keyed_watermarks(15ms); },
          lagging, seed);
    }
  }
}

// ---- keyed watermarks ----

namespace {

using sum_row = window_row<std::uint32_t, std::int64_t>;
constexpr std::uint32_t fast_key = 1;
constexpr std::uint32_t slow_key = 2;
constexpr std::int64_t sec = 1'000'000'000;

}  // namespace

TEST_CASE("keyed watermarks: a lagging key's records are not late because of a fast key") {
  // The fast key is at 100 s, the slow key's clock at 10 s; the stream
  // watermark is kept conservative (9 s). Each key is judged by its own
  // watermark (highest - 1 s) or the stream's, whichever is later.
  std::vector<sum_row> rows;
  side_records<event> late;
  auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) |
           session(2s).aggregate(sum(&event::value)).keyed_watermarks(1s).late_to(late) | collect(rows);
  p.push(event{fast_key, 100 * sec, 1, 0});
  p.push(event{slow_key, 10 * sec, 1, 1});
  p.push_watermark(timestamp::from_nanos(9 * sec));
  p.push(event{slow_key, 9 * sec + sec / 2, 1, 2});  // behind the slow key's highest, within its bound: joins
  p.push(event{slow_key, 8 * sec, 1, 3});            // [8 s, 10 s): 10 s > the slow key's 9 s: joins
  p.push(event{fast_key, 50 * sec, 1, 4});           // [50 s, 52 s) <= the fast key's own 99 s: late
  CHECK(p.chain().key_watermark(fast_key) == timestamp::from_nanos(99 * sec));
  CHECK(p.chain().key_watermark(slow_key) == timestamp::from_nanos(9 * sec));
  CHECK(p.chain().key_watermark(3) == timestamp::from_nanos(9 * sec));  // an unseen key: the stream's
  REQUIRE(late.count() == 1);
  CHECK(late.records()[0].seq == 4);
  p.finish();
  REQUIRE(rows.size() == 2);  // by deadline at the end of the stream
  CHECK(rows[0] == sum_row{slow_key, timestamp::from_nanos(8 * sec), timestamp::from_nanos(12 * sec), 3, change_kind::insert});
  CHECK(rows[1] == sum_row{fast_key, timestamp::from_nanos(100 * sec), timestamp::from_nanos(102 * sec), 1, change_kind::insert});

  // Without keyed watermarks a watermark that tracks the fast key (the only
  // way to close its sessions promptly) makes the slow key's records late.
  side_records<event> late2;
  auto q = push<event>() | event_time(&event::ts) | key_by(&event::key) |
           session(2s).aggregate(sum(&event::value)).late_to(late2) | sink([](const sum_row&) {});
  q.push(event{fast_key, 100 * sec, 1, 0});
  q.push_watermark(timestamp::from_nanos(99 * sec));
  q.push(event{slow_key, 10 * sec, 1, 1});
  CHECK(late2.count() == 1);
}

TEST_CASE("keyed watermarks: a fast key's sessions close before the stream watermark passes them") {
  std::vector<sum_row> rows;
  auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) |
           session(1s).aggregate(sum(&event::value)).allowed_lateness(500ms).keyed_watermarks(200ms) |
           collect(rows);
  p.push(event{slow_key, 1 * sec, 1, 0});
  p.push(event{fast_key, 1 * sec, 2, 1});
  p.push(event{fast_key, 2 * sec, 4, 2});            // [1 s, 3 s)
  p.push(event{fast_key, 3 * sec + sec / 2, 8, 3});  // own watermark 3.3 s: fires [1 s, 3 s)
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == sum_row{fast_key, timestamp::from_nanos(1 * sec), timestamp::from_nanos(3 * sec), 6, change_kind::insert});
  CHECK(p.chain().open_sessions() == 3);  // fired, still open for its lateness
  p.push(event{fast_key, 3 * sec + 700'000'000, 16, 4});  // own watermark 3.5 s: [1 s, 3 s) closes
  CHECK(p.chain().open_sessions() == 2);
  CHECK(rows.size() == 1);
  p.push(event{fast_key, 2 * sec + 500'000'000, 32, 5});  // [2.5 s, 3.5 s) touches the new session only
  CHECK(rows.size() == 1);
  CHECK(p.chain().watermark() == timestamp::min());  // no stream watermark yet
  // The stream watermark closes the quiet slow key's session.
  p.push_watermark(timestamp::from_nanos(2 * sec));
  REQUIRE(rows.size() == 2);
  CHECK(rows[1] == sum_row{slow_key, timestamp::from_nanos(1 * sec), timestamp::from_nanos(2 * sec), 1, change_kind::insert});
  p.finish();
  REQUIRE(rows.size() == 3);
  CHECK(rows[2] == sum_row{fast_key, timestamp::from_nanos(2 * sec + 500'000'000),
                           timestamp::from_nanos(4 * sec + 700'000'000), 56, change_kind::insert});
  CHECK(p.chain().open_keys() == 0);
}

TEST_CASE("keyed watermarks: a key's own watermark is checkpointed") {
  std::vector<sum_row> rows;
  side_records<event> late;
  auto make = [] { return session(1s).aggregate(sum(&event::value)).keyed_watermarks(100ms); };
  std::string bytes;
  {
    auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) | make().late_to(late) | collect(rows);
    p.push(event{fast_key, 50 * sec, 1, 0});
    p.push(event{fast_key, 52 * sec, 1, 1});  // [50 s, 51 s) closes by the key's own watermark
    p.push(event{slow_key, 5 * sec, 1, 2});
    p.push_watermark(timestamp::from_nanos(3 * sec));
    CHECK(rows.size() == 1);
    bytes = p.checkpoint(1).to_bytes();
  }
  std::vector<sum_row> rows2 = rows;  // collect's checkpoint holds only its length
  side_records<event> late2;
  auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) | make().late_to(late2) | collect(rows2);
  p.restore(snapshot::from_bytes(bytes));
  CHECK(p.chain().key_watermark(fast_key) == timestamp::from_nanos(52 * sec - 100'000'000));
  CHECK(p.chain().key_watermark(slow_key) == timestamp::from_nanos(5 * sec - 100'000'000));
  CHECK(p.chain().watermark() == timestamp::from_nanos(3 * sec));
  p.push(event{fast_key, 50 * sec + sec / 2, 1, 3});  // late by the restored own watermark (51.5 s <= 51.9 s)
  p.push(event{slow_key, 4 * sec, 1, 4});             // on time for the slow key
  CHECK(late2.count() == 1);
  CHECK(late2.records().back().seq == 3);
  p.finish();
  REQUIRE(rows2.size() == 3);  // the row collected before the checkpoint, then the two open sessions by deadline
  CHECK(rows2[1] == sum_row{slow_key, timestamp::from_nanos(4 * sec), timestamp::from_nanos(6 * sec), 2, change_kind::insert});
  CHECK(rows2[2].key == fast_key);
}

// ---- bind-time checks ----

TEST_CASE("sessions: bad settings are usage errors") {
  CHECK_THROWS_AS((void)session(duration::zero()), usage_error);
  CHECK_THROWS_AS((void)session(1s).aggregate(count()).allowed_lateness(-1ms), usage_error);
  CHECK_THROWS_AS((void)session(1s).aggregate(count()).keyed_watermarks(-1ms), usage_error);
  // A value outside the emit modes is refused when the pipeline is built.
  for (const emit_mode unsupported : {static_cast<emit_mode>(200)}) {
    try {
      auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) |
               session(1s).aggregate(count()).emit(unsupported) | sink([](const auto&) {});
      (void)p;
      FAIL("an unsupported emit mode was accepted");
    } catch (const usage_error& e) {
      const std::string what = e.what();
      CHECK(what.find("emit mode") != std::string::npos);
    }
  }
}

// ---- allocation ----

TEST_CASE("sessions: no heap allocation per event in steady state (1000 keys, sessions opening and closing)") {
  test::stream_options o;
  o.seed = 3;
  o.records = 300'000;
  o.keys = 1000;
  o.start_ns = 1'000'000'000;
  o.mean_step_ns = 10'000;  // a key every ~10 ms on average
  o.max_disorder_ns = 2 * ms;
  o.late_fraction = 0.01;
  const auto in = test::make_stream(o);
  std::uint64_t rows = 0;
  auto run = [&](auto window) {
    auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) | std::move(window) |
             sink([&](const auto&) { ++rows; });
    std::int64_t front = i64_min;
    auto feed_range = [&](std::size_t from, std::size_t to) {
      for (std::size_t i = from; i < to; ++i) {
        p.push(in[i]);
        front = std::max(front, in[i].ts);
        if (i % 7 == 6) p.push_watermark(timestamp::from_nanos(front - 3 * ms));
      }
    };
    // Warm-up: the key table, the timer heap and the session vectors of
    // the key slots (each as long as its busiest key needed) reach their size.
    feed_range(0, 150'000);
    test::allocation_counter allocs;
    feed_range(150'000, in.size());
    const auto n = allocs.count();
    CHECK(p.chain().late_count() > 0);
    p.finish();
    return n;
  };
  const auto on_close = run(session(5ms).aggregate(sum(&event::value)).allowed_lateness(2ms));
  const auto final = run(session(5ms).aggregate(aggregates(sum(&event::value), count())).emit(emit_mode::final));
  const auto eager = run(session(5ms).aggregate(sum(&event::value)).emit(emit_mode::eager).allowed_lateness(2ms));
  const auto keyed = run(session(5ms).aggregate(sum(&event::value)).allowed_lateness(2ms).keyed_watermarks(3ms));
  CHECK(rows > 0);
  // 150k events; a vector that grows past its warm-up size may allocate a few times.
  CHECK(on_close <= 8);
  CHECK(final <= 8);
  CHECK(eager <= 8);
  CHECK(keyed <= 8);
}
