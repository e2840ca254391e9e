// spsc_channel: single-thread semantics (order, full and empty, capacity
// rounding, wrap-around, element lifetimes, a throwing consumer) and two
// threads under every wait policy, with backpressure and cancellation.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <laminar/channel/channel.hpp>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "channel/long_park.hpp"
#include "channel/tracked.hpp"

using namespace laminar;
using namespace std::chrono_literals;
using test::tracked;

namespace {

// The channel with its park words in reach: a long parker (long_park.hpp)
// sleeps on them as a parked consumer or producer does, but without the
// 1 ms re-check, so only the channel's own wake-up gets it out in time.
template <class T>
struct spsc_probe : spsc_channel<T> {
  using spsc_channel<T>::spsc_channel;
  std::atomic<std::uint32_t>& data_word() { return this->data_word_; }
  std::atomic<std::uint32_t>& space_word() { return this->space_word_; }
};

}  // namespace

TEST_CASE("spsc: capacity rounds up to a power of two") {
  CHECK(spsc_channel<int>(0).capacity() == 1);
  CHECK(spsc_channel<int>(1).capacity() == 1);
  CHECK(spsc_channel<int>(2).capacity() == 2);
  CHECK(spsc_channel<int>(3).capacity() == 4);
  CHECK(spsc_channel<int>(5).capacity() == 8);
  CHECK(spsc_channel<int>(4096).capacity() == 4096);
  CHECK(spsc_channel<int>(4097).capacity() == 8192);
}

TEST_CASE("spsc: FIFO order, full and empty") {
  spsc_channel<int> ch(5);
  REQUIRE(ch.capacity() == 8);
  CHECK(ch.empty());
  CHECK(ch.size() == 0);
  CHECK(!ch.ready());
  int out = -1;
  CHECK(!ch.try_pop(out));
  CHECK(out == -1);
  for (int i = 0; i < 8; ++i) CHECK(ch.try_push(int{i}));
  CHECK(ch.size() == 8);
  int extra = 99;
  CHECK(!ch.try_push(std::move(extra)));
  CHECK(!ch.try_emplace(100));
  CHECK(extra == 99);
  CHECK(ch.ready());
  CHECK(ch.try_pop(out));
  CHECK(out == 0);
  CHECK(ch.size() == 7);
  std::vector<int> got;
  CHECK(ch.consume([&](int& x) { got.push_back(x); }, 3) == 3);
  CHECK(got == std::vector<int>{1, 2, 3});
  CHECK(ch.size() == 4);
  CHECK(ch.try_push(int{8}));
  CHECK(ch.consume([&](int& x) { got.push_back(x); }) == 5);
  CHECK(got == std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(ch.empty());
  CHECK(ch.consume([&](int&) { FAIL("nothing is queued"); }) == 0);
  CHECK(ch.consume([&](int&) { FAIL("max is 0"); }, 0) == 0);
}

TEST_CASE("spsc: capacity 1 holds one message") {
  spsc_channel<int> ch(1);
  CHECK(ch.try_push(1));
  CHECK(!ch.try_push(2));
  int out = 0;
  CHECK(ch.try_pop(out));
  CHECK(out == 1);
  CHECK(ch.try_push(3));
  CHECK(ch.try_pop(out));
  CHECK(out == 3);
}

TEST_CASE("spsc: wraps around many times, with batches of every size") {
  spsc_channel<std::uint64_t> ch(8);
  std::uint64_t next = 0, expect = 0;
  bool ordered = true;
  for (int round = 0; round < 20'000; ++round) {
    const int pushes = 1 + round % 8;
    for (int i = 0; i < pushes && ch.try_push(std::uint64_t{next}); ++i) ++next;
    const std::size_t want = 1 + static_cast<std::size_t>(round % 5);
    ch.consume([&](std::uint64_t& v) { ordered = ordered && v == expect++; }, want);
  }
  ch.consume([&](std::uint64_t& v) { ordered = ordered && v == expect++; });
  CHECK(ordered);
  CHECK(expect == next);
  CHECK(next > 20'000 * 2);  // the ring went round thousands of times
  CHECK(ch.empty());
}

TEST_CASE("spsc: move-only messages, each destroyed exactly once, also those left in a destroyed channel") {
  test::tracked_registry reg(200);
  {
    spsc_channel<tracked> ch(8);
    int next = 0;
    std::vector<int> seen;
    for (int round = 0; round < 10; ++round) {
      while (next < 100 && ch.try_emplace(reg, next)) ++next;
      tracked t(reg, 100 + round);
      CHECK(!ch.try_push(std::move(t)));  // full: the message stays the caller's
      CHECK(t.id == 100 + round);
      ch.consume([&](tracked& m) { seen.push_back(m.id); }, 5);
    }
    tracked out(reg, 150);
    CHECK(ch.try_pop(out));  // move-assigns: out's old element is released
    seen.push_back(out.id);
    for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i] == seen[i - 1] + 1);
    CHECK(ch.size() == 2);  // still queued when the channel is destroyed
  }
  CHECK(reg.live() == 0);
  reg.check_each_released_once();
}

