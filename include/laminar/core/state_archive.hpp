// The archives a stateful stage saves into and loads from, and what makes a
// stage stateful.
//
// A stateful stage has save_state(state_writer&) const and
// load_state(state_reader&). Values are serialized with cereal, into the
// library's own little-endian archives (detail/state_archives.hpp), so a
// user type in a checkpoint needs a cereal `serialize` (or save/load)
// function; one without is refused when a checkpoint writes or reads it,
// so a chain that is never checkpointed needs none (see archivable). Reading
// checks every value and every container size against the bytes left:
// damaged state is a checkpoint_error, never a crash or a huge allocation.
// Keyed state is written by key group (state/key.hpp): the archives carry
// the checkpoint's key-group count.
#pragma once

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "laminar/core/detail/huge_pages.hpp"
#include "laminar/core/detail/state_archives.hpp"
#include "laminar/core/detail/type_name.hpp"
#include "laminar/core/error.hpp"

namespace laminar {

/// Key groups per checkpoint unless a graph or pipeline says otherwise: the
/// unit in which keyed state moves when a node restores with another
/// number of instances.
inline constexpr std::uint32_t default_key_groups = 128;

namespace detail {

template <class T>
inline constexpr bool cereal_archivable = cereal::traits::is_output_serializable<T, state_output_archive>::value &&
                                          cereal::traits::is_input_serializable<T, state_input_archive>::value;

// cereal's functions for standard containers accept any element type, so
// its trait says yes for a vector of anything: look at the elements too.
template <class T>
inline constexpr bool deep_archivable = cereal_archivable<T>;
template <class T, class A>
inline constexpr bool deep_archivable<std::vector<T, A>> = cereal_archivable<std::vector<T, A>> && deep_archivable<T>;
template <class T>
inline constexpr bool deep_archivable<std::optional<T>> = cereal_archivable<std::optional<T>> && deep_archivable<T>;
template <class T, std::size_t N>
inline constexpr bool deep_archivable<std::array<T, N>> = cereal_archivable<std::array<T, N>> && deep_archivable<T>;
template <class A, class B>
inline constexpr bool deep_archivable<std::pair<A, B>> =
    cereal_archivable<std::pair<A, B>> && deep_archivable<A> && deep_archivable<B>;
template <class... Ts>
inline constexpr bool deep_archivable<std::tuple<Ts...>> =
    cereal_archivable<std::tuple<Ts...>> && (deep_archivable<Ts> && ...);
template <class K, class V, class C, class A>
inline constexpr bool deep_archivable<std::map<K, V, C, A>> =
    cereal_archivable<std::map<K, V, C, A>> && deep_archivable<K> && deep_archivable<V>;

}  // namespace detail

/// A type the state archives can write and read back: it has a cereal
/// serialize (or save and load), and so does what it holds, for the
/// standard containers and laminar's own rows (whose serialize is
/// constrained on their members being archivable).
template <class T>
concept archivable = detail::deep_archivable<T>;

/// What a state archive throws for a value whose type cannot be
/// serialized. Nothing else requires serializability: a chain that is never
/// checkpointed compiles and runs with any record and state types, in one
/// thread and in a graph (whose nodes are checkpointed only when asked, at
/// run time). The snapshot names the stage (snapshot.hpp).
class unarchivable_state_error : public checkpoint_error {
 public:
  explicit unarchivable_state_error(std::string type, const std::string& checkpoint = "checkpoint",
                                    const std::string& stage = "a stage")
      : checkpoint_error("laminar: " + checkpoint + ": " + stage + " keeps a `" + type +
                         "` in its state, which has no cereal serialize(Archive&) (nor save/load): give it one; a "
                         "chain that is never checkpointed needs none"),
        type_(std::move(type)) {}
  /// The type that cannot be serialized.
  [[nodiscard]] const std::string& type() const noexcept { return type_; }

