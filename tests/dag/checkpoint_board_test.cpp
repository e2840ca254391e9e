// The graph's checkpoint board: a checkpoint completes when every task has
// deposited; only the newest two completed ones are kept, and reading one
// shares it; an aborted checkpoint takes no late deposit; the newest
// outcomes are what tasks pass down their chains, once each.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <laminar/dag/detail/tasks.hpp>

using namespace laminar;
using laminar::detail::checkpoint_board;
using laminar::detail::checkpoint_outcomes;

namespace {
// A chain that notes the outcomes it hears.
struct outcome_chain {
  std::vector<std::uint64_t> completed;
  std::vector<std::uint64_t> aborted;
  void on_checkpoint_complete(std::uint64_t id) { completed.push_back(id); }
  void on_checkpoint_abort(std::uint64_t id) { aborted.push_back(id); }
};
}  // namespace

TEST_CASE("checkpoint board: complete when every task deposited, the newest two kept and shared, aborts refused late") {
  checkpoint_board board(2);
  board.deposit(1, "a#0", snapshot(1));
  CHECK(board.completed(1) == nullptr);  // one task of two
  CHECK(board.last_completed() == 0);
  board.deposit(1, "b#0", snapshot(1));
  REQUIRE(board.completed(1) != nullptr);
  CHECK(board.completed(1)->size() == 2);
  CHECK(board.completed(1).get() == board.completed(1).get());  // shared, not copied
  CHECK(board.last_completed() == 1);

  for (std::uint64_t id = 2; id <= 4; ++id) {
    board.deposit(id, "a#0", snapshot(id));
    board.deposit(id, "b#0", snapshot(id));
  }
  CHECK(board.retained() == 2);
  CHECK(board.completed(1) == nullptr);
  CHECK(board.completed(2) == nullptr);
  CHECK(board.completed(3) != nullptr);
  CHECK(board.completed(4) != nullptr);
  CHECK(board.last_completed() == 4);

  board.deposit(5, "a#0", snapshot(5));
  board.abort(5);
  board.deposit(5, "b#0", snapshot(5));  // too late: dropped
  CHECK(board.completed(5) == nullptr);
  CHECK(board.last_aborted() == 5);
  board.abort(4);  // complete already: stays
  CHECK(board.completed(4) != nullptr);
  CHECK(board.last_aborted() == 5);

  checkpoint_outcomes outcomes;
  outcome_chain chain;
  outcomes.deliver(board, chain);
  outcomes.deliver(board, chain);  // nothing new: nothing again
  CHECK(chain.completed == std::vector<std::uint64_t>{4});
  CHECK(chain.aborted == std::vector<std::uint64_t>{5});
  board.deposit(6, "a#0", snapshot(6));
  board.deposit(6, "b#0", snapshot(6));
  outcomes.deliver(board, chain);
  CHECK(chain.completed == std::vector<std::uint64_t>{4, 6});
}
