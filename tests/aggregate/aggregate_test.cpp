// Property tests of the aggregate library on insert-only input: every
// built-in aggregate (and a user-defined one) is bound with bind<T, false>,
// fed seeded random records, and compared with a plain computation on a
// std::vector of the same records. Each is also accumulated in event-time
// ordered chunks and merged left to right, which must give the result of one
// accumulator over all of the records.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <laminar/aggregate/aggregates.hpp>
#include <laminar/core/error.hpp>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "support/event_stream.hpp"

namespace {

constexpr std::int64_t base_ns = 1'700'000'000'000'000'000;
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

struct rec {
  std::int64_t ts = 0;     // event time, ns
  std::int64_t value = 0;  // integer payload (small ranges, so many ties)
  double price = 0;        // floating payload
  std::int64_t qty = 0;    // 1..100
  std::uint64_t seq = 0;   // arrival order
};

laminar::timestamp time_of(const rec& r) { return laminar::timestamp::from_nanos(r.ts); }
laminar::timestamp time_of(const laminar::test::event& e) { return laminar::timestamp::from_nanos(e.ts); }

// A projection that is a callable rather than a member pointer, with a
// non-arithmetic result.
struct symbol_of {
  std::string operator()(const rec& r) const {
    std::string s(1, 's');  // appended, not "s" + ...: g++ 12 -O3 gives a false -Wrestrict on that
    s += std::to_string(r.value);
    return s;
  }
};

// How the records of one case look.
struct shape {
  std::size_t max_n;
  std::int64_t ts_span;     // timestamps in [base, base + ts_span]
  std::int64_t value_span;  // values in [-value_span, value_span]
};
constexpr shape shapes[] = {
    {200, 10, 5},                  // many equal timestamps and values
    {200, 1'000'000'000, 1000},    // few ties
    {60, 0, 3},                    // one timestamp for every record
    {300, 1000, 1'000'000},        // wide values
    {6, 2, 1},                     // tiny groups
};

std::vector<rec> random_records(std::mt19937_64& rng, std::size_t case_index) {
  const shape& s = shapes[case_index % std::size(shapes)];
  // The first cases are the edge sizes: empty, one record, two records.
  const std::size_t n = case_index < 3 ? case_index : std::uniform_int_distribution<std::size_t>(0, s.max_n)(rng);
  std::uniform_int_distribution<std::int64_t> ts(0, s.ts_span);
  std::uniform_int_distribution<std::int64_t> value(-s.value_span, s.value_span);
  std::uniform_int_distribution<std::int64_t> qty(1, 100);
  std::uniform_real_distribution<double> price(-1000.0, 1000.0);
  std::bernoulli_distribution coin(0.5);
  std::vector<rec> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    rec r;
    r.ts = base_ns + ts(rng);
    r.value = value(rng);
    r.price = coin(rng) ? price(rng) : static_cast<double>(r.value) * 0.5;  // some ties in price too
    r.qty = qty(rng);
    r.seq = i;
    out.push_back(r);
  }
  return out;
}

/// The records sorted by event time, equal timestamps keeping arrival order.
template <class R>
std::vector<R> event_time_order(std::vector<R> rs) {
  std::stable_sort(rs.begin(), rs.end(), [](const R& a, const R& b) { return a.ts < b.ts; });
  return rs;
}

/// One accumulator over rs[from, to), in order.
template <class A, class R>
typename A::accumulator fold(const A& agg, const std::vector<R>& rs, std::size_t from, std::size_t to) {
  typename A::accumulator acc = agg.init();
  for (std::size_t i = from; i < to; ++i) laminar::detail::agg_add(agg, acc, rs[i], time_of(rs[i]));
  return acc;
}

/// rs (in event-time order) cut into 1 to 6 contiguous chunks (some possibly
/// empty), one accumulator per chunk, merged left to right into the first.
template <class A, class R>
typename A::accumulator fold_in_chunks(const A& agg, const std::vector<R>& rs, std::mt19937_64& rng) {
  const std::size_t chunks = std::uniform_int_distribution<std::size_t>(1, 6)(rng);
  std::uniform_int_distribution<std::size_t> cut(0, rs.size());
  std::vector<std::size_t> cuts{0, rs.size()};
  for (std::size_t i = 1; i < chunks; ++i) cuts.push_back(cut(rng));
  std::sort(cuts.begin(), cuts.end());
  typename A::accumulator acc = fold(agg, rs, cuts[0], cuts[1]);
  for (std::size_t i = 1; i + 1 < cuts.size(); ++i) {
    const typename A::accumulator part = fold(agg, rs, cuts[i], cuts[i + 1]);
    agg.merge(acc, part);
  }
  return acc;
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
  bool operator()(double got, double want) const {
    return near(got, want, relative * (1.0 + std::fabs(want)));
  }
};

// ---- the driver ----

/// Binds `factory` insert-only to rec and checks, on `cases` random groups,
/// that one accumulator gives reference(records), and that chunks in
/// event-time order merged left to right give the same.
template <class F, class Ref, class Same>
void check_against_reference(const F& factory, Ref reference, Same same, std::uint64_t seed, std::size_t cases = 300) {
  const auto agg = laminar::detail::bind_aggregate<rec, false>(factory);
  using A = std::remove_cvref_t<decltype(agg)>;
  static_assert(laminar::aggregate<A, rec>);
  std::mt19937_64 rng(seed);
  for (std::size_t c = 0; c < cases; ++c) {
    const std::vector<rec> records = random_records(rng, c);
    CAPTURE(c);
    CAPTURE(records.size());
    const auto expected = reference(records);

    const auto single = fold(agg, records, 0, records.size());
    const bool single_ok = same(agg.result(single), expected);
    CHECK_MESSAGE(single_ok, "one accumulator in arrival order differs from the reference");

    const std::vector<rec> sorted = event_time_order(records);
    const auto sorted_single = fold(agg, sorted, 0, sorted.size());
    const auto merged = fold_in_chunks(agg, sorted, rng);
    const bool merged_ok = same(agg.result(merged), expected) && same(agg.result(merged), agg.result(sorted_single));
    CHECK_MESSAGE(merged_ok, "chunks merged in event-time order differ from one accumulator");
    if (!single_ok || !merged_ok) break;  // one report per aggregate is enough
  }
}

// ---- references ----

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

/// The value of the earliest record by time; on equal times the first to arrive.
template <class R, class P>
auto ref_first(const std::vector<R>& rs, P proj) {
  using V = laminar::detail::projected_t<P, R>;
  if (rs.empty()) return V{};
  std::size_t best = 0;
  for (std::size_t i = 1; i < rs.size(); ++i) {
    if (rs[i].ts < rs[best].ts) best = i;
  }
  return V(std::invoke(proj, rs[best]));
}

/// The value of the latest record by time; on equal times the last to arrive.
template <class R, class P>
auto ref_last(const std::vector<R>& rs, P proj) {
  using V = laminar::detail::projected_t<P, R>;
  if (rs.empty()) return V{};
  std::size_t best = 0;
  for (std::size_t i = 1; i < rs.size(); ++i) {
    if (rs[i].ts >= rs[best].ts) best = i;
  }
  return V(std::invoke(proj, rs[best]));
}

std::int64_t ref_sum_value(const std::vector<rec>& rs) {
  std::int64_t s = 0;
  for (const rec& r : rs) s += r.value;
  return s;
}

double ref_sum_price(const std::vector<rec>& rs) {
  long double s = 0;
  for (const rec& r : rs) s += r.price;
  return static_cast<double>(s);
}

double ref_avg_price(const std::vector<rec>& rs) {
  return rs.empty() ? not_a_number : ref_sum_price(rs) / static_cast<double>(rs.size());
}

double ref_avg_value(const std::vector<rec>& rs) {
  return rs.empty() ? not_a_number : static_cast<double>(ref_sum_value(rs)) / static_cast<double>(rs.size());
}

/// Two-pass variance in long double; sample = divide by n - 1.
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

double ref_vwap(const std::vector<rec>& rs) {
  long double notional = 0;
  long double quantity = 0;
  for (const rec& r : rs) {
    notional += static_cast<long double>(r.price) * static_cast<long double>(r.qty);
    quantity += static_cast<long double>(r.qty);
  }
  return quantity == 0 ? not_a_number : static_cast<double>(notional / quantity);
}

laminar::ohlc_bar<std::int64_t> ref_ohlc_value(const std::vector<rec>& rs) {
  return {ref_first(rs, &rec::value), ref_max(rs, &rec::value), ref_min(rs, &rec::value), ref_last(rs, &rec::value)};
}

/// The exact lower quantile: the value of rank floor(q * (n - 1)).
double exact_lower_quantile(std::vector<double> xs, double q) {
  std::sort(xs.begin(), xs.end());
  const auto rank = static_cast<std::size_t>(std::floor(q * static_cast<double>(xs.size() - 1)));
  return xs[rank];
}

// ---- a user-defined aggregate: the sum of |value|, with no timestamp in add ----

struct abs_sum {
  using accumulator = std::int64_t;
  accumulator init() const { return 0; }
  void add(accumulator& a, const rec& r) const { a += r.value < 0 ? -r.value : r.value; }
  void merge(accumulator& a, const accumulator& b) const { a += b; }
  std::int64_t result(const accumulator& a) const { return a; }
};

std::int64_t ref_abs_sum(const std::vector<rec>& rs) {
  std::int64_t s = 0;
  for (const rec& r : rs) s += r.value < 0 ? -r.value : r.value;
  return s;
}

// ---- concepts ----

template <class F, bool Retracting>
using bound_t = laminar::detail::bound_aggregate_t<rec, Retracting, F>;

using min_factory = decltype(laminar::min(&rec::value));
using first_factory = decltype(laminar::first(&rec::price));
using ohlc_factory = decltype(laminar::ohlc(&rec::price));
using sum_factory = decltype(laminar::sum(&rec::value));

static_assert(laminar::aggregate<bound_t<min_factory, false>, rec>);
static_assert(!laminar::retractable_aggregate<bound_t<min_factory, false>, rec>,
              "insert-only min keeps one value and cannot retract");
static_assert(laminar::retractable_aggregate<bound_t<min_factory, true>, rec>);
static_assert(!laminar::retractable_aggregate<bound_t<decltype(laminar::max(&rec::price)), false>, rec>);
static_assert(laminar::retractable_aggregate<bound_t<decltype(laminar::max(&rec::price)), true>, rec>);
static_assert(!laminar::retractable_aggregate<bound_t<first_factory, false>, rec>);
static_assert(laminar::retractable_aggregate<bound_t<first_factory, true>, rec>);
static_assert(!laminar::retractable_aggregate<bound_t<ohlc_factory, false>, rec>);
static_assert(laminar::retractable_aggregate<bound_t<ohlc_factory, true>, rec>);
static_assert(laminar::retractable_aggregate<bound_t<sum_factory, false>, rec>);
static_assert(laminar::retractable_aggregate<laminar::count_aggregate, rec>);
static_assert(laminar::retractable_aggregate<bound_t<decltype(laminar::variance(&rec::price)), true>, rec>);
static_assert(laminar::aggregate<abs_sum, rec>);
static_assert(!laminar::retractable_aggregate<abs_sum, rec>);
static_assert(!laminar::aggregate<abs_sum, laminar::test::event>, "abs_sum adds only recs");
static_assert(std::is_same_v<bound_t<abs_sum, false>, abs_sum>, "a bound aggregate binds to itself");
static_assert(std::is_same_v<laminar::aggregate_result_t<bound_t<sum_factory, false>>, std::int64_t>);
static_assert(std::is_same_v<laminar::aggregate_result_t<bound_t<decltype(laminar::sum(&rec::price)), false>>, double>);
static_assert(std::is_same_v<laminar::aggregate_result_t<bound_t<min_factory, false>>, std::int64_t>);
static_assert(std::is_same_v<laminar::aggregate_result_t<bound_t<ohlc_factory, false>>, laminar::ohlc_bar<double>>);
static_assert(std::is_same_v<laminar::aggregate_result_t<bound_t<ohlc_factory, true>>, laminar::ohlc_bar<double>>);

}  // namespace

