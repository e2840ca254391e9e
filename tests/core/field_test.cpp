#include <doctest/doctest.h>

#include <laminar/laminar.hpp>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

using namespace laminar;

namespace {
struct trade {
  std::int64_t ts;
  std::uint32_t symbol;
  std::int64_t qty;
  std::string venue;
};
}  // namespace

TEST_CASE("field<&T::m> reads the member, by reference and without state") {
  static_assert(std::is_empty_v<field_projection<&trade::qty>>);
  const trade t{5, 7, 100, "XNAS"};
  CHECK(field<&trade::qty>(t) == 100);
  CHECK(&field<&trade::venue>(t) == &t.venue);  // no copy of a string field
  static_assert(std::is_same_v<decltype(field<&trade::symbol>(t)), const std::uint32_t&>);
}

TEST_CASE("field projections give the same windows as member pointers") {
  std::vector<trade> trades;
  for (std::int64_t i = 0; i < 2000; ++i) {
    trades.push_back({i * 1'000'000 + (i % 7) * 100'000, static_cast<std::uint32_t>(i % 13), i % 50, "X"});
  }
  const auto strategy = bounded_out_of_orderness(duration::from_nanos(1'000'000));
  std::vector<window_row<std::uint32_t, std::int64_t>> by_pointer;
  std::vector<window_row<std::uint32_t, std::int64_t>> by_field;
  auto a = from(trades) | with_watermarks(&trade::ts, strategy) | key_by(&trade::symbol) |
           tumbling(std::chrono::milliseconds(100)).aggregate(sum(&trade::qty)) |
           sink([&](const auto& row) { by_pointer.push_back(row); });
  a.run();
  auto b = from(trades) | with_watermarks(field<&trade::ts>, strategy) | key_by(field<&trade::symbol>) |
           tumbling(std::chrono::milliseconds(100)).aggregate(sum(field<&trade::qty>)) |
           sink([&](const auto& row) { by_field.push_back(row); });
  b.run();
  REQUIRE(by_pointer.size() > 100);
  REQUIRE(by_pointer.size() == by_field.size());
  for (std::size_t i = 0; i < by_pointer.size(); ++i) {
    CHECK(by_pointer[i].key == by_field[i].key);
    CHECK(by_pointer[i].start == by_field[i].start);
    CHECK(by_pointer[i].value == by_field[i].value);
  }
}
