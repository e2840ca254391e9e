# Decides whether laminar uses libnuma, on the machine that configures the
# program using laminar: included by laminar's own CMakeLists.txt (a build of
# laminar, or a parent project's add_subdirectory/FetchContent) and by the
# installed laminarConfig.cmake (find_package). The exported target never
# carries the answer of the machine that installed laminar.
#
#   laminar_use_numa(<target> [BUILD_INTERFACE])
#
# With LAMINAR_WITH_NUMA ON (the default) and libnuma's header and library
# found, <target> links libnuma and sees numa.h; otherwise <target> defines
# LAMINAR_NO_NUMA and the runtime falls back to first-touch placement, with
# no libnuma at compile or link time. BUILD_INTERFACE keeps the choice out of
# install(EXPORT), for the in-tree target. Sets LAMINAR_NUMA_FOUND.
include_guard(GLOBAL)

set(LAMINAR_WITH_NUMA ON CACHE BOOL "Use libnuma for NUMA-local placement when it is installed")

function(laminar_use_numa target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "BUILD_INTERFACE" "" "")
  set(found OFF)
  if(LAMINAR_WITH_NUMA)
    find_path(LAMINAR_NUMA_INCLUDE_DIR numa.h)
    find_library(LAMINAR_NUMA_LIBRARY numa)
    if(LAMINAR_NUMA_INCLUDE_DIR AND LAMINAR_NUMA_LIBRARY)
      set(found ON)
    endif()
  endif()
  if(found)
    set(includes ${LAMINAR_NUMA_INCLUDE_DIR})
    set(links ${LAMINAR_NUMA_LIBRARY})
    set(defines "")
  else()
    set(includes "")
    set(links "")
    set(defines LAMINAR_NO_NUMA)
  endif()
  if(arg_BUILD_INTERFACE)
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
  set(LAMINAR_NUMA_FOUND ${found} PARENT_SCOPE)
endfunction()
