# Fuzz targets of the ips plugin and of the SDK flow table it drives.
include(${CMAKE_CURRENT_LIST_DIR}/fuzz.cmake)
mm_fuzz_target(ips_flow SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/ips_flow.c LIBS mimamori_sdk)
if(TARGET mm_ips_core)
  mm_fuzz_target(ips_rules SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/ips_rules.c LIBS mm_ips_core)
  mm_fuzz_target(ips_app SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/ips_app.c LIBS mm_ips_core)
endif()
