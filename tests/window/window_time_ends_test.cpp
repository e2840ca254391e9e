// Tumbling, hopping and cumulate windows at the ends of time: records at
// INT64_MIN, INT64_MIN + 1, ... and near INT64_MAX, against a reference that
// enumerates each record's windows in 128-bit arithmetic and clamps them as
// assigners.hpp says (a start before the beginning of time is min(); every
// window reaching the end of time is one window ending at max()). Every
// record must be in its windows' rows or late.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include <laminar/laminar.hpp>

using namespace laminar;
using namespace std::chrono_literals;

namespace {

__extension__ using i128 = __int128;

constexpr std::int64_t lo = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t hi = std::numeric_limits<std::int64_t>::max();

struct rec {
  std::int64_t ts;
  std::uint32_t key;
  std::int64_t tag;  // random: a window's sum of tags tells which records it holds
};
struct counted {
  std::int64_t n;
  std::int64_t tags;
  friend bool operator==(const counted&, const counted&) = default;
};

enum class shape { tumbling, hopping, cumulate };
struct spec {
  shape kind;
  std::int64_t size;    // tumbling / hopping size, cumulate max size
  std::int64_t slide;   // hopping slide, cumulate step (tumbling: size)
  std::int64_t offset;  // in [0, slide)
};

i128 floor_div(i128 a, i128 b) {
  i128 q = a / b;
  if (a % b != 0 && (a < 0) != (b < 0)) --q;
  return q;
}
i128 floor_on(i128 t, i128 unit, i128 offset) { return floor_div(t - offset, unit) * unit + offset; }
i128 ceil_on(i128 t, i128 unit, i128 offset) {
  const i128 f = floor_on(t, unit, offset);
  return f == t ? f : f + unit;
}

using bounds = std::pair<std::int64_t, std::int64_t>;  // [start, end) as reported

// The windows containing t, as reported.
std::set<bounds> windows_of(const spec& s, std::int64_t t) {
  std::vector<std::pair<i128, i128>> exact;
  i128 length = s.size;  // from a window's start to the end of the longest
  i128 start_unit = s.slide;
  if (s.kind == shape::cumulate) {
    const i128 p = floor_on(t, s.size, s.offset % s.size);
    for (i128 e = p + s.slide; e <= p + s.size; e += s.slide) {
      if (e > t) exact.emplace_back(p, e);
    }
    start_unit = s.size;
  } else {
    for (i128 st = floor_on(t, s.slide, s.offset); st + s.size > t; st -= s.slide) exact.emplace_back(st, st + s.size);
  }
  // The first window reaching the end of time starts here.
  const i128 last_start =
      ceil_on(i128{hi} - length, start_unit, s.kind == shape::cumulate ? s.offset % s.size : s.offset);
  std::set<bounds> out;
  for (const auto& [st, e] : exact) {
    if (e >= hi) {
      out.emplace(static_cast<std::int64_t>(last_start), hi);
    } else {
      out.emplace(static_cast<std::int64_t>(std::max<i128>(st, lo)), static_cast<std::int64_t>(e));
    }
  }
  return out;
}

// The windows' rows and late records a final window must produce for
// records arriving in this order, with the watermark the highest timestamp
// so far (monotonous, no future-skew check).
struct expected {
  std::map<std::pair<std::uint32_t, bounds>, counted> rows;
  std::uint64_t late = 0;
};
expected reference(const spec& s, const std::vector<rec>& in, std::int64_t lateness) {
  expected out;
  std::int64_t wm = lo;
  const auto closed = [&](std::int64_t end) {
    const i128 due = std::min<i128>(i128{end} + lateness, hi);
    return wm != lo && due <= wm;
  };
  for (const rec& r : in) {
    const auto wins = windows_of(s, r.ts);
    REQUIRE(!wins.empty());
    bool open = false;
    for (const bounds& w : wins) open = open || !closed(w.second);
    if (!open) {
      ++out.late;
    } else {
      for (const bounds& w : wins) {
        if (closed(w.second)) continue;
        counted& c = out.rows[{r.key, w}];
        ++c.n;
        c.tags += r.tag;
      }
    }
    wm = std::max(wm, r.ts);
  }
  return out;
}

// Timestamps at and near both ends of time, and some between.
std::vector<rec> records_at_the_ends(const spec& s, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> ts;
  for (std::int64_t k = 0; k < 12; ++k) {
    ts.push_back(lo + k);
    ts.push_back(hi - k);
  }
  const std::uint64_t span = static_cast<std::uint64_t>(std::min<std::int64_t>(s.size, hi / 8)) * 3;
  for (int k = 0; k < 40; ++k) {
    ts.push_back(lo + static_cast<std::int64_t>(rng() % span));
    ts.push_back(hi - static_cast<std::int64_t>(rng() % span));
  }
  for (int k = 0; k < 10; ++k) ts.push_back(static_cast<std::int64_t>(rng() % 2'000'000'000) - 1'000'000'000);
  std::sort(ts.begin(), ts.end());
  // Nearly in order: neighbours swapped now and then, so that some records
  // come after their windows closed and some after only some of them did.
  for (std::size_t i = 1; i < ts.size(); ++i) {
    if (rng() % 4 == 0) std::swap(ts[i - 1], ts[i]);
  }
  std::vector<rec> out;
  for (const std::int64_t t : ts) {
    out.push_back(rec{t, static_cast<std::uint32_t>(rng() % 2), static_cast<std::int64_t>(rng() % (1LL << 40))});
  }
  return out;
}

template <class Window>
void check_against_reference(const spec& s, const Window& shape_of) {
  for (const std::int64_t lateness : {std::int64_t{0}, s.slide / 2 + 1}) {
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
      CAPTURE(lateness);
      CAPTURE(seed);
      const auto in = records_at_the_ends(s, seed);
      const expected want = reference(s, in, lateness);
      const auto agg = aggregates_into<counted>(count(), sum(&rec::tag));
      const auto strategy = monotonous_timestamps().with_max_future_skew(duration::max());
      const auto late_by = duration::from_nanos(lateness);
      for (const bool keyed_watermarks : {false, true}) {
        CAPTURE(keyed_watermarks);
        std::vector<window_row<std::uint32_t, counted>> rows;
        std::uint64_t late = 0;
        if (keyed_watermarks) {
          auto p = from(in) | with_watermarks(&rec::ts, strategy) | key_by(&rec::key) |
                   shape_of.aggregate(agg).emit(emit_mode::final).allowed_lateness(late_by).keyed_watermarks(0ns) |
                   collect(rows);
          p.run();
          late = p.chain().late_count();
        } else {
          auto p = from(in) | with_watermarks(&rec::ts, strategy) | key_by(&rec::key) |
                   shape_of.aggregate(agg).emit(emit_mode::final).allowed_lateness(late_by) | collect(rows);
          p.run();
          late = p.chain().late_count();
        }
        std::map<std::pair<std::uint32_t, bounds>, counted> got;
        for (const auto& r : rows) {
          const auto [it, fresh] = got.emplace(std::pair{r.key, bounds{r.start.nanos(), r.end.nanos()}}, r.value);
          CHECK_MESSAGE(fresh, "window [" << r.start.nanos() << ", " << r.end.nanos() << ") emitted twice");
        }
        CHECK(late == want.late);
        CHECK(got.size() == want.rows.size());
        for (const auto& [k, c] : want.rows) {
          const auto it = got.find(k);
          CHECK_MESSAGE(it != got.end(),
                        "missing window [" << k.second.first << ", " << k.second.second << ") key " << k.first);
          if (it != got.end()) CHECK(it->second == c);
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("tumbling windows at the ends of time lose no record") {
  using namespace std::chrono_literals;
  check_against_reference({shape::tumbling, 1'000'000'000, 1'000'000'000, 0}, tumbling(1s));
  check_against_reference({shape::tumbling, 7, 7, 3}, tumbling(7ns, 3ns));
  check_against_reference({shape::tumbling, 7, 7, 0}, tumbling(7ns));  // INT64_MAX is a window boundary
  check_against_reference({shape::tumbling, 8, 8, 0}, tumbling(8ns));  // and INT64_MIN is one here
  check_against_reference({shape::tumbling, hi, hi, 0}, tumbling(duration::max()));
}

TEST_CASE("hopping windows at the ends of time lose no record") {
  using namespace std::chrono_literals;
  check_against_reference({shape::hopping, 4'000'000'000, 1'000'000'000, 0}, hopping(4s, 1s));
  check_against_reference({shape::hopping, 10, 4, 1}, hopping(10ns, 4ns, 1ns));
  check_against_reference({shape::hopping, 14, 7, 0}, hopping(14ns, 7ns));
  check_against_reference({shape::hopping, 24, 8, 0}, hopping(24ns, 8ns));
  check_against_reference({shape::hopping, hi, hi / 7, 0}, hopping(duration::max(), duration::from_nanos(hi / 7)));
}

TEST_CASE("cumulate windows at the ends of time lose no record") {
  using namespace std::chrono_literals;
  check_against_reference({shape::cumulate, 4'000'000'000, 1'000'000'000, 0}, cumulate(1s, 4s));
  check_against_reference({shape::cumulate, 12, 3, 2}, cumulate(3ns, 12ns, 2ns));
  check_against_reference({shape::cumulate, 511, 7, 0}, cumulate(7ns, 511ns));  // INT64_MAX ends a period
  check_against_reference({shape::cumulate, 32, 8, 0}, cumulate(8ns, 32ns));
  check_against_reference({shape::cumulate, hi, hi / 7, 0}, cumulate(duration::from_nanos(hi / 7), duration::max()));
}

TEST_CASE("cumulate(1s, 4s): a record in the clamped first period is emitted") {
  using namespace std::chrono_literals;
  const std::vector<rec> in{{lo, 0, 1}, {lo + 900'000'000, 0, 2}, {lo + 2'000'000'000, 0, 4}};
  std::vector<window_row<global_key, std::int64_t>> rows;
  auto p = from(in) | with_watermarks(&rec::ts, monotonous_timestamps().with_max_future_skew(duration::max())) |
           cumulate(1s, 4s).aggregate(sum(&rec::tag)) | collect(rows);
  p.run();
  // The period holding INT64_MIN started before the beginning of time and
  // ends at -9223372036s: its last window holds the first record only.
  const std::int64_t second = 1'000'000'000;
  std::vector<std::pair<bounds, std::int64_t>> got;
  for (const auto& r : rows) got.push_back({{r.start.nanos(), r.end.nanos()}, r.value});
  const std::int64_t p0 = -9'223'372'036 * second;
  CHECK(got == std::vector<std::pair<bounds, std::int64_t>>{{{lo, p0}, 1},
                                                            {{p0, p0 + second}, 2},
                                                            {{p0, p0 + 2 * second}, 6},
                                                            {{p0, p0 + 3 * second}, 6},
                                                            {{p0, p0 + 4 * second}, 6}});
  CHECK(p.chain().late_count() == 0);
}
