// Serializability is required only where a checkpoint reaches a value: a
// chain whose state holds a type without serialize compiles and runs, and
// checkpointing it is a checkpoint_error naming the stage and the type.
#include <doctest/doctest.h>

#include <cstdint>
#include <laminar/laminar.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/keep_last.hpp"

using namespace laminar;

namespace {
struct opaque {  // no serialize
  int key = 0;
};
struct plain {
  int key = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(key);
  }
};
}  // namespace

TEST_CASE("archivable looks inside standard containers and laminar's rows") {
  CHECK(archivable<plain>);
  CHECK_FALSE(archivable<opaque>);
  CHECK(archivable<std::vector<plain>>);
  CHECK_FALSE(archivable<std::vector<opaque>>);
  CHECK_FALSE(archivable<std::vector<std::vector<opaque>>>);
  CHECK_FALSE((archivable<std::pair<int, opaque>>));
  CHECK_FALSE(archivable<std::optional<opaque>>);
  CHECK((archivable<window_row<int, plain>>));
  CHECK_FALSE((archivable<window_row<int, opaque>>));
  CHECK((archivable<window_row<int, std::vector<plain>>>));
  CHECK_FALSE((archivable<window_row<int, std::vector<opaque>>>));
  CHECK(archivable<change<plain>>);
  CHECK_FALSE(archivable<change<opaque>>);
  CHECK((archivable<enriched_row<plain, plain>>));
  CHECK_FALSE((archivable<enriched_row<plain, opaque>>));
}

TEST_CASE("the state archives refuse a type without serialize when it is written or read, naming it") {
  state_writer w;
  const std::vector<opaque> held{{1}};
  try {
    w(std::uint64_t{1}, held);
    FAIL("wrote a vector of a type without serialize");
  } catch (const unarchivable_state_error& e) {
    CHECK(e.type().find("opaque") != std::string::npos);
    CHECK(e.type().find("vector") != std::string::npos);
    CHECK(std::string(e.what()).starts_with("laminar: checkpoint: a stage keeps a `"));
  }
  CHECK(w.bytes().empty());  // nothing of the call was written
  state_reader r(std::string_view{});
  opaque o;
  CHECK_THROWS_AS(r(o), unarchivable_state_error);
}

TEST_CASE("a chain whose state holds a type without serialize runs; checkpointing it names the stage and the type") {
  const std::vector<opaque> in{{1}, {2}, {3}};
  std::vector<opaque> out;
  auto p = from(in) | uid("last", test::keep_last()) | collect(out);
  p.run_for(2);
  CHECK_THROWS_WITH_AS((void)p.checkpoint(5),
                       doctest::Contains("laminar: checkpoint 5: the stage 'last/keep_last' keeps a `"),
                       checkpoint_error);
  p.run();
  CHECK(out.size() == 3);

  // The same chain over a serializable type checkpoints and restores.
  const std::vector<plain> in2{{1}, {2}, {3}};
  std::vector<plain> out2;
  auto q = from(in2) | uid("last", test::keep_last()) | collect(out2);
  q.run_for(2);
  const snapshot s = q.checkpoint(6);
  auto q2 = from(in2) | uid("last", test::keep_last()) | collect(out2);
  q2.restore(s);
  q2.run();
  CHECK(out2.size() == 3);
}
