// The keyed state containers and their one checkpoint form: a round trip
// keeps every key in its slot and the free list in order, keys are saved
// by key group; damaged bytes give a checkpoint_error before anything is
// allocated or indexed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "laminar/state/dense_slot_table.hpp"
#include "laminar/state/group_table.hpp"
#include "laminar/state/slot_table.hpp"

using namespace laminar;

namespace {

struct counter {
  std::int64_t n = 0;
  void reset() noexcept { n = 0; }
};

template <class Table>
std::string save(const Table& t) {
  state_writer w;
  save_slots(w, t, [&w](const counter& c) { w(c.n); });
  return w.bytes();
}

template <class Table>
void load(Table& t, std::string bytes) {
  state_reader r(std::move(bytes));
  load_slots(r, t, [&r](std::uint32_t, counter& c) { r(c.n); });
}

// Bytes in the checkpoint form, written field by field.
template <class... Ts>
std::string bytes_of(const Ts&... values) {
  state_writer w;
  w(values...);
  return w.bytes();
}

}  // namespace

TEST_CASE("slot_table: a checkpoint round trip keeps keys in their slots and the free list in order") {
  slot_table<std::int64_t, counter> t;
  for (std::int64_t k = 0; k < 40; ++k) t.state(t.insert(k * 7919)).n = k;
  for (std::int64_t k = 0; k < 40; k += 3) t.erase(t.find(k * 7919));
  slot_table<std::int64_t, counter> u;
  u.state(u.insert(-1)).n = 99;  // loading empties the table first
  load(u, save(t));
  REQUIRE(u.size() == t.size());
  REQUIRE(u.slot_count() == t.slot_count());
  CHECK(u.free_slots() == t.free_slots());
  CHECK(u.find(-1) == slot_table<std::int64_t, counter>::npos);
  for (std::int64_t k = 0; k < 40; ++k) {
    const std::uint32_t s = t.find(k * 7919);
    CHECK(u.find(k * 7919) == s);
    if (s != slot_table<std::int64_t, counter>::npos) CHECK(u.state(s).n == k);
  }
  // A new key takes the same slot in both.
  CHECK(u.insert(123456) == t.insert(123456));
}

namespace {

// A table after a delta equals the table it was taken of: the same keys
// in the same slots with the same states, the same free list.
template <class Table>
void check_same(const Table& a, const Table& b) {
  REQUIRE(a.size() == b.size());
  CHECK(a.free_slots() == b.free_slots());
  for (std::uint32_t s = 0; s < std::max(a.slot_count(), b.slot_count()); ++s) {
    CAPTURE(s);
    REQUIRE(a.live(s) == b.live(s));
    if (a.live(s)) {
      CHECK(a.key(s) == b.key(s));
      CHECK(a.state(s).n == b.state(s).n);
    }
  }
}

// Random inserts, changes and erases (keys leaving and coming back in
// other slots), a delta per round applied to a copy restored from the
// whole table: the copy follows the table exactly, and a delta holds no
// more than the slots the round touched.
template <class Table, class Make>
void check_slot_deltas(Make make, std::int64_t key_range) {
  std::mt19937_64 rng(7);
  Table t = make();
  for (std::int64_t k = 0; k < key_range / 2; ++k) t.state(t.insert(k)).n = k;
  Table copy = make();
  load(copy, save(t));
  t.changes().clear();
  t.changes().track(true);
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    std::set<std::uint32_t> touched;
    for (int op = 0; op < 30; ++op) {
      const std::int64_t k = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(key_range));
      std::uint32_t s = t.find(k);
      if (s != Table::npos && rng() % 3 == 0) {
        t.erase(s);
      } else {
        if (s == Table::npos) s = t.insert(k);
        t.state(s).n += 1 + static_cast<std::int64_t>(rng() % 5);
      }
      touched.insert(s);
    }
    t.changes().fold();
    state_writer w;
    save_slot_changes(w, t, [&w](const counter& c) { w(c.n); });
    t.changes().clear_owed();  // the checkpoint completed
    CHECK(t.changes().owed_count() == 0);
    state_reader r(w.bytes());
    apply_slot_changes(r, copy, [&r](std::uint32_t, counter& c) { r(c.n); });
    CHECK(r.exhausted());
    check_same(t, copy);
    // The delta's slot list is the slots touched this round, and no more.
    state_reader head(w.bytes());
    std::uint64_t slots = 0, owed = 0;
    head(slots, owed);
    CHECK(owed == touched.size());
  }
}

}  // namespace

