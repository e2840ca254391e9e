// Property tests of the aggregates on input with retractions (changelogs):
// every aggregate bound with bind<T, true>, fed seeded random sequences of
// adds and retractions of records currently present, and compared after
// every step with a plain computation over the records present (in arrival
// order). A retraction removes the most recently arrived present record with
// the same (time, value), which is what first and last document. Also:
// retractions inside event-time chunks that are then merged, and a checkpoint
// round trip of every accumulator through state_writer / state_reader.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <laminar/aggregate/aggregates.hpp>
#include <laminar/core/checkpoint.hpp>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

constexpr std::int64_t base_ns = 1'700'000'000'000'000'000;
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Every field but seq is a function of (ts, value), so that two records with
// the same (ts, value) differ only in their arrival order. first / last
// retract the latest record with the same (time, projected value); for the
// projections they are tested with here (value, amount, seq, symbol_of),
// which are one-to-one with value at a given time, that is the record the
// model removes. price is not (many prices are 0), so it is used with
// order-free aggregates only.
struct rec {
  std::int64_t ts = 0;     // event time, ns
  std::int64_t value = 0;  // integer payload, small ranges
  double amount = 0;       // floating payload within [-1000, 1000]
  double price = 0;        // floating payload: zeros, both signs, 1e-6 to 1e9
  std::int64_t qty = 0;    // 1..100
  std::uint64_t seq = 0;   // arrival order
};

rec make_rec(std::int64_t ts, std::int64_t value, std::uint64_t seq) {
  const std::uint64_t h = splitmix64(static_cast<std::uint64_t>(ts) * 1'000'003ULL + static_cast<std::uint64_t>(value));
  const double unit = static_cast<double>(h >> 11) * 0x1.0p-53;  // [0, 1)
  rec r;
  r.ts = ts;
  r.value = value;
  r.amount = (h & 1) != 0 ? static_cast<double>(value) * 0.5 : 2000.0 * unit - 1000.0;
  switch ((h >> 1) % 6) {
    case 0: r.price = 0.0; break;
    case 1: r.price = static_cast<double>(value); break;
    case 2: r.price = std::pow(10.0, -6.0 + 15.0 * unit); break;
    case 3: r.price = -std::pow(10.0, -6.0 + 15.0 * unit); break;
    default: r.price = 2000.0 * unit - 1000.0; break;
  }
  r.qty = 1 + static_cast<std::int64_t>((h >> 8) % 100);
  r.seq = seq;
  return r;
}

laminar::timestamp time_of(const rec& r) { return laminar::timestamp::from_nanos(r.ts); }

struct symbol_of {
  std::string operator()(const rec& r) const {
    std::string s(1, 's');  // appended, not "s" + ...: g++ 12 -O3 gives a false -Wrestrict on that
    s += std::to_string(r.value);
    return s;
  }
};

// ---- the model: the records present, in arrival order ----

struct op {
  bool retract = false;
  rec r;
};

/// Index of the record that a reference first (last) picks.
std::size_t first_index(const std::vector<rec>& rs) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < rs.size(); ++i) {
    if (rs[i].ts < rs[best].ts) best = i;
  }
  return best;
}
std::size_t last_index(const std::vector<rec>& rs) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < rs.size(); ++i) {
    if (rs[i].ts >= rs[best].ts) best = i;
  }
  return best;
}
template <class Better>
std::size_t best_index(const std::vector<rec>& rs, Better better) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < rs.size(); ++i) {
    if (better(rs[i], rs[best])) best = i;
  }
  return best;
}

struct shape {
  std::int64_t ts_span;
  std::int64_t value_span;
};
constexpr shape shapes[] = {{5, 3}, {0, 4}, {1000, 1000}, {20, 50}, {2, 1}};

/// A random sequence of adds and retractions; each retraction is of a record
/// present, and half of them aim at the record that currently gives the
/// min, max, first or last. `present` ends as the records still present.
class op_generator {
 public:
  op_generator(std::uint64_t seed, std::size_t case_index) : rng_(seed), shape_(shapes[case_index % std::size(shapes)]) {}

  /// The next operation, applied to the model.
  op next(double add_probability) {
    std::bernoulli_distribution add(add_probability);
    if (present_.empty() || add(rng_)) {
      std::uniform_int_distribution<std::int64_t> ts(0, shape_.ts_span);
      std::uniform_int_distribution<std::int64_t> value(-shape_.value_span, shape_.value_span);
      const std::int64_t t = base_ns + ts(rng_);
      const std::int64_t v = value(rng_);
      rec r = make_rec(t, v, seq_++);
      present_.push_back(r);
      return {false, r};
    }
    const std::size_t j = pick();
    // The record a retraction of present_[j] removes: the most recently
    // arrived one with the same (time, value).
    std::size_t k = present_.size() - 1;
    while (present_[k].ts != present_[j].ts || present_[k].value != present_[j].value) --k;
    const rec r = present_[k];
    present_.erase(present_.begin() + static_cast<std::ptrdiff_t>(k));
    return {true, r};
  }

