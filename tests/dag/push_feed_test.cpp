// A graph fed from outside: a thread pushes records into a feed, the graph's
// workers process them. Every record arrives once, in order per key, under
// backpressure and with parked workers; a stopped graph releases a blocked
// pusher.
#include <doctest/doctest.h>

#include <laminar/laminar.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "support/event_stream.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using laminar::test::event;

namespace {

// Per key, the values in the order they came.
std::map<std::uint32_t, std::vector<std::int64_t>> by_key(const std::vector<event>& v) {
  std::map<std::uint32_t, std::vector<std::int64_t>> m;
  for (const event& e : v) m[e.key].push_back(e.value);
  return m;
}

std::vector<event> input(std::uint64_t seed, std::size_t n) {
  test::stream_options o;
  o.seed = seed;
  o.records = n;
  o.keys = 50;
  return test::make_stream(o);
}

// Pushes `in` with a mix of push, try_push and push_n, then closes.
void feed_all(push_feed<event>& f, std::vector<event> in) {
  std::size_t i = 0;
  while (i < in.size()) {
    if (i % 3 == 0) {
      REQUIRE(f.push(in[i]));
      ++i;
    } else if (i % 3 == 1) {
      if (f.try_push(in[i])) ++i;
    } else {
      const std::size_t n = std::min<std::size_t>(17, in.size() - i);
      REQUIRE(f.push_n(std::span<event>(in.data() + i, n)) == n);
      i += n;
    }
  }
  f.close();
}

}  // namespace

TEST_CASE("feed: records pushed by an outside thread reach every instance once, in order per key") {
  const auto in = input(3, 50'000);
  for (wait_policy policy : {wait_policy::spin_then_yield, wait_policy::park}) {
    for (std::size_t capacity : {16UL, 4096UL}) {
      CAPTURE(static_cast<int>(policy));
      CAPTURE(capacity);
      push_feed<event> f(capacity, policy);
      std::mutex mu;
      std::vector<event> out;
      graph g(runtime_options{.workers = 2, .idle_policy = policy});
      auto src = g.source("feed", f.source() | with_watermarks(&event::ts, bounded_out_of_orderness(20ms)) |
                                      key_by(&event::key));
      g.parallel("sink", src, 2, sink([&](const event& e) {
                   std::lock_guard<std::mutex> lock(mu);
                   out.push_back(e);
                 }));
      g.start();
      std::thread feeder(feed_all, std::ref(f), in);
      g.wait();
      feeder.join();
      CHECK(out.size() == in.size());
      CHECK(by_key(out) == by_key(in));
    }
  }
}

TEST_CASE("feed: a parked worker wakes for each record of a slow feed") {
  push_feed<event> f(64);
  std::atomic<std::size_t> seen{0};
  graph g(runtime_options{.workers = 1, .idle_policy = wait_policy::park, .park_recheck = duration::from_nanos(10'000'000'000)});
  auto src = g.source("feed", f.source());
  g.node("count", src, sink([&](const event&) { seen.fetch_add(1); }));
  g.start();
  for (std::int64_t i = 0; i < 20; ++i) {
    REQUIRE(f.push(event{1, i, i, 0}));
    // Woken by the push, not by a recheck (10 s away): well within a second.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (seen.load() != static_cast<std::size_t>(i + 1) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(100us);
    }
    REQUIRE(seen.load() == static_cast<std::size_t>(i + 1));
  }
  f.close();
  g.wait();
}

TEST_CASE("feed: stopping the graph releases a pusher waiting on a full feed") {
  push_feed<event> f(4);
  graph g(runtime_options{.workers = 1});
  auto src = g.source("feed", f.source());
  std::atomic<bool> release{false};
  g.node("slow", src, sink([&](const event&) {
           while (!release.load()) std::this_thread::sleep_for(1ms);
         }));
  g.start();
  std::atomic<bool> refused{false};
  std::thread feeder([&] {
    for (std::int64_t i = 0; i < 1000; ++i) {
      if (!f.push(event{0, i, i, 0})) {
        refused = true;
        return;
      }
    }
  });
  std::this_thread::sleep_for(20ms);  // the feeder now waits on the full feed
  std::thread releaser([&] {
    std::this_thread::sleep_for(20ms);
    release = true;  // lets the worker finish its step and see the stop
  });
  g.stop();
  releaser.join();
  feeder.join();
  CHECK(refused.load());
  CHECK_FALSE(f.try_push(event{}));
}

TEST_CASE("feed: a second source node on one feed fails the graph, naming the mistake") {
  push_feed<event> f(16);
  graph g(runtime_options{.workers = 1});
  auto a = g.source("a", f.source());
  auto b = g.source("b", f.source());
  g.node("sink_a", a, sink([](const event&) {}));
  g.node("sink_b", b, sink([](const event&) {}));
  f.close();
  try {
    g.run();
    FAIL("two readers of one feed were accepted");
  } catch (const node_error& e) {
    CHECK(std::string(e.what()).find("already read by a source node") != std::string::npos);
  }
}