 private:
  std::string type_;
};

namespace detail {
// The first of Ts that is not archivable.
template <class T, class... Ts>
[[noreturn, gnu::cold]] void refuse_unarchivable() {
  if constexpr (archivable<T> && sizeof...(Ts) > 0) {
    refuse_unarchivable<Ts...>();
  } else {
    throw unarchivable_state_error(std::string(type_name<T>()));
  }
}
}  // namespace detail

/// Where a stage writes its state: call it with the values to save,
/// `w(count_, sum_)`.
class state_writer {
 public:
  explicit state_writer(std::uint32_t key_groups = default_key_groups) : key_groups_(key_groups), archive_(bytes_) {}
  state_writer(const state_writer&) = delete;
  state_writer& operator=(const state_writer&) = delete;
  /// A value whose type is not archivable is an unarchivable_state_error
  /// when it is written, not a compile error where it is not.
  template <class... Ts>
  void operator()(const Ts&... values) {
    if constexpr ((archivable<Ts> && ...)) {
      archive_(values...);
    } else {
      detail::refuse_unarchivable<Ts...>();
    }
  }
  /// What was written so far.
  [[nodiscard]] const std::string& bytes() const noexcept { return bytes_; }
  /// Moves out what was written (the writer is done).
  [[nodiscard]] std::string take_bytes() noexcept { return std::move(bytes_); }
  /// Room for `more` bytes beyond what is written: a stage that knows its
  /// state's size saves the string's regrowth.
  void reserve(std::size_t more) {
    bytes_.reserve(bytes_.size() + more);
    detail::advise_huge_pages(bytes_.data() + bytes_.size(), bytes_.capacity() - bytes_.size());  // not yet touched
  }
  /// The checkpoint's key-group count.
  [[nodiscard]] std::uint32_t key_groups() const noexcept { return key_groups_; }

  // ---- incremental checkpoints ----

  /// Whether checkpoints are being taken incrementally: a stage that can
  /// write its changes alone starts keeping track of them.
  [[nodiscard]] bool incremental() const noexcept { return incremental_; }
  /// The checkpoint this one may build on (0: none, write the whole state):
  /// a stage that has kept track of its changes since that checkpoint's
  /// capture may write only them, and says so with write_delta().
  [[nodiscard]] std::uint64_t delta_base() const noexcept { return delta_base_; }
  /// This checkpoint's id.
  [[nodiscard]] std::uint64_t checkpoint_id() const noexcept { return checkpoint_id_; }
  /// What is written is a delta on delta_base().
  void write_delta() noexcept { delta_ = true; }
  [[nodiscard]] bool wrote_delta() const noexcept { return delta_; }
  /// Set by the snapshot before the stage writes.
  void begin_checkpoint(std::uint64_t id, std::uint64_t delta_base, bool incremental) noexcept {
    checkpoint_id_ = id;
    delta_base_ = delta_base;
    incremental_ = incremental;
  }

