// Periodic EMIT: early results every period of event time or processing
// time, then the final result and corrections, as a changelog. Checked
// against a batch computation: after every watermark that crosses a period
// boundary, the view the changelog builds equals, for every window, the
// aggregate of the records accepted into it so far.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <laminar/laminar.hpp>

#include "support/event_stream.hpp"
#include "window/window_reference.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using laminar::test::event;
using laminar::test::shape;
using laminar::test::window_case;

namespace {

constexpr std::int64_t i64_min = std::numeric_limits<std::int64_t>::min();

using value = std::tuple<std::int64_t, std::int64_t>;  // sum, count
using row = window_row<std::uint32_t, value>;
using window_id = std::tuple<std::uint32_t, std::int64_t, std::int64_t>;  // key, start, end

auto sum_count() { return aggregates(sum(&event::value), count()); }

// Applies a changelog to a view, checking that every retraction retracts
// exactly what the view holds.
struct changelog_view {
  std::map<window_id, value> rows;
  std::string error;

  void apply(const row& r) {
    const window_id id{r.key, r.start.nanos(), r.end.nanos()};
    const auto it = rows.find(id);
    switch (r.kind) {
      case change_kind::insert:
      case change_kind::update_after:
        if (it != rows.end()) fail("an insert for a row the view holds", r);
        rows[id] = r.value;
        break;
      case change_kind::update_before:
      case change_kind::remove:
        if (it == rows.end() || it->second != r.value) {
          fail("a retraction of a row the view does not hold", r);
        } else {
          rows.erase(it);
        }
        break;
    }
  }
  void fail(const char* what, const row& r) {
    if (error.empty()) {
      error = std::string(what) + ": key " + std::to_string(r.key) + " window [" + std::to_string(r.start.nanos()) +
              ", " + std::to_string(r.end.nanos()) + ")";
    }
  }
};

// The batch side: every record accepted into each window (a window accepts
// a record while end + lateness is above the watermark).
struct accepted_records {
  window_case c;
  std::int64_t wm = i64_min;
  std::map<window_id, value> totals;

  void on_event(const event& e) {
    for (const auto& [start, end] : test::windows_of(c, e.ts)) {
      if (wm != i64_min && end + c.lateness <= wm) continue;  // closed for this record
      auto& [s, n] = totals[{e.key, start, end}];
      s += e.value;
      n += 1;
    }
  }
};

template <class Window>
auto build(Window window, changelog_view& view, std::vector<row>& log) {
  return push<event>() | event_time(&event::ts) | key_by(&event::key) | std::move(window) |
         sink([&view, &log](const row& r) {
           view.apply(r);
           log.push_back(r);
         });
}

template <class Spec>
auto make(const Spec& spec, std::int64_t period, std::int64_t lateness) {
  return spec.aggregate(sum_count())
      .emit_every(duration::from_nanos(period))
      .allowed_lateness(duration::from_nanos(lateness));
}

void run_case(const window_case& c, std::int64_t period, std::uint64_t seed) {
  test::stream_options o;
  o.seed = seed;
  o.records = 600;
  o.keys = 7;
  o.start_ns = 1'000'000'000;
  o.mean_step_ns = 1'000'000;
  o.max_disorder_ns = 8'000'000;
  o.late_fraction = 0.05;
  const auto in = test::make_stream(o);

  changelog_view view;
  std::vector<row> log;
  accepted_records batch{c, i64_min, {}};
  const auto check = [&](auto& p) {
    std::int64_t front = i64_min;
    std::int64_t wm = i64_min;
    std::mt19937_64 rng(seed * 31 + 7);
    for (std::size_t i = 0; i < in.size(); ++i) {
      const std::size_t before = log.size();
      batch.on_event(in[i]);
      p.push(in[i]);
      // Between watermarks only corrections of fired windows leave.
      for (std::size_t k = before; k < log.size(); ++k) {
        CHECK_MESSAGE(log[k].end.nanos() <= wm, "an early row outside a periodic trigger");
      }
      front = std::max(front, in[i].ts);
      if (rng() % 5 == 0 && front - 10'000'000 > wm) {
        const std::int64_t old = wm;
        wm = front - 10'000'000;
        batch.wm = wm;
        p.push_watermark(timestamp::from_nanos(wm));
        const bool crossed = old == i64_min || (wm / period) != (old / period);
        if (crossed) {
          REQUIRE_MESSAGE(view.error.empty(), view.error);
          for (const auto& [id, total] : batch.totals) {
            const auto it = view.rows.find(id);
            REQUIRE_MESSAGE(it != view.rows.end(), "no row for a window with records, end " << std::get<2>(id));
            CHECK(it->second == total);
          }
          CHECK(view.rows.size() == batch.totals.size());
        }
      }
    }
    p.finish();
    REQUIRE_MESSAGE(view.error.empty(), view.error);
    CHECK(view.rows == batch.totals);
  };
  switch (c.kind) {
    case shape::tumbling: {
      auto p = build(make(tumbling(duration::from_nanos(c.size)), period, c.lateness), view, log);
      check(p);
      break;
    }
    case shape::hopping: {
      auto p = build(make(hopping(duration::from_nanos(c.size), duration::from_nanos(c.slide)), period, c.lateness),
                     view, log);
      check(p);
      break;
    }
    case shape::cumulate: {
      auto p = build(make(cumulate(duration::from_nanos(c.slide), duration::from_nanos(c.size)), period, c.lateness),
                     view, log);
      check(p);
      break;
    }
  }
}

}  // namespace

