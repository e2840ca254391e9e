// A plain reference model of the slice-based windows (tumbling, hopping,
// cumulate) for differential tests: it keeps every record of every window
// and recomputes results from scratch, enumerating a record's windows by
// brute force. Slow and obviously correct.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include <laminar/laminar.hpp>

#include "support/event_stream.hpp"

namespace laminar::test {

enum class shape { tumbling, hopping, cumulate };

struct window_case {
  shape kind = shape::tumbling;
  std::int64_t size = 0;    // tumbling/hopping size; cumulate max size
  std::int64_t slide = 0;   // hopping slide; cumulate step
  std::int64_t offset = 0;  // in [0, slide or size)
  emit_mode mode = emit_mode::on_close;
  std::int64_t lateness = 0;
};

// sum, count, min, max, first, last of event::value.
using ref_result = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t>;
using ref_row = window_row<std::uint32_t, ref_result>;

inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

/// The windows [start, end) containing t, by ascending end.
inline std::vector<std::pair<std::int64_t, std::int64_t>> windows_of(const window_case& c, std::int64_t t) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  switch (c.kind) {
    case shape::tumbling: {
      const std::int64_t s = floor_div(t - c.offset, c.size) * c.size + c.offset;
      out.emplace_back(s, s + c.size);
      break;
    }
    case shape::hopping: {
      for (std::int64_t s = floor_div(t - c.offset, c.slide) * c.slide + c.offset; s + c.size > t; s -= c.slide) {
        out.emplace_back(s, s + c.size);
      }
      std::reverse(out.begin(), out.end());
      break;
    }
    case shape::cumulate: {
      const std::int64_t p = floor_div(t - c.offset, c.size) * c.size + c.offset;
      for (std::int64_t e = p + c.slide; e <= p + c.size; e += c.slide) {
        if (e > t) out.emplace_back(p, e);
      }
      break;
    }
  }
  return out;
}

/// sum, count, min, max, first and last of the records' values, the way
/// the six aggregates define them (records have .ts and .value; not empty).
template <class Record>
ref_result six_of(const std::vector<Record>& recs) {
  std::int64_t sum = 0, mn = recs[0].value, mx = recs[0].value;
  // first: smallest ts, earliest arrival; last: largest ts, latest arrival.
  Record first = recs[0], last = recs[0];
  for (const Record& r : recs) {
    sum += r.value;
    mn = std::min(mn, r.value);
    mx = std::max(mx, r.value);
    if (r.ts < first.ts) first = r;
    if (r.ts >= last.ts) last = r;
  }
  return ref_result{sum, static_cast<std::int64_t>(recs.size()), mn, mx, first.value, last.value};
}

struct ref_entry {
  std::int64_t ts;
  std::int64_t value;
};

class window_reference {
 public:
  explicit window_reference(window_case c) : c_(c) {}

  /// A record with weight +1 or -1; returns the rows it emits now.
  std::vector<ref_row> on_event(const event& e, std::int64_t w = 1) {
    std::vector<ref_row> out;
    const auto wins = windows_of(c_, e.ts);
    bool any_open = false;
    for (const auto& [s, end] : wins) any_open = any_open || !closed(end);
    if (!any_open) {
      late_.push_back(e);
      return out;
    }
    for (const auto& [s, end] : wins) {
      if (closed(end)) continue;
      auto& recs = state_[{end, e.key}];
      start_[end] = s;
      const bool changes = c_.mode == emit_mode::eager || (c_.mode == emit_mode::on_close && end <= wm_);
      const auto before = changes ? result(recs) : std::nullopt;
      if (w > 0) {
        recs.push_back({e.ts, e.value});
      } else {
        // Remove the most recent equal record.
        for (auto it = recs.rbegin(); it != recs.rend(); ++it) {
          if (it->ts == e.ts && it->value == e.value) {
            recs.erase(std::next(it).base());
            break;
          }
        }
      }
      if (changes) change(out, e.key, s, end, before, result(recs));
    }
    return out;
  }

  std::vector<ref_row> on_watermark(std::int64_t w) {
    std::vector<ref_row> out;
    if (w <= wm_) return out;
    const std::int64_t old = wm_;
    wm_ = w;
    if (c_.mode != emit_mode::eager) {
      const std::int64_t delay = c_.mode == emit_mode::final ? c_.lateness : 0;
      for (const auto& [k, recs] : state_) {
        const auto [end, key] = k;
        const std::int64_t threshold = sat_add(end, delay);
        if (threshold > old && threshold <= w) {
          if (auto r = result(recs)) out.push_back(ref_row{key, ts(start_[end]), ts(end), *r, change_kind::insert});
        }
      }
    }
    // Drop closed windows.
    for (auto it = state_.begin(); it != state_.end();) {
      it = closed(it->first.first) ? state_.erase(it) : std::next(it);
    }
    return out;
  }

  [[nodiscard]] const std::vector<event>& late() const { return late_; }
  [[nodiscard]] std::int64_t output_watermark() const { return wm_ == max64 ? wm_ : wm_ - c_.lateness; }

 private:
  static constexpr std::int64_t min64 = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t max64 = std::numeric_limits<std::int64_t>::max();
  static std::int64_t sat_add(std::int64_t a, std::int64_t b) { return a > max64 - b ? max64 : a + b; }
  static timestamp ts(std::int64_t v) { return timestamp::from_nanos(v); }

  [[nodiscard]] bool closed(std::int64_t end) const { return wm_ != min64 && sat_add(end, c_.lateness) <= wm_; }

  static std::optional<ref_result> result(const std::vector<ref_entry>& recs) {
    if (recs.empty()) return std::nullopt;
    return six_of(recs);
  }

  static void change(std::vector<ref_row>& out, std::uint32_t key, std::int64_t s, std::int64_t end,
                     const std::optional<ref_result>& before, const std::optional<ref_result>& after) {
    if (before && after) {
      out.push_back(ref_row{key, ts(s), ts(end), *before, change_kind::update_before});
      out.push_back(ref_row{key, ts(s), ts(end), *after, change_kind::update_after});
    } else if (after) {
      out.push_back(ref_row{key, ts(s), ts(end), *after, change_kind::insert});
    } else if (before) {
      out.push_back(ref_row{key, ts(s), ts(end), *before, change_kind::remove});
    }
  }

  window_case c_;
  std::int64_t wm_ = min64;
  std::map<std::pair<std::int64_t, std::uint32_t>, std::vector<ref_entry>> state_;  // (end, key) -> records
  std::map<std::int64_t, std::int64_t> start_;                                      // end -> start
  std::vector<event> late_;
};

/// Sorts each batch of rows (what one input message produced) by window
/// end, then key, keeping the order of rows with equal (end, key).
inline void canonical(std::vector<ref_row>& batch) {
  std::stable_sort(batch.begin(), batch.end(), [](const ref_row& a, const ref_row& b) {
    return std::tie(a.end, a.key) < std::tie(b.end, b.key);
  });
}

}  // namespace laminar::test
