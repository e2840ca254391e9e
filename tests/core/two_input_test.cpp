// Two-input stages and connect(): the combined watermark is the minimum of
// the inputs', barriers are aligned, the end comes once both inputs ended,
// pull sources are interleaved by watermark, operators run before either
// input, and a checkpoint restores the operator and both sources.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <laminar/laminar.hpp>

#include "support/differential.hpp"

using namespace laminar;

namespace {

struct tick {
  std::int64_t ts = 0;
  std::int64_t value = 0;
};
struct quote {
  std::int64_t ts = 0;
  double price = 0;
};

// What the trace operator saw, in order.
struct trace_row {
  char what = '?';  // 'L', 'R' (records), 'W' (watermark), 'E' (end)
  std::int64_t value = 0;
  std::int64_t seen = 0;  // records seen before this one (state, checkpointed)
  friend bool operator==(const trace_row&, const trace_row&) = default;
  friend std::ostream& operator<<(std::ostream& os, const trace_row& r) {
    return os << r.what << r.value << "#" << r.seen;
  }
  template <class A>
  void serialize(A& ar) {
    ar(what, value, seen);
  }
};

template <class Next>
struct trace_stage : forwarding_two_input_stage<trace_stage<Next>> {
  explicit trace_stage(Next n) : next(std::move(n)) {}
  Next next;
  std::int64_t seen = 0;
  Next& downstream() noexcept { return next; }
  void on_event(left_input, const tick& t) { next.on_event(trace_row{'L', t.value, seen++}); }
  void on_event(right_input, const quote& q) { next.on_event(trace_row{'R', static_cast<std::int64_t>(q.price), seen++}); }
  void on_watermark(timestamp w) {
    next.on_event(trace_row{'W', w == timestamp::max() ? -1 : w.nanos(), seen});
    next.on_watermark(w);
  }
  void on_end() {
    next.on_event(trace_row{'E', 0, seen});
    next.on_end();
  }
  void save_state(state_writer& w) const { w(seen); }
  void load_state(state_reader& r) { r(seen); }
};

struct trace {
  using is_two_input_operator = void;
  template <class LCtx, class RCtx>
  auto output_context(const LCtx&, const RCtx&) const {
    return stream_context<trace_row>{};
  }
  template <class LCtx, class RCtx, class Next>
  auto bind(const LCtx&, const RCtx&, Next&& next) && {
    return trace_stage<std::remove_cvref_t<Next>>(std::forward<Next>(next));
  }
};

std::string text(const std::vector<trace_row>& rows) {
  std::string s;
  for (const trace_row& r : rows) s += r.what + std::to_string(r.value) + " ";
  return s;
}

}  // namespace

TEST_CASE("connect: the combined watermark is the minimum of the inputs', the end comes once both ended") {
  std::vector<trace_row> rows;
  auto p = connect(push<tick>(), push<quote>()) | trace() | collect(rows);
  p.push_left(tick{1, 10});
  p.push_right(quote{2, 20});
  p.push_left_watermark(timestamp::from_nanos(5));
  CHECK(p.watermarks().watermark() == timestamp::min());  // the right input holds it back
  p.push_right_watermark(timestamp::from_nanos(3));
  p.push_right_watermark(timestamp::from_nanos(7));
  p.push_left(tick{6, 11});
  p.push_left_watermark(timestamp::from_nanos(9));
  p.finish_right();  // the left input alone decides now
  p.push_left_watermark(timestamp::from_nanos(12));
  CHECK(text(rows) == "L10 R20 W3 W5 L11 W7 W9 W12 ");
  p.finish();
  CHECK(text(rows) == "L10 R20 W3 W5 L11 W7 W9 W12 W-1 E0 ");
  CHECK_THROWS_AS(p.push_left(tick{}), usage_error);
}