TEST_CASE("count, sum and avg agree with plain loops") {
  check_against_reference(laminar::count(), [](const std::vector<rec>& rs) { return static_cast<std::int64_t>(rs.size()); },
                          exact{}, 11);
  check_against_reference(laminar::sum(&rec::value), ref_sum_value, exact{}, 12);
  // An int projection sums in 64 bits.
  check_against_reference(laminar::sum([](const rec& r) { return static_cast<std::int32_t>(r.value) * 1000; }),
                          [](const std::vector<rec>& rs) { return ref_sum_value(rs) * 1000; }, exact{}, 13);
  check_against_reference(laminar::sum(&rec::price), ref_sum_price, within{1e-9}, 14);
  check_against_reference(laminar::avg(&rec::value), ref_avg_value, within{1e-12}, 15);
  check_against_reference(laminar::avg(&rec::price), ref_avg_price, within{1e-9}, 16);
}

TEST_CASE("min and max agree with plain loops") {
  check_against_reference(laminar::min(&rec::value), [](const std::vector<rec>& rs) { return ref_min(rs, &rec::value); },
                          exact{}, 21);
  check_against_reference(laminar::max(&rec::value), [](const std::vector<rec>& rs) { return ref_max(rs, &rec::value); },
                          exact{}, 22);
  check_against_reference(laminar::min(&rec::price), [](const std::vector<rec>& rs) { return ref_min(rs, &rec::price); },
                          exact{}, 23);
  check_against_reference(laminar::max(&rec::price), [](const std::vector<rec>& rs) { return ref_max(rs, &rec::price); },
                          exact{}, 24);
  check_against_reference(laminar::min(symbol_of{}), [](const std::vector<rec>& rs) { return ref_min(rs, symbol_of{}); },
                          exact{}, 25);
  check_against_reference(laminar::max(symbol_of{}), [](const std::vector<rec>& rs) { return ref_max(rs, symbol_of{}); },
                          exact{}, 26);
}

