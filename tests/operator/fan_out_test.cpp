// fan_out / fan_in: one stream into several fused branches in one thread.
// Each branch gives what it gives as a pipeline of its own; every message
// reaches every branch in branch order; fan_in's union passes records as
// they come, the minimum watermark when it rises, and the barrier, the end,
// ticks and outcomes once after the last branch; branch state has its own
// ids and restores exactly; nothing is allocated per record; and the same
// chains run after a join, before one, and as graph nodes.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include <laminar/laminar.hpp>

#include "support/counting_allocator.hpp"
#include "support/differential.hpp"
#include "support/event_stream.hpp"
#include "support/recording_sink.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using test::event;

namespace {

using row = window_row<std::uint32_t, std::int64_t>;
using msg = test::message<event>;

std::vector<event> stream(std::uint64_t seed, std::size_t n = 4000) {
  test::stream_options o;
  o.seed = seed;
  o.records = n;
  o.keys = 40;
  o.start_ns = 1'000'000'000;
  o.max_disorder_ns = 20'000'000;
  o.late_fraction = 0.05;
  return test::make_stream(o);
}

// The signals: each a closed pipe (a fan_out branch, or a pipeline's tail).
auto sums_of(std::vector<row>& out) {
  return key_by(&event::key) | tumbling(50ms).aggregate(sum(&event::value)).allowed_lateness(10ms) | collect(out);
}
auto parity_of(std::vector<row>& out) {
  return key_by([](const event& e) { return e.key % 2; }) | hopping(60ms, 20ms).aggregate(sum(&event::value)) |
         collect(out);
}
auto big_of(std::vector<event>& out) {
  return filter([](const event& e) { return e.value > 900; }) | collect(out);
}

// fan_in's two branches, each marking its records with its index in seq.
auto multiples_of_three() {
  return filter([](const event& e) { return e.value % 3 == 0; }) |
         map([](const event& e) { return event{e.key, e.ts, e.value, 0}; });
}
auto bars_as_events() {
  return key_by(&event::key) | tumbling(40ms).aggregate(sum(&event::value)) |
         map([](const row& r) { return event{r.key, r.end.nanos(), r.value, 1}; });
}
auto merged_of(std::vector<event>& out) { return fan_in(multiples_of_three(), bars_as_events()) | collect(out); }

template <class Tail>
auto pushed(Tail tail) {
  return push<event>() | with_watermarks(&event::ts, bounded_out_of_orderness(20ms)) | std::move(tail);
}

template <class P>
void feed(P& p, const std::vector<event>& in, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i) p.push(in[i]);
}

template <class Tail>
void run_alone(const std::vector<event>& in, Tail tail) {
  auto p = pushed(std::move(tail));
  feed(p, in, 0, in.size());
  p.finish();
}

struct outputs {
  std::vector<row> sums, parity;
  std::vector<event> big, merged;
};

auto four_signals(outputs& o) {
  return fan_out(sums_of(o.sums), parity_of(o.parity), big_of(o.big), merged_of(o.merged));
}

// A message as one branch (or, with -1, the chain after the union) saw it.
struct entry {
  int branch;
  msg m;
  friend bool operator==(const entry&, const entry&) = default;
  friend std::ostream& operator<<(std::ostream& os, const entry& e) { return os << "[" << e.branch << "] " << e.m; }
};

// Logs every message it sees under `branch`, then passes it on.
template <class Next>
class spy_stage : public forwarding_stage<Next> {
 public:
  spy_stage(Next next, std::vector<entry>* log, int branch)
      : forwarding_stage<Next>(std::move(next)), log_(log), branch_(branch) {}
  void on_event(const event& e) {
    note(e);
    this->next_.on_event(e);
  }
  void on_watermark(timestamp w) {
    note(w);
    this->next_.on_watermark(w);
  }
  void on_barrier(const checkpoint_barrier& b) {
    note(test::barrier_seen{b.id(), b.restoring()});
    this->next_.on_barrier(b);
  }
  void on_end() {
    note(test::end_seen{});
    this->next_.on_end();
  }
  void on_processing_time(timestamp now) {
    note(test::tick_seen{now});
    this->next_.on_processing_time(now);
  }
  void on_checkpoint_complete(std::uint64_t id) {
    note(test::complete_seen{id});
    this->next_.on_checkpoint_complete(id);
  }
  void on_checkpoint_abort(std::uint64_t id) {
    note(test::abort_seen{id});
    this->next_.on_checkpoint_abort(id);
  }

