// The graph's batch channel against a plain model: the messages a consumer
// reads (records, watermarks, barriers, ends) are those written, in order;
// with watermark replacement, less only watermarks directly followed by another.
#include <doctest/doctest.h>

#include <laminar/dag/detail/batch_channel.hpp>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <variant>
#include <vector>

using namespace laminar;
using laminar::detail::batch_channel;
using laminar::detail::frame_kind;
using laminar::detail::frame_view;

namespace {

struct rec {
  std::int64_t ts = 0;
  std::uint64_t id = 0;
  friend bool operator==(const rec&, const rec&) = default;
};

using msg = std::variant<rec, timestamp, barrier_token, end_of_stream>;

// What the consumer reads, message by message, up to `max_frames` frames.
template <class T>
void read_all(batch_channel<T>& ch, std::vector<msg>& out, std::size_t max_frames = SIZE_MAX) {
  for (std::size_t f = 0; f < max_frames; ++f) {
    auto v = ch.peek();
    if (!v) return;
    if (v->kind == frame_kind::barrier) {
      out.emplace_back(v->token);
    } else if (v->kind == frame_kind::end) {
      out.emplace_back(end_of_stream{});
    } else {
      v->walk(
          [&](T* r, std::uint32_t n) {
            for (std::uint32_t k = 0; k < n; ++k) out.emplace_back(r[k]);
            return true;
          },
          [&](timestamp w) {
            out.emplace_back(w);
            return true;
          });
    }
    ch.pop();
  }
}

// Writes one message; false when the channel is full.
bool write(batch_channel<rec>& ch, const msg& m, bool may_replace) {
  switch (m.index()) {
    case 0: return ch.try_record(std::get<0>(m));
    case 1: return ch.try_watermark(std::get<1>(m), may_replace);
    case 2: return ch.try_control(frame_kind::barrier, std::get<2>(m));
    default: return ch.try_control(frame_kind::end);
  }
}

// Writes `in` into the channel (publishing at random, as steps end), with
// no coalescing, reading as it goes when the channel is full.
std::vector<msg> through(const std::vector<msg>& in, std::size_t capacity, std::size_t batch, std::uint64_t seed,
                         bool may_replace = false) {
  batch_channel<rec> ch(capacity, batch);
  std::vector<msg> out;
  std::mt19937_64 rng(seed);
  for (const msg& m : in) {
    while (!write(ch, m, may_replace)) read_all(ch, out, 1 + rng() % 3);  // full: the consumer makes room
    if (rng() % 17 == 0) ch.publish();
    if (rng() % 29 == 0) read_all(ch, out, 1 + rng() % 2);
  }
  ch.publish();
  read_all(ch, out);
  return out;
}

std::vector<msg> random_stream(std::uint64_t seed, std::size_t n, bool records_after_late) {
  std::mt19937_64 rng(seed);
  std::vector<msg> in;
  std::int64_t front = 0;
  std::uint64_t barrier = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto pick = rng() % 100;
    if (pick < 60) {
      front += static_cast<std::int64_t>(rng() % 10);
      std::int64_t t = front - static_cast<std::int64_t>(rng() % 8);
      if (records_after_late && rng() % 20 == 0) t -= 50;  // late
      in.emplace_back(rec{t, i});
    } else if (pick < 97) {
      in.emplace_back(timestamp::from_nanos(front - 5));
    } else if (pick < 99) {
      in.emplace_back(barrier_token{++barrier, checkpoint_barrier::kind::snapshot});
    }
  }
  in.emplace_back(end_of_stream{});
  return in;
}

}  // namespace

TEST_CASE("batch channel: every message comes out as written, for batch sizes 1, 7, 64 and 256") {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    const auto in = random_stream(seed, 3000, true);
    for (const std::size_t batch : {1UL, 7UL, 64UL, 256UL}) {
      for (const std::size_t capacity : {2UL, 16UL, 1024UL}) {
        CAPTURE(seed);
        CAPTURE(batch);
        CAPTURE(capacity);
        CHECK(through(in, capacity, batch, seed) == in);
      }
    }
  }
}

TEST_CASE("batch channel: a watermark replaces only one directly before it, never one before a record") {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    const auto in = random_stream(seed, 3000, true);
    for (const std::size_t batch : {1UL, 7UL, 256UL}) {
      CAPTURE(seed);
      CAPTURE(batch);
      const auto out = through(in, 1024, batch, seed, true);
      // The model: a run of watermarks with nothing between them may lose
      // all but its last; nothing else changes. So `out` is `in` less some
      // watermarks, and both read the same with each run cut to its last.
      const auto runs_cut = [](const std::vector<msg>& v) {
        std::vector<msg> r;
        for (const msg& m : v) {
          if (m.index() == 1 && !r.empty() && r.back().index() == 1) r.pop_back();
          r.push_back(m);
        }
        return r;
      };
      CHECK(runs_cut(out) == runs_cut(in));
      std::size_t k = 0;
      for (const msg& m : out) {
        while (k < in.size() && !(in[k] == m)) {
          CHECK(in[k].index() == 1);  // only watermarks are left out
          ++k;
        }
        REQUIRE(k < in.size());
        ++k;
      }
      if (batch > 1) CHECK(out.size() < in.size());  // some were replaced
    }
  }
}

TEST_CASE("batch channel: records that own memory are destroyed once, read or left in the channel") {
  auto counter = std::make_shared<int>(0);
  {
    batch_channel<std::shared_ptr<int>> ch(64, 8);
    for (int i = 0; i < 20; ++i) REQUIRE(ch.try_record(counter));
    ch.publish();
    for (int i = 0; i < 5; ++i) REQUIRE(ch.try_record(counter));  // staged, never published
    CHECK(counter.use_count() == 26);
    CHECK(ch.queued_records() == 20);  // the staged five are not queued yet
    auto v = ch.peek();
    REQUIRE(v);
    CHECK(v->count == 8);
    ch.pop();
    CHECK(counter.use_count() == 18);
    CHECK(ch.queued_records() == 12);
  }
  CHECK(counter.use_count() == 1);
}

TEST_CASE("batch channel: a producer and a consumer thread move 200k messages in order") {
  const auto in = random_stream(42, 200'000, false);
  batch_channel<rec> ch(256, 16);
  std::vector<msg> out;
  out.reserve(in.size());
  std::thread consumer([&] {
    while (out.empty() || out.back().index() != 3) read_all(ch, out);
  });
  std::size_t since_publish = 0;
  for (const msg& m : in) {
    while (!write(ch, m, false)) std::this_thread::yield();
    if (++since_publish == 100) {
      ch.publish();
      since_publish = 0;
    }
  }
  ch.publish();
  consumer.join();
  CHECK(out == in);
}
