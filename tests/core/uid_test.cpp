// Stable state ids: a checkpoint restores by id into a chain that gained
// stages, and uid() names an operator's state wherever it stands; a
// missing or unknown id is a checkpoint_error naming it.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <laminar/laminar.hpp>

using namespace laminar;
using namespace std::chrono_literals;

namespace {

struct trade {
  std::int64_t ts = 0;
  std::uint32_t sym = 0;
  std::int64_t qty = 0;
  template <class A>
  void serialize(A& ar) {
    ar(ts, sym, qty);
  }
};
using row = window_row<std::uint32_t, std::int64_t>;

std::vector<trade> trades() {
  std::vector<trade> out;
  for (std::int64_t i = 0; i < 400; ++i) out.push_back({i * 1'000'000, static_cast<std::uint32_t>(i % 7), i % 13});
  return out;
}

auto bars() { return tumbling(20ms).aggregate(sum(&trade::qty)); }

template <class P>
void feed(P& p, const std::vector<trade>& in, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i) {
    p.push(in[i]);
    if (i % 10 == 9) p.push_watermark(timestamp::from_nanos(in[i].ts - 5'000'000));
  }
}

// The whole run of a pipeline, for comparison.
template <class Make>
std::vector<row> uninterrupted(Make make) {
  std::vector<row> out;
  auto p = make(out);
  const auto in = trades();
  feed(p, in, 0, in.size());
  p.finish();
  return out;
}

// Runs `first` to the cut, restores its checkpoint into `second`, runs that on.
template <class MakeFirst, class MakeSecond>
std::vector<row> across_restore(MakeFirst first, MakeSecond second) {
  const auto in = trades();
  const std::size_t cut = 217;
  std::vector<row> before;
  std::string bytes;
  {
    auto p = first(before);
    feed(p, in, 0, cut);
    bytes = p.checkpoint(1).to_bytes();
  }
  std::vector<row> after = before;
  auto q = second(after);
  q.restore(snapshot::from_bytes(bytes));
  feed(q, in, cut, in.size());
  q.finish();
  return after;
}

}  // namespace

TEST_CASE("a checkpoint restores by id into a chain that gained stateless stages") {
  const auto plain = [](std::vector<row>& out) {
    return push<trade>() | event_time(&trade::ts) | key_by(&trade::sym) | bars() | collect(out);
  };
  const auto more = [](std::vector<row>& out) {
    return push<trade>() | filter([](const trade&) { return true; }) | map([](const trade& t) { return t; }) |
           event_time(&trade::ts) | key_by(&trade::sym) | bars() | tap([](const row&) {}) | collect(out);
  };
  const std::vector<row> whole = uninterrupted(plain);
  REQUIRE(whole.size() > 50);
  CHECK(across_restore(plain, more) == whole);
  CHECK(across_restore(more, plain) == whole);
}

TEST_CASE("uid() names an operator's state: it restores wherever the operator stands, even past new stateful stages") {
  const auto one = [](std::vector<row>& out) {
    return push<trade>() | event_time(&trade::ts) | key_by(&trade::sym) | uid("bars", bars()) | collect(out);
  };
  // A second window before it: without uid its default id would now be the
  // new window's.
  const auto two = [](std::vector<row>& out) {
    return push<trade>() | event_time(&trade::ts) | key_by(&trade::sym) | uid("early", bars()) |
           map([](const row& r) { return trade{r.end.nanos() - 1, r.key, r.value}; }) | event_time(&trade::ts) |
           key_by(&trade::sym) | uid("bars", bars()) | collect(out);
  };
  std::vector<row> out;
  auto p = one(out);
  const auto in = trades();
  feed(p, in, 0, 100);
  const snapshot s = p.checkpoint(3);
  std::vector<std::string> ids;
  for (const state_record& r : s.records()) ids.push_back(r.id);
  CAPTURE(ids.size());
  CHECK(s.find("bars/window") != nullptr);
  CHECK(s.find("collect") != nullptr);

  std::vector<row> out2;
  auto q = two(out2);
  try {
    q.restore(snapshot::from_bytes(s.to_bytes()));
    FAIL("restored a checkpoint that lacks a stage's state");
  } catch (const checkpoint_error& e) {
    CHECK(std::string(e.what()).find("no state for the stage with id 'early/window'") != std::string::npos);
  }

  // The other way round: the checkpoint holds state no stage claims.
  std::vector<row> out3;
  auto r = two(out3);
  feed(r, in, 0, 100);
  const snapshot bigger = r.checkpoint(4);
  std::vector<row> out4 = out3;  // collect's checkpoint holds only its length
  auto t = one(out4);
  try {
    t.restore(snapshot::from_bytes(bigger.to_bytes()));
    FAIL("restored a checkpoint with state no stage claims");
  } catch (const checkpoint_error& e) {
    CHECK(std::string(e.what()).find("holds state for 'early/window'") != std::string::npos);
  }
}

namespace {
struct quote {
  std::int64_t ts = 0;
  std::uint32_t sym = 0;
  std::int64_t bid = 0;
  template <class A>
  void serialize(A& ar) {
    ar(ts, sym, bid);
  }
};
}  // namespace

TEST_CASE("uid() around a join: its state is under the id, and the join restores exactly") {
  using joined = asof_row<trade, quote>;
  const auto make = [](std::vector<joined>& out) {
    return connect(push<trade>() | event_time(&trade::ts) | key_by(&trade::sym),
                   push<quote>() | event_time(&quote::ts) | key_by(&quote::sym)) |
           uid("px", asof_join().emit(emit_mode::eager)) | collect(out);
  };
  std::vector<joined> a;
  auto p = make(a);
  p.push_right(quote{0, 1, 10});
  p.push_left(trade{5, 1, 1});
  const snapshot s = p.checkpoint(1);
  bool found = false;
  for (const state_record& r : s.records()) found = found || r.id == "px/asof_join";
  CHECK(found);
  std::vector<joined> b = a;  // collect's checkpoint holds only its length
  auto q = make(b);
  q.restore(snapshot::from_bytes(s.to_bytes()));
  q.push_left(trade{6, 1, 2});
  q.finish();
  REQUIRE(b.size() >= 1);
  CHECK(b.back().right->bid == 10);  // the quote came back with the join's state
  CHECK_THROWS_AS((void)uid("a/b", asof_join().emit(emit_mode::eager)), usage_error);
  CHECK_THROWS_AS((void)uid("", bars()), usage_error);
}
