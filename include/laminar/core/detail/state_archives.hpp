// The cereal archives that checkpoint state is written with: little-endian
// values appended to a string, read back from a view of it. The reader
// checks every read against the bytes left, and every size a container
// reads (cereal's size tags: a vector's, a string's, a map's) before the
// container allocates for it, so that no bytes, however damaged, make a
// restore crash, hang or allocate more than the bytes could hold.
#pragma once

#include <cereal/cereal.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "laminar/core/error.hpp"

namespace laminar::detail {

/// Appends what it is given, little-endian, to a string.
class state_output_archive : public cereal::OutputArchive<state_output_archive, cereal::AllowEmptyClassElision> {
 public:
  explicit state_output_archive(std::string& out) : OutputArchive(this), out_(&out) {}

  /// `size` bytes of elements `Element` bytes wide each.
  template <std::size_t Element>
  void save_bytes(const void* data, std::size_t size) {
    if (size == 0) return;  // an empty container's data() may be null
    const auto* p = static_cast<const char*>(data);
    if constexpr (std::endian::native == std::endian::little || Element == 1) {
      out_->append(p, size);
    } else {
      for (std::size_t i = 0; i < size; i += Element) {
        for (std::size_t b = Element; b-- > 0;) out_->push_back(p[i + b]);
      }
    }
  }

 private:
  std::string* out_;
};

/// Reads what state_output_archive wrote.
class state_input_archive : public cereal::InputArchive<state_input_archive, cereal::AllowEmptyClassElision> {
 public:
  explicit state_input_archive(std::string_view in) : InputArchive(this), in_(in) {}

  template <std::size_t Element>
  void load_bytes(void* data, std::size_t size) {
    if (size > in_.size() - pos_) truncated(size);
    if (size == 0) return;  // an empty container's data() may be null
    auto* p = static_cast<char*>(data);
    if constexpr (std::endian::native == std::endian::little || Element == 1) {
      std::memcpy(p, in_.data() + pos_, size);
    } else {
      for (std::size_t i = 0; i < size; i += Element) {
        for (std::size_t b = 0; b < Element; ++b) p[i + b] = in_[pos_ + i + Element - 1 - b];
      }
    }
    pos_ += size;
  }

  /// A container's size as read: at most one element per byte left.
  void check_size(std::uint64_t n) const {
    if (n > in_.size() - pos_) {
      throw checkpoint_error("a container size of " + std::to_string(n) + " at offset " + std::to_string(pos_ - 8) +
                             " exceeds what the " + std::to_string(in_.size() - pos_) + " bytes left can hold");
    }
  }

  [[nodiscard]] std::size_t offset() const noexcept { return pos_; }
  [[nodiscard]] std::size_t size() const noexcept { return in_.size(); }

  /// A bool: its byte must be 0 or 1 (anything else would be a bool that is
  /// neither true nor false).
  bool load_bool() {
    unsigned char b = 0;
    load_bytes<1>(&b, 1);
    if (b > 1) {
      throw checkpoint_error("a bool of value " + std::to_string(b) + " at offset " + std::to_string(pos_ - 1) +
                             " (the state is damaged, or not of this layout)");
    }
    return b == 1;
  }

 private:
  // Out of line of load_bytes, which is instantiated per element width.
  [[noreturn, gnu::cold, gnu::noinline]] void truncated(std::size_t size) const {
    throw checkpoint_error("state truncated: " + std::to_string(size) + " bytes wanted at offset " +
                           std::to_string(pos_) + ", " + std::to_string(in_.size() - pos_) + " left");
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

template <class T>
inline std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(state_output_archive& ar, const T& t) {
  ar.template save_bytes<sizeof(T)>(&t, sizeof(T));
}
template <class T>
inline std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(state_input_archive& ar, T& t) {
  if constexpr (std::is_same_v<T, bool>) {
    t = ar.load_bool();
  } else {
    ar.template load_bytes<sizeof(T)>(&t, sizeof(T));
  }
}

template <class Archive, class T>
inline CEREAL_ARCHIVE_RESTRICT(state_input_archive, state_output_archive)
    CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(state_output_archive& ar, const cereal::SizeTag<T>& t) {
  ar(static_cast<std::uint64_t>(t.size));
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(state_input_archive& ar, cereal::SizeTag<T>& t) {
  std::uint64_t n = 0;
  ar(n);
  ar.check_size(n);
  t.size = static_cast<std::remove_reference_t<T>>(n);
}

template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(state_output_archive& ar, const cereal::BinaryData<T>& bd) {
  using element = std::remove_pointer_t<T>;
  ar.template save_bytes<sizeof(element)>(bd.data, static_cast<std::size_t>(bd.size));
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(state_input_archive& ar, cereal::BinaryData<T>& bd) {
  using element = std::remove_cv_t<std::remove_pointer_t<T>>;
  if constexpr (std::is_same_v<element, bool>) {  // each byte checked
    for (std::size_t i = 0; i < static_cast<std::size_t>(bd.size); ++i) static_cast<bool*>(bd.data)[i] = ar.load_bool();
  } else {
    ar.template load_bytes<sizeof(element)>(bd.data, static_cast<std::size_t>(bd.size));
  }
}

}  // namespace laminar::detail

CEREAL_REGISTER_ARCHIVE(laminar::detail::state_output_archive)
CEREAL_REGISTER_ARCHIVE(laminar::detail::state_input_archive)
CEREAL_SETUP_ARCHIVE_TRAITS(laminar::detail::state_input_archive, laminar::detail::state_output_archive)
