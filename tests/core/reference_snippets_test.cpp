// The reference's code (docs/reference/*.md): every `cpp` block of it stands
// in this file, each snippet is run, and the results its comments state are
// checked. The last test case reads the docs and fails when one of their
// `cpp` blocks is no longer, line for line, in this file (the reference) or
// in the example it walks through (docs/custom-operators.md: example 03;
// docs/trading-pipeline.md: example 11), so the docs cannot drift from code
// that compiles and does what they say.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <laminar/checkpoint.hpp>
#include <laminar/laminar.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace {

using namespace laminar;
using namespace std::chrono_literals;

constexpr std::int64_t ms = 1'000'000;  // event times below are integer nanoseconds

struct tick {
  std::int64_t ts;       // event time
  std::uint32_t symbol;  // a symbol id
  double price;
  std::int64_t qty;
  friend bool operator==(const tick&, const tick&) = default;
  template <class Archive>
  void serialize(Archive& ar) {  // what a checkpoint of ticks (collect, a join's state) needs
    ar(ts, symbol, price, qty);
  }
};

struct quote {
  std::int64_t ts;
  std::uint32_t symbol;
  double bid, ask;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(ts, symbol, bid, ask);
  }
};

// ---- types the pages declare at namespace scope ----

// aggregates.md
struct bar {
  ohlc_bar<double> px;
  std::int64_t volume;
  double vwap;
};

// The spread of trade sizes in a window: two numbers per group, not the records.
struct size_range {
  struct accumulator {
    std::int64_t lo = INT64_MAX, hi = INT64_MIN;
    template <class Archive>
    void serialize(Archive& ar) {
      ar(lo, hi);
    }
  };
  accumulator init() const { return {}; }
  void add(accumulator& a, const tick& t) const {
    a.lo = std::min(a.lo, t.qty);
    a.hi = std::max(a.hi, t.qty);
  }
  void merge(accumulator& a, const accumulator& b) const {
    a.lo = std::min(a.lo, b.lo);
    a.hi = std::max(a.hi, b.hi);
  }
  std::int64_t result(const accumulator& a) const { return a.hi - a.lo; }
};
static_assert(laminar::aggregate<size_range, tick>);

// pipeline.md
// A sink that hears checkpoint outcomes (an exactly-once sink commits here).
struct outcome_sink : consuming_stage {
  std::vector<std::uint64_t>* committed;
  void on_event(const tick&) {}
  void on_checkpoint_complete(std::uint64_t id) { committed->push_back(id); }
};
struct outcomes {
  using is_sink = void;
  std::vector<std::uint64_t>* committed;
  template <class Ctx>
  auto bind(const Ctx&) && {
    return outcome_sink{{}, committed};
  }
};

// stage-protocol.md
// A sink stage: consuming_stage ends every control message, it handles records.
struct max_price_stage : consuming_stage {
  double* max;
  void on_event(const tick& t) {
    if (t.price > *max) *max = t.price;
  }
};
static_assert(stage<max_price_stage, tick>);

// Its factory, what a user composes: `is_sink` marks the end of a chain.
struct max_price {
  using is_sink = void;
  double* max;
  template <class Ctx>
  auto bind(const Ctx&) && {
    return max_price_stage{{}, max};
  }
};

// A pull source that honours stop requests: one tick per millisecond in [next, last).
struct millisecond_ticks : source_base<millisecond_ticks> {
  using value_type = tick;
  static constexpr bool stops_on_request = true;  // it checks stop_requested() after each record
  std::int64_t next = 0, last = 0;                // its position, checkpointed

  auto context() const { return stream_context<tick>{}; }
  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t n) {
    std::size_t done = 0;
    while (done != n && next != last) {
      chain.on_event(tick{next++ * ms, 7, 100.0, 1});
      ++done;
      if constexpr (stopping_chain<Chain>) {
        if (chain.stop_requested()) break;
      }
    }
    return done;
  }
  bool exhausted() const { return next == last; }
  void save_state(state_writer& w) const { w(next); }
  void load_state(state_reader& r) { r(next); }
};
static_assert(stoppable_source<millisecond_ticks>);

// A two-input operator: for each left record, how many right records came before it.
template <class Next>
class seen_quotes_stage : public forwarding_two_input_stage<seen_quotes_stage<Next>> {
 public:
  explicit seen_quotes_stage(Next next) : next_(std::move(next)) {}
  void on_event(left_input, const tick&) { next_.on_event(quotes_); }
  void on_event(right_input, const quote&) { ++quotes_; }
  Next& downstream() noexcept { return next_; }
  void save_state(state_writer& w) const { w(quotes_); }  // stateful: checkpointed at each barrier
  void load_state(state_reader& r) { r(quotes_); }

 private:
  Next next_;
  std::uint64_t quotes_ = 0;
};

struct seen_quotes {
  using is_two_input_operator = void;
  template <class LCtx, class RCtx>
  auto output_context(const LCtx&, const RCtx&) const {
    return context_of<std::uint64_t>{};
  }
  template <class LCtx, class RCtx, class Next>
  auto bind(const LCtx&, const RCtx&, Next&& next) && {
    return seen_quotes_stage<std::remove_cvref_t<Next>>(std::forward<Next>(next));
  }
};

template <class Row>
std::vector<std::int64_t> values(const std::vector<Row>& rows) {
  std::vector<std::int64_t> out;
  for (const Row& r : rows) out.push_back(r.value);
  return out;
}

// ---------------------------------------------------------------- sources.md

TEST_CASE("reference: sources: from") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}, {2 * ms, 7, 180.5, 300}, {3 * ms, 9, 99.0, 50}};
  std::vector<tick> out;
  auto p = from(ticks) | collect(out);
  p.run_for(2);                              // the first two ticks
  std::uint64_t at = p.source().position();  // 2
  p.run();                                   // the rest, then the end of the stream
  // out == ticks, p.finished()

  CHECK(at == 2);
  CHECK(out == ticks);
  CHECK(p.finished());
}

