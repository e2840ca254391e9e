// Checkpoint state: the archive stages save into, the snapshot that holds one
// checkpoint's records, and the barrier that carries it through a chain.
//
// A stateful stage has save_state(state_writer&) const and
// load_state(state_reader&). When a checkpoint barrier reaches it, it calls
// barrier.checkpoint(*this) and passes the barrier on. A snapshot barrier
// appends the stage's state as one record; a restore barrier (replaying the
// same checkpoint into a fresh pipeline) reads that record back. Stateless
// stages only pass the barrier on, so restore needs no extra member.
#pragma once

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <istream>
#include <iterator>
#include <new>
#include <stdexcept>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "laminar/core/detail/crc32.hpp"
#include "laminar/core/detail/type_name.hpp"
#include "laminar/core/error.hpp"

namespace laminar {

/// Where a stage writes its state: call it with the values to save,
/// `w(count_, sum_)`. Values are serialized with cereal's portable binary
/// archive, so a user type needs a cereal `serialize` (or save/load) function.
class state_writer {
 public:
  state_writer() : archive_(stream_) {}
  template <class... Ts>
  void operator()(const Ts&... values) { archive_(values...); }
  [[nodiscard]] std::string bytes() const { return stream_.str(); }

 private:
  std::ostringstream stream_;
  cereal::PortableBinaryOutputArchive archive_;
};

/// Where a stage reads its state back: `r(count_, sum_)`, in the order saved.
class state_reader {
 public:
  explicit state_reader(std::string bytes) : size_(bytes.size()), stream_(std::move(bytes)), archive_(stream_) {}
  /// A read past the end is a checkpoint_error naming the offset.
  template <class... Ts>
  void operator()(Ts&... values) {
    const std::size_t at = offset();
    try {
      archive_(values...);
    } catch (const cereal::Exception& e) {
      throw checkpoint_error("state truncated: reading from offset " + std::to_string(at) + " of " +
                             std::to_string(size_) + " bytes: " + e.what());
    }
  }
  /// True when every saved byte has been read.
  [[nodiscard]] bool exhausted() { return stream_.peek() == std::char_traits<char>::eof(); }
  /// Bytes read so far (the offset of the next value).
  [[nodiscard]] std::size_t offset() {
    const auto at = stream_.tellg();
    return at < 0 ? size_ : static_cast<std::size_t>(at);
  }
  /// Bytes not yet read.
  [[nodiscard]] std::size_t remaining() { return size_ - std::min(size_, offset()); }

  /// Reads a count of items saved as a std::uint64_t, each at least
  /// `min_item_bytes` long: a count the bytes left cannot hold is a
  /// checkpoint_error naming `what`, thrown before anything is allocated.
  [[nodiscard]] std::uint64_t read_count(std::string_view what, std::size_t min_item_bytes = 1) {
    const std::size_t at = offset();
    std::uint64_t n = 0;
    archive_(n);
    const std::uint64_t room = remaining() / std::max<std::size_t>(min_item_bytes, 1);
    if (n > room) {
      throw checkpoint_error("a count of " + std::to_string(n) + " " + std::string(what) + " at offset " +
                             std::to_string(at) + " exceeds what the " + std::to_string(remaining()) +
                             " bytes left can hold");
    }
    return n;
  }

 private:
  std::size_t size_;
  std::istringstream stream_;
  cereal::PortableBinaryInputArchive archive_;
};

/// A stage with state that survives a checkpoint.
template <class S>
concept stateful = requires(const S& s, S& m, state_writer& w, state_reader& r) {
  s.save_state(w);
  m.load_state(r);
};

/// One stage's saved state inside a snapshot.
struct state_record {
  std::string stage;  ///< the stage's type name, checked on restore
  std::string bytes;  ///< the archive the stage wrote
  friend bool operator==(const state_record&, const state_record&) = default;
};

/// One checkpoint: the state records of every stateful stage, in the order
/// the barrier reached them (source first, sink last), with a checksummed
/// file format for writing to disk.
class snapshot {
 public:
  static constexpr std::string_view magic = "LMNRCKPT";
  static constexpr std::uint32_t format_version = 1;

  snapshot() = default;
  explicit snapshot(std::uint64_t checkpoint_id) : id_(checkpoint_id) {}

  [[nodiscard]] std::uint64_t checkpoint_id() const noexcept { return id_; }
  [[nodiscard]] const std::vector<state_record>& records() const& noexcept { return records_; }
  [[nodiscard]] std::vector<state_record> records() && noexcept { return std::move(records_); }
  void add(state_record record) { records_.push_back(std::move(record)); }

