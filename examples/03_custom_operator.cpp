// 03 · A keyed custom operator: a per-symbol price-jump detector written
// against the public protocol only (docs/custom-operators.md walks through
// it). It reads each tick's key and event time from the stream's context,
// where key_by and with_watermarks put them; keeps each symbol's newest tick
// in a slot_table, laminar's keyed state; frees the symbols the watermark has
// left behind; and saves its state by key group in checkpoints. The program
// checkpoints it part way, restores a fresh pipeline from the checkpoint's
// bytes, and checks that the two halves alert exactly as one uninterrupted
// run does.
#include <laminar/laminar.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

struct tick {
  std::int64_t ts;       // event time, ns since the epoch
  std::uint32_t symbol;  // a symbol id
  double price;
};

struct jump_alert {
  std::uint32_t symbol;
  std::int64_t ts;  // the tick that jumped
  double from, to;
  friend bool operator==(const jump_alert&, const jump_alert&) = default;
};

// A symbol's state: its newest tick. The slot_table holds one per key in a
// stable slot; reset() clears a freed slot for the next key, and serialize()
// is how a checkpoint saves it.
struct last_tick {
  laminar::timestamp ts = laminar::timestamp::min();
  double price = 0;
  void reset() noexcept { *this = last_tick{}; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(ts, price);
  }
};

// The stage. forwarding_stage passes on every message it does not handle
// (processing time, the end, checkpoint outcomes); this one handles records,
// watermarks and barriers, and passes each of them on itself.
template <class Ctx, class Next>
class jump_detector_stage : public laminar::forwarding_stage<Next> {
 public:
  // Its checkpoint id ("jump_detector", or "<uid>/jump_detector" inside uid()).
  static constexpr std::string_view state_name = "jump_detector";
  // The key key_by named: here the symbol id. Ctx::key_type is the projection.
  using key_type = std::remove_cvref_t<std::invoke_result_t<const typename Ctx::key_type&, const tick&>>;
  // What its state is made of: a checkpoint records their layout, so a
  // build whose last_tick::serialize changed is refused by name.
  using state_types = laminar::state_types<key_type, last_tick>;

  jump_detector_stage(Ctx ctx, double threshold, laminar::duration horizon, Next next)
      : laminar::forwarding_stage<Next>(std::move(next)), ctx_(std::move(ctx)), threshold_(threshold),
        horizon_(horizon) {}

  void on_event(const tick& t) {
    const laminar::timestamp ts = laminar::time_of(ctx_, t);  // the event time with_watermarks named
    if (ts < watermark_) {  // late: its symbol's state may be gone
      ++skipped_;
      return;
    }
    const key_type symbol = laminar::key_of(ctx_, t);  // the key key_by named
    std::uint32_t s = symbols_.find(symbol);
    if (s == table::npos) s = symbols_.insert(symbol);  // a fresh slot: ts is the beginning of time
    last_tick& last = symbols_.state(s);
    if (ts < last.ts) {  // older than the symbol's newest tick: nothing to compare it with
      ++skipped_;
      return;
    }
    if (last.ts != laminar::timestamp::min() && ts - last.ts <= horizon_ &&
        std::abs(t.price / last.price - 1.0) > threshold_) {
      this->next_.on_event(jump_alert{symbol, ts.nanos(), last.price, t.price});
    }
    last = {ts, t.price};
  }

  // No tick at or after the watermark is within the horizon of a tick older
  // than watermark - horizon, so those symbols are freed: state stays
  // bounded by the symbols active in the last horizon. The scan runs once
  // per horizon of event time, not per watermark.
  void on_watermark(laminar::timestamp w) {
    watermark_ = w;
    if (w >= next_sweep_) {
      for (std::uint32_t s = 0; s < symbols_.slot_count(); ++s) {
        if (symbols_.live(s) && symbols_.state(s).ts < w - horizon_) symbols_.erase(s);
      }
      next_sweep_ = w + horizon_;
    }
    this->next_.on_watermark(w);
  }

  // A snapshot barrier saves the state, a restore barrier loads it: one path.
  void on_barrier(const laminar::checkpoint_barrier& barrier) {
    barrier.checkpoint(*this);
    this->next_.on_barrier(barrier);
  }
  // Keyed state is saved by key group (save_slots), the unit in which a
  // graph's exchange assigns keys to instances; each key keeps its slot.
  void save_state(laminar::state_writer& w) const {
    w(watermark_, next_sweep_, skipped_);
    laminar::save_slots(w, symbols_, [&w](const last_tick& last) { w(last); });
  }
  void load_state(laminar::state_reader& r) {
    r(watermark_, next_sweep_, skipped_);
    laminar::load_slots(r, symbols_, [&r](std::uint32_t, last_tick& last) { r(last); });
  }

  /// Symbols held now.
  [[nodiscard]] std::size_t symbols() const noexcept { return symbols_.size(); }
  /// Ticks skipped: behind the watermark, or older than their symbol's newest.
  [[nodiscard]] std::uint64_t skipped() const noexcept { return skipped_; }

