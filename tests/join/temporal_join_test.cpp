// Temporal join: each left record joined with the version of the right
// table (a changelog: +I / -U / +U / -D, or plain upserts) that was valid
// at the left record's event time. A differential test against a model
// that replays the whole table's history for each left record, on
// randomized out-of-order streams with many keys, inner and left; restore at
// random points; bounded state; the changelog's deletes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <utility>
#include <string>
#include <vector>

#include <laminar/laminar.hpp>
#include <laminar/join/temporal.hpp>

#include "join/join_streams.hpp"
#include "support/counting_allocator.hpp"
#include "support/differential.hpp"

using namespace laminar;
using join_streams::ms;
using join_streams::no_time;
using join_streams::order;  // its key is the currency

namespace {

// A row of the versioned rates table's changelog.
struct rate {
  std::int64_t ts = 0;
  std::uint32_t currency = 0;
  std::int64_t value = 0;
  change_kind kind = change_kind::insert;
  friend bool operator==(const rate&, const rate&) = default;
  friend std::ostream& operator<<(std::ostream& os, const rate& r) {
    return os << "rate{" << r.ts << ", " << r.currency << ", " << r.value << ", " << r.kind << "}";
  }
  template <class A>
  void serialize(A& ar) {
    ar(ts, currency, value, kind);
  }
};

}  // namespace

template <>
struct laminar::changelog_traits<rate> {
  static constexpr auto kind = &rate::kind;
};

namespace {
using row = temporal_row<order, rate>;
using item = join_streams::stream_item<order, rate>;
using join_streams::feed;

// Orders a little out of order (some late); the rates' changelog per
// currency: an insert, updates (-U then +U at one time), deletes and
// re-inserts, a little out of order across currencies. The right
// watermark is exact (the least time of the changes still to come), as a
// table's changelog source gives it; the left one trails by 4 ms.
std::vector<item> make_items(std::uint64_t seed, std::uint32_t keys, std::size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<item> items;
  std::vector<bool> present(keys, false);
  std::vector<std::int64_t> value(keys, 0);
  std::int64_t front = 1'000 * ms, lmax = 0, lwm = no_time;
  for (std::size_t i = 0; i < n; ++i) {
    front += static_cast<std::int64_t>(rng() % (2 * ms));
    std::int64_t t = front - static_cast<std::int64_t>(rng() % (3 * ms));
    if (rng() % 8 == 0) t = (t / ms) * ms;
    const auto key = static_cast<std::uint32_t>(rng() % keys);
    if (rng() % 3 != 0) {
      if (rng() % 30 == 0) t -= static_cast<std::int64_t>(rng() % (20 * ms));
      items.push_back({item::left, order{t, key, static_cast<std::int64_t>(i)}, {}, 0});
      lmax = std::max(lmax, t);
    } else {
      const auto v = static_cast<std::int64_t>(i);
      if (!present[key]) {
        items.push_back({item::right, {}, rate{t, key, v, change_kind::insert}, 0});
        present[key] = true;
      } else if (rng() % 5 == 0) {
        items.push_back({item::right, {}, rate{t, key, value[key], change_kind::remove}, 0});
        present[key] = false;
      } else {
        items.push_back({item::right, {}, rate{t, key, value[key], change_kind::update_before}, 0});
        items.push_back({item::right, {}, rate{t, key, v, change_kind::update_after}, 0});
      }
      value[key] = v;
    }
    if (rng() % 6 == 0 && lmax - 4 * ms > lwm) items.push_back({item::left_wm, {}, {}, lwm = lmax - 4 * ms});
    if (rng() % 6 == 0) items.push_back({item::right_wm, {}, {}, 0});  // placed below
  }
  // The right watermark: the least time of the changes still to come.
  return join_streams::with_exact_right_watermarks(items);
}

// The model: for each on-time left record, the table's history replayed:
// the last change (by time, then arrival) at or before the left record's
// time; a row with it if it is an insert or an update's after-image, else
// (a delete, an update's before-image alone, or no change yet) none. Rows
// in left time order (equal times in arrival order).
std::vector<row> reference(const std::vector<item>& items, join_type type, std::vector<order>& late) {
  std::vector<rate> changes;
  for (const item& it : items) {
    if (it.kind == item::right) changes.push_back(it.r);
  }
  std::vector<row> rows;
  for (const order& o : join_streams::on_time_lefts(items, late)) {
    const rate* version = nullptr;
    for (const rate& c : changes) {  // arrival order: the last of equal times wins
      if (c.currency == o.key && c.ts <= o.ts && (version == nullptr || c.ts >= version->ts)) version = &c;
    }
    const bool valid = version != nullptr && (version->kind == change_kind::insert ||
                                              version->kind == change_kind::update_after);
    if (valid) {
      rows.push_back({o, *version});
    } else if (type == join_type::left) {
      rows.push_back({o, std::nullopt});
    }
  }
  return rows;
}

template <class Join, class Sink>
auto pipeline_of(Join join, Sink out) {
  return connect(push<order>() | event_time(&order::ts) | key_by(&order::key),
                 push<rate>() | event_time(&rate::ts) | key_by(&rate::currency)) |
         std::move(join) | std::move(out);
}

}  // namespace