TEST_CASE("first and last follow event time, then arrival order on equal timestamps") {
  check_against_reference(laminar::first(&rec::value),
                          [](const std::vector<rec>& rs) { return ref_first(rs, &rec::value); }, exact{}, 31);
  check_against_reference(laminar::last(&rec::value),
                          [](const std::vector<rec>& rs) { return ref_last(rs, &rec::value); }, exact{}, 32);
  // seq identifies the record, so these see exactly which one was chosen.
  check_against_reference(laminar::first(&rec::seq), [](const std::vector<rec>& rs) { return ref_first(rs, &rec::seq); },
                          exact{}, 33);
  check_against_reference(laminar::last(&rec::seq), [](const std::vector<rec>& rs) { return ref_last(rs, &rec::seq); },
                          exact{}, 34);
  check_against_reference(laminar::first(symbol_of{}),
                          [](const std::vector<rec>& rs) { return ref_first(rs, symbol_of{}); }, exact{}, 35);
}

TEST_CASE("first and last on hand-written ties, merged in both directions") {
  const auto first = laminar::first(&rec::seq).bind<rec, false>();
  const auto last = laminar::last(&rec::seq).bind<rec, false>();
  // Arrival order: seq 0..5; timestamps 5, 3, 3, 9, 9, 3.
  const std::vector<rec> rs{{5, 0, 0, 1, 0}, {3, 0, 0, 1, 1}, {3, 0, 0, 1, 2},
                            {9, 0, 0, 1, 3}, {9, 0, 0, 1, 4}, {3, 0, 0, 1, 5}};
  auto f = first.init();
  auto l = last.init();
  for (const rec& r : rs) {
    first.add(f, r, time_of(r));
    last.add(l, r, time_of(r));
  }
  CHECK(first.result(f) == 1u);
  CHECK(last.result(l) == 4u);
  // Merging: `into` holds the earlier records, so on equal times it wins for
  // first and loses for last.
  auto f1 = first.init();
  auto f2 = first.init();
  first.add(f1, rs[1], time_of(rs[1]));  // ts 3, seq 1
  first.add(f2, rs[2], time_of(rs[2]));  // ts 3, seq 2
  first.merge(f1, f2);
  CHECK(first.result(f1) == 1u);
  auto l1 = last.init();
  auto l2 = last.init();
  last.add(l1, rs[3], time_of(rs[3]));  // ts 9, seq 3
  last.add(l2, rs[4], time_of(rs[4]));  // ts 9, seq 4
  last.merge(l1, l2);
  CHECK(last.result(l1) == 4u);
  // Merging an empty accumulator either way changes nothing.
  auto empty = last.init();
  last.merge(l1, empty);
  CHECK(last.result(l1) == 4u);
  last.merge(empty, l1);
  CHECK(last.result(empty) == 4u);
}

