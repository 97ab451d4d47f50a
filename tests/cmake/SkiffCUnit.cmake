# skiff_add_cunit(<name> SOURCES ... [LIBS ...] LABELS ... [TIMEOUT s])
#
# Builds a CUnit test binary on tests/common's harness and registers each of
# its tests as a ctest entry of its own ("<name>.<suite>/<test>"). The list
# is read from the binary after each build (--list), as gtest_discover_tests
# does, so adding a test needs no CMake edit. Exit code 77 is a skip.
find_library(CUNIT_LIBRARY cunit REQUIRED)
find_path(CUNIT_INCLUDE_DIR CUnit/CUnit.h REQUIRED)

add_library(testkit STATIC ${CMAKE_CURRENT_LIST_DIR}/../common/testkit.c)
target_include_directories(testkit PUBLIC ${CMAKE_CURRENT_LIST_DIR}/../common ${CUNIT_INCLUDE_DIR})
target_link_libraries(testkit PUBLIC ${CUNIT_LIBRARY})
target_compile_options(testkit PRIVATE -Wall -Wextra -Werror)

include(${CMAKE_CURRENT_LIST_DIR}/SkiffBench.cmake)
set(SKIFF_CUNIT_DISCOVER ${CMAKE_CURRENT_LIST_DIR}/SkiffCUnitDiscover.cmake)

function(skiff_add_cunit name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE testkit ${T_LIBS})
  target_compile_options(${name} PRIVATE -Wall -Wextra -Werror)
  target_compile_definitions(${name} PRIVATE $<$<BOOL:${SKIFF_DEBUG_FRAMES}>:SKIFF_DEBUG_FRAMES=1>
    SKIFF_SOURCE_DIR="${PROJECT_SOURCE_DIR}" SKIFF_BINARY_DIR="${PROJECT_BINARY_DIR}")
  string(REPLACE ";" "," labels_csv "${T_LABELS}")
  set(ctest_file ${CMAKE_CURRENT_BINARY_DIR}/${name}_tests.cmake)
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -D TEST_BINARY=$<TARGET_FILE:${name}> -D TEST_PREFIX=${name}
            -D TEST_LABELS=${labels_csv} -D TEST_TIMEOUT=${T_TIMEOUT} -D CTEST_FILE=${ctest_file}
            -D SCOREBOARD=${PROJECT_BINARY_DIR}/scoreboard.tsv
            -P ${SKIFF_CUNIT_DISCOVER}
    VERBATIM)
  # Until the binary is built its list is empty, so ctest still runs the
  # others.
  if(NOT EXISTS ${ctest_file})
    file(WRITE ${ctest_file} "")
  endif()
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${ctest_file})
endfunction()
