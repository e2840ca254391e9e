// A program that uses laminar the way a downstream project would: the
// umbrella include, a small fused pipeline and a small graph (whose runtime
// is what needs libnuma, or LAMINAR_NO_NUMA, at link time), a durable
// checkpoint (liburing, or LAMINAR_NO_URING), and checks of their results.
#include <laminar/checkpoint.hpp>
#include <laminar/laminar.hpp>

#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

int main() {
  std::vector<int> xs{1, 2, 3, 4, 5, 6};
  std::int64_t sum = 0;
  std::int64_t seen = 0;
  auto p = laminar::from(xs) | laminar::map([](int x) { return x * 10; }) |
           laminar::filter([](int x) { return x > 20; }) | laminar::sink([&](int x) {
             sum += x;
             ++seen;
           });
  p.run();
  if (sum != 180 || seen != 4) {
    std::fprintf(stderr, "laminar consumer: expected sum 180 over 4 records, got %lld over %lld\n",
                 static_cast<long long>(sum), static_cast<long long>(seen));
    return 1;
  }

  // A graph across a worker thread: the runtime's NUMA placement is linked in.
  std::vector<int> doubled;
  laminar::graph g(laminar::runtime_options{.workers = 1});
  auto src = g.source("xs", laminar::from(xs));
  g.node("double", src, laminar::map([](int x) { return x * 2; }) | laminar::collect(doubled));
  g.run();
  if (doubled != std::vector<int>{2, 4, 6, 8, 10, 12}) {
    std::fprintf(stderr, "laminar consumer: the graph produced %zu records, not 2 4 6 8 10 12\n", doubled.size());
    return 1;
  }
  // A checkpoint of the pipeline's state, to disk and back.
  {
    std::string dir = (std::filesystem::temp_directory_path() / "laminar-consumer-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) {
      std::perror("laminar consumer: mkdtemp");
      return 1;
    }
    laminar::stored_checkpoint cp;
    cp.id = 1;
    cp.tasks.emplace("pipeline", laminar::snapshot(1));
    cp.tasks.at("pipeline").add({"sum", "", std::to_string(sum)});
    std::size_t found = 0;
    {
      laminar::checkpoint_store store(dir);
      store.write(cp);
      const auto back = laminar::checkpoint_store(dir).load_newest();
      found = back && back->tasks.at("pipeline").records() == cp.tasks.at("pipeline").records() ? 1 : 0;
    }
    std::filesystem::remove_all(dir);
    if (found != 1) {
      std::fprintf(stderr, "laminar consumer: the checkpoint did not read back as written\n");
      return 1;
    }
  }
#ifdef LAMINAR_CONSUMER_EXPECT_FETCHED_CEREAL
  // The consumer brought cereal in itself: laminar::laminar must carry that
  // target's usage requirements (its marker definition), not another cereal's.
#ifndef LAMINAR_CONSUMER_FETCHED_CEREAL_MARKER
#error "laminar::laminar does not link the cereal target the consumer project brought in"
#endif
#endif
#ifdef LAMINAR_CONSUMER_EXPECTED_VERSION
  // The CMake package version and the header's version must agree.
  if (std::string_view{laminar::version_string} != LAMINAR_CONSUMER_EXPECTED_VERSION) {
    std::fprintf(stderr, "laminar consumer: headers say version %s, CMake says %s\n", laminar::version_string,
                 LAMINAR_CONSUMER_EXPECTED_VERSION);
    return 1;
  }
#endif
  std::printf("laminar %s consumer: ok (sum %lld)\n", laminar::version_string, static_cast<long long>(sum));
  return 0;
}