TEST_CASE("variance and standard deviation agree with a two-pass computation") {
  const within tol{1e-9};
  check_against_reference(laminar::variance(&rec::price),
                          [](const std::vector<rec>& rs) { return ref_variance(rs, &rec::price, false, false); }, tol, 41);
  check_against_reference(laminar::sample_variance(&rec::price),
                          [](const std::vector<rec>& rs) { return ref_variance(rs, &rec::price, true, false); }, tol, 42);
  check_against_reference(laminar::stddev(&rec::price),
                          [](const std::vector<rec>& rs) { return ref_variance(rs, &rec::price, false, true); }, tol, 43);
  check_against_reference(laminar::sample_stddev(&rec::price),
                          [](const std::vector<rec>& rs) { return ref_variance(rs, &rec::price, true, true); }, tol, 44);
  check_against_reference(laminar::variance(&rec::value),
                          [](const std::vector<rec>& rs) { return ref_variance(rs, &rec::value, false, false); }, tol, 45);
  check_against_reference(laminar::sample_stddev(&rec::value),
                          [](const std::vector<rec>& rs) { return ref_variance(rs, &rec::value, true, true); }, tol, 46);
}

TEST_CASE("variance of one record: population variance 0, sample variance undefined") {
  const auto pop = laminar::variance(&rec::price).bind<rec, false>();
  const auto smp = laminar::sample_variance(&rec::price).bind<rec, false>();
  auto a = pop.init();
  CHECK(std::isnan(pop.result(a)));
  CHECK(std::isnan(smp.result(a)));
  pop.add(a, rec{0, 0, 42.5, 1, 0});
  CHECK(pop.result(a) == 0.0);
  CHECK(std::isnan(smp.result(a)));
}

