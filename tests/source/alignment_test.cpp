// Watermark alignment in one thread: union_of(...).aligned(...) against a
// reference model of the definitions in source/alignment.hpp (per-input
// watermarks, the low watermark L over inputs that have reported and not
// ended, drift = watermark - L), for each policy; deadlock freedom; push
// sources; checkpoint and restore.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <laminar/laminar.hpp>
#include <limits>
#include <optional>
#include <ostream>
#include <ranges>
#include <tuple>
#include <utility>
#include <vector>

#include "support/recording_sink.hpp"

using namespace laminar;
using namespace std::chrono_literals;

namespace {
constexpr std::int64_t t0 = 1'700'000'000'000'000'000;
constexpr std::int64_t ms = 1'000'000;

struct rec {
  int src = 0;
  std::int64_t ts = 0;
  std::uint64_t seq = 0;
  friend bool operator==(const rec&, const rec&) = default;
  friend bool operator<(const rec& a, const rec& b) { return std::tie(a.src, a.seq) < std::tie(b.src, b.seq); }
  friend std::ostream& operator<<(std::ostream& os, const rec& r) {
    return os << "{src " << r.src << ", ts " << r.ts << ", seq " << r.seq << "}";
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(src, ts, seq);
  }
};

// What reached the program, in order: records passed on or held back as
// excess, and the moment an input ran out.
struct entry {
  enum kind_t { emitted, dropped, ended } kind;
  int src;
  std::int64_t ts;
};

// Input `src`: n records `step` apart from t0 + step (monotonous timestamps,
// so its watermark is its latest timestamp from its second record on). It
// notes in `trace` when it runs out, just before the union ends it.
auto feed(int src, std::int64_t step, std::uint64_t n, std::vector<entry>* trace = nullptr) {
  return generate([src, step, n, trace, i = std::uint64_t{0}]() mutable -> std::optional<rec> {
           if (i == n) {
             if (trace) trace->push_back({entry::ended, src, 0});
             trace = nullptr;
             return std::nullopt;
           }
           ++i;
           return rec{src, t0 + static_cast<std::int64_t>(i) * step, i};
         }) |
         with_watermarks(&rec::ts, monotonous_timestamps());
}

auto emitted_to(std::vector<entry>& trace) {
  return sink([&trace](const rec& r) { trace.push_back({entry::emitted, r.src, r.ts}); });
}

// The reference model: replays a trace and checks each policy's rule.
struct model {
  static constexpr std::int64_t unreported = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t gone = std::numeric_limits<std::int64_t>::max();

  std::int64_t max_drift;
  std::vector<std::int64_t> wm;
  std::vector<std::uint64_t> seen;
  std::vector<bool> drifting;
  std::uint64_t episodes = 0;
  std::int64_t max_seen = 0;   // the largest drift beyond the bound
  std::int64_t max_drift_all = 0;  // the largest drift at all
  std::vector<std::int64_t> max_drift_of;

  model(std::size_t inputs, std::int64_t d)
      : max_drift(d), wm(inputs, unreported), seen(inputs, 0), drifting(inputs, false), max_drift_of(inputs, 0) {}

