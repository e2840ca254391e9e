// Interval join: a differential test against a brute-force model over the
// whole stream (every on-time pair in range matches, each once, when the
// later of the two arrives; an outer record that never matches leaves once
// the other input's watermark passes its deadline), for every join type
// and several bounds, on randomized out-of-order streams with many keys;
// checkpoints at random points; bounded state; an idle input; adversarial
// timestamps.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <laminar/laminar.hpp>
#include <laminar/join/interval.hpp>

#include "join/join_streams.hpp"
#include "support/counting_allocator.hpp"
#include "support/differential.hpp"

using namespace laminar;
using join_streams::fill;
using join_streams::ms;
using join_streams::no_time;
using join_streams::order;

namespace {

using row = interval_row<order, fill>;

// A row and the input message (step) that made it leave.
struct step_row {
  std::size_t step = 0;
  row r;
  friend bool operator==(const step_row&, const step_row&) = default;
  friend std::ostream& operator<<(std::ostream& os, const step_row& s) { return os << "step " << s.step << " " << s.r; }
};

using item = join_streams::stream_item<order, fill>;
using join_streams::feed;

// Records mostly a little out of order, some far behind, duplicate times;
// each input's watermark trails its records by a lag of its own, so that
// some records are late and one input may hold the other's state back.
// at_watermark_one_in, all_on_grid: see join_streams::stream_shape.
std::vector<item> make_items(std::uint64_t seed, std::uint32_t keys, std::size_t n,
                             std::uint64_t at_watermark_one_in = 0, bool all_on_grid = false) {
  std::mt19937_64 rng(seed);
  join_streams::stream_shape shape;
  shape.left_lag = static_cast<std::int64_t>(1 + rng() % 6) * ms;
  shape.right_lag = static_cast<std::int64_t>(1 + rng() % 6) * ms;
  shape.grid_one_in = 8;
  shape.at_watermark_one_in = at_watermark_one_in;
  shape.all_on_grid = all_on_grid;
  return join_streams::out_of_order_items<order, fill>(
      rng, keys, n, shape, [](std::int64_t t, std::uint32_t key, std::int64_t i) { return order{t, key, i}; },
      [](std::int64_t t, std::uint32_t key, std::int64_t i) { return fill{t, key, i}; });
}

// The model: the whole stream is known up front. Each on-time pair of the
// same key in range gives one row when the later of the two arrives (the
// earlier-arrived side in time order, equal times by arrival); each on-time
// record of an outer side that matches nothing in the whole stream gives
// one row at the first step where the other input's watermark has passed
// its deadline (its arrival, a watermark, or the end).
struct model {
  interval_settings s;
  std::vector<step_row> rows;
  std::vector<order> late_left;
  std::vector<fill> late_right;

  [[nodiscard]] bool in_range(const order& l, const fill& r) const {
    return l.key == r.key && r.ts >= l.ts + s.lower.nanos() && r.ts <= l.ts + s.upper.nanos();
  }
  [[nodiscard]] bool outer_left() const { return s.type == join_type::left || s.type == join_type::full; }
  [[nodiscard]] bool outer_right() const { return s.type == join_type::right || s.type == join_type::full; }

  void run(const std::vector<item>& items) {
    // Which records are on time, and their arrival steps.
    struct seen_left {
      order l;
      std::size_t step;
    };
    struct seen_right {
      fill r;
      std::size_t step;
    };
    std::vector<seen_left> lefts;
    std::vector<seen_right> rights;
    std::int64_t lwm = no_time, rwm = no_time;
    for (std::size_t i = 0; i < items.size(); ++i) {
      const item& it = items[i];
      if (it.kind == item::left_wm) lwm = std::max(lwm, it.w);
      if (it.kind == item::right_wm) rwm = std::max(rwm, it.w);
      if (it.kind == item::left) {
        if (it.l.ts < lwm) {
          late_left.push_back(it.l);
        } else {
          lefts.push_back({it.l, i});
        }
      }
      if (it.kind == item::right) {
        if (it.r.ts < rwm) {
          late_right.push_back(it.r);
        } else {
          rights.push_back({it.r, i});
        }
      }
    }
    const std::size_t end_step = items.size();
    // Matched rows, at the later arrival.
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (items[i].kind == item::left) {
        std::vector<const seen_right*> m;
        for (const seen_right& r : rights) {
          if (r.step < i && in_range(items[i].l, r.r)) m.push_back(&r);
        }
        if (!is_on_time_left(lefts, i)) continue;
        std::stable_sort(m.begin(), m.end(), [](auto* a, auto* b) { return a->r.ts < b->r.ts; });
        for (auto* r : m) rows.push_back({i, row{items[i].l, r->r}});
      } else if (items[i].kind == item::right) {
        std::vector<const seen_left*> m;
        for (const seen_left& l : lefts) {
          if (l.step < i && in_range(l.l, items[i].r)) m.push_back(&l);
        }
        if (!is_on_time_right(rights, i)) continue;
        std::stable_sort(m.begin(), m.end(), [](auto* a, auto* b) { return a->l.ts < b->l.ts; });
        for (auto* l : m) rows.push_back({i, row{l->l, items[i].r}});
      }
    }
    // Outer rows: the first step at or after arrival where the other
    // input's watermark has passed the deadline.
    auto first_step = [&](std::size_t from, item::kind_t wm_kind, std::int64_t edge) {
      std::int64_t w = no_time;
      for (std::size_t j = 0; j < items.size(); ++j) {
        if (items[j].kind == wm_kind) w = std::max(w, items[j].w);
        if (j >= from && w > edge) return j;
      }
      return end_step;
    };
    if (outer_left()) {
      for (const seen_left& l : lefts) {
        if (std::none_of(rights.begin(), rights.end(), [&](const seen_right& r) { return in_range(l.l, r.r); })) {
          rows.push_back({first_step(l.step, item::right_wm, l.l.ts + s.upper.nanos()), row{l.l, std::nullopt}});
        }
      }
    }
    if (outer_right()) {
      for (const seen_right& r : rights) {
        if (std::none_of(lefts.begin(), lefts.end(), [&](const seen_left& l) { return in_range(l.l, r.r); })) {
          rows.push_back({first_step(r.step, item::left_wm, r.r.ts - s.lower.nanos()), row{std::nullopt, r.r}});
        }
      }
    }
    std::stable_sort(rows.begin(), rows.end(), [](const step_row& a, const step_row& b) { return a.step < b.step; });
  }
  static bool is_on_time_left(const auto& lefts, std::size_t step) {
    return std::any_of(lefts.begin(), lefts.end(), [&](const auto& l) { return l.step == step; });
  }
  static bool is_on_time_right(const auto& rights, std::size_t step) {
    return std::any_of(rights.begin(), rights.end(), [&](const auto& r) { return r.step == step; });
  }
};

