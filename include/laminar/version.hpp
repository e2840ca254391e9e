// The library version, kept in step with CMakeLists.txt's project(VERSION).
#pragma once

#define LAMINAR_VERSION_MAJOR 0
#define LAMINAR_VERSION_MINOR 1
#define LAMINAR_VERSION_PATCH 0

namespace laminar {
inline constexpr const char* version_string = "0.1.0";
}  // namespace laminar