  /// Add probability for step i: mostly growing, with a drain to empty now and then.
  static double add_probability(std::size_t i) { return i % 120 >= 80 ? 0.1 : 0.6; }

  const std::vector<rec>& present() const noexcept { return present_; }
  std::mt19937_64& rng() noexcept { return rng_; }

 private:
  std::size_t pick() {
    const auto& p = present_;
    switch (std::uniform_int_distribution<int>(0, 13)(rng_)) {
      case 0: return first_index(p);
      case 1: return last_index(p);
      case 2: return best_index(p, [](const rec& a, const rec& b) { return a.value < b.value; });
      case 3: return best_index(p, [](const rec& a, const rec& b) { return a.value > b.value; });
      case 4: return best_index(p, [](const rec& a, const rec& b) { return a.price < b.price; });
      case 5: return best_index(p, [](const rec& a, const rec& b) { return a.price > b.price; });
      case 6: return p.size() - 1;  // the latest arrival
      default: return std::uniform_int_distribution<std::size_t>(0, p.size() - 1)(rng_);
    }
  }

  std::mt19937_64 rng_;
  shape shape_;
  std::vector<rec> present_;
  std::uint64_t seq_ = 0;
};

/// Applies one operation; Retracting = false for insert-only aggregates,
/// which are given adds only.
template <bool Retracting = true, class A>
void apply(const A& agg, typename A::accumulator& acc, const op& o) {
  if constexpr (Retracting) {
    if (o.retract) {
      laminar::detail::agg_retract(agg, acc, o.r, time_of(o.r));
      return;
    }
  } else {
    REQUIRE_FALSE(o.retract);
  }
  laminar::detail::agg_add(agg, acc, o.r, time_of(o.r));
}

// ---- comparisons ----

bool near(double got, double want, double tol) {
  if (std::isnan(want)) return std::isnan(got);
  return std::fabs(got - want) <= tol;
}

struct exact {
  template <class A, class B>
  bool operator()(const A& got, const B& want) const {
    if constexpr (std::is_floating_point_v<A> && std::is_floating_point_v<B>) {
      if (std::isnan(want)) return std::isnan(got);
    }
    return got == want;
  }
};

struct within {
  double relative;
  bool operator()(double got, double want) const { return near(got, want, relative * (1.0 + std::fabs(want))); }
};

/// Variance (or, root = true, standard deviation, compared squared) within
/// rounding: the inverse Welford update leaves a residue of about
/// eps * (the squares it has seen), so there is an absolute term for values
/// within [-1000, 1000] (measured residues stay below 1e-8).
struct variance_close {
  bool root = false;
  bool operator()(double got, double want) const {
    if (std::isnan(want)) return std::isnan(got);
    const double g = root ? got * got : got;
    const double w = root ? want * want : want;
    return std::fabs(g - w) <= 1e-9 * std::fabs(w) + 1e-6;
  }
};

template <class T>
struct is_tuple : std::false_type {};
template <class... Ts>
struct is_tuple<std::tuple<Ts...>> : std::true_type {};

/// Bit-for-bit the same result (NaN equal to NaN): what a restored
/// accumulator must give.
template <class T>
bool identical(const T& a, const T& b) {
  if constexpr (std::is_floating_point_v<T>) {
    return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
  } else if constexpr (is_tuple<T>::value) {
    return std::apply([&](const auto&... x) { return std::apply([&](const auto&... y) { return (identical(x, y) && ...); }, b); },
                      a);
  } else if constexpr (requires {
                         a.open;
                         a.high;
                         a.low;
                         a.close;
                       }) {
    return identical(a.open, b.open) && identical(a.high, b.high) && identical(a.low, b.low) &&
           identical(a.close, b.close);
  } else {
    return a == b;
  }
}

// ---- the drivers ----

/// Binds `factory` with retractions and checks it against reference(present)
/// after every add and retraction of `cases` random sequences.
template <class F, class Ref, class Same>
void check_retractions(const F& factory, Ref reference, Same same, std::uint64_t seed, std::size_t cases = 45,
                       std::size_t steps = 240) {
  const auto agg = laminar::detail::bind_aggregate<rec, true>(factory);
  using A = std::remove_cvref_t<decltype(agg)>;
  static_assert(laminar::retractable_aggregate<A, rec>);
  std::size_t retractions = 0;
  bool ok = true;
  for (std::size_t c = 0; c < cases && ok; ++c) {
    op_generator gen(seed * 1000 + c, c);
    auto acc = agg.init();
    for (std::size_t i = 0; i < steps && ok; ++i) {
      const op o = gen.next(op_generator::add_probability(i));
      apply(agg, acc, o);
      retractions += o.retract ? 1 : 0;
      const auto got = agg.result(acc);
      const auto want = reference(gen.present());
      ok = same(got, want);
      if (!ok) {
        CAPTURE(c);
        CAPTURE(i);
        CAPTURE(o.retract);
        CAPTURE(o.r.ts);
        CAPTURE(o.r.value);
        CAPTURE(gen.present().size());
        CAPTURE(got);
        CAPTURE(want);
        FAIL_CHECK("after this step the aggregate differs from the reference over the records present");
      }
    }
  }
  // Every sequence retracts a good share of what it adds.
  if (ok) CHECK(retractions > cases * 40);
}

