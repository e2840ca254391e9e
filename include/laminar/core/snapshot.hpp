// A snapshot: one checkpoint's state records, each under the stable id of
// the stage that saved it, and their checksummed file format.
//
// Ids. A barrier's walk through a pipeline (a pass) gives every stateful
// stage an id: its state name (detail::state_name: S::state_name, else its
// type's name) within the scopes it is in, with "#2", "#3"... for the
// second and later stage of that name in one scope. A graph node is a
// scope (its name), and so is uid("...", op) around an operator. So ids
// read "bars/window" or "asof_join", do not depend on
// stateless stages around them, and stay the same across builds. A
// restore looks each stage's state up by id: a stage whose id the
// checkpoint lacks, or a record no stage claims, is a checkpoint_error
// naming the id.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <iterator>
#include <map>
#include <new>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "laminar/core/detail/crc32.hpp"
#include "laminar/core/detail/le_bytes.hpp"
#include "laminar/core/error.hpp"
#include "laminar/core/state_archive.hpp"

namespace laminar {

/// One stage's saved state inside a snapshot.
struct state_record {
  state_record() = default;
  state_record(std::string record_id, std::string record_layout, std::string record_bytes, std::uint64_t delta_base = 0)
      : id(std::move(record_id)), layout(std::move(record_layout)), bytes(std::move(record_bytes)), base(delta_base) {}

  std::string id;      ///< the stage's stable id (see above)
  std::string layout;  ///< its state's layout fingerprint (detail::state_layout), or empty
  std::string bytes;   ///< the archive the stage wrote
  /// Incremental checkpoints: the bytes are a delta on checkpoint `base`'s
  /// record of this id (0: the whole state).
  std::uint64_t base = 0;
  /// A record read back from a chain (checkpoint_store::load): the deltas
  /// that follow `bytes`, oldest first.
  std::vector<std::string> deltas;
  friend bool operator==(const state_record&, const state_record&) = default;
};

class snapshot {
 public:
  static constexpr std::string_view magic = "LMNRCKPT";
  static constexpr std::uint32_t format_version = 2;

  snapshot() = default;
  explicit snapshot(std::uint64_t checkpoint_id, std::uint32_t key_groups = default_key_groups)
      : id_(checkpoint_id), key_groups_(key_groups) {
    if (key_groups == 0) throw usage_error("snapshot: key_groups must be at least 1");
  }

  [[nodiscard]] std::uint64_t checkpoint_id() const noexcept { return id_; }
  /// The key groups keyed state was split into.
  [[nodiscard]] std::uint32_t key_groups() const noexcept { return key_groups_; }
  [[nodiscard]] const std::vector<state_record>& records() const& noexcept { return records_; }
  [[nodiscard]] std::vector<state_record> records() && noexcept { return std::move(records_); }
  /// The record saved under `id`, or null.
  [[nodiscard]] const state_record* find(std::string_view id) const {
    const auto it = index_.find(id);
    return it == index_.end() ? nullptr : &records_[it->second];
  }
  [[nodiscard]] state_record* find(std::string_view id) {
    return const_cast<state_record*>(std::as_const(*this).find(id));
  }
  /// Adds a record; an id already present is a checkpoint_error.
  void add(state_record record) {
    if (index_.count(record.id) != 0) {
      throw checkpoint_error("checkpoint " + std::to_string(id_) + ": two stateful stages have the id '" + record.id +
                             "': give one of them its own with uid(\"...\", operator)");
    }
    index_.emplace(record.id, records_.size());
    records_.push_back(std::move(record));
    claimed_.push_back(false);
  }

  // ---- a pass: the ids of one barrier's walk ----

