/*
 * Fuzz target for the frame decoder (sdk/src/packet.c). The first input
 * byte picks one of the supported link types, the rest is the frame. Each
 * frame is decoded twice, once as complete and once as cut by a snap
 * length, and the decoded pointers are checked to stay inside the frame.
 * Runs as a libFuzzer binary or under tests/fuzz/standalone.c in CI.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mimamori/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int links[] = {
        MM_LINK_NULL,       MM_LINK_ETHERNET,  MM_LINK_RAW,
        MM_LINK_IEEE802_11, MM_LINK_LINUX_SLL, MM_LINK_IEEE802_11_RADIOTAP,
        MM_LINK_IPV4,       MM_LINK_IPV6,
};

static void
check(const struct mm_packet *p)
{
	const uint8_t *end = p->data + p->caplen;
	char s[MM_ADDR_STRLEN], m[MM_MAC_STRLEN];
	uint8_t len;

	if (p->payload != NULL && (p->payload < p->data || p->payload + p->payload_len > end))
		abort();
	if (p->wlan_body != NULL &&
	    (p->wlan_body < p->data || p->wlan_body + p->wlan_body_len > end))
		abort();
	if (p->tcp_options != NULL && p->tcp_options + p->tcp_options_len > end)
		abort();
	if (p->decode_error >= MM_DEC__COUNT)
		abort();
	mm_addr_format(s, &p->src);
	mm_addr_format(s, &p->icmp_inner.dst);
	if (p->wlan_bssid != NULL)
		mm_mac_format(m, p->wlan_bssid);
	if (p->wlan_body != NULL) {
		/* Touch every element the walk returns. */
		for (unsigned id = 0; id < 256; id += 37) {
			const uint8_t *ie = mm_wlan_find_ie(p->wlan_body, p->wlan_body_len, 0,
			                                    (uint8_t)id, &len);
			if (ie != NULL && ie + len > end)
				abort();
		}
		(void)mm_wlan_find_ie(p->wlan_body, p->wlan_body_len, 12, 0, &len);
	}
	(void)mm_decode_error_name(p->decode_error);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_packet p;
	uint8_t *frame;
	uint32_t len;

	if (size < 1 || size > 65536 + 1)
		return 0;
	len = (uint32_t)(size - 1);
	/* An exact-size copy, so that reading one byte too far is caught. */
	frame = malloc(len ? len : 1);
	if (frame == NULL)
		return 0;
	memcpy(frame, data + 1, len);
	mm_packet_decode(&p, links[data[0] % (sizeof(links) / sizeof(links[0]))], 0, frame, len,
	                 len);
	check(&p);
	mm_packet_decode(&p, links[data[0] % (sizeof(links) / sizeof(links[0]))], 0, frame, len,
	                 len + 1500);
	check(&p);
	free(frame);
	return 0;
}