TEST_CASE("reference: sources: generate") {
  std::int64_t next = 0;
  std::vector<std::int64_t> out;
  auto p = generate([&next]() -> std::optional<std::int64_t> {
             if (next == 5) return std::nullopt;
             return next++ * 10;
           }) |
           collect(out);
  p.run();  // out == {0, 10, 20, 30, 40}

  CHECK(out == std::vector<std::int64_t>{0, 10, 20, 30, 40});
}

TEST_CASE("reference: sources: push") {
  std::vector<tick> out;
  auto p = push<tick>() | collect(out);
  p.push({1 * ms, 7, 180.0, 100});
  p.push_watermark(timestamp::from_nanos(1 * ms));
  p.finish();  // the watermark goes to timestamp::max(), then on_end(); out.size() == 1
  bool refused = false;
  try {
    p.push({2 * ms, 7, 180.5, 300});
  } catch (const usage_error&) {
    refused = true;  // "pipeline: push() after finish(): the stream has ended"
  }

  CHECK(out.size() == 1);
  CHECK(refused);
}

TEST_CASE("reference: sources: union_of") {
  std::vector<tick> a{{1 * ms, 1, 10.0, 1}, {4 * ms, 1, 11.0, 1}};
  std::vector<tick> b{{2 * ms, 2, 20.0, 1}, {3 * ms, 2, 21.0, 1}};
  std::vector<tick> out;
  auto p = union_of_batched(1, from(a) | with_watermarks(&tick::ts, monotonous_timestamps()),
                            from(b) | with_watermarks(&tick::ts, monotonous_timestamps())) |
           collect(out);
  p.run();  // one record from each input in turn: a[0], b[0], a[1], b[1]

  CHECK(out == std::vector<tick>{a[0], b[0], a[1], b[1]});
}

TEST_CASE("reference: sources: with_watermarks") {
  std::vector<tick> ticks{{10 * ms, 7, 180.0, 100}, {30 * ms, 7, 180.5, 300}, {25 * ms, 7, 180.2, 200}};
  std::vector<timestamp> seen;
  auto p = from(ticks) | with_watermarks(&tick::ts, bounded_out_of_orderness(5ms)) |
           sink([](const tick&) {}, [&seen](timestamp w) { seen.push_back(w); });
  p.run();
  // seen: 25 ms (after the second tick: the first is held until then), then timestamp::max() at the end

  CHECK(seen == std::vector<timestamp>{timestamp::from_nanos(25 * ms), timestamp::max()});
}

TEST_CASE("reference: sources: future skew") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100},
                          {2 * ms, 7, 180.1, 100},
                          {std::int64_t{1} << 62, 7, 180.2, 100},  // a clock glitch, years ahead
                          {3 * ms, 7, 180.3, 100}};
  std::uint64_t n = 0;
  auto p = from(ticks) | with_watermarks(&tick::ts, bounded_out_of_orderness(1ms)) | count_events(n);
  p.run_for(4);
  timestamp w = p.source().watermarks().current();           // 2 ms: the glitch did not move it
  std::uint64_t held = p.source().watermarks().suspects();  // 1

  CHECK(w == timestamp::from_nanos(2 * ms));
  CHECK(held == 1);
  CHECK(n == 4);  // the suspect flowed downstream like any record
}

TEST_CASE("reference: sources: idle timeout") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}, {2 * ms, 7, 180.1, 100}};
  std::uint64_t n = 0;
  auto p = from(ticks) | with_watermarks(&tick::ts, bounded_out_of_orderness(1ms).with_idle_timeout(2s)) |
           count_events(n);
  p.run_for(2);  // watermark 1 ms
  const timestamp now = timestamp::from_nanos(60'000 * ms);
  p.tick(now);       // records arrived since the last tick: it notes the time
  p.tick(now + 3s);  // 3 s of processing time without a record: idle
  timestamp w = p.source().watermarks().current();  // now + 3s - 1ms

  CHECK(w == now + 3s - 1ms);
}

// ---------------------------------------------------------------- operators.md

TEST_CASE("reference: operators: key_of and time_of") {
  auto ctx = stream_context<tick>{}.with_key(&tick::symbol).with_time(&tick::ts);  // what key_by and event_time leave
  tick t{5 * ms, 7, 180.0, 100};
  std::uint32_t k = key_of(ctx, t);  // 7
  timestamp at = time_of(ctx, t);    // 5 ms

  CHECK(k == 7);
  CHECK(at == timestamp::from_nanos(5 * ms));
}

TEST_CASE("reference: operators: event_time") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}, {2 * ms, 7, 180.5, 300}, {1500 * ms, 7, 181.0, 200}};
  std::vector<window_row<std::uint32_t, double>> rows;
  auto p = from(ticks) |
           map([](const tick& t) { return tick{t.ts, t.symbol, t.price * static_cast<double>(t.qty), t.qty}; }) |
           event_time(&tick::ts) | key_by(&tick::symbol) |  // a map drops the projections: name them again
           tumbling(1s).aggregate(sum(&tick::price)) | collect(rows);
  p.run();  // rows: 7 [0, 1s) 72150, 7 [1s, 2s) 36200, both at the end of the stream

  REQUIRE(rows.size() == 2);
  CHECK(rows[0].value == 72150.0);
  CHECK(rows[0].start == timestamp::from_nanos(0));
  CHECK(rows[1].value == 36200.0);
  CHECK(rows[1].start == timestamp::from_nanos(1000 * ms));
}

TEST_CASE("reference: operators: map") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}, {2 * ms, 7, 180.5, 300}};
  std::vector<double> notionals;
  auto p = from(ticks) | map([](const tick& t) { return t.price * static_cast<double>(t.qty); }) | collect(notionals);
  p.run();  // notionals == {18000.0, 54150.0}

  CHECK(notionals == std::vector<double>{18000.0, 54150.0});
}

TEST_CASE("reference: operators: filter") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}, {2 * ms, 7, 180.5, 50}};
  std::uint64_t round_lots = 0;
  auto p = from(ticks) | filter([](const tick& t) { return t.qty % 100 == 0; }) | count_events(round_lots);
  p.run();  // round_lots == 1

  CHECK(round_lots == 1);
}

