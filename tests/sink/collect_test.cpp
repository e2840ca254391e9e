#include <doctest/doctest.h>

#include <cstdint>
#include <laminar/laminar.hpp>
#include <random>
#include <string>
#include <vector>

using namespace laminar;

namespace {
// No serialize: collect's checkpoints never need one.
struct tick {
  int seq;
  double price;
  friend bool operator==(const tick&, const tick&) = default;
};

std::vector<tick> ticks(int n) {
  std::vector<tick> v;
  for (int i = 0; i < n; ++i) v.push_back({i, 100.0 + i});
  return v;
}
}  // namespace

TEST_CASE("collect appends records, converting to the vector's element type") {
  std::vector<int> in{1, 2};
  std::vector<long> out{7};
  auto p = from(in) | collect(out);
  p.run();
  CHECK(out == std::vector<long>{7, 1, 2});
}

TEST_CASE("a checkpoint of collect holds the vector's length, not its records") {
  const auto in = ticks(1000);
  std::vector<tick> out;
  auto p = from(in) | collect(out);
  p.run_for(600);
  const snapshot s = p.checkpoint(1);
  const state_record* rec = s.find("collect");
  REQUIRE(rec != nullptr);
  CHECK(rec->bytes.size() == sizeof(std::uint64_t));
  state_reader r(rec->bytes);
  std::uint64_t length = 0;
  r(length);
  CHECK(length == 600);
}

TEST_CASE("restore truncates the vector to the checkpoint; the replay appends the rest exactly once") {
  const auto in = ticks(50);
  std::vector<tick> out;
  auto first = from(in) | collect(out);
  first.run_for(20);
  const snapshot s = first.checkpoint(3);
  first.run_for(17);  // collected after the checkpoint, then lost with the run
  REQUIRE(out.size() == 37);

  auto second = from(in) | collect(out);
  second.restore(s);
  CHECK(out.size() == 20);
  second.run();
  CHECK(out == in);
}

TEST_CASE("restore-and-continue equals an uninterrupted run wherever the checkpoint and the crash fall") {
  // Randomized: a checkpoint after c records, a crash after c + d, a
  // restore from the checkpoint into the same vector, then to the end;
  // sometimes through a copy of the vector made at the crash.
  const auto in = ticks(200);
  std::mt19937_64 rng(15);
  for (int round = 0; round < 200; ++round) {
    const std::size_t c = rng() % 201;
    const std::size_t d = rng() % (201 - c);
    std::vector<tick> out{{-1, 0.0}};  // a record from before the run is kept
    auto first = from(in) | collect(out);
    first.run_for(c);
    const snapshot s = first.checkpoint(1);
    first.run_for(d);
    std::vector<tick> copy = out;
    std::vector<tick>& target = (round % 3 == 0) ? copy : out;
    auto second = from(in) | collect(target);
    second.restore(s);
    second.run();
    REQUIRE(target.size() == in.size() + 1);
    CHECK(target.front().seq == -1);
    CHECK(std::equal(in.begin(), in.end(), target.begin() + 1));
  }
}

TEST_CASE("restoring collect into a vector shorter than the checkpoint covers is a usage error") {
  const auto in = ticks(10);
  std::vector<tick> out, fresh;
  auto p = from(in) | collect(out);
  p.run_for(4);
  const snapshot s = p.checkpoint(1);
  auto q = from(in) | collect(fresh);
  CHECK_THROWS_WITH_AS(q.restore(s),
                       doctest::Contains("laminar: collect: the checkpoint covers the first 4 records of the vector, "
                                         "which holds 0"),
                       usage_error);
}