/// Adds and retractions routed to event-time chunks by timestamp (a record
/// and its retraction share a timestamp, hence a chunk), one accumulator per
/// chunk, merged left to right: the result of one accumulator over all.
template <class F, class Ref, class Same>
void check_chunked_retractions(const F& factory, Ref reference, Same same, std::uint64_t seed, std::size_t cases = 40) {
  const auto agg = laminar::detail::bind_aggregate<rec, true>(factory);
  for (std::size_t c = 0; c < cases; ++c) {
    CAPTURE(c);
    op_generator gen(seed * 1000 + c, c);
    std::vector<op> ops;
    for (std::size_t i = 0; i < 200; ++i) ops.push_back(gen.next(op_generator::add_probability(i)));
    // Chunk boundaries: random timestamps; chunk i holds [bounds[i], bounds[i + 1]).
    const shape& s = shapes[c % std::size(shapes)];
    std::uniform_int_distribution<std::int64_t> cut(0, s.ts_span + 1);
    std::vector<std::int64_t> bounds{0, s.ts_span + 1};
    const std::size_t chunks = std::uniform_int_distribution<std::size_t>(1, 5)(gen.rng());
    for (std::size_t i = 1; i < chunks; ++i) bounds.push_back(cut(gen.rng()));
    std::sort(bounds.begin(), bounds.end());
    std::vector<typename std::remove_cvref_t<decltype(agg)>::accumulator> accs(bounds.size() - 1, agg.init());
    auto single = agg.init();
    for (const op& o : ops) {
      apply(agg, single, o);
      const std::int64_t t = o.r.ts - base_ns;
      for (std::size_t i = 0; i + 1 < bounds.size(); ++i) {
        if (t >= bounds[i] && t < bounds[i + 1]) apply(agg, accs[i], o);
      }
    }
    auto merged = accs.front();
    for (std::size_t i = 1; i < accs.size(); ++i) agg.merge(merged, accs[i]);
    const auto expected = reference(gen.present());
    CHECK(same(agg.result(single), expected));
    CHECK(same(agg.result(merged), expected));
    CHECK(same(agg.result(merged), agg.result(single)));
    // The merged state is the union's: it goes on taking adds and
    // retractions (of records added before the merge too) like one accumulator.
    bool ok = true;
    for (std::size_t i = 0; i < 100 && ok; ++i) {
      const op o = gen.next(0.3);
      apply(agg, single, o);
      apply(agg, merged, o);
      ok = same(agg.result(merged), reference(gen.present())) && same(agg.result(merged), agg.result(single));
    }
    CHECK_MESSAGE(ok, "the merged accumulator diverged on later adds and retractions");
  }
}

// ---- references over the records present ----

template <class P>
auto ref_min(const std::vector<rec>& rs, P proj) {
  using V = laminar::detail::projected_t<P, rec>;
  if (rs.empty()) return V{};
  V best = std::invoke(proj, rs.front());
  for (const rec& r : rs) best = std::min(best, V(std::invoke(proj, r)));
  return best;
}

template <class P>
auto ref_max(const std::vector<rec>& rs, P proj) {
  using V = laminar::detail::projected_t<P, rec>;
  if (rs.empty()) return V{};
  V best = std::invoke(proj, rs.front());
  for (const rec& r : rs) best = std::max(best, V(std::invoke(proj, r)));
  return best;
}

template <class P>
auto ref_first(const std::vector<rec>& rs, P proj) {
  using V = laminar::detail::projected_t<P, rec>;
  return rs.empty() ? V{} : V(std::invoke(proj, rs[first_index(rs)]));
}

template <class P>
auto ref_last(const std::vector<rec>& rs, P proj) {
  using V = laminar::detail::projected_t<P, rec>;
  return rs.empty() ? V{} : V(std::invoke(proj, rs[last_index(rs)]));
}

std::int64_t ref_count(const std::vector<rec>& rs) { return static_cast<std::int64_t>(rs.size()); }

std::int64_t ref_sum_value(const std::vector<rec>& rs) {
  std::int64_t s = 0;
  for (const rec& r : rs) s += r.value;
  return s;
}

double ref_sum_amount(const std::vector<rec>& rs) {
  long double s = 0;
  for (const rec& r : rs) s += r.amount;
  return static_cast<double>(s);
}

