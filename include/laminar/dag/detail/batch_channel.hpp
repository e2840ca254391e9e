// The channel between two node instances of a graph: one producer thread,
// one consumer thread, carrying a stream of T in batches.
//
// A batch (a frame) is a run of up to `batch` records stored densely, with
// the watermarks that fell between them as marks (a watermark and the
// number of the frame's records before it); a checkpoint barrier and the
// end of the stream are frames of their own. The producer fills a frame in
// place, unseen, and publishes it whole: when it is full, when the channel
// is full, and when the producing node's step ends. The consumer reads a
// frame as a span of records, so a node's input loop is one plain loop over
// the records into its chain between marks: no per-record variant, atomic
// or call through a pointer.
//
// A watermark costs what a record does: a mark in the frame, no message of
// its own. One that directly follows another unpublished one may replace
// it (the producer decides: see dag/detail/output.hpp).
//
// Like spsc_channel (channel/spsc.hpp), each frame's header carries a stamp,
// which the consumer polls; the producer reads the consumer's position only
// when its cached copy says the ring is full.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "laminar/channel/detail/cpu.hpp"
#include "laminar/core/time.hpp"
#include "laminar/dag/message.hpp"

namespace laminar::detail {

/// A watermark inside a frame: it comes after the frame's first `at` records.
struct frame_mark {
  std::uint32_t at = 0;
  timestamp watermark{};
};

enum class frame_kind : std::uint8_t { data, barrier, end };

/// What the consumer reads: one frame, valid until it is popped.
template <class T>
struct frame_view {
  frame_kind kind = frame_kind::data;
  T* records = nullptr;  // data: the records, in order
  std::uint32_t count = 0;
  const frame_mark* marks = nullptr;  // data: in order of `at`
  std::uint32_t mark_count = 0;
  barrier_token token{};  // barrier

  /// From `from`, calls run(first, n) for each run of records and mark(w)
  /// for each watermark, in stream order. Either may return false to stop
  /// the walk after it; the walk returns the position after what it handed
  /// out (records, and marks passed): {count, mark_count} when it went
  /// through.
  struct position {
    std::uint32_t record = 0;
    std::uint32_t mark = 0;
  };
  template <class Run, class Mark>
  position walk(Run&& run, Mark&& mark, position from = {}) const {
    std::uint32_t r = from.record;
    for (std::uint32_t m = from.mark; m < mark_count; ++m) {
      if (marks[m].at > r) {
        if (!run(records + r, marks[m].at - r)) return {marks[m].at, m};
        r = marks[m].at;
      }
      if (!mark(marks[m].watermark)) return {r, m + 1};
    }
    if (count > r) {
      if (!run(records + r, count - r)) return {count, mark_count};
    }
    return {count, mark_count};
  }
};

template <class T>
class batch_channel {
  static_assert(std::is_nothrow_move_constructible_v<T>, "a graph edge needs a nothrow-movable record type");
  static_assert(std::is_nothrow_destructible_v<T>, "a graph edge needs a record type whose destructor does not throw");

  // A line of its own: the producer fills one frame while the consumer reads another.
  struct alignas(cache_line) header {
    std::uint32_t count = 0;
    std::uint32_t marks = 0;
    frame_kind kind = frame_kind::data;
    barrier_token token{};
    std::atomic<std::uint64_t> stamp{0};  // position + 1 once published
  };

 public:
  using value_type = T;

  /// Holds about `capacity` records in frames of at most `batch` (both at
  /// least 1; the batch is at most half the capacity, so that at least two
  /// frames fit, and the frame count is a power of two).
  batch_channel(std::size_t capacity, std::size_t batch)
      : batch_(static_cast<std::uint32_t>(clamp_batch(capacity, batch))),
        mark_cap_(batch_ + 1),
        mask_(frames_for(capacity, batch_) - 1),
        headers_(std::make_unique<header[]>(mask_ + 1)),
        stride_((sizeof(T) * batch_ + cache_line - 1) / cache_line * cache_line),
        records_(static_cast<unsigned char*>(::operator new(stride_ * (mask_ + 1), std::align_val_t{record_align}))),
        mark_arena_(std::make_unique<frame_mark[]>(static_cast<std::size_t>(mark_cap_) * (mask_ + 1))) {}

  batch_channel(const batch_channel&) = delete;
  batch_channel& operator=(const batch_channel&) = delete;