TEST_CASE("reference: operators: flat_map") {
  // A parent order split into child orders of at most 100 shares.
  std::vector<tick> orders{{1 * ms, 7, 180.0, 250}};
  std::vector<std::int64_t> children;
  auto p = from(orders) | flat_map<std::int64_t>([](const tick& o, auto&& emit) {
             for (std::int64_t left = o.qty; left > 0; left -= 100) emit(left < 100 ? left : std::int64_t{100});
           }) |
           collect(children);
  p.run();  // children == {100, 100, 50}

  CHECK(children == std::vector<std::int64_t>{100, 100, 50});
}

TEST_CASE("reference: operators: tap") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}, {2 * ms, 7, 180.5, 300}};
  std::int64_t volume = 0;
  std::uint64_t n = 0;
  auto p = from(ticks) | tap([&volume](const tick& t) { volume += t.qty; }) | count_events(n);
  p.run();  // volume == 400, n == 2: tap passes every record on

  CHECK(volume == 400);
  CHECK(n == 2);
}

TEST_CASE("reference: operators: uid") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}, {2 * ms, 7, 180.5, 300}};
  std::vector<window_row<std::uint32_t, std::int64_t>> bars;
  auto p = from(ticks) | event_time(&tick::ts) | key_by(&tick::symbol) |
           uid("volume", tumbling(1s).aggregate(sum(&tick::qty))) | collect(bars);
  p.run_for(1);
  snapshot s = p.checkpoint(1);  // records "range_source", "volume/window", "collect"

  std::vector<std::string> ids;
  for (const state_record& r : s.records()) ids.push_back(r.id);
  CHECK(ids == std::vector<std::string>{"range_source", "volume/window", "collect"});
  CHECK_THROWS_AS(uid("a/b", tumbling(1s).aggregate(count())), usage_error);
}

// ---------------------------------------------------------------- sinks.md

TEST_CASE("reference: sinks: sink") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}, {2 * ms, 7, 180.5, 300}};
  double last_price = 0;
  timestamp last_watermark = timestamp::min();
  auto p = from(ticks) | with_watermarks(&tick::ts, monotonous_timestamps()) |
           sink([&](const tick& t) { last_price = t.price; }, [&](timestamp w) { last_watermark = w; });
  p.run();  // last_price == 180.5; last_watermark == timestamp::max(), the end of the stream

  CHECK(last_price == 180.5);
  CHECK(last_watermark == timestamp::max());
}

TEST_CASE("reference: sinks: collect") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}, {2 * ms, 7, 180.5, 300}, {3 * ms, 9, 99.0, 50}};
  std::vector<tick> out;
  auto first = from(ticks) | collect(out);
  first.run_for(2);
  const snapshot saved = first.checkpoint(1);  // saves out's length: 2
  first.run();                                  // out holds all three: more than the checkpoint covers
  auto second = from(ticks) | collect(out);    // the same vector, as after a crash
  second.restore(saved);                        // truncates out to the 2 the checkpoint covers
  second.run();  // out == ticks: the third tick once

  CHECK(out == ticks);
}

TEST_CASE("reference: sinks: count_events") {
  std::vector<int> xs{1, 2, 3};
  std::uint64_t n = 0;
  auto p = from(xs) | count_events(n);
  p.run();  // n == 3

  CHECK(n == 3);
}

TEST_CASE("reference: sinks: publish") {
  subscription<tick> sub(1024);
  std::int64_t volume = 0;
  std::thread reader([&sub, &volume] {
    while (!sub.finished()) {
      if (sub.poll([&volume](const tick& t) { volume += t.qty; }) == 0) std::this_thread::yield();
    }
  });
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}, {2 * ms, 7, 180.5, 300}};
  auto p = from(ticks) | publish(sub);
  p.run();
  reader.join();  // volume == 400, sub.published() == 2, sub.watermark() == timestamp::max()

  CHECK(volume == 400);
  CHECK(sub.published() == 2);
  CHECK(sub.watermark() == timestamp::max());
}

// ---------------------------------------------------------------- windows.md

TEST_CASE("reference: windows: tumbling") {
  std::vector<tick> ticks{{100 * ms, 7, 180.0, 100}, {300 * ms, 9, 99.0, 50}, {900 * ms, 7, 181.0, 300},
                          {1200 * ms, 7, 182.0, 200}};
  std::vector<window_row<std::uint32_t, std::int64_t>> rows;
  auto p = from(ticks) | with_watermarks(&tick::ts, bounded_out_of_orderness(0ms)) | key_by(&tick::symbol) |
           tumbling(1s).aggregate(sum(&tick::qty)) | collect(rows);
  p.run();
  // at the watermark 1.2 s: +I 7 [0, 1s) 400, +I 9 [0, 1s) 50; at the end: +I 7 [1s, 2s) 200

  REQUIRE(rows.size() == 3);
  CHECK(values(rows) == std::vector<std::int64_t>{400, 50, 200});
  CHECK(rows[0].key == 7);
  CHECK(rows[1].key == 9);
  CHECK(rows[2].end == timestamp::from_nanos(2000 * ms));
  CHECK(rows[0].kind == change_kind::insert);
}

TEST_CASE("reference: windows: hopping") {
  std::vector<tick> ticks{{100 * ms, 7, 180.0, 100}, {600 * ms, 7, 181.0, 300}};
  std::vector<window_row<std::uint32_t, std::int64_t>> rows;
  auto p = from(ticks) | event_time(&tick::ts) | key_by(&tick::symbol) |
           hopping(1s, 500ms).aggregate(sum(&tick::qty)) | collect(rows);
  p.run();  // rows: [-500ms, 500ms) 100, [0, 1s) 400, [500ms, 1.5s) 300

  REQUIRE(rows.size() == 3);
  CHECK(values(rows) == std::vector<std::int64_t>{100, 400, 300});
  CHECK(rows[0].start == timestamp::from_nanos(-500 * ms));
  CHECK(rows[2].end == timestamp::from_nanos(1500 * ms));
}

