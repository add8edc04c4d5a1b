/*
 * Test helper: read a capture file with libpcap and hand every frame to a
 * callback; and a minimal Ethernet/VLAN/IPv4/UDP walk for the SDK parser
 * tests, which must not depend on the packet decoder under test elsewhere.
 */
#ifndef BYOD_TEST_PCAP_WALK_H
#define BYOD_TEST_PCAP_WALK_H

#include <stddef.h>
#include <stdint.h>

typedef void (*walk_cb)(void *user, unsigned frame, int linktype, uint64_t ts_ns,
                        const uint8_t *data, uint32_t caplen, uint32_t wirelen);

/* Returns the number of frames read, or -1 when the file cannot be opened. */
int walk_pcap(const char *path, walk_cb cb, void *user);

/* Finds the UDP payload of an Ethernet (optionally VLAN-tagged) IPv4 frame.
 * Returns 1 and fills the out-parameters, 0 when the frame is not that. */
int udp4_payload(const uint8_t **out, size_t *out_len, uint16_t *sport, uint16_t *dport,
                 int linktype, const uint8_t *data, uint32_t caplen);

/* Path of a test data file: $MM_TEST_DATA/rel in a static buffer. */
const char *test_data(const char *rel);

#endif
