# skiff_add_bench(<name> SOURCES ... [LIBS ...] [TIMEOUT s])
# A benchmark program: prints a table, then `bench <figure> <value> <unit>`
# lines (medians). Registered with ctest under the `bench` label, which the
# default test presets leave out: run them with `ctest --preset bench`.
function(skiff_add_bench name)
  cmake_parse_arguments(B "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT B_TIMEOUT)
    set(B_TIMEOUT 600)
  endif()
  add_executable(${name} ${B_SOURCES})
  target_link_libraries(${name} PRIVATE ${B_LIBS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/common)
  target_compile_options(${name} PRIVATE -Wall -Wextra -Werror)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "bench;${B_LABELS}" TIMEOUT ${B_TIMEOUT})
endfunction()