TEST_CASE("variance: a large common offset does not swamp a small spread") {
  // The naive sum-of-squares formula loses every digit here; Welford and
  // Chan keep the relative error near n * eps * |mean| / stddev.
  std::mt19937_64 rng(47);
  std::uniform_real_distribution<double> noise(0.0, 1.0);
  const auto var = laminar::variance(&rec::price).bind<rec, false>();
  for (int c = 0; c < 50; ++c) {
    std::vector<rec> rs(200);
    for (std::size_t i = 0; i < rs.size(); ++i) {
      rs[i] = rec{base_ns + static_cast<std::int64_t>(i), 0, 1e6 + noise(rng), 1, i};
    }
    const double want = ref_variance(rs, &rec::price, false, false);
    CHECK(near(var.result(fold(var, rs, 0, rs.size())), want, 1e-6 * want));
    CHECK(near(var.result(fold_in_chunks(var, rs, rng)), want, 1e-6 * want));
  }
}

TEST_CASE("count_distinct agrees with a set") {
  check_against_reference(laminar::count_distinct(&rec::value),
                          [](const std::vector<rec>& rs) {
                            std::set<std::int64_t> s;
                            for (const rec& r : rs) s.insert(r.value);
                            return static_cast<std::int64_t>(s.size());
                          },
                          exact{}, 51);
  check_against_reference(laminar::count_distinct(&rec::price),
                          [](const std::vector<rec>& rs) {
                            std::set<double> s;
                            for (const rec& r : rs) s.insert(r.price);
                            return static_cast<std::int64_t>(s.size());
                          },
                          exact{}, 52);
  check_against_reference(laminar::count_distinct(symbol_of{}),
                          [](const std::vector<rec>& rs) {
                            std::unordered_set<std::string> s;
                            for (const rec& r : rs) s.insert(symbol_of{}(r));
                            return static_cast<std::int64_t>(s.size());
                          },
                          exact{}, 53);
}

TEST_CASE("percentile is within the relative accuracy of the exact lower quantile") {
  const double qs[] = {0.0, 0.5, 0.9, 0.99, 1.0};
  const double alphas[] = {0.001, 0.01, 0.05, 0.3};
  std::mt19937_64 rng(61);
  std::uniform_int_distribution<int> kind(0, 5);
  std::uniform_real_distribution<double> exponent(-6.0, 9.0);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::uniform_int_distribution<std::int64_t> small_int(-5, 5);
  // Values with both signs, zeros, wide magnitudes and many exact repeats.
  const auto draw = [&]() -> double {
    switch (kind(rng)) {
      case 0: return 0.0;
      case 1: return -0.0;
      case 2: return static_cast<double>(small_int(rng));
      case 3: return std::pow(10.0, exponent(rng));
      case 4: return -std::pow(10.0, exponent(rng));
      default: return 1000.0 * unit(rng);
    }
  };
  std::size_t checked = 0;
  for (const double alpha : alphas) {
    for (const double q : qs) {
      const auto pct = laminar::percentile(&rec::price, q, alpha).bind<rec, false>();
      static_assert(laminar::aggregate<std::remove_cvref_t<decltype(pct)>, rec>);
      for (std::size_t c = 0; c < 40; ++c) {
        CAPTURE(alpha);
        CAPTURE(q);
        CAPTURE(c);
        std::vector<rec> rs = random_records(rng, c);
        if (c % 4 == 0) {  // only positives, only negatives, or a mix
          for (rec& r : rs) r.price = std::fabs(draw());
        } else if (c % 4 == 1) {
          for (rec& r : rs) r.price = -std::fabs(draw());
        } else if (c % 4 == 2) {
          for (rec& r : rs) r.price = draw();
        }
        const auto single = fold(pct, rs, 0, rs.size());
        const double got = pct.result(single);
        if (rs.empty()) {
          CHECK(std::isnan(got));
          continue;
        }
        std::vector<double> xs;
        for (const rec& r : rs) xs.push_back(r.price);
        const double x = exact_lower_quantile(xs, q);
        CAPTURE(x);
        CAPTURE(got);
        // alpha * |x|, with room for the rounding of log and pow at a bucket edge.
        CHECK(std::fabs(got - x) <= alpha * std::fabs(x) * (1 + 1e-9));
        if (x == 0.0) CHECK(got == 0.0);
        // Buckets are counts: the merged sketch is the sketch of the union.
        const std::vector<rec> sorted = event_time_order(rs);
        const auto merged = fold_in_chunks(pct, sorted, rng);
        CHECK(merged.positive == single.positive);
        CHECK(merged.negative == single.negative);
        CHECK(merged.zeros == single.zeros);
        CHECK(merged.n == single.n);
        CHECK(pct.result(merged) == got);
        ++checked;
      }
    }
  }
  CHECK(checked > 700);
}