TEST_CASE("connect: pull sources are interleaved by watermark, operators run before either input") {
  std::vector<tick> ticks;
  std::vector<quote> quotes;
  for (std::int64_t i = 0; i < 100; ++i) ticks.push_back({i * 10, i});
  for (std::int64_t i = 0; i < 40; ++i) quotes.push_back({i * 25 + 3, static_cast<double>(1000 + i)});
  std::vector<trace_row> rows;
  auto p = connect(from(ticks) | with_watermarks(&tick::ts, bounded_out_of_orderness(duration::zero())) |
                       filter([](const tick& t) { return t.value % 2 == 0; }),
                   from(quotes) | with_watermarks(&quote::ts, bounded_out_of_orderness(duration::zero())) |
                       map([](const quote& q) { return quote{q.ts, q.price + 1}; }) | event_time(&quote::ts)) |
           trace() | collect(rows);
  p.run();
  std::int64_t lefts = 0, rights = 0, last_w = -1;
  std::int64_t last_left_ts = -1, last_right_ts = -1;
  for (const trace_row& r : rows) {
    if (r.what == 'L') {
      ++lefts;
      last_left_ts = r.value * 10;
      CHECK(r.value % 2 == 0);
    }
    if (r.what == 'R') {
      ++rights;
      last_right_ts = (r.value - 1001) * 25 + 3;
    }
    if (r.what == 'W' && r.value >= 0) {
      CHECK(r.value > last_w);
      last_w = r.value;
      // Interleaved by watermark: neither input runs far ahead of the other
      // (left records every 20 after the filter, right every 25).
      if (last_left_ts >= 0 && last_right_ts >= 0) CHECK(std::abs(last_left_ts - last_right_ts) <= 45);
    }
  }
  CHECK(lefts == 50);
  CHECK(rights == 40);
  CHECK(rows.back().what == 'E');
}

TEST_CASE("connect: a checkpoint aligns on both inputs and restores the operator and both sources") {
  std::vector<tick> ticks;
  std::vector<quote> quotes;
  for (std::int64_t i = 0; i < 300; ++i) ticks.push_back({i * 7, i});
  for (std::int64_t i = 0; i < 200; ++i) quotes.push_back({i * 11, static_cast<double>(i)});
  const auto build = [&](std::vector<trace_row>& rows) {
    return connect(from(ticks) | with_watermarks(&tick::ts, bounded_out_of_orderness(duration::from_nanos(3))),
                   from(quotes) | with_watermarks(&quote::ts, bounded_out_of_orderness(duration::from_nanos(3)))) |
           trace() | collect(rows);
  };
  std::vector<trace_row> whole;
  {
    auto p = build(whole);
    p.run();
  }
  for (std::size_t cut : {0UL, 1UL, 77UL, 250UL, 499UL}) {
    CAPTURE(cut);
    std::vector<trace_row> first;
    std::string bytes;
    {
      auto p = build(first);
      p.run_for(cut);
      bytes = p.checkpoint(7).to_bytes();
    }
    std::vector<trace_row> rest = first;  // collect's checkpoint holds only its length
    auto q = build(rest);
    q.restore(snapshot::from_bytes(bytes));
    while (!q.exhausted()) q.run_for(1000);
    q.finish();
    test::same_outputs(rest, whole, "rows after restore");
  }
}

TEST_CASE("two_input_adapter: a second barrier on one input before the other's first is a usage error") {
  std::vector<trace_row> rows;
  auto stage = trace{}.bind(stream_context<tick>{}, stream_context<quote>{},
                            bind_chain(stream_context<trace_row>{}, detail::as_pipe(collect(rows))));
  two_input_adapter<decltype(stage)> adapter(std::move(stage));
  snapshot s(1);
  const checkpoint_barrier b(1, s, checkpoint_barrier::kind::snapshot);
  adapter.on_barrier(left_input{}, b);
  CHECK_THROWS_WITH_AS(adapter.on_barrier(left_input{}, b), doctest::Contains("second checkpoint barrier arrived on the left"),
                       usage_error);
  adapter.on_barrier(right_input{}, b);  // aligned: saved once
  adapter.on_barrier(right_input{}, b);
  adapter.on_barrier(left_input{}, b);  // the second checkpoint, aligned too
}