TEST_CASE("temporal join: rows equal the table's version at each left record's time, inner and left") {
  int cases = 0;
  for (join_type type : {join_type::inner, join_type::left}) {
    for (std::uint32_t keys : {1u, 6u, 80u}) {
      for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        const auto items = make_items(seed * 613 + keys, keys, 1500);
        std::vector<order> want_late;
        const auto want = reference(items, type, want_late);
        std::vector<row> rows;
        side_records<order> late;
        std::int64_t out_wm = no_time;
        bool behind = false;
        auto p = pipeline_of(temporal_join().type(type).late_to(late), sink(
                                                                           [&](const row& r) {
                                                                             if (r.left.ts < out_wm) behind = true;
                                                                             rows.push_back(r);
                                                                           },
                                                                           [&](timestamp w) { out_wm = w.nanos(); }));
        for (const item& it : items) feed(p, it);
        p.finish();
        const std::string what = std::string(to_string(type)) + " keys " + std::to_string(keys) + " seed " +
                                 std::to_string(seed);
        test::same_outputs(rows, want, what + " rows");
        test::same_outputs(late.records(), want_late, what + " late left records");
        CHECK_MESSAGE(!behind, what << ": a row arrived behind the join's output watermark");
        CHECK(p.join().left_held() == 0);
        ++cases;
      }
    }
  }
  CHECK(cases == 2 * 3 * 40);
}

TEST_CASE("temporal join: a small history with an update and a delete") {
  std::vector<row> rows;
  auto p = pipeline_of(temporal_join().type(join_type::left), collect(rows));
  p.push_right(rate{10, 1, 100, change_kind::insert});
  p.push_right(rate{20, 1, 100, change_kind::update_before});
  p.push_right(rate{20, 1, 105, change_kind::update_after});
  p.push_right(rate{30, 1, 105, change_kind::remove});
  p.push_left(order{5, 1, 1});   // before the insert
  p.push_left(order{15, 1, 2});  // 100
  p.push_left(order{20, 1, 3});  // 105: the version from 20 on
  p.push_left(order{35, 1, 4});  // deleted
  p.push_left(order{12, 2, 5});  // no such key
  CHECK(rows.empty());           // held until the rates' watermark passes them
  p.push_right_watermark(timestamp::from_nanos(16));
  p.push_left_watermark(timestamp::from_nanos(16));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == row{order{5, 1, 1}, std::nullopt});
  CHECK(rows[1] == row{order{12, 2, 5}, std::nullopt});
  CHECK(rows[2] == row{order{15, 1, 2}, rate{10, 1, 100, change_kind::insert}});
  // A right watermark at 20 says changes at 20 may still come: order 20 waits.
  p.push_right_watermark(timestamp::from_nanos(20));
  p.push_left_watermark(timestamp::from_nanos(40));
  CHECK(rows.size() == 3);
  // An update's before-image alone takes the row away.
  p.push_right(rate{21, 3, 7, change_kind::insert});
  p.push_right(rate{22, 3, 7, change_kind::update_before});
  p.push_left(order{40, 3, 6});
  p.finish();
  REQUIRE(rows.size() == 6);
  CHECK(rows[3] == row{order{20, 1, 3}, rate{20, 1, 105, change_kind::update_after}});
  CHECK(rows[4] == row{order{35, 1, 4}, std::nullopt});
  CHECK(rows[5] == row{order{40, 3, 6}, std::nullopt});
}