TEST_CASE("reference: windows: cumulate") {
  std::vector<tick> ticks{{100 * ms, 7, 180.0, 100}, {1500 * ms, 7, 181.0, 300}};
  std::vector<window_row<std::uint32_t, std::int64_t>> rows;
  auto p = from(ticks) | event_time(&tick::ts) | key_by(&tick::symbol) |
           cumulate(1s, 3s).aggregate(sum(&tick::qty)) | collect(rows);
  p.run();  // rows: [0, 1s) 100, [0, 2s) 400, [0, 3s) 400

  REQUIRE(rows.size() == 3);
  CHECK(values(rows) == std::vector<std::int64_t>{100, 400, 400});
  CHECK(rows[2].start == timestamp::from_nanos(0));
  CHECK(rows[2].end == timestamp::from_nanos(3000 * ms));
}

TEST_CASE("reference: windows: lateness") {
  side_records<tick> late;
  std::vector<window_row<std::uint32_t, std::int64_t>> rows;
  auto p = push<tick>() | with_watermarks(&tick::ts, bounded_out_of_orderness(0ms)) | key_by(&tick::symbol) |
           tumbling(1s).aggregate(sum(&tick::qty)).allowed_lateness(500ms).late_to(late) | collect(rows);
  p.push({100 * ms, 7, 180.0, 100});
  p.push({1100 * ms, 7, 181.0, 300});  // the watermark passes 1 s: +I [0, 1s) 100
  p.push({200 * ms, 7, 180.5, 50});    // [0, 1s) fired, but within the allowed lateness: -U 100, +U 150
  p.push({1700 * ms, 7, 181.5, 10});   // the watermark passes 1.5 s: [0, 1s) closes
  p.push({300 * ms, 7, 180.2, 70});    // late: to the side output
  p.finish();                          // +I [1s, 2s) 310
  // late.count() == 1, late.records()[0].ts == 300 ms, p.chain().late_count() == 1

  REQUIRE(rows.size() == 4);
  CHECK(values(rows) == std::vector<std::int64_t>{100, 100, 150, 310});
  CHECK(rows[1].kind == change_kind::update_before);
  CHECK(rows[2].kind == change_kind::update_after);
  CHECK(late.count() == 1);
  CHECK(late.records()[0].ts == 300 * ms);
  CHECK(p.chain().late_count() == 1);
}

TEST_CASE("reference: windows: periodic") {
  std::vector<window_row<std::uint32_t, std::int64_t>> rows;
  auto p = push<tick>() | event_time(&tick::ts) | key_by(&tick::symbol) |
           tumbling(1min).aggregate(sum(&tick::qty)).emit_every(1s, time_domain::processing_time) | collect(rows);
  const timestamp t0 = timestamp::from_nanos(0);
  p.push({1 * ms, 7, 180.0, 100});
  p.tick(t0 + 1s);  // early: +I 100
  p.push({2 * ms, 7, 180.5, 300});
  p.tick(t0 + 1500ms);  // less than a period since the last early rows: nothing
  p.tick(t0 + 2s);      // -U 100, +U 400
  p.finish();           // the window's end: its result is still 400, so nothing more

  REQUIRE(rows.size() == 3);
  CHECK(values(rows) == std::vector<std::int64_t>{100, 100, 400});
  CHECK(rows[0].kind == change_kind::insert);
  CHECK(rows[2].kind == change_kind::update_after);
}

TEST_CASE("reference: windows: session") {
  std::vector<tick> ticks{{0 * ms, 7, 180.0, 100},
                          {30 * ms, 7, 180.5, 300},   // exactly one gap after 0 ms: the same session
                          {61 * ms, 7, 181.0, 200}};  // more than a gap after 30 ms: a new session
  std::vector<window_row<std::uint32_t, std::int64_t>> rows;
  auto p = from(ticks) | event_time(&tick::ts) | key_by(&tick::symbol) |
           session(30ms).aggregate(sum(&tick::qty)) | collect(rows);
  p.run();  // rows: [0, 60ms) 400, [61ms, 91ms) 200

  REQUIRE(rows.size() == 2);
  CHECK(values(rows) == std::vector<std::int64_t>{400, 200});
  CHECK(rows[0].end == timestamp::from_nanos(60 * ms));
  CHECK(rows[1].start == timestamp::from_nanos(61 * ms));
  CHECK(rows[1].end == timestamp::from_nanos(91 * ms));
}

TEST_CASE("reference: windows: keyed watermarks") {
  // Symbol 9's feed lags symbol 7's by a second: each symbol's windows fire by its own watermark too.
  std::vector<tick> ticks{{1100 * ms, 7, 180.0, 100}, {100 * ms, 9, 99.0, 50}, {2200 * ms, 7, 181.0, 300},
                          {300 * ms, 9, 99.5, 70}};
  std::vector<window_row<std::uint32_t, std::int64_t>> rows;
  auto p = from(ticks) | with_watermarks(&tick::ts, bounded_out_of_orderness(2s)) | key_by(&tick::symbol) |
           tumbling(1s).aggregate(sum(&tick::qty)).keyed_watermarks(100ms) | collect(rows);
  p.run_for(3);  // symbol 7's own watermark (2.1 s) fires its [1s, 2s): +I 7 [1s, 2s) 100
  std::size_t fired = rows.size();  // 1: the stream watermark is only 200 ms
  p.run();  // then +I 9 [0, 1s) 120 and +I 7 [2s, 3s) 300 at the end of the stream

  CHECK(fired == 1);
  REQUIRE(rows.size() == 3);
  CHECK(values(rows) == std::vector<std::int64_t>{100, 120, 300});
  CHECK(rows[1].key == 9);
}

// ---------------------------------------------------------------- aggregates.md

