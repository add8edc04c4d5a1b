/*
 * Fuzz target for the byod 802.11 path: the input is a radiotap frame,
 * decoded by the SDK and fed to a detector configured with a company SSID
 * and small tables, so element parsing, the AP table, eviction and the
 * alert paths all run on hostile frames.
 */
#include <stddef.h>
#include <stdint.h>

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
	struct byod_ap ap;

	if (b == NULL) {
		struct byod_config cfg;
		byod_config_init(&cfg);
		cfg.max_aps = 8;
		cfg.deauth_per_s = 2;
		byod_config_add(&cfg, "company_ssids", "linksys");
		byod_config_add(&cfg, "authorized_bssids", "00:0b:86:00:00:01");
		if (byod_new(&b, &cfg, NULL, NULL, sink, NULL) != 0)
			return 0;
		byod_config_clear(&cfg);
	}
	if (size > 65535)
		return 0;
	mm_packet_decode(&pkt, MM_LINK_IEEE802_11_RADIOTAP, 1000000000ull, data, (uint32_t)size,
	                 (uint32_t)size);
	byod_wlan_parse(&ap, &pkt);
	byod_packet(b, &pkt);
	return 0;
}