// Rows a watermark (or the end) releases leave in an order of the
// operator's choosing: sorted here, so both sides compare as multisets per
// step. Rows of a record's arrival compare in order.
void canonical(std::vector<step_row>& rows, const std::vector<item>& items) {
  auto id = [](const row& r) {
    return std::make_tuple(r.left ? r.left->id : -1, r.right ? r.right->id : -1);
  };
  auto releases = [&](std::size_t step) {
    return step >= items.size() || items[step].kind == item::left_wm || items[step].kind == item::right_wm;
  };
  std::size_t i = 0;
  while (i < rows.size()) {
    std::size_t j = i;
    while (j < rows.size() && rows[j].step == rows[i].step) ++j;
    if (releases(rows[i].step)) {
      std::sort(rows.begin() + static_cast<std::ptrdiff_t>(i), rows.begin() + static_cast<std::ptrdiff_t>(j),
                [&](const step_row& a, const step_row& b) { return id(a.r) < id(b.r); });
    }
    i = j;
  }
}

template <class Join, class Sink>
auto pipeline_of(Join join, Sink sink_stage) {
  return connect(push<order>() | event_time(&order::ts) | key_by(&order::key),
                 push<fill>() | event_time(&fill::ts) | key_by(&fill::key)) |
         std::move(join) | std::move(sink_stage);
}

auto configured(const interval_settings& s) { return interval_join(s.lower, s.upper).type(s.type); }

std::string describe(const interval_settings& s, std::uint64_t seed, std::uint32_t keys) {
  std::ostringstream os;
  os << to_string(s.type) << " [" << s.lower.nanos() << ", " << s.upper.nanos() << "] keys " << keys << " seed "
     << seed;
  return os.str();
}

template <class F>
void for_each_setting(F&& f) {
  const std::vector<std::pair<std::int64_t, std::int64_t>> bounds{{0, 0}, {-2 * ms, 3 * ms}, {ms, 4 * ms},
                                                                   {-5 * ms, -ms}};
  for (join_type t : {join_type::inner, join_type::left, join_type::right, join_type::full}) {
    for (auto [lo, hi] : bounds) {
      interval_settings s;
      s.lower = duration::from_nanos(lo);
      s.upper = duration::from_nanos(hi);
      s.type = t;
      f(s);
    }
  }
}

// Runs the join over the items; rows tagged with the step that made them
// leave, checked against the output watermark as they arrive.
struct run_result {
  std::vector<step_row> rows;
  std::vector<order> late_left;
  std::vector<fill> late_right;
  bool behind_watermark = false;
  std::size_t held_after = 0;
};

run_result run_join(const interval_settings& s, const std::vector<item>& items) {
  run_result out;
  std::size_t step = 0;
  std::int64_t out_wm = no_time;
  side_records<order> late_l;
  side_records<fill> late_r;
  auto p = pipeline_of(configured(s).late_left_to(late_l).late_right_to(late_r),
                       sink(
                           [&](const row& r) {
                             const std::int64_t t = r.left && r.right ? std::max(r.left->ts, r.right->ts)
                                                    : r.left         ? r.left->ts
                                                                     : r.right->ts;
                             if (t < out_wm) out.behind_watermark = true;
                             out.rows.push_back({step, r});
                           },
                           [&](timestamp w) { out_wm = w.nanos(); }));
  for (; step < items.size(); ++step) feed(p, items[step]);
  p.finish();
  out.late_left = late_l.records();
  out.late_right = late_r.records();
  out.held_after = p.join().left_held() + p.join().right_held() + p.join().keys();
  CHECK(p.join().late_left_count() == late_l.count());
  CHECK(p.join().late_right_count() == late_r.count());
  return out;
}

}  // namespace