TEST_CASE("spsc: try_emplace that throws appends nothing") {
  struct picky {
    int v;
    explicit picky(int x) : v(x) {
      if (x < 0) throw std::invalid_argument("negative");
    }
  };
  spsc_channel<picky> ch(4);
  CHECK(ch.try_emplace(1));
  CHECK_THROWS_AS(ch.try_emplace(-1), std::invalid_argument);
  CHECK(ch.try_emplace(2));
  std::vector<int> got;
  ch.consume([&](picky& p) { got.push_back(p.v); });
  CHECK(got == std::vector<int>{1, 2});
}

TEST_CASE("spsc: a message whose handler throws is consumed, the ones after it stay queued") {
  test::tracked_registry reg(5);
  {
    spsc_channel<tracked> ch(8);
    for (int i = 0; i < 5; ++i) ch.try_emplace(reg, i);
    std::vector<int> got;
    CHECK_THROWS_AS(ch.consume([&](tracked& t) {
      got.push_back(t.id);
      if (t.id == 2) throw std::runtime_error("bad message");
    }),
                    std::runtime_error);
    CHECK(got == std::vector<int>{0, 1, 2});
    CHECK(reg.destroyed(2) == 1);
    CHECK(ch.size() == 2);
    ch.consume([&](tracked& t) { got.push_back(t.id); });
    CHECK(got == std::vector<int>{0, 1, 2, 3, 4});
  }
  CHECK(reg.live() == 0);
  reg.check_each_released_once();
}

TEST_CASE("spsc: one producer, one consumer, capacity 2, a million messages: none lost, none duplicated, in order") {
  constexpr std::uint64_t n = 1'000'000;
  spsc_channel<std::uint64_t> ch(2);
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      if (!ch.push(std::uint64_t{i})) return;
    }
  });
  std::uint64_t expect = 0, sum = 0;
  bool ordered = true;
  while (expect < n) {
    if (!ch.wait_for_data()) FAIL("wait_for_data without a cancel flag returned false");
    ch.consume([&](std::uint64_t& v) {
      ordered = ordered && v == expect++;
      sum += v;
    });
  }
  producer.join();
  CHECK(ordered);
  CHECK(expect == n);
  CHECK(sum == n * (n - 1) / 2);
  CHECK(ch.empty());
}

TEST_CASE("spsc: every wait policy moves every message, with a slow consumer and with a slow producer") {
  for (wait_policy p : {wait_policy::spin, wait_policy::spin_then_yield, wait_policy::park}) {
    CAPTURE(static_cast<int>(p));
    for (bool slow_consumer : {true, false}) {
      CAPTURE(slow_consumer);
      constexpr std::uint64_t n = 2'000;
      spsc_channel<std::uint64_t> ch(4);
      bool pushed = true;
      std::thread producer([&] {
        for (std::uint64_t i = 0; i < n && pushed; ++i) {
          // A slow producer: the consumer waits (and parks) between messages.
          if (!slow_consumer && i % 100 == 0) std::this_thread::sleep_for(2ms);
          pushed = ch.push(std::uint64_t{i}, p);
        }
      });
      std::uint64_t expect = 0;
      bool ordered = true;
      while (expect < n) {
        // A slow consumer: the producer waits (and parks) on a full channel.
        if (slow_consumer && expect % 100 == 0) std::this_thread::sleep_for(2ms);
        if (!ch.wait_for_data(p)) FAIL("wait_for_data without a cancel flag returned false");
        ch.consume([&](std::uint64_t& v) { ordered = ordered && v == expect++; }, 3);
      }
      producer.join();
      CHECK(pushed);
      CHECK(ordered);
      CHECK(ch.empty());
    }
  }
}