double ref_avg_amount(const std::vector<rec>& rs) {
  return rs.empty() ? not_a_number : ref_sum_amount(rs) / static_cast<double>(rs.size());
}

template <class P>
double ref_variance(const std::vector<rec>& rs, P proj, bool sample, bool root) {
  const std::size_t n = rs.size();
  if (n == 0 || (sample && n == 1)) return not_a_number;
  long double mean = 0;
  for (const rec& r : rs) mean += static_cast<long double>(std::invoke(proj, r));
  mean /= static_cast<long double>(n);
  long double m2 = 0;
  for (const rec& r : rs) {
    const long double d = static_cast<long double>(std::invoke(proj, r)) - mean;
    m2 += d * d;
  }
  const long double var = m2 / static_cast<long double>(sample ? n - 1 : n);
  return static_cast<double>(root ? std::sqrt(var) : var);
}

template <class P>
std::int64_t ref_count_distinct(const std::vector<rec>& rs, P proj) {
  std::set<laminar::detail::projected_t<P, rec>> s;
  for (const rec& r : rs) s.insert(std::invoke(proj, r));
  return static_cast<std::int64_t>(s.size());
}

double ref_vwap(const std::vector<rec>& rs) {
  long double notional = 0;
  long double quantity = 0;
  for (const rec& r : rs) {
    notional += static_cast<long double>(r.amount) * static_cast<long double>(r.qty);
    quantity += static_cast<long double>(r.qty);
  }
  return quantity == 0 ? not_a_number : static_cast<double>(notional / quantity);
}

template <class P>
auto ref_ohlc(const std::vector<rec>& rs, P proj) {
  return laminar::ohlc_bar<laminar::detail::projected_t<P, rec>>{ref_first(rs, proj), ref_max(rs, proj),
                                                                 ref_min(rs, proj), ref_last(rs, proj)};
}

/// The documented percentile bound against the records present.
struct percentile_bound {
  double q;
  double alpha;
  bool operator()(double got, const std::vector<rec>& rs) const {
    if (rs.empty()) return std::isnan(got);
    std::vector<double> xs;
    xs.reserve(rs.size());
    for (const rec& r : rs) xs.push_back(r.price);
    std::sort(xs.begin(), xs.end());
    const double x = xs[static_cast<std::size_t>(std::floor(q * static_cast<double>(xs.size() - 1)))];
    return std::fabs(got - x) <= alpha * std::fabs(x) * (1 + 1e-9);
  }
  /// Two sketches of the same records (merged and single) answer the same.
  bool operator()(double got, double want) const { return (std::isnan(got) && std::isnan(want)) || got == want; }
};

// A user-defined bound aggregate with retract (no timestamps).
struct abs_sum {
  using accumulator = std::int64_t;
  accumulator init() const { return 0; }
  void add(accumulator& a, const rec& r) const { a += r.value < 0 ? -r.value : r.value; }
  void retract(accumulator& a, const rec& r) const { a -= r.value < 0 ? -r.value : r.value; }
  void merge(accumulator& a, const accumulator& b) const { a += b; }
  std::int64_t result(const accumulator& a) const { return a; }
};
static_assert(laminar::retractable_aggregate<abs_sum, rec>);

std::int64_t ref_abs_sum(const std::vector<rec>& rs) {
  std::int64_t s = 0;
  for (const rec& r : rs) s += r.value < 0 ? -r.value : r.value;
  return s;
}

/// An identity "reference": the check passes its records through so that the
/// comparison can compute whatever it needs (the percentile bound).
struct records_of {
  const std::vector<rec>& operator()(const std::vector<rec>& rs) const { return rs; }
};

}  // namespace

TEST_CASE("count, sum, avg and the user aggregate under retractions") {
  check_retractions(laminar::count(), ref_count, exact{}, 1);
  check_retractions(laminar::sum(&rec::value), ref_sum_value, exact{}, 2);
  check_retractions(laminar::sum(&rec::amount), ref_sum_amount, within{1e-9}, 3);
  check_retractions(laminar::avg(&rec::amount), ref_avg_amount, within{1e-9}, 4);
  check_retractions(abs_sum{}, ref_abs_sum, exact{}, 5);
}