  // L: the minimum over inputs (but `except`) that have reported and not ended.
  [[nodiscard]] std::optional<std::int64_t> low(int except = -1) const {
    std::optional<std::int64_t> l;
    for (std::size_t k = 0; k < wm.size(); ++k) {
      const std::int64_t w = wm[k];
      if (static_cast<int>(k) != except && w != unreported && w != gone && (!l || w < *l)) l = w;
    }
    return l;
  }
  // Whether input i's record at ts is excess (drop), judged before it: more
  // than max_drift past the other inputs' lowest watermark.
  [[nodiscard]] bool excess(int i, std::int64_t ts) const {
    const auto l = low(i);
    return l && ts > *l + max_drift;
  }
  // Input i's record at ts: its watermark follows from its second record on.
  void record(int i, std::int64_t ts) {
    const auto k = static_cast<std::size_t>(i);
    if (++seen[k] < 2 || ts <= wm[k]) return;
    wm[k] = ts;
    const std::int64_t drift = ts - *low();
    max_drift_all = std::max(max_drift_all, drift);
    max_drift_of[k] = std::max(max_drift_of[k], drift);
    if (drift <= max_drift) {
      drifting[k] = false;
      return;
    }
    max_seen = std::max(max_seen, drift);
    if (!drifting[k]) ++episodes;
    drifting[k] = true;
  }
  void end(int i) {
    wm[static_cast<std::size_t>(i)] = gone;
    drifting[static_cast<std::size_t>(i)] = false;
  }
  void replay(const std::vector<entry>& trace) {
    for (const entry& e : trace) {
      if (e.kind == entry::ended) {
        end(e.src);
      } else {
        record(e.src, e.ts);
      }
    }
  }
};

std::size_t count_of(const std::vector<entry>& trace, entry::kind_t k) {
  return static_cast<std::size_t>(std::count_if(trace.begin(), trace.end(), [k](const entry& e) { return e.kind == k; }));
}

// Three inputs with different event-time rates over the same 3 s: 1, 3 and
// 2 ms per record.
constexpr std::int64_t steps[3] = {1 * ms, 3 * ms, 2 * ms};
constexpr std::uint64_t sizes[3] = {3000, 1000, 1500};
constexpr std::size_t total = 5500;
}  // namespace

TEST_CASE("pause: no input's watermark drifts beyond max_drift plus one record's advance, whatever the batch") {
  const std::int64_t d = 20 * ms;
  for (std::size_t batch : {1UL, 8UL, 64UL}) {
    CAPTURE(batch);
    std::vector<entry> trace;
    auto p = union_of_batched(batch, feed(0, steps[0], sizes[0], &trace), feed(1, steps[1], sizes[1], &trace),
                              feed(2, steps[2], sizes[2], &trace))
                 .aligned(duration::from_nanos(d)) |
             emitted_to(trace);
    const alignment_group group = p.source().alignment();
    CHECK(group.members() == 3);
    CHECK(group.policy() == alignment_policy::pause);
    p.run();

    CHECK(count_of(trace, entry::emitted) == total);
    model m(3, d);
    m.replay(trace);
    // The bound: a record is pulled only while its input is within L + d,
    // and one record moves the input's watermark by its step.
    for (std::size_t i = 0; i < 3; ++i) {
      CAPTURE(i);
      CHECK(m.max_drift_of[i] <= d + steps[i]);
    }
    CHECK(m.max_seen > d);  // the fast inputs did run ahead, and were held
    CHECK(group.max_drift_seen() == duration::from_nanos(m.max_seen));
    CHECK(group.drift_episodes() == m.episodes);
    CHECK(group.dropped() == 0);
    CHECK(group.low_watermark() == timestamp::max());
  }
}

TEST_CASE("without alignment the same inputs drift far apart (the pause test measures something)") {
  std::vector<entry> trace;
  auto p = union_of_batched(8, feed(0, steps[0], sizes[0], &trace), feed(1, steps[1], sizes[1], &trace),
                            feed(2, steps[2], sizes[2], &trace)) |
           emitted_to(trace);
  p.run();
  model m(3, 20 * ms);
  m.replay(trace);
  CHECK(m.max_drift_all > 1000 * ms);
}