TEST_CASE("spsc: a parked consumer wakes when a message arrives") {
  spsc_probe<int> ch(4);
  {
    channel_test::long_parker consumer(ch.data_word());
    REQUIRE(consumer.wait_until_asleep());
    consumer.let_go();
    CHECK(ch.try_push(7));
    CHECK(consumer.returned_within(channel_test::woken_within));
  }
  int v = 0;
  CHECK(ch.try_pop(v));
  CHECK(v == 7);
  // And through wait_for_data itself.
  std::atomic<bool> waiting{false};
  std::thread waiter([&] {
    waiting.store(true);
    if (ch.wait_for_data(wait_policy::park)) ch.try_pop(v);
  });
  while (!waiting.load()) std::this_thread::yield();
  std::this_thread::sleep_for(20ms);  // long enough to get past spinning and yielding
  CHECK(ch.try_push(8));
  waiter.join();
  CHECK(v == 8);
}

TEST_CASE("spsc: a producer parked on a full channel wakes when a message is taken") {
  spsc_probe<int> ch(2);
  CHECK(ch.try_push(1));
  CHECK(ch.try_push(2));
  channel_test::long_parker producer(ch.space_word());
  REQUIRE(producer.wait_until_asleep());
  producer.let_go();
  int v = 0;
  CHECK(ch.try_pop(v));
  CHECK(producer.returned_within(channel_test::woken_within));
}

TEST_CASE("spsc: wake_waiters wakes a parked consumer and a parked producer") {
  spsc_probe<int> ch(2);
  channel_test::long_parker consumer(ch.data_word());
  channel_test::long_parker producer(ch.space_word());
  REQUIRE(consumer.wait_until_asleep());
  REQUIRE(producer.wait_until_asleep());
  consumer.let_go();
  producer.let_go();
  ch.wake_waiters();
  CHECK(consumer.returned_within(channel_test::woken_within));
  CHECK(producer.returned_within(channel_test::woken_within));
}

TEST_CASE("spsc: cancel unblocks a push blocked on a full channel and a wait for data, under every policy") {
  for (wait_policy p : {wait_policy::spin, wait_policy::spin_then_yield, wait_policy::park}) {
    CAPTURE(static_cast<int>(p));
    std::atomic<bool> cancel{false};
    spsc_channel<std::unique_ptr<int>> full(2);
    CHECK(full.try_push(std::make_unique<int>(1)));
    CHECK(full.try_push(std::make_unique<int>(2)));
    spsc_channel<int> empty(2);
    bool pushed = true, kept = false;
    std::thread pusher([&] {
      auto v = std::make_unique<int>(3);
      pushed = full.push(std::move(v), p, &cancel);
      kept = v != nullptr && *v == 3;  // not taken: still the caller's
    });
    bool woke_with_data = true;
    std::thread waiter([&] { woke_with_data = empty.wait_for_data(p, &cancel); });
    std::this_thread::sleep_for(20ms);
    cancel.store(true);
    full.wake_waiters();
    empty.wake_waiters();
    pusher.join();
    waiter.join();
    CHECK(!woke_with_data);
    CHECK(!pushed);
    CHECK(kept);
    CHECK(full.size() == 2);
  }
}

TEST_CASE("spsc: a cancelled parked wait returns within the re-check interval even without a wake-up") {
  std::atomic<bool> cancel{false};
  spsc_channel<int> ch(2);
  bool woke_with_data = true;
  std::thread waiter([&] { woke_with_data = ch.wait_for_data(wait_policy::park, &cancel); });
  std::this_thread::sleep_for(20ms);
  const auto t0 = std::chrono::steady_clock::now();
  cancel.store(true);  // no wake_waiters(): the waiter's timed re-check finds it
  waiter.join();
  CHECK(!woke_with_data);
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
}