  /// Starts a pass (a snapshot starts in one): no scope, no id given yet,
  /// no record claimed by a restore.
  void begin_pass() {
    scopes_.clear();
    given_.clear();
    claimed_.assign(records_.size(), false);
    for (snapshot& p : parts_) p.claimed_.assign(p.records_.size(), false);
  }
  /// Stages from here until leave_scope() have ids under `scope`.
  void enter_scope(std::string_view scope) { scopes_.emplace_back(scope); }
  void leave_scope() {
    if (!scopes_.empty()) scopes_.pop_back();
  }
  /// The id of the next stateful stage called `name` in this pass.
  [[nodiscard]] std::string next_id(std::string_view name) {
    std::string id;
    for (const std::string& s : scopes_) id += s + "/";
    id += name;
    const std::size_t n = ++given_[id];
    return n == 1 ? id : id + "#" + std::to_string(n);
  }

  /// Saves a stage's state under its id.
  template <stateful S>
  void save(const S& stage) {
    save_record(detail::state_name<S>(), detail::state_layout<S>(), &stage,
                [](const void* s, state_writer& w) { static_cast<const S*>(s)->save_state(w); });
  }

  /// Loads a stage's state from the record under its id, checking that the
  /// layout of its state is the saved one and that it read all of it.
  template <stateful S>
  void load(S& stage) {
    load_record(detail::state_name<S>(), detail::state_layout<S>(), &stage,
                [](void* s, state_reader& r) { static_cast<S*>(s)->load_state(r); },
                [](const void* s, state_writer& w) { static_cast<const S*>(s)->save_state(w); }, rescalable_state<S>);
  }

  // ---- rescaling ----

  /// Asks the stages to write their changes since checkpoint `base` where
  /// they kept track of them (0: the whole state, and keep track from now
  /// on): an incremental checkpoint (checkpoint_options::deltas).
  void take_incremental(std::uint64_t base) noexcept {
    incremental_ = true;
    delta_base_ = base;
  }

  /// Makes this snapshot (one saved instance of a node) restore an
  /// instance that owns key groups [from, to) of another number of
  /// instances: every stage loads its own record filtered to those key
  /// groups, then the records of `more` (the other saved instances whose
  /// key groups overlap them) merged in, in order.
  void rescale(std::uint32_t from, std::uint32_t to, std::vector<snapshot> more) {
    rescaled_ = true;
    own_from_ = from;
    own_to_ = to;
    parts_ = std::move(more);
  }

  /// Asks whoever makes this snapshot durable (checkpoint_store::write,
  /// the checkpoint coordinator's writer) to fdatasync the file at `path`
  /// first: an exactly-once sink's pre-committed part, written at the
  /// barrier without the worker waiting for the disk. Not part of the
  /// snapshot's bytes; a snapshot only kept in memory syncs nothing.
  void sync_before_durable(std::string path) { deferred_syncs_.push_back(std::move(path)); }
  [[nodiscard]] const std::vector<std::string>& deferred_syncs() const noexcept { return deferred_syncs_; }

  /// Starts a restore pass (every record unclaimed).
  void rewind() { begin_pass(); }
  /// Throws unless a restore pass claimed every record.
  void expect_fully_restored() const {
    for (const snapshot& p : parts_) p.expect_fully_restored();
    for (std::size_t i = 0; i < records_.size(); ++i) {
      if (!claimed_[i]) {
        throw checkpoint_error("checkpoint " + std::to_string(id_) + " holds state for '" + records_[i].id +
                               "', which no stage restored from it has: was the stage removed, or its uid "
                               "changed, since?");
      }
    }
  }

  /// Writes the checkpoint file format (to_bytes()) to a stream.
  void write(std::ostream& os) const {
    const std::string out = to_bytes();
    os.write(out.data(), static_cast<std::streamsize>(out.size()));
    if (!os) throw checkpoint_error("checkpoint " + std::to_string(id_) + ": writing the snapshot failed");
  }