TEST_CASE("min and max find the next extreme when the current one is retracted") {
  check_retractions(laminar::min(&rec::value), [](const std::vector<rec>& rs) { return ref_min(rs, &rec::value); },
                    exact{}, 11);
  check_retractions(laminar::max(&rec::value), [](const std::vector<rec>& rs) { return ref_max(rs, &rec::value); },
                    exact{}, 12);
  check_retractions(laminar::min(&rec::price), [](const std::vector<rec>& rs) { return ref_min(rs, &rec::price); },
                    exact{}, 13);
  check_retractions(laminar::max(&rec::price), [](const std::vector<rec>& rs) { return ref_max(rs, &rec::price); },
                    exact{}, 14);
  check_retractions(laminar::max(symbol_of{}), [](const std::vector<rec>& rs) { return ref_max(rs, symbol_of{}); },
                    exact{}, 15);

  // Hand-written: retract the minimum twice over, with a duplicate.
  const auto lo = laminar::min(&rec::value).bind<rec, true>();
  auto a = lo.init();
  for (const std::int64_t v : {5, 3, 3, 8}) lo.add(a, make_rec(base_ns, v, 0));
  CHECK(lo.result(a) == 3);
  lo.retract(a, make_rec(base_ns, 3, 0));
  CHECK(lo.result(a) == 3);
  lo.retract(a, make_rec(base_ns, 3, 0));
  CHECK(lo.result(a) == 5);
  lo.retract(a, make_rec(base_ns, 5, 0));
  lo.retract(a, make_rec(base_ns, 8, 0));
  CHECK(a.counts.empty());
}

TEST_CASE("first and last under retractions: the latest equal (time, value) is the one removed") {
  check_retractions(laminar::first(&rec::value), [](const std::vector<rec>& rs) { return ref_first(rs, &rec::value); },
                    exact{}, 21);
  check_retractions(laminar::last(&rec::value), [](const std::vector<rec>& rs) { return ref_last(rs, &rec::value); },
                    exact{}, 22);
  // seq is unique per record: these see exactly which record is first / last.
  check_retractions(laminar::first(&rec::seq), [](const std::vector<rec>& rs) { return ref_first(rs, &rec::seq); },
                    exact{}, 23);
  check_retractions(laminar::last(&rec::seq), [](const std::vector<rec>& rs) { return ref_last(rs, &rec::seq); },
                    exact{}, 24);
  check_retractions(laminar::first(symbol_of{}), [](const std::vector<rec>& rs) { return ref_first(rs, symbol_of{}); },
                    exact{}, 25);
}

TEST_CASE("first and last under retractions, by hand") {
  const auto first = laminar::first(&rec::value).bind<rec, true>();
  const auto last = laminar::last(&rec::value).bind<rec, true>();
  auto f = first.init();
  auto l = last.init();
  const auto add = [&](std::int64_t t, std::int64_t v) {
    first.add(f, make_rec(base_ns + t, v, 0), laminar::timestamp::from_nanos(base_ns + t));
    last.add(l, make_rec(base_ns + t, v, 0), laminar::timestamp::from_nanos(base_ns + t));
  };
  const auto retract = [&](std::int64_t t, std::int64_t v) {
    first.retract(f, make_rec(base_ns + t, v, 0), laminar::timestamp::from_nanos(base_ns + t));
    last.retract(l, make_rec(base_ns + t, v, 0), laminar::timestamp::from_nanos(base_ns + t));
  };
  // At t = 1, in arrival order: 5, 7, 5. At t = 2: 9.
  add(1, 5);
  add(1, 7);
  add(2, 9);
  add(1, 5);
  CHECK(first.result(f) == 5);
  CHECK(last.result(l) == 9);
  retract(2, 9);  // the last goes: the latest at t = 1 is the second 5
  CHECK(last.result(l) == 5);
  retract(1, 5);  // removes the most recent 5: t = 1 holds 5, 7
  CHECK(first.result(f) == 5);
  CHECK(last.result(l) == 7);
  retract(1, 5);  // t = 1 holds 7
  CHECK(first.result(f) == 7);
  CHECK(last.result(l) == 7);
  retract(1, 7);
  CHECK(f.values.empty());
  CHECK(l.values.empty());
  CHECK(first.result(f) == 0);
}

TEST_CASE("ohlc (retractable form) under retractions") {
  check_retractions(laminar::ohlc(&rec::value), [](const std::vector<rec>& rs) { return ref_ohlc(rs, &rec::value); },
                    exact{}, 31);
  // amount, unlike price, is one-to-one with value for a given time, so the
  // record a retraction removes is the one the model removes.
  check_retractions(laminar::ohlc(&rec::amount), [](const std::vector<rec>& rs) { return ref_ohlc(rs, &rec::amount); },
                    exact{}, 32);
}

TEST_CASE("variance and standard deviation under retractions") {
  check_retractions(laminar::variance(&rec::amount),
                    [](const std::vector<rec>& rs) { return ref_variance(rs, &rec::amount, false, false); },
                    variance_close{}, 41);
  check_retractions(laminar::sample_variance(&rec::amount),
                    [](const std::vector<rec>& rs) { return ref_variance(rs, &rec::amount, true, false); },
                    variance_close{}, 42);
  check_retractions(laminar::stddev(&rec::value),
                    [](const std::vector<rec>& rs) { return ref_variance(rs, &rec::value, false, true); },
                    variance_close{true}, 43);
  check_retractions(laminar::sample_stddev(&rec::amount),
                    [](const std::vector<rec>& rs) { return ref_variance(rs, &rec::amount, true, true); },
                    variance_close{true}, 44);
}

