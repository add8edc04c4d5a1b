include(${CMAKE_CURRENT_LIST_DIR}/fuzz.cmake)
mm_fuzz_target(fuzz_wire SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_wire.c LIBS mm_agg mm_event)
