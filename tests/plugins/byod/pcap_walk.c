/*
 * Test helper (see pcap_walk.h). Runs in the test processes only.
 */
#include "pcap_walk.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>

int
walk_pcap(const char *path, walk_cb cb, void *user)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *p;
	int n = 0;
	int lt;

	p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	if (p == NULL) {
		fprintf(stderr, "%s: %s\n", path, err);
		return -1;
	}
	lt = pcap_datalink(p);
	while (pcap_next_ex(p, &h, &d) == 1) {
		n++;
		cb(user, (unsigned)n, lt,
		   (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec, d, h->caplen,
		   h->len);
	}
	pcap_close(p);
	return n;
}

int
udp4_payload(const uint8_t **out, size_t *out_len, uint16_t *sport, uint16_t *dport, int linktype,
             const uint8_t *data, uint32_t caplen)
{
	uint32_t off = 12;
	uint32_t ihl, tot, ulen;
	uint16_t et;

	if (linktype != 1 || caplen < 14)
		return 0;
	et = (uint16_t)(data[12] << 8 | data[13]);
	while (et == 0x8100 && off + 6 <= caplen) {
		off += 4;
		et = (uint16_t)(data[off] << 8 | data[off + 1]);
	}
	off += 2;
	if (et != 0x0800 || caplen < off + 20 || (data[off] >> 4) != 4)
		return 0;
	ihl = (uint32_t)(data[off] & 15) * 4;
	tot = (uint32_t)(data[off + 2] << 8 | data[off + 3]);
	if (data[off + 9] != 17 || ihl < 20 || tot < ihl + 8 || caplen < off + tot)
		return 0;
	off += ihl;
	ulen = (uint32_t)(data[off + 4] << 8 | data[off + 5]);
	if (ulen < 8 || ulen > tot - ihl)
		return 0;
	*sport = (uint16_t)(data[off] << 8 | data[off + 1]);
	*dport = (uint16_t)(data[off + 2] << 8 | data[off + 3]);
	*out = data + off + 8;
	*out_len = ulen - 8;
	return 1;
}

const char *
test_data(const char *rel)
{
	static char buf[4096];
	const char *d = getenv("MM_TEST_DATA");

	snprintf(buf, sizeof(buf), "%s/%s", d ? d : "tests/data", rel);
	return buf;
}
