// Lookup join. The loader form against a plain model (a std::map store that
// changes during the stream behind a std::list LRU cache with the same TTL
// and refresh rules) for every option; the table form against a std::map
// table for plain, +I/-U/+U/-D and weighted right records; checkpoints at
// random points; loaders that throw; bounded state over millions of keys;
// no allocation per record on hits.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <laminar/join/lookup.hpp>
#include <laminar/laminar.hpp>

#include "support/counting_allocator.hpp"
#include "support/differential.hpp"

using namespace laminar;

namespace {

struct order {
  std::int64_t ts = 0;
  std::uint32_t sym = 0;
  std::int64_t qty = 0;
  friend bool operator==(const order&, const order&) = default;
  friend std::ostream& operator<<(std::ostream& os, const order& o) {
    return os << "order{" << o.ts << ", " << o.sym << ", " << o.qty << "}";
  }
  template <class A>
  void serialize(A& ar) {
    ar(ts, sym, qty);
  }
};

struct instrument {
  std::uint32_t sym = 0;
  std::int64_t tick = 0;
  friend bool operator==(const instrument&, const instrument&) = default;
  friend std::ostream& operator<<(std::ostream& os, const instrument& i) {
    return os << "instrument{" << i.sym << ", " << i.tick << "}";
  }
  template <class A>
  void serialize(A& ar) {
    ar(sym, tick);
  }
};

using row = lookup_row<order, instrument>;
using opt = std::optional<instrument>;
const std::int64_t min_ns = std::numeric_limits<std::int64_t>::min();

timestamp at(std::int64_t ns) { return timestamp::from_nanos(ns); }
duration ns(std::int64_t n) { return duration::from_nanos(n); }

// ---- the loader form ----

// The store behind the loader: the test changes it during the stream.
struct store {
  std::map<std::uint32_t, instrument> rows;
  std::uint64_t calls = 0;
  opt get(std::uint32_t k) {
    ++calls;
    const auto it = rows.find(k);
    return it == rows.end() ? opt{} : opt{it->second};
  }
};

struct store_loader {
  store* s;
  opt operator()(const std::uint32_t& k) const { return s->get(k); }
};

struct options {
  std::size_t cache_size = 0;
  std::optional<std::int64_t> ttl;
  std::optional<std::int64_t> refresh;
  bool cache_missing = true;
  lookup_missing missing = lookup_missing::emit_empty;
  bool event_time = false;
};

std::string describe(const options& o) {
  std::ostringstream os;
  os << "cache " << o.cache_size << " ttl " << (o.ttl ? std::to_string(*o.ttl) : "none") << " refresh "
     << (o.refresh ? std::to_string(*o.refresh) : "none") << (o.cache_missing ? " cache-missing " : " no-cache-missing ")
     << to_string(o.missing) << (o.event_time ? " event-time" : " processing-time");
  return os.str();
}

// Calls f with the join the options describe (missing_to changes its type).
template <class F>
void with_join(const options& o, store& s, side_records<order>& side, F&& f) {
  auto j = lookup_join(store_loader{&s}).cache_size(o.cache_size).cache_missing(o.cache_missing);
  if (o.ttl) j = j.ttl(ns(*o.ttl));
  if (o.refresh) j = j.refresh_after(ns(*o.refresh));
  if (o.event_time) j = j.ttl_by_event_time();
  if (o.missing == lookup_missing::side_output) {
    f(j.missing_to(side));
  } else {
    f(j.on_missing(o.missing));
  }
}

template <class Join>
auto loader_pipeline(Join j, std::vector<row>& rows) {
  return push<order>() | event_time(&order::ts) | key_by(&order::sym) | std::move(j) | collect(rows);
}

// One step of a loader test: a record, a change to the store, a tick or a watermark.
struct step {
  enum kind_t : std::uint8_t { record, set, erase, tick, watermark } kind;
  order o{};
  instrument v{};
  std::int64_t t = 0;
};

std::vector<step> make_steps(std::uint64_t seed, std::uint32_t keys, std::size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<step> steps;
  for (std::uint32_t k = 0; k < keys; k += 2) steps.push_back({step::set, {}, {k, 1000 + k}, 0});
  std::int64_t clock = 0, front = 100, wm = min_ns;
  // Most records go to a few hot keys, so that caches hit.
  const std::uint32_t hot = std::min<std::uint32_t>(keys, 6);
  for (std::size_t i = 0; i < n; ++i) {
    const auto pick = static_cast<std::uint32_t>(rng() % 10 < 6 ? rng() % hot : rng() % keys);
    const auto r = rng() % 100;
    if (r < 60) {
      front += static_cast<std::int64_t>(rng() % 4);
      const std::int64_t t = front - static_cast<std::int64_t>(rng() % 6);  // a little out of order
      steps.push_back({step::record, {t, pick, static_cast<std::int64_t>(i)}, {}, 0});
    } else if (r < 72) {
      steps.push_back({step::set, {}, {pick, static_cast<std::int64_t>(rng() % 100'000)}, 0});
    } else if (r < 78) {
      steps.push_back({step::erase, {}, {pick, 0}, 0});
    } else if (r < 92) {
      clock += static_cast<std::int64_t>(rng() % 15);
      // A tick behind the last one (a wall clock stepped back) does not move the cache's time back.
      steps.push_back({step::tick, {}, {}, rng() % 10 == 0 ? clock - 7 : clock});
    } else if (front - 10 > wm) {
      steps.push_back({step::watermark, {}, {}, wm = front - 10});
    }
  }
  return steps;
}

template <class P>
void feed(P& p, store& s, const step& st) {
  switch (st.kind) {
    case step::record: p.push(st.o); break;
    case step::set: s.rows[st.v.sym] = st.v; break;
    case step::erase: s.rows.erase(st.v.sym); break;
    case step::tick: p.tick(at(st.t)); break;
    case step::watermark: p.push_watermark(at(st.t)); break;
  }
}

// The rules, written plainly: a std::map store, a std::list LRU (front: most
// recent) and a std::deque refresh queue.
struct loader_model {
  struct entry {
    opt v;
    std::int64_t loaded = 0;
    bool queued = false;
  };
  options o;
  std::map<std::uint32_t, instrument> db;
  std::map<std::uint32_t, entry> cache;
  std::list<std::uint32_t> lru;
  std::deque<std::uint32_t> queue;
  std::int64_t now = min_ns;  // loaded + a duration never overflows here: times are small or min
  std::uint64_t hits = 0, misses = 0, expired = 0, loads = 0, refreshes = 0, evictions = 0, missing = 0;
  std::vector<row> rows;
  std::vector<order> side;

  opt load(std::uint32_t k) {
    ++loads;
    const auto it = db.find(k);
    return it == db.end() ? opt{} : opt{it->second};
  }
  void forget(std::uint32_t k) {
    cache.erase(k);
    lru.remove(k);
    queue.erase(std::remove(queue.begin(), queue.end(), k), queue.end());
  }
  void use(std::uint32_t k) {
    lru.remove(k);
    lru.push_front(k);
  }
  void deliver(const order& l, const opt& v) {
    if (v) {
      rows.push_back({l, v});
      return;
    }
    ++missing;
    if (o.missing == lookup_missing::emit_empty) rows.push_back({l, std::nullopt});
    if (o.missing == lookup_missing::side_output) side.push_back(l);
  }
  void on_record(const order& l) {
    if (o.event_time) now = std::max<std::int64_t>(now, l.ts);
    const std::uint32_t k = l.sym;
    if (o.cache_size == 0) {
      ++misses;
      return deliver(l, load(k));
    }
    const auto it = cache.find(k);
    if (it != cache.end()) {
      entry& e = it->second;
      if (o.ttl && now >= e.loaded + *o.ttl) {
        ++misses;
        ++expired;
        const opt v = load(k);
        if (!v && !o.cache_missing) {
          forget(k);
        } else {
          e.v = v;
          e.loaded = now;
          e.queued = false;
          queue.erase(std::remove(queue.begin(), queue.end(), k), queue.end());
          use(k);
        }
        return deliver(l, v);
      }
      ++hits;
      if (o.refresh && !e.queued && now >= e.loaded + *o.refresh) {
        e.queued = true;
        queue.push_back(k);
      }
      use(k);
      return deliver(l, e.v);
    }
    ++misses;
    const opt v = load(k);
    if (v || o.cache_missing) {
      if (cache.size() >= o.cache_size) {
        forget(lru.back());
        ++evictions;
      }
      cache[k] = entry{v, now, false};
      lru.push_front(k);
    }
    deliver(l, v);
  }
  void drain() {
    while (!queue.empty()) {
      const std::uint32_t k = queue.front();
      queue.pop_front();
      ++refreshes;
      entry& e = cache.at(k);
      e.queued = false;
      const opt v = load(k);
      if (!v && !o.cache_missing) {
        forget(k);
      } else {
        e.v = v;
        e.loaded = now;
      }
    }
  }
  void on(const step& st) {
    switch (st.kind) {
      case step::record: on_record(st.o); break;
      case step::set: db[st.v.sym] = st.v; break;
      case step::erase: db.erase(st.v.sym); break;
      case step::tick:
        if (!o.event_time) now = std::max<std::int64_t>(now, st.t);
        drain();
        break;
      case step::watermark: drain(); break;
    }
  }
};

template <class F>
void for_each_option(F&& f) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4}, std::size_t{32}, std::size_t{1'000'000}}) {
    for (std::optional<std::int64_t> ttl : {std::optional<std::int64_t>{}, std::optional<std::int64_t>{20},
                                            std::optional<std::int64_t>{100}}) {
      for (std::optional<std::int64_t> refresh : {std::optional<std::int64_t>{}, std::optional<std::int64_t>{8}}) {
        if (size == 0 && (ttl || refresh)) continue;
        for (bool cache_missing : {true, false}) {
          for (lookup_missing m : {lookup_missing::drop, lookup_missing::emit_empty, lookup_missing::side_output}) {
            for (bool event : {false, true}) f(options{size, ttl, refresh, cache_missing, m, event});
          }
        }
      }
    }
  }
}

template <class Stage>
void check_counters(const Stage& j, const loader_model& m, const std::string& what) {
  CAPTURE(what);
  CHECK(j.hits() == m.hits);
  CHECK(j.misses() == m.misses);
  CHECK(j.expired() == m.expired);
  CHECK(j.loads() == m.loads);
  CHECK(j.refreshes() == m.refreshes);
  CHECK(j.evictions() == m.evictions);
  CHECK(j.missing() == m.missing);
  CHECK(j.cached() == m.cache.size());
}

}  // namespace

