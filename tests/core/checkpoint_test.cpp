#include <doctest/doctest.h>

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

TEST_CASE("restoring into the wrong stage or shape is refused with the stage named") {
  snapshot s = two_records();
  other_state wrong;
  CHECK_THROWS_WITH_AS(s.load(wrong),
                       doctest::Contains("counter_state' but is being restored into stage"), checkpoint_error);

  s.rewind();
  counter_state c;
  other_state o;
  s.load(c);
  CHECK_THROWS_WITH_AS(s.expect_fully_restored(), doctest::Contains("restored only 1"), checkpoint_error);
  s.load(o);
  CHECK_THROWS_WITH_AS(s.load(o), doctest::Contains("more stateful stages"), checkpoint_error);
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
  t.add({std::string(detail::template_name<counter_state_reads_less>()), s.records()[0].bytes});
  counter_state_reads_less less;
  CHECK_THROWS_WITH_AS(t.load(less), doctest::Contains("left unread bytes"), checkpoint_error);

  snapshot u(3);
  u.add({std::string(detail::template_name<greedy_state>()), s.records()[0].bytes});
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
