# Configuration loading and validation (core/config.c).
mm_check_test(test_config SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_config.c
              LIBS mm_config LABELS unit)
