# Builds consumer_main.cpp (a pipeline and a graph) with the compiler alone, no
# CMake project, exactly as README.md tells a plain `g++` user to, then runs it.
# Run in script mode:
#
#   cmake -DLAMINAR_SOURCE_DIR=<laminar source tree> -DCXX_COMPILER=<c++ compiler>
#         -DFLAGS=<flags after the source, '|'-separated: -pthread|-lnuma>
#         -DCEREAL_INCLUDE_DIRS=<'|'-separated, for a cereal outside the system dirs>
#         -DWORK_DIR=<scratch directory> -P run_plain_compiler.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS LAMINAR_SOURCE_DIR CXX_COMPILER FLAGS WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_plain_compiler: -D${var}=... is required")
  endif()
endforeach()

string(REPLACE "|" ";" flags "${FLAGS}")
string(REPLACE "|" ";" cereal_dirs "${CEREAL_INCLUDE_DIRS}")
set(cereal_flags "")
foreach(dir IN LISTS cereal_dirs)
  list(APPEND cereal_flags -I${dir})
endforeach()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(exe ${WORK_DIR}/plain_consumer)
set(command ${CXX_COMPILER} -std=c++20 -O1 -Wall -Wextra -Wpedantic -Werror -I${LAMINAR_SOURCE_DIR}/include
  ${cereal_flags} ${CMAKE_CURRENT_LIST_DIR}/consumer_main.cpp -o ${exe} ${flags})
string(REPLACE ";" " " cmdline "${command}")
message(STATUS "plain compiler: ${cmdline}")
execute_process(COMMAND ${command} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "plain compiler: compile and link failed (${rc})\n---- output ----\n${out}")
endif()
execute_process(COMMAND ${exe} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "plain compiler: the program failed (${rc})\n---- output ----\n${out}")
endif()
string(STRIP "${out}" out)
message(STATUS "plain compiler: ${out}")