TEST_CASE("reference: aggregates: aggregates_into") {
  std::vector<tick> ticks{{100 * ms, 7, 180.0, 100}, {400 * ms, 7, 182.0, 300}, {700 * ms, 7, 179.0, 100}};
  std::vector<window_row<std::uint32_t, bar>> bars;
  auto p = from(ticks) | event_time(&tick::ts) | key_by(&tick::symbol) |
           tumbling(1s).aggregate(
               aggregates_into<bar>(ohlc(&tick::price), sum(&tick::qty), vwap(&tick::price, &tick::qty))) |
           collect(bars);
  p.run();  // one bar: O 180, H 182, L 179, C 179; volume 500; vwap 90500 / 500 = 181

  REQUIRE(bars.size() == 1);
  const bar& b = bars[0].value;
  CHECK(b.px.open == 180.0);
  CHECK(b.px.high == 182.0);
  CHECK(b.px.low == 179.0);
  CHECK(b.px.close == 179.0);
  CHECK(b.volume == 500);
  CHECK(b.vwap == doctest::Approx(181.0));
}

TEST_CASE("reference: aggregates: the built-ins") {
  auto stats = aggregates(count(), avg(&tick::price), min(&tick::price), max(&tick::price), first(&tick::price),
                          last(&tick::price), variance(&tick::price), count_distinct(&tick::qty),
                          percentile(&tick::price, 0.5));
  std::vector<tick> ticks{{100 * ms, 7, 10.0, 100}, {200 * ms, 7, 30.0, 300}, {300 * ms, 7, 20.0, 100}};
  std::int64_t n = 0, sizes = 0;
  double mean = 0, lo = 0, hi = 0, open = 0, close = 0, var = 0, median = 0;
  auto p = from(ticks) | event_time(&tick::ts) | tumbling(1s).aggregate(stats) | sink([&](const auto& row) {
             std::tie(n, mean, lo, hi, open, close, var, sizes, median) = row.value;  // a global window: key global_key
           });
  p.run();
  // n 3, mean 20, lo 10, hi 30, open 10, close 20, var 66.67 (population), sizes 2, median 20 within 1%

  CHECK(n == 3);
  CHECK(mean == doctest::Approx(20.0));
  CHECK(lo == 10.0);
  CHECK(hi == 30.0);
  CHECK(open == 10.0);
  CHECK(close == 20.0);
  CHECK(var == doctest::Approx(200.0 / 3.0));
  CHECK(sizes == 2);
  CHECK(median == doctest::Approx(20.0).epsilon(0.01));
}

TEST_CASE("reference: aggregates: your own") {
  std::vector<tick> ticks{{100 * ms, 7, 180.0, 100}, {400 * ms, 7, 182.0, 300}, {1400 * ms, 7, 179.0, 20}};
  std::vector<window_row<std::uint32_t, std::int64_t>> rows;
  auto p = from(ticks) | event_time(&tick::ts) | key_by(&tick::symbol) | tumbling(1s).aggregate(size_range{}) |
           collect(rows);
  p.run();  // rows: [0, 1s) 200 (300 - 100), [1s, 2s) 0

  CHECK(values(rows) == std::vector<std::int64_t>{200, 0});
}

// ---------------------------------------------------------------- joins.md

TEST_CASE("reference: joins: connect and run") {
  std::vector<tick> trades{{2 * ms, 7, 180.0, 100}, {6 * ms, 7, 180.2, 100}};
  std::vector<quote> quotes{{1 * ms, 7, 179.9, 180.1}, {5 * ms, 7, 180.1, 180.3}};
  std::vector<asof_row<tick, quote>> rows;
  auto p = connect(from(trades) | with_watermarks(&tick::ts, monotonous_timestamps()) | key_by(&tick::symbol),
                   from(quotes) | with_watermarks(&quote::ts, monotonous_timestamps()) | key_by(&quote::symbol)) |
           asof_join().emit(emit_mode::final) | collect(rows);
  p.run();  // the 2 ms trade with the 1 ms quote, the 6 ms trade with the 5 ms quote

  REQUIRE(rows.size() == 2);
  REQUIRE(rows[0].right.has_value());
  REQUIRE(rows[1].right.has_value());
  CHECK(rows[0].right->ts == 1 * ms);
  CHECK(rows[1].right->ts == 5 * ms);
}

TEST_CASE("reference: joins: asof_join") {
  std::vector<asof_row<tick, quote>> rows;
  auto p = connect(push<tick>() | event_time(&tick::ts) | key_by(&tick::symbol),
                   push<quote>() | event_time(&quote::ts) | key_by(&quote::symbol)) |
           asof_join().tolerance(5ms) | collect(rows);
  p.push_right({1 * ms, 7, 179.9, 180.1});
  p.push_left({2 * ms, 7, 180.0, 100});  // joined with the 1 ms quote
  p.push_left({9 * ms, 7, 180.2, 100});  // the quote is 8 ms before it, beyond the tolerance: no match
  p.push_left({3 * ms, 9, 99.0, 50});    // no quote for symbol 9: no match
  p.finish();  // rows.size() == 3: rows[0].right->bid == 179.9, rows[1].right and rows[2].right empty

  REQUIRE(rows.size() == 3);
  REQUIRE(rows[0].right.has_value());
  CHECK(rows[0].right->bid == 179.9);
  CHECK_FALSE(rows[1].right.has_value());
  CHECK_FALSE(rows[2].right.has_value());
}

TEST_CASE("reference: joins: asof_join late") {
  side_records<tick> late;
  std::uint64_t n = 0;
  auto p = connect(push<tick>() | event_time(&tick::ts) | key_by(&tick::symbol),
                   push<quote>() | event_time(&quote::ts) | key_by(&quote::symbol)) |
           asof_join().late_to(late) | count_events(n);
  p.push_left_watermark(timestamp::from_nanos(10 * ms));
  p.push_left({5 * ms, 7, 180.0, 100});  // behind the left watermark: late, not joined
  // late.count() == 1, p.join().late_count() == 1, n == 0

  CHECK(late.count() == 1);
  CHECK(p.join().late_count() == 1);
  CHECK(n == 0);
}

