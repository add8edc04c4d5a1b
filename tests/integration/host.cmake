# Host integration tests (issue: plugin host, supervisor, replay, SDK).
# Test plugins go to build/test-plugins/{good,bad,dup}: a refused file must
# not sit next to the good ones, or every good test would list it.
set(MM_TP_SRC ${CMAKE_CURRENT_LIST_DIR}/plugins/testplug.c)
function(mm_test_plugin target dir name)
  add_library(${target} MODULE ${MM_TP_SRC})
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME ${name}
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/test-plugins/${dir})
  target_link_libraries(${target} PRIVATE mimamori_sdk)
  target_compile_definitions(${target} PRIVATE ${ARGN})
endfunction()
mm_test_plugin(tp_counter_a good counter_a TP_NAME="counter_a")
mm_test_plugin(tp_counter_b good counter_b TP_NAME="counter_b")
mm_test_plugin(tp_crasher good crasher TP_NAME="crasher")
mm_test_plugin(tp_hanger good hanger TP_NAME="hanger")
mm_test_plugin(tp_bad_abi bad bad_abi TP_NAME="bad_abi" TP_BAD_ABI)
mm_test_plugin(tp_too_small bad too_small TP_NAME="too_small" TP_TOO_SMALL_SIZE)
mm_test_plugin(tp_no_entry bad no_entry TP_NAME="no_entry" TP_NO_ENTRY)
mm_test_plugin(tp_null_entry bad null_entry TP_NAME="null_entry" TP_NULL_ENTRY)
mm_test_plugin(tp_dup1 dup a_first TP_NAME="twin")
mm_test_plugin(tp_dup2 dup b_second TP_NAME="twin")
add_custom_target(mm_test_plugins ALL DEPENDS tp_counter_a tp_counter_b tp_crasher tp_hanger
  tp_bad_abi tp_too_small tp_no_entry tp_null_entry tp_dup1 tp_dup2)

add_library(mm_testsupport STATIC ${CMAKE_SOURCE_DIR}/tests/support.c)
target_include_directories(mm_testsupport PUBLIC ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(mm_testsupport PUBLIC PkgConfig::CHECK)

mm_check_test(test_loader SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_loader.c
  LIBS mm_host mm_testsupport LABELS integration)
mm_check_test(test_supervisor SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_supervisor.c
  LIBS mm_testsupport LABELS integration TIMEOUT 600)
mm_check_test(test_replay SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_replay.c
  LIBS mm_testsupport LABELS integration)
add_dependencies(test_loader mm_test_plugins)
add_dependencies(test_supervisor mm_test_plugins mimamori)
add_dependencies(test_replay mimamori)

# SDK: every public header alone, as C11 -pedantic and as C++; and the
# example built out of tree against an installed SDK (cmake and pkg-config).
add_test(NAME sdk_headers COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/sdk_headers.sh
  ${CMAKE_SOURCE_DIR}/sdk/include)
if(MM_SANITIZE)
  set(MM_OOT_FLAGS "-fsanitize=address,undefined")
else()
  set(MM_OOT_FLAGS "")
endif()
add_test(NAME sdk_out_of_tree COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/sdk_out_of_tree.sh
  ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR} "${MM_OOT_FLAGS}")
set_tests_properties(sdk_headers sdk_out_of_tree PROPERTIES LABELS integration
  ENVIRONMENT "${MM_TEST_ENV}" TIMEOUT 600)
