# Included by the add_subdirectory and fetchcontent consumers with
# LAMINAR_TREE set to laminar's source directory: checks that laminar, as a
# subproject, builds nothing of its own, then adds the consumer executable.
foreach(option IN ITEMS LAMINAR_BUILD_TESTS LAMINAR_BUILD_BENCHMARKS LAMINAR_BUILD_EXAMPLES LAMINAR_INSTALL)
  if(${option})
    message(FATAL_ERROR "${option} is ON in a subproject build; it must default to OFF")
  endif()
endforeach()
foreach(target IN ITEMS core_tests operator_tests source_tests sink_tests support_tests concurrency_tests
                        laminar_test_support laminar_header_check laminar_warnings example_01_quickstart)
  if(TARGET ${target})
    message(FATAL_ERROR "laminar's own target '${target}' exists in a subproject build")
  endif()
endforeach()
get_directory_property(laminar_subdirs DIRECTORY ${LAMINAR_TREE} SUBDIRECTORIES)
if(laminar_subdirs)
  message(FATAL_ERROR "laminar added subdirectories in a subproject build: ${laminar_subdirs}")
endif()

get_directory_property(laminar_version DIRECTORY ${LAMINAR_TREE} DEFINITION PROJECT_VERSION)

add_executable(laminar_consumer ${CMAKE_CURRENT_LIST_DIR}/consumer_main.cpp)
target_link_libraries(laminar_consumer PRIVATE laminar::laminar)
target_compile_options(laminar_consumer PRIVATE -Wall -Wextra -Wpedantic -Werror)
target_compile_definitions(laminar_consumer PRIVATE LAMINAR_CONSUMER_EXPECTED_VERSION="${laminar_version}")
