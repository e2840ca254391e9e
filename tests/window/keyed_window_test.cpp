// Tumbling, hopping and cumulate windows with keyed watermarks against a
// reference model built from the plain one: one window_reference per key,
// driven by that key's watermark max(its highest timestamp - bound, the
// stream watermark). Streams where keys lag one another by more than the
// disorder bound, with conservative and aggressive stream watermarks; every
// key's rows, corrections and late records compared in order.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
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
using laminar::test::shape;
using laminar::test::window_case;

namespace {

constexpr std::int64_t i64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t i64_max = std::numeric_limits<std::int64_t>::max();

struct item {
  bool is_watermark = false;
  event e{};
  std::int64_t watermark = 0;
};

// A stream where key k runs lag(k) behind the front (0, 40 or 80 ms), with
// a stream watermark every few records: conservative (behind the slowest
// key) or aggressive (behind the front only, so lagging keys' records are
// late by it), and the end of time last.
std::vector<item> make_items(std::uint64_t seed, std::uint32_t keys, std::size_t records, bool conservative) {
  test::stream_options o;
  o.seed = seed;
  o.records = records;
  o.keys = keys;
  o.start_ns = 1'000'000'000;
  o.mean_step_ns = 1'000'000;
  o.max_disorder_ns = 10'000'000;
  o.late_fraction = 0.04;
  const auto events = test::make_stream(o);
  std::mt19937_64 rng(seed * 11 + 3);
  std::vector<item> items;
  std::int64_t front = i64_min, wm = i64_min;
  for (event e : events) {
    e.ts -= static_cast<std::int64_t>(e.key % 3) * 40'000'000;
    items.push_back({false, e, 0});
    front = std::max(front, e.ts);
    if (rng() % 5 == 0) {
      const std::int64_t behind = (conservative ? 100'000'000 : 15'000'000) + static_cast<std::int64_t>(rng() % 10'000'000);
      const std::int64_t w = front - behind;
      if (w > wm) {
        wm = w;
        items.push_back({true, {}, w});
      }
    }
  }
  items.push_back({true, {}, i64_max});
  return items;
}

// The reference: each key its own plain window model, fed that key's
// records and watermark.
class keyed_reference {
 public:
  keyed_reference(window_case c, std::int64_t bound) : c_(c), bound_(bound) {}

  std::vector<ref_row> on_event(const event& e) {
    per_key& k = key(e.key);
    const std::size_t late_before = k.ref.late().size();
    std::vector<ref_row> rows = k.ref.on_event(e);
    if (k.ref.late().size() != late_before) {
      late_.push_back(e);
      return rows;
    }
    if (e.ts > k.highest) {
      k.highest = e.ts;
      append(rows, k.ref.on_watermark(std::max(stream_, own(k))));
    }
    return rows;
  }

  std::vector<ref_row> on_watermark(std::int64_t w) {
    std::vector<ref_row> rows;
    if (w <= stream_) return rows;
    stream_ = w;
    for (auto& [id, k] : keys_) append(rows, k.ref.on_watermark(std::max(w, own(k))));
    return rows;
  }

  [[nodiscard]] const std::vector<event>& late() const { return late_; }

 private:
  struct per_key {
    test::window_reference ref;
    std::int64_t highest = i64_min;
  };
  per_key& key(std::uint32_t id) {
    auto it = keys_.find(id);
    if (it == keys_.end()) {
      it = keys_.emplace(id, per_key{test::window_reference(c_), i64_min}).first;
      (void)it->second.ref.on_watermark(stream_);
    }
    return it->second;
  }
  [[nodiscard]] std::int64_t own(const per_key& k) const {
    return k.highest < i64_min + bound_ ? i64_min : k.highest - bound_;
  }
  static void append(std::vector<ref_row>& to, const std::vector<ref_row>& rows) {
    to.insert(to.end(), rows.begin(), rows.end());
  }