  /// Saves a stage's state as the next record.
  template <stateful S>
  void save(const S& stage) {
    state_writer w;
    stage.save_state(w);
    records_.push_back({std::string(detail::template_name<S>()), w.bytes()});
  }

  /// Loads the next record into a stage, checking that it was written by a
  /// stage of the same kind and that the stage read all of it.
  template <stateful S>
  void load(S& stage) {
    const std::string_view name = detail::template_name<S>();
    if (cursor_ >= records_.size()) {
      throw checkpoint_error("checkpoint " + std::to_string(id_) + " holds " + std::to_string(records_.size()) +
                             " state record(s) but stage '" + std::string(name) + "' asks for record #" +
                             std::to_string(cursor_) + ": the pipeline has more stateful stages than the one saved");
    }
    const state_record& rec = records_[cursor_];
    if (rec.stage != name) {
      throw checkpoint_error("checkpoint " + std::to_string(id_) + ": record #" + std::to_string(cursor_) +
                             " was saved by stage '" + rec.stage + "' but is being restored into stage '" +
                             std::string(name) + "': the pipeline's shape differs from the saved one");
    }
    state_reader r(rec.bytes);
    // Whatever the bytes, a failed load is a checkpoint_error naming the
    // stage and the offset in its record where reading stopped.
    const auto malformed = [&](std::string_view why) {
      return checkpoint_error("checkpoint " + std::to_string(id_) + ": record #" + std::to_string(cursor_) +
                              " (stage '" + rec.stage + "') is malformed at offset " + std::to_string(r.offset()) +
                              " of " + std::to_string(rec.bytes.size()) + ": " + std::string(why));
    };
    try {
      stage.load_state(r);
    } catch (const checkpoint_error& e) {
      throw malformed(e.what());
    } catch (const std::bad_alloc&) {
      throw malformed("a count in it asks for more memory than there is");
    } catch (const std::length_error& e) {
      throw malformed(std::string("a count in it is too large: ") + e.what());
    } catch (const error& e) {
      throw malformed(e.what());
    }
    if (!r.exhausted()) {
      throw checkpoint_error("checkpoint " + std::to_string(id_) + ": stage '" + rec.stage + "' left unread bytes in record #" +
                             std::to_string(cursor_) + ": its save_state and load_state disagree");
    }
    ++cursor_;
  }

  /// Restarts reading at the first record (a restore replays from the start).
  void rewind() noexcept { cursor_ = 0; }
  /// Throws unless every record was read by a restore.
  void expect_fully_restored() const {
    if (cursor_ != records_.size()) {
      throw checkpoint_error("checkpoint " + std::to_string(id_) + " holds " + std::to_string(records_.size()) +
                             " state record(s) but the pipeline restored only " + std::to_string(cursor_) +
                             ": the pipeline has fewer stateful stages than the one saved");
    }
  }

  /// Writes the checkpoint file format: magic, version, id, records (each
  /// with its own CRC-32), and a CRC-32 of everything before it.
  void write(std::ostream& os) const {
    std::string out(magic);
    put_u32(out, format_version);
    put_u64(out, id_);
    put_u32(out, static_cast<std::uint32_t>(records_.size()));
    for (const state_record& r : records_) {
      put_u32(out, static_cast<std::uint32_t>(r.stage.size()));
      out += r.stage;
      put_u64(out, r.bytes.size());
      out += r.bytes;
      put_u32(out, detail::crc32(r.bytes));
    }
    put_u32(out, detail::crc32(out));
    os.write(out.data(), static_cast<std::streamsize>(out.size()));
    if (!os) throw checkpoint_error("checkpoint " + std::to_string(id_) + ": writing the snapshot failed");
  }

  [[nodiscard]] std::string to_bytes() const {
    std::ostringstream os;
    write(os);
    return os.str();
  }

  /// Reads a checkpoint written by write(); a damaged file throws a
  /// checkpoint_error that says what is wrong and at which byte offset.
  static snapshot read(std::istream& is) {
    std::string data((std::istreambuf_iterator<char>(is)), std::istreambuf_iterator<char>());
    return from_bytes(data);
  }

