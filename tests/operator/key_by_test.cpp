#include <doctest/doctest.h>

#include <laminar/laminar.hpp>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using namespace laminar;

namespace {
struct trade {
  std::string symbol;
  std::int64_t ts;
  int qty;
};

// A keyed operator written against the public protocol: a running sum of a
// value per key, using the key projection that key_by attached upstream.
template <class Ctx, class V, class Next>
class running_sum_stage : public forwarding_stage<Next> {
 public:
  running_sum_stage(Ctx ctx, V value, Next next)
      : forwarding_stage<Next>(std::move(next)), ctx_(std::move(ctx)), value_(std::move(value)) {}
  void on_event(const typename Ctx::value_type& e) {
    auto& sum = sums_[key_of(ctx_, e)];
    sum += std::invoke(value_, e);
    this->next_.on_event(sum);
  }

 private:
  Ctx ctx_;
  V value_;
  std::map<std::remove_cvref_t<decltype(key_of(std::declval<Ctx>(), std::declval<typename Ctx::value_type>()))>, long>
      sums_;
};

template <class V>
struct running_sum {
  using is_operator = void;
  V value;
  template <class Ctx>
  auto output_context(const Ctx&) const {
    return context_of<long>{};
  }
  template <class Ctx, class Next>
  auto bind(const Ctx& ctx, Next&& next) && {
    return running_sum_stage<Ctx, V, std::remove_cvref_t<Next>>(ctx, std::move(value), std::forward<Next>(next));
  }
};
}  // namespace

TEST_CASE("key_by attaches a key projection that a later keyed operator uses") {
  std::vector<trade> in{{"AAPL", 1, 10}, {"MSFT", 2, 5}, {"AAPL", 3, 7}, {"MSFT", 4, 1}};
  std::vector<long> out;
  auto p = from(in) | key_by(&trade::symbol) | running_sum<int trade::*>{&trade::qty} | collect(out);
  p.run();
  CHECK(out == std::vector<long>{10, 5, 17, 6});
}

TEST_CASE("key_by accepts a callable and survives filter and tap") {
  std::vector<trade> in{{"AAPL", 1, 10}, {"MSFT", 2, 5}, {"AAPL", 3, 7}};
  std::vector<long> out;
  auto p = from(in) | key_by([](const trade& t) { return t.symbol.size(); }) |
           filter([](const trade& t) { return t.qty > 1; }) | tap([](const trade&) {}) |
           running_sum<int trade::*>{&trade::qty} | collect(out);
  p.run();
  CHECK(out == std::vector<long>{10, 15, 22});  // every symbol has 4 letters: one key
}

TEST_CASE("key_by and event_time add no stage and show in the context") {
  auto ctx = stream_context<trade>{};
  auto keyed = key_by(&trade::symbol).output_context(ctx);
  static_assert(decltype(keyed)::keyed() && !decltype(keyed)::timed());
  auto timed = event_time(&trade::ts).output_context(keyed);
  static_assert(decltype(timed)::keyed() && decltype(timed)::timed());
  trade t{"NVDA", 42, 1};
  CHECK(key_of(timed, t) == "NVDA");
  CHECK(time_of(timed, t) == timestamp::from_nanos(42));
  // map changes the record type, so the projections are dropped.
  auto mapped = map([](const trade& x) { return x.qty; }).output_context(timed);
  static_assert(!decltype(mapped)::keyed() && !decltype(mapped)::timed());

  std::vector<int> out;
  auto chain = make_chain<int>(key_by([](int x) { return x % 2; }) | collect(out));
  static_assert(std::is_same_v<decltype(chain), collect_sink<int, int, std::allocator<int>>>);
}
