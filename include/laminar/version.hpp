// The library version: the three numbers below are its one source.
// CMakeLists.txt (project(VERSION)) and conan/conanfile.py (set_version) read
// them from this file, so a release changes these lines and nothing else.
#pragma once

#define LAMINAR_VERSION_MAJOR 0
#define LAMINAR_VERSION_MINOR 1
#define LAMINAR_VERSION_PATCH 0

#define LAMINAR_DETAIL_STRINGIFY_(x) #x
#define LAMINAR_DETAIL_STRINGIFY(x) LAMINAR_DETAIL_STRINGIFY_(x)

namespace laminar {
/// "MAJOR.MINOR.PATCH", built from the macros above.
inline constexpr const char* version_string =
    LAMINAR_DETAIL_STRINGIFY(LAMINAR_VERSION_MAJOR) "." LAMINAR_DETAIL_STRINGIFY(
        LAMINAR_VERSION_MINOR) "." LAMINAR_DETAIL_STRINGIFY(LAMINAR_VERSION_PATCH);
}  // namespace laminar
