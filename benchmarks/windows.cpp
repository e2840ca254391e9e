// Keyed event-time windows vs hand-written equivalents.
//
// In-memory events (fixed seed): 1000 symbols (uniform random ids), event
// time advancing by 1 us on average (10M events: 10 s of event time, so a
// 1 s window holds ~1M events, ~1000 per symbol) with up to +-1 us of
// disorder; watermarks trail the highest timestamp by 5 us (bounded
// out-of-orderness, more than the disorder: no record is ever late).
//
// Throughput, records/s through `from(events) | with_watermarks | key_by |
// <window>.aggregate(...) | sink`, against the same job done by hand in the
// same process on the same data:
//   - tumbling 1 s sum(qty), hashed keys, vs a naive loop
//     (std::map<window start, std::unordered_map<symbol, sum>>) and vs the
//     best hand loop we could write (an open-addressing, linear-probing
//     table per open window, the current window cached, windows fired when
//     the watermark passes their end);
//   - the same with .dense_keys(), vs a hand loop over flat arrays indexed
//     by symbol id;
//   - hopping windows (size 10 slides, the slide 1/40 of the event-time
//     span, so that ~40 windows fire), against the tumbling figure;
//   - tumbling 1 s ohlc(price), vs a hand loop with a flat OHLC slot.
// All contenders run interleaved (the first one rotates) for 7 repetitions
// after a warm-up; figures are medians, ratios are ratios of medians. Every
// run's rows are checked against an independent reference (flat per-slice
// arrays) by count, sum of values and an order-independent hash of every
// row (key, bounds, value bits), and no record may be late.
//
// Then the close latency: a push pipeline, 1000 keys x 3 events per window;
// the time from push_watermark(end) to the sink's receiving the window's
// last (1000th) row, per window, with the cycle timer.
#include <laminar/laminar.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <unordered_map>
#include <utility>
#include <vector>

#include "support/bench.hpp"
#include "support/latency_histogram.hpp"
#include "support/trades.hpp"  // splitmix64, fmix

namespace {

namespace lb = laminar::bench;
using lb::fmix;

struct event {
  std::int64_t ts;  // event time, ns since the epoch
  std::int64_t qty;
  double price;
  std::uint32_t symbol;
  std::uint32_t unused = 0;
};
static_assert(sizeof(event) == 32, "an event is 32 bytes");

constexpr std::uint32_t symbols = 1000;
constexpr std::int64_t one_second = 1'000'000'000;
constexpr std::int64_t disorder_ns = 1'000;  // an event's time is off its place by at most this
constexpr std::int64_t bound_ns = 5'000;     // watermark = highest timestamp - bound (> 2 x disorder)
constexpr std::int64_t no_time = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t end_of_time = std::numeric_limits<std::int64_t>::max();

std::vector<event> make_events(std::size_t n, std::uint64_t seed) {
  lb::splitmix64 rng{seed};
  std::vector<event> out(n);
  // 10 ms before a second boundary, so that even a smoke run crosses one.
  std::int64_t base = 1'700'000'000'000'000'000 + 990'000'000;
  for (event& e : out) {
    base += static_cast<std::int64_t>(rng.next() % 2001);  // 1 us on average
    e.ts = base + static_cast<std::int64_t>(rng.next() % (2 * disorder_ns + 1)) - disorder_ns;
    e.qty = static_cast<std::int64_t>(1 + rng.next() % 100);  // [1, 100]
    e.price = 10.0 + rng.unit() * 190.0;                      // [10, 200)
    e.symbol = static_cast<std::uint32_t>(rng.next() % symbols);
  }
  return out;
}

// The window start at or before t, for t >= 0 (all times here are after the epoch).
constexpr std::int64_t floor_to(std::int64_t t, std::int64_t size) noexcept { return t - t % size; }

// ---- what a run emitted ----


using bar = laminar::ohlc_bar<double>;

std::uint64_t value_hash(std::int64_t v) noexcept { return fmix(static_cast<std::uint64_t>(v)); }
std::uint64_t value_hash(const bar& b) noexcept {
  std::uint64_t h = fmix(std::bit_cast<std::uint64_t>(b.open));
  h = fmix(h ^ std::bit_cast<std::uint64_t>(b.high));
  h = fmix(h ^ std::bit_cast<std::uint64_t>(b.low));
  return fmix(h ^ std::bit_cast<std::uint64_t>(b.close));
}
std::int64_t value_total(std::int64_t v) noexcept { return v; }
std::int64_t value_total(const bar&) noexcept { return 0; }

// The rows of a run, independent of their order: how many, the sum of their
// values (for sums), and the sum of a hash of each row's key, bounds and
// value bits; plus the records found late.
struct digest {
  std::uint64_t rows = 0;
  std::int64_t total = 0;
  std::uint64_t hash = 0;
  std::uint64_t late = 0;