  /// The checkpoint file format: magic, version, id, key groups, records
  /// (id, layout, state, each with its own CRC-32), and a CRC-32 of
  /// everything before it.
  [[nodiscard]] std::string to_bytes() const {
    for (const state_record& r : records_) {
      if (r.base != 0 || !r.deltas.empty()) {
        throw usage_error("snapshot " + std::to_string(id_) + ": '" + r.id +
                          "' holds a delta of an incremental checkpoint, which only checkpoint_store writes");
      }
    }
    std::string out(magic);
    detail::put_u32(out, format_version);
    detail::put_u64(out, id_);
    detail::put_u32(out, key_groups_);
    detail::put_u32(out, static_cast<std::uint32_t>(records_.size()));
    for (const state_record& r : records_) {
      detail::put_u32(out, static_cast<std::uint32_t>(r.id.size()));
      out += r.id;
      detail::put_u32(out, static_cast<std::uint32_t>(r.layout.size()));
      out += r.layout;
      detail::put_u64(out, r.bytes.size());
      out += r.bytes;
      detail::put_u32(out, detail::crc32(r.id + r.layout + r.bytes));
    }
    detail::put_u32(out, detail::crc32(out));
    return out;
  }

  /// Reads a checkpoint written by write(); a damaged file throws a
  /// checkpoint_error that says what is wrong and at which byte offset.
  static snapshot read(std::istream& is) {
    std::string data((std::istreambuf_iterator<char>(is)), std::istreambuf_iterator<char>());
    return from_bytes(data);
  }

  static snapshot from_bytes(std::string_view data) {
    if (data.size() < magic.size() || data.substr(0, magic.size()) != magic) {
      throw checkpoint_error("checkpoint: bad magic at offset 0: not a laminar checkpoint file");
    }
    if (data.size() < magic.size() + 4 + 8 + 4 + 4 + 4) {
      throw checkpoint_error("checkpoint: file is " + std::to_string(data.size()) + " bytes, shorter than a header");
    }
    const std::string_view body = data.substr(0, data.size() - 4);
    parser tail{data, data.size() - 4, "checkpoint"};
    if (tail.u32("file checksum") != detail::crc32(body)) {
      throw checkpoint_error("checkpoint: file checksum mismatch (" + std::to_string(data.size()) +
                             " bytes): the file is truncated or corrupted");
    }
    parser p{body, magic.size(), "checkpoint"};
    const std::uint32_t version = p.u32("format version");
    if (version != format_version) {
      throw checkpoint_error("checkpoint: format version " + std::to_string(version) +
                             " at offset 8 is not supported (expected " + std::to_string(format_version) + ")");
    }
    const std::uint64_t id = p.u64("checkpoint id");
    const std::size_t groups_at = p.pos;
    const std::uint32_t groups = p.u32("key group count");
    if (groups == 0) throw checkpoint_error("checkpoint: a key group count of 0 at offset " + std::to_string(groups_at));
    snapshot s(id, groups);
    const std::uint32_t count = p.u32("record count");
    for (std::uint32_t i = 0; i < count; ++i) {
      state_record r;
      const std::string where = "record #" + std::to_string(i);
      const std::size_t at = p.pos;
      r.id = std::string(p.bytes(p.u32(where + " id length"), where + " id"));
      r.layout = std::string(p.bytes(p.u32(where + " layout length"), where + " (" + r.id + ") layout"));
      r.bytes = std::string(p.bytes(p.u64(where + " length"), where + " (" + r.id + ") state"));
      if (p.u32(where + " checksum") != detail::crc32(r.id + r.layout + r.bytes)) {
        throw checkpoint_error("checkpoint " + std::to_string(id) + ": checksum mismatch in " + where + " ('" + r.id +
                               "', at offset " + std::to_string(at) + ")");
      }
      s.add(std::move(r));
    }
    if (p.pos != body.size()) {
      throw checkpoint_error("checkpoint " + std::to_string(id) + ": " + std::to_string(body.size() - p.pos) +
                             " unexpected bytes after the last record at offset " + std::to_string(p.pos));
    }
    return s;
  }

  friend bool operator==(const snapshot& a, const snapshot& b) {
    return a.id_ == b.id_ && a.key_groups_ == b.key_groups_ && a.records_ == b.records_;
  }