TEST_CASE("slot tables: deltas of the slots changed keep a restored copy equal to the table") {
  check_slot_deltas<slot_table<std::int64_t, counter>>([] { return slot_table<std::int64_t, counter>(); }, 200);
  check_slot_deltas<dense_slot_table<std::int64_t, counter>>(
      [] { return dense_slot_table<std::int64_t, counter>(200, "test"); }, 200);
}

TEST_CASE("slot tables: a damaged delta is a checkpoint_error") {
  slot_table<std::int64_t, counter> t;
  for (std::int64_t k = 0; k < 8; ++k) t.state(t.insert(k)).n = k;
  // slots, owed list (out of order), live count
  const auto apply = [&](std::string bytes) {
    state_reader r(std::move(bytes));
    apply_slot_changes(r, t, [&r](std::uint32_t, counter& c) { r(c.n); });
  };
  CHECK_THROWS_AS(apply(bytes_of(std::uint64_t{8}, std::uint64_t{2}, std::uint32_t{5}, std::uint32_t{3})),
                  checkpoint_error);
  // a changed key in a slot the delta does not list
  CHECK_THROWS_AS(apply(bytes_of(std::uint64_t{8}, std::uint64_t{1}, std::uint32_t{2}, std::uint64_t{1},
                                 std::uint32_t{6}, std::int64_t{77}, std::int64_t{1})),
                  checkpoint_error);
  // a slot beyond the count
  CHECK_THROWS_AS(apply(bytes_of(std::uint64_t{8}, std::uint64_t{1}, std::uint32_t{9})), checkpoint_error);
}

TEST_CASE("dense_slot_table: a checkpoint round trip, and a key outside its range or slot is refused") {
  dense_slot_table<std::int32_t, counter> t(100, "test");
  for (std::int32_t k : {3, 9, 41}) t.state(t.insert(k)).n = k * 2;
  dense_slot_table<std::int32_t, counter> u(100, "test");
  load(u, save(t));
  CHECK(u.size() == 3);
  CHECK(u.state(u.find(41)).n == 82);
  CHECK(u.find(4) == dense_slot_table<std::int32_t, counter>::npos);

  // One key group: key k in slot s; then an empty free list.
  const auto one_key = [](std::uint32_t slot, std::int32_t key, std::uint64_t slots) {
    return bytes_of(slots, std::uint32_t{1}, std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{1}, slot, key,
                    std::int64_t{0}, std::uint64_t{0});
  };
  dense_slot_table<std::int32_t, counter> v(100, "test");
  load(v, one_key(7, 7, 8));  // the undamaged form loads
  CHECK(v.size() == 1);
  CHECK_THROWS_AS(load(v, one_key(0, 7, 8)), checkpoint_error);       // key 7 in slot 0
  CHECK_THROWS_AS(load(v, one_key(200, 200, 201)), checkpoint_error);  // beyond dense_keys(100)
  CHECK_THROWS_AS(load(v, bytes_of(std::uint64_t{1}, std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{1},
                                   std::uint32_t{0})),
                  checkpoint_error);  // a free list for dense keys
}

