// 03 · A custom operator: a per-symbol price-jump detector, written against the
// public protocol only. The stage keeps the last price per symbol (its state,
// saved in checkpoints) and emits an alert when a tick moves more than a
// threshold; the factory binds it when a source is composed in front.
#include <laminar/laminar.hpp>

#include <cereal/types/map.hpp>  // the state is a std::map: cereal must know how to save it

#include <cmath>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

struct tick {
  std::string_view symbol;
  double price;
};

struct jump_alert {
  std::string_view symbol;
  double from, to;
};

// The stage: forwarding_stage holds the downstream by value and passes
// watermarks and the end on; we handle records and checkpoint barriers.
template <class Next>
class jump_detector_stage : public laminar::forwarding_stage<Next> {
 public:
  jump_detector_stage(double threshold, Next next)
      : laminar::forwarding_stage<Next>(std::move(next)), threshold_(threshold) {}

  void on_event(const tick& t) {
    auto it = last_.find(t.symbol);
    if (it == last_.end()) it = last_.emplace(t.symbol, t.price).first;  // first sight: no alert
    if (std::abs(t.price / it->second - 1.0) > threshold_)
      this->next_.on_event(jump_alert{t.symbol, it->second, t.price});
    it->second = t.price;
  }
  void on_barrier(const laminar::checkpoint_barrier& barrier) {
    barrier.checkpoint(*this);  // save our state (or load it, on a restore)
    this->next_.on_barrier(barrier);
  }

  void save_state(laminar::state_writer& w) const { w(last_); }
  void load_state(laminar::state_reader& r) { r(last_); }

 private:
  double threshold_;
  std::map<std::string, double, std::less<>> last_;
};

// The factory: a plain value composed with `|`; it says what comes out
// (output_context) and builds the stage around its downstream (bind).
struct detect_jumps {
  using is_operator = void;
  double threshold;

  template <class Ctx>
  auto output_context(const Ctx&) const {
    static_assert(std::is_same_v<typename Ctx::value_type, tick>, "detect_jumps takes a stream of ticks");
    return laminar::context_of<jump_alert>{};
  }
  template <class Ctx, class Next>
  auto bind(const Ctx&, Next&& next) && {
    return jump_detector_stage<std::remove_cvref_t<Next>>(threshold, std::forward<Next>(next));
  }
};

int main() {
  using namespace laminar;
  std::cout << std::fixed << std::setprecision(2);
  const std::vector<tick> ticks{{"AAPL", 180.00}, {"MSFT", 415.00}, {"AAPL", 180.10}, {"NVDA", 820.00},
                                {"AAPL", 183.90}, {"MSFT", 414.80}, {"NVDA", 790.00}, {"MSFT", 415.10}};

  auto pipeline = from(ticks) | detect_jumps{0.01} | sink([](const jump_alert& a) {
                    std::cout << "jump " << a.symbol << ' ' << a.from << " -> " << a.to << " (" << std::showpos
                              << 100 * (a.to / a.from - 1) << std::noshowpos << "%)\n";
                  });
  pipeline.run_for(5);  // the first five ticks
  std::cout << "checkpoint after 5 ticks, one record per stateful stage:\n";
  const snapshot saved = pipeline.checkpoint(1);
  for (const state_record& r : saved.records()) std::cout << "  " << r.id << ": " << r.bytes.size() << " bytes\n";
  pipeline.run();  // the rest, then the end of stream
}