TEST_CASE("count_distinct and vwap under retractions") {
  check_retractions(laminar::count_distinct(&rec::value),
                    [](const std::vector<rec>& rs) { return ref_count_distinct(rs, &rec::value); }, exact{}, 51);
  check_retractions(laminar::count_distinct(symbol_of{}),
                    [](const std::vector<rec>& rs) { return ref_count_distinct(rs, symbol_of{}); }, exact{}, 52);
  check_retractions(laminar::count_distinct(&rec::price),
                    [](const std::vector<rec>& rs) { return ref_count_distinct(rs, &rec::price); }, exact{}, 53);
  check_retractions(laminar::vwap(&rec::amount, &rec::qty), ref_vwap, within{1e-9}, 54);
}

TEST_CASE("percentile under retractions stays within the documented bound") {
  std::uint64_t seed = 60;
  for (const double alpha : {0.005, 0.02, 0.25}) {
    for (const double q : {0.0, 0.5, 0.9, 0.99, 1.0}) {
      CAPTURE(alpha);
      CAPTURE(q);
      check_retractions(laminar::percentile(&rec::price, q, alpha), records_of{}, percentile_bound{q, alpha}, ++seed, 12);
    }
  }
}

namespace {
struct bar {
  std::int64_t open;
  std::int64_t high;
  std::int64_t low;
  std::int64_t close;
  std::int64_t trades;
  friend bool operator==(const bar&, const bar&) = default;
};
}  // namespace

TEST_CASE("aggregates(...) and aggregates_into<Struct>(...) under retractions") {
  const auto all = laminar::aggregates(laminar::count(), laminar::sum(&rec::value), laminar::min(&rec::value),
                                       laminar::max(&rec::price), laminar::first(&rec::seq), laminar::last(&rec::seq),
                                       laminar::ohlc(&rec::value), laminar::count_distinct(&rec::value), abs_sum{},
                                       laminar::avg(&rec::amount), laminar::vwap(&rec::amount, &rec::qty),
                                       laminar::variance(&rec::amount));
  const auto reference = [](const std::vector<rec>& rs) {
    return std::tuple{ref_count(rs),
                      ref_sum_value(rs),
                      ref_min(rs, &rec::value),
                      ref_max(rs, &rec::price),
                      ref_first(rs, &rec::seq),
                      ref_last(rs, &rec::seq),
                      ref_ohlc(rs, &rec::value),
                      ref_count_distinct(rs, &rec::value),
                      ref_abs_sum(rs),
                      ref_avg_amount(rs),
                      ref_vwap(rs),
                      ref_variance(rs, &rec::amount, false, false)};
  };
  const auto same = [](const auto& got, const auto& want) {
    return std::get<0>(got) == std::get<0>(want) && std::get<1>(got) == std::get<1>(want) &&
           std::get<2>(got) == std::get<2>(want) && std::get<3>(got) == std::get<3>(want) &&
           std::get<4>(got) == std::get<4>(want) && std::get<5>(got) == std::get<5>(want) &&
           std::get<6>(got) == std::get<6>(want) && std::get<7>(got) == std::get<7>(want) &&
           std::get<8>(got) == std::get<8>(want) && within{1e-9}(std::get<9>(got), std::get<9>(want)) &&
           within{1e-9}(std::get<10>(got), std::get<10>(want)) && variance_close{}(std::get<11>(got), std::get<11>(want));
  };
  check_retractions(all, reference, same, 71, 30);
  check_chunked_retractions(all, reference, same, 72, 30);

  check_retractions(laminar::aggregates_into<bar>(laminar::first(&rec::value), laminar::max(&rec::value),
                                                  laminar::min(&rec::value), laminar::last(&rec::value), laminar::count()),
                    [](const std::vector<rec>& rs) {
                      return bar{ref_first(rs, &rec::value), ref_max(rs, &rec::value), ref_min(rs, &rec::value),
                                 ref_last(rs, &rec::value), ref_count(rs)};
                    },
                    exact{}, 73);
}

TEST_CASE("retractions inside event-time chunks, then merged, give one accumulator's result") {
  check_chunked_retractions(laminar::min(&rec::value), [](const std::vector<rec>& rs) { return ref_min(rs, &rec::value); },
                            exact{}, 81);
  check_chunked_retractions(laminar::max(&rec::price), [](const std::vector<rec>& rs) { return ref_max(rs, &rec::price); },
                            exact{}, 82);
  check_chunked_retractions(laminar::first(&rec::seq), [](const std::vector<rec>& rs) { return ref_first(rs, &rec::seq); },
                            exact{}, 83);
  check_chunked_retractions(laminar::last(&rec::value), [](const std::vector<rec>& rs) { return ref_last(rs, &rec::value); },
                            exact{}, 84);
  check_chunked_retractions(laminar::ohlc(&rec::value), [](const std::vector<rec>& rs) { return ref_ohlc(rs, &rec::value); },
                            exact{}, 85);
  check_chunked_retractions(laminar::count_distinct(&rec::value),
                            [](const std::vector<rec>& rs) { return ref_count_distinct(rs, &rec::value); }, exact{}, 86);
  check_chunked_retractions(laminar::variance(&rec::amount),
                            [](const std::vector<rec>& rs) { return ref_variance(rs, &rec::amount, false, false); },
                            variance_close{}, 87);
  check_chunked_retractions(laminar::percentile(&rec::price, 0.9, 0.01), records_of{}, percentile_bound{0.9, 0.01}, 88);
}