TEST_CASE("warn: the stream is the unaligned one, episodes and the largest drift are counted and reported") {
  const std::int64_t d = 20 * ms;
  std::vector<entry> plain_trace, trace;
  auto plain = union_of_batched(8, feed(0, steps[0], sizes[0], &plain_trace), feed(1, steps[1], sizes[1], &plain_trace),
                                feed(2, steps[2], sizes[2], &plain_trace)) |
               emitted_to(plain_trace);
  plain.run();

  alignment_group group(duration::from_nanos(d), alignment_policy::warn);
  std::vector<drift_event> told;
  group.on_drift([&](const drift_event& e) { told.push_back(e); });
  auto p = union_of_batched(8, feed(0, steps[0], sizes[0], &trace), feed(1, steps[1], sizes[1], &trace),
                            feed(2, steps[2], sizes[2], &trace))
               .aligned(group) |
           emitted_to(trace);
  p.run();

  REQUIRE(trace.size() == plain_trace.size());
  for (std::size_t k = 0; k < trace.size(); ++k) {
    CHECK(trace[k].src == plain_trace[k].src);
    CHECK(trace[k].ts == plain_trace[k].ts);
  }
  model m(3, d);
  m.replay(trace);
  CHECK(m.episodes > 0);
  CHECK(group.drift_episodes() == m.episodes);
  CHECK(told.size() == m.episodes);
  CHECK(group.max_drift_seen() == duration::from_nanos(m.max_seen));
  CHECK(group.dropped() == 0);
  for (const drift_event& e : told) {
    CHECK(e.member < 3);
    CHECK(e.drift == e.watermark - e.low);
    CHECK(e.drift > duration::from_nanos(d));
  }
}

TEST_CASE("drop: records beyond L + max_drift go to the side output, and nothing is lost") {
  const std::int64_t d = 20 * ms;
  for (std::size_t batch : {1UL, 8UL, 64UL}) {
    CAPTURE(batch);
    std::vector<entry> trace;
    auto p = union_of_batched(batch, feed(0, steps[0], sizes[0], &trace), feed(1, steps[1], sizes[1], &trace),
                              feed(2, steps[2], sizes[2], &trace))
                 .aligned(alignment_group(duration::from_nanos(d), alignment_policy::drop),
                          [&trace](const rec& r) { trace.push_back({entry::dropped, r.src, r.ts}); }) |
             emitted_to(trace);
    p.run();

    // Each record judged against the model, in the order the inputs made them.
    model m(3, d);
    std::size_t mismatches = 0;
    for (const entry& e : trace) {
      if (e.kind == entry::ended) {
        m.end(e.src);
        continue;
      }
      if (m.excess(e.src, e.ts) != (e.kind == entry::dropped)) ++mismatches;
      m.record(e.src, e.ts);
    }
    CHECK(mismatches == 0);
    const std::size_t dropped = count_of(trace, entry::dropped);
    CHECK(dropped > 0);
    CHECK(count_of(trace, entry::emitted) + dropped == total);
    CHECK(p.source().alignment().dropped() == dropped);
  }
}

TEST_CASE("drop: an side_records side output given by reference keeps every record held back") {
  std::vector<rec> out;
  side_records<rec> excess;
  alignment_group group(10ms, alignment_policy::drop);
  auto p = union_of_batched(16, feed(0, steps[0], sizes[0]), feed(1, steps[1], sizes[1]), feed(2, steps[2], sizes[2]))
               .aligned(group, excess) |
           collect(out);
  p.run();
  CHECK(excess.count() > 0);
  CHECK(excess.count() == group.dropped());
  CHECK(excess.records().size() == excess.count());
  std::vector<rec> all = out;
  all.insert(all.end(), excess.records().begin(), excess.records().end());
  std::sort(all.begin(), all.end());
  CHECK(all.size() == total);
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());  // none twice
  for (int s = 0; s < 3; ++s) {
    CHECK(std::count_if(all.begin(), all.end(), [s](const rec& r) { return r.src == s; }) ==
          static_cast<std::ptrdiff_t>(sizes[s]));
  }
}

