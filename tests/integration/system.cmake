# System tests: the real `mimamori run` (supervisor, workers, aggregator)
# with the test plugins, killed and inspected from outside. The long ones
# are also labelled "slow" and scale with MM_SOAK_SCALE.
foreach(t agg_kill worker_kill full cli privdrop)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_system_${t}.c)
    set(labels integration)
    if(t STREQUAL "agg_kill" OR t STREQUAL "worker_kill")
      list(APPEND labels slow)
    endif()
    mm_check_test(test_system_${t}
                  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_system_${t}.c
                          ${CMAKE_CURRENT_LIST_DIR}/test_system_lib.c
                  LIBS mm_testsupport
                  LABELS ${labels} TIMEOUT 900)
    add_dependencies(test_system_${t} mimamori mm_test_plugins)
  endif()
endforeach()