  template <class V>
  void add(std::uint32_t key, std::int64_t start, std::int64_t end, const V& value) noexcept {
    ++rows;
    total += value_total(value);
    std::uint64_t h = fmix(std::uint64_t{key} + 0x9E3779B97F4A7C15ULL);
    h = fmix(h ^ static_cast<std::uint64_t>(start));
    h = fmix(h ^ static_cast<std::uint64_t>(end));
    hash += fmix(h ^ value_hash(value));
  }
  template <class Row>
  void add_row(const Row& r) noexcept {
    add(r.key, r.start.nanos(), r.end.nanos(), r.value);
  }
  friend bool operator==(const digest&, const digest&) = default;
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "windows: %s\n", what);
  std::exit(1);
}

[[noreturn]] void mismatch(const char* who, const char* when, const digest& expect, const digest& got) {
  std::fprintf(stderr,
               "windows: %s (%s) differs from the reference:\n"
               "  reference: %" PRIu64 " rows, total %" PRId64 ", hash %016" PRIx64 ", %" PRIu64 " late\n"
               "  %-9s: %" PRIu64 " rows, total %" PRId64 ", hash %016" PRIx64 ", %" PRIu64 " late\n",
               who, when, expect.rows, expect.total, expect.hash, expect.late, "got", got.rows, got.total, got.hash,
               got.late);
  std::exit(1);
}

// ---- laminar ----

auto watermarks() {
  return laminar::bounded_out_of_orderness(laminar::duration::from_nanos(bound_ns))
      .with_max_future_skew(laminar::duration::max());
}

// The fields as docs/concepts.md recommends for hot chains: compile-time
// projections (laminar::field), so their offsets are immediates. One
// contender uses plain member pointers, to show what they cost.
constexpr auto ts_field = laminar::field<&event::ts>;
constexpr auto symbol_field = laminar::field<&event::symbol>;
constexpr auto qty_field = laminar::field<&event::qty>;
constexpr auto price_field = laminar::field<&event::price>;

template <class Window, class Time = decltype(ts_field), class Key = decltype(symbol_field)>
digest laminar_windows(const std::vector<event>& events, Window window, Time time = ts_field, Key key = symbol_field) {
  digest d;
  auto p = laminar::from(events)                                       //
           | laminar::with_watermarks(time, watermarks())              //
           | laminar::key_by(key)                                      //
           | std::move(window)                                         //
           | laminar::sink([&d](const auto& row) { d.add_row(row); });
  p.run();
  d.late = p.chain().late_count();
  return d;
}

[[gnu::noinline]] digest laminar_tumbling_sum(const std::vector<event>& events) {
  return laminar_windows(events, laminar::tumbling(std::chrono::seconds(1)).aggregate(laminar::sum(qty_field)));
}

[[gnu::noinline]] digest laminar_tumbling_sum_member_pointers(const std::vector<event>& events) {
  return laminar_windows(events, laminar::tumbling(std::chrono::seconds(1)).aggregate(laminar::sum(&event::qty)),
                         &event::ts, &event::symbol);
}

[[gnu::noinline]] digest laminar_tumbling_sum_dense(const std::vector<event>& events) {
  return laminar_windows(
      events, laminar::tumbling(std::chrono::seconds(1)).aggregate(laminar::sum(qty_field)).dense_keys());
}