TEST_CASE("lookup join (loader): every option equals the LRU cache model on randomized streams") {
  int cases = 0;
  for_each_option([&](const options& o) {
    for (std::uint32_t keys : {3u, 40u, 400u}) {
      for (std::uint64_t seed = 1; seed <= 2; ++seed) {
        const auto steps = make_steps(seed * 7919 + keys, keys, 700);
        loader_model m;
        m.o = o;
        for (const step& st : steps) m.on(st);
        store s;
        std::vector<row> rows;
        side_records<order> side;
        const std::string what = describe(o) + " keys " + std::to_string(keys) + " seed " + std::to_string(seed);
        with_join(o, s, side, [&](auto j) {
          auto p = loader_pipeline(std::move(j), rows);
          for (const step& st : steps) feed(p, s, st);
          p.finish();
          check_counters(p.chain(), m, what);
        });
        test::same_outputs(rows, m.rows, what + " rows");
        test::same_outputs(side.records(), m.side, what + " missing side output");
        CHECK(s.calls == m.loads);
        ++cases;
      }
    }
  });
  CHECK(cases == (2 * 3 * 2 + 4 * 3 * 2 * 2 * 3 * 2) * 3 * 2);
}

TEST_CASE("lookup join (loader): a checkpoint at a random point restores into a fresh pipeline that continues exactly") {
  int cases = 0;
  for_each_option([&](const options& o) {
    const auto steps = make_steps(31, 25, 900);
    store whole_store;
    std::vector<row> whole;
    side_records<order> whole_side;
    std::uint64_t hits = 0, loads = 0, evictions = 0, refreshes = 0;
    with_join(o, whole_store, whole_side, [&](auto j) {
      auto p = loader_pipeline(std::move(j), whole);
      for (const step& st : steps) feed(p, whole_store, st);
      p.finish();
      hits = p.chain().hits();
      loads = p.chain().loads();
      evictions = p.chain().evictions();
      refreshes = p.chain().refreshes();
    });
    std::mt19937_64 rng(static_cast<std::uint64_t>(cases) + 3);
    for (int trial = 0; trial < 2; ++trial) {
      const std::size_t cut = rng() % steps.size();
      const std::string what = describe(o) + " cut " + std::to_string(cut);
      std::string bytes;
      store first_store;
      std::vector<row> first;
      {
        side_records<order> first_side;
        with_join(o, first_store, first_side, [&](auto j) {
          auto p = loader_pipeline(std::move(j), first);
          for (std::size_t i = 0; i < cut; ++i) feed(p, first_store, steps[i]);
          bytes = p.checkpoint(7).to_bytes();
        });
      }
      // The store is the world's, not the join's: it is as it was at the cut.
      store rest_store;
      rest_store.rows = first_store.rows;
      std::vector<row> rest = first;  // collect's checkpoint holds only its length
      side_records<order> rest_side;
      with_join(o, rest_store, rest_side, [&](auto j) {
        auto q = loader_pipeline(std::move(j), rest);
        q.restore(snapshot::from_bytes(bytes));  // the side output comes back with what came before
        for (std::size_t i = cut; i < steps.size(); ++i) feed(q, rest_store, steps[i]);
        q.finish();
        CHECK_MESSAGE(q.chain().hits() == hits, what);
        CHECK_MESSAGE(q.chain().loads() == loads, what);
        CHECK_MESSAGE(q.chain().evictions() == evictions, what);
        CHECK_MESSAGE(q.chain().refreshes() == refreshes, what);
      });
      test::same_outputs(rest, whole, what + " rows after restore");
      test::same_outputs(rest_side.records(), whole_side.records(), what + " side output after restore");
      CHECK_MESSAGE(first_store.calls + rest_store.calls == whole_store.calls, what);
    }
    ++cases;
  });
  CHECK(cases == 2 * 3 * 2 + 4 * 3 * 2 * 2 * 3 * 2);
}