 private:
  // save() and load() of every stateful stage type share these bodies: only
  // the call of the stage's save_state or load_state is the stage's own, so
  // a program with many stage types compiles this error handling once.
  [[gnu::noinline]] void save_record(std::string_view name, const std::string& layout, const void* stage,
                   void (*save_state)(const void*, state_writer&)) {
    std::string id = next_id(name);
    state_writer w(key_groups_);
    w.begin_checkpoint(id_, delta_base_, incremental_);
    try {
      save_state(stage, w);
    } catch (const unarchivable_state_error& e) {
      throw unarchivable(e, id);
    }
    const std::uint64_t base = w.wrote_delta() ? delta_base_ : 0;
    add(state_record(std::move(id), layout, w.take_bytes(), base));
  }

  [[gnu::noinline]] void load_record(std::string_view name, const std::string& layout, void* stage,
                                     void (*load_state)(void*, state_reader&),
                                     void (*save_state)(const void*, state_writer&), bool rescalable) {
    const std::string id = next_id(name);
    if (rescaled_ && !rescalable) {
      throw checkpoint_error("checkpoint " + std::to_string(id_) + ": the stage with id '" + id +
                             "' cannot be restored into another number of instances of its node: its state is not "
                             "split by key group (a rescalable stage declares `static constexpr bool rescalable = "
                             "true;`); restore with the instance count the checkpoint was taken with");
    }
    if (rescaled_) {
      // A delta names the saved instance's slots and places: each saved
      // instance's chain is first restored whole into the stage, and saved
      // whole again, before it is split by key group and merged.
      materialize(id, layout, stage, load_state, save_state);
      for (snapshot& p : parts_) p.materialize(id, layout, stage, load_state, save_state);
    }
    load_one(id, layout, stage, load_state, false);
    for (snapshot& p : parts_) p.load_one(id, layout, stage, load_state, true, this);
  }

  // Turns the record `id`, if it is a chain with deltas, into one whole
  // record, with `stage` as the scratch space (a later load resets it).
  void materialize(const std::string& id, const std::string& layout, void* stage, void (*load_state)(void*, state_reader&),
                   void (*save_state)(const void*, state_writer&)) {
    const auto it = index_.find(id);
    if (it == index_.end() || records_[it->second].deltas.empty()) return;  // load_one names a missing record
    state_record& rec = records_[it->second];
    check_layout(rec, layout);
    read_into(id, rec.bytes, stage, load_state, false, false, nullptr);
    for (const std::string& d : rec.deltas) read_into(id, d, stage, load_state, false, true, nullptr);
    state_writer w(key_groups_);
    save_state(stage, w);
    rec.bytes = w.take_bytes();
    rec.deltas.clear();
  }

  // Loads the record `id` of this snapshot into `stage`: filtered to the
  // owning instance's key groups and merged (`merging`) where `owner`, the
  // rescaled snapshot, says so.
  void load_one(const std::string& id, const std::string& layout, void* stage, void (*load_state)(void*, state_reader&),
                bool merging, const snapshot* owner = nullptr) {
    if (owner == nullptr) owner = this;
    const auto it = index_.find(id);
    if (it == index_.end()) {
      throw checkpoint_error("checkpoint " + std::to_string(id_) + " holds no state for the stage with id '" + id +
                             "' (it holds " + ids() + "): was the stage added, or its uid changed, since?");
    }
    const state_record& rec = records_[it->second];
    claimed_[it->second] = true;
    check_layout(rec, layout);
    if (rec.base != 0) {
      throw checkpoint_error("checkpoint " + std::to_string(id_) + ": the state of '" + id +
                             "' is a delta on checkpoint " + std::to_string(rec.base) +
                             ": restore incremental checkpoints through checkpoint_store, which reads the chain");
    }
    const snapshot* rescaled = owner->rescaled_ ? owner : nullptr;
    read_into(id, rec.bytes, stage, load_state, merging, false, rescaled);
    for (const std::string& d : rec.deltas) read_into(id, d, stage, load_state, merging, true, rescaled);
  }