  ~batch_channel() {
    // Both sides are gone: every frame past the consumer is ours, published or staged.
    close_open();
    const std::uint64_t end = head_.load(std::memory_order_relaxed) + staged_;
    for (std::uint64_t p = pos_; p != end; ++p) destroy_records(p);
    ::operator delete(static_cast<void*>(records_), std::align_val_t{record_align});
  }

  /// Frames the channel holds.
  [[nodiscard]] std::size_t frames() const noexcept { return mask_ + 1; }

  // ---- producer thread ----

  /// Appends a record; publishes the frame when it is full. false when the
  /// channel is full: what was staged is then published, and the record is
  /// not taken.
  bool try_record(const T& e) {
    if (!open_ || count_ == batch_) {
      if (!claim(frame_kind::data)) return false;
    }
    // The frame's counters are the producer's own until the frame closes:
    // its header line is not written per record.
    ::new (static_cast<void*>(open_records_ + count_)) T(e);
    if (++count_ == batch_) publish();
    return true;
  }

  /// Appends a watermark; with `may_replace`, one that directly follows
  /// another unpublished one replaces it. false when the channel is full
  /// (staged frames are then published).
  bool try_watermark(timestamp w, bool may_replace) {
    if (open_) {
      if (may_replace && open_mark_count_ != 0 && open_marks_[open_mark_count_ - 1].at == count_) {
        open_marks_[open_mark_count_ - 1].watermark = w;
        return true;
      }
      if (open_mark_count_ < mark_cap_) {
        open_marks_[open_mark_count_++] = frame_mark{count_, w};
        return true;
      }
    }
    if (!claim(frame_kind::data)) return false;
    open_marks_[0] = frame_mark{0, w};
    open_mark_count_ = 1;
    return true;
  }

  /// Appends a barrier or the end: a frame of its own.
  bool try_control(frame_kind kind, barrier_token token = {}) {
    if (!claim(kind)) return false;
    headers_[(head_.load(std::memory_order_relaxed) + staged_ - 1) & mask_].token = token;
    return true;
  }

  /// Publishes the staged frames, in order.
  void publish() noexcept {
    close_open();
    if (staged_ == 0) return;
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    std::uint64_t records = 0;
    for (std::uint64_t i = 0; i < staged_; ++i) {
      header& h = headers_[(head + i) & mask_];
      records += h.count;
      h.stamp.store(head + i + 1, std::memory_order_release);
    }
    head_.store(head + staged_, std::memory_order_relaxed);
    records_in_ += records;
    records_published_.store(records_in_, std::memory_order_relaxed);
    staged_ = 0;
  }

  // ---- consumer thread ----

  /// The next published frame, left in the channel: a consumer that stops
  /// partway (a join whose other input takes the lead) resumes it later
  /// from where it stopped, and pop()s it when done.
  [[nodiscard]] std::optional<frame_view<T>> peek() noexcept {
    header& h = headers_[pos_ & mask_];
    if (h.stamp.load(std::memory_order_acquire) != pos_ + 1) return std::nullopt;
    return frame_view<T>{h.kind, records_of(pos_), h.count, marks_of(pos_), h.marks, h.token};
  }
  /// Releases the frame peek() returned: its records are destroyed.
  void pop() noexcept {
    records_out_ += headers_[pos_ & mask_].count;
    destroy_records(pos_);
    release_to(pos_ + 1);
  }

  /// Whether a frame is ready to read.
  [[nodiscard]] bool ready() const noexcept {
    return headers_[pos_ & mask_].stamp.load(std::memory_order_acquire) == pos_ + 1;
  }

  // ---- any thread ----

  /// Records published and not yet read: approximate while either side is
  /// busy (each side counts once per publish or read).
  [[nodiscard]] std::size_t queued_records() const noexcept {
    const std::uint64_t read = records_read_.load(std::memory_order_relaxed);
    const std::uint64_t published = records_published_.load(std::memory_order_relaxed);
    return static_cast<std::size_t>(published > read ? published - read : 0);
  }

  /// Frames published and not yet read: approximate while either side is busy.
  [[nodiscard]] std::size_t size() const noexcept {
    const std::uint64_t tail = tail_.load(std::memory_order_acquire);
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    const std::uint64_t n = head - tail;
    return static_cast<std::size_t>(n > mask_ + 1 ? mask_ + 1 : n);
  }