TEST_CASE("reference: joins: asof_join final") {
  std::vector<asof_row<tick, quote>> rows;
  auto p = connect(push<tick>() | event_time(&tick::ts) | key_by(&tick::symbol),
                   push<quote>() | event_time(&quote::ts) | key_by(&quote::symbol)) |
           asof_join().emit(emit_mode::final) | collect(rows);
  p.push_left({5 * ms, 7, 180.0, 100});
  p.push_right({4 * ms, 7, 179.9, 180.1});
  std::size_t held = p.join().left_held();                // 1: its answer is not exact yet
  p.push_right_watermark(timestamp::from_nanos(6 * ms));  // exact now, but rows leave in left time order ...
  std::size_t before = rows.size();                       // 0
  p.push_left_watermark(timestamp::from_nanos(6 * ms));   // ... once the left watermark has passed them too
  // rows.size() == 1, rows[0].right->ts == 4 ms

  CHECK(held == 1);
  CHECK(before == 0);
  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0].right.has_value());
  CHECK(rows[0].right->ts == 4 * ms);
}

TEST_CASE("reference: joins: asof_join ordered feed") {
  std::vector<asof_row<tick, double>> rows;
  auto p = connect(push<tick>() | event_time(&tick::ts) | key_by(&tick::symbol),
                   push<quote>() | event_time(&quote::ts) | key_by(&quote::symbol)) |
           asof_join().ordered_feed().dense_keys(16).keep_right(&quote::bid) | collect(rows);
  p.push_right({1 * ms, 7, 179.9, 180.1});
  p.push_left({2 * ms, 7, 180.0, 100});  // {tick, 179.9}: the bid is all the join keeps of a quote
  p.push_right({3 * ms, 7, 180.0, 180.2});
  p.push_left({2 * ms, 7, 180.1, 100});  // behind its symbol's newest quote: out of order, not joined
  bool refused = false;
  try {
    p.push_left({4 * ms, 99, 1.0, 1});
  } catch (const usage_error&) {
    refused = true;  // "laminar: asof_join: dense_keys(16): key 99 is not below 16"
  }
  // rows.size() == 1, *rows[0].right == 179.9, p.join().out_of_order_count() == 1

  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0].right.has_value());
  CHECK(*rows[0].right == 179.9);
  CHECK(p.join().out_of_order_count() == 1);
  CHECK(refused);
}

TEST_CASE("reference: joins: interval_join") {
  std::vector<interval_row<tick, quote>> rows;
  auto p = connect(push<tick>() | event_time(&tick::ts) | key_by(&tick::symbol),
                   push<quote>() | event_time(&quote::ts) | key_by(&quote::symbol)) |
           interval_join(0ms, 5ms).type(join_type::left) | collect(rows);
  p.push_left({10 * ms, 7, 180.0, 100});
  p.push_right({12 * ms, 7, 179.9, 180.1});               // within [10 ms, 15 ms]: a row
  p.push_left({20 * ms, 7, 180.5, 100});                  // nothing within [20 ms, 25 ms] yet ...
  p.push_right_watermark(timestamp::from_nanos(30 * ms));  // ... and the right watermark proves none will come
  // rows: {10 ms tick, 12 ms quote}, {20 ms tick, none}

  REQUIRE(rows.size() == 2);
  CHECK(rows[0].left->ts == 10 * ms);
  CHECK(rows[0].right->ts == 12 * ms);
  CHECK(rows[1].left->ts == 20 * ms);
  CHECK_FALSE(rows[1].right.has_value());
}

TEST_CASE("reference: joins: temporal_join") {
  std::vector<temporal_row<tick, change<quote>>> rows;
  auto p = connect(push<tick>() | event_time(&tick::ts) | key_by(&tick::symbol),
                   push<change<quote>>() | event_time(&quote::ts) | key_by(&quote::symbol)) |
           temporal_join().type(join_type::left) | collect(rows);
  p.push_right({{1 * ms, 7, 179.9, 180.1}, change_kind::insert});
  p.push_right({{5 * ms, 7, 0.0, 0.0}, change_kind::remove});
  p.push_left({3 * ms, 7, 180.0, 100});
  p.push_left({6 * ms, 7, 180.2, 100});
  p.push_right_watermark(timestamp::from_nanos(10 * ms));
  p.push_left_watermark(timestamp::from_nanos(10 * ms));
  // rows: {3 ms tick, the 1 ms quote}, {6 ms tick, none}: symbol 7's row was removed at 5 ms

  REQUIRE(rows.size() == 2);
  REQUIRE(rows[0].right.has_value());
  CHECK(rows[0].right->bid == 179.9);
  CHECK_FALSE(rows[1].right.has_value());
}

TEST_CASE("reference: joins: lookup_join loader") {
  std::unordered_map<std::uint32_t, double> tick_sizes{{7, 0.01}, {9, 0.05}};
  std::uint64_t calls = 0;
  std::vector<lookup_row<tick, double>> rows;
  auto p = push<tick>() | key_by(&tick::symbol) |
           lookup_join([&](const std::uint32_t& symbol) -> std::optional<double> {
             ++calls;
             const auto it = tick_sizes.find(symbol);
             if (it == tick_sizes.end()) return std::nullopt;
             return it->second;
           }).cache_size(100) |
           collect(rows);
  p.push({1 * ms, 7, 180.0, 100});
  p.push({2 * ms, 7, 180.1, 100});  // from the cache
  p.push({3 * ms, 5, 10.0, 100});   // no value: emitted with an empty right side (emit_empty)
  // rows.size() == 3, *rows[0].right == 0.01, !rows[2].right; calls == 2, p.chain().hits() == 1

  REQUIRE(rows.size() == 3);
  CHECK(*rows[0].right == 0.01);
  CHECK_FALSE(rows[2].right.has_value());
  CHECK(calls == 2);
  CHECK(p.chain().hits() == 1);
}

