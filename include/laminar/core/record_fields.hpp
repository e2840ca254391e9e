// One description of a record's fields. The user names each field once
// (its name and member pointer) in a function beside the struct, and every
// codec reads that description (CSV now, JSON and the others of
// laminar/serde/ after it), as does the checkpoint archive: a described
// record needs no serialize() of its own.
//
//   struct quote {
//     std::string sym;
//     double bid = 0, ask = 0;
//     std::optional<double> last;
//   };
//   constexpr auto laminar_fields(const quote*) {  // found by argument-dependent lookup
//     return laminar::describe(laminar::field_named("sym", &quote::sym), laminar::field_named("bid", &quote::bid),
//                              laminar::field_named("ask", &quote::ask), laminar::field_named("last", &quote::last));
//   }
//
// A field may be another described record (codecs nest or flatten it) or a
// std::optional. Declared in the record's namespace, the function is found
// wherever the record is used; it is never called at run time for its
// value, only for its type and constant names.
#pragma once

#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "laminar/core/state_archive.hpp"

namespace laminar {

/// One field of record T: its name and its member pointer.
template <class T, class M>
struct named_field {
  using record_type = T;
  using value_type = M;
  std::string_view name;
  M T::*member;
};

/// The field called `name`, at `member`.
template <class T, class M>
[[nodiscard]] constexpr named_field<T, M> field_named(std::string_view name, M T::*member) noexcept {
  return {name, member};
}

/// A record's fields in order (what laminar_fields returns).
template <class... Fields>
struct record_description {
  std::tuple<Fields...> fields;
  static constexpr std::size_t size = sizeof...(Fields);
};

namespace detail {
template <class F>
inline constexpr bool is_named_field = false;
template <class T, class M>
inline constexpr bool is_named_field<named_field<T, M>> = true;
}  // namespace detail

/// The description of a record: its fields, in the order codecs write them.
/// (Constrained: argument-dependent lookup brings it to every call of a
/// `describe` with a laminar argument, where it must not be a candidate.)
template <class... Fields>
  requires(sizeof...(Fields) > 0 && (detail::is_named_field<Fields> && ...))
[[nodiscard]] constexpr record_description<Fields...> describe(Fields... fields) noexcept {
  return {{fields...}};
}

namespace detail {
// The user's laminar_fields(const T*), found by argument-dependent lookup
// (nothing of that name is declared in laminar).
template <class T>
concept has_record_fields = requires(const T* p) { laminar_fields(p); };
}  // namespace detail

/// A record whose fields are described (laminar_fields beside it).
template <class T>
concept described_record = std::is_class_v<T> && detail::has_record_fields<T>;

/// T's description.
template <described_record T>
[[nodiscard]] constexpr auto fields_of() {
  return laminar_fields(static_cast<const T*>(nullptr));
}

/// Calls f(name, value) for each field of `record` (a T or a const T), in
/// order; value is a reference to the member.
template <class R, class F>
  requires described_record<std::remove_const_t<R>>
constexpr void for_each_field(R& record, F&& f) {
  std::apply([&](const auto&... field) { (f(field.name, record.*(field.member)), ...); },
             fields_of<std::remove_const_t<R>>().fields);
}

namespace detail {
template <class Description>
struct fields_archivable;
template <class... Fields>
struct fields_archivable<record_description<Fields...>>
    : std::bool_constant<(archivable<typename Fields::value_type> && ...)> {};
}  // namespace detail

/// A described record whose every field the checkpoint archive can write.
template <class T>
concept archivable_record = described_record<T> && detail::fields_archivable<decltype(fields_of<T>())>::value;

}  // namespace laminar

namespace cereal {

/// A described record is archived field by field, in order, so the
/// checkpoint archive needs no serialize() of its own (one with both is
/// ambiguous to cereal: describe it, or serialize it, not both).
template <class Archive, laminar::archivable_record T>
void serialize(Archive& ar, T& record) {
  laminar::for_each_field(record, [&ar](std::string_view, auto& value) { ar(value); });
}

}  // namespace cereal
