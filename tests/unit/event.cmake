# The normalized event (core/event.c) and the message catalogue (core/i18n.c).
mm_check_test(test_event SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_event.c LIBS mm_event LABELS unit)
mm_check_test(test_i18n SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_i18n.c LIBS mm_event LABELS unit)
