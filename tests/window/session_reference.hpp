// A plain reference model of session windows for differential tests: per key
// it keeps every record of the sessions still open and, after every input,
// recomputes the sessions from scratch (sort by time, sweep: a record within
// `gap` of the running session's last record joins it). The rows it emits
// come from diffing what is out (visible) before and after: no incremental
// merging, no timers. Slow and obviously correct.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include <laminar/laminar.hpp>

#include "support/event_stream.hpp"
#include "window/window_reference.hpp"  // ref_result, ref_row

namespace laminar::test {

struct session_case {
  std::int64_t gap = 0;
  emit_mode mode = emit_mode::on_close;
  std::int64_t lateness = 0;
  bool keyed_watermarks = false;
  std::int64_t out_of_orderness = 0;
};

class session_reference {
 public:
  explicit session_reference(session_case c) : c_(c) {}

  /// A record; returns the rows it emits now.
  std::vector<ref_row> on_event(const event& e) {
    std::vector<ref_row> out;
    key_data& k = keys_[e.key];
    const std::int64_t w = effective(k);
    const std::int64_t end = sat_add(e.ts, c_.gap);
    bool touches = false;
    for (const session& s : sessions(k.records)) touches = touches || (s.start <= end && e.ts <= s.end);
    if (!touches && sat_add(end, c_.lateness) <= w) {
      late_.push_back(e);
      return out;
    }
    k.records.push_back({e.ts, e.value});
    session now{};
    for (const session& s : sessions(k.records)) {
      if (s.start <= e.ts && e.ts <= s.end) now = s;
    }
    // The rows out for sessions the record's session now covers.
    std::vector<std::pair<std::pair<std::int64_t, std::int64_t>, ref_result>> before;
    for (auto it = k.visible.begin(); it != k.visible.end();) {
      if (now.start <= it->first.first && it->first.second <= now.end) {
        before.emplace_back(*it);
        it = k.visible.erase(it);
      } else {
        ++it;
      }
    }
    const bool visible = c_.mode == emit_mode::eager ||
                         (c_.mode == emit_mode::on_close && (!before.empty() || now.end <= w));
    const bool same = before.size() == 1 && before[0].first == std::pair{now.start, now.end};
    for (const auto& [bounds, value] : before) {
      out.push_back(row(e.key, bounds.first, bounds.second, value, same ? change_kind::update_before : change_kind::remove));
    }
    if (visible) {
      const ref_result r = result(now.records);
      k.visible[{now.start, now.end}] = r;
      out.push_back(row(e.key, now.start, now.end, r, same ? change_kind::update_after : change_kind::insert));
    }
    if (c_.keyed_watermarks && e.ts > k.highest) {
      k.highest = e.ts;
      settle(e.key, k, out);
    }
    return out;
  }

  std::vector<ref_row> on_watermark(std::int64_t w) {
    std::vector<ref_row> out;
    if (w <= wm_) return out;
    wm_ = w;
    for (auto& [key, k] : keys_) settle(key, k, out);
    return out;
  }

  [[nodiscard]] const std::vector<event>& late() const { return late_; }
  [[nodiscard]] std::size_t open_sessions() const {
    std::size_t n = 0;
    for (const auto& [key, k] : keys_) n += sessions(k.records).size();
    return n;
  }

 private:
  static constexpr std::int64_t min64 = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t max64 = std::numeric_limits<std::int64_t>::max();
  static std::int64_t sat_add(std::int64_t a, std::int64_t b) { return a > max64 - b ? max64 : a + b; }
  static std::int64_t sat_sub(std::int64_t a, std::int64_t b) { return a < min64 + b ? min64 : a - b; }

  struct record {
    std::int64_t ts;
    std::int64_t value;
  };
  struct session {
    std::int64_t start = 0;
    std::int64_t end = 0;
    std::vector<record> records;  // in arrival order
  };
  struct key_data {
    std::vector<record> records;  // of its open sessions, in arrival order
    std::map<std::pair<std::int64_t, std::int64_t>, ref_result> visible;  // (start, end) -> the row out now
    std::int64_t highest = min64;
  };

  [[nodiscard]] std::int64_t effective(const key_data& k) const {
    return c_.keyed_watermarks ? std::max(sat_sub(k.highest, c_.out_of_orderness), wm_) : wm_;
  }

  // The sessions of the records, by start, each with its records in arrival order.
  [[nodiscard]] std::vector<session> sessions(const std::vector<record>& records) const {
    std::vector<record> by_time = records;
    std::stable_sort(by_time.begin(), by_time.end(), [](const record& a, const record& b) { return a.ts < b.ts; });
    std::vector<session> out;
    for (const record& r : by_time) {
      if (out.empty() || r.ts > out.back().end) {
        out.push_back({r.ts, sat_add(r.ts, c_.gap), {}});
      } else {
        out.back().end = std::max(out.back().end, sat_add(r.ts, c_.gap));
      }
    }
    for (const record& r : records) {
      for (session& s : out) {
        if (s.start <= r.ts && r.ts <= s.end) s.records.push_back(r);
      }
    }
    return out;
  }

  // Fires and closes what the key's watermark has passed.
  void settle(std::uint32_t key, key_data& k, std::vector<ref_row>& out) {
    const std::int64_t w = effective(k);
    for (const session& s : sessions(k.records)) {
      if (s.end > w) break;
      const std::pair bounds{s.start, s.end};
      if (c_.mode == emit_mode::on_close && !k.visible.contains(bounds)) {
        k.visible[bounds] = result(s.records);
        out.push_back(row(key, s.start, s.end, result(s.records), change_kind::insert));
      }
      if (sat_add(s.end, c_.lateness) <= w) {
        if (c_.mode == emit_mode::final) out.push_back(row(key, s.start, s.end, result(s.records), change_kind::insert));
        k.visible.erase(bounds);
        std::erase_if(k.records, [&](const record& r) { return s.start <= r.ts && r.ts <= s.end; });
      }
    }
  }

  static ref_result result(const std::vector<record>& recs) { return six_of(recs); }

  static ref_row row(std::uint32_t key, std::int64_t start, std::int64_t end, const ref_result& v, change_kind kind) {
    return ref_row{key, timestamp::from_nanos(start), timestamp::from_nanos(end), v, kind};
  }

  session_case c_;
  std::int64_t wm_ = min64;
  std::map<std::uint32_t, key_data> keys_;
  std::vector<event> late_;
};

}  // namespace laminar::test
