# Decides which optional system libraries laminar uses, on the machine that
# configures the program using laminar: included by laminar's own
# CMakeLists.txt (a build of laminar, or a parent project's
# add_subdirectory/FetchContent) and by the installed laminarConfig.cmake
# (find_package). The exported target never carries the answer of the
# machine that installed laminar.
#
#   laminar_use_system_libs(<target> [BUILD_INTERFACE])
#
# - libnuma (LAMINAR_WITH_NUMA, default ON): NUMA-local placement of each
#   worker's state; without it <target> defines LAMINAR_NO_NUMA and the
#   runtime falls back to first-touch placement.
# - liburing (LAMINAR_WITH_URING, default ON): durable checkpoint and
#   write-ahead-log writes through io_uring; without it <target> defines
#   LAMINAR_NO_URING and laminar/checkpoint.hpp writes with pwrite and
#   fdatasync.
#
# Found (header and library), <target> links the library and sees its
# header; otherwise it defines the LAMINAR_NO_* macro, with no trace of the
# library at compile or link time. BUILD_INTERFACE keeps the choices out of
# install(EXPORT), for the in-tree target. Sets LAMINAR_NUMA_FOUND and
# LAMINAR_URING_FOUND.
include_guard(GLOBAL)

set(LAMINAR_WITH_NUMA ON CACHE BOOL "Use libnuma for NUMA-local placement when it is installed")
set(LAMINAR_WITH_URING ON CACHE BOOL "Use liburing for durable checkpoint writes when it is installed")

# One library: <header> and lib<library> under <option>, else <fallback_define>;
# found in the cache variables LAMINAR_<NAME>_INCLUDE_DIR and LAMINAR_<NAME>_LIBRARY.
function(_laminar_use_system_lib target build_interface name option header library fallback_define found_var)
  set(found OFF)
  if(${option})
    find_path(LAMINAR_${name}_INCLUDE_DIR ${header})
    find_library(LAMINAR_${name}_LIBRARY ${library})
    if(LAMINAR_${name}_INCLUDE_DIR AND LAMINAR_${name}_LIBRARY)
      set(found ON)
    endif()
  endif()
  if(found)
    set(includes ${LAMINAR_${name}_INCLUDE_DIR})
    set(links ${LAMINAR_${name}_LIBRARY})
    set(defines "")
  else()
    set(includes "")
    set(links "")
    set(defines ${fallback_define})
  endif()
  if(build_interface)
    list(TRANSFORM includes REPLACE "(.+)" "$<BUILD_INTERFACE:\\1>")
    list(TRANSFORM links REPLACE "(.+)" "$<BUILD_INTERFACE:\\1>")
    list(TRANSFORM defines REPLACE "(.+)" "$<BUILD_INTERFACE:\\1>")
  endif()
  if(includes)
    target_include_directories(${target} SYSTEM INTERFACE ${includes})
  endif()
  if(links)
    target_link_libraries(${target} INTERFACE ${links})
  endif()
  if(defines)
    target_compile_definitions(${target} INTERFACE ${defines})
  endif()
  set(${found_var} ${found} PARENT_SCOPE)
endfunction()

function(laminar_use_system_libs target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "BUILD_INTERFACE" "" "")
  _laminar_use_system_lib(${target} "${arg_BUILD_INTERFACE}" NUMA LAMINAR_WITH_NUMA numa.h numa LAMINAR_NO_NUMA
    numa_found)
  _laminar_use_system_lib(${target} "${arg_BUILD_INTERFACE}" URING LAMINAR_WITH_URING liburing.h uring
    LAMINAR_NO_URING uring_found)
  set(LAMINAR_NUMA_FOUND ${numa_found} PARENT_SCOPE)
  set(LAMINAR_URING_FOUND ${uring_found} PARENT_SCOPE)
endfunction()