TEST_CASE("periodic emit (event time): after every period the changelog's view equals the batch of accepted records") {
  int cases = 0;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    for (const std::int64_t lateness : {std::int64_t{0}, std::int64_t{15'000'000}}) {
      for (const std::int64_t period : {std::int64_t{3'000'000}, std::int64_t{20'000'000}}) {
        const std::vector<window_case> shapes = {
            {shape::tumbling, 25'000'000, 0, 0, emit_mode::on_close, lateness},
            {shape::hopping, 30'000'000, 10'000'000, 0, emit_mode::on_close, lateness},
            {shape::cumulate, 40'000'000, 10'000'000, 0, emit_mode::on_close, lateness},
        };
        for (const window_case& c : shapes) {
          CAPTURE(seed);
          CAPTURE(lateness);
          CAPTURE(period);
          CAPTURE(static_cast<int>(c.kind));
          run_case(c, period, seed);
          ++cases;
        }
      }
    }
  }
  CHECK(cases == 72);
}

TEST_CASE("periodic emit (event time): unchanged groups are not re-emitted, the final result follows as a change") {
  changelog_view view;
  std::vector<row> log;
  auto p = build(tumbling(100ms).aggregate(sum_count()).emit_every(10ms), view, log);
  const auto at = [](std::int64_t ms) { return timestamp::from_nanos(ms * 1'000'000); };
  p.push(event{1, at(1).nanos(), 5, 0});
  p.push(event{2, at(2).nanos(), 7, 1});
  p.push_watermark(at(10));  // crosses 10ms: both keys early
  REQUIRE(log.size() == 2);
  CHECK(log[0].kind == change_kind::insert);
  CHECK(log[1].kind == change_kind::insert);
  p.push(event{1, at(12).nanos(), 1, 2});
  p.push_watermark(at(15));  // no boundary: nothing
  CHECK(log.size() == 2);
  p.push_watermark(at(20));  // key 1 changed, key 2 did not
  REQUIRE(log.size() == 4);
  CHECK(log[2].kind == change_kind::update_before);
  CHECK(log[2].value == value{5, 1});
  CHECK(log[3].kind == change_kind::update_after);
  CHECK(log[3].value == value{6, 2});
  p.push_watermark(at(50));  // nothing changed since
  CHECK(log.size() == 4);
  p.push(event{2, at(60).nanos(), 1, 3});
  p.push_watermark(at(100));  // the window fires: key 2's final change only
  REQUIRE(log.size() == 6);
  CHECK(log[4].key == 2u);
  CHECK(log[4].kind == change_kind::update_before);
  CHECK(log[5].value == value{8, 2});
  CHECK(view.error.empty());
  CHECK(p.chain().open_groups() == 0);  // fired and closed: the early state is gone too
}

TEST_CASE("periodic emit (processing time): the pipeline's tick drives early results") {
  changelog_view view;
  std::vector<row> log;
  auto p = build(tumbling(1s).aggregate(sum_count()).emit_every(50ms, time_domain::processing_time), view, log);
  const auto pt = [](std::int64_t ms) { return timestamp::from_nanos(ms * 1'000'000); };
  p.push(event{1, 100, 5, 0});
  p.push_watermark(timestamp::from_nanos(200));  // event time moves, no event-time trigger
  CHECK(log.empty());
  p.tick(pt(1000));  // the first tick emits
  REQUIRE(log.size() == 1);
  p.push(event{1, 300, 1, 1});
  p.tick(pt(1020));  // within the period: nothing
  CHECK(log.size() == 1);
  p.tick(pt(1050));
  REQUIRE(log.size() == 3);
  CHECK(log[2].value == value{6, 2});
  p.tick(pt(2000));  // nothing changed
  CHECK(log.size() == 3);
  p.finish();  // the final result equals the last early one: no change
  CHECK(log.size() == 3);
  CHECK(view.error.empty());
}

TEST_CASE("periodic emit: a period is required and must be positive") {
  CHECK_THROWS_AS((void)tumbling(1s).aggregate(count()).emit_every(duration::zero()), usage_error);
  // Periodic is not an emit mode (.emit(emit_mode::periodic) does not
  // compile: compile_fail/emit_periodic_mode.cpp); the last of .emit()
  // and .emit_every() wins.
  const auto every = tumbling(1s).aggregate(count()).emit_every(100ms);
  CHECK(every.settings.periodic());
  CHECK(every.settings.mode == emit_mode::on_close);
  const auto off = every.emit(emit_mode::final);
  CHECK_FALSE(off.settings.periodic());
  CHECK(off.settings.mode == emit_mode::final);
  CHECK(off.emit_every(5ms).settings.period == duration::from_nanos(5'000'000));
}
