# Configuration parsing and validation (core/config.c) on arbitrary files.
mm_fuzz_target(fuzz_config SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_config.c LIBS mm_config)
# libconfig 1.5 itself leaks a token on some syntax errors (see the file).
set_property(TEST fuzz_fuzz_config APPEND PROPERTY ENVIRONMENT
             "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/data/config/lsan-libconfig.supp")
