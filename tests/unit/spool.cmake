# The aggregator's spool (core/agg/spool.c) on its own.
mm_check_test(test_spool SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_spool.c LIBS mm_agg LABELS unit)
