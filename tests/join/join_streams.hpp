// What the two-input join tests (ASOF, interval, temporal) share: the
// messages of a test stream, a seeded generator of out-of-order streams with
// many keys, feeding a stream into a connect() pipeline, the exact right
// watermark, the on-time left records in time order, and the
// checkpoint-at-a-random-point check.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include <laminar/laminar.hpp>

#include "support/differential.hpp"

namespace join_streams {

inline constexpr std::int64_t ms = 1'000'000;
inline constexpr std::int64_t no_time = std::numeric_limits<std::int64_t>::min();

/// What the keep_right tests keep of a right record: its time and one
/// value (a quote's bid, a rate's value).
struct timed_value {
  std::int64_t ts = 0;
  std::int64_t value = 0;
  friend bool operator==(const timed_value&, const timed_value&) = default;
  friend std::ostream& operator<<(std::ostream& os, const timed_value& v) {
    return os << "timed_value{" << v.ts << ", " << v.value << "}";
  }
  template <class A>
  void serialize(A& ar) {
    ar(ts, value);
  }
};

/// A whole-record join's rows with f applied to their right sides: what the
/// same join with keep_right(f) must give.
template <class L, class R, class F>
auto kept_rows(const std::vector<laminar::enriched_row<L, R>>& rows, F f) {
  using K = std::remove_cvref_t<std::invoke_result_t<F, const R&>>;
  std::vector<laminar::enriched_row<L, K>> out;
  for (const auto& r : rows) {
    out.push_back({r.left, r.right ? std::optional<K>(std::invoke(f, *r.right)) : std::nullopt});
  }
  return out;
}

/// A record with an event time, a key and an id (its index in the stream,
/// so that rows say which records they joined). Name::value is its printed name.
template <class Name>
struct keyed_record {
  std::int64_t ts = 0;
  std::uint32_t key = 0;
  std::int64_t id = 0;
  friend bool operator==(const keyed_record&, const keyed_record&) = default;
  friend std::ostream& operator<<(std::ostream& os, const keyed_record& r) {
    return os << Name::value << "{" << r.ts << ", " << r.key << ", #" << r.id << "}";
  }
  template <class A>
  void serialize(A& ar) {
    ar(ts, key, id);
  }
};
struct order_name {
  static constexpr const char* value = "order";
};
struct fill_name {
  static constexpr const char* value = "fill";
};
using order = keyed_record<order_name>;
using fill = keyed_record<fill_name>;

/// One message of a test stream: a record or a watermark of either input.
template <class L, class R>
struct stream_item {
  enum kind_t : std::uint8_t { left, right, left_wm, right_wm } kind;
  L l{};
  R r{};
  std::int64_t w = 0;
};

/// Pushes one message into a connect() pipeline.
template <class P, class L, class R>
void feed(P& p, const stream_item<L, R>& it) {
  using item = stream_item<L, R>;
  switch (it.kind) {
    case item::left: p.push_left(it.l); break;
    case item::right: p.push_right(it.r); break;
    case item::left_wm: p.push_left_watermark(laminar::timestamp::from_nanos(it.w)); break;
    case item::right_wm: p.push_right_watermark(laminar::timestamp::from_nanos(it.w)); break;
  }
}

/// How out of order a generated stream is, and how its watermarks move.
struct stream_shape {
  std::int64_t left_lag = 5 * ms;   // each input's watermark trails its highest time by its lag
  std::int64_t right_lag = 5 * ms;
  std::uint64_t grid_one_in = 10;   // about one time in this many on a whole millisecond
  bool all_on_grid = false;         // every time on the grid: ties with each other and the watermarks
  std::uint64_t wm_every = 6;       // a watermark moves after about one record in this many
  std::uint64_t at_watermark_one_in = 0;  // if not 0, about one record in this many is exactly at its
                                          // input's watermark: on time, at the lateness edge
};

/// n records on either input, each of one of `keys` keys: mostly a little
/// out of order, one in 25 far behind, duplicate times; each input's
/// watermark trailing its records (so that some records are late).
/// make_left / make_right (time, key, index) -> the record.
template <class L, class R, class MakeLeft, class MakeRight>
std::vector<stream_item<L, R>> out_of_order_items(std::mt19937_64& rng, std::uint32_t keys, std::size_t n,
                                                  const stream_shape& shape, MakeLeft make_left,
                                                  MakeRight make_right) {
  using item = stream_item<L, R>;
  std::vector<item> items;
  std::int64_t front = 1'000 * ms, lmax = 0, rmax = 0, lwm = no_time, rwm = no_time;
  for (std::size_t i = 0; i < n; ++i) {
    front += static_cast<std::int64_t>(rng() % (2 * ms));
    std::int64_t t = front - static_cast<std::int64_t>(rng() % (3 * ms));
    if (rng() % 25 == 0) t -= static_cast<std::int64_t>(rng() % (30 * ms));
    if (shape.all_on_grid || rng() % shape.grid_one_in == 0) t = (t / ms) * ms;
    const auto key = static_cast<std::uint32_t>(rng() % keys);
    const auto index = static_cast<std::int64_t>(i);
    const bool is_left = rng() % 2 == 0;
    const std::int64_t own_wm = is_left ? lwm : rwm;
    if (shape.at_watermark_one_in != 0 && own_wm != no_time && rng() % shape.at_watermark_one_in == 0) t = own_wm;
    if (is_left) {
      items.push_back({item::left, make_left(t, key, index), {}, 0});
      lmax = std::max(lmax, t);
    } else {
      items.push_back({item::right, {}, make_right(t, key, index), 0});
      rmax = std::max(rmax, t);
    }
    if (rng() % shape.wm_every == 0 && lmax - shape.left_lag > lwm) {
      items.push_back({item::left_wm, {}, {}, lwm = lmax - shape.left_lag});
    }
    if (rng() % shape.wm_every == 0 && rmax - shape.right_lag > rwm) {
      items.push_back({item::right_wm, {}, {}, rwm = rmax - shape.right_lag});
    }
  }
  return items;
}

/// The stream with an exact right watermark, as a table's changelog source
/// gives it: each right watermark becomes the least time of the right
/// records still to come (left out where that does not move it, or none
/// is left), so no right record is late.
template <class L, class R>
std::vector<stream_item<L, R>> with_exact_right_watermarks(const std::vector<stream_item<L, R>>& items) {
  using item = stream_item<L, R>;
  constexpr std::int64_t none_left = std::numeric_limits<std::int64_t>::max();
  std::vector<std::int64_t> suffix_min(items.size() + 1, none_left);
  for (std::size_t i = items.size(); i-- > 0;) {
    suffix_min[i] = items[i].kind == item::right ? std::min(suffix_min[i + 1], items[i].r.ts) : suffix_min[i + 1];
  }
  std::vector<item> out;
  std::int64_t rwm = no_time;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].kind != item::right_wm) {
      out.push_back(items[i]);
    } else if (suffix_min[i] > rwm && suffix_min[i] != none_left) {
      out.push_back({item::right_wm, {}, {}, rwm = suffix_min[i]});
    }
  }
  return out;
}