TEST_CASE("an input that ends leaves the group: the others are not held back by it") {
  const std::int64_t d = 10 * ms;
  std::vector<entry> trace;
  // Input 0 stops after 5 records, while the others go on for seconds.
  auto p = union_of_batched(8, feed(0, 1 * ms, 5, &trace), feed(1, 3 * ms, 1000, &trace), feed(2, 2 * ms, 1500, &trace))
               .aligned(duration::from_nanos(d)) |
           emitted_to(trace);
  p.run();
  CHECK(count_of(trace, entry::emitted) == 2505);
  CHECK(count_of(trace, entry::ended) == 3);
  model m(3, d);
  m.replay(trace);
  CHECK(m.max_drift_of[1] <= d + 3 * ms);
  CHECK(m.max_drift_of[2] <= d + 2 * ms);
}

TEST_CASE("an empty input and an input without watermark progress do not deadlock the union") {
  std::vector<rec> out;
  // Input 1 has no records; input 2's records all carry one timestamp (its
  // watermark never moves, so the others wait for it until it ends).
  auto flat = generate([i = std::uint64_t{0}]() mutable -> std::optional<rec> {
                if (i == 500) return std::nullopt;
                return rec{2, t0 + ms, ++i};
              }) |
              with_watermarks(&rec::ts, monotonous_timestamps());
  auto p = union_of_batched(8, feed(0, ms, 2000), feed(1, ms, 0), std::move(flat)).aligned(5ms) | collect(out);
  p.run();
  CHECK(out.size() == 2500);
}

TEST_CASE("when every input is paused by a member outside the union, the lowest input is pulled anyway") {
  alignment_group group(5ms, alignment_policy::pause);
  // A member that never runs: it has not reported, so every member that has
  // reported waits for it.
  auto outsider = feed(9, ms, 10) | aligned(group);
  std::vector<rec> out;
  auto p = union_of_batched(4, feed(0, ms, 400), feed(1, 2 * ms, 200)).aligned(group) | collect(out);
  CHECK(group.members() == 3);
  p.run_for(50);
  CHECK(outsider.paused() == false);  // not reported: never paused
  CHECK(p.source().paused());         // both inputs wait for the outsider...
  p.run();                             // ...but the union still makes progress
  CHECK(out.size() == 600);
  // Lowest first: input 0 (1 ms) and input 1 (2 ms) interleave by watermark,
  // so no record of one is far ahead of the other in the output.
  std::int64_t last[2] = {0, 0};
  for (const rec& r : out) {
    last[r.src] = r.ts;
    const std::int64_t other = last[1 - r.src];
    if (other != 0 && r.seq > 2) CHECK(r.ts - other <= 4 * 2 * ms + 2 * ms);
  }
}

TEST_CASE("push sources: warn and drop work, pause is refused") {
  alignment_group pausing(10ms, alignment_policy::pause);
  CHECK_THROWS_AS((void)(push<rec>() | with_watermarks(&rec::ts, monotonous_timestamps()) | aligned(pausing)),
                  usage_error);

  alignment_group group(10ms, alignment_policy::drop);
  std::vector<rec> out_a, out_b;
  side_records<rec> excess_a;
  auto a = push<rec>() | with_watermarks(&rec::ts, monotonous_timestamps()) | aligned(group).excess_to(excess_a) |
           collect(out_a);
  auto b = push<rec>() | with_watermarks(&rec::ts, monotonous_timestamps()) | aligned(group) | collect(out_b);
  a.push({0, t0 + 1 * ms, 1});
  a.push({0, t0 + 2 * ms, 2});   // a reports t0+2ms
  a.push({0, t0 + 30 * ms, 3});  // only a has reported: nothing to compare with
  b.push({1, t0 + 1 * ms, 1});
  b.push({1, t0 + 2 * ms, 2});   // b reports t0+2ms: a's L is t0+2ms
  a.push({0, t0 + 40 * ms, 4});  // beyond L + 10ms: excess
  a.push({0, t0 + 12 * ms, 5});  // within
  b.push({1, t0 + 20 * ms, 3});  // b reports t0+20ms (a's watermark is at 40ms)
  a.push({0, t0 + 29 * ms, 6});  // within 20 + 10
  a.push({0, t0 + 31 * ms, 7});  // beyond
  CHECK(out_a.size() == 5);
  REQUIRE(excess_a.records().size() == 2);
  CHECK(excess_a.records()[0].seq == 4);
  CHECK(excess_a.records()[1].seq == 7);
  CHECK(group.dropped() == 2);
  CHECK(out_b.size() == 3);
  CHECK(group.low_watermark() == to_timestamp(t0 + 20 * ms));
  a.finish();
  CHECK(group.low_watermark() == to_timestamp(t0 + 20 * ms));
  b.finish();
  CHECK(group.low_watermark() == timestamp::max());

  alignment_group warn(10ms, alignment_policy::warn);
  std::uint64_t n = 0;
  auto w1 = push<rec>() | with_watermarks(&rec::ts, monotonous_timestamps()) | aligned(warn) | count_events(n);
  auto w2 = push<rec>() | with_watermarks(&rec::ts, monotonous_timestamps()) | aligned(warn) | count_events(n);
  for (std::uint64_t i = 1; i <= 3; ++i) w2.push({1, t0 + static_cast<std::int64_t>(i) * ms, i});
  for (std::uint64_t i = 1; i <= 30; ++i) w1.push({0, t0 + static_cast<std::int64_t>(i) * ms, i});
  CHECK(n == 33);
  CHECK(warn.drift_episodes() == 1);
  CHECK(warn.max_drift_seen() == duration(27ms));
}