TEST_CASE("reference: joins: lookup_join table") {
  std::vector<lookup_row<tick, quote>> rows;
  auto p = connect(push<tick>() | key_by(&tick::symbol), push<quote>() | key_by(&quote::symbol)) |
           lookup_join().on_missing(lookup_missing::drop) | collect(rows);
  p.push_right({1 * ms, 7, 179.9, 180.1});
  p.push_left({0 * ms, 7, 180.0, 100});  // the row symbol 7 has now, whatever the times
  p.push_left({2 * ms, 9, 99.0, 50});    // no row for 9: dropped, counted
  // rows.size() == 1, p.join().missing() == 1

  CHECK(rows.size() == 1);
  CHECK(p.join().missing() == 1);
}

// ---------------------------------------------------------------- late-data.md

TEST_CASE("reference: late data: a join in front of a window") {
  side_records<tick> join_late;
  side_records<asof_row<tick, quote>> window_late;
  std::vector<window_row<std::uint32_t, std::int64_t>> bars;
  auto p = connect(push<tick>() | event_time(&tick::ts) | key_by(&tick::symbol),
                   push<quote>() | event_time(&quote::ts) | key_by(&quote::symbol)) |
           asof_join().late_to(join_late) |
           tumbling(1s).aggregate(sum([](const asof_row<tick, quote>& r) { return r.left.qty; })).late_to(window_late) |
           collect(bars);
  p.push_right({100 * ms, 7, 179.9, 180.1});
  p.push_left({200 * ms, 7, 180.0, 100});
  p.push_left_watermark(timestamp::from_nanos(1500 * ms));
  p.push_right_watermark(timestamp::from_nanos(1500 * ms));  // the window [0, 1s) fires: +I 7 100
  p.push_left({300 * ms, 7, 180.1, 200});                      // behind the left watermark: the join's late record
  p.finish();
  // join_late.count() == 1; window_late.count() == 0; bars: one row, 100

  CHECK(join_late.count() == 1);
  CHECK(window_late.count() == 0);
  CHECK(values(bars) == std::vector<std::int64_t>{100});
}

// ---------------------------------------------------------------- pipeline.md

TEST_CASE("reference: pipeline: checkpoint and restore") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}, {2 * ms, 7, 180.5, 300}, {3 * ms, 9, 99.0, 50}};
  std::uint64_t n = 0;
  auto first = from(ticks) | count_events(n);
  first.run_for(2);
  const std::string bytes = first.checkpoint(7).to_bytes();  // or .write(std::ostream&)

  std::uint64_t m = 0;
  auto second = from(ticks) | count_events(m);
  second.restore(snapshot::from_bytes(bytes));  // or snapshot::read(std::istream&)
  second.run();                                 // m == 3: two counted before the checkpoint, one after

  CHECK(m == 3);
}

TEST_CASE("reference: pipeline: a damaged checkpoint") {
  bool refused = false;
  try {
    (void)snapshot::from_bytes("not a checkpoint");
  } catch (const checkpoint_error&) {
    refused = true;  // "checkpoint: bad magic at offset 0: not a laminar checkpoint file"
  }

  CHECK(refused);
}

TEST_CASE("reference: pipeline: checkpoint outcomes") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}};
  std::vector<std::uint64_t> committed;
  auto p = from(ticks) | outcomes{&committed};
  const snapshot s = p.checkpoint(1);
  // ... once s is durable wherever the program keeps it:
  p.checkpoint_complete(1);  // every stage hears on_checkpoint_complete(1): committed == {1}
  p.checkpoint_abort(2);     // every stage hears on_checkpoint_abort(2)

  CHECK(s.checkpoint_id() == 1);
  CHECK(committed == std::vector<std::uint64_t>{1});
}

// ---------------------------------------------------------------- graph.md

TEST_CASE("reference: graph: a graph") {
  std::vector<tick> ticks{{100 * ms, 7, 180.0, 100}, {200 * ms, 9, 99.0, 50}, {1100 * ms, 7, 181.0, 300}};
  std::vector<window_row<std::uint32_t, std::int64_t>> rows;
  graph g(runtime_options{.workers = 2, .pin = false});
  auto in = g.source("ticks", from(ticks) | with_watermarks(&tick::ts, bounded_out_of_orderness(0ms)) |
                                  key_by(&tick::symbol));
  auto bars = g.parallel("bars", in, 2, tumbling(1s).aggregate(sum(&tick::qty)));
  g.merge("out", collect(rows), bars);
  g.run();  // rows: 7 [0, 1s) 100, 9 [0, 1s) 50, 7 [1s, 2s) 300, in an order the threads decide

  std::vector<std::int64_t> got = values(rows);
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::int64_t>{50, 100, 300});
}

TEST_CASE("reference: graph: a push feed") {
  push_feed<tick> feed(1024);
  std::vector<tick> seen;
  graph g(runtime_options{.workers = 1, .pin = false});
  auto in = g.source("feed", feed.source() | with_watermarks(&tick::ts, bounded_out_of_orderness(0ms)));
  g.node("out", in, collect(seen));
  g.start();
  std::thread handler([&feed] {
    feed.push(tick{100 * ms, 7, 180.0, 100});
    feed.push(tick{200 * ms, 9, 99.0, 50});
    feed.close();  // the end: the node ends after the last record
  });
  handler.join();
  g.wait();  // seen: both ticks, in the order pushed

  CHECK(seen == std::vector<tick>{{100 * ms, 7, 180.0, 100}, {200 * ms, 9, 99.0, 50}});
}

TEST_CASE("reference: graph: errors") {
  graph g;
  bool refused = false;
  try {
    g.start();
  } catch (const graph_error&) {
    refused = true;  // "graph: the graph is empty: add a source"
  }

  CHECK(refused);
}

// ---------------------------------------------------------------- stage-protocol.md

TEST_CASE("reference: stage protocol: a sink") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}, {2 * ms, 7, 182.5, 300}};
  double highest = 0;
  auto p = from(ticks) | max_price{&highest};
  p.run();  // highest == 182.5

  CHECK(highest == 182.5);
}