 private:
  void note(msg m) { log_->push_back({branch_, std::move(m)}); }
  std::vector<entry>* log_;
  int branch_;
};

struct end_of_log : consuming_stage {
  void on_event(const event&) {}
};

struct spy_operator {
  using is_operator = void;
  std::vector<entry>* log;
  int branch;
  template <class Ctx>
  auto output_context(const Ctx& ctx) const {
    return ctx;
  }
  template <class Ctx, class Next>
  auto bind(const Ctx&, Next&& next) && {
    return spy_stage<std::remove_cvref_t<Next>>(std::forward<Next>(next), log, branch);
  }
};
auto spy(std::vector<entry>& log, int branch) { return spy_operator{&log, branch}; }

struct log_sink_factory {
  using is_sink = void;
  std::vector<entry>* log;
  int branch;
  template <class Ctx>
  auto bind(const Ctx&) && {
    return spy_stage<end_of_log>(end_of_log{}, log, branch);
  }
};
auto log_to(std::vector<entry>& log, int branch) { return log_sink_factory{&log, branch}; }

// Passes only every third watermark on: a branch whose watermark lags.
// Its count is checkpointed, so a restored one lags as the original would.
template <class Next>
class every_third_watermark : public forwarding_stage<Next> {
 public:
  static constexpr std::string_view state_name = "every_third";
  using forwarding_stage<Next>::forwarding_stage;
  void on_event(const event& e) { this->next_.on_event(e); }
  void on_watermark(timestamp w) {
    if (++seen_ % 3 == 0) this->next_.on_watermark(w);
  }
  void on_barrier(const checkpoint_barrier& b) {
    b.checkpoint(*this);
    this->next_.on_barrier(b);
  }
  void save_state(state_writer& w) const { w(seen_); }
  void load_state(state_reader& r) { r(seen_); }

 private:
  int seen_ = 0;
};

// Drops checkpoint barriers and the end: a broken stage.
template <class Next>
class deaf_stage : public forwarding_stage<Next> {
 public:
  using forwarding_stage<Next>::forwarding_stage;
  void on_event(const event& e) { this->next_.on_event(e); }
  void on_barrier(const checkpoint_barrier&) {}
  void on_end() {}
};

template <template <class> class Stage>
struct stage_operator {
  using is_operator = void;
  template <class Ctx>
  auto output_context(const Ctx& ctx) const {
    return ctx;
  }
  template <class Ctx, class Next>
  auto bind(const Ctx&, Next&& next) && {
    return Stage<std::remove_cvref_t<Next>>(std::forward<Next>(next));
  }
};

std::vector<std::string> ids_of(const snapshot& s) {
  std::vector<std::string> ids;
  for (const auto& r : s.records()) ids.push_back(r.id);
  return ids;
}

}  // namespace

