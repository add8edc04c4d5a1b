# mm_add_plugin(NAME SOURCES src... [LIBRARIES lib...])
#
# Builds a mimamori plugin as a shared object named NAME.so, with hidden
# visibility (only mm_plugin_entry is exported), linked against the SDK
# support library. Used in the tree and installed for vendors' own builds.
function(mm_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES PREFIX "" C_VISIBILITY_PRESET hidden
                        VISIBILITY_INLINES_HIDDEN ON)
  if(TARGET mimamori_sdk)
    target_link_libraries(${name} PRIVATE mimamori_sdk ${ARG_LIBRARIES})
  else()
    target_link_libraries(${name} PRIVATE Mimamori::sdk ${ARG_LIBRARIES})
  endif()
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  if(DEFINED MM_BUILD_PLUGIN_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${MM_BUILD_PLUGIN_DIR})
    install(TARGETS ${name} LIBRARY DESTINATION ${MM_INSTALL_PLUGIN_DIR})
  endif()
endfunction()
