// Must not compile: a user stage without on_watermark.
// expect: neither handles nor passes on on_watermark\(laminar::timestamp\)
#include <laminar/laminar.hpp>
#include <cstdint>
#include <vector>

struct tick {
  double price;
};

struct no_watermark_sink {
  void on_event(const tick&) {}
  void on_barrier(const laminar::checkpoint_barrier&) {}
  void on_end() {}
  void on_processing_time(laminar::timestamp) {}
  void on_checkpoint_complete(std::uint64_t) {}
  void on_checkpoint_abort(std::uint64_t) {}
};

struct no_watermark_sink_factory {
  using is_sink = void;
  template <class Ctx>
  auto bind(const Ctx&) && {
    return no_watermark_sink{};
  }
};

int main() {
  std::vector<tick> ticks;
  auto p = laminar::from(ticks) | no_watermark_sink_factory{};
  p.run();
}