TEST_CASE("spsc: a message already queued is not lost to a cancel") {
  std::atomic<bool> cancel{true};
  spsc_channel<int> ch(2);
  CHECK(ch.try_push(1));
  CHECK(ch.wait_for_data(wait_policy::park, &cancel));  // data wins over cancel
  CHECK(ch.try_push(2));
  CHECK(!ch.push(3, wait_policy::park, &cancel));  // full and cancelled
  int out = 0;
  CHECK(ch.try_pop(out));
  CHECK(ch.push(3, wait_policy::park, &cancel));  // room wins over cancel
}

TEST_CASE("spsc: size from a third thread stays within [0, capacity]") {
  spsc_channel<int> ch(16);
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    for (int i = 0; i < 50'000; ++i) ch.push(int{i});
  });
  bool in_range = true;
  std::thread observer([&] {
    while (!stop.load()) in_range = in_range && ch.size() <= ch.capacity();
  });
  int got = 0;
  while (got < 50'000) {
    ch.wait_for_data();
    got += static_cast<int>(ch.consume([](int&) {}));
  }
  producer.join();
  stop.store(true);
  observer.join();
  CHECK(in_range);
  CHECK(ch.size() == 0);
}

TEST_CASE("spsc: try_push_n moves what fits, in order, and wraps around") {
  spsc_channel<std::uint64_t> ch(8);
  std::uint64_t next = 0, expect = 0;
  bool ordered = true;
  std::vector<std::uint64_t> batch;
  for (int round = 0; round < 5'000; ++round) {
    batch.clear();
    const std::size_t want = 1 + static_cast<std::size_t>(round % 11);  // sometimes more than the capacity
    for (std::size_t i = 0; i < want; ++i) batch.push_back(next + i);
    const std::size_t room = ch.capacity() - ch.size();
    const std::size_t pushed = ch.try_push_n(batch.data(), batch.size());
    CHECK(pushed == std::min(want, room));
    next += pushed;
    ch.consume([&](std::uint64_t& v) { ordered = ordered && v == expect++; }, 1 + static_cast<std::size_t>(round % 4));
  }
  ch.consume([&](std::uint64_t& v) { ordered = ordered && v == expect++; });
  CHECK(ordered);
  CHECK(expect == next);
  CHECK(ch.try_push_n(batch.data(), 0) == 0);
}

TEST_CASE("spsc: push_n of move-only messages across threads through a channel of 4: each once, in order") {
  constexpr int n = 100'000;
  constexpr int batch = 7;
  spsc_channel<std::unique_ptr<int>> ch(4);
  std::thread producer([&] {
    std::vector<std::unique_ptr<int>> msgs(batch);
    for (int i = 0; i < n; i += batch) {
      const int k = std::min(batch, n - i);
      for (int j = 0; j < k; ++j) msgs[static_cast<std::size_t>(j)] = std::make_unique<int>(i + j);
      if (ch.push_n(msgs.data(), static_cast<std::size_t>(k)) != static_cast<std::size_t>(k)) return;
    }
  });
  int expect = 0;
  bool ordered = true;
  while (expect < n) {
    ch.wait_for_data();
    ch.consume([&](std::unique_ptr<int>& v) { ordered = ordered && v != nullptr && *v == expect++; });
  }
  producer.join();
  CHECK(ordered);
  CHECK(expect == n);
}

TEST_CASE("spsc: a cancelled push_n returns how many it moved") {
  spsc_channel<int> ch(2);
  std::atomic<bool> cancel{false};
  std::vector<int> msgs{1, 2, 3, 4, 5};
  std::size_t moved = 99;
  std::thread producer([&] { moved = ch.push_n(msgs.data(), msgs.size(), wait_policy::park, &cancel); });
  std::this_thread::sleep_for(20ms);
  cancel.store(true);
  ch.wake_waiters();
  producer.join();
  CHECK(moved == 2);
  int out = 0;
  CHECK(ch.try_pop(out));
  CHECK(out == 1);
}