/// The left records on time by the left watermark, in time order (equal
/// times in arrival order); the late ones go to `late`, in arrival order.
template <class L, class R>
std::vector<L> on_time_lefts(const std::vector<stream_item<L, R>>& items, std::vector<L>& late) {
  using item = stream_item<L, R>;
  std::vector<L> on_time;
  std::int64_t lwm = no_time;
  for (const item& it : items) {
    if (it.kind == item::left_wm) lwm = std::max(lwm, it.w);
    if (it.kind != item::left) continue;
    if (it.l.ts < lwm) {
      late.push_back(it.l);
    } else {
      on_time.push_back(it.l);
    }
  }
  std::stable_sort(on_time.begin(), on_time.end(), [](const L& a, const L& b) { return a.ts < b.ts; });
  return on_time;
}

/// A connect() pipeline whose sources make their own watermarks, 10 ns
/// behind their highest time; the right source's also moves on with
/// processing time once it has been idle for 1000 ns (its idle timeout,
/// checked on the pipeline's tick).
template <class L, class R, class LeftTime, class LeftKey, class RightTime, class RightKey, class Join, class Sink>
auto with_idle_right_source(LeftTime lt, LeftKey lk, RightTime rt, RightKey rk, Join join, Sink out) {
  using namespace laminar;
  const auto lag = duration::from_nanos(10);
  return connect(push<L>() | with_watermarks(lt, bounded_out_of_orderness(lag)) | key_by(lk),
                 push<R>() | with_watermarks(rt, bounded_out_of_orderness(lag).with_idle_timeout(duration::from_nanos(1'000))) |
                     key_by(rk)) |
         std::move(join) | std::move(out);
}

/// Runs the items through make(rows) whole; then, at `trials` cuts drawn
/// from a generator seeded with `seed`, through one pipeline checkpointed
/// (as `checkpoint_id`) at the cut and a fresh one restored from it that
/// takes the rest: the restored run's rows (collect comes back with those
/// before the cut) must equal the whole run's.
template <class Row, class Make, class L, class R>
void check_restore_at_random_cuts(Make make, const std::vector<stream_item<L, R>>& items, std::uint64_t seed,
                                  int trials, std::uint64_t checkpoint_id, const std::string& what) {
  std::vector<Row> whole;
  {
    auto p = make(whole);
    for (const auto& it : items) feed(p, it);
    p.finish();
  }
  std::mt19937_64 rng(seed);
  for (int trial = 0; trial < trials; ++trial) {
    const std::size_t cut = rng() % items.size();
    CAPTURE(cut);
    std::vector<Row> first;
    std::string bytes;
    {
      auto p = make(first);
      for (std::size_t i = 0; i < cut; ++i) feed(p, items[i]);
      bytes = p.checkpoint(checkpoint_id).to_bytes();
    }
    std::vector<Row> rest = first;  // collect's checkpoint holds only its length
    auto q = make(rest);
    q.restore(laminar::snapshot::from_bytes(bytes));
    for (std::size_t i = cut; i < items.size(); ++i) feed(q, items[i]);
    q.finish();
    laminar::test::same_nonempty_outputs(rest, whole, what);
  }
}

}  // namespace join_streams