TEST_CASE("with adds only, the retractable forms agree with the insert-only forms") {
  const auto check = [](const auto& factory, std::uint64_t seed) {
    const auto insert_only = laminar::detail::bind_aggregate<rec, false>(factory);
    const auto retractable = laminar::detail::bind_aggregate<rec, true>(factory);
    for (std::size_t c = 0; c < 60; ++c) {
      op_generator gen(seed * 1000 + c, c);
      auto a = insert_only.init();
      auto b = retractable.init();
      for (std::size_t i = 0; i < 100; ++i) {
        const op o = gen.next(1.0);
        laminar::detail::agg_add(insert_only, a, o.r, time_of(o.r));
        laminar::detail::agg_add(retractable, b, o.r, time_of(o.r));
      }
      CAPTURE(c);
      CHECK(identical(insert_only.result(a), retractable.result(b)));
      // Merged from chunks in event-time order, cut anywhere (so a run of
      // equal timestamps may span chunks, the earlier records in `into`).
      std::vector<rec> sorted = gen.present();
      std::stable_sort(sorted.begin(), sorted.end(), [](const rec& x, const rec& y) { return x.ts < y.ts; });
      std::vector<std::size_t> cuts{0, sorted.size()};
      std::uniform_int_distribution<std::size_t> cut(0, sorted.size());
      for (int i = 0; i < 4; ++i) cuts.push_back(cut(gen.rng()));
      std::sort(cuts.begin(), cuts.end());
      auto ma = insert_only.init();
      auto mb = retractable.init();
      for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
        auto pa = insert_only.init();
        auto pb = retractable.init();
        for (std::size_t i = cuts[k]; i < cuts[k + 1]; ++i) {
          laminar::detail::agg_add(insert_only, pa, sorted[i], time_of(sorted[i]));
          laminar::detail::agg_add(retractable, pb, sorted[i], time_of(sorted[i]));
        }
        insert_only.merge(ma, pa);
        retractable.merge(mb, pb);
      }
      CHECK(identical(insert_only.result(ma), insert_only.result(a)));
      CHECK(identical(retractable.result(mb), retractable.result(b)));
    }
  };
  check(laminar::min(&rec::price), 91);
  check(laminar::max(&rec::value), 92);
  check(laminar::first(&rec::seq), 93);
  check(laminar::last(&rec::seq), 94);
  check(laminar::ohlc(&rec::price), 95);
  check(laminar::ohlc(symbol_of{}), 96);
}

namespace {

/// Runs `ops` through one accumulator, checkpoints it half way through
/// state_writer / state_reader into a fresh one, and runs the rest through
/// both: the restored one must give identical results at every step.
template <bool Retracting, class F>
void check_round_trip(const F& factory, std::uint64_t seed, bool same_bytes = true) {
  const auto agg = laminar::detail::bind_aggregate<rec, Retracting>(factory);
  for (std::size_t c = 0; c < 20; ++c) {
    CAPTURE(c);
    op_generator gen(seed * 1000 + c, c);
    std::vector<op> ops;
    for (std::size_t i = 0; i < 120; ++i) ops.push_back(gen.next(Retracting ? op_generator::add_probability(i) : 1.0));
    const std::size_t half = c % 3 == 0 ? 0 : ops.size() / 2;  // sometimes the empty accumulator
    auto acc = agg.init();
    for (std::size_t i = 0; i < half; ++i) apply<Retracting>(agg, acc, ops[i]);

    laminar::state_writer w;
    w(acc);
    laminar::state_reader r(w.bytes());
    auto restored = agg.init();
    r(restored);
    CHECK(r.exhausted());
    CHECK(identical(agg.result(restored), agg.result(acc)));
    if (same_bytes) {
      laminar::state_writer again;
      again(restored);
      CHECK(again.bytes() == w.bytes());
    }
    bool ok = true;
    for (std::size_t i = half; i < ops.size() && ok; ++i) {
      apply<Retracting>(agg, acc, ops[i]);
      apply<Retracting>(agg, restored, ops[i]);
      ok = identical(agg.result(restored), agg.result(acc));
    }
    CHECK_MESSAGE(ok, "the restored accumulator diverged");
    // And merging: a restored accumulator merges like the original.
    auto m1 = agg.init();
    auto m2 = agg.init();
    agg.merge(m1, acc);
    agg.merge(m2, restored);
    CHECK(identical(agg.result(m1), agg.result(m2)));
  }
}

}  // namespace