TEST_CASE("reference: stage protocol: make_chain") {
  std::vector<double> out;
  auto chain = make_chain<tick>(map([](const tick& t) { return t.price; }) | collect(out));
  chain.on_event({1 * ms, 7, 180.0, 100});
  chain.on_watermark(timestamp::from_nanos(1 * ms));
  chain.on_end();  // out == {180.0}

  CHECK(out == std::vector<double>{180.0});
}

TEST_CASE("reference: stage protocol: a source") {
  std::uint64_t n = 0;
  auto p = millisecond_ticks{{}, 0, 1000} | with_watermarks(&tick::ts, monotonous_timestamps()) | count_events(n);
  p.run_for(10);
  const snapshot s = p.checkpoint(1);  // records "millisecond_ticks" (next == 10), "watermark_generator", "count_events"
  p.run();                             // n == 1000

  std::vector<std::string> ids;
  for (const state_record& r : s.records()) ids.push_back(r.id);
  CHECK(ids == std::vector<std::string>{"millisecond_ticks", "watermark_generator", "count_events"});
  CHECK(n == 1000);
}

TEST_CASE("reference: stage protocol: a two-input operator") {
  std::vector<std::uint64_t> out;
  auto p = connect(push<tick>(), push<quote>()) | seen_quotes{} | collect(out);
  p.push_right({1 * ms, 7, 179.9, 180.1});
  p.push_left({2 * ms, 7, 180.0, 100});
  const snapshot s = p.checkpoint(1);  // the operator's count, under "seen_quotes_stage"
  p.finish();                          // out == {1}

  CHECK(s.find("seen_quotes_stage") != nullptr);
  CHECK(out == std::vector<std::uint64_t>{1});
}

// ---------------------------------------------------------------- the docs quote code that exists

// A doc's `cpp` blocks, each as its lines trimmed of surrounding blanks,
// empty lines dropped.
std::vector<std::string> cpp_blocks(const std::filesystem::path& doc) {
  std::ifstream in(doc);
  REQUIRE_MESSAGE(in.good(), "cannot read " << doc);
  std::vector<std::string> blocks;
  std::string line, block;
  bool inside = false;
  const auto trim = [](const std::string& s) {
    const std::size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return std::string();
    return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
  };
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (!inside && t == "```cpp") {
      inside = true;
      block.clear();
    } else if (inside && t == "```") {
      inside = false;
      blocks.push_back(block);
    } else if (inside && !t.empty()) {
      block += t + "\n";
    }
  }
  CHECK_MESSAGE(!inside, doc << " has a `cpp` block that is never closed");
  return blocks;
}

// The file, normalized as cpp_blocks normalizes a block.
std::string normalized(const std::filesystem::path& file) {
  std::ifstream in(file);
  REQUIRE_MESSAGE(in.good(), "cannot read " << file);
  std::stringstream all;
  all << in.rdbuf();
  std::istringstream lines(all.str());
  std::string out = "\n", line;
  while (std::getline(lines, line)) {
    const std::size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    out += line.substr(b, line.find_last_not_of(" \t\r") - b + 1) + "\n";
  }
  return out;
}

void expect_quoted(const std::filesystem::path& doc, const std::filesystem::path& code) {
  const std::string text = normalized(code);
  const std::vector<std::string> blocks = cpp_blocks(doc);
  CHECK_MESSAGE(!blocks.empty(), doc << " has no `cpp` block");
  for (const std::string& b : blocks) {
    CHECK_MESSAGE(text.find("\n" + b) != std::string::npos,
                  doc.filename() << ": this block is not, line for line, in " << code.filename() << ":\n" << b);
  }
}

TEST_CASE("reference: checkpointing: a pipeline that recovers from its checkpoint directory") {
  std::vector<tick> ticks{{1 * ms, 7, 180.0, 100}, {2 * ms, 7, 180.5, 300}, {3 * ms, 9, 99.0, 50}, {4 * ms, 9, 99.5, 70}};
  const auto dir = std::filesystem::temp_directory_path() / "laminar-reference-checkpointing";
  std::filesystem::remove_all(dir);
  for (int run = 0; run < 2; ++run) {  // the first run stops after its checkpoint, as a crash would
    checkpoint_store store(dir / "checkpoints");
    checkpoint_coordinator coord(store, {.interval = duration::max()});
    auto p = from(ticks) | transactional_file_sink(dir / "out", [](const tick& t, std::string& out) {
               out += std::to_string(t.qty);
               out += '\n';
             });
    coord.recover(p);  // run 1: checkpoint 1, taken after 2 ticks
    if (run == 0) {
      p.run_for(2);
      coord.trigger(p);
      coord.drain(p);  // checkpoint 1 is durable, and out/part-...00-...02 committed
      continue;        // the crash
    }
    p.run();  // ticks 3 and 4; the end commits out/part-...02-...04
  }
  std::vector<std::string> parts;
  for (const auto& e : std::filesystem::directory_iterator(dir / "out")) {
    std::ifstream f(e.path());
    std::stringstream text;
    text << f.rdbuf();
    parts.push_back(e.path().filename().string() + ": " + text.str());
  }
  std::sort(parts.begin(), parts.end());
  CHECK(parts == std::vector<std::string>{"part-00000000000000000000-00000000000000000002: 100\n300\n",
                                          "part-00000000000000000002-00000000000000000004: 50\n70\n"});
  std::filesystem::remove_all(dir);
}

TEST_CASE("reference: every cpp block of the docs is code that compiles and runs") {
  const std::filesystem::path root = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  const std::filesystem::path reference = root / "docs" / "reference";
  REQUIRE_MESSAGE(std::filesystem::is_directory(reference), "no " << reference);
  std::size_t pages = 0;
  for (const auto& entry : std::filesystem::directory_iterator(reference)) {
    if (entry.path().extension() != ".md") continue;
    ++pages;
    expect_quoted(entry.path(), __FILE__);
  }
  CHECK(pages >= 10);
  expect_quoted(root / "docs" / "custom-operators.md", root / "examples" / "03_custom_operator.cpp");
  expect_quoted(root / "docs" / "trading-pipeline.md", root / "examples" / "11_trading_pipeline.cpp");
}

}  // namespace
