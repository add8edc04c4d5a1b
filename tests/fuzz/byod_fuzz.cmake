# Fuzz targets of the byod plugin and of the SDK DHCP parser.
# This fragment sorts before fuzz.cmake, so it pulls the helper in itself.
include(${CMAKE_CURRENT_LIST_DIR}/fuzz.cmake)

mm_fuzz_target(byod_dhcp SOURCES ${CMAKE_CURRENT_LIST_DIR}/byod_dhcp.c LIBS mimamori_sdk)
if(TARGET mm_byod_core)
  mm_fuzz_target(byod_wlan SOURCES ${CMAKE_CURRENT_LIST_DIR}/byod_wlan.c LIBS mm_byod_core)
  mm_fuzz_target(byod_mdns SOURCES ${CMAKE_CURRENT_LIST_DIR}/byod_mdns.c LIBS mm_byod_core)
endif()
if(TARGET mm_byod_core)
  mm_fuzz_target(byod_core SOURCES ${CMAKE_CURRENT_LIST_DIR}/byod_core.c LIBS mm_byod_core)
endif()
