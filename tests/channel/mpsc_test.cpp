// mpsc_channel: single-thread semantics, element lifetimes, and several
// producer threads against one consumer under every wait policy, with
// backpressure and cancellation.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <laminar/channel/channel.hpp>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "channel/tracked.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using test::tracked;

TEST_CASE("mpsc: capacity rounding, FIFO order, full and empty, wrap-around") {
  CHECK(mpsc_channel<int>(0).capacity() == 1);
  CHECK(mpsc_channel<int>(1000).capacity() == 1024);
  mpsc_channel<int> ch(3);
  REQUIRE(ch.capacity() == 4);
  for (int round = 0; round < 5'000; ++round) {
    for (int i = 0; i < 4; ++i) CHECK(ch.try_push(round + i));
    int extra = 7;
    CHECK(!ch.try_push(std::move(extra)));
    CHECK(!ch.try_emplace(8));
    CHECK(ch.size() == 4);
    int first = -1;
    CHECK(ch.try_pop(first));
    CHECK(first == round);
    std::vector<int> got;
    CHECK(ch.consume([&](int& x) { got.push_back(x); }) == 3);
    CHECK(got == std::vector<int>{round + 1, round + 2, round + 3});
    CHECK(ch.empty());
    CHECK(!ch.ready());
  }
}

TEST_CASE("mpsc: move-only messages, each destroyed exactly once, also those left in a destroyed channel") {
  test::tracked_registry reg(100);
  {
    mpsc_channel<tracked> ch(16);
    for (int i = 0; i < 16; ++i) CHECK(ch.try_emplace(reg, i));
    tracked t(reg, 50);
    CHECK(!ch.try_push(std::move(t)));
    CHECK(t.id == 50);
    std::vector<int> got;
    CHECK(ch.consume([&](tracked& m) { got.push_back(m.id); }, 6) == 6);
    CHECK(got == std::vector<int>{0, 1, 2, 3, 4, 5});
    for (int i = 16; i < 20; ++i) CHECK(ch.try_emplace(reg, i));
  }
  CHECK(reg.live() == 0);
  reg.check_each_released_once();
}

TEST_CASE("mpsc: try_emplace that throws claims no position (the consumer is not stuck behind it)") {
  struct picky {
    int v;
    explicit picky(int x) : v(x) {
      if (x < 0) throw std::invalid_argument("negative");
    }
  };
  mpsc_channel<picky> ch(4);
  CHECK(ch.try_emplace(1));
  CHECK_THROWS_AS(ch.try_emplace(-1), std::invalid_argument);
  CHECK(ch.try_emplace(2));
  std::vector<int> got;
  CHECK(ch.consume([&](picky& p) { got.push_back(p.v); }) == 2);
  CHECK(got == std::vector<int>{1, 2});
}

namespace {
// Producers send (producer << 32 | sequence); the consumer checks each
// producer's sequence and the totals.
void run_producers(mpsc_channel<std::uint64_t>& ch, int producers, std::uint64_t per_producer, wait_policy p,
                   bool slow_consumer) {
  std::atomic<int> failed_pushes{0};
  std::vector<std::thread> threads;
  for (int id = 0; id < producers; ++id) {
    threads.emplace_back([&, id] {
      for (std::uint64_t i = 0; i < per_producer; ++i) {
        if (!ch.push((static_cast<std::uint64_t>(id) << 32) | i, p)) failed_pushes.fetch_add(1);
      }
    });
  }
  std::vector<std::uint64_t> next(static_cast<std::size_t>(producers), 0);
  std::uint64_t received = 0, sum = 0;
  bool ordered = true;
  while (received < per_producer * static_cast<std::uint64_t>(producers)) {
    if (slow_consumer && received % 500 == 0) std::this_thread::sleep_for(1ms);
    if (!ch.wait_for_data(p)) FAIL("wait_for_data without a cancel flag returned false");
    received += ch.consume(
        [&](std::uint64_t& v) {
          const auto who = static_cast<std::size_t>(v >> 32);
          const std::uint64_t seq = v & 0xFFFF'FFFFULL;
          ordered = ordered && who < next.size() && seq == next[who];
          if (who < next.size()) ++next[who];
          sum += seq;
        },
        slow_consumer ? 7 : SIZE_MAX);
  }
  for (auto& t : threads) t.join();
  CHECK(failed_pushes.load() == 0);
  CHECK(ordered);
  for (auto n : next) CHECK(n == per_producer);
  CHECK(sum == static_cast<std::uint64_t>(producers) * (per_producer * (per_producer - 1) / 2));
  CHECK(ch.empty());
}
}  // namespace

TEST_CASE("mpsc: four producers, one consumer: each producer's order kept, totals exact") {
  mpsc_channel<std::uint64_t> ch(64);
  run_producers(ch, 4, 100'000, wait_policy::spin_then_yield, false);
}

TEST_CASE("mpsc: four producers through a channel of 2") {
  mpsc_channel<std::uint64_t> ch(2);
  run_producers(ch, 4, 20'000, wait_policy::spin_then_yield, false);
}

TEST_CASE("mpsc: every wait policy, with a slow consumer (producers wait on a full channel)") {
  for (wait_policy p : {wait_policy::spin, wait_policy::spin_then_yield, wait_policy::park}) {
    CAPTURE(static_cast<int>(p));
    mpsc_channel<std::uint64_t> ch(8);
    run_producers(ch, 3, 3'000, p, true);
  }
}

TEST_CASE("mpsc: every wait policy, with slow producers (the consumer waits for data)") {
  for (wait_policy p : {wait_policy::spin, wait_policy::spin_then_yield, wait_policy::park}) {
    CAPTURE(static_cast<int>(p));
    mpsc_channel<int> ch(8);
    std::vector<std::thread> threads;
    for (int id = 0; id < 2; ++id) {
      threads.emplace_back([&] {
        for (int i = 0; i < 20; ++i) {
          std::this_thread::sleep_for(1ms);
          ch.push(int{1}, p);
        }
      });
    }
    int got = 0;
    while (got < 40) {
      if (!ch.wait_for_data(p)) FAIL("wait_for_data without a cancel flag returned false");
      got += static_cast<int>(ch.consume([](int&) {}));
    }
    for (auto& t : threads) t.join();
    CHECK(got == 40);
  }
}

TEST_CASE("mpsc: cancel unblocks producers blocked on a full channel and a consumer waiting for data") {
  for (wait_policy p : {wait_policy::spin, wait_policy::spin_then_yield, wait_policy::park}) {
    CAPTURE(static_cast<int>(p));
    std::atomic<bool> cancel{false};
    mpsc_channel<int> full(2);
    CHECK(full.try_push(1));
    CHECK(full.try_push(2));
    mpsc_channel<int> empty(2);
    std::atomic<int> pushed{0};
    std::vector<std::thread> pushers;
    for (int i = 0; i < 2; ++i) {
      pushers.emplace_back([&] {
        if (full.push(3, p, &cancel)) pushed.fetch_add(1);
      });
    }
    bool woke_with_data = true;
    std::thread waiter([&] { woke_with_data = empty.wait_for_data(p, &cancel); });
    std::this_thread::sleep_for(20ms);
    cancel.store(true);
    full.wake_waiters();
    empty.wake_waiters();
    for (auto& t : pushers) t.join();
    waiter.join();
    CHECK(pushed.load() == 0);
    CHECK(!woke_with_data);
    CHECK(full.size() == 2);
  }
}