TEST_CASE("percentile: NaN has no rank, integer projections") {
  {
    const auto p50 = laminar::percentile(&rec::price, 0.5).bind<rec, false>();
    auto a = p50.init();
    p50.add(a, rec{0, 0, not_a_number, 1, 0});
    CHECK(std::isnan(p50.result(a)));
    p50.add(a, rec{0, 0, 7.0, 1, 1});
    p50.add(a, rec{0, 0, not_a_number, 1, 2});
    CHECK(std::fabs(p50.result(a) - 7.0) <= 0.01 * 7.0);
  }

  {
    const auto p90 = laminar::percentile(&rec::value, 0.9, 0.02).bind<rec, false>();
    auto a = p90.init();
    for (std::int64_t v = 1; v <= 1000; ++v) p90.add(a, rec{0, v, 0, 1, 0});
    // rank floor(0.9 * 999) = 899: the value 900.
    CHECK(std::fabs(p90.result(a) - 900.0) <= 0.02 * 900.0);
  }
}

TEST_CASE("percentile rejects q outside [0, 1] and a relative accuracy outside (0, 1)") {
  CHECK_THROWS_AS(laminar::percentile(&rec::price, -0.01), laminar::usage_error);
  CHECK_THROWS_AS(laminar::percentile(&rec::price, 1.01), laminar::usage_error);
  CHECK_THROWS_AS(laminar::percentile(&rec::price, not_a_number), laminar::usage_error);
  CHECK_THROWS_AS(laminar::percentile(&rec::price, std::numeric_limits<double>::infinity()), laminar::usage_error);
  CHECK_THROWS_AS(laminar::percentile(&rec::price, 0.5, 0.0), laminar::usage_error);
  CHECK_THROWS_AS(laminar::percentile(&rec::price, 0.5, 1.0), laminar::usage_error);
  CHECK_THROWS_AS(laminar::percentile(&rec::price, 0.5, -0.01), laminar::usage_error);
  CHECK_THROWS_AS(laminar::percentile(&rec::price, 0.5, 1.5), laminar::usage_error);
  CHECK_THROWS_AS(laminar::percentile(&rec::price, 0.5, not_a_number), laminar::usage_error);
  // usage_error is a laminar::error, and the message names the piece.
  try {
    (void)laminar::percentile(&rec::price, 2.0);
    FAIL("no exception");
  } catch (const laminar::error& e) {
    CHECK(std::string(e.what()).find("laminar::percentile") != std::string::npos);
  }
  CHECK_NOTHROW((void)laminar::percentile(&rec::price, 0.0));
  CHECK_NOTHROW((void)laminar::percentile(&rec::price, 1.0));
  CHECK_NOTHROW((void)laminar::percentile(&rec::price, 0.5, 1e-6));
  CHECK_NOTHROW((void)laminar::percentile(&rec::price, 0.5, 0.999));
}

TEST_CASE("ohlc is first, max, min and last of the price") {
  check_against_reference(laminar::ohlc(&rec::value), ref_ohlc_value, exact{}, 71);
  check_against_reference(
      laminar::ohlc(&rec::price),
      [](const std::vector<rec>& rs) {
        return laminar::ohlc_bar<double>{ref_first(rs, &rec::price), ref_max(rs, &rec::price),
                                         ref_min(rs, &rec::price), ref_last(rs, &rec::price)};
      },
      exact{}, 72);
}

TEST_CASE("ohlc on a hand-written bar") {
  const auto bar = laminar::ohlc(&rec::value).bind<rec, false>();
  auto a = bar.init();
  CHECK(bar.result(a) == laminar::ohlc_bar<std::int64_t>{});
  // ts:    20  10  30  10  30  25
  // value:  5   7   1   9   4  12
  const std::vector<rec> rs{{20, 5, 0, 1, 0}, {10, 7, 0, 1, 1}, {30, 1, 0, 1, 2},
                            {10, 9, 0, 1, 3}, {30, 4, 0, 1, 4}, {25, 12, 0, 1, 5}};
  for (const rec& r : rs) bar.add(a, r, time_of(r));
  CHECK(bar.result(a) == laminar::ohlc_bar<std::int64_t>{7, 12, 1, 4});

  // Merging with an empty bar, either way, keeps the other.
  auto into_empty = bar.init();
  bar.merge(into_empty, a);
  CHECK(bar.result(into_empty) == laminar::ohlc_bar<std::int64_t>{7, 12, 1, 4});
  bar.merge(a, bar.init());
  CHECK(bar.result(a) == laminar::ohlc_bar<std::int64_t>{7, 12, 1, 4});
}

