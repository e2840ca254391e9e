// Two stateful stages whose load_state the checkpoint targets restore from
// fuzzed bytes (and whose save_state make_seeds.cpp writes the seeds
// with): between them they read a described record, a bool, strings,
// vectors, a map, an optional, and a count checked by read_count.
#pragma once

#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "laminar/core/state_archive.hpp"
#include "records.hpp"

namespace laminar_fuzz {

struct stage_a {
  static constexpr std::string_view state_name = "a";
  using state_types = laminar::state_types<order, std::vector<std::string>, bool>;
  order rec;
  std::vector<std::string> names;
  bool flag = false;
  void save_state(laminar::state_writer& w) const { w(rec, names, flag); }
  void load_state(laminar::state_reader& r) { r(rec, names, flag); }
  /// Reads every bool, as a stage using its state would.
  [[nodiscard]] int use() const { return (rec.hidden ? 1 : 0) + (flag ? 2 : 0) + static_cast<int>(names.size()); }
};

struct stage_b {
  static constexpr std::string_view state_name = "b";
  std::map<std::string, std::int64_t> counts;
  std::vector<std::vector<double>> rows;
  std::optional<std::int32_t> opt;
  std::vector<std::uint64_t> items;
  void save_state(laminar::state_writer& w) const {
    w(counts, rows, opt);
    w(static_cast<std::uint64_t>(items.size()));
    for (const std::uint64_t x : items) w(x);
  }
  void load_state(laminar::state_reader& r) {
    r(counts, rows, opt);
    items.assign(r.read_count("items", sizeof(std::uint64_t)), 0);
    for (std::uint64_t& x : items) r(x);
  }
  [[nodiscard]] int use() const { return static_cast<int>(counts.size() + rows.size() + items.size()) + (opt ? 1 : 0); }
};

}  // namespace laminar_fuzz
