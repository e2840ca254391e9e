// Must not compile: a user operator written with the four stream messages
// only: processing-time ticks would stop at it, and periodic emission or
// cache refreshes after it would silently never run. The error names the
// message.
// expect: neither handles nor passes on on_processing_time\(laminar::timestamp\)
#include <laminar/laminar.hpp>
#include <vector>

struct tick {
  double price;
};

template <class Next>
struct halve_stage {
  Next next;
  void on_event(const tick& t) { next.on_event(tick{t.price / 2}); }
  void on_watermark(laminar::timestamp w) { next.on_watermark(w); }
  void on_barrier(const laminar::checkpoint_barrier& b) { next.on_barrier(b); }
  void on_end() { next.on_end(); }
};

struct halve {
  using is_operator = void;
  template <class Ctx>
  auto output_context(const Ctx& ctx) const {
    return ctx;
  }
  template <class Ctx, class Next>
  auto bind(const Ctx&, Next&& next) && {
    return halve_stage<std::remove_cvref_t<Next>>{std::forward<Next>(next)};
  }
};

int main() {
  std::vector<tick> ticks;
  std::vector<tick> out;
  auto p = laminar::from(ticks) | halve{} | laminar::collect(out);
  p.run();
}
