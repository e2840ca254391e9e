#include <doctest/doctest.h>

#include <laminar/laminar.hpp>
#include <optional>
#include <vector>

using namespace laminar;

namespace {
// A generator with its own checkpointable state.
struct counter_gen {
  int next = 0;
  int limit = 10;
  std::optional<int> operator()() {
    if (next == limit) return std::nullopt;
    return next++;
  }
  void save_state(state_writer& w) const { w(next); }
  void load_state(state_reader& r) { r(next); }
};
}  // namespace

TEST_CASE("generate() calls the generator until it returns nullopt") {
  int i = 0;
  std::vector<int> out;
  auto p = generate([&]() -> std::optional<int> {
             if (i == 4) return std::nullopt;
             return i++ * 10;
           }) |
           collect(out);
  p.run();
  CHECK(out == std::vector<int>{0, 10, 20, 30});
  CHECK(p.source().position() == 4);
}

TEST_CASE("a deterministic stateless generator is restored by replaying it") {
  auto make = [] {
    return [i = 0]() mutable -> std::optional<int> {
      if (i == 100) return std::nullopt;
      return i++;
    };
  };
  std::vector<int> expected, first_out, out;
  auto whole = generate(make()) | collect(expected);
  whole.run();
  auto first = generate(make()) | collect(first_out);
  first.run_for(37);
  const snapshot s = first.checkpoint(1);
  out = first_out;  // collect's checkpoint holds only its length
  auto second = generate(make()) | collect(out);
  second.restore(s);
  second.run();
  CHECK(out == expected);
}

TEST_CASE("a stateful generator saves and loads its own state") {
  std::vector<int> first_out, out;
  auto first = generate(counter_gen{}) | collect(first_out);
  first.run_for(6);
  const snapshot s = first.checkpoint(2);
  out = first_out;  // collect's checkpoint holds only its length
  auto second = generate(counter_gen{}) | collect(out);
  second.restore(s);
  second.run();
  CHECK(out == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}
