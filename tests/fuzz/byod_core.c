/*
 * Fuzz target for the byod wired path: the input is an Ethernet frame,
 * decoded by the SDK and fed to one long-lived detector with tiny tables
 * (8 devices, 8 ARP entries), so DHCP, names, HTTP, push traffic and ARP
 * all run on hostile frames and the hash tables go through constant
 * eviction, deletion and re-keying (re-randomized MACs). The timestamp
 * comes from the input so that rate limits and windows move both ways.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mimamori/packet.h>

#include "byod.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
sink(void *user, const struct byod_finding *f)
{
	(void)user;
	(void)f;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct byod *b;
	struct mm_packet pkt;
	uint64_t ts = 0;

	if (b == NULL) {
		struct byod_config cfg;
		byod_config_init(&cfg);
		cfg.max_devices = 8;
		cfg.max_arp = 8;
		cfg.findings_per_min = 5;
		byod_config_add(&cfg, "allow_hostname", "printer");
		byod_config_add(&cfg, "company_segments", "10.0.0.0/8");
		if (byod_new(&b, &cfg, NULL, NULL, sink, NULL) != 0)
			return 0;
		byod_config_clear(&cfg);
	}
	if (size < 2 || size > 65535)
		return 0;
	/* Two leading bytes pick the time (in seconds) of this frame. */
	ts = (uint64_t)(data[0] | data[1] << 8) * 1000000000ull;
	mm_packet_decode(&pkt, MM_LINK_ETHERNET, ts, data + 2, (uint32_t)(size - 2),
	                 (uint32_t)(size - 2));
	byod_packet(b, &pkt);
	return 0;
}
