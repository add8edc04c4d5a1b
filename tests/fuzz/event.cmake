# The event decoder (core/event.c). This fragment sorts before fuzz.cmake,
# which defines mm_fuzz_target(), so it includes it (include-guarded) itself.
include(${CMAKE_CURRENT_LIST_DIR}/fuzz.cmake)
mm_fuzz_target(fuzz_event SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_event.c LIBS mm_event)