TEST_CASE("temporal join: plain records (no change kind) are upserts") {
  struct price {
    std::int64_t ts;
    std::uint32_t currency;
    std::int64_t value;
    bool operator==(const price&) const = default;
  };
  std::vector<temporal_row<order, price>> rows;
  auto p = connect(push<order>() | event_time(&order::ts) | key_by(&order::key),
                   push<price>() | event_time(&price::ts) | key_by(&price::currency)) |
           temporal_join() | collect(rows);
  p.push_right(price{10, 1, 7});
  p.push_right(price{20, 1, 8});
  p.push_left(order{15, 1, 1});
  p.push_left(order{25, 1, 2});
  p.push_left(order{5, 1, 3});  // no version yet: dropped (inner)
  p.finish();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].right->value == 7);
  CHECK(rows[1].right->value == 8);
  CHECK_THROWS_AS((void)temporal_join().type(join_type::full), usage_error);
}

TEST_CASE("temporal join: a restore at a random point continues exactly") {
  join_streams::check_restore_at_random_cuts<row>(
      [](std::vector<row>& out) { return pipeline_of(temporal_join().type(join_type::left), collect(out)); },
      make_items(31, 20, 2000), 3, 5, 2, "temporal join after restore");
}

namespace {

// What a temporal join with keep_right keeps of a change: its time and
// value (not the currency, not the kind).
using join_streams::kept_rows;
using join_streams::timed_value;
constexpr auto keep_value = [](const rate& r) { return timed_value{r.ts, r.value}; };
using value_row = temporal_row<order, timed_value>;

}  // namespace

TEST_CASE("temporal join: keep_right(f) gives the whole join's rows with f applied to their versions") {
  int cases = 0;
  std::size_t matched = 0;
  for (join_type type : {join_type::inner, join_type::left}) {
    for (std::uint32_t keys : {1u, 6u, 80u}) {
      for (std::uint64_t seed = 1; seed <= 10; ++seed) {
        const auto items = make_items(seed * 419 + keys, keys, 1500);
        std::vector<row> whole;
        std::vector<value_row> kept;
        std::vector<temporal_row<order, std::int64_t>> member;
        auto p = pipeline_of(temporal_join().type(type), collect(whole));
        auto q = pipeline_of(temporal_join().type(type).keep_right(keep_value), collect(kept));
        auto m = pipeline_of(temporal_join().keep_right(&rate::value).type(type), collect(member));
        for (const item& it : items) {
          feed(p, it);
          feed(q, it);
          feed(m, it);
        }
        p.finish();
        q.finish();
        m.finish();
        matched += static_cast<std::size_t>(
            std::count_if(whole.begin(), whole.end(), [](const row& r) { return r.right.has_value(); }));
        const std::string what = std::string(to_string(type)) + " keys " + std::to_string(keys) + " seed " +
                                 std::to_string(seed);
        test::same_outputs(kept, kept_rows(whole, keep_value), what + " keeping a struct");
        test::same_outputs(member, kept_rows(whole, &rate::value), what + " keeping a member");
        CHECK(q.join().right_held() == p.join().right_held());
        ++cases;
      }
    }
  }
  CHECK(cases == 2 * 3 * 10);
  CHECK(matched > 10000);
}

TEST_CASE("temporal join: with keep_right(f) what is kept is checkpointed, and a restore continues exactly") {
  join_streams::check_restore_at_random_cuts<value_row>(
      [](std::vector<value_row>& out) {
        return pipeline_of(temporal_join().type(join_type::left).keep_right(keep_value), collect(out));
      },
      make_items(37, 20, 2000), 4, 5, 2, "temporal join keeping a struct, after restore");
}