TEST_CASE("a destroyed member leaves its group") {
  alignment_group group(5ms, alignment_policy::pause);
  std::vector<rec> out;
  auto p = feed(0, ms, 100) | aligned(group) | collect(out);
  {
    auto never_run = feed(1, ms, 10) | aligned(group);
    CHECK(group.members() == 2);
    p.run_for(10);
    CHECK(p.source().paused());  // waits for the other member's first watermark
  }
  CHECK(!p.source().paused());
  p.run();
  CHECK(out.size() == 100);
}

TEST_CASE("alignment state survives checkpoint and restore: the restored run continues as the uninterrupted one") {
  using m = test::message<rec>;
  for (alignment_policy policy : {alignment_policy::pause, alignment_policy::warn, alignment_policy::drop}) {
    CAPTURE(static_cast<int>(policy));
    auto build = [&](std::vector<m>& trace, side_records<rec>& excess, alignment_group group) {
      return union_of_batched(5, feed(0, steps[0], 600), feed(1, steps[1], 200), feed(2, steps[2], 300))
                 .aligned(std::move(group), excess) |
             test::record(trace);
    };
    std::vector<m> expected;
    side_records<rec> expected_excess;
    alignment_group whole_group(8ms, policy);
    auto whole = build(expected, expected_excess, whole_group);
    whole.run();
    CHECK(whole_group.drift_episodes() > 0);
    if (policy == alignment_policy::drop) CHECK(expected_excess.count() > 0);

    for (std::size_t cut : {0UL, 1UL, 57UL, 300UL, 777UL, 1099UL}) {
      CAPTURE(cut);
      std::vector<m> first_trace, trace;
      side_records<rec> first_excess, excess;
      alignment_group first_group(8ms, policy), group(8ms, policy);
      auto first = build(first_trace, first_excess, first_group);
      first.run_for(cut);
      const snapshot s = first.checkpoint(3);
      auto second = build(trace, excess, group);
      second.restore(s);
      for (std::size_t i = 0; i < 3; ++i) CHECK(group.watermark(i) == first_group.watermark(i));
      second.run();
      std::vector<m> tail(expected.begin() + static_cast<std::ptrdiff_t>(first_trace.size() - 1), expected.end());
      REQUIRE(!trace.empty());
      CHECK(trace.front() == m{test::barrier_seen{3, true}});
      CHECK(std::vector<m>(trace.begin() + 1, trace.end()) == tail);
      CHECK(excess.records() == expected_excess.records());
      CHECK(excess.count() == expected_excess.count());
      CHECK(group.drift_episodes() == whole_group.drift_episodes());
      CHECK(group.max_drift_seen() == whole_group.max_drift_seen());
      CHECK(group.dropped() == whole_group.dropped());
    }
  }
}