TEST_CASE("fan_out: each branch gives what it gives as a pipeline of its own (seeded out-of-order streams)") {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    CAPTURE(seed);
    const auto in = stream(seed);
    outputs fanned;
    run_alone(in, four_signals(fanned));

    outputs alone;
    run_alone(in, sums_of(alone.sums));
    run_alone(in, parity_of(alone.parity));
    run_alone(in, big_of(alone.big));
    std::array<std::vector<event>, 2> branch_alone;
    run_alone(in, multiples_of_three() | collect(branch_alone[0]));
    run_alone(in, bars_as_events() | collect(branch_alone[1]));

    test::same_nonempty_outputs(fanned.sums, alone.sums, "tumbling sums");
    test::same_nonempty_outputs(fanned.parity, alone.parity, "hopping sums by parity");
    test::same_nonempty_outputs(fanned.big, alone.big, "big values");
    // The union holds each branch's records in that branch's own order.
    for (std::uint64_t b = 0; b < 2; ++b) {
      std::vector<event> part;
      for (const event& e : fanned.merged) {
        if (e.seq == b) part.push_back(e);
      }
      test::same_nonempty_outputs(part, branch_alone[b], "fan_in branch " + std::to_string(b));
    }
    CHECK(fanned.merged.size() == branch_alone[0].size() + branch_alone[1].size());
  }
}

TEST_CASE("fan_out: every message reaches every branch, in branch order") {
  std::vector<entry> log;
  auto p = push<event>() | fan_out(log_to(log, 0), filter([](const event&) { return true; }) | log_to(log, 1),
                                   branch("third", log_to(log, 2)));
  const std::vector<msg> sent{event{1, 10, 5, 0}, event{2, 20, 6, 1}, timestamp::from_nanos(15),
                              test::barrier_seen{7, false}, event{3, 30, 7, 2}, test::tick_seen{timestamp::from_nanos(99)},
                              test::complete_seen{7}, test::abort_seen{8}, timestamp::max(), test::end_seen{}};
  p.push(event{1, 10, 5, 0});
  p.push(event{2, 20, 6, 1});
  p.push_watermark(timestamp::from_nanos(15));
  (void)p.checkpoint(7);
  p.push(event{3, 30, 7, 2});
  p.tick(timestamp::from_nanos(99));
  p.checkpoint_complete(7);
  p.checkpoint_abort(8);
  p.finish();  // the watermark goes to the end of time, then the end

  std::vector<entry> expected;
  for (const msg& m : sent) {
    for (int b = 0; b < 3; ++b) expected.push_back({b, m});
  }
  test::same_nonempty_outputs(log, expected, "messages by branch");
}

