// Built with LAMINAR_NO_NUMA and LAMINAR_NO_URING: the runtime's placement
// and the checkpoint store's writes fall back cleanly.
#include <doctest/doctest.h>

#include <laminar/checkpoint.hpp>
#include <laminar/dag/graph.hpp>
#include <laminar/laminar.hpp>
#include <vector>

#include "checkpoint/temp_dir.hpp"

#include "support/event_stream.hpp"
#include "support/keyed_sum.hpp"

using namespace laminar;

TEST_CASE("without libnuma: probing reports one node and the graph runs") {
  static_assert(LAMINAR_HAS_NUMA == 0);
  const auto info = numa_probe();
  CHECK(!info.available);
  CHECK(info.nodes == 1);
  CHECK(!prefer_local_memory());
  CHECK(numa_node_of_cpu_or_zero(0) == 0);

  test::stream_options o;
  o.records = 5000;
  const auto in = test::make_stream(o);
  std::vector<test::key_total> out;
  graph g(runtime_options{.workers = 2});
  auto src = g.source("events", from(in) | key_by(&test::event::key));
  auto sums = g.parallel("sum", src, 2, test::keyed_sum(&test::event::value));
  g.merge("sink", collect(out), sums);
  g.run();
  CHECK(out.size() == in.size());
}

TEST_CASE("pinning: every allowed CPU can be pinned to") {
  const auto cpus = allowed_cpus();
  REQUIRE(!cpus.empty());
  std::thread t([&] {
    for (int c : cpus) CHECK(pin_current_thread(c));
  });
  t.join();
}

TEST_CASE("without liburing: checkpoints are written with pwrite and fdatasync") {
  static_assert(LAMINAR_HAS_URING == 0);
  test::temp_dir dir("nouring");
  checkpoint_store store(dir.path());
  CHECK_FALSE(store.uses_io_uring());
  stored_checkpoint cp;
  cp.id = 4;
  cp.tasks.emplace("pipeline", snapshot(4));
  cp.tasks.at("pipeline").add({"sum", "", "forty-two"});
  store.write(cp);
  const auto back = store.load_newest();
  REQUIRE(back.has_value());
  CHECK(back->tasks.at("pipeline").records() == cp.tasks.at("pipeline").records());
}