 private:
  std::uint32_t key_groups_;
  std::string bytes_;
  detail::state_output_archive archive_;
  std::uint64_t checkpoint_id_ = 0;
  std::uint64_t delta_base_ = 0;
  bool incremental_ = false;
  bool delta_ = false;
};

/// Where a stage reads its state back: `r(count_, sum_)`, in the order saved.
/// How a scalar of a stage's state combines when a rescaled restore merges
/// several saved instances into one (state_reader::read_merged): a
/// watermark the earliest, a clock or a sequence the latest, a counter the
/// sum, a flag held only if every instance held it.
template <class T, class Rule>
struct merge_rule {
  T& value;
  void combine(const T& saved) const { Rule::apply(value, saved); }
};
namespace detail {
struct merge_earliest {
  template <class T>
  static void apply(T& v, const T& s) { v = std::min(v, s); }
};
struct merge_latest {
  template <class T>
  static void apply(T& v, const T& s) { v = std::max(v, s); }
};
struct merge_sum {
  template <class T>
  static void apply(T& v, const T& s) { v = v + s; }
};
struct merge_all {
  static void apply(bool& v, bool s) { v = v && s; }
};
}  // namespace detail
template <class T>
merge_rule<T, detail::merge_earliest> earliest(T& v) {
  return {v};
}
template <class T>
merge_rule<T, detail::merge_latest> latest(T& v) {
  return {v};
}
template <class T>
merge_rule<T, detail::merge_sum> summed(T& v) {
  return {v};
}
inline merge_rule<bool, detail::merge_all> all_of(bool& v) { return {v}; }

class state_reader {
 public:
  /// Reads bytes it owns.
  explicit state_reader(std::string&& bytes, std::uint32_t key_groups = default_key_groups)
      : key_groups_(key_groups), owned_(std::move(bytes)), bytes_(owned_), archive_(bytes_) {}
  /// Reads bytes that outlive it (a snapshot's record), without a copy.
  explicit state_reader(std::string_view bytes, std::uint32_t key_groups = default_key_groups)
      : key_groups_(key_groups), bytes_(bytes), archive_(bytes_) {}
  state_reader(const state_reader&) = delete;
  state_reader& operator=(const state_reader&) = delete;
  /// A read past the end, or a container size the bytes left cannot hold,
  /// is a checkpoint_error naming the offset.
  template <class... Ts>
  void operator()(Ts&... values) {
    if constexpr (!(archivable<Ts> && ...)) {
      detail::refuse_unarchivable<Ts...>();
    } else {
      const std::size_t at = offset();
      try {
        archive_(values...);
      } catch (const cereal::Exception& e) {
        unreadable(at, e);
      }
    }
  }
  /// Reads scalars saved in this order. A plain restore assigns them; a
  /// later part of a rescaled restore (merging()) combines each with what
  /// the earlier parts loaded, by its rule:
  ///   r.read_merged(earliest(watermark_), summed(late_count_), all_of(ended_));
  template <class... Ts, class... Rules>
  void read_merged(merge_rule<Ts, Rules>... fields) {
    if (!merging_) {
      (*this)(fields.value...);
      return;
    }
    std::tuple<Ts...> saved{};
    std::apply([this](auto&... v) { (*this)(v...); }, saved);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (fields.combine(std::get<I>(saved)), ...);
    }(std::index_sequence_for<Ts...>{});
  }
  /// True when every saved byte has been read.
  [[nodiscard]] bool exhausted() const noexcept { return archive_.offset() == bytes_.size(); }
  /// Bytes read so far (the offset of the next value).
  [[nodiscard]] std::size_t offset() const noexcept { return archive_.offset(); }
  /// Bytes not yet read.
  [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - archive_.offset(); }
  /// The checkpoint's key-group count.
  [[nodiscard]] std::uint32_t key_groups() const noexcept { return key_groups_; }

  // ---- rescaling: a node restored with another number of instances ----

  /// Whether this restore is rescaled: the instance owns only some of the
  /// key groups the saved one did, and keyed state of the others is
  /// skipped (load_slots and load_groups do it; a stage reading keyed
  /// state of its own asks owns_key_group()).
  [[nodiscard]] bool rescaling() const noexcept { return rescaling_; }
  /// Whether this is a later part of a rescaled restore: another saved
  /// instance's state, to be added to what the earlier parts loaded
  /// (watermarks: the earliest; keyed state: the union).
  [[nodiscard]] bool merging() const noexcept { return merging_; }
  /// Whether the restoring instance owns key group `g`.
  [[nodiscard]] bool owns_key_group(std::uint32_t g) const noexcept { return g >= own_from_ && g < own_to_; }
  /// Whether these bytes are a delta (state_writer::write_delta()), applied
  /// on top of what the checkpoint it builds on restored.
  [[nodiscard]] bool delta() const noexcept { return delta_; }
  void read_delta() noexcept { delta_ = true; }
  /// Restricts the restore to key groups [from, to); `merging`: a later part.
  void rescale(std::uint32_t from, std::uint32_t to, bool merging) noexcept {
    rescaling_ = true;
    merging_ = merging;
    own_from_ = from;
    own_to_ = to;
  }