 private:
  using table = laminar::slot_table<key_type, last_tick>;

  [[no_unique_address]] Ctx ctx_;
  double threshold_;
  laminar::duration horizon_;
  table symbols_;
  laminar::timestamp watermark_ = laminar::timestamp::min();
  laminar::timestamp next_sweep_ = laminar::timestamp::min();
  std::uint64_t skipped_ = 0;
};

// The factory: a plain value composed with `|`. output_context says what
// comes out (and checks what goes in); bind builds the stage around the
// already-built rest of the chain.
struct detect_jumps {
  using is_operator = void;
  double threshold;           // a relative move, 0.01 = 1%
  laminar::duration horizon;  // compared with the symbol's last tick only if it is this recent

  template <class Ctx>
  auto output_context(const Ctx&) const {
    static_assert(std::is_same_v<typename Ctx::value_type, tick>, "detect_jumps takes a stream of ticks");
    static_assert(Ctx::keyed(), "detect_jumps is keyed: put key_by(...) before it");
    static_assert(Ctx::timed(), "detect_jumps reads event time: put with_watermarks(...) before it");
    // Alerts carry their own key and event time, so a keyed or event-time
    // operator (a window counting alerts per symbol) can follow.
    return laminar::context_of<jump_alert>{}.with_key(&jump_alert::symbol).with_time(&jump_alert::ts);
  }
  template <class Ctx, class Next>
  auto bind(const Ctx& ctx, Next&& next) && {
    (void)output_context(ctx);
    return jump_detector_stage<Ctx, std::remove_cvref_t<Next>>(ctx, threshold, horizon, std::forward<Next>(next));
  }
};

constexpr std::array<const char*, 3> names{"AAPL", "MSFT", "NVDA"};
constexpr std::int64_t ms = 1'000'000;

// Ticks as a feed delivers them: slightly out of order, a late one, and a
// quiet spell longer than the horizon.
const std::vector<tick> ticks{
    {0 * ms, 0, 180.00},   {1 * ms, 1, 415.00},   {2 * ms, 0, 180.10},  {3 * ms, 2, 820.00},
    {5 * ms, 0, 183.90},   // AAPL +2.1% in 3 ms: an alert
    {4 * ms, 1, 414.80},   // out of order, but on time (the watermark is 3 ms)
    {8 * ms, 2, 790.00},   // NVDA -3.7%: an alert
    {9 * ms, 1, 415.10},   {6 * ms, 0, 190.00},  // late: behind the watermark (7 ms), skipped
    {120 * ms, 1, 430.00},  // MSFT +3.6%, but 111 ms after its last tick: no alert
    {121 * ms, 2, 800.00}, {125 * ms, 2, 830.00},  // NVDA +3.75% in 4 ms: an alert
};

template <class Out>
auto detector(Out& out) {
  using namespace std::chrono_literals;
  return laminar::from(ticks) | laminar::with_watermarks(&tick::ts, laminar::bounded_out_of_orderness(2ms)) |
         laminar::key_by(&tick::symbol) | detect_jumps{0.01, 50ms} |
         laminar::sink([&out](const jump_alert& a) { out.push_back(a); });
}

void print(const jump_alert& a) {
  std::printf("  %-4s at %3lld ms: %.2f -> %.2f (%+.2f%%)\n", names[a.symbol], static_cast<long long>(a.ts / ms),
              a.from, a.to, 100 * (a.to / a.from - 1));
}

int main() {
  // One uninterrupted run: the reference.
  std::vector<jump_alert> whole;
  auto reference = detector(whole);
  reference.run();

  // The first seven ticks, then a checkpoint, written out as bytes.
  std::vector<jump_alert> alerts;
  auto first = detector(alerts);
  first.run_for(7);
  const std::string bytes = first.checkpoint(1).to_bytes();
  std::printf("checkpoint 1 after 7 ticks (%zu symbols held):\n", first.chain().symbols());
  for (const laminar::state_record& r : laminar::snapshot::from_bytes(bytes).records()) {
    std::printf("  %-20s %3zu bytes\n", r.id.c_str(), r.bytes.size());
  }

  // A fresh pipeline restored from the bytes goes on where the first stopped.
  auto second = detector(alerts);
  second.restore(laminar::snapshot::from_bytes(bytes));
  second.run();

  std::printf("alerts (a move of more than 1%% within 50 ms of the symbol's last tick):\n");
  for (const jump_alert& a : alerts) print(a);
  std::printf("ticks skipped: %llu; symbols held after the end of the stream: %zu\n",
              static_cast<unsigned long long>(second.chain().skipped()), second.chain().symbols());
  const bool same = alerts == whole;
  std::printf("checkpointed and restored run %s the uninterrupted one\n", same ? "matches" : "DIFFERS FROM");
  return same && alerts.size() == 3 && second.chain().skipped() == 1 ? 0 : 1;
}