TEST_CASE("checkpoint round trip of every accumulator") {
  // Retractable forms (std::map / std::vector / std::unordered_map state).
  check_round_trip<true>(laminar::count(), 101);
  check_round_trip<true>(laminar::sum(&rec::value), 102);
  check_round_trip<true>(laminar::sum(&rec::amount), 103);
  check_round_trip<true>(laminar::avg(&rec::amount), 104);
  check_round_trip<true>(laminar::min(&rec::value), 105);
  check_round_trip<true>(laminar::max(&rec::price), 106);
  check_round_trip<true>(laminar::min(symbol_of{}), 107);
  check_round_trip<true>(laminar::first(&rec::seq), 108);
  check_round_trip<true>(laminar::last(symbol_of{}), 109);
  check_round_trip<true>(laminar::variance(&rec::amount), 110);
  check_round_trip<true>(laminar::sample_stddev(&rec::amount), 111);
  // An unordered_map need not write its entries in the same order twice.
  check_round_trip<true>(laminar::count_distinct(&rec::value), 112, false);
  check_round_trip<true>(laminar::count_distinct(symbol_of{}), 113, false);
  check_round_trip<true>(laminar::percentile(&rec::price, 0.5, 0.01), 114);
  check_round_trip<true>(laminar::percentile(&rec::price, 0.99, 0.05), 115);
  check_round_trip<true>(laminar::ohlc(&rec::value), 116);
  check_round_trip<true>(laminar::vwap(&rec::amount, &rec::qty), 117);
  check_round_trip<true>(abs_sum{}, 118);
  check_round_trip<true>(laminar::aggregates(laminar::count(), laminar::min(&rec::value), laminar::last(&rec::value),
                                             laminar::ohlc(&rec::price), laminar::percentile(&rec::price, 0.9), abs_sum{}),
                         119);
  // Insert-only forms (flat state).
  check_round_trip<false>(laminar::min(&rec::value), 121);
  check_round_trip<false>(laminar::max(symbol_of{}), 122);
  check_round_trip<false>(laminar::first(&rec::value), 123);
  check_round_trip<false>(laminar::last(&rec::seq), 124);
  check_round_trip<false>(laminar::ohlc(&rec::price), 125);
  check_round_trip<false>(laminar::aggregates(laminar::first(&rec::seq), laminar::max(&rec::amount), laminar::ohlc(&rec::value),
                                              laminar::variance(&rec::amount)),
                          126);
}

namespace {
struct fix_rec {
  double price;
  double qty;
  bool flag;
};
}  // namespace

TEST_CASE("aggregate fixes: composite retractability, vwap emptied by retraction, extreme percentiles, bool sums") {
  using laminar::timestamp;
  // A composite is retractable exactly when every part is.
  using insert_only = decltype(laminar::aggregates(laminar::min(&fix_rec::price)).bind<fix_rec, false>());
  using retracting = decltype(laminar::aggregates(laminar::min(&fix_rec::price)).bind<fix_rec, true>());
  static_assert(!laminar::retractable_aggregate<insert_only, fix_rec>);
  static_assert(laminar::retractable_aggregate<retracting, fix_rec>);

  // vwap of a group emptied by retractions is NaN, whatever rounding left behind.
  auto v = laminar::vwap(&fix_rec::price, &fix_rec::qty).bind<fix_rec, true>();
  auto acc = v.init();
  const fix_rec a{10.0, 0.1, false}, b{11.0, 0.2, false};
  v.add(acc, a);
  v.add(acc, b);
  v.retract(acc, a);
  v.retract(acc, b);
  CHECK(std::isnan(v.result(acc)));

  // Percentiles of values at the top of the double range stay finite and within the bound.
  auto p = laminar::percentile(&fix_rec::price, 1.0).bind<fix_rec, false>();
  auto pacc = p.init();
  p.add(pacc, fix_rec{std::numeric_limits<double>::max(), 0, false});
  p.add(pacc, fix_rec{std::numeric_limits<double>::infinity(), 0, false});
  const double top = p.result(pacc);
  CHECK(std::isfinite(top));
  CHECK(top >= std::numeric_limits<double>::max() * 0.98);
  CHECK_THROWS_AS(laminar::percentile(&fix_rec::price, 0.5, 1e-9), laminar::usage_error);

  // A sum of bools counts the trues, and retracts.
  auto s = laminar::sum(&fix_rec::flag).bind<fix_rec, true>();
  auto sacc = s.init();
  for (int i = 0; i < 3; ++i) s.add(sacc, fix_rec{0, 0, true});
  s.retract(sacc, fix_rec{0, 0, true});
  CHECK(s.result(sacc) == 2);
}
