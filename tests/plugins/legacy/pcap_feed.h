/*
 * Test helper of the legacy plugin's suites: read a capture file with
 * libpcap, decode each frame with the SDK decoder and hand it to a callback,
 * the way the host does in `mimamori replay`.
 */
#ifndef LEGACY_TEST_PCAP_FEED_H
#define LEGACY_TEST_PCAP_FEED_H

#include <mimamori/packet.h>

typedef void (*feed_cb)(const struct mm_packet *pkt, void *user);

/* Returns the number of frames read, or -1 when the file cannot be opened. */
long feed_pcap(const char *path, feed_cb cb, void *user);
/* "$MM_TEST_DATA/rel" into out. */
void test_data_path(char *out, size_t outlen, const char *rel);

#endif