TEST_CASE("lookup join (loader): an unbounded cache without TTL calls the loader once per key") {
  std::map<std::uint32_t, std::int64_t> first_seen;
  store s;
  for (std::uint32_t k = 0; k < 300; k += 3) s.rows[k] = {k, k * 10};
  std::vector<row> rows;
  auto p = loader_pipeline(lookup_join(store_loader{&s}).cache_size(std::numeric_limits<std::size_t>::max()), rows);
  std::mt19937_64 rng(4);
  std::set<std::uint32_t> distinct;
  for (int i = 0; i < 20'000; ++i) {
    const auto k = static_cast<std::uint32_t>(rng() % 300);
    distinct.insert(k);
    if (i == 10'000) s.rows[0] = {0, -1};  // a change the cache does not see
    p.push(order{i, k, i});
  }
  CHECK(s.calls == distinct.size());
  CHECK(p.chain().loads() == distinct.size());
  CHECK(p.chain().evictions() == 0);
  for (const row& r : rows) {
    CHECK(r.right.has_value() == (r.left.sym % 3 == 0));
    if (r.right) CHECK(r.right->tick == r.left.sym * 10);
  }
}

TEST_CASE("lookup join (loader): TTL and refresh-ahead by processing time, step by step") {
  store s;
  s.rows[1] = {1, 10};
  std::vector<row> rows;
  auto p = loader_pipeline(lookup_join(store_loader{&s}).cache_size(8).ttl(ns(100)).refresh_after(ns(40)), rows);
  auto& j = p.chain();
  p.tick(at(1000));
  p.push({1, 1, 0});  // loaded at 1000
  s.rows[1] = {1, 11};
  p.tick(at(1039));
  p.push({2, 1, 0});  // 39 old: fresh
  CHECK(rows.back().right->tick == 10);
  p.tick(at(1040));
  p.push({3, 1, 0});  // 40 old: served, and queued for refresh
  CHECK(rows.back().right->tick == 10);
  CHECK(j.loads() == 1);
  p.tick(at(1041));  // the refresh loads 11, at 1041
  CHECK(j.refreshes() == 1);
  CHECK(j.loads() == 2);
  p.push({4, 1, 0});
  CHECK(rows.back().right->tick == 11);
  s.rows[1] = {1, 12};
  p.tick(at(1140));
  p.push({5, 1, 0});  // 99 old, past refresh_after: served, queued; not expired
  CHECK(rows.back().right->tick == 11);
  p.tick(at(1141));  // exactly 100 old at this tick: the refresh loads before any record sees it expired
  CHECK(j.refreshes() == 2);
  p.push({6, 1, 0});
  CHECK(rows.back().right->tick == 12);
  s.rows[1] = {1, 13};
  p.tick(at(1241));  // 100 old: expired; a lookup loads synchronously
  p.push({7, 1, 0});
  CHECK(rows.back().right->tick == 13);
  CHECK(j.expired() == 1);
  CHECK(j.hits() == 5);
  CHECK(j.misses() == 2);
}

TEST_CASE("lookup join (loader): TTL by event time is the highest event time seen") {
  store s;
  s.rows[1] = {1, 10};
  std::vector<row> rows;
  auto p = loader_pipeline(lookup_join(store_loader{&s}).cache_size(8).ttl(ns(50)).ttl_by_event_time(), rows);
  p.push({100, 1, 0});  // loaded at 100
  s.rows[1] = {1, 11};
  p.push({149, 1, 0});
  p.push({20, 1, 0});  // out of order: time stays 149
  p.tick(at(1'000'000));  // processing time does not move it
  CHECK(p.chain().loads() == 1);
  CHECK(p.chain().now() == at(149));
  p.push({150, 1, 0});  // 50 after the load: expired
  CHECK(p.chain().loads() == 2);
  CHECK(rows.back().right->tick == 11);
}

TEST_CASE("lookup join (loader): missing keys are dropped, emitted empty or routed, and counted") {
  store s;
  s.rows[1] = {1, 10};
  const std::vector<order> in{{1, 1, 0}, {2, 2, 0}, {3, 1, 0}, {4, 3, 0}};
  {
    std::vector<row> rows;
    auto p = loader_pipeline(lookup_join(store_loader{&s}).on_missing(lookup_missing::drop), rows);
    for (const order& o : in) p.push(o);
    CHECK(rows.size() == 2);
    CHECK(p.chain().missing() == 2);
  }
  {
    std::vector<row> rows;
    auto p = loader_pipeline(lookup_join(store_loader{&s}), rows);  // emit_empty by default
    for (const order& o : in) p.push(o);
    CHECK(rows == std::vector<row>{{in[0], instrument{1, 10}}, {in[1], std::nullopt}, {in[2], instrument{1, 10}},
                                   {in[3], std::nullopt}});
  }
  {
    std::vector<row> rows;
    std::vector<order> missing;
    auto p = loader_pipeline(lookup_join(store_loader{&s}).missing_to([&](const order& o) { missing.push_back(o); }),
                             rows);
    for (const order& o : in) p.push(o);
    CHECK(rows.size() == 2);
    CHECK(missing == std::vector<order>{in[1], in[3]});
    CHECK(p.chain().missing() == 2);
  }
}

TEST_CASE("lookup join (loader): an explicit key, and rows keep the left record's key and event time") {
  store s;
  s.rows[5] = {5, 50};
  std::vector<row> rows;
  auto j = lookup_join([](const order& o) { return o.sym + 1; }, store_loader{&s});
  auto p = push<order>() | event_time(&order::ts) | std::move(j) | collect(rows);
  p.push({1, 4, 0});
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].right->tick == 50);

  const auto ctx = stream_context<order>{}.with_key(&order::sym).with_time(&order::ts);
  const auto out = lookup_join(store_loader{&s}).output_context(ctx);
  using out_ctx = std::remove_cvref_t<decltype(out)>;
  static_assert(out_ctx::keyed());
  static_assert(out_ctx::timed());
  const row r{{77, 9, 0}, std::nullopt};
  CHECK(key_of(out, r) == 9u);
  CHECK(time_of(out, r) == at(77));
}

