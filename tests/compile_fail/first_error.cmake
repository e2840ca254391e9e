# Compiles SOURCE with COMPILER (and the ;-separated FLAGS) and passes only
# if the compilation fails and its FIRST error line matches the regex
# EXPECTED: a reader sees laminar's own message before anything else.
#   cmake -DCOMPILER=g++ -DSOURCE=x.cpp -DEXPECTED=regex "-DFLAGS=-Iinclude|-Icereal" -P first_error.cmake
# (FLAGS separated by "|", which survives add_test where ";" would not).
# With AT_LINE, the first place the diagnostics name in SOURCE itself (g++'s
# "required from here", clang's "in instantiation of ... requested here")
# must be that line.
foreach(var COMPILER SOURCE EXPECTED)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "first_error.cmake: ${var} is not set")
  endif()
endforeach()

string(REPLACE "|" ";" FLAGS "${FLAGS}")
execute_process(
  COMMAND ${COMPILER} -std=c++20 -fsyntax-only ${FLAGS} ${SOURCE}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)

if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled with ${COMPILER}, but must not")
endif()

# g++ and clang both write "file:line:col: error: ..." (or "fatal error:");
# file names such as core/error.hpp never carry the colon and space.
string(REGEX MATCH "[^\n]*error: [^\n]*" first "${out}")
if(first STREQUAL "")
  message(FATAL_ERROR "${COMPILER} failed on ${SOURCE} without an error line:\n${out}")
endif()
if(NOT first MATCHES "${EXPECTED}")
  string(SUBSTRING "${out}" 0 4000 head)
  message(FATAL_ERROR "${COMPILER}: the first error on ${SOURCE} is not the expected one.\n"
                      "expected (regex): ${EXPECTED}\nfirst error: ${first}\n--- output (head) ---\n${head}")
endif()
if(AT_LINE)
  get_filename_component(file ${SOURCE} NAME)
  string(REGEX MATCH "[^\n]*${file}:[0-9]+:[0-9]+:[^\n]*" where "${out}")
  if(NOT where MATCHES "${file}:${AT_LINE}:")
    message(FATAL_ERROR "${COMPILER}: the diagnostics point first at\n  ${where}\nnot at ${file}:${AT_LINE}")
  endif()
endif()
message(STATUS "${COMPILER}: first error: ${first}")
