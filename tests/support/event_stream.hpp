// A seeded generator of out-of-order event streams for differential tests:
// many keys, bounded disorder, a fraction of records later than the bound,
// duplicate timestamps, and absurd timestamps when asked.
#pragma once

#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <vector>

namespace laminar::test {

struct event {
  std::uint32_t key = 0;
  std::int64_t ts = 0;     // event time, ns
  std::int64_t value = 0;  // payload
  std::uint64_t seq = 0;   // arrival order

  friend bool operator==(const event&, const event&) = default;
  friend std::ostream& operator<<(std::ostream& os, const event& e) {
    return os << "{key " << e.key << ", ts " << e.ts << ", value " << e.value << ", seq " << e.seq << "}";
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(key, ts, value, seq);
  }
};

struct stream_options {
  std::uint64_t seed = 1;
  std::size_t records = 10'000;
  std::uint32_t keys = 100;
  std::int64_t start_ns = 1'700'000'000'000'000'000;
  std::int64_t mean_step_ns = 1'000'000;  // average event-time advance per record
  std::int64_t max_disorder_ns = 50'000'000;  // most records are at most this much behind the front
  double late_fraction = 0.01;       // records behind by up to 10x max_disorder
  double duplicate_fraction = 0.05;  // records with the previous record's timestamp
  double absurd_fraction = 0.0;      // records at INT64_MAX / INT64_MIN / far future
};

/// The stream, in arrival order.
inline std::vector<event> make_stream(const stream_options& o) {
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<std::uint32_t> key(0, o.keys == 0 ? 0 : o.keys - 1);
  std::uniform_int_distribution<std::int64_t> step(0, 2 * o.mean_step_ns);
  std::uniform_int_distribution<std::int64_t> disorder(0, o.max_disorder_ns);
  std::uniform_int_distribution<std::int64_t> lateness(o.max_disorder_ns, 10 * o.max_disorder_ns + 1);
  std::uniform_int_distribution<std::int64_t> value(-1000, 1000);
  std::vector<event> out;
  out.reserve(o.records);
  std::int64_t front = o.start_ns;
  for (std::size_t i = 0; i < o.records; ++i) {
    front += step(rng);
    event e{key(rng), front - disorder(rng), value(rng), i};
    const double r = unit(rng);
    if (r < o.absurd_fraction) {
      const std::int64_t choices[] = {std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min(),
                                      front + 1'000'000'000'000'000LL};
      e.ts = choices[i % 3];
    } else if (r < o.absurd_fraction + o.late_fraction) {
      e.ts = front - lateness(rng);
    } else if (r < o.absurd_fraction + o.late_fraction + o.duplicate_fraction && !out.empty()) {
      e.ts = out.back().ts;
    }
    out.push_back(e);
  }
  return out;
}

}  // namespace laminar::test