TEST_CASE("lookup join (loader): a loader that throws fails with the key and leaves the cache as it was") {
  store s;
  s.rows[1] = {1, 10};
  s.rows[7] = {7, 70};
  bool down = false;
  std::vector<row> rows;
  auto loader = [&](const std::uint32_t& k) -> opt {
    if (down) throw std::runtime_error("reference data service unavailable");
    return s.get(k);
  };
  auto p = loader_pipeline(lookup_join(loader).cache_size(4).ttl(ns(10)).refresh_after(ns(5)), rows);
  p.tick(at(0));
  p.push({1, 1, 0});
  down = true;
  try {
    p.push({2, 7, 0});
    FAIL("the loader's exception did not come through");
  } catch (const lookup_error& e) {
    const std::string what = e.what();
    CHECK(what.find("key 7") != std::string::npos);
    CHECK(what.find("reference data service unavailable") != std::string::npos);
    CHECK_THROWS_AS(std::rethrow_if_nested(e), std::runtime_error);
  }
  CHECK(p.chain().cached() == 1);
  CHECK(rows.size() == 1);
  p.push({3, 1, 0});  // a hit does not call the loader
  CHECK(rows.size() == 2);

  p.tick(at(6));
  p.push({4, 1, 0});  // queued for refresh
  CHECK_THROWS_AS(p.tick(at(7)), lookup_error);  // the refresh fails: the entry stays
  p.push({5, 1, 0});
  CHECK(rows.back().right->tick == 10);
  CHECK_THROWS_AS(p.tick(at(10)), lookup_error);  // queued again, and the refresh fails again
  CHECK_THROWS_AS(p.push({6, 1, 0}), lookup_error);  // expired, and the reload fails
  CHECK(p.chain().cached() == 1);
  down = false;
  s.rows[1] = {1, 11};
  p.push({7, 1, 0});
  CHECK(rows.back().right->tick == 11);
  p.push({8, 7, 0});
  CHECK(rows.back().right->tick == 70);
  CHECK(rows.size() == 6);
}