TEST_CASE("slot_table: damaged checkpoint bytes are a checkpoint_error, never a crash or a huge allocation") {
  using table = slot_table<std::int64_t, counter>;
  const auto fails = [](std::string bytes, const char* what) {
    table t;
    CAPTURE(what);
    CHECK_THROWS_AS(load(t, std::move(bytes)), checkpoint_error);
  };
  // Two slots in one key group: key 5 live in slot 0 (state 1), slot 1 free.
  const auto slots = [](std::uint64_t free_count, auto... free) {
    return bytes_of(std::uint64_t{2}, std::uint32_t{1}, std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{1},
                    std::uint32_t{0}, std::int64_t{5}, std::int64_t{1}, free_count, free...);
  };
  {
    table t;
    load(t, slots(std::uint64_t{1}, std::uint32_t{1}));  // the undamaged form loads
    CHECK(t.size() == 1);
    CHECK(t.state(t.find(5)).n == 1);
    CHECK(t.insert(6) == 1);
  }
  {
    // Three slots, none listed free (as a dense table saves them): the
    // free ones are reused, lowest first.
    table t;
    load(t, bytes_of(std::uint64_t{3}, std::uint32_t{1}, std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{1},
                     std::uint32_t{1}, std::int64_t{5}, std::int64_t{1}, std::uint64_t{0}));
    CHECK(t.insert(6) == 0);
    CHECK(t.insert(7) == 2);
    CHECK(t.insert(8) == 3);
  }
  fails(slots(std::uint64_t{1}, std::uint32_t{1'000'000}), "a free slot index far beyond the table");
  fails(slots(std::uint64_t{2}, std::uint32_t{1}, std::uint32_t{0}), "a free slot that is also live");
  fails(slots(std::uint64_t{2}, std::uint32_t{1}, std::uint32_t{1}), "a free slot named twice");
  fails(slots(std::uint64_t{1} << 40, std::uint32_t{1}), "a free-list count beyond the bytes left");
  fails(bytes_of(std::uint64_t{1} << 62, std::uint32_t{1}), "a slot count beyond the bytes left");
  fails(bytes_of(std::uint64_t{2}, std::uint32_t{1}, std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{1},
                 std::uint32_t{1'000'000}, std::int64_t{5}, std::int64_t{1}, std::uint64_t{0}),
        "a live key's slot far beyond the table");
  fails(bytes_of(std::uint64_t{2}, std::uint32_t{1}, std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{2},
                 std::uint32_t{0}, std::int64_t{5}, std::int64_t{1}, std::uint32_t{1}, std::int64_t{5},
                 std::int64_t{1}, std::uint64_t{0}),
        "one key in two slots");
  fails(bytes_of(std::uint64_t{2}, std::uint32_t{1}, std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{2},
                 std::uint32_t{0}, std::int64_t{5}, std::int64_t{1}, std::uint32_t{0}, std::int64_t{6},
                 std::int64_t{1}, std::uint64_t{0}),
        "two keys in one slot");
  fails(bytes_of(std::uint64_t{2}, std::uint32_t{0}, std::uint32_t{0}), "no key groups");
  fails(bytes_of(std::uint64_t{2}, std::uint32_t{1}, std::uint32_t{1}, std::uint32_t{3}), "a key group out of range");
  fails(bytes_of(std::uint64_t{2}, std::uint32_t{1}, std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{1},
                 std::uint32_t{0}),
        "truncated");
}