TEST_CASE("temporal join: versions are freed as the watermarks move, and steady state allocates nothing") {
  std::uint64_t rows = 0;
  auto p = pipeline_of(temporal_join(), count_events(rows));
  std::size_t peak = 0;
  std::uint64_t allocations = 0;
  for (std::int64_t i = 0; i < 1'000'000; ++i) {
    const test::allocation_counter counter;
    const auto key = static_cast<std::uint32_t>(i % 300);
    p.push_right(rate{i * 1000, key, i, i < 300 ? change_kind::insert : change_kind::update_after});
    p.push_left(order{i * 1000 + 500, key, i});
    if (i % 64 == 63) {
      p.push_left_watermark(timestamp::from_nanos(i * 1000 - 20'000));
      p.push_right_watermark(timestamp::from_nanos(i * 1000));
    }
    if (i >= 100'000) allocations += counter.count();
    peak = std::max(peak, p.join().right_held() + p.join().left_held());
  }
  CHECK(allocations == 0);
  CHECK(peak < 2'000);  // a version per key plus those since the watermarks; never the million pushed
  p.finish();
  CHECK(rows == 1'000'000);
}

TEST_CASE("temporal join: an idle rates input does not grow the held orders past max_held") {
  // Without an overflow output the earliest held order leaves joined with
  // the version that has arrived; with one it goes there, unjoined.
  std::vector<row> rows, rows_overflowing;
  side_records<order> overflow;
  auto p = pipeline_of(temporal_join().type(join_type::left).max_held(300), collect(rows));
  auto q = pipeline_of(temporal_join().type(join_type::left).max_held(300).overflow_to(overflow),
                       collect(rows_overflowing));
  p.push_right(rate{0, 1, 100, change_kind::insert});
  q.push_right(rate{0, 1, 100, change_kind::insert});
  p.push_right_watermark(timestamp::from_nanos(1));  // and then the rates stop
  q.push_right_watermark(timestamp::from_nanos(1));
  std::size_t peak = 0;
  for (std::int64_t i = 1; i <= 20'000; ++i) {
    const order o{i * 10, static_cast<std::uint32_t>(i % 2), i};
    p.push_left(o);
    q.push_left(o);
    if (i % 100 == 0) {
      p.push_left_watermark(timestamp::from_nanos(i * 10));
      q.push_left_watermark(timestamp::from_nanos(i * 10));
    }
    peak = std::max({peak, p.join().left_held(), q.join().left_held()});
  }
  CHECK(peak == 300);
  CHECK(p.join().overflow_count() == 19'700);
  CHECK(q.join().overflow_count() == 19'700);
  REQUIRE(rows.size() == 19'700);
  CHECK(rows[0] == row{order{10, 1, 1}, rate{0, 1, 100, change_kind::insert}});  // joined with what had arrived
  CHECK(rows[1] == row{order{20, 0, 2}, std::nullopt});
  CHECK(rows_overflowing.empty());
  REQUIRE(overflow.count() == 19'700);
  CHECK(overflow.records().front() == order{10, 1, 1});
  CHECK(overflow.records().back() == order{197'000, 0, 19'700});
  p.finish();
  q.finish();
  CHECK(rows.size() == 20'000);
  CHECK(rows_overflowing.size() == 300);  // exact once the rates end
  test::same_outputs(rows_overflowing, std::vector<row>(rows.end() - 300, rows.end()), "the last 300 orders");
  CHECK_THROWS_WITH_AS((void)pipeline_of(temporal_join().overflow_to(overflow), collect(rows)),
                       doctest::Contains("overflow_to() needs max_held(n)"), usage_error);
}

TEST_CASE("temporal join: a checkpoint restores the overflow side output with the held orders") {
  auto make = [](std::vector<row>& out, side_records<order>& side) {
    return pipeline_of(temporal_join().max_held(10).overflow_to(side), collect(out));
  };
  const auto items = make_items(77, 10, 3000);
  std::vector<row> whole;
  side_records<order> whole_side;
  {
    auto p = make(whole, whole_side);
    for (const item& it : items) feed(p, it);
    p.finish();
  }
  CHECK(whole_side.count() > 100);  // the held orders overflow often at 10
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 4; ++trial) {
    const std::size_t cut = rng() % items.size();
    CAPTURE(cut);
    std::vector<row> first, rest;
    side_records<order> first_side, rest_side;
    std::string bytes;
    {
      auto p = make(first, first_side);
      for (std::size_t i = 0; i < cut; ++i) feed(p, items[i]);
      bytes = p.checkpoint(9).to_bytes();
    }
    rest = first;  // collect's checkpoint holds only its length
    auto q = make(rest, rest_side);
    q.restore(snapshot::from_bytes(bytes));
    for (std::size_t i = cut; i < items.size(); ++i) feed(q, items[i]);
    q.finish();
    test::same_outputs(rest, whole, "rows after restore");
    test::same_outputs(rest_side.records(), whole_side.records(), "overflow after restore");
  }
}

TEST_CASE("temporal join: an idle timeout on the rates source releases the held orders, exact") {
  std::vector<row> rows;
  auto p = join_streams::with_idle_right_source<order, rate>(&order::ts, &order::key, &rate::ts, &rate::currency,
                                                             temporal_join(), collect(rows));
  p.push_right(rate{100, 1, 7, change_kind::insert});
  p.push_right(rate{200, 1, 8, change_kind::update_after});  // the rates' watermark: 190
  for (std::int64_t t = 150; t <= 2'000; t += 50) p.push_left(order{t, 1, t});  // the orders': 1990
  REQUIRE(rows.size() == 1);  // the order at 150; the rates' watermark holds the rest
  p.tick(timestamp::from_nanos(1'000));
  p.tick(timestamp::from_nanos(2'200));  // idle for 1200 ns: the rates' watermark moves to 2190
  REQUIRE(rows.size() == 37);            // 150 .. 1950, in time order
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::int64_t t = 150 + 50 * static_cast<std::int64_t>(i);
    CHECK(rows[i].left.ts == t);
    REQUIRE(rows[i].right.has_value());
    CHECK(rows[i].right->value == (t < 200 ? 7 : 8));
  }
  CHECK(p.join().left_held() == 1);  // 2000 waits for the orders' own watermark
  CHECK(p.join().overflow_count() == 0);
  p.finish();
  CHECK(rows.size() == 38);
}

TEST_CASE("temporal join: processing-time ticks pass on to the operators after it") {
  // A window after the join emits early results on the pipeline's tick:
  // they come only if the join passes the tick on.
  std::vector<window_row<std::uint32_t, std::int64_t>> early;
  auto p = pipeline_of(temporal_join().type(join_type::left),
                       tumbling(duration::from_nanos(1'000'000'000))
                               .aggregate(count())
                               .emit_every(duration::from_nanos(50'000'000), time_domain::processing_time) |
                           collect(early));
  p.push_right(rate{10, 1, 100, change_kind::insert});
  p.push_left(order{15, 1, 1});
  p.push_right_watermark(timestamp::from_nanos(16));
  p.push_left_watermark(timestamp::from_nanos(16));  // the order is released to the window
  CHECK(early.empty());
  p.tick(timestamp::from_nanos(5'000'000'000));
  REQUIRE(early.size() == 1);
  CHECK(early[0].key == 1u);
  CHECK(early[0].value == 1);
}

TEST_CASE("held left records: released by time then arrival, saved and loaded, and a broken checkpoint is refused") {
  detail::held_left<std::int64_t> held;
  const auto at = [](std::int64_t t) { return timestamp::from_nanos(t); };
  for (const auto& [t, id] : std::vector<std::pair<std::int64_t, std::int64_t>>{{5, 1}, {3, 2}, {5, 3}, {1, 4}, {3, 5}}) {
    held.push(at(t), id);
  }
  state_writer w;
  held.save_state(w);
  detail::held_left<std::int64_t> copy;
  state_reader r(w.bytes());
  copy.load_state(r, "test_join");
  for (detail::held_left<std::int64_t>* h : {&held, &copy}) {
    std::vector<std::int64_t> popped;
    while (!h->empty()) popped.push_back(h->pop().record);
    CHECK(popped == std::vector<std::int64_t>{4, 2, 5, 1, 3});  // equal times in arrival order
  }

  // A checkpoint whose held records are not a heap, or whose arrival
  // numbers are not below the next one, names the join and the problem.
  const auto refused = [](std::uint64_t next_seq, std::vector<std::pair<std::int64_t, std::uint64_t>> entries,
                          const std::string& message) {
    state_writer bad;
    bad(timestamp::min(), timestamp::min(), next_seq, static_cast<std::uint64_t>(entries.size()));  // watermarks first
    for (const auto& [t, seq] : entries) bad(timestamp::from_nanos(t), seq, std::int64_t{0});
    detail::held_left<std::int64_t> h;
    state_reader in(bad.bytes());
    try {
      h.load_state(in, "test_join");
      FAIL("no checkpoint_error, expected one saying: " << message);
    } catch (const checkpoint_error& e) {
      CHECK_MESSAGE(std::string(e.what()).find(message) != std::string::npos, e.what());
      CHECK_MESSAGE(std::string(e.what()).find("test_join") != std::string::npos, e.what());
    }
  };
  refused(2, {{9, 0}, {1, 1}}, "held left records are out of order");
  refused(2, {{1, 0}, {9, 2}}, "has arrival number 2, not below the next one (2)");
}

namespace {

// A rates changelog read by its weight, and rates with a member named kind
// that do not opt in (so every one of them is an upsert).
struct weighted_rate {
  std::int64_t ts = 0;
  std::uint32_t currency = 0;
  std::int64_t value = 0;
  std::int64_t weight = 1;
};
struct kind_lookalike {
  std::int64_t ts = 0;
  std::uint32_t currency = 0;
  std::int64_t value = 0;
  change_kind kind = change_kind::insert;
};

}  // namespace

template <>
struct laminar::changelog_traits<weighted_rate> {
  static constexpr auto weight = &weighted_rate::weight;
};

namespace {

/// The rate value each of the orders at 15 and 25 (currency 1) joins, after
/// the rates at 10 (an insert) and 20 (the same row with the other change).
template <class R>
std::vector<std::optional<std::int64_t>> joined_values(const std::vector<R>& rates) {
  std::vector<std::optional<std::int64_t>> got;
  auto p = connect(push<order>() | event_time(&order::ts) | key_by(&order::key),
                   push<R>() | event_time(&R::ts) | key_by(&R::currency)) |
           temporal_join().type(join_type::left) | sink([&](const temporal_row<order, R>& r) {
             got.push_back(r.right ? std::optional<std::int64_t>(r.right->value) : std::nullopt);
           });
  for (const R& r : rates) p.push_right(r);
  p.push_left(order{15, 1, 1});
  p.push_left(order{25, 1, 2});
  p.finish();
  return got;
}

}  // namespace

TEST_CASE("temporal join: only rows that opt in are a changelog; a weight <= 0 removes the key's row") {
  using values = std::vector<std::optional<std::int64_t>>;
  CHECK(joined_values(std::vector<weighted_rate>{{10, 1, 100, 1}, {20, 1, 100, -1}}) == values{100, std::nullopt});
  CHECK(joined_values(std::vector<weighted_rate>{{10, 1, 100, 1}, {20, 1, 105, 2}}) == values{100, 105});
  CHECK(joined_values(std::vector<change<weighted_rate>>{{{10, 1, 100, 1}, change_kind::insert},
                                                         {{20, 1, 100, 1}, change_kind::remove}}) ==
        values{100, std::nullopt});
  // Not opted in: the -D is one more upsert.
  CHECK(joined_values(std::vector<kind_lookalike>{{10, 1, 100, change_kind::insert}, {20, 1, 100, change_kind::remove}}) ==
        values{100, 100});
}