TEST_CASE("interval join: every join type equals the brute-force model on randomized out-of-order streams") {
  int cases = 0;
  for_each_setting([&](const interval_settings& s) {
    for (std::uint32_t keys : {1u, 7u, 100u}) {
      for (std::uint64_t seed = 1; seed <= 10; ++seed) {
        const auto items = make_items(seed * 977 + keys, keys, 1200);
        model m{s, {}, {}, {}};
        m.run(items);
        auto got = run_join(s, items);
        canonical(got.rows, items);
        canonical(m.rows, items);
        const std::string what = describe(s, seed, keys);
        test::same_outputs(got.rows, m.rows, what + " rows");
        test::same_outputs(got.late_left, m.late_left, what + " late left records");
        test::same_outputs(got.late_right, m.late_right, what + " late right records");
        CHECK_MESSAGE(!got.behind_watermark, what << ": a row arrived behind the join's output watermark");
        CHECK_MESSAGE(got.held_after == 0, what << ": state left after the end of both inputs");
        ++cases;
      }
    }
  });
  CHECK(cases == 4 * 4 * 3 * 10);
}

// A record exactly at its input's watermark is on time (late is strictly
// behind it): the randomized streams above hit that edge a handful of times
// in all; here one record in four sits on it, on either input, and matches
// (or, outer, waits for) the other input's records like any other. Every
// time is on the millisecond grid (the watermarks too), so that records at
// the edge also tie with records of the other input (bounds [0, 0] match).
TEST_CASE("interval join: records exactly at their input's watermark are on time, and equal the brute-force model") {
  int cases = 0;
  std::size_t at_edge = 0;
  for_each_setting([&](const interval_settings& s) {
    for (std::uint32_t keys : {1u, 7u}) {
      for (std::uint64_t seed = 1; seed <= 4; ++seed) {
        const auto items = make_items(seed * 131 + keys, keys, 1200, 4, true);
        model m{s, {}, {}, {}};
        m.run(items);
        auto got = run_join(s, items);
        canonical(got.rows, items);
        canonical(m.rows, items);
        const std::string what = "at the watermark " + describe(s, seed, keys);
        test::same_nonempty_outputs(got.rows, m.rows, what + " rows");
        test::same_outputs(got.late_left, m.late_left, what + " late left records");
        test::same_outputs(got.late_right, m.late_right, what + " late right records");
        CHECK_MESSAGE(!got.behind_watermark, what << ": a row arrived behind the join's output watermark");
        CHECK_MESSAGE(got.held_after == 0, what << ": state left after the end of both inputs");
        // The stream does what it is for: records exactly at their watermark.
        std::int64_t lwm = no_time, rwm = no_time;
        for (const item& it : items) {
          if (it.kind == item::left_wm) lwm = it.w;
          if (it.kind == item::right_wm) rwm = it.w;
          if (it.kind == item::left && it.l.ts == lwm) ++at_edge;
          if (it.kind == item::right && it.r.ts == rwm) ++at_edge;
        }
        ++cases;
      }
    }
  });
  CHECK(cases == 4 * 4 * 2 * 4);
  CHECK(at_edge > 10'000);
}

TEST_CASE("interval join: rows of a small stream, and an unmatched record leaves as soon as the watermark proves it") {
  std::vector<row> rows;
  auto p = pipeline_of(interval_join(duration::from_nanos(-2), duration::from_nanos(3)).type(join_type::full),
                       collect(rows));
  p.push_left(order{10, 1, 1});
  p.push_right(fill{12, 1, 2});  // in [8, 13]
  p.push_right(fill{7, 1, 3});   // before 8: no match yet
  p.push_left(order{9, 1, 4});   // [7, 12]: fill 3 then fill 2
  p.push_right(fill{20, 2, 5});  // another key
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == row{order{10, 1, 1}, fill{12, 1, 2}});
  CHECK(rows[1] == row{order{9, 1, 4}, fill{7, 1, 3}});
  CHECK(rows[2] == row{order{9, 1, 4}, fill{12, 1, 2}});
  // Order 10's range ends at 13: a right watermark of 14 proves it, but it
  // matched. Fill 20 waits for the left watermark to pass 20 + 2.
  p.push_right_watermark(timestamp::from_nanos(14));
  CHECK(rows.size() == 3);
  CHECK(p.join().left_held() == 0);
  p.push_left_watermark(timestamp::from_nanos(22));
  CHECK(rows.size() == 3);
  CHECK(p.join().keys() == 1);  // key 1's fills, both matched, have left; fill 20 waits
  p.push_left_watermark(timestamp::from_nanos(23));
  REQUIRE(rows.size() == 4);
  CHECK(rows[3] == row{std::nullopt, fill{20, 2, 5}});
  CHECK(p.join().keys() == 0);
  p.finish();
  CHECK(rows.size() == 4);

  CHECK_THROWS_AS((void)interval_join(duration::from_nanos(5), duration::from_nanos(4)), usage_error);
  CHECK_THROWS_AS((void)interval_join(duration::zero(), duration::zero()).max_held(0), usage_error);
}