 private:
  static constexpr std::size_t record_align = alignof(T) > cache_line ? alignof(T) : cache_line;

  static std::size_t clamp_batch(std::size_t capacity, std::size_t batch) noexcept {
    std::size_t b = batch < 1 ? 1 : batch;
    const std::size_t half = capacity / 2;
    if (b > half) b = half < 1 ? 1 : half;
    return b > (std::size_t{1} << 20) ? (std::size_t{1} << 20) : b;
  }
  static std::size_t frames_for(std::size_t capacity, std::size_t batch) noexcept {
    const std::size_t n = (capacity + batch - 1) / batch;
    return std::bit_ceil(n < 2 ? std::size_t{2} : n);
  }

  [[nodiscard]] T* records_of(std::uint64_t p) const noexcept {
    return std::launder(reinterpret_cast<T*>(records_ + (p & mask_) * stride_));
  }
  [[nodiscard]] frame_mark* marks_of(std::uint64_t p) const noexcept {
    return mark_arena_.get() + (p & mask_) * mark_cap_;
  }

  // The open frame's counters into its header: it takes no more.
  void close_open() noexcept {
    if (!open_) return;
    header& h = headers_[(head_.load(std::memory_order_relaxed) + staged_ - 1) & mask_];
    h.count = count_;
    h.marks = open_mark_count_;
    open_ = false;
  }

  // Stages a new empty frame of `kind`; false (after publishing what was
  // staged, for the consumer to make room) when none fits.
  bool claim(frame_kind kind) noexcept {
    close_open();
    const std::uint64_t at = head_.load(std::memory_order_relaxed) + staged_;
    if (at - tail_cache_ > mask_) {
      const std::uint64_t tail = tail_.load(std::memory_order_acquire);
      tail_cache_ = tail;
      if (at - tail > mask_) {
        publish();
        return false;
      }
    }
    header& h = headers_[at & mask_];
    h.count = 0;
    h.marks = 0;
    h.kind = kind;
    ++staged_;
    if (kind == frame_kind::data) {
      open_ = true;
      count_ = 0;
      open_mark_count_ = 0;
      open_records_ = records_of(at);
      open_marks_ = marks_of(at);
      // The frame's lines were last read by the consumer's core: ask for
      // them now, so they arrive while the first records are written.
      const auto* bytes = reinterpret_cast<const unsigned char*>(open_records_);
      for (std::size_t b = 0; b < stride_; b += cache_line) __builtin_prefetch(bytes + b, 1);
    }
    return true;
  }

  void destroy_records(std::uint64_t p) noexcept {
    header& h = headers_[p & mask_];
    if constexpr (!std::is_trivially_destructible_v<T>) {
      T* r = records_of(p);
      for (std::uint32_t i = 0; i < h.count; ++i) r[i].~T();
    } else {
      (void)h;
    }
  }

  void release_to(std::uint64_t pos) noexcept {
    if (pos == pos_) return;
    pos_ = pos;
    tail_.store(pos, std::memory_order_release);
    records_read_.store(records_out_, std::memory_order_relaxed);
  }

  // Read-only after construction.
  const std::uint32_t batch_;
  const std::uint32_t mark_cap_;
  const std::uint64_t mask_;
  std::unique_ptr<header[]> headers_;
  const std::size_t stride_;  // bytes per frame's records, whole lines
  unsigned char* records_;
  std::unique_ptr<frame_mark[]> mark_arena_;
  // The producer's line.
  alignas(cache_line) std::atomic<std::uint64_t> head_{0};
  std::uint64_t tail_cache_ = 0;
  std::uint64_t staged_ = 0;
  std::uint64_t records_in_ = 0;  // records published, and its copy for other threads
  std::atomic<std::uint64_t> records_published_{0};
  bool open_ = false;  // the newest staged frame is data that can take more:
  std::uint32_t count_ = 0;            // its records
  std::uint32_t open_mark_count_ = 0;  // and watermarks so far
  T* open_records_ = nullptr;
  frame_mark* open_marks_ = nullptr;
  // The consumer's line.
  alignas(cache_line) std::atomic<std::uint64_t> tail_{0};
  std::uint64_t pos_ = 0;
  std::uint64_t records_out_ = 0;  // records read, and its copy for other threads
  std::atomic<std::uint64_t> records_read_{0};
};

}  // namespace laminar::detail
