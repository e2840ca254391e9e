// 05 · Checkpoint and restore. Run half the stream, checkpoint into a file,
// build a fresh pipeline the same way, restore it from the file and finish:
// the output equals an uninterrupted run. A damaged file is refused with a
// checkpoint_error that says what is wrong.
#include <laminar/laminar.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct tick {
  std::uint32_t symbol;
  double price;
  std::int64_t size;
  std::int64_t ts;  // ns since the epoch
};

struct fill {  // no serialize: collect's checkpoint holds only how many fills it collected
  std::uint32_t symbol;
  double notional;
  friend bool operator==(const fill&, const fill&) = default;
};

// Every run builds its pipeline here, so that a restored one has the same shape.
auto build(const std::vector<tick>& ticks, std::vector<fill>& out) {
  using namespace laminar;
  auto round_lot = [](const tick& t) { return t.size >= 100; };
  auto to_fill = [](const tick& t) { return fill{t.symbol, t.price * static_cast<double>(t.size)}; };
  return from(ticks) | with_watermarks(&tick::ts, bounded_out_of_orderness(1ms)) | filter(round_lot) | map(to_fill) |
         collect(out);
}

int main() {
  std::vector<tick> ticks;
  for (std::int64_t i = 0; i < 1000; ++i)
    ticks.push_back({static_cast<std::uint32_t>(i % 3), 100.0 + static_cast<double>(i % 17), (i % 7) * 50, i * 1'000});

  std::vector<fill> expected;
  build(ticks, expected).run();  // the uninterrupted run

  const fs::path file = fs::temp_directory_path() / "laminar-example-05-checkpoint-7.lmnr";
  // `out` stands for where the sink writes (a file, a topic): it outlives
  // the pipeline. The checkpoint holds how much of it was written; a
  // restore cuts off what came after, and the replay writes that again.
  std::vector<fill> out;
  {
    auto first = build(ticks, out);
    first.run_for(ticks.size() / 2);
    const laminar::snapshot saved = first.checkpoint(7);  // one record per stateful stage, in chain order
    std::ofstream os(file, std::ios::binary);
    saved.write(os);
    std::cout << "checkpoint 7 after " << ticks.size() / 2 << " ticks:";
    for (const auto& r : saved.records()) std::cout << ' ' << r.id;
    first.run_for(100);  // written after the checkpoint, then lost with the pipeline
  }  // the first pipeline is gone: as if the process had stopped here
  std::cout << "\n  written to " << file << ", " << fs::file_size(file) << " bytes\n";

  auto second = build(ticks, out);
  std::ifstream is(file, std::ios::binary);
  second.restore(laminar::snapshot::read(is));
  second.run();
  std::cout << "restored run: " << out.size()
            << " fills, equal to the uninterrupted run: " << (out == expected ? "yes" : "NO") << '\n';

  // Damage the file: overwrite one byte, then truncate it. Restoring from it is refused.
  auto try_restore = [&](const char* damage) {
    std::vector<fill> ignored;
    auto third = build(ticks, ignored);
    try {
      std::ifstream damaged(file, std::ios::binary);
      third.restore(laminar::snapshot::read(damaged));
    } catch (const laminar::checkpoint_error& e) {
      std::cout << damage << " -> checkpoint_error: " << e.what() << '\n';
    }
  };
  std::fstream(file, std::ios::in | std::ios::out | std::ios::binary).seekp(100).put('\x7f');
  try_restore("one byte overwritten");
  fs::resize_file(file, 20);
  try_restore("truncated to 20 bytes");
  fs::remove(file);
  return out == expected ? 0 : 1;
}