  static snapshot from_bytes(std::string_view data) {
    parser p{data, 0};
    if (data.size() < magic.size() || data.substr(0, magic.size()) != magic) {
      throw checkpoint_error("checkpoint: bad magic at offset 0: not a laminar checkpoint file");
    }
    if (data.size() < magic.size() + 4 + 8 + 4 + 4) {
      throw checkpoint_error("checkpoint: file is " + std::to_string(data.size()) + " bytes, shorter than a header");
    }
    const std::string_view body = data.substr(0, data.size() - 4);
    parser tail{data, data.size() - 4};
    if (tail.u32("file checksum") != detail::crc32(body)) {
      throw checkpoint_error("checkpoint: file checksum mismatch (" + std::to_string(data.size()) +
                             " bytes): the file is truncated or corrupted");
    }
    p.pos = magic.size();
    p.data = body;
    const std::uint32_t version = p.u32("format version");
    if (version != format_version) {
      throw checkpoint_error("checkpoint: format version " + std::to_string(version) + " at offset 8 is not supported (expected " +
                             std::to_string(format_version) + ")");
    }
    snapshot s(p.u64("checkpoint id"));
    const std::uint32_t count = p.u32("record count");
    for (std::uint32_t i = 0; i < count; ++i) {
      state_record r;
      const std::string where = "record #" + std::to_string(i);
      r.stage = std::string(p.bytes(p.u32(where + " name length"), where + " name"));
      r.bytes = std::string(p.bytes(p.u64(where + " length"), where + " (" + r.stage + ") state"));
      if (p.u32(where + " checksum") != detail::crc32(r.bytes)) {
        throw checkpoint_error("checkpoint " + std::to_string(s.id_) + ": checksum mismatch in " + where + " (stage '" +
                               r.stage + "')");
      }
      s.records_.push_back(std::move(r));
    }
    if (p.pos != body.size()) {
      throw checkpoint_error("checkpoint " + std::to_string(s.id_) + ": " + std::to_string(body.size() - p.pos) +
                             " unexpected bytes after the last record at offset " + std::to_string(p.pos));
    }
    return s;
  }

  friend bool operator==(const snapshot& a, const snapshot& b) { return a.id_ == b.id_ && a.records_ == b.records_; }

 private:
  struct parser {
    std::string_view data;
    std::size_t pos;
    std::string_view bytes(std::uint64_t n, const std::string& what) {
      if (n > data.size() - pos) {
        throw checkpoint_error("checkpoint: truncated at offset " + std::to_string(pos) + " while reading " + what + " (" +
                               std::to_string(n) + " bytes wanted, " + std::to_string(data.size() - pos) + " left)");
      }
      auto out = data.substr(pos, static_cast<std::size_t>(n));
      pos += static_cast<std::size_t>(n);
      return out;
    }
    std::uint64_t le(int width, const std::string& what) {
      auto b = bytes(static_cast<std::uint64_t>(width), what);
      std::uint64_t v = 0;
      for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[static_cast<std::size_t>(i)]);
      return v;
    }
    std::uint32_t u32(const std::string& what) { return static_cast<std::uint32_t>(le(4, what)); }
    std::uint64_t u64(const std::string& what) { return le(8, what); }
  };
  static void put_le(std::string& out, std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFU));
  }
  static void put_u32(std::string& out, std::uint32_t v) { put_le(out, v, 4); }
  static void put_u64(std::string& out, std::uint64_t v) { put_le(out, v, 8); }

  std::uint64_t id_ = 0;
  std::vector<state_record> records_;
  std::size_t cursor_ = 0;
};

/// A checkpoint barrier, in-band with the data. A snapshot barrier asks every
/// stage it reaches to save its state; a restore barrier replays a saved
/// checkpoint into a fresh pipeline before any data. Either way a stage calls
/// checkpoint(*this) if it is stateful, then passes the barrier downstream.
class checkpoint_barrier {
 public:
  enum class kind : std::uint8_t { snapshot, restore };

  constexpr checkpoint_barrier(std::uint64_t id, laminar::snapshot& target, kind k) noexcept
      : id_(id), target_(&target), kind_(k) {}

  [[nodiscard]] constexpr std::uint64_t id() const noexcept { return id_; }
  [[nodiscard]] constexpr bool restoring() const noexcept { return kind_ == kind::restore; }
  [[nodiscard]] laminar::snapshot& target() const noexcept { return *target_; }

  /// Saves (snapshot barrier) or loads (restore barrier) a stateful stage.
  template <stateful S>
  void checkpoint(S& stage) const {
    if (restoring()) {
      target_->load(stage);
    } else {
      target_->save(std::as_const(stage));
    }
  }

 private:
  std::uint64_t id_;
  laminar::snapshot* target_;
  kind kind_;
};

}  // namespace laminar