TEST_CASE("fan_in: records pass as branches emit them; the watermark is the branches' minimum, passed when it rises; "
          "barrier, end, ticks and outcomes pass once after the last branch") {
  const auto in = stream(4, 3000);
  std::vector<entry> log;
  auto p = pushed(fan_in(filter([](const event& e) { return e.value % 2 == 0; }) | spy(log, 0),
                         stage_operator<every_third_watermark>{} | spy(log, 1),
                         key_by(&event::key) | tumbling(30ms).aggregate(sum(&event::value)).allowed_lateness(10ms) |
                             map([](const row& r) { return event{r.key, r.end.nanos(), r.value, 2}; }) | spy(log, 2)) |
                  log_to(log, -1));
  feed(p, in, 0, 1000);
  (void)p.checkpoint(1);
  p.tick(timestamp::from_nanos(123));
  p.checkpoint_complete(1);
  p.checkpoint_abort(2);
  feed(p, in, 1000, in.size());
  p.finish();

  // The reference: replay what the branches passed to the union, by its rules.
  constexpr int n = 3;
  std::array<timestamp, n> latest;
  latest.fill(timestamp::min());
  timestamp emitted = timestamp::min();
  std::array<int, std::variant_size_v<msg>> arrivals{};  // per kind of control message: branches it has come from
  int ended = 0;
  std::vector<entry> expected;
  const auto rise = [&](int b, timestamp w) {
    latest[static_cast<std::size_t>(b)] = std::max(latest[static_cast<std::size_t>(b)], w);
    const timestamp low = *std::min_element(latest.begin(), latest.end());
    if (low > emitted) {
      emitted = low;
      expected.push_back({-1, low});
    }
  };
  for (const entry& e : log) {
    if (e.branch < 0) continue;
    expected.push_back(e);
    if (std::holds_alternative<event>(e.m)) {
      expected.push_back({-1, e.m});
    } else if (const auto* w = std::get_if<timestamp>(&e.m)) {
      rise(e.branch, *w);
    } else if (std::holds_alternative<test::end_seen>(e.m)) {
      rise(e.branch, timestamp::max());
      if (++ended == n) expected.push_back({-1, e.m});
    } else if (++arrivals[e.m.index()] == n) {  // barrier, tick, complete, abort
      arrivals[e.m.index()] = 0;
      expected.push_back({-1, e.m});
    }
  }
  test::same_nonempty_outputs(log, expected, "branches and union, in order");

  std::vector<msg> union_trace;
  for (const entry& e : log) {
    if (e.branch < 0) union_trace.push_back(e.m);
  }
  const auto count = [&](const msg& m) { return std::count(union_trace.begin(), union_trace.end(), m); };
  CHECK(count(test::barrier_seen{1, false}) == 1);
  CHECK(count(test::tick_seen{timestamp::from_nanos(123)}) == 1);
  CHECK(count(test::complete_seen{1}) == 1);
  CHECK(count(test::abort_seen{2}) == 1);
  CHECK(count(test::end_seen{}) == 1);
  CHECK(union_trace.back() == msg{test::end_seen{}});
  const auto wms = test::watermarks_of(union_trace);
  REQUIRE(wms.size() > 10);
  CHECK(std::adjacent_find(wms.begin(), wms.end(), std::greater_equal<>()) == wms.end());
  CHECK(wms.back() == timestamp::max());
  // The other branches held the union back behind the branch that passes every watermark on.
  timestamp branch0 = timestamp::min();
  std::size_t held_back = 0;
  for (const entry& e : log) {
    const auto* w = std::get_if<timestamp>(&e.m);
    if (w && e.branch == 0) branch0 = *w;
    if (w && e.branch == -1 && *w < branch0) ++held_back;
  }
  CHECK(held_back > wms.size() / 2);
}

TEST_CASE("fan_out / fan_in: each branch's state has its own id, and a restore continues exactly") {
  const auto in = stream(7);
  outputs whole;
  run_alone(in, four_signals(whole));
  REQUIRE(!whole.merged.empty());

  {
    outputs o;
    auto p = pushed(four_signals(o));
    const auto ids = ids_of(p.checkpoint(1));
    const std::set<std::string> got(ids.begin(), ids.end());
    for (const char* id : {"branch0/window", "branch0/collect", "branch1/window", "branch1/collect", "branch2/collect",
                           "branch3/fan_in", "branch3/branch1/window", "branch3/collect"}) {
      CAPTURE(id);
      CHECK(got.count(id) == 1);
    }
  }

  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 4; ++trial) {
    const std::size_t cut = 1 + rng() % (in.size() - 1);
    CAPTURE(cut);
    std::string bytes;
    outputs o;
    {
      auto p = pushed(four_signals(o));
      feed(p, in, 0, cut);
      bytes = p.checkpoint(42).to_bytes();
    }
    outputs r = o;  // collect's checkpoint holds its vector's length: restore into what the run collected
    auto q = pushed(four_signals(r));
    q.restore(snapshot::from_bytes(bytes));
    feed(q, in, cut, in.size());
    q.finish();
    test::same_nonempty_outputs(r.sums, whole.sums, "sums after restore");
    test::same_nonempty_outputs(r.parity, whole.parity, "parity sums after restore");
    test::same_nonempty_outputs(r.big, whole.big, "big values after restore");
    test::same_nonempty_outputs(r.merged, whole.merged, "union after restore");
  }
}