TEST_CASE("lookup join (loader): bad settings are usage errors") {
  store s;
  std::vector<row> rows;
  const auto j = lookup_join(store_loader{&s});
  CHECK_THROWS_AS((void)j.ttl(ns(0)), usage_error);
  CHECK_THROWS_AS((void)j.refresh_after(ns(-1)), usage_error);
  CHECK_THROWS_WITH_AS((void)loader_pipeline(j.ttl(ns(10)), rows), doctest::Contains("need a cache"), usage_error);
  CHECK_THROWS_WITH_AS((void)loader_pipeline(j.cache_size(4).ttl(ns(10)).refresh_after(ns(10)), rows),
                       doctest::Contains("shorter than ttl"), usage_error);
  CHECK_THROWS_WITH_AS((void)loader_pipeline(j.on_missing(lookup_missing::side_output), rows),
                       doctest::Contains("missing_to"), usage_error);
  CHECK_THROWS_WITH_AS(
      (void)(push<order>() | key_by(&order::sym) | j.cache_size(4).ttl(ns(5)).ttl_by_event_time() | collect(rows)),
      doctest::Contains("needs event time"), usage_error);
}

TEST_CASE("lookup join (loader): the cache stays within its size over millions of keys, allocating nothing") {
  std::uint64_t calls = 0;
  auto loader = [&](const std::uint32_t& k) -> opt {
    ++calls;
    if (k % 5 == 0) return std::nullopt;
    return instrument{k, k * 2};
  };
  std::uint64_t out = 0;
  auto p = push<order>() | event_time(&order::ts) | key_by(&order::sym) | lookup_join(loader).cache_size(1024) |
           count_events(out);
  std::size_t peak = 0;
  std::uint64_t allocations = 0;
  constexpr std::uint32_t n = 2'000'000;
  for (std::uint32_t i = 0; i < n; ++i) {
    const test::allocation_counter counter;
    p.push(order{i, i, 1});  // every key new: a miss and, once full, an eviction
    if (i >= 10'000) allocations += counter.count();
    peak = std::max(peak, p.chain().cached());
  }
  CHECK(peak == 1024);
  CHECK(p.chain().evictions() == n - 1024);
  CHECK(calls == n);
  CHECK(out == n);
  CHECK(allocations == 0);
}

TEST_CASE("lookup join (loader): cache hits allocate nothing and call nothing, refreshes included") {
  std::uint64_t calls = 0;
  auto loader = [&](const std::uint32_t& k) -> opt {
    ++calls;
    return instrument{k, static_cast<std::int64_t>(calls)};
  };
  std::uint64_t out = 0;
  auto p = push<order>() | event_time(&order::ts) | key_by(&order::sym) |
           lookup_join(loader).cache_size(1000).ttl(ns(1'000'000)).refresh_after(ns(100'000)) | count_events(out);
  p.tick(at(0));
  for (std::uint32_t k = 0; k < 1000; ++k) p.push(order{k, k, 1});
  std::uint64_t allocations = 0;
  {
    const test::allocation_counter counter;
    for (std::int64_t i = 0; i < 2'000'000; ++i) {
      p.push(order{i, static_cast<std::uint32_t>(i % 1000), 1});
      if (i % 1000 == 999) p.tick(at(i));  // every entry is refreshed every 100 ticks or so
    }
    allocations = counter.count();
  }
  CHECK(allocations == 0);
  CHECK(p.chain().misses() == 1000);
  CHECK(p.chain().expired() == 0);
  CHECK(p.chain().refreshes() > 10'000);
  CHECK(calls == 1000 + p.chain().refreshes());
  CHECK(out == 2'001'000);
}

// ---- the table form ----

namespace {

// Right records of four shapes: a plain upsert stream, changelogs with
// +I/-U/+U/-D (a record type that opts in by changelog_traits, and
// change<listing>), and weighted rows (opted in by their weight).
struct listing {
  std::uint32_t sym = 0;
  std::int64_t tick = 0;
  friend bool operator==(const listing&, const listing&) = default;
  friend std::ostream& operator<<(std::ostream& os, const listing& x) { return os << "listing{" << x.sym << ", " << x.tick << "}"; }
  template <class A>
  void serialize(A& ar) {
    ar(sym, tick);
  }
};
struct listing_change {
  std::uint32_t sym = 0;
  std::int64_t tick = 0;
  change_kind kind = change_kind::insert;
  friend bool operator==(const listing_change&, const listing_change&) = default;
  friend std::ostream& operator<<(std::ostream& os, const listing_change& x) {
    return os << x.kind << "{" << x.sym << ", " << x.tick << "}";
  }
  template <class A>
  void serialize(A& ar) {
    ar(sym, tick, kind);
  }
};
struct weighted_listing {
  std::uint32_t sym = 0;
  std::int64_t tick = 0;
  std::int64_t weight = 1;
  friend bool operator==(const weighted_listing&, const weighted_listing&) = default;
  friend std::ostream& operator<<(std::ostream& os, const weighted_listing& x) {
    return os << "{" << x.sym << ", " << x.tick << "} x " << x.weight;
  }
  template <class A>
  void serialize(A& ar) {
    ar(sym, tick, weight);
  }
};

}  // namespace

template <>
struct laminar::changelog_traits<listing_change> {
  static constexpr auto kind = &listing_change::kind;
};
template <>
struct laminar::changelog_traits<weighted_listing> {
  static constexpr auto weight = &weighted_listing::weight;
};

namespace {

// What the model reads a right record as: +1 set, -1 remove, 0 nothing.
int effect(const listing&) { return 1; }
int effect(const listing_change& x) {
  return x.kind == change_kind::insert || x.kind == change_kind::update_after ? 1 : -1;
}
int effect(const change<listing>& x) {
  return x.kind == change_kind::insert || x.kind == change_kind::update_after ? 1 : -1;
}
int effect(const weighted_listing& x) { return x.weight > 0 ? 1 : x.weight < 0 ? -1 : 0; }

template <class R>
R make_right(std::mt19937_64& rng, std::uint32_t sym, std::int64_t tick) {
  if constexpr (std::is_same_v<R, listing>) {
    return {sym, tick};
  } else if constexpr (std::is_same_v<R, listing_change>) {
    const change_kind kinds[] = {change_kind::insert, change_kind::update_after, change_kind::update_before,
                                 change_kind::remove, change_kind::insert};
    return {sym, tick, kinds[rng() % 5]};
  } else if constexpr (std::is_same_v<R, change<listing>>) {
    const change_kind kinds[] = {change_kind::insert, change_kind::update_after, change_kind::update_before,
                                 change_kind::remove, change_kind::insert};
    return {{sym, tick}, kinds[rng() % 5]};
  } else {
    const std::int64_t weights[] = {1, 2, -1, -3, 0, 1};
    return {sym, tick, weights[rng() % 6]};
  }
}

template <class R>
struct table_step {
  enum kind_t : std::uint8_t { left, right, left_wm, right_wm } kind;
  order l{};
  R r{};
  std::int64_t w = 0;
};

template <class R>
std::vector<table_step<R>> make_table_steps(std::uint64_t seed, std::uint32_t keys, std::size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<table_step<R>> steps;
  std::int64_t front = 100, lwm = min_ns, rwm = min_ns;
  for (std::size_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::uint32_t>(rng() % keys);
    front += static_cast<std::int64_t>(rng() % 3);
    const auto r = rng() % 100;
    if (r < 50) {
      steps.push_back({table_step<R>::left, {front - static_cast<std::int64_t>(rng() % 5), k, static_cast<std::int64_t>(i)}, {}, 0});
    } else if (r < 90) {
      steps.push_back({table_step<R>::right, {}, make_right<R>(rng, k, static_cast<std::int64_t>(i)), 0});
    } else if (r < 95) {
      if (front - 5 > lwm) steps.push_back({table_step<R>::left_wm, {}, {}, lwm = front - 5});
    } else if (front - 3 > rwm) {
      steps.push_back({table_step<R>::right_wm, {}, {}, rwm = front - 3});
    }
  }
  return steps;
}

template <class R>
struct table_model {
  std::size_t max_held = 0;
  lookup_missing policy = lookup_missing::emit_empty;
  std::map<std::uint32_t, R> table;
  std::vector<lookup_row<order, R>> rows;
  std::vector<order> missing;
  std::vector<R> overflowed;
  std::vector<std::int64_t> watermarks;
  std::uint64_t hits = 0, upserts = 0, removals = 0, absent = 0;

  void on(const table_step<R>& st) {
    switch (st.kind) {
      case table_step<R>::left: {
        const auto it = table.find(st.l.sym);
        if (it != table.end()) {
          ++hits;
          rows.push_back({st.l, it->second});
        } else if (policy == lookup_missing::emit_empty) {
          rows.push_back({st.l, std::nullopt});
          missing.push_back(st.l);  // counted: compared by size
        } else {
          missing.push_back(st.l);
        }
        break;
      }
      case table_step<R>::right: {
        const int e = effect(st.r);
        if (e > 0) {
          if (!table.contains(st.r.sym) && table.size() >= max_held) {
            overflowed.push_back(st.r);
          } else {
            table[st.r.sym] = st.r;
            ++upserts;
          }
        } else if (e < 0) {
          if (table.erase(st.r.sym) == 1) {
            ++removals;
          } else {
            ++absent;
          }
        }
        break;
      }
      case table_step<R>::left_wm: watermarks.push_back(st.w); break;
      case table_step<R>::right_wm: break;
    }
  }
};

template <class P, class R>
void feed_table(P& p, const table_step<R>& st) {
  switch (st.kind) {
    case table_step<R>::left: p.push_left(st.l); break;
    case table_step<R>::right: p.push_right(st.r); break;
    case table_step<R>::left_wm: p.push_left_watermark(at(st.w)); break;
    case table_step<R>::right_wm: p.push_right_watermark(at(st.w)); break;
  }
}

template <class R, class F>
void with_table_join(std::size_t max_held, lookup_missing m, side_records<order>& side, side_records<R>& overflowed,
                     F&& f) {
  auto j = max_held == 0 ? lookup_join().overflow_to(overflowed) : lookup_join().max_held(max_held).overflow_to(overflowed);
  if (m == lookup_missing::side_output) {
    f(j.missing_to(side));
  } else {
    f(j.on_missing(m));
  }
}

template <class R, class Join, class Sink>
auto table_pipeline(Join j, Sink s) {
  return connect(push<order>() | event_time(&order::ts) | key_by(&order::sym), push<R>() | key_by(&R::sym)) |
         std::move(j) | std::move(s);
}

template <class R>
void table_differential(int& cases) {
  for (lookup_missing m : {lookup_missing::drop, lookup_missing::emit_empty, lookup_missing::side_output}) {
    for (std::size_t max_held : {std::size_t{0}, std::size_t{1}, std::size_t{5}, std::size_t{30}}) {
      for (std::uint32_t keys : {3u, 40u, 400u}) {
        for (std::uint64_t seed = 1; seed <= 10; ++seed) {
          const auto steps = make_table_steps<R>(seed * 104729 + keys, keys, 400);
          table_model<R> model;
          model.max_held = max_held == 0 ? std::numeric_limits<std::size_t>::max() : max_held;
          model.policy = m;
          for (const auto& st : steps) model.on(st);
          std::ostringstream os;
          os << to_string(m) << " max_held " << max_held << " keys " << keys << " seed " << seed;
          const std::string what = os.str();
          std::vector<lookup_row<order, R>> rows;
          std::vector<std::int64_t> watermarks;
          side_records<order> side;
          side_records<R> overflowed;
          with_table_join<R>(max_held, m, side, overflowed, [&](auto j) {
            auto p = table_pipeline<R>(std::move(j), sink([&](const lookup_row<order, R>& r) { rows.push_back(r); },
                                                          [&](timestamp w) { watermarks.push_back(w.nanos()); }));
            for (const auto& st : steps) feed_table(p, st);
            CAPTURE(what);
            CHECK(p.join().hits() == model.hits);
            CHECK(p.join().missing() == model.missing.size());
            CHECK(p.join().upserts() == model.upserts);
            CHECK(p.join().removals() == model.removals);
            CHECK(p.join().absent_removals() == model.absent);
            CHECK(p.join().overflow_count() == model.overflowed.size());
            CHECK(p.join().size() == model.table.size());
            p.finish();
          });
          test::same_outputs(rows, model.rows, what + " rows");
          if (m == lookup_missing::side_output) test::same_outputs(side.records(), model.missing, what + " missing");
          test::same_outputs(overflowed.records(), model.overflowed, what + " overflow");
          // The output watermark is the left input's; the end of both inputs ends it.
          model.watermarks.push_back(std::numeric_limits<std::int64_t>::max());
          test::same_outputs(watermarks, model.watermarks, what + " watermarks");
          ++cases;
        }
      }
    }
  }
}

template <class R>
void table_restore(int& cases) {
  for (lookup_missing m : {lookup_missing::drop, lookup_missing::emit_empty, lookup_missing::side_output}) {
    for (std::size_t max_held : {std::size_t{0}, std::size_t{7}}) {
      const auto steps = make_table_steps<R>(55 + max_held, 30, 1500);
      std::vector<lookup_row<order, R>> whole;
      side_records<order> whole_side;
      side_records<R> whole_overflow;
      with_table_join<R>(max_held, m, whole_side, whole_overflow, [&](auto j) {
        auto p = table_pipeline<R>(std::move(j), collect(whole));
        for (const auto& st : steps) feed_table(p, st);
        p.finish();
      });
      std::mt19937_64 rng(max_held + 1);
      for (int trial = 0; trial < 4; ++trial) {
        const std::size_t cut = rng() % steps.size();
        const std::string what = std::string(to_string(m)) + " max_held " + std::to_string(max_held) + " cut " +
                                 std::to_string(cut);
        std::string bytes;
        std::vector<lookup_row<order, R>> first;
        {
          side_records<order> side;
          side_records<R> overflowed;
          with_table_join<R>(max_held, m, side, overflowed, [&](auto j) {
            auto p = table_pipeline<R>(std::move(j), collect(first));
            for (std::size_t i = 0; i < cut; ++i) feed_table(p, steps[i]);
            bytes = p.checkpoint(9).to_bytes();
          });
        }
        std::vector<lookup_row<order, R>> rest = first;  // collect's checkpoint holds only its length
        side_records<order> side;
        side_records<R> overflowed;
        with_table_join<R>(max_held, m, side, overflowed, [&](auto j) {
          auto q = table_pipeline<R>(std::move(j), collect(rest));
          q.restore(snapshot::from_bytes(bytes));
          for (std::size_t i = cut; i < steps.size(); ++i) feed_table(q, steps[i]);
          q.finish();
        });
        test::same_outputs(rest, whole, what + " rows after restore");
        test::same_outputs(side.records(), whole_side.records(), what + " missing after restore");
        test::same_outputs(overflowed.records(), whole_overflow.records(), what + " overflow after restore");
        ++cases;
      }
    }
  }
}

}  // namespace

TEST_CASE("lookup join (table): every option equals a std::map table on randomized streams") {
  int cases = 0;
  table_differential<listing>(cases);
  table_differential<listing_change>(cases);
  table_differential<change<listing>>(cases);
  table_differential<weighted_listing>(cases);
  CHECK(cases == 4 * (3 * 4 * 3 * 10));
}

TEST_CASE("lookup join (table): a checkpoint at a random point restores into a fresh pipeline that continues exactly") {
  int cases = 0;
  table_restore<listing>(cases);
  table_restore<listing_change>(cases);
  table_restore<change<listing>>(cases);
  table_restore<weighted_listing>(cases);
  CHECK(cases == 4 * 3 * 2 * 4);
}

TEST_CASE("lookup join (table): a changelog's -U and +U replace a row, -D removes it") {
  std::vector<lookup_row<order, listing_change>> rows;
  auto p = table_pipeline<listing_change>(lookup_join(), collect(rows));
  p.push_right({1, 10, change_kind::insert});
  p.push_left({1, 1, 0});
  p.push_right({1, 10, change_kind::update_before});
  p.push_left({2, 1, 0});  // between -U and +U the key has no row
  p.push_right({1, 11, change_kind::update_after});
  p.push_left({3, 1, 0});
  p.push_right({1, 11, change_kind::remove});
  p.push_left({4, 1, 0});
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].right->tick == 10);
  CHECK(!rows[1].right);
  CHECK(rows[2].right->tick == 11);
  CHECK(!rows[3].right);
}

TEST_CASE("lookup join (table): the right input's watermark does not hold back the output") {
  std::vector<std::int64_t> watermarks;
  auto p = table_pipeline<listing>(lookup_join(),
                                   sink([](const lookup_row<order, listing>&) {}, [&](timestamp w) { watermarks.push_back(w.nanos()); }));
  p.push_right({1, 10});  // the table stream has no watermark at all
  p.push_left({5, 1, 0});
  p.push_left_watermark(at(5));
  p.push_left_watermark(at(9));
  CHECK(watermarks == std::vector<std::int64_t>{5, 9});
  CHECK_THROWS_AS((void)lookup_join().max_held(0), usage_error);
  std::vector<lookup_row<order, listing>> rows;
  CHECK_THROWS_WITH_AS((void)table_pipeline<listing>(lookup_join().on_missing(lookup_missing::side_output), collect(rows)),
                       doctest::Contains("missing_to"), usage_error);
}

TEST_CASE("lookup join (table): the table stays within max_held over millions of updates, allocating nothing") {
  std::uint64_t out = 0;
  std::uint64_t refused = 0;
  auto p = connect(push<order>() | key_by(&order::sym), push<listing_change>() | key_by(&listing_change::sym)) |
           lookup_join().max_held(1000).overflow_to([&](const listing_change&) { ++refused; }) | count_events(out);
  std::size_t peak = 0;
  std::uint64_t allocations = 0;
  std::mt19937_64 rng(12);
  for (std::int64_t i = 0; i < 1'000'000; ++i) {
    const test::allocation_counter counter;
    const auto k = static_cast<std::uint32_t>(rng() % 1500);
    const auto kind = rng() % 4 == 0 ? change_kind::remove : change_kind::update_after;
    p.push_right({k, i, kind});
    p.push_left({i, static_cast<std::uint32_t>(rng() % 1500), 1});
    if (i >= 50'000) allocations += counter.count();
    peak = std::max(peak, p.join().size());
  }
  CHECK(peak == 1000);
  CHECK(refused == p.join().overflow_count());
  CHECK(refused > 0);
  CHECK(out == 1'000'000);  // emit_empty: every left record gives a row
  CHECK(p.join().hits() + p.join().missing() == 1'000'000);
  CHECK(allocations == 0);
}