  /// Reads a count of items saved as a std::uint64_t, each at least
  /// `min_item_bytes` long: a count the bytes left cannot hold is a
  /// checkpoint_error naming `what`, thrown before anything is allocated.
  [[nodiscard]] std::uint64_t read_count(std::string_view what, std::size_t min_item_bytes = 1) {
    const std::size_t at = offset();
    std::uint64_t n = 0;
    (*this)(n);
    const std::uint64_t room = remaining() / std::max<std::size_t>(min_item_bytes, 1);
    if (n > room) {
      throw checkpoint_error("a count of " + std::to_string(n) + " " + std::string(what) + " at offset " +
                             std::to_string(at) + " exceeds what the " + std::to_string(remaining()) +
                             " bytes left can hold");
    }
    return n;
  }

 private:
  // Out of line of operator(), which is instantiated once per list of types read.
  [[noreturn, gnu::cold, gnu::noinline]] void unreadable(std::size_t at, const cereal::Exception& e) const {
    throw checkpoint_error("state unreadable from offset " + std::to_string(at) + " of " +
                           std::to_string(bytes_.size()) + " bytes: " + e.what());
  }

  std::uint32_t key_groups_;
  std::string owned_;
  std::string_view bytes_;
  detail::state_input_archive archive_;
  bool rescaling_ = false;
  bool merging_ = false;
  bool delta_ = false;
  std::uint32_t own_from_ = 0;
  std::uint32_t own_to_ = ~std::uint32_t{0};
};

/// A stateful stage that can be restored into a node with another number
/// of instances (rescaling, by key group): it says so with `static
/// constexpr bool rescalable = true;` and its load_state honours
/// state_reader::rescaling() and merging(). Restoring a rescaled
/// checkpoint into a stage that does not is a checkpoint_error naming it.
template <class S>
concept rescalable_state = requires { requires S::rescalable; };

/// A stage with state that survives a checkpoint.
template <class S>
concept stateful = requires(const S& s, S& m, state_writer& w, state_reader& r) {
  s.save_state(w);
  m.load_state(r);
};

/// The types a stage's state is made of, for its layout fingerprint: a
/// stateful stage may say `using state_types = laminar::state_types<K, V>;`.
/// A checkpoint records each type's name and the size of a
/// default-constructed one as serialized, so that restoring into a build
/// whose serialize() of one of them changed fails naming the type instead
/// of misreading the bytes.
template <class... Ts>
struct state_types {};

namespace detail {

// "name:size" (the bytes `write` puts out for `value`), or "name:?" for a
// type with no default value to measure. One body for all types: only the
// write is each type's own.
[[gnu::noinline]] inline std::string layout_entry_text(std::string_view name, const void* value,
                                                       void (*write)(state_writer&, const void*)) {
  std::string entry(name);
  if (write == nullptr) return entry + ":?";
  state_writer w;
  write(w, value);
  return entry + ":" + std::to_string(w.bytes().size());
}

template <class T>
std::string layout_entry() {
  if constexpr (std::is_default_constructible_v<T> && archivable<T>) {
    const T value{};
    return layout_entry_text(type_name<T>(), &value,
                             [](state_writer& w, const void* v) { w(*static_cast<const T*>(v)); });
  } else {
    return layout_entry_text(type_name<T>(), nullptr, nullptr);
  }
}

template <class... Ts>
std::string layout_of(state_types<Ts...>*) {
  std::string out;
  ((out += (out.empty() ? "" : ";") + layout_entry<Ts>()), ...);
  return out;
}

/// The layout fingerprint of a stage's state ("" if it names no types).
template <class S>
const std::string& state_layout() {
  static const std::string layout = [] {
    if constexpr (requires { typename S::state_types; }) {
      return layout_of(static_cast<typename S::state_types*>(nullptr));
    } else {
      return std::string();
    }
  }();
  return layout;
}

/// The readable default name of a stage's state: S::state_name if it says,
/// else its type's name without namespace or template arguments.
template <class S>
std::string_view state_name() {
  if constexpr (requires { std::string_view(S::state_name); }) {
    return S::state_name;
  } else {
    std::string_view name = template_name<S>();
    const std::size_t colon = name.rfind("::");
    if (colon != std::string_view::npos) name.remove_prefix(colon + 2);
    return name;
  }
}

}  // namespace detail
}  // namespace laminar