TEST_CASE("slot_table: keys are saved by key group, each in the group it hashes to, and survive a save/load") {
  slot_table<std::int64_t, counter> t;
  for (std::int64_t k = 0; k < 500; ++k) t.state(t.insert(k * 104'729)).n = k;
  state_writer w(16);  // sixteen key groups
  save_slots(w, t, [&w](const counter& c) { w(c.n); });
  // Walk the saved form: every key sits in its own group's section, groups
  // ascend, and every key is there once.
  state_reader r(w.bytes(), 16);
  std::uint64_t n = 0;
  std::uint32_t groups = 0, nonempty = 0;
  r(n, groups, nonempty);
  CHECK(n == 500);
  CHECK(groups == 16);
  CHECK(nonempty == 16);
  std::set<std::int64_t> seen;
  std::uint32_t previous = 0;
  for (std::uint32_t i = 0; i < nonempty; ++i) {
    std::uint32_t g = 0;
    std::uint64_t keys = 0;
    r(g, keys);
    if (i > 0) CHECK(g > previous);
    previous = g;
    for (std::uint64_t k = 0; k < keys; ++k) {
      std::uint32_t slot = 0;
      std::int64_t key = 0, value = 0;
      r(slot, key, value);
      CHECK(key_group_of(key, 16) == g);
      CHECK(t.find(key) == slot);
      CHECK(value == key / 104'729);
      seen.insert(key);
    }
  }
  CHECK(seen.size() == 500);
  slot_table<std::int64_t, counter> u;
  state_reader again(w.bytes(), 16);
  load_slots(again, u, [&again](std::uint32_t, counter& c) { again(c.n); });
  for (std::int64_t k = 0; k < 500; ++k) CHECK(u.find(k * 104'729) == t.find(k * 104'729));
  // Key groups spread keys: no group is empty or holds most of them.
  std::vector<int> per_group(16, 0);
  for (std::int64_t k = 0; k < 500; ++k) ++per_group[key_group_of(k * 104'729, 16)];
  for (int c : per_group) CHECK((c > 10 && c < 80));
}

TEST_CASE("group tables: a checkpoint round trip keeps arrival order; a key held twice is refused") {
  hashed_group_table<std::int64_t, double> t;
  for (std::int64_t k : {50, 3, 17, 8}) t.find_or_insert(k, [] { return 0.0; }).acc = static_cast<double>(k) / 2;
  t.find(17)->n = 4;
  state_writer w;
  save_groups(w, t);
  hashed_group_table<std::int64_t, double> u;
  state_reader r(w.bytes());
  load_groups(r, u, [] { return 0.0; });
  std::vector<std::int64_t> order;
  for (const auto& e : u.entries()) order.push_back(e.key);
  CHECK(order == std::vector<std::int64_t>{50, 3, 17, 8});
  CHECK(u.find(17)->acc == 8.5);
  CHECK(u.find(17)->n == 4);

  hashed_group_table<std::int64_t, double> v;
  state_reader twice(bytes_of(std::uint32_t{1}, std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{2}, std::uint32_t{0},
                              std::int64_t{1}, 1.0, std::int64_t{1}, std::uint32_t{1}, std::int64_t{1}, 2.0,
                              std::int64_t{1}));
  CHECK_THROWS_AS(load_groups(twice, v, [] { return 0.0; }), checkpoint_error);
  hashed_group_table<std::int64_t, double> x;
  state_reader one_place(bytes_of(std::uint32_t{1}, std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{2},
                                  std::uint32_t{0}, std::int64_t{1}, 1.0, std::int64_t{1}, std::uint32_t{0},
                                  std::int64_t{2}, 2.0, std::int64_t{1}));
  CHECK_THROWS_AS(load_groups(one_place, x, [] { return 0.0; }), checkpoint_error);
  hashed_group_table<std::int64_t, double> y;
  state_reader huge(bytes_of(std::uint32_t{1}, std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{1} << 50));
  CHECK_THROWS_AS(load_groups(huge, y, [] { return 0.0; }), checkpoint_error);
  // Places 0 and 2 of two groups: place 1 is never taken.
  hashed_group_table<std::int64_t, double> z;
  state_reader hole(bytes_of(std::uint32_t{1}, std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{2}, std::uint32_t{0},
                             std::int64_t{1}, 1.0, std::int64_t{1}, std::uint32_t{2}, std::int64_t{2}, 2.0,
                             std::int64_t{1}));
  CHECK_THROWS_AS(load_groups(hole, z, [] { return 0.0; }), checkpoint_error);
  // A place far beyond what the bytes can hold is refused before the
  // arrival order is sized by it.
  hashed_group_table<std::int64_t, double> far;
  state_reader beyond(bytes_of(std::uint32_t{1}, std::uint32_t{1}, std::uint32_t{0}, std::uint64_t{1},
                               std::uint32_t{4'000'000'000U}, std::int64_t{1}, 1.0, std::int64_t{1}));
  CHECK_THROWS_WITH_AS(load_groups(beyond, far, [] { return 0.0; }), doctest::Contains("beyond the groups"),
                       checkpoint_error);
}

TEST_CASE("group tables: a restore rebuilds the arrival order of a large table, hashed and dense") {
  // Groups are saved by key group, not in arrival order: a restore puts
  // each at its place directly.
  hashed_group_table<std::int64_t, std::int64_t> h;
  dense_group_table<std::int64_t, std::int64_t> d;
  std::vector<std::int64_t> keys;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 20'000; ++i) {
    const auto k = static_cast<std::int64_t>(rng() % 50'000);
    if (h.find(k) != nullptr) continue;
    keys.push_back(k);
    h.find_or_insert(k, [] { return std::int64_t{0}; }).acc = k * 3;
    d.find_or_insert(k, [] { return std::int64_t{0}; }).acc = k * 3;
  }
  const auto check = [&](const auto& t) {
    state_writer w(16);
    save_groups(w, t);
    std::remove_cvref_t<decltype(t)> u;
    state_reader r(w.bytes(), 16);
    load_groups(r, u, [] { return std::int64_t{0}; });
    CHECK(r.exhausted());
    std::vector<std::int64_t> order;
    for (const auto& e : u.entries()) {
      order.push_back(e.key);
      CHECK(e.acc == e.key * 3);
    }
    CHECK(order == keys);
  };
  check(h);
  check(d);
}

TEST_CASE("state_reader: read_count refuses a count the bytes left cannot hold, naming it and its offset") {
  state_reader r(bytes_of(std::uint64_t{3}, std::int64_t{1}, std::int64_t{2}, std::int64_t{3}, std::uint64_t{99}));
  CHECK(r.read_count("values", 8) == 3);
  std::int64_t x = 0;
  r(x, x, x);
  try {
    (void)r.read_count("widgets");
    FAIL("no error");
  } catch (const checkpoint_error& e) {
    const std::string what = e.what();
    CHECK(what.find("99 widgets") != std::string::npos);
    CHECK(what.find("offset 32") != std::string::npos);
  }
}