TEST_CASE("ohlc keeps no empty flag: a bar of records at the ends of time is not empty") {
  // No flag: with a 64-bit price, the bar and a sum fill one cache line.
  static_assert(sizeof(laminar::ohlc_accumulator<std::int64_t>) == 48);
  const auto bar = laminar::ohlc(&rec::value).bind<rec, false>();
  struct at {
    laminar::timestamp t;
    std::int64_t v;
  };
  for (const auto& [first, second] : {std::pair{at{laminar::timestamp::min(), 3}, at{laminar::timestamp::max(), 8}},
                                      std::pair{at{laminar::timestamp::max(), 3}, at{laminar::timestamp::min(), 8}},
                                      std::pair{at{laminar::timestamp::min(), 3}, at{laminar::timestamp::min(), 8}}}) {
    auto a = bar.init();
    bar.add(a, rec{0, first.v, 0, 1, 0}, first.t);
    CHECK(bar.result(a) == laminar::ohlc_bar<std::int64_t>{first.v, first.v, first.v, first.v});
    bar.add(a, rec{0, second.v, 0, 1, 0}, second.t);
    const bool second_later = first.t <= second.t;  // ties: the later record closes
    const bool second_earlier = second.t < first.t;
    CHECK(bar.result(a) == laminar::ohlc_bar<std::int64_t>{second_earlier ? second.v : first.v, 8, 3,
                                                            second_later ? second.v : first.v});
  }
}

TEST_CASE("vwap is sum(price * qty) / sum(qty)") {
  check_against_reference(laminar::vwap(&rec::price, &rec::qty), ref_vwap, within{1e-9}, 81);
  // With integer prices every partial sum is exact.
  check_against_reference(
      laminar::vwap(&rec::value, &rec::qty),
      [](const std::vector<rec>& rs) {
        std::int64_t notional = 0;
        std::int64_t quantity = 0;
        for (const rec& r : rs) {
          notional += r.value * r.qty;
          quantity += r.qty;
        }
        return quantity == 0 ? not_a_number : static_cast<double>(notional) / static_cast<double>(quantity);
      },
      exact{}, 82);
}

TEST_CASE("aggregates(...) computes every part in one pass, a user-defined aggregate included") {
  const auto all = laminar::aggregates(laminar::count(), laminar::sum(&rec::value), laminar::min(&rec::price),
                                       laminar::max(&rec::value), laminar::first(&rec::seq), laminar::last(&rec::seq),
                                       abs_sum{}, laminar::avg(&rec::price), laminar::count_distinct(&rec::value),
                                       laminar::ohlc(&rec::value), laminar::vwap(&rec::price, &rec::qty),
                                       laminar::sample_variance(&rec::value));
  using bound = laminar::detail::bound_aggregate_t<rec, false, decltype(all)>;
  static_assert(laminar::aggregate<bound, rec>);
  static_assert(std::is_same_v<laminar::aggregate_result_t<bound>,
                               std::tuple<std::int64_t, std::int64_t, double, std::int64_t, std::uint64_t, std::uint64_t,
                                          std::int64_t, double, std::int64_t, laminar::ohlc_bar<std::int64_t>, double,
                                          double>>);
  const auto reference = [](const std::vector<rec>& rs) {
    std::set<std::int64_t> distinct;
    for (const rec& r : rs) distinct.insert(r.value);
    return std::tuple{static_cast<std::int64_t>(rs.size()),
                      ref_sum_value(rs),
                      ref_min(rs, &rec::price),
                      ref_max(rs, &rec::value),
                      ref_first(rs, &rec::seq),
                      ref_last(rs, &rec::seq),
                      ref_abs_sum(rs),
                      ref_avg_price(rs),
                      static_cast<std::int64_t>(distinct.size()),
                      ref_ohlc_value(rs),
                      ref_vwap(rs),
                      ref_variance(rs, &rec::value, true, false)};
  };
  const auto same = [](const auto& got, const auto& want) {
    const within tol{1e-9};
    return std::get<0>(got) == std::get<0>(want) && std::get<1>(got) == std::get<1>(want) &&
           std::get<2>(got) == std::get<2>(want) && std::get<3>(got) == std::get<3>(want) &&
           std::get<4>(got) == std::get<4>(want) && std::get<5>(got) == std::get<5>(want) &&
           std::get<6>(got) == std::get<6>(want) && tol(std::get<7>(got), std::get<7>(want)) &&
           std::get<8>(got) == std::get<8>(want) && std::get<9>(got) == std::get<9>(want) &&
           tol(std::get<10>(got), std::get<10>(want)) && tol(std::get<11>(got), std::get<11>(want));
  };
  check_against_reference(all, reference, same, 91);
  // One part.
  check_against_reference(laminar::aggregates(abs_sum{}),
                          [](const std::vector<rec>& rs) { return std::tuple{ref_abs_sum(rs)}; }, exact{}, 92);
}