[[gnu::noinline]] digest laminar_hopping_sum(const std::vector<event>& events, std::int64_t size,
                                             std::int64_t slide) {
  return laminar_windows(events,
                         laminar::hopping(laminar::duration::from_nanos(size), laminar::duration::from_nanos(slide))
                             .aggregate(laminar::sum(qty_field)));
}

[[gnu::noinline]] digest laminar_tumbling_ohlc(const std::vector<event>& events) {
  return laminar_windows(events, laminar::tumbling(std::chrono::seconds(1)).aggregate(laminar::ohlc(price_field)));
}

// ---- naive: ordered map of windows, node-based hash map of symbols ----

[[gnu::noinline]] digest naive_tumbling_sum(const std::vector<event>& events, std::int64_t size) {
  digest d;
  std::map<std::int64_t, std::unordered_map<std::uint32_t, std::int64_t>> open;  // start -> symbol -> sum
  std::int64_t highest = no_time;
  std::int64_t watermark = no_time;
  const auto fire_first = [&] {
    const auto it = open.begin();
    for (const auto& [key, sum] : it->second) d.add(key, it->first, it->first + size, sum);
    open.erase(it);
  };
  for (const event& e : events) {
    const std::int64_t start = floor_to(e.ts, size);
    if (watermark != no_time && start + size <= watermark) {
      ++d.late;
      continue;
    }
    open[start][e.symbol] += e.qty;
    if (e.ts > highest) {
      highest = e.ts;
      watermark = highest - bound_ns;
      while (!open.empty() && open.begin()->first + size <= watermark) fire_first();
    }
  }
  while (!open.empty()) fire_first();
  return d;
}

// ---- hand loops: a table per open window ----

constexpr std::uint32_t empty_key = std::numeric_limits<std::uint32_t>::max();  // not a symbol id

// Open addressing, linear probing, slots inline (key and state together),
// at most half full. Slot has `key` (empty_key when free).
template <class Slot>
class probe_table {
 public:
  probe_table() { rehash(16); }

  // update(slot) for the key's slot, or init(slot) for a new one.
  template <class Update, class Init>
  void upsert(std::uint32_t key, Update&& update, Init&& init) {
    std::size_t i = home(key);
    for (;;) {
      Slot& s = slots_[i];
      if (s.key == key) {
        update(s);
        return;
      }
      if (s.key == empty_key) break;
      i = (i + 1) & mask_;
    }
    if ((size_ + 1) * 2 > slots_.size()) {
      rehash(slots_.size() * 2);
      i = home(key);
      while (slots_[i].key != empty_key) i = (i + 1) & mask_;
    }
    Slot& s = slots_[i];
    s.key = key;
    init(s);
    ++size_;
  }

  // f(slot) for every key, then empty.
  template <class F>
  void drain(F&& f) {
    for (Slot& s : slots_) {
      if (s.key != empty_key) {
        f(s);
        s.key = empty_key;
      }
    }
    size_ = 0;
  }

 private:
  [[nodiscard]] std::size_t home(std::uint32_t key) const noexcept {
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ULL) >> shift_);
  }
  void rehash(std::size_t n) {
    std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(n));
    mask_ = n - 1;
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(n));
    for (const Slot& s : old) {
      if (s.key == empty_key) continue;
      std::size_t i = home(s.key);
      while (slots_[i].key != empty_key) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  unsigned shift_ = 64;
  std::size_t size_ = 0;
};

struct hashed_sum {
  struct slot {
    std::uint32_t key = empty_key;
    std::int64_t sum = 0;
  };
  probe_table<slot> table;

  void add(const event& e) {
    table.upsert(e.symbol, [&](slot& s) { s.sum += e.qty; }, [&](slot& s) { s.sum = e.qty; });
  }
  template <class F>
  void drain(F&& f) {
    table.drain([&](const slot& s) { f(s.key, s.sum); });
  }
};

