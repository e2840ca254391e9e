// Must not compile: a user stage without on_watermark.
// expect: this stage needs on_watermark\(laminar::timestamp\)
#include <laminar/laminar.hpp>
#include <vector>

struct tick {
  double price;
};

struct no_watermark_sink {
  void on_event(const tick&) {}
  void on_barrier(const laminar::checkpoint_barrier&) {}
  void on_end() {}
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
