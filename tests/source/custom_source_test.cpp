#include <doctest/doctest.h>

#include <cstdint>
#include <laminar/laminar.hpp>
#include <vector>

using namespace laminar;

namespace {
// A user source written against the public protocol, as in docs/concepts.md.
struct sequence_source : source_base<sequence_source> {
  using value_type = std::uint64_t;
  std::uint64_t next = 0, last = 0;

  auto context() const { return stream_context<value_type>{}; }
  template <class Chain>
  std::size_t run_for(Chain& chain, std::size_t n) {
    std::size_t done = 0;
    for (; done != n && next != last; ++done) chain.on_event(next++);
    return done;
  }
  bool exhausted() const { return next == last; }
  void save_state(state_writer& w) const { w(next); }
  void load_state(state_reader& r) { r(next); }
};
}  // namespace

TEST_CASE("a user source satisfies the source concepts and runs, checkpoints and restores like a built-in") {
  static_assert(source<sequence_source>);
  static_assert(pull_source<sequence_source>);
  static_assert(!pushed_source<sequence_source>);
  static_assert(stateful<sequence_source>);

  std::vector<std::uint64_t> out1, out2;
  auto p = sequence_source{{}, 0, 10} | filter([](std::uint64_t x) { return x % 2 == 0; }) | collect(out1);
  p.run_for(5);
  const snapshot s = p.checkpoint(1);
  CHECK(s.records().front().id == "sequence_source");

  out2 = out1;  // collect's checkpoint holds only its length
  auto q = sequence_source{{}, 0, 10} | filter([](std::uint64_t x) { return x % 2 == 0; }) | collect(out2);
  q.restore(s);
  q.run();
  CHECK(out2 == std::vector<std::uint64_t>{0, 2, 4, 6, 8});
}

TEST_CASE("a user source can sit inside union_of and with_watermarks") {
  std::uint64_t n = 0;
  auto p = union_of(sequence_source{{}, 0, 100} | with_watermarks([](std::uint64_t x) { return x; },
                                                                   monotonous_timestamps()),
                    sequence_source{{}, 0, 50}) |
           count_events(n);
  p.run();
  CHECK(n == 150);
}