struct dense_sum {
  struct cell {
    std::int64_t sum = 0;
    std::int64_t n = 0;
  };
  std::vector<cell> cells;  // by symbol id

  void add(const event& e) {
    const std::size_t k = e.symbol;
    if (k >= cells.size()) [[unlikely]] cells.resize(std::max(k + 1, 2 * cells.size()));
    cell& c = cells[k];
    c.sum += e.qty;
    ++c.n;
  }
  template <class F>
  void drain(F&& f) {
    for (std::size_t k = 0; k < cells.size(); ++k) {
      if (cells[k].n > 0) f(static_cast<std::uint32_t>(k), cells[k].sum);
      cells[k] = cell{};
    }
  }
};

struct hashed_ohlc {
  // One cache line per symbol: open by earliest time (the first to arrive on
  // a tie), close by latest time (the last to arrive on a tie), as ohlc().
  struct alignas(64) slot {
    std::uint32_t key = empty_key;
    std::int64_t open_time = 0;
    std::int64_t close_time = 0;
    double open = 0, high = 0, low = 0, close = 0;
  };
  probe_table<slot> table;

  void add(const event& e) {
    table.upsert(
        e.symbol,
        [&](slot& s) {
          const std::int64_t t = e.ts;
          const double v = e.price;
          if (t < s.open_time) {
            s.open_time = t;
            s.open = v;
          }
          if (t >= s.close_time) {
            s.close_time = t;
            s.close = v;
          }
          if (s.high < v) s.high = v;
          if (v < s.low) s.low = v;
        },
        [&](slot& s) {
          s.open_time = s.close_time = e.ts;
          s.open = s.high = s.low = s.close = e.price;
        });
  }
  template <class F>
  void drain(F&& f) {
    table.drain([&](const slot& s) { f(s.key, bar{s.open, s.high, s.low, s.close}); });
  }
};

// Tumbling windows of `size` by hand: the open windows by start (a few at a
// time: the disorder is bounded), the current one cached by its bounds; the
// watermark (highest time - bound) fires every window whose end it reaches.
template <class Table>
[[gnu::noinline]] digest hand_tumbling(const std::vector<event>& events, std::int64_t size) {
  struct window {
    std::int64_t start;
    Table table;
  };
  digest d;
  std::vector<window> open;  // by start
  std::vector<Table> pool;   // drained tables, reused
  std::int64_t highest = no_time;
  std::int64_t watermark = no_time;
  std::int64_t next_end = end_of_time;  // the oldest open window's end
  Table* current = nullptr;
  std::int64_t current_start = end_of_time;  // nothing cached
  std::int64_t current_end = no_time;

  const auto fire = [&](std::int64_t upto) {
    std::size_t n = 0;
    for (; n < open.size() && open[n].start + size <= upto; ++n) {
      const std::int64_t start = open[n].start;
      open[n].table.drain([&](std::uint32_t key, const auto& value) { d.add(key, start, start + size, value); });
      pool.push_back(std::move(open[n].table));
    }
    open.erase(open.begin(), open.begin() + static_cast<std::ptrdiff_t>(n));
    next_end = open.empty() ? end_of_time : open.front().start + size;
    current_start = end_of_time;
    current_end = no_time;
  };

  for (const event& e : events) {
    const std::int64_t t = e.ts;
    if (t < current_start || t >= current_end) [[unlikely]] {
      const std::int64_t start = floor_to(t, size);
      if (watermark != no_time && start + size <= watermark) {
        ++d.late;
        continue;
      }
      std::size_t i = open.size();
      while (i > 0 && open[i - 1].start > start) --i;
      if (i == 0 || open[i - 1].start != start) {
        if (pool.empty()) {
          open.insert(open.begin() + static_cast<std::ptrdiff_t>(i), window{start, Table{}});
        } else {
          open.insert(open.begin() + static_cast<std::ptrdiff_t>(i), window{start, std::move(pool.back())});
          pool.pop_back();
        }
      } else {
        --i;
      }
      next_end = open.front().start + size;
      current = &open[i].table;
      current_start = start;
      current_end = start + size;
    }
    current->add(e);
    if (t > highest) {
      highest = t;
      watermark = t - bound_ns;
      if (watermark >= next_end) [[unlikely]] fire(watermark);
    }
  }
  fire(end_of_time);
  return d;
}

