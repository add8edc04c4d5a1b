# Fuzz targets of the attach plugin (issue 5): MIME, archives, OLE2/VBA.
include(${CMAKE_CURRENT_LIST_DIR}/fuzz.cmake)
if(TARGET mm_attach_core)
  mm_fuzz_target(attach_mime SOURCES ${CMAKE_CURRENT_LIST_DIR}/attach_mime.c LIBS mm_attach_core)
  mm_fuzz_target(attach_zip SOURCES ${CMAKE_CURRENT_LIST_DIR}/attach_zip.c LIBS mm_attach_core)
  mm_fuzz_target(attach_ole SOURCES ${CMAKE_CURRENT_LIST_DIR}/attach_ole.c LIBS mm_attach_core)
endif()
