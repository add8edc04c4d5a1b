# Aggregator and transport: integration tests with real ZeroMQ sockets and
# real processes (the helper runs the aggregator and producers).
add_executable(agg_helper ${CMAKE_CURRENT_LIST_DIR}/agg/agg_helper.c)
target_link_libraries(agg_helper PRIVATE mm_agg mm_config mm_event)
set_target_properties(agg_helper PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

foreach(t malformed corrupt full kill producer_kill cli sinks)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_agg_${t}.c)
    set(labels integration)
    if(t STREQUAL "kill")
      list(APPEND labels slow)
    endif()
    mm_check_test(test_agg_${t}
                  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_agg_${t}.c
                          ${CMAKE_CURRENT_LIST_DIR}/agg/agg_testlib.c
                  LIBS mm_agg mm_config mm_event
                  LABELS ${labels} TIMEOUT 900)
    target_include_directories(test_agg_${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/agg)
    target_compile_definitions(test_agg_${t} PRIVATE
                               MM_AGG_HELPER="$<TARGET_FILE:agg_helper>")
    add_dependencies(test_agg_${t} agg_helper)
  endif()
endforeach()