// ---- the reference: flat arrays per (slice, symbol), windows summed from them ----

// Windows of `size` every `slide` (size a multiple of slide; slide == size:
// tumbling), for checking every contender's rows.
digest reference_windows(const std::vector<event>& events, std::int64_t size, std::int64_t slide) {
  std::int64_t lo = end_of_time;
  std::int64_t hi = no_time;
  for (const event& e : events) {
    lo = std::min(lo, e.ts);
    hi = std::max(hi, e.ts);
  }
  const std::int64_t first = floor_to(lo, slide);
  const auto slices = static_cast<std::size_t>((floor_to(hi, slide) - first) / slide + 1);
  std::vector<std::int64_t> sum(slices * symbols, 0);
  std::vector<std::int64_t> count(slices * symbols, 0);
  for (const event& e : events) {
    const auto s = static_cast<std::size_t>((floor_to(e.ts, slide) - first) / slide);
    sum[s * symbols + e.symbol] += e.qty;
    ++count[s * symbols + e.symbol];
  }
  digest d;
  const std::int64_t data_end = first + static_cast<std::int64_t>(slices) * slide;
  for (std::int64_t end = first + slide; end - size < data_end; end += slide) {
    const std::int64_t start = end - size;
    for (std::uint32_t key = 0; key < symbols; ++key) {
      std::int64_t total = 0;
      std::int64_t n = 0;
      for (std::int64_t a = std::max(start, first); a < end && a < data_end; a += slide) {
        const auto s = static_cast<std::size_t>((a - first) / slide);
        total += sum[s * symbols + key];
        n += count[s * symbols + key];
      }
      if (n > 0) d.add(key, start, end, total);
    }
  }
  return d;
}

// ---- throughput ----

struct contender {
  const char* name;
  std::function<digest()> run;
  const digest* expect;
  std::vector<double> rates;
};

void check(const contender& c, const digest& got, const char* when) {
  if (got != *c.expect) mismatch(c.name, when, *c.expect, got);
}

// Every contender once (warm-up and check), then `reps` rounds of each, the
// one that goes first rotating from round to round.
void measure(std::vector<contender>& cs, double events, int reps) {
  for (contender& c : cs) check(c, c.run(), "warm-up");
  for (int r = 0; r < reps; ++r) {
    for (std::size_t j = 0; j < cs.size(); ++j) {
      contender& c = cs[(j + static_cast<std::size_t>(r)) % cs.size()];
      lb::stopwatch sw;
      const digest got = c.run();
      const double s = sw.elapsed_s();
      lb::do_not_optimize(got.hash);
      check(c, got, "repetition");
      c.rates.push_back(events / s);
    }
  }
}