namespace {
struct bar_summary {
  std::int64_t trades;
  std::int64_t open;
  std::int64_t high;
  std::int64_t low;
  std::int64_t close;
  double mean_price;
  std::int64_t abs_total;
  friend bool operator==(const bar_summary&, const bar_summary&) = default;
};
}  // namespace

TEST_CASE("aggregates_into<Struct>(...) builds the struct from the parts' results") {
  const auto into = laminar::aggregates_into<bar_summary>(laminar::count(), laminar::first(&rec::value),
                                                          laminar::max(&rec::value), laminar::min(&rec::value),
                                                          laminar::last(&rec::value), laminar::avg(&rec::price), abs_sum{});
  static_assert(std::is_same_v<laminar::aggregate_result_t<laminar::detail::bound_aggregate_t<rec, false, decltype(into)>>,
                               bar_summary>);
  check_against_reference(
      into,
      [](const std::vector<rec>& rs) {
        return bar_summary{static_cast<std::int64_t>(rs.size()), ref_first(rs, &rec::value), ref_max(rs, &rec::value),
                           ref_min(rs, &rec::value),             ref_last(rs, &rec::value),  ref_avg_price(rs),
                           ref_abs_sum(rs)};
      },
      [](const bar_summary& got, const bar_summary& want) {
        const bool mean_ok = within{1e-9}(got.mean_price, want.mean_price);
        bar_summary g = got;
        bar_summary w = want;
        g.mean_price = w.mean_price = 0;  // compared above, NaN included
        return mean_ok && g == w;
      },
      101);
}

TEST_CASE("aggregates over the generated out-of-order event streams") {
  using laminar::test::event;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    laminar::test::stream_options o;
    o.seed = seed;
    o.records = 500;
    o.keys = 1;
    o.duplicate_fraction = 0.2;
    const std::vector<event> events = laminar::test::make_stream(o);
    const auto agg = laminar::aggregates(laminar::count(), laminar::sum(&event::value), laminar::first(&event::seq),
                                         laminar::last(&event::seq), laminar::ohlc(&event::value))
                         .bind<event, false>();
    std::int64_t total = 0;
    std::int64_t hi = std::numeric_limits<std::int64_t>::min();
    std::int64_t lo = std::numeric_limits<std::int64_t>::max();
    for (const event& e : events) {
      total += e.value;
      hi = std::max(hi, e.value);
      lo = std::min(lo, e.value);
    }
    const auto want = std::tuple{
        static_cast<std::int64_t>(events.size()), total, ref_first(events, &event::seq), ref_last(events, &event::seq),
        laminar::ohlc_bar<std::int64_t>{ref_first(events, &event::value), hi, lo, ref_last(events, &event::value)}};
    CAPTURE(seed);
    CHECK(agg.result(fold(agg, events, 0, events.size())) == want);
    std::mt19937_64 rng(seed);
    CHECK(agg.result(fold_in_chunks(agg, event_time_order(events), rng)) == want);
  }
}

TEST_CASE("empty groups") {
  CHECK(laminar::count().result(laminar::count().init()) == 0);
  const auto s = laminar::sum(&rec::value).bind<rec, false>();
  CHECK(s.result(s.init()) == 0);
  const auto a = laminar::avg(&rec::price).bind<rec, false>();
  CHECK(std::isnan(a.result(a.init())));
  const auto v = laminar::vwap(&rec::price, &rec::qty).bind<rec, false>();
  CHECK(std::isnan(v.result(v.init())));
  const auto p = laminar::percentile(&rec::price, 0.5).bind<rec, false>();
  CHECK(std::isnan(p.result(p.init())));
  const auto d = laminar::count_distinct(&rec::value).bind<rec, false>();
  CHECK(d.result(d.init()) == 0);
  // Merging two empty accumulators stays empty.
  auto e1 = a.init();
  a.merge(e1, a.init());
  CHECK(std::isnan(a.result(e1)));
}