  // One load_state of `stage` from `bytes`, a full record or a delta;
  // filtered to the key groups of `rescaled`, the rescaled snapshot, if any.
  void read_into(const std::string& id, std::string_view bytes, void* stage, void (*load_state)(void*, state_reader&),
                 bool merging, bool delta, const snapshot* rescaled) const {
    state_reader r(bytes, key_groups_);
    if (rescaled != nullptr) r.rescale(rescaled->own_from_, rescaled->own_to_, merging);
    if (delta) r.read_delta();
    // Whatever the bytes, a failed load is a checkpoint_error naming the
    // stage and the offset in its record where reading stopped.
    const auto malformed = [&](std::string_view why) {
      return checkpoint_error("checkpoint " + std::to_string(id_) + ": the " + (delta ? "delta of '" : "state of '") +
                              id + "' is malformed at offset " + std::to_string(r.offset()) + " of " +
                              std::to_string(bytes.size()) + ": " + std::string(why));
    };
    try {
      load_state(stage, r);
    } catch (const unarchivable_state_error& e) {
      throw unarchivable(e, id);
    } catch (const usage_error& e) {  // the bytes are fine; the stage cannot take them (collect's vector)
      throw usage_error("checkpoint " + std::to_string(id_) + ": restoring '" + id + "': " + e.what());
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
      throw checkpoint_error("checkpoint " + std::to_string(id_) + ": the stage with id '" + id +
                             "' left unread bytes in its state: its save_state and load_state disagree");
    }
  }

  // A stage's state holds a type that cannot be serialized: say which stage.
  [[nodiscard]] unarchivable_state_error unarchivable(const unarchivable_state_error& e, const std::string& id) const {
    return unarchivable_state_error(e.type(), "checkpoint " + std::to_string(id_), "the stage '" + id + "'");
  }

  using parser = detail::le_reader;

  // The saved layout, entry by entry ("type:size;..."), against this
  // build's: a type whose serialized size changed is named.
  void check_layout(const state_record& rec, const std::string& now) const {
    if (rec.layout == now || rec.layout.empty() || now.empty()) return;
    const auto entries = [](std::string_view s) {
      std::vector<std::string_view> out;
      while (!s.empty()) {
        const std::size_t semi = s.find(';');
        out.push_back(s.substr(0, semi));
        if (semi == std::string_view::npos) break;
        s.remove_prefix(semi + 1);
      }
      return out;
    };
    const auto size_of = [](std::string_view entry) { return entry.substr(entry.rfind(':') + 1); };
    const std::vector<std::string_view> saved = entries(rec.layout), current = entries(now);
    for (std::size_t i = 0; i < saved.size() && i < current.size(); ++i) {
      if (size_of(saved[i]) != size_of(current[i])) {
        throw checkpoint_error("checkpoint " + std::to_string(id_) + ": the state of '" + rec.id + "' was saved with " +
                               std::string(saved[i]) + " bytes where this build has " + std::string(current[i]) +
                               " bytes: its serialize() changed since the checkpoint was taken");
      }
    }
    if (saved.size() != current.size()) {
      throw checkpoint_error("checkpoint " + std::to_string(id_) + ": the state of '" + rec.id + "' was saved as (" +
                             rec.layout + ") and this build's is (" + now + ")");
    }
  }

  [[nodiscard]] std::string ids() const {
    if (records_.empty()) return "no state";
    std::string out;
    for (const state_record& r : records_) out += (out.empty() ? "'" : ", '") + r.id + "'";
    return out;
  }

  std::uint64_t id_ = 0;
  std::uint32_t key_groups_ = default_key_groups;
  std::vector<state_record> records_;
  std::vector<std::string> deferred_syncs_;
  // Rescaling (rescale()): the key groups restored, and the other saved
  // instances merged in.
  bool incremental_ = false;
  std::uint64_t delta_base_ = 0;
  bool rescaled_ = false;
  std::uint32_t own_from_ = 0;
  std::uint32_t own_to_ = 0;
  std::vector<snapshot> parts_;
  std::map<std::string, std::size_t, std::less<>> index_;
  // Per pass.
  std::vector<std::string> scopes_;
  std::map<std::string, std::size_t, std::less<>> given_;
  std::vector<bool> claimed_;
};

}  // namespace laminar