void throughput(const std::vector<event>& events) {
  std::int64_t lo = end_of_time;
  std::int64_t hi = no_time;
  std::int64_t qty = 0;
  for (const event& e : events) {
    lo = std::min(lo, e.ts);
    hi = std::max(hi, e.ts);
    qty += e.qty;
  }
  // Hopping: size 10 slides, the slide 1/40 of the span (in whole milliseconds,
  // or microseconds for a smoke run's short span).
  const std::int64_t unit = (hi - lo) / 40 >= 1'000'000 ? 1'000'000 : 1'000;
  const std::int64_t slide = std::max<std::int64_t>(unit, (hi - lo) / 40 / unit * unit);
  const std::int64_t hop_size = 10 * slide;

  const digest tumbling = reference_windows(events, one_second, one_second);
  const digest hopping = reference_windows(events, hop_size, slide);
  if (tumbling.total != qty) fail("the reference's tumbling windows do not add up to the events' quantity");
  if (hopping.total != 10 * qty) fail("the reference's hopping windows do not count every event 10 times");
  // OHLC is checked against the hand loop's bars (each implementation
  // written apart), which must have a row wherever a sum has one.
  const digest ohlc = hand_tumbling<hashed_ohlc>(events, one_second);
  if (ohlc.rows != tumbling.rows || ohlc.late != 0) fail("the hand-loop OHLC bars do not cover the sum's rows");

  std::fprintf(stderr,
               "# windows: %zu events of %zu bytes, %u symbols, %.3f s of event time, disorder +-%" PRId64
               " ns, watermark bound %" PRId64 " ns; tumbling 1 s: %" PRIu64 " rows; hopping %.1f ms / %.1f ms: %" PRIu64
               " rows%s\n",
               events.size(), sizeof(event), symbols, static_cast<double>(hi - lo) * 1e-9, disorder_ns, bound_ns,
               tumbling.rows, static_cast<double>(hop_size) * 1e-6, static_cast<double>(slide) * 1e-6, hopping.rows,
               lb::smoke() ? " (smoke run)" : "");

  std::vector<contender> cs;
  cs.push_back({"laminar tumbling sum", [&] { return laminar_tumbling_sum(events); }, &tumbling, {}});
  cs.push_back({"naive tumbling sum", [&] { return naive_tumbling_sum(events, one_second); }, &tumbling, {}});
  cs.push_back({"hand-loop tumbling sum", [&] { return hand_tumbling<hashed_sum>(events, one_second); }, &tumbling, {}});
  cs.push_back({"laminar tumbling sum, dense keys", [&] { return laminar_tumbling_sum_dense(events); }, &tumbling, {}});
  cs.push_back({"hand-loop tumbling sum, dense keys", [&] { return hand_tumbling<dense_sum>(events, one_second); },
                &tumbling, {}});
  cs.push_back({"laminar hopping sum", [&] { return laminar_hopping_sum(events, hop_size, slide); }, &hopping, {}});
  cs.push_back({"laminar tumbling ohlc", [&] { return laminar_tumbling_ohlc(events); }, &ohlc, {}});
  cs.push_back({"hand-loop tumbling ohlc", [&] { return hand_tumbling<hashed_ohlc>(events, one_second); }, &ohlc, {}});
  cs.push_back({"laminar tumbling sum, member pointers", [&] { return laminar_tumbling_sum_member_pointers(events); },
                &tumbling, {}});
  measure(cs, static_cast<double>(events.size()), lb::pick(7, 1));

  const double lam = lb::median(cs[0].rates);
  const double naive = lb::median(cs[1].rates);
  const double hand = lb::median(cs[2].rates);
  const double lam_dense = lb::median(cs[3].rates);
  const double hand_dense = lb::median(cs[4].rates);
  const double lam_hop = lb::median(cs[5].rates);
  const double lam_ohlc = lb::median(cs[6].rates);
  const double hand_ohlc = lb::median(cs[7].rates);
  const double lam_memptr = lb::median(cs[8].rates);
  lb::report("tumbling_sum_1k_keys_events_per_s", lam, "events/s", 0);
  lb::report("naive_events_per_s", naive, "events/s", 0);
  lb::report("hand_loop_events_per_s", hand, "events/s", 0);
  lb::report("tumbling_sum_vs_naive", lam / naive, "x", 3);
  lb::report("tumbling_sum_vs_hand_loop", lam / hand, "x", 3);
  lb::report("tumbling_sum_member_pointers_vs_hand_loop", lam_memptr / hand, "x", 3);
  lb::report("tumbling_sum_dense_events_per_s", lam_dense, "events/s", 0);
  lb::report("dense_hand_loop_events_per_s", hand_dense, "events/s", 0);
  lb::report("tumbling_sum_dense_vs_hand_loop", lam_dense / hand_dense, "x", 3);
  lb::report("hopping_sum_1k_keys_events_per_s", lam_hop, "events/s", 0);
  lb::report("hopping_vs_tumbling", lam_hop / lam, "x", 3);
  lb::report("ohlc_1s_events_per_s", lam_ohlc, "events/s", 0);
  lb::report("ohlc_hand_loop_events_per_s", hand_ohlc, "events/s", 0);
  lb::report("ohlc_1s_vs_hand_loop", lam_ohlc / hand_ohlc, "x", 3);
}

