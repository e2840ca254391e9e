# Builds and runs one of the consumer projects next to this script, the way a
# user of laminar would: after `cmake --install` (find_package), vendored
# (add_subdirectory) or through FetchContent, alone or after bringing cereal
# in itself with FetchContent (fetchcontent_cereal). Run in script mode:
#
#   cmake -DKIND=find_package|add_subdirectory|fetchcontent|fetchcontent_cereal
#         -DLAMINAR_SOURCE_DIR=<laminar source tree>
#         -DLAMINAR_BINARY_DIR=<configured laminar build tree> (find_package only)
#         -DLAMINAR_VERSION=<laminar's version> (find_package only)
#         -DCEREAL_INCLUDE_DIRS=<dirs holding cereal/> (fetchcontent_cereal only)
#         -DWORK_DIR=<scratch directory> -DCXX_COMPILER=<c++ compiler>
#         -P run_consumer.cmake
#
# Every step that fails stops the script with FATAL_ERROR, naming the step and
# showing its output, so the ctest test that runs it fails.
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS KIND LAMINAR_SOURCE_DIR WORK_DIR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer: -D${var}=... is required")
  endif()
endforeach()

set(consumer_source_dir ${CMAKE_CURRENT_LIST_DIR}/${KIND})
if(NOT KIND MATCHES "^(find_package|add_subdirectory|fetchcontent|fetchcontent_cereal)$"
   OR NOT EXISTS ${consumer_source_dir}/CMakeLists.txt)
  message(FATAL_ERROR
    "run_consumer: unknown KIND '${KIND}' (find_package, add_subdirectory, fetchcontent or fetchcontent_cereal)")
endif()

set(build_dir ${WORK_DIR}/build)
set(prefix_dir ${WORK_DIR}/prefix)
set(cereal_source_dir ${WORK_DIR}/cereal)
file(REMOVE_RECURSE ${build_dir} ${prefix_dir} ${cereal_source_dir})
file(MAKE_DIRECTORY ${WORK_DIR})

# Runs a command; on failure stops with the step's name and everything it printed.
function(consumer_step name)
  message(STATUS "consumer_${KIND}: ${name}")
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmdline "${ARGN}")
    message(FATAL_ERROR "consumer_${KIND}: step '${name}' failed (${rc})\n"
      "command: ${cmdline}\n"
      "---- output ----\n${out}")
  endif()
  if(name STREQUAL "run")
    string(STRIP "${out}" out)
    message(STATUS "consumer_${KIND}: ${out}")
  endif()
endfunction()

set(configure_args
  -S ${consumer_source_dir}
  -B ${build_dir}
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  -DCMAKE_BUILD_TYPE=Release)

if(KIND STREQUAL "find_package")
  if(NOT DEFINED LAMINAR_BINARY_DIR OR NOT EXISTS ${LAMINAR_BINARY_DIR}/cmake_install.cmake)
    message(FATAL_ERROR "run_consumer: -DLAMINAR_BINARY_DIR must name a configured laminar build tree")
  endif()
  if(NOT LAMINAR_VERSION MATCHES "^([0-9]+)\\.([0-9]+)\\.[0-9]+$")
    message(FATAL_ERROR "run_consumer: -DLAMINAR_VERSION=<major.minor.patch> is required for find_package")
  endif()
  set(required_version ${CMAKE_MATCH_1}.${CMAKE_MATCH_2})
  consumer_step(install ${CMAKE_COMMAND} --install ${LAMINAR_BINARY_DIR} --prefix ${prefix_dir})
  # The exported target must not carry the build machine's libnuma decision:
  # laminarConfig.cmake makes it on the consumer's machine.
  file(GLOB_RECURSE exported_targets ${prefix_dir}/laminarTargets*.cmake)
  if(NOT exported_targets)
    message(FATAL_ERROR "consumer_${KIND}: no laminarTargets*.cmake under ${prefix_dir}")
  endif()
  foreach(file IN LISTS exported_targets)
    file(READ ${file} exported)
    if(exported MATCHES "numa|NUMA")
      message(FATAL_ERROR "consumer_${KIND}: ${file} carries a libnuma decision of the build machine")
    endif()
  endforeach()
  list(APPEND configure_args
    -DLAMINAR_REQUIRED_VERSION=${required_version}
    -DCMAKE_PREFIX_PATH=${prefix_dir}
    -DLAMINAR_EXPECTED_PREFIX=${prefix_dir}
    # Only the freshly installed copy may satisfy find_package(laminar).
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
else()
  list(APPEND configure_args -DLAMINAR_SOURCE_DIR=${LAMINAR_SOURCE_DIR})
endif()

if(KIND STREQUAL "fetchcontent_cereal")
  # A cereal source tree to fetch, made from the installed cereal headers.
  set(cereal_headers "")
  foreach(dir IN LISTS CEREAL_INCLUDE_DIRS)
    if(EXISTS ${dir}/cereal/cereal.hpp)
      set(cereal_headers ${dir}/cereal)
      break()
    endif()
  endforeach()
  if(cereal_headers STREQUAL "")
    message(FATAL_ERROR "run_consumer: no cereal/cereal.hpp under -DCEREAL_INCLUDE_DIRS='${CEREAL_INCLUDE_DIRS}'")
  endif()
  file(COPY ${consumer_source_dir}/cereal_project/CMakeLists.txt DESTINATION ${cereal_source_dir})
  file(COPY ${cereal_headers} DESTINATION ${cereal_source_dir}/include)
  list(APPEND configure_args -DCEREAL_SOURCE_DIR=${cereal_source_dir})
endif()

consumer_step(configure ${CMAKE_COMMAND} ${configure_args})
consumer_step(build ${CMAKE_COMMAND} --build ${build_dir} --config Release)

# Single-config generators put the program in the build tree's top; multi-config
# ones in a per-configuration folder.
set(exe "")
foreach(candidate IN ITEMS ${build_dir}/laminar_consumer ${build_dir}/Release/laminar_consumer
                           ${build_dir}/laminar_consumer.exe ${build_dir}/Release/laminar_consumer.exe)
  if(EXISTS ${candidate})
    set(exe ${candidate})
    break()
  endif()
endforeach()
if(exe STREQUAL "")
  message(FATAL_ERROR "consumer_${KIND}: step 'run' failed: no laminar_consumer executable under ${build_dir}")
endif()
consumer_step(run ${exe})

message(STATUS "consumer_${KIND}: passed")
