// wait_until and notify_waiters: every policy returns once the condition
// holds, gives up on cancel, and a parked waiter is woken by a notify (and,
// failing that, by its own timed re-check); notifying with nobody parked
// leaves the word alone.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <laminar/channel/wait_policy.hpp>
#include <thread>

#include "channel/long_park.hpp"

using namespace laminar;
using namespace std::chrono_literals;

namespace {
constexpr wait_policy all_policies[] = {wait_policy::spin, wait_policy::spin_then_yield, wait_policy::park};
}

TEST_CASE("wait_until returns at once when the condition already holds") {
  std::atomic<std::uint32_t> word{0};
  for (wait_policy p : all_policies) {
    int calls = 0;
    CHECK(wait_until(p, [&] { return ++calls > 0; }, word, nullptr));
    CHECK(calls == 1);
  }
  CHECK(word.load() == 0);  // nobody parked
}

TEST_CASE("wait_until returns once the condition holds, under every policy") {
  for (wait_policy p : all_policies) {
    CAPTURE(static_cast<int>(p));
    std::atomic<std::uint32_t> word{0};
    std::atomic<bool> flag{false};
    std::thread setter([&] {
      std::this_thread::sleep_for(5ms);
      flag.store(true, std::memory_order_release);
      notify_waiters(word);
    });
    CHECK(wait_until(p, [&] { return flag.load(std::memory_order_acquire); }, word, nullptr));
    setter.join();
  }
}

TEST_CASE("wait_until without a word still returns once the condition holds") {
  for (wait_policy p : all_policies) {
    std::atomic<bool> flag{false};
    std::thread setter([&] {
      std::this_thread::sleep_for(3ms);
      flag.store(true);
    });
    CHECK(wait_until(p, [&] { return flag.load(); }));
    setter.join();
  }
}

TEST_CASE("wait_until gives up when cancelled and returns the condition") {
  std::atomic<std::uint32_t> word{0};
  for (wait_policy p : all_policies) {
    CAPTURE(static_cast<int>(p));
    std::atomic<bool> cancel{true};
    CHECK(!wait_until(p, [] { return false; }, word, &cancel));
    CHECK(wait_until(p, [] { return true; }, word, &cancel));

    std::atomic<bool> later{false};
    bool result = true;
    std::thread waiter([&] { result = wait_until(p, [] { return false; }, word, &later); });
    std::this_thread::sleep_for(10ms);
    later.store(true);
    notify_waiters(word);
    waiter.join();
    CHECK(!result);
  }
}

TEST_CASE("a parked waiter sets the word's parked bit, notify_waiters clears it, advances it and wakes the waiter") {
  std::atomic<std::uint32_t> word{0};
  std::atomic<bool> flag{false};
  bool result = false;
  std::thread waiter([&] { result = wait_until(wait_policy::park, [&] { return flag.load(); }, word, nullptr); });
  // Past spinning and yielding, the waiter announces itself in bit 0.
  while ((word.load() & 1U) == 0) std::this_thread::sleep_for(100us);
  const std::uint32_t before = word.load();
  flag.store(true);
  notify_waiters(word);
  waiter.join();
  CHECK(result);
  CHECK((word.load() & 1U) == 0);
  CHECK(word.load() == before + 1);  // the wake-up count moved on
}

TEST_CASE("a parked waiter that misses its wake-up re-checks by itself") {
  std::atomic<std::uint32_t> word{0};
  std::atomic<bool> flag{false};
  bool result = false;
  std::thread waiter([&] { result = wait_until(wait_policy::park, [&] { return flag.load(); }, word, nullptr); });
  while ((word.load() & 1U) == 0) std::this_thread::sleep_for(100us);
  const auto t0 = std::chrono::steady_clock::now();
  flag.store(true);  // and no notify_waiters
  waiter.join();
  CHECK(result);
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
}

TEST_CASE("notify_waiters with nobody parked leaves the word as it is") {
  std::atomic<std::uint32_t> word{6};
  notify_waiters(word);
  CHECK(word.load() == 6);
}

// Waiters parked as wait_until parks them, but for seconds instead of
// park_recheck: they return in time only if the notify woke them.
TEST_CASE("one notify wakes every parked waiter") {
  std::atomic<std::uint32_t> word{0};
  channel_test::long_parker a(word), b(word), c(word);
  REQUIRE(a.wait_until_asleep());
  REQUIRE(b.wait_until_asleep());
  REQUIRE(c.wait_until_asleep());
  const std::uint32_t before = word.load();
  CHECK((before & 1U) == 1U);
  a.let_go();
  b.let_go();
  c.let_go();
  notify_waiters(word);
  CHECK(a.returned_within(channel_test::woken_within));
  CHECK(b.returned_within(channel_test::woken_within));
  CHECK(c.returned_within(channel_test::woken_within));
  CHECK(word.load() == before + 1);  // one wake-up for all of them
}
