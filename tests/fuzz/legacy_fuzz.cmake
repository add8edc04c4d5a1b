# Fuzz targets of the legacy plugin: its text parsers (p0f signatures,
# signal and end-of-life tables, os-release) and its payload extractors
# (SMB, HTTP, DHCP, TCP options, ClamAV header, firewall dumps).
include(${CMAKE_CURRENT_LIST_DIR}/fuzz.cmake)
if(TARGET mm_legacy_core)
  mm_fuzz_target(legacy_p0f SOURCES ${CMAKE_CURRENT_LIST_DIR}/legacy_p0f.c LIBS mm_legacy_core)
  mm_fuzz_target(legacy_signals SOURCES ${CMAKE_CURRENT_LIST_DIR}/legacy_signals.c
                 LIBS mm_legacy_core)
endif()