TEST_CASE("fan_in: the branches' watermarks restore with it, so the union goes on as if uninterrupted") {
  const auto in = stream(12, 2000);
  const std::size_t cut = 777;
  const auto build = [](std::vector<msg>& trace) {
    return pushed(fan_in(stage_operator<every_third_watermark>{}, map([](const event& e) { return e; })) |
                  test::record(trace));
  };
  std::vector<msg> whole;
  {
    auto p = build(whole);
    feed(p, in, 0, cut);
    (void)p.checkpoint(5);
    feed(p, in, cut, in.size());
    p.finish();
  }
  const auto barrier = std::find(whole.begin(), whole.end(), msg{test::barrier_seen{5, false}});
  REQUIRE(barrier != whole.end());
  const std::vector<msg> after_cut(barrier + 1, whole.end());
  REQUIRE(test::watermarks_of(after_cut).size() > 100);

  std::string bytes;
  {
    std::vector<msg> first;
    auto p = build(first);
    feed(p, in, 0, cut);
    bytes = p.checkpoint(5).to_bytes();
  }
  std::vector<msg> resumed;
  auto q = build(resumed);
  q.restore(snapshot::from_bytes(bytes));
  feed(q, in, cut, in.size());
  q.finish();
  REQUIRE(!resumed.empty());
  CHECK(resumed.front() == msg{test::barrier_seen{5, true}});
  test::same_nonempty_outputs(std::vector<msg>(resumed.begin() + 1, resumed.end()), after_cut, "union after restore");
}

TEST_CASE("fan_out: named branches restore by name whatever their order") {
  const auto in = stream(8);
  outputs whole;
  run_alone(in, fan_out(branch("sums", sums_of(whole.sums)), branch("parity", parity_of(whole.parity))));

  std::string bytes;
  outputs o;
  {
    auto p = pushed(fan_out(branch("sums", sums_of(o.sums)), branch("parity", parity_of(o.parity))));
    feed(p, in, 0, 1700);
    const snapshot s = p.checkpoint(3);
    const auto ids = ids_of(s);
    CHECK(std::count(ids.begin(), ids.end(), "sums/window") == 1);
    CHECK(std::count(ids.begin(), ids.end(), "parity/window") == 1);
    bytes = s.to_bytes();
  }
  outputs r = o;  // what the run collected: collect restores its vector's length
  // Reordered, and with a stateless branch added.
  auto q = pushed(fan_out(branch("parity", parity_of(r.parity)), filter([](const event& e) { return e.value > 900; }) |
                                                                     sink([](const event&) {}),
                          branch("sums", sums_of(r.sums))));
  q.restore(snapshot::from_bytes(bytes));
  feed(q, in, 1700, in.size());
  q.finish();
  test::same_nonempty_outputs(r.sums, whole.sums, "sums");
  test::same_nonempty_outputs(r.parity, whole.parity, "parity sums");
}

TEST_CASE("branch names: a repeated, empty or scoped name is a usage_error") {
  std::vector<event> a, b;
  CHECK_THROWS_WITH_AS(fan_out(branch("x", collect(a)), branch("x", collect(b))),
                       "laminar: fan_out: branches 0 and 1 are both named 'x': a branch's name scopes its state ids, "
                       "so each must differ",
                       usage_error);
  CHECK_THROWS_WITH_AS(fan_in(map([](const event& e) { return e; }), branch("branch0", map([](const event& e) { return e; }))),
                       "laminar: fan_in: branches 0 and 1 are both named 'branch0': a branch's name scopes its state "
                       "ids, so each must differ",
                       usage_error);
  CHECK_THROWS_WITH_AS(branch("", collect(a)), "laminar: branch: \"\" is not a branch name: use a non-empty name without '/'",
                       usage_error);
  CHECK_THROWS_AS(branch("a/b", collect(a)), usage_error);
}

TEST_CASE("fan_in: a branch that drops the barrier or the end is named") {
  std::vector<event> out;
  auto p = push<event>() |
           fan_in(map([](const event& e) { return e; }), branch("deaf", stage_operator<deaf_stage>{})) | collect(out);
  p.push(event{1, 10, 5, 0});
  CHECK(out.size() == 2);
  CHECK_THROWS_WITH_AS(p.checkpoint(1),
                       "laminar: fan_in: branch 'deaf' did not pass the checkpoint barrier on: a stage in it drops "
                       "on_barrier",
                       usage_error);
  CHECK_THROWS_WITH_AS(p.finish(),
                       "laminar: fan_in: branch 'deaf' did not pass on_end() on: a stage in it drops the end of the "
                       "stream",
                       usage_error);
}