TEST_CASE("interval join: a checkpoint at a random point restores into a fresh pipeline that continues exactly") {
  // Every time on the millisecond grid: with times random to the
  // nanosecond, the inner join with bounds [0, 0] matched nothing, and its
  // restore compared two empty outputs.
  const auto items = make_items(4242, 20, 1500, 0, true);
  for_each_setting([&](const interval_settings& s) {
    join_streams::check_restore_at_random_cuts<row>(
        [&](std::vector<row>& out) { return pipeline_of(configured(s), collect(out)); }, items, 11, 3, 7,
        describe(s, 4242, 20) + " on the grid, after restore");
  });
}

namespace {

// Pushes one left and one right record per key every 500 us over 500 keys,
// watermarks 50 us behind every 64 pairs; checks that nothing allocates
// after `warm` pairs and that every key's state is freed at the end, and
// returns the most records held at once.
template <class Join>
std::size_t check_steady_state(Join join, std::int64_t pairs, std::int64_t warm) {
  std::uint64_t rows = 0;
  auto p = pipeline_of(std::move(join), count_events(rows));
  std::size_t peak = 0;
  std::uint64_t allocations = 0;
  for (std::int64_t i = 0; i < pairs; ++i) {
    const test::allocation_counter counter;
    const auto key = static_cast<std::uint32_t>(i % 500);
    p.push_left(order{i * 1000, key, i});
    p.push_right(fill{i * 1000 + 500, key, i});
    if (i % 64 == 63) {
      p.push_left_watermark(timestamp::from_nanos(i * 1000 - 50'000));
      p.push_right_watermark(timestamp::from_nanos(i * 1000 - 50'000));
    }
    if (i >= warm) allocations += counter.count();
    peak = std::max(peak, p.join().left_held() + p.join().right_held());
  }
  CHECK(allocations == 0);
  p.finish();
  CHECK(p.join().keys() == 0);
  // Each key sees one left and one right record every 500 us: within
  // [-3 us, +2 us] only its own pair matches; full adds nothing.
  CHECK(rows == static_cast<std::uint64_t>(pairs));
  return peak;
}

}  // namespace

TEST_CASE("interval join: state stays bounded as the watermarks move, and steady state allocates nothing") {
  for (join_type t : {join_type::inner, join_type::full}) {
    CAPTURE(to_string(t));
    const std::size_t peak =
        check_steady_state(interval_join(duration::from_nanos(-3000), duration::from_nanos(2000)).type(t), 1'000'000,
                           100'000);
    // The records within about 120 us of the watermarks, never the 2 million pushed.
    CHECK(peak < 1'000);
  }
}

TEST_CASE("interval join: an idle right input does not grow the held left records past max_held") {
  std::vector<row> rows;
  auto p = pipeline_of(interval_join(duration::zero(), duration::from_nanos(100)).type(join_type::left).max_held(500),
                       collect(rows));
  p.push_right(fill{5, 1, 0});
  p.push_right_watermark(timestamp::from_nanos(6));  // and then the fills stop
  std::size_t peak = 0;
  for (std::int64_t i = 1; i <= 50'000; ++i) {
    p.push_left(order{i * 10, static_cast<std::uint32_t>(i % 3), i});
    if (i % 100 == 0) p.push_left_watermark(timestamp::from_nanos(i * 10));
    peak = std::max(peak, p.join().left_held());
  }
  CHECK(peak == 500);
  CHECK(p.join().overflow_count() == 49'500);
  CHECK(rows.size() == 49'500);
  // The earliest held records left first, unmatched, in time order.
  CHECK(rows.front() == row{order{10, 1, 1}, std::nullopt});
  CHECK(rows[1] == row{order{20, 2, 2}, std::nullopt});
  CHECK(std::is_sorted(rows.begin(), rows.end(), [](const row& a, const row& b) { return a.left->ts < b.left->ts; }));
  p.finish();
  CHECK(rows.size() == 50'000);
}

TEST_CASE("interval join: past max_held, the overflow side outputs take the early records, with no outer row") {
  auto make = [](std::vector<row>& out, side_records<order>& left_side, side_records<fill>& right_side) {
    return pipeline_of(interval_join(duration::zero(), duration::from_nanos(100))
                           .type(join_type::full)
                           .max_held(50)
                           .overflow_left_to(left_side)
                           .overflow_right_to(right_side),
                       collect(out));
  };
  std::vector<row> rows, rows_restored;
  side_records<order> left_side, left_restored;
  side_records<fill> right_side, right_restored;
  auto p = make(rows, left_side, right_side);
  auto q = make(rows_restored, left_restored, right_restored);
  // The fills stop after one; the orders run on, their watermark with them.
  p.push_right(fill{5, 1, 0});
  p.push_right_watermark(timestamp::from_nanos(6));
  for (std::int64_t i = 1; i <= 3'000; ++i) {
    p.push_left(order{i * 10, 1, i});  // none matches the fill: that needs t_l <= 5
    if (i % 100 == 0) p.push_left_watermark(timestamp::from_nanos(i * 10));
    if (i == 1'234) {
      rows_restored = rows;  // collect's checkpoint holds only its length
      q.restore(snapshot::from_bytes(p.checkpoint(3).to_bytes()));
    }
    if (i > 1'234) {
      q.push_left(order{i * 10, 1, i});
      if (i % 100 == 0) q.push_left_watermark(timestamp::from_nanos(i * 10));
    }
    CHECK(p.join().left_held() <= 50);
  }
  CHECK(p.join().overflow_count() == 2'950);
  REQUIRE(left_side.count() == 2'950);
  for (std::size_t i = 0; i < left_side.records().size(); ++i) {
    CHECK(left_side.records()[i] == order{static_cast<std::int64_t>(i + 1) * 10, 1, static_cast<std::int64_t>(i + 1)});
  }
  // Only the fill's outer row has left: the left watermark passed 5 + 0.
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == row{std::nullopt, fill{5, 1, 0}});
  CHECK(right_side.count() == 0);
  test::same_outputs(left_restored.records(), left_side.records(), "left overflow after restore");
  p.finish();
  q.finish();
  CHECK(rows.size() == 51);  // the 50 held orders, unmatched once the fills end
  test::same_outputs(rows_restored, rows, "rows after restore");

  // The other way round: the orders stop, the fills overflow.
  std::vector<row> rows2;
  side_records<order> left2;
  side_records<fill> right2;
  auto r = make(rows2, left2, right2);
  r.push_left_watermark(timestamp::from_nanos(0));
  for (std::int64_t i = 1; i <= 200; ++i) r.push_right(fill{i * 10, 2, i});
  CHECK(right2.count() == 150);
  CHECK(right2.records().front() == fill{10, 2, 1});
  CHECK(left2.count() == 0);
  CHECK(rows2.empty());
  CHECK_THROWS_WITH_AS((void)pipeline_of(interval_join(duration::zero(), duration::zero()).overflow_left_to(left2),
                                         collect(rows2)),
                       doctest::Contains("need max_held(n)"), usage_error);
}

TEST_CASE("interval join: an idle timeout on the fill source frees the held orders, their outer rows in time order") {
  std::vector<row> rows;
  auto p = join_streams::with_idle_right_source<order, fill>(
      &order::ts, &order::key, &fill::ts, &fill::key,
      interval_join(duration::zero(), duration::from_nanos(100)).type(join_type::left), collect(rows));
  p.push_right(fill{100, 1, 0});
  p.push_right(fill{200, 1, 1});  // the fills' watermark: 190
  for (std::int64_t t = 150; t <= 2'000; t += 50) p.push_left(order{t, 1, t});
  // Orders at 150 and 200 matched the fill at 200 on arrival.
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == row{order{150, 1, 150}, fill{200, 1, 1}});
  CHECK(rows[1] == row{order{200, 1, 200}, fill{200, 1, 1}});
  CHECK(p.join().left_held() == 38);    // a fill up to 100 ns after each may still come
  p.tick(timestamp::from_nanos(1'000));  // the fill source was active since the last check
  CHECK(rows.size() == 2);
  p.tick(timestamp::from_nanos(2'200));  // idle for 1200 ns: the fills' watermark moves to 2190
  // Every order's window [t, t + 100] is now behind the fills' watermark:
  // the two that matched leave quietly, the rest as outer rows, in time order.
  CHECK(p.join().left_held() == 0);
  REQUIRE(rows.size() == 2 + 36);
  for (std::size_t i = 2; i < rows.size(); ++i) {
    const std::int64_t t = 250 + 50 * static_cast<std::int64_t>(i - 2);
    CHECK(rows[i] == row{order{t, 1, t}, std::nullopt});
  }
  CHECK(p.join().overflow_count() == 0);
  p.finish();
  CHECK(rows.size() == 38);
}

TEST_CASE("interval join: timestamps at the ends of time are joined and freed") {
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  std::vector<row> rows;
  side_records<order> late;
  auto p = pipeline_of(
      interval_join(duration::from_nanos(-10), duration::from_nanos(10)).type(join_type::full).late_left_to(late),
      collect(rows));
  p.push_left(order{hi, 1, 1});
  p.push_right(fill{hi - 5, 1, 2});
  p.push_left(order{lo, 2, 3});
  p.push_right(fill{lo + 3, 2, 4});
  p.push_right(fill{lo + 20, 2, 5});  // out of range of order 3
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == row{order{hi, 1, 1}, fill{hi - 5, 1, 2}});
  CHECK(rows[1] == row{order{lo, 2, 3}, fill{lo + 3, 2, 4}});
  p.push_left_watermark(timestamp::from_nanos(hi - 1));
  p.push_left(order{lo, 3, 6});  // far behind the watermark: late
  CHECK(late.records() == std::vector<order>{order{lo, 3, 6}});
  // Fill 5 (lo + 20) is past any left record still to come: its outer row left.
  REQUIRE(rows.size() == 3);
  CHECK(rows[2] == row{std::nullopt, fill{lo + 20, 2, 5}});
  p.finish();
  CHECK(rows.size() == 3);
  CHECK(p.join().keys() == 0);
}

// ---- inline storage (the newest records in the key's slot) and dense keys ----

namespace {

struct probe_entry {
  timestamp t{};
  int id = 0;
};

// The ids of a buffer's entries in [lo, hi], in its order.
template <class B>
std::vector<int> ids_in(B& b, std::int64_t lo, std::int64_t hi) {
  std::vector<int> ids;
  b.for_each_in(timestamp::from_nanos(lo), timestamp::from_nanos(hi), [&](probe_entry& e) { ids.push_back(e.id); });
  return ids;
}
template <class B>
std::vector<int> all_ids(const B& b) {
  std::vector<int> ids;
  b.for_each([&](const probe_entry& e) { ids.push_back(e.id); });
  return ids;
}

// Like run_join, for any configured join; also the most records held
// outside their key's slot at any step.
template <class Join>
run_result run_join_op(Join join, const std::vector<item>& items, std::size_t* peak_spilled = nullptr) {
  run_result out;
  std::size_t step = 0;
  side_records<order> late_l;
  side_records<fill> late_r;
  auto p = pipeline_of(std::move(join).late_left_to(late_l).late_right_to(late_r),
                       sink([&](const row& r) { out.rows.push_back({step, r}); }));
  for (; step < items.size(); ++step) {
    feed(p, items[step]);
    if (peak_spilled != nullptr) *peak_spilled = std::max(*peak_spilled, p.join().spilled());
  }
  p.finish();
  out.late_left = late_l.records();
  out.late_right = late_r.records();
  out.held_after = p.join().left_held() + p.join().right_held() + p.join().keys();
  return out;
}

template <class F>
void check_usage_error(const std::string& message, F&& f) {
  try {
    f();
    FAIL("no usage_error, expected one saying: " << message);
  } catch (const usage_error& e) {
    CHECK_MESSAGE(std::string(e.what()).find(message) != std::string::npos, e.what());
  }
}

struct signed_order {
  std::int64_t ts = 0;
  std::int32_t key = 0;
};
struct signed_fill {
  std::int64_t ts = 0;
  std::int32_t key = 0;
};

}  // namespace

TEST_CASE("interval join: the inline buffer keeps time order across the spill boundary, like a sorted vector") {
  constexpr std::size_t n = 4;
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    detail::inline_time_buffer<probe_entry, n> b;
    std::vector<probe_entry> model;
    int id = 0;
    std::int64_t front = 0;
    for (int op = 0; op < 60; ++op) {
      const auto r = rng() % 10;
      if (r < 6) {  // mostly in order, some behind, equal times
        front += static_cast<std::int64_t>(rng() % 3);
        const std::int64_t t = front - (rng() % 4 == 0 ? static_cast<std::int64_t>(rng() % 8) : 0);
        const probe_entry e{timestamp::from_nanos(t), id++};
        b.insert(e);
        model.insert(std::upper_bound(model.begin(), model.end(), t,
                                      [](std::int64_t x, const probe_entry& y) { return x < y.t.nanos(); }),
                     e);
      } else if (r < 8) {
        if (model.empty()) continue;
        CHECK(b.front().id == model.front().id);
        b.pop_front();
        model.erase(model.begin());
      } else {
        const std::int64_t lo = front - static_cast<std::int64_t>(rng() % 12);
        const std::int64_t hi = lo + static_cast<std::int64_t>(rng() % 6);
        std::vector<int> want;
        for (const probe_entry& e : model) {
          if (e.t.nanos() >= lo && e.t.nanos() <= hi) want.push_back(e.id);
        }
        CHECK(ids_in(b, lo, hi) == want);
      }
      std::vector<int> want;
      for (const probe_entry& e : model) want.push_back(e.id);
      REQUIRE(all_ids(b) == want);
      REQUIRE(b.size() == model.size());
      // The ring fills first: only what does not fit in it spills.
      REQUIRE(b.spilled() == (model.size() > n ? model.size() - n : 0));
    }
    // Restoring appends in order: the same sequence, the newest n inline.
    detail::inline_time_buffer<probe_entry, n> c;
    b.for_each([&](const probe_entry& e) { c.append(e); });
    CHECK(all_ids(c) == all_ids(b));
    CHECK(c.spilled() == b.spilled());
  }
}

TEST_CASE("interval join: rows equal the model when keys hold more records than fit inline") {
  std::uint64_t unused = 0;
  auto probe = pipeline_of(interval_join(duration::zero(), duration::zero()), count_events(unused));
  using stage = std::remove_cvref_t<decltype(probe.join())>;
  static_assert(stage::inline_left > 0 && stage::inline_right > 0, "the test's records fit inline");
  int cases = 0;
  for (join_type t : {join_type::inner, join_type::full}) {
    for (auto [lo, hi] : std::vector<std::pair<std::int64_t, std::int64_t>>{{-20 * ms, 20 * ms}, {ms, 40 * ms}}) {
      for (std::uint32_t keys : {1u, 3u}) {
        interval_settings s;
        s.lower = duration::from_nanos(lo);
        s.upper = duration::from_nanos(hi);
        s.type = t;
        const auto items = make_items(31 + keys, keys, 900);
        model m{s, {}, {}, {}};
        m.run(items);
        canonical(m.rows, items);
        const std::string what = describe(s, 31 + keys, keys);
        for (bool dense : {false, true}) {
          std::size_t peak_spilled = 0;
          auto got = dense ? run_join_op(configured(s).dense_keys(keys), items, &peak_spilled)
                           : run_join_op(configured(s), items, &peak_spilled);
          canonical(got.rows, items);
          test::same_outputs(got.rows, m.rows, what + (dense ? " dense" : " hashed") + " rows");
          CHECK_MESSAGE(peak_spilled > 0, what << ": no key ever held more records than fit inline");
          CHECK(got.held_after == 0);
          ++cases;
        }
      }
    }
  }
  CHECK(cases == 16);
}

TEST_CASE("interval join, dense keys: every join type equals the model and the hashed join on randomized streams") {
  int cases = 0;
  for_each_setting([&](const interval_settings& s) {
    for (std::uint32_t keys : {7u, 100u}) {
      for (std::uint64_t seed = 1; seed <= 2; ++seed) {
        const auto items = make_items(seed * 977 + keys, keys, 1200);
        model m{s, {}, {}, {}};
        m.run(items);
        auto hashed = run_join_op(configured(s), items);
        auto dense = run_join_op(configured(s).dense_keys(keys), items);
        canonical(m.rows, items);
        canonical(hashed.rows, items);
        canonical(dense.rows, items);
        const std::string what = describe(s, seed, keys);
        test::same_outputs(dense.rows, m.rows, what + " dense rows");
        test::same_outputs(dense.rows, hashed.rows, what + " dense vs hashed rows");
        test::same_outputs(dense.late_left, m.late_left, what + " dense late left records");
        test::same_outputs(dense.late_right, m.late_right, what + " dense late right records");
        CHECK_MESSAGE(dense.held_after == 0, what << ": state left after the end of both inputs");
        ++cases;
      }
    }
  });
  CHECK(cases == 4 * 4 * 2 * 2);
}

TEST_CASE("interval join, dense keys: a key below 0 or at or above n on either input is a usage_error naming it") {
  std::vector<row> rows;
  auto p = pipeline_of(interval_join(duration::zero(), duration::from_nanos(10)).dense_keys(10), collect(rows));
  p.push_left(order{1, 9, 1});  // the largest key that fits
  p.push_right(fill{5, 9, 2});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == row{order{1, 9, 1}, fill{5, 9, 2}});
  check_usage_error("interval_join: dense_keys(10): key 10 is not below 10", [&] { p.push_right(fill{6, 10, 3}); });
  check_usage_error("interval_join: dense_keys(10): key 12 is not below 10", [&] { p.push_left(order{6, 12, 4}); });
  // Also when nothing would be held (already past the other watermark), and late.
  p.push_right_watermark(timestamp::max());
  check_usage_error("dense_keys(10): key 11 is not below 10", [&] { p.push_left(order{7, 11, 5}); });
  p.push_left_watermark(timestamp::from_nanos(100));
  check_usage_error("dense_keys(10): key 13 is not below 10", [&] { p.push_left(order{7, 13, 6}); });
  CHECK(rows.size() == 1);

  std::vector<interval_row<signed_order, signed_fill>> signed_rows;
  auto q = connect(push<signed_order>() | event_time(&signed_order::ts) | key_by(&signed_order::key),
                   push<signed_fill>() | event_time(&signed_fill::ts) | key_by(&signed_fill::key)) |
           interval_join(duration::zero(), duration::from_nanos(10)).dense_keys(10) | collect(signed_rows);
  check_usage_error("interval_join: dense_keys: key -1 is negative", [&] { q.push_right(signed_fill{1, -1}); });
  check_usage_error("interval_join: dense_keys: key -2 is negative", [&] { q.push_left(signed_order{1, -2}); });

  check_usage_error("dense_keys(n) needs 0 < n", [] { (void)interval_join(duration::zero(), duration::zero()).dense_keys(0); });
  check_usage_error("dense_keys(n) needs 0 < n", [] {
    (void)interval_join(duration::zero(), duration::zero()).dense_keys((std::size_t{1} << 26) + 1);
  });
}

TEST_CASE("interval join: a checkpoint taken while records sit inline and spilled restores exactly, hashed and dense") {
  interval_settings s;
  s.lower = duration::from_nanos(-15 * ms);
  s.upper = duration::from_nanos(15 * ms);
  s.type = join_type::full;
  const auto items = make_items(77, 3, 1500);
  const auto check_restores = [&](auto make_join, const char* what) {
    std::vector<row> whole;
    // The steps after which some records sit spilled, and some only inline.
    std::vector<std::size_t> spilled_cuts, inline_cuts;
    {
      auto p = pipeline_of(make_join(), collect(whole));
      for (std::size_t i = 0; i < items.size(); ++i) {
        feed(p, items[i]);
        const std::size_t held = p.join().left_held() + p.join().right_held();
        if (p.join().spilled() > 0) spilled_cuts.push_back(i + 1);
        if (held > 0 && p.join().spilled() == 0) inline_cuts.push_back(i + 1);
      }
      p.finish();
    }
    REQUIRE_MESSAGE(spilled_cuts.size() > 10, what);
    REQUIRE_MESSAGE(inline_cuts.size() > 10, what);
    std::mt19937_64 rng(3);
    for (int trial = 0; trial < 6; ++trial) {
      const auto& cuts = trial % 2 == 0 ? spilled_cuts : inline_cuts;
      const std::size_t cut = cuts[rng() % cuts.size()];
      CAPTURE(cut);
      std::string bytes;
      std::vector<row> first;
      {
        auto p = pipeline_of(make_join(), collect(first));
        for (std::size_t i = 0; i < cut; ++i) feed(p, items[i]);
        bytes = p.checkpoint(3).to_bytes();
      }
      std::vector<row> rest = first;  // collect's checkpoint holds only its length
      auto q = pipeline_of(make_join(), collect(rest));
      q.restore(snapshot::from_bytes(bytes));
      CHECK((trial % 2 == 0 ? q.join().spilled() > 0 : q.join().spilled() == 0));
      for (std::size_t i = cut; i < items.size(); ++i) feed(q, items[i]);
      q.finish();
      test::same_outputs(rest, whole, std::string(what) + " after restore");
    }
  };
  check_restores([&] { return configured(s); }, "hashed");
  check_restores([&] { return configured(s).dense_keys(3); }, "dense");
}

TEST_CASE("interval join, dense keys: steady state allocates nothing") {
  (void)check_steady_state(interval_join(duration::from_nanos(-3000), duration::from_nanos(2000)).dense_keys(500),
                           300'000, 50'000);
}

TEST_CASE("interval join: a dense-key checkpoint restores into a hashed join, and a hashed one is refused by a dense join") {
  auto join = [] { return interval_join(duration::from_nanos(-100), duration::from_nanos(100)).type(join_type::full); };
  const std::vector<item> items{{item::left, order{10, 5, 1}, {}, 0},
                                {item::right, {}, fill{12, 3, 2}, 0},
                                {item::left, order{11, 3, 3}, {}, 0},
                                {item::right, {}, fill{50, 5, 4}, 0},
                                {item::left_wm, {}, {}, 40},
                                {item::right_wm, {}, {}, 40},
                                {item::left, order{60, 5, 5}, {}, 0},
                                {item::right, {}, fill{300, 3, 6}, 0}};
  const std::size_t cut = 4;
  std::vector<row> whole;
  {
    auto p = pipeline_of(join(), collect(whole));
    for (const item& it : items) feed(p, it);
    p.finish();
  }
  std::string dense_bytes, hashed_bytes;
  std::vector<row> dense_first;
  {
    auto p = pipeline_of(join().dense_keys(10), collect(dense_first));
    for (std::size_t i = 0; i < cut; ++i) feed(p, items[i]);
    dense_bytes = p.checkpoint(1).to_bytes();
  }
  {
    std::vector<row> first;
    auto p = pipeline_of(join(), collect(first));
    for (std::size_t i = 0; i < cut; ++i) feed(p, items[i]);
    hashed_bytes = p.checkpoint(1).to_bytes();
  }
  std::vector<row> rest = dense_first;  // collect's checkpoint holds only its length
  auto q = pipeline_of(join(), collect(rest));
  q.restore(snapshot::from_bytes(dense_bytes));
  for (std::size_t i = cut; i < items.size(); ++i) feed(q, items[i]);
  q.finish();
  test::same_outputs(rest, whole, "dense checkpoint restored into a hashed join");

  std::vector<row> refused;
  auto d = pipeline_of(join().dense_keys(10), collect(refused));
  CHECK_THROWS_AS(d.restore(snapshot::from_bytes(hashed_bytes)), checkpoint_error);
}

TEST_CASE("interval join: processing-time ticks pass on to the operators after it") {
  // A window after the join emits early results on the pipeline's tick:
  // they come only if the join passes the tick on.
  std::vector<window_row<std::uint32_t, std::int64_t>> early;
  auto p = pipeline_of(interval_join(duration::from_nanos(-2), duration::from_nanos(3)),
                       tumbling(duration::from_nanos(1'000'000'000))
                               .aggregate(count())
                               .emit_every(duration::from_nanos(50'000'000), time_domain::processing_time) |
                           collect(early));
  p.push_left(order{10, 1, 1});
  p.push_right(fill{12, 1, 2});
  p.push_right(fill{11, 1, 3});
  CHECK(early.empty());
  p.tick(timestamp::from_nanos(5'000'000'000));
  REQUIRE(early.size() == 1);
  CHECK(early[0].key == 1u);
  CHECK(early[0].value == 2);
}