// ---- window close latency ----

// push<event>() | event_time | key_by | tumbling(1 ms).sum | sink: per
// window, 1000 keys x 3 events (every key in every window), then the
// watermark that closes it; timed from before push_watermark to the sink's
// receiving the window's 1000th row. The sink only adds, so the figure is
// the operator's: firing the window and building and passing 1000 rows.
void close_latency() {
  const lb::cycle_timer timer(lb::pick(std::chrono::milliseconds(20), std::chrono::milliseconds(2)));
  const double cost = lb::timer_cost_ns(timer, lb::pick<std::size_t>(200'000, 2'000));
  const double resolution = lb::timer_resolution_ns(timer, lb::pick<std::size_t>(100'000, 1'000));

  const int windows = lb::pick(2000, 20);
  constexpr int per_key = 3;
  constexpr std::int64_t width = 1'000'000;  // 1 ms of event time per window
  constexpr std::int64_t origin = 1'700'000'000'000'000'000;

  std::uint64_t window_rows = 0;
  std::int64_t total = 0;
  std::uint64_t key_total = 0;
  lb::cycle_timer::ticks last_row = 0;
  auto p = laminar::push<event>()                                                                           //
           | laminar::event_time(&event::ts)                                                                //
           | laminar::key_by(&event::symbol)                                                                //
           | laminar::tumbling(laminar::duration::from_nanos(width)).aggregate(laminar::sum(&event::qty))  //
           | laminar::sink([&](const auto& row) {
               total += row.value;
               key_total += row.key;
               if (++window_rows == symbols) last_row = lb::cycle_timer::stop();
             });

  lb::splitmix64 rng{0x1a31'7a2e'5eed'0003ULL};
  std::vector<std::uint32_t> order(symbols);
  std::iota(order.begin(), order.end(), 0U);
  std::int64_t expect_total = 0;
  lb::latency_histogram h;
  const int warm = windows / 10;
  for (int w = 0; w < windows; ++w) {
    const std::int64_t start = origin + w * width;
    for (int r = 0; r < per_key; ++r) {
      for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.next() % (i + 1)]);
      for (const std::uint32_t k : order) {
        const event e{start + static_cast<std::int64_t>(rng.next() % width),
                      static_cast<std::int64_t>(1 + rng.next() % 100), 10.0 + rng.unit() * 190.0, k};
        expect_total += e.qty;
        p.push(e);
      }
    }
    window_rows = 0;
    last_row = 0;
    const auto t0 = lb::cycle_timer::start();
    p.push_watermark(laminar::timestamp::from_nanos(start + width));
    const auto t1 = last_row;
    if (window_rows != symbols) fail("close latency: a closed window did not emit one row per key");
    if (w >= warm) h.record(timer.to_ns_rounded(t1 - t0));
  }
  p.finish();
  const std::uint64_t keys_sum = std::uint64_t{symbols} * (symbols - 1) / 2;
  if (total != expect_total || key_total != keys_sum * static_cast<std::uint64_t>(windows)) {
    fail("close latency: the rows do not add up to the records pushed");
  }
  if (p.chain().late_count() != 0) fail("close latency: records were late");

  lb::report("window_close_latency_p50_ns", static_cast<double>(h.percentile(50.0)), "ns", 0);
  lb::report("window_close_latency_p99_ns", static_cast<double>(h.percentile(99.0)), "ns", 0);
  lb::report("timer_cost_ns", cost, "ns", 1);
  lb::report("timer_resolution_ns", resolution, "ns", 1);
}

}  // namespace

int main() {
  const std::size_t n = lb::pick<std::size_t>(10'000'000, 20'000);
  const std::vector<event> events = make_events(n, 0x1a31'7a2e'5eed'0002ULL);
  throughput(events);
  close_latency();
  return 0;
}
