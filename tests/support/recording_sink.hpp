// A sink that records every message it receives, in order, so tests can
// check events, watermarks, barriers, the end, processing time and
// checkpoint outcomes against an expected trace.
#pragma once

#include <cstdint>
#include <ostream>
#include <variant>
#include <vector>

#include <laminar/core/checkpoint.hpp>
#include <laminar/core/stage.hpp>
#include <laminar/core/time.hpp>

namespace laminar::test {

struct barrier_seen {
  std::uint64_t id;
  bool restoring;
  friend bool operator==(const barrier_seen&, const barrier_seen&) = default;
};
struct end_seen {
  friend bool operator==(const end_seen&, const end_seen&) = default;
};
struct tick_seen {
  timestamp now;
  friend bool operator==(const tick_seen&, const tick_seen&) = default;
};
struct complete_seen {
  std::uint64_t id;
  friend bool operator==(const complete_seen&, const complete_seen&) = default;
};
struct abort_seen {
  std::uint64_t id;
  friend bool operator==(const abort_seen&, const abort_seen&) = default;
};

template <class T>
using message = std::variant<T, timestamp, barrier_seen, end_seen, tick_seen, complete_seen, abort_seen>;

template <class T>
std::ostream& operator<<(std::ostream& os, const message<T>& m) {
  if (auto* e = std::get_if<T>(&m)) return os << "event " << *e;
  if (auto* w = std::get_if<timestamp>(&m)) return os << "watermark " << *w;
  if (auto* b = std::get_if<barrier_seen>(&m)) return os << "barrier " << b->id << (b->restoring ? " (restore)" : "");
  if (auto* t = std::get_if<tick_seen>(&m)) return os << "processing time " << t->now;
  if (auto* c = std::get_if<complete_seen>(&m)) return os << "checkpoint " << c->id << " complete";
  if (auto* a = std::get_if<abort_seen>(&m)) return os << "checkpoint " << a->id << " aborted";
  return os << "end";
}

template <class T>
class recording_sink {
 public:
  explicit recording_sink(std::vector<message<T>>& out) : out_(&out) {}
  void on_event(const T& e) { out_->push_back(e); }
  void on_watermark(timestamp w) { out_->push_back(w); }
  void on_barrier(const checkpoint_barrier& b) { out_->push_back(barrier_seen{b.id(), b.restoring()}); }
  void on_end() { out_->push_back(end_seen{}); }
  void on_processing_time(timestamp now) { out_->push_back(tick_seen{now}); }
  void on_checkpoint_complete(std::uint64_t id) { out_->push_back(complete_seen{id}); }
  void on_checkpoint_abort(std::uint64_t id) { out_->push_back(abort_seen{id}); }

 private:
  std::vector<message<T>>* out_;
};

template <class T>
struct record_factory {
  using is_sink = void;
  std::vector<message<T>>* out;
  template <class Ctx>
  auto bind(const Ctx&) && {
    return recording_sink<T>(*out);
  }
};

/// Ends a chain by recording every message into `out`.
template <class T>
auto record(std::vector<message<T>>& out) {
  return record_factory<T>{&out};
}

/// The watermarks of a trace, in order.
template <class T>
std::vector<timestamp> watermarks_of(const std::vector<message<T>>& trace) {
  std::vector<timestamp> out;
  for (const auto& m : trace) {
    if (auto* w = std::get_if<timestamp>(&m)) out.push_back(*w);
  }
  return out;
}

/// The events of a trace, in order.
template <class T>
std::vector<T> events_of(const std::vector<message<T>>& trace) {
  std::vector<T> out;
  for (const auto& m : trace) {
    if (auto* e = std::get_if<T>(&m)) out.push_back(*e);
  }
  return out;
}

}  // namespace laminar::test
