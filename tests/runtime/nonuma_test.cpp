// Built with LAMINAR_NO_NUMA: the runtime's placement falls back cleanly.
#include <doctest/doctest.h>

#include <laminar/dag/graph.hpp>
#include <laminar/laminar.hpp>
#include <vector>

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
