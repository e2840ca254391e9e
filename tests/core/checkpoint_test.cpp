#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <laminar/laminar.hpp>
#include <sstream>
#include <string>
#include <vector>

using namespace laminar;

namespace {
struct counter_state {
  std::uint64_t n = 0;
  std::string label;
  void save_state(state_writer& w) const { w(n, label); }
  void load_state(state_reader& r) { r(n, label); }
};
struct other_state {
  std::uint64_t n = 0;
  void save_state(state_writer& w) const { w(n); }
  void load_state(state_reader& r) { r(n); }
};
struct greedy_state {  // reads more than counter_state wrote
  std::uint64_t n = 0, m = 0;
  std::string label;
  void save_state(state_writer& w) const { w(n, label, m); }
  void load_state(state_reader& r) { r(n, label, m); }
};

snapshot two_records() {
  snapshot s(7);
  s.save(counter_state{42, "vwap"});
  s.save(other_state{9});
  return s;
}

std::string message_of(const std::string& bytes) {
  try {
    (void)snapshot::from_bytes(bytes);
  } catch (const checkpoint_error& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("a snapshot round-trips through its file format") {
  const snapshot s = two_records();
  std::stringstream file;
  s.write(file);
  snapshot back = snapshot::read(file);
  CHECK(back == s);
  CHECK(back.checkpoint_id() == 7);
  counter_state c;
  other_state o;
  back.load(c);
  back.load(o);
  back.expect_fully_restored();
  CHECK(c.n == 42);
  CHECK(c.label == "vwap");
  CHECK(o.n == 9);
}

TEST_CASE("every damaged byte of a checkpoint file is detected") {
  const std::string bytes = two_records().to_bytes();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5A);
    CHECK_THROWS_AS((void)snapshot::from_bytes(damaged), checkpoint_error);
  }
  for (std::size_t len = 0; len < bytes.size(); ++len) {
    CHECK_THROWS_AS((void)snapshot::from_bytes(bytes.substr(0, len)), checkpoint_error);
  }
}

TEST_CASE("checkpoint errors say what is wrong") {
  const std::string bytes = two_records().to_bytes();
  CHECK(message_of("hello world, not a checkpoint") == "checkpoint: bad magic at offset 0: not a laminar checkpoint file");
  CHECK(message_of(bytes.substr(0, bytes.size() - 3)).find("checksum mismatch") != std::string::npos);
  std::string flipped = bytes;
  flipped[40] = static_cast<char>(flipped[40] ^ 1);
  CHECK(message_of(flipped).find("truncated or corrupted") != std::string::npos);
}

TEST_CASE("state is found by id: a missing id and an unclaimed record are refused with the id named") {
  snapshot s = two_records();
  CHECK(s.records()[0].id == "counter_state");
  CHECK(s.records()[1].id == "other_state");
  // Order does not matter, only ids.
  s.rewind();
  other_state o;
  counter_state c;
  s.load(o);
  s.load(c);
  s.expect_fully_restored();
  CHECK(o.n == 9);

  s.rewind();
  greedy_state g;
  CHECK_THROWS_WITH_AS(s.load(g), doctest::Contains("holds no state for the stage with id 'greedy_state'"),
                       checkpoint_error);
  s.rewind();
  s.load(c);
  CHECK_THROWS_WITH_AS(s.expect_fully_restored(), doctest::Contains("holds state for 'other_state', which no stage"),
                       checkpoint_error);
}

TEST_CASE("ids: a scope prefixes them, a repeated name is numbered, and a pass starts them over") {
  snapshot s(1);
  s.save(other_state{1});
  s.save(other_state{2});
  s.enter_scope("bars");
  s.save(other_state{3});
  s.enter_scope("inner");
  s.save(other_state{4});
  s.leave_scope();
  s.save(other_state{5});
  s.leave_scope();
  std::vector<std::string> ids;
  for (const state_record& r : s.records()) ids.push_back(r.id);
  CHECK(ids == std::vector<std::string>{"other_state", "other_state#2", "bars/other_state", "bars/inner/other_state",
                                        "bars/other_state#2"});
  s.rewind();
  other_state a, b;
  s.load(a);
  s.load(b);
  CHECK(a.n == 1);
  CHECK(b.n == 2);
  CHECK_THROWS_WITH_AS(s.add(state_record{"other_state", "", ""}), doctest::Contains("two stateful stages have the id"),
                       checkpoint_error);
}

namespace {
struct price_v1 {
  std::int64_t px = 0;
  template <class A>
  void serialize(A& ar) {
    ar(px);
  }
};
struct price_v2 {  // gained a field between builds
  std::int64_t px = 0;
  std::int64_t qty = 0;
  template <class A>
  void serialize(A& ar) {
    ar(px, qty);
  }
};
template <class Price>
struct last_price_stage {
  static constexpr std::string_view state_name = "last_price";
  using state_types = laminar::state_types<std::uint32_t, Price>;
  Price last{};
  void save_state(state_writer& w) const { w(last); }
  void load_state(state_reader& r) { r(last); }
};
}  // namespace

TEST_CASE("a state whose serialize() changed between builds is named, not misread") {
  snapshot s(4);
  s.save(last_price_stage<price_v1>{{7}});
  CHECK(s.records()[0].layout.find("price_v1:8") != std::string::npos);
  const snapshot file = snapshot::from_bytes(s.to_bytes());
  snapshot same = file;
  last_price_stage<price_v1> v1;
  same.load(v1);
  CHECK(v1.last.px == 7);
  snapshot changed = file;
  last_price_stage<price_v2> v2;
  CHECK_THROWS_WITH_AS(changed.load(v2), doctest::Contains("price_v2:16 bytes: its serialize() changed"),
                       checkpoint_error);
}

TEST_CASE("a stage whose load_state disagrees with its save_state is caught") {
  snapshot s(1);
  s.save(counter_state{1, "x"});
  s.save(other_state{2});
  // Same type name as the saved record, but reads a different layout.
  struct counter_state_reads_less {
    void save_state(state_writer&) const {}
    void load_state(state_reader& r) {
      std::uint64_t n = 0;
      r(n);
    }
  };
  snapshot t(2);
  t.add({std::string(detail::state_name<counter_state_reads_less>()), "", s.records()[0].bytes});
  counter_state_reads_less less;
  CHECK_THROWS_WITH_AS(t.load(less), doctest::Contains("left unread bytes"), checkpoint_error);

  snapshot u(3);
  u.add({std::string(detail::state_name<greedy_state>()), "", s.records()[0].bytes});
  greedy_state greedy;
  CHECK_THROWS_WITH_AS(u.load(greedy), doctest::Contains("is malformed at offset"), checkpoint_error);
}

TEST_CASE("a barrier saves or restores according to its kind") {
  snapshot s(5);
  counter_state c{3, "a"};
  checkpoint_barrier save(5, s, checkpoint_barrier::kind::snapshot);
  CHECK(!save.restoring());
  save.checkpoint(c);
  counter_state fresh;
  s.rewind();
  checkpoint_barrier restore(5, s, checkpoint_barrier::kind::restore);
  CHECK(restore.restoring());
  restore.checkpoint(fresh);
  CHECK(fresh.n == 3);
  CHECK(fresh.label == "a");
}

TEST_CASE("state archives: a container size the bytes left cannot hold is refused before anything is allocated") {
  struct with_containers {
    std::vector<std::int64_t> values;
    std::string label;
    std::vector<std::string> names;
    void save_state(state_writer& w) const { w(values, label, names); }
    void load_state(state_reader& r) { r(values, label, names); }
  };
  snapshot s(1);
  s.save(with_containers{{1, 2, 3}, "vwap", {"a", "bc"}});
  const std::string good = s.records()[0].bytes;
  {
    snapshot t = s;
    t.rewind();
    with_containers back;
    t.load(back);
    CHECK(back.values == std::vector<std::int64_t>{1, 2, 3});
    CHECK(back.label == "vwap");
    CHECK(back.names == std::vector<std::string>{"a", "bc"});
  }
  // Each container's size is a u64 before its elements: the vector's at
  // offset 0, the string's after the vector's three values (32), the
  // names' after the string's four bytes (44).
  for (const std::size_t at : {std::size_t{0}, std::size_t{32}, std::size_t{44}}) {
    for (const std::uint64_t huge : {std::uint64_t{1} << 33, std::uint64_t{1} << 62, ~std::uint64_t{0}}) {
      std::string bytes = good;
      for (int i = 0; i < 8; ++i) bytes[at + static_cast<std::size_t>(i)] = static_cast<char>((huge >> (8 * i)) & 0xFFU);
      snapshot damaged(2);
      damaged.add({"with_containers", "", bytes});
      with_containers back;
      CAPTURE(at);
      CAPTURE(huge);
      // Refused by the size check, before the container allocated: a
      // container that tried first would fail another way (bad_alloc).
      CHECK_THROWS_WITH_AS(damaged.load(back), doctest::Contains("exceeds what the"), checkpoint_error);
    }
  }
}

TEST_CASE("state archive: a bool's byte must be 0 or 1, alone or in an array") {
  {
    state_reader ok(std::string_view("\x01\x00", 2));
    bool a = false, b = true;
    ok(a, b);
    CHECK(a);
    CHECK(!b);
  }
  state_reader bad(std::string_view("\x02", 1));
  bool c = false;
  CHECK_THROWS_WITH_AS(bad(c), doctest::Contains("a bool of value 2 at offset 0"), checkpoint_error);
  state_reader bad_array(std::string_view("\x01\x00\xff", 3));
  std::array<bool, 3> bits{};
  CHECK_THROWS_WITH_AS(bad_array(bits), doctest::Contains("a bool of value 255 at offset 2"), checkpoint_error);
}