TEST_CASE("a negative max_drift is refused") {
  CHECK_THROWS_AS(alignment_group(duration::from_nanos(-1)), usage_error);
}

namespace {
// A chain that asks its source to stop after every `every` records.
struct stop_every {
  std::size_t every;
  std::vector<int>* out;
  void on_event(int x) { out->push_back(x); }
  void on_watermark(timestamp) {}
  void on_barrier(const checkpoint_barrier&) {}
  void on_end() {}
  [[nodiscard]] bool stop_requested() const { return out->size() % every == 0; }
};

// A pull source that does not honour stop requests: an aligned member built
// on it is pulled one record at a time under the pause policy.
struct plain_feed : source_base<plain_feed> {
  using value_type = rec;
  int src = 0;
  std::int64_t step = ms;
  std::uint64_t n = 0;
  std::uint64_t pos = 0;
  auto context() const { return stream_context<rec>{}; }
  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t max) {
    std::size_t done = 0;
    for (; done != max && pos != n; ++done) {
      ++pos;
      chain.on_event(rec{src, t0 + static_cast<std::int64_t>(pos) * step, pos});
    }
    return done;
  }
  bool exhausted() const { return pos == n; }
  void save_state(state_writer& w) const { w(pos); }
  void load_state(state_reader& r) { r(pos); }
};
}  // namespace

TEST_CASE("range and generator sources stop right after the record at which the chain asks them to") {
  static_assert(stopping_chain<stop_every>);
  static_assert(stoppable_source<decltype(from(std::declval<std::vector<int>&>()))>);
  static_assert(!stoppable_source<plain_feed>);
  std::vector<int> in(10);
  for (int i = 0; i < 10; ++i) in[static_cast<std::size_t>(i)] = i;
  const std::vector<int> first3{0, 1, 2}, first6{0, 1, 2, 3, 4, 5};

  std::vector<int> out;
  stop_every chain{3, &out};
  auto indexed = from(in);
  CHECK(indexed.run_for(chain, 100) == 3);
  CHECK(out == first3);
  CHECK(indexed.run_for(chain, 100) == 3);
  CHECK(out == first6);

  out.clear();
  auto every_one = in | std::views::filter([](int) { return true; });  // not random access: iterated
  auto iterated = from(every_one);
  CHECK(iterated.run_for(chain, 100) == 3);
  CHECK(iterated.run_for(chain, 2) == 2);
  CHECK(out == std::vector<int>{0, 1, 2, 3, 4});

  out.clear();
  auto generated = generate([i = 0]() mutable -> std::optional<int> {
    if (i == 10) return std::nullopt;
    return i++;
  });
  CHECK(generated.run_for(chain, 100) == 3);
  CHECK(generated.run_for(chain, 100) == 3);
  CHECK(out == first6);
  CHECK(generated.position() == 6);
}

TEST_CASE("pause holds its bound for a source that does not stop on request (pulled record by record)") {
  const std::int64_t d = 10 * ms;
  std::vector<entry> trace;
  auto in = [](int src, std::int64_t step, std::uint64_t n) {
    return plain_feed{{}, src, step, n} | with_watermarks(&rec::ts, monotonous_timestamps());
  };
  auto p = union_of_batched(16, in(0, ms, 1500), in(1, 3 * ms, 500)).aligned(duration::from_nanos(d)) | emitted_to(trace);
  p.run();
  CHECK(count_of(trace, entry::emitted) == 2000);
  model m(2, d);
  m.replay(trace);
  CHECK(m.max_drift_of[1] <= d + 3 * ms);
  CHECK(m.max_seen > d);
}
