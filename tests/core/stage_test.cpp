#include <doctest/doctest.h>

#include <laminar/laminar.hpp>
#include <ostream>
#include <vector>

#include "support/recording_sink.hpp"

using namespace laminar;

namespace {
struct tick {
  std::int64_t ts;
  double price;
  friend bool operator==(const tick&, const tick&) = default;
  friend std::ostream& operator<<(std::ostream& os, const tick& t) { return os << "tick{" << t.ts << ", " << t.price << "}"; }
};

// A minimal user sink: its records; every control message ends here.
struct minimal_sink : consuming_stage {
  int* events;
  void on_event(const tick&) { ++*events; }
};

struct no_watermark {
  void on_event(const tick&) {}
  void on_barrier(const checkpoint_barrier&) {}
  void on_end() {}
  void on_processing_time(timestamp) {}
  void on_checkpoint_complete(std::uint64_t) {}
  void on_checkpoint_abort(std::uint64_t) {}
};

// Written before processing time and checkpoint outcomes were messages:
// it would stop them on their way down.
struct four_messages {
  void on_event(const tick&) {}
  void on_watermark(timestamp) {}
  void on_barrier(const checkpoint_barrier&) {}
  void on_end() {}
};

// A user operator written against the public protocol only: doubles prices.
template <class Next>
class double_price_stage : public forwarding_stage<Next> {
 public:
  using forwarding_stage<Next>::forwarding_stage;
  void on_event(const tick& t) { this->next_.on_event(tick{t.ts, t.price * 2}); }
};

struct double_price {
  using is_operator = void;
  template <class Ctx>
  auto output_context(const Ctx& ctx) const {
    return ctx;
  }
  template <class Ctx, class Next>
  auto bind(const Ctx&, Next&& next) && {
    return double_price_stage<std::remove_cvref_t<Next>>(std::forward<Next>(next));
  }
};

// A user sink factory.
struct minimal_sink_factory {
  using is_sink = void;
  int* events;
  template <class Ctx>
  auto bind(const Ctx&) && {
    return minimal_sink{{}, events};
  }
};
}  // namespace

TEST_CASE("the stage concept accepts a minimal user type and names what is missing") {
  static_assert(stage<minimal_sink, tick>);
  static_assert(!stage<minimal_sink, int>);
  static_assert(!stage<no_watermark, tick>);
  static_assert(accepts_events<no_watermark, tick> && !accepts_watermarks<no_watermark>);
  static_assert(!stage<four_messages, tick>);
  static_assert(!accepts_processing_time<four_messages> && !accepts_checkpoint_notifications<four_messages>);
  static_assert(operator_factory<double_price>);
  static_assert(sink_factory<minimal_sink_factory>);
  static_assert(!operator_factory<minimal_sink_factory>);
}

TEST_CASE("user operators and sinks compose like built-ins") {
  std::vector<tick> in{{1, 1.0}, {2, 2.5}};
  std::vector<double> prices;
  auto p = from(in) | double_price{} | map([](const tick& t) { return t.price; }) | collect(prices);
  p.run();
  CHECK(prices == std::vector<double>{2.0, 5.0});

  int events = 0;
  auto q = from(in) | double_price{} | minimal_sink_factory{&events};
  q.run();
  CHECK(events == 2);
}

TEST_CASE("factories compose into a pipe before any source is known") {
  auto body = map([](int x) { return x + 1; }) | filter([](int x) { return x % 2 == 0; });
  std::vector<int> out;
  auto chain = make_chain<int>(body | collect(out));
  for (int i = 0; i < 6; ++i) chain.on_event(i);
  CHECK(out == std::vector<int>{2, 4, 6});
  static_assert(!decltype(body)::closed);
  static_assert(decltype(body | collect(out))::closed);
}

TEST_CASE("forwarding_stage passes watermarks, barriers and the end on") {
  std::vector<double> out;
  auto chain = make_chain<tick>(double_price{} | map([](const tick& t) { return t.price; }) | collect(out));
  chain.on_event(tick{1, 3.0});
  chain.on_watermark(timestamp::from_nanos(1));
  snapshot s(1);
  chain.on_barrier(checkpoint_barrier(1, s, checkpoint_barrier::kind::snapshot));
  chain.on_end();
  CHECK(out == std::vector<double>{6.0});
  REQUIRE(s.records().size() == 1);
  CHECK(s.records()[0].id == "collect");
}

TEST_CASE("every message reaches the sink through a user operator: processing time and checkpoint outcomes too") {
  std::vector<test::message<tick>> trace;
  auto p = push<tick>() | double_price() | test::record(trace);
  p.push(tick{1, 2.0});
  p.tick(timestamp::from_nanos(50));
  const snapshot s = p.checkpoint(7);
  p.checkpoint_complete(7);
  (void)p.checkpoint(8);
  p.checkpoint_abort(8);
  p.finish();
  CHECK(s.find("collect") == nullptr);  // the recording sink keeps no state
  REQUIRE(trace.size() == 8);
  CHECK(std::get<tick>(trace[0]).price == 4.0);
  CHECK(trace[1] == test::message<tick>(test::tick_seen{timestamp::from_nanos(50)}));
  CHECK(trace[2] == test::message<tick>(test::barrier_seen{7, false}));
  CHECK(trace[3] == test::message<tick>(test::complete_seen{7}));
  CHECK(trace[4] == test::message<tick>(test::barrier_seen{8, false}));
  CHECK(trace[5] == test::message<tick>(test::abort_seen{8}));
  CHECK(trace[6] == test::message<tick>(timestamp::max()));
  CHECK(trace[7] == test::message<tick>(test::end_seen{}));
}