TEST_CASE("fan_out and fan_in allocate nothing per record") {
  const auto in = stream(9, 60'000);
  std::uint64_t rows = 0, big = 0, merged = 0;
  auto p = pushed(fan_out(key_by(&event::key) | tumbling(50ms).aggregate(sum(&event::value)) |
                              sink([&](const row&) { ++rows; }),
                          filter([](const event& e) { return e.value > 900; }) | sink([&](const event&) { ++big; }),
                          fan_in(multiples_of_three(), map([](const event& e) { return event{e.key, e.ts, -e.value, 1}; })) |
                              sink([&](const event&) { ++merged; })));
  feed(p, in, 0, 20'000);  // warm-up: the window's tables reach their size
  test::allocation_counter allocs;
  feed(p, in, 20'000, in.size());
  CHECK(allocs.count() == 0);
  p.finish();
  CHECK(rows > 0);
  CHECK(big > 0);
  CHECK(merged > in.size());
}

namespace {

struct order {
  std::int64_t ts = 0;
  std::uint32_t key = 0;
  std::int64_t qty = 0;
  friend bool operator==(const order&, const order&) = default;
  friend std::ostream& operator<<(std::ostream& os, const order& o) { return os << o.ts << "/" << o.key << "/" << o.qty; }
  template <class A>
  void serialize(A& ar) {
    ar(ts, key, qty);
  }
};
using fill = order;
using join_row = interval_row<order, fill>;

template <class Left, class Tail>
auto join_pipeline(Left left_ops, Tail tail) {
  return connect(push<order>() | std::move(left_ops), push<fill>() | event_time(&fill::ts) | key_by(&fill::key)) |
         interval_join(-2ms, 2ms) | std::move(tail);
}

template <class P>
void feed_join(P& p) {
  for (std::int64_t i = 0; i < 600; ++i) {
    p.push_left(order{i * 1'000'000, static_cast<std::uint32_t>(i % 5), i});
    p.push_right(fill{i * 1'000'000 + 500'000, static_cast<std::uint32_t>(i % 7), -i});
    if (i % 10 == 9) {
      p.push_left_watermark(timestamp::from_nanos(i * 1'000'000 - 3'000'000));
      p.push_right_watermark(timestamp::from_nanos(i * 1'000'000 - 3'000'000));
    }
  }
  p.finish();
}

}  // namespace

TEST_CASE("fan_out after a two-input operator, fan_in before one (connect)") {
  const auto is_even = [](const order& o) { return o.key % 2 == 0; };
  const auto keyed = [] { return event_time(&order::ts) | key_by(&order::key); };
  std::vector<join_row> alone;
  {
    auto p = join_pipeline(keyed(), collect(alone));
    feed_join(p);
  }
  REQUIRE(!alone.empty());

  std::vector<join_row> all, even;
  std::uint64_t n = 0;
  auto p = join_pipeline(keyed(), fan_out(collect(all), filter([&](const join_row& j) { return is_even(*j.left); }) |
                                                           collect(even),
                                            count_events(n)));
  const auto ids = ids_of(p.checkpoint(1));
  CHECK(std::count(ids.begin(), ids.end(), "branch0/collect") == 1);
  CHECK(std::count(ids.begin(), ids.end(), "branch1/collect") == 1);
  feed_join(p);
  test::same_nonempty_outputs(all, alone, "all rows");
  std::vector<join_row> even_alone;
  for (const join_row& j : alone) {
    if (is_even(*j.left)) even_alone.push_back(j);
  }
  test::same_nonempty_outputs(even, even_alone, "rows of even keys");
  CHECK(n == alone.size());

  // The left input as the union of its even and odd keys: the same rows.
  std::vector<join_row> unioned;
  auto q = join_pipeline(fan_in(filter(is_even), filter([&](const order& o) { return !is_even(o); })) | keyed(),
                           collect(unioned));
  feed_join(q);
  test::same_nonempty_outputs(unioned, alone, "rows with a fan_in before the join");
}

namespace {

// Emits records up to `gate_at`, then nothing until the gate opens, so a
// graph checkpoint falls at a point of the stream.
struct gated_source : source_base<gated_source> {
  using value_type = event;
  const std::vector<event>* records = nullptr;
  std::size_t gate_at = 0;
  std::atomic<bool>* gate = nullptr;
  std::uint64_t pos = 0;

  auto context() const { return stream_context<event>{}; }
  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t n) {
    std::size_t done = 0;
    while (done != n && pos != records->size()) {
      if (pos == gate_at && !gate->load(std::memory_order_acquire)) break;
      chain.on_event((*records)[pos++]);
      ++done;
    }
    return done;
  }
  bool exhausted() const { return pos == records->size(); }
  void save_state(state_writer& w) const { w(pos); }
  void load_state(state_reader& r) { r(pos); }
};

}  // namespace

TEST_CASE("fan_out and fan_in as graph nodes: the single-thread results, and a checkpoint restores them") {
  const auto in = stream(11, 3000);
  outputs alone;
  run_alone(in, four_signals(alone));

  const auto build = [&](graph& g, outputs& o, std::atomic<bool>& gate) {
    auto src = g.source("events", gated_source{{}, &in, 1234, &gate} |
                                      with_watermarks(&event::ts, bounded_out_of_orderness(20ms)));
    g.node("signals", src, fan_out(sums_of(o.sums), parity_of(o.parity), big_of(o.big)));
    auto u = g.node("union", src, fan_in(multiples_of_three(), bars_as_events()));
    g.node("collect", u, collect(o.merged));
  };
  std::atomic<bool> gate{false};
  outputs first;
  graph g(runtime_options{.workers = 2});
  build(g, first, gate);
  g.start();
  const std::uint64_t id = g.checkpoint();
  std::optional<graph_snapshot> snap;
  while (!(snap = g.completed_checkpoint(id))) std::this_thread::yield();
  g.stop();  // what came after the checkpoint is lost, as in a crash

  const auto signal_ids = ids_of(snap->tasks().at("signals#0"));
  const std::set<std::string> got(signal_ids.begin(), signal_ids.end());
  CHECK(got == std::set<std::string>{"signals/branch0/window", "signals/branch0/collect", "signals/branch1/window",
                                     "signals/branch1/collect", "signals/branch2/collect"});
  const auto union_ids = ids_of(snap->tasks().at("union#0"));
  CHECK(std::set<std::string>(union_ids.begin(), union_ids.end()) ==
        std::set<std::string>{"union/branch1/window", "union/fan_in"});

  std::atomic<bool> open{true};
  outputs o;
  graph second(runtime_options{.workers = 2});
  build(second, o, open);
  second.restore(*snap);
  second.run();
  test::same_nonempty_outputs(o.sums, alone.sums, "sums");
  test::same_nonempty_outputs(o.parity, alone.parity, "parity sums");
  test::same_nonempty_outputs(o.big, alone.big, "big values");
  test::same_nonempty_outputs(o.merged, alone.merged, "union");
}

TEST_CASE("fan_in: an empty pipe is a branch that passes the stream as it is") {
  std::vector<int> in{1, 2, 3, 4}, out;
  auto p = from(in) | fan_in(laminar::pipe<>{}, filter([](int x) { return x % 2 == 0; }) | map([](int x) { return -x; })) |
           collect(out);
  p.run();
  CHECK(out == std::vector<int>{1, 2, -2, 3, 4, -4});
}
