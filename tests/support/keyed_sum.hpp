// A keyed running sum, written against the public operator protocol: for
// each record it adds value(record) to its key's total and emits
// {key, total}. Stateful (checkpointed). Stands in for keyed windows in the
// runtime's tests.
#pragma once

#include <cereal/types/unordered_map.hpp>

#include <cstdint>
#include <functional>
#include <ostream>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <laminar/laminar.hpp>

namespace laminar::test {

struct key_total {
  std::uint64_t key = 0;
  std::int64_t total = 0;
  friend bool operator==(const key_total&, const key_total&) = default;
  friend std::ostream& operator<<(std::ostream& os, const key_total& k) {
    return os << "{key " << k.key << ", total " << k.total << "}";
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(key, total);
  }
};

template <class Ctx, class Value, class Next>
class keyed_sum_stage : public forwarding_stage<Next> {
 public:
  keyed_sum_stage(Ctx ctx, Value value, Next next)
      : forwarding_stage<Next>(std::move(next)), ctx_(std::move(ctx)), value_(std::move(value)) {}

  void on_event(const typename Ctx::value_type& e) {
    const auto key = static_cast<std::uint64_t>(key_of(ctx_, e));
    auto& total = totals_[key];
    total += static_cast<std::int64_t>(std::invoke(value_, e));
    this->next_.on_event(key_total{key, total});
  }
  void on_barrier(const checkpoint_barrier& b) {
    b.checkpoint(*this);
    this->next_.on_barrier(b);
  }
  void save_state(state_writer& w) const { w(totals_); }
  // Rescalable the way a user's keyed operator is: keep the keys of the key
  // groups this instance owns, add a later part's to the earlier's. (The
  // exchange hashes the record's key, a std::uint32_t; std::hash of an
  // integer is its value, so its std::uint64_t copy lands in the same group.)
  static constexpr bool rescalable = true;
  void load_state(state_reader& r) {
    std::unordered_map<std::uint64_t, std::int64_t> saved;
    r(saved);
    if (!r.merging()) totals_.clear();
    for (const auto& [key, total] : saved) {
      if (!r.rescaling() || r.owns_key_group(key_group_of(key, r.key_groups()))) totals_[key] = total;
    }
  }

 private:
  Ctx ctx_;
  Value value_;
  std::unordered_map<std::uint64_t, std::int64_t> totals_;
};

template <class Value>
struct keyed_sum_operator {
  using is_operator = void;
  Value value;
  template <class Ctx>
  auto output_context(const Ctx&) const {
    return stream_context<key_total>{}.with_key(&key_total::key);
  }
  template <class Ctx, class Next>
  auto bind(const Ctx& ctx, Next&& next) && {
    return keyed_sum_stage<Ctx, Value, std::remove_cvref_t<Next>>(ctx, std::move(value), std::forward<Next>(next));
  }
};

/// A running sum of value(record) per key (from the key_by upstream).
template <class Value>
auto keyed_sum(Value value) {
  return keyed_sum_operator<Value>{std::move(value)};
}

}  // namespace laminar::test
