include_guard(GLOBAL)
# mm_fuzz_target(NAME SOURCES src... [LIBS lib...])
#
# Every fuzz target is built twice: as a plain executable that replays its
# seed corpus plus deterministic mutations of it (registered with ctest,
# label "fuzz": the short run CI does on every build, sanitizers included
# when MM_SANITIZE is on), and, with MM_BUILD_FUZZERS=ON and clang, as a
# libFuzzer binary for long runs (tests/fuzz/README.md).
function(mm_fuzz_target name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  set(corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${name})
  add_executable(${name}_run ${ARG_SOURCES} ${CMAKE_SOURCE_DIR}/tests/fuzz/standalone.c)
  target_link_libraries(${name}_run PRIVATE ${ARG_LIBS})
  set_target_properties(${name}_run PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  add_test(NAME fuzz_${name} COMMAND ${name}_run ${corpus})
  set_tests_properties(fuzz_${name} PROPERTIES LABELS "fuzz" TIMEOUT 600
                       ENVIRONMENT "${MM_TEST_ENV}")
  if(MM_BUILD_FUZZERS AND CMAKE_C_COMPILER_ID STREQUAL "Clang")
    add_executable(${name}_fuzzer ${ARG_SOURCES})
    target_compile_options(${name}_fuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name}_fuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name}_fuzzer PRIVATE ${ARG_LIBS})
    set_target_properties(${name}_fuzzer PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                          ${CMAKE_BINARY_DIR}/fuzz)
  endif()
endfunction()
