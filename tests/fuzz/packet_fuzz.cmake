# Frame decoder fuzz target; seeds are frames from tests/data captures, each
# prefixed with the index of its link type in fuzz_packet.c's table.
mm_fuzz_target(fuzz_packet SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_packet.c LIBS mimamori_sdk)
