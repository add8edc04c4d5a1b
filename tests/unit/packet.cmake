# Frame decoding (sdk/src/packet.c, addr.c, error.c) over real captures and
# hand-built frames, and the host's capture sources (core/capture.c).
mm_check_test(test_packet SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_packet.c
              LIBS mimamori_sdk PkgConfig::PCAP LABELS unit)
mm_check_test(test_capture SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/test_capture.c
              LIBS mm_capture LABELS unit)
