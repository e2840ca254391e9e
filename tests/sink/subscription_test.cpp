#include <doctest/doctest.h>

#include <laminar/laminar.hpp>
#include <thread>
#include <vector>

using namespace laminar;

TEST_CASE("a subscription hands every record, in order, to a polling thread (bounded, lossless)") {
  constexpr int n = 200'000;
  subscription<int> sub(8);  // tiny: the publisher must wait for the reader
  std::vector<int> got;
  got.reserve(n);
  std::thread reader([&] {
    while (!sub.finished()) {
      if (sub.poll([&](int x) { got.push_back(x); }) == 0) std::this_thread::yield();
    }
  });
  auto p = generate([i = 0]() mutable -> std::optional<int> {
             if (i == n) return std::nullopt;
             return i++;
           }) |
           with_watermarks([](int x) { return std::int64_t{x}; }, monotonous_timestamps()) | publish(sub);
  p.run();
  reader.join();
  REQUIRE(got.size() == n);
  bool in_order = true;
  for (int i = 0; i < n; ++i) in_order = in_order && got[static_cast<std::size_t>(i)] == i;
  CHECK(in_order);
  CHECK(sub.published() == n);
  CHECK(sub.watermark() == timestamp::max());
  CHECK(sub.finished());
}

TEST_CASE("poll takes at most the records asked for") {
  subscription<int> sub(16);
  auto p = push<int>() | publish(sub);
  for (int i = 0; i < 10; ++i) p.push(i);
  int sum = 0;
  CHECK(sub.poll([&](int x) { sum += x; }, 4) == 4);
  CHECK(sum == 0 + 1 + 2 + 3);
  CHECK(!sub.finished());
  p.finish();
  CHECK(!sub.finished());  // records still queued
  CHECK(sub.poll([&](int x) { sum += x; }) == 6);
  CHECK(sub.finished());
  CHECK(sum == 45);
}