  window_case c_;
  std::int64_t bound_;
  std::int64_t stream_ = i64_min;
  std::map<std::uint32_t, per_key> keys_;
  std::vector<event> late_;
};

auto all_six() {
  return aggregates(sum(&event::value), count(), laminar::min(&event::value), laminar::max(&event::value),
                    first(&event::value), last(&event::value));
}

template <class Assigner>
auto configure(window_spec<Assigner> spec, const window_case& c, std::int64_t bound) {
  return spec.aggregate(all_six())
      .emit(c.mode)
      .allowed_lateness(duration::from_nanos(c.lateness))
      .keyed_watermarks(duration::from_nanos(bound));
}

struct run_result {
  std::map<std::uint32_t, std::vector<ref_row>> rows;  // per key, in order
  std::vector<event> late;
  std::size_t row_count = 0;
  bool rows_on_time = true;
  std::size_t open_keys_at_end = 0;
};

template <class Window>
run_result run_operator(Window window, const std::vector<item>& items) {
  run_result r;
  std::int64_t out_wm = i64_min;
  side_records<event> late;
  auto p = push<event>() | event_time(&event::ts) | key_by(&event::key) | std::move(window).late_to(late) |
           sink([&](const ref_row& row) {
             if (row.time().nanos() < out_wm) r.rows_on_time = false;
             r.rows[row.key].push_back(row);
             ++r.row_count;
           },
                [&](timestamp w) { out_wm = w.nanos(); });
  for (const item& it : items) {
    if (it.is_watermark) {
      p.push_watermark(timestamp::from_nanos(it.watermark));
    } else {
      p.push(it.e);
    }
  }
  p.finish();
  r.late = late.records();
  r.open_keys_at_end = p.chain().open_keys();
  CHECK(p.chain().open_slices() == 0);
  CHECK(p.chain().late_count() == r.late.size());
  return r;
}

run_result run_reference(const window_case& c, std::int64_t bound, const std::vector<item>& items) {
  keyed_reference ref(c, bound);
  run_result r;
  for (const item& it : items) {
    for (const ref_row& row : it.is_watermark ? ref.on_watermark(it.watermark) : ref.on_event(it.e)) {
      r.rows[row.key].push_back(row);
      ++r.row_count;
    }
  }
  r.late = ref.late();
  return r;
}

template <class Window>
void compare(const window_case& c, std::int64_t bound, Window window, const std::vector<item>& items,
             const std::string& what) {
  const run_result got = run_operator(std::move(window), items);
  const run_result want = run_reference(c, bound, items);
  CHECK_MESSAGE(got.rows_on_time, what << ": a row arrived behind the operator's output watermark");
  CHECK_MESSAGE(got.open_keys_at_end == 0, what << ": keys left in the table after the final watermark");
  CHECK_MESSAGE(want.row_count > 0, what << ": the reference gave no rows, so nothing was compared");
  CHECK_MESSAGE(got.row_count == want.row_count, what << ": row counts differ");
  for (const auto& [key, rows] : want.rows) {
    const auto it = got.rows.find(key);
    if (!test::same_outputs(it == got.rows.end() ? std::vector<ref_row>{} : it->second, rows,
                            what + " rows of key " + std::to_string(key))) {
      return;
    }
  }
  test::same_outputs(got.late, want.late, what + " late records");
}

std::string describe(const window_case& c, std::int64_t bound, bool conservative, std::uint64_t seed,
                     std::uint32_t keys) {
  std::ostringstream os;
  const char* kinds[] = {"tumbling", "hopping", "cumulate"};
  const char* modes[] = {"final", "on_close", "eager"};
  os << kinds[static_cast<int>(c.kind)] << "(" << c.size << ", " << c.slide << ", offset " << c.offset << ") "
     << modes[static_cast<int>(c.mode)] << " lateness " << c.lateness << " bound " << bound
     << (conservative ? " conservative" : " aggressive") << " keys " << keys << " seed " << seed;
  return os.str();
}

}  // namespace

TEST_CASE("keyed watermarks: tumbling, hopping and cumulate x every emit mode equal a per-key reference model") {
  int cases = 0;
  for (emit_mode mode : {emit_mode::final, emit_mode::on_close, emit_mode::eager}) {
    for (std::int64_t lateness : {std::int64_t{0}, std::int64_t{20'000'000}}) {
      for (std::int64_t bound : {std::int64_t{0}, std::int64_t{12'000'000}}) {
        for (bool conservative : {true, false}) {
          for (std::uint32_t keys : {1u, 7u, 60u}) {
            for (std::uint64_t seed = 1; seed <= 3; ++seed) {
              const auto items = make_items(seed * 100 + keys, keys, 400, conservative);
              const std::int64_t offset = static_cast<std::int64_t>(seed % 3) * 3'000'000;
              const window_case t{shape::tumbling, 50'000'000, 0, offset, mode, lateness};
              window_case h{shape::hopping, 60'000'000, 20'000'000, offset, mode, lateness};
              if (seed == 3) h.slide = 25'000'000;  // slices of gcd(60, 25) = 5 ms
              const window_case c{shape::cumulate, 100'000'000, 25'000'000, offset, mode, lateness};
              compare(t, bound,
                      configure(tumbling(duration::from_nanos(t.size), duration::from_nanos(t.offset)), t, bound),
                      items, describe(t, bound, conservative, seed, keys));
              compare(h, bound,
                      configure(hopping(duration::from_nanos(h.size), duration::from_nanos(h.slide),
                                        duration::from_nanos(h.offset)),
                                h, bound),
                      items, describe(h, bound, conservative, seed, keys));
              compare(c, bound,
                      configure(cumulate(duration::from_nanos(c.slide), duration::from_nanos(c.size),
                                         duration::from_nanos(c.offset)),
                                c, bound),
                      items, describe(c, bound, conservative, seed, keys));
              cases += 3;
            }
          }
        }
      }
    }
  }
  CHECK(cases == 3 * 2 * 2 * 2 * 3 * 3 * 3);
}

