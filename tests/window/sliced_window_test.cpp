// Tumbling, hopping and cumulate windows against the reference model: every
// shape x emit mode x allowed lateness, keyed (hashed and dense keys) and on
// seeded out-of-order streams with late records, duplicate timestamps and
// many keys; every emitted row, correction and late record compared.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <laminar/laminar.hpp>

#include "support/differential.hpp"
#include "support/event_stream.hpp"
#include "window/window_reference.hpp"

using namespace laminar;
using laminar::test::event;
using laminar::test::ref_row;
using laminar::test::shape;
using laminar::test::window_case;

namespace {

// One input message: a record, or a watermark.
struct item {
  bool is_watermark = false;
  event e{};
  std::int64_t watermark = 0;
};

// Records of a generated stream, with a watermark (the highest timestamp so
// far minus a bound) after every few records, and the end of time last.
// With a grid, every timestamp and every watermark is rounded down to a
// multiple of it: when the grid divides the windows' size, slide and offset
// (and the allowed lateness), records and watermarks land exactly on window
// boundaries all the time (a record at a window's start, a watermark at its
// end, or at its end plus the lateness).
std::vector<item> make_items(std::uint64_t seed, std::uint32_t keys, std::size_t records, std::int64_t grid = 0) {
  test::stream_options o;
  o.seed = seed;
  o.records = records;
  o.keys = keys;
  o.start_ns = 1'000'000'000;  // near the epoch: windows are easy to read in failures
  o.mean_step_ns = 1'000'000;
  o.max_disorder_ns = 20'000'000;
  o.late_fraction = 0.05;
  auto events = test::make_stream(o);
  if (grid != 0) {
    for (event& e : events) e.ts -= e.ts % grid;  // times are positive here
  }
  std::mt19937_64 rng(seed * 7 + 1);
  std::vector<item> items;
  std::int64_t front = std::numeric_limits<std::int64_t>::min(), wm = std::numeric_limits<std::int64_t>::min();
  for (const event& e : events) {
    items.push_back({false, e, 0});
    front = std::max(front, e.ts);
    if (rng() % 4 == 0) {
      std::int64_t w = front - static_cast<std::int64_t>(rng() % 30'000'000);
      if (grid != 0) w -= w % grid;
      if (w > wm) {
        wm = w;
        items.push_back({true, {}, w});
      }
    }
  }
  items.push_back({true, {}, std::numeric_limits<std::int64_t>::max()});
  return items;
}

auto all_six() {
  return aggregates(sum(&event::value), count(), laminar::min(&event::value), laminar::max(&event::value),
                    first(&event::value), last(&event::value));
}

template <class Assigner>
auto configure(window_spec<Assigner> spec, const window_case& c) {
  return spec.aggregate(all_six()).emit(c.mode).allowed_lateness(duration::from_nanos(c.lateness));
}

// Runs `make_window(spec)` (a window operator factory) over the items;
// returns the rows in canonical batches, and the late records.
struct run_result {
  std::vector<ref_row> rows;
  std::vector<event> late;
  bool rows_on_time = true;
};

template <class Window>
run_result run_operator(Window window, const std::vector<item>& items) {
  run_result r;
  std::vector<ref_row> batch;
  std::int64_t out_wm = std::numeric_limits<std::int64_t>::min();
  side_records<event> late;
  auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) | std::move(window).late_to(late) |
           sink([&](const ref_row& row) {
             if (row.time().nanos() < out_wm) r.rows_on_time = false;
             batch.push_back(row);
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
  return r;
}

run_result run_reference(const window_case& c, const std::vector<item>& items) {
  test::window_reference ref(c);
  run_result r;
  for (const item& it : items) {
    auto batch = it.is_watermark ? ref.on_watermark(it.watermark) : ref.on_event(it.e);
    test::canonical(batch);
    r.rows.insert(r.rows.end(), batch.begin(), batch.end());
  }
  r.late = ref.late();
  return r;
}

template <class Window>
void compare(const window_case& c, Window window, const std::vector<item>& items, const std::string& what) {
  const run_result got = run_operator(std::move(window), items);
  const run_result want = run_reference(c, items);
  CHECK_MESSAGE(got.rows_on_time, what << ": a row arrived behind the operator's output watermark");
  if (!test::same_nonempty_outputs(got.rows, want.rows, what + " rows")) return;
  test::same_outputs(got.late, want.late, what + " late records");
}

std::string describe(const window_case& c, std::uint64_t seed, std::uint32_t keys) {
  std::ostringstream os;
  const char* kinds[] = {"tumbling", "hopping", "cumulate"};
  const char* modes[] = {"final", "on_close", "eager"};
  os << kinds[static_cast<int>(c.kind)] << "(" << c.size << ", " << c.slide << ", offset " << c.offset << ") "
     << modes[static_cast<int>(c.mode)] << " lateness " << c.lateness << " keys " << keys << " seed " << seed;
  return os.str();
}

template <class F>
void for_each_case(F&& f) {
  const emit_mode modes[] = {emit_mode::final, emit_mode::on_close, emit_mode::eager};
  const std::int64_t latenesses[] = {0, 25'000'000};
  const std::uint32_t key_counts[] = {1, 13, 200};
  for (emit_mode mode : modes) {
    for (std::int64_t lateness : latenesses) {
      for (std::uint32_t keys : key_counts) {
        for (std::uint64_t seed = 1; seed <= 6; ++seed) {
          window_case t{shape::tumbling, 50'000'000, 0, static_cast<std::int64_t>(seed % 3) * 7'000'000, mode, lateness};
          window_case h{shape::hopping, 60'000'000, 20'000'000, static_cast<std::int64_t>(seed % 2) * 5'000'000, mode, lateness};
          if (seed % 3 == 0) h.slide = 25'000'000;  // slide not dividing size: slices of gcd = 5ms
          window_case c{shape::cumulate, 100'000'000, 25'000'000, static_cast<std::int64_t>(seed % 2) * 10'000'000, mode, lateness};
          f(t, keys, seed);
          f(h, keys, seed);
          f(c, keys, seed);
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("windows: tumbling, hopping and cumulate x every emit mode x lateness equal the reference model") {
  int cases = 0;
  for_each_case([&](const window_case& c, std::uint32_t keys, std::uint64_t seed) {
    const auto items = make_items(seed * 1000 + keys, keys, 400);
    const std::string what = describe(c, seed, keys);
    const duration size = duration::from_nanos(c.size), slide = duration::from_nanos(c.slide),
                   offset = duration::from_nanos(c.offset);
    switch (c.kind) {
      case shape::tumbling: compare(c, configure(tumbling(size, offset), c), items, what); break;
      case shape::hopping: compare(c, configure(hopping(size, slide, offset), c), items, what); break;
      case shape::cumulate: compare(c, configure(cumulate(slide, size, offset), c), items, what); break;
    }
    ++cases;
  });
  CHECK(cases == 3 * 2 * 3 * 6 * 3);
}

TEST_CASE("windows: dense keys give the same rows as hashed keys") {
  for_each_case([&](const window_case& c, std::uint32_t keys, std::uint64_t seed) {
    if (seed > 2) return;
    const auto items = make_items(seed * 31 + keys, keys, 300);
    const std::string what = "dense " + describe(c, seed, keys);
    const duration size = duration::from_nanos(c.size), slide = duration::from_nanos(c.slide),
                   offset = duration::from_nanos(c.offset);
    switch (c.kind) {
      case shape::tumbling: compare(c, configure(tumbling(size, offset), c).dense_keys(), items, what); break;
      case shape::hopping: compare(c, configure(hopping(size, slide, offset), c).dense_keys(), items, what); break;
      case shape::cumulate: compare(c, configure(cumulate(slide, size, offset), c).dense_keys(), items, what); break;
    }
  });
}

// The generated times are random to the nanosecond: a record or a watermark
// exactly on a window boundary would be rare. On a 5 ms grid (which divides
// every size, slide, lateness and offset here; the tumbling offsets of 7 and
// 14 ms round down to 5 and 10) they are there all the time: a record at a
// window's start, a watermark exactly at a window's end (it fires), exactly
// at its end plus the lateness (it closes), and records arriving just then.
TEST_CASE("windows: records and watermarks exactly on window boundaries equal the reference model") {
  constexpr std::int64_t grid = 5'000'000;
  std::size_t records_at_start = 0, watermarks_at_end = 0, watermarks_at_close = 0, cases = 0;
  for_each_case([&](window_case c, std::uint32_t keys, std::uint64_t seed) {
    c.offset -= c.offset % grid;
    const auto items = make_items(seed * 1000 + keys + 17, keys, 400, grid);
    const std::string what = "on the grid " + describe(c, seed, keys);
    const duration size = duration::from_nanos(c.size), slide = duration::from_nanos(c.slide),
                   offset = duration::from_nanos(c.offset);
    switch (c.kind) {
      case shape::tumbling: compare(c, configure(tumbling(size, offset), c), items, what); break;
      case shape::hopping: compare(c, configure(hopping(size, slide, offset), c), items, what); break;
      case shape::cumulate: compare(c, configure(cumulate(slide, size, offset), c), items, what); break;
    }
    // The stream does what it is for: boundaries are hit, not only crossed.
    for (const item& it : items) {
      if (it.is_watermark && it.watermark != std::numeric_limits<std::int64_t>::max()) {
        for (const auto& [s, end] : test::windows_of(c, it.watermark - 1)) watermarks_at_end += end == it.watermark ? 1 : 0;
        for (const auto& [s, end] : test::windows_of(c, it.watermark - c.lateness - 1)) {
          watermarks_at_close += end + c.lateness == it.watermark ? 1 : 0;
        }
      } else if (!it.is_watermark) {
        for (const auto& [s, end] : test::windows_of(c, it.e.ts)) records_at_start += s == it.e.ts ? 1 : 0;
      }
    }
    ++cases;
  });
  CHECK(cases == 3 * 2 * 3 * 6 * 3);
  CHECK(records_at_start > 1000);
  CHECK(watermarks_at_end > 1000);
  CHECK(watermarks_at_close > 1000);
}