namespace {
struct tick {
  std::uint32_t symbol = 0;
  std::int64_t ts = 0;  // ns
  std::int64_t qty = 0;
};
using qty_row = window_row<std::uint32_t, std::int64_t>;

template <class Window>
auto tick_pipeline(Window window, std::vector<qty_row>& rows, side_records<tick>& late) {
  return push<tick>() | event_time(&tick::ts) | key_by(&tick::symbol) | std::move(window).late_to(late) |
         collect(rows);
}
}  // namespace

TEST_CASE("keyed watermarks: a lagging key keeps its records, a busy key fires without the stream watermark") {
  // Symbol 1 runs a second behind symbol 0; the stream watermark is held
  // back by symbol 1 (as a min over partitions would be).
  const auto window = tumbling(100ms).aggregate(sum(&tick::qty));
  std::vector<qty_row> rows;
  side_records<tick> late;
  auto p = tick_pipeline(window.keyed_watermarks(10ms), rows, late);
  const std::int64_t ms = 1'000'000;
  for (std::int64_t t = 0; t < 500; t += 5) {
    p.push(tick{0, 1000 * ms + t * ms, 1});
    p.push(tick{1, t * ms, 2});
    p.push_watermark(timestamp::from_nanos((t - 20) * ms));
  }
  // Symbol 0's windows [1000, 1100) .. [1300, 1400) fired on its own
  // records; symbol 1's [0, 100) .. [300, 400) on the stream watermark.
  std::map<std::uint32_t, int> fired;
  for (const qty_row& r : rows) ++fired[r.key];
  CHECK(fired[0] == 4);
  CHECK(fired[1] == 4);
  CHECK(late.count() == 0);
  CHECK(p.chain().key_watermark(0) == timestamp::from_nanos(1485 * ms));
  CHECK(p.chain().key_watermark(1) == timestamp::from_nanos(485 * ms));
  // A late record of symbol 0 by its own watermark, on time by the stream's.
  p.push(tick{0, 1350 * ms, 5});
  CHECK(late.count() == 1);
  // The same record for symbol 1 is in the future for it: on time.
  p.push(tick{1, 450 * ms, 5});
  CHECK(late.count() == 1);
  p.finish();
  std::int64_t total = 0;
  for (const qty_row& r : rows) total += r.value;
  CHECK(total == 100 * 1 + 100 * 2 + 5);

  // Without keyed watermarks the same stream makes nothing late but fires
  // symbol 0's windows only on the stream watermark.
  std::vector<qty_row> plain_rows;
  side_records<tick> plain_late;
  auto q = tick_pipeline(window, plain_rows, plain_late);
  for (std::int64_t t = 0; t < 500; t += 5) {
    q.push(tick{0, 1000 * ms + t * ms, 1});
    q.push(tick{1, t * ms, 2});
    q.push_watermark(timestamp::from_nanos((t - 20) * ms));
  }
  std::map<std::uint32_t, int> plain_fired;
  for (const qty_row& r : plain_rows) ++plain_fired[r.key];
  CHECK(plain_fired[0] == 0);
  CHECK(plain_fired[1] == 4);
}

TEST_CASE("keyed watermarks: periodic emission and bad bounds are refused with a clear error") {
  std::vector<qty_row> rows;
  side_records<tick> late;
  CHECK_THROWS_WITH_AS((void)tumbling(100ms).aggregate(sum(&tick::qty)).keyed_watermarks(-1ms),
                       doctest::Contains("must not be negative"), usage_error);
  const auto periodic = tumbling(100ms).aggregate(sum(&tick::qty)).emit_every(10ms).keyed_watermarks(1ms);
  CHECK_THROWS_WITH_AS((void)tick_pipeline(periodic, rows, late), doctest::Contains("do not support emit_every()"),
                       usage_error);
}

TEST_CASE("keyed watermarks: state empties, keys leave, and steady state allocates nothing per record") {
  std::vector<qty_row> rows;
  rows.reserve(1 << 16);
  side_records<tick> late;
  auto p = tick_pipeline(tumbling(10ms).aggregate(sum(&tick::qty)).keyed_watermarks(2ms), rows, late);
  const std::int64_t ms = 1'000'000;
  std::uint64_t allocations = 0;
  for (std::int64_t round = 0; round < 400; ++round) {
    const test::allocation_counter counter;
    for (std::uint32_t sym = 0; sym < 100; ++sym) p.push(tick{sym, round * ms + sym * 1000, 1});
    if (round % 10 == 9) p.push_watermark(timestamp::from_nanos((round - 5) * ms));
    if (round >= 100) allocations += counter.count();
  }
  CHECK(allocations == 0);
  CHECK(p.chain().open_keys() == 100);
  p.push_watermark(timestamp::max());
  CHECK(p.chain().open_slices() == 0);
  CHECK(p.chain().open_keys() == 0);
  std::int64_t total = 0;
  for (const qty_row& r : rows) total += r.value;
  CHECK(total == 400 * 100);
}
