/*
 * Test helper of the legacy plugin's suites: capture files through libpcap
 * and the SDK decoder (see pcap_feed.h). Runs in the test processes.
 */
#include "pcap_feed.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>

long
feed_pcap(const char *path, feed_cb cb, void *user)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p;
	long n = 0;
	int lt;

	p = pcap_open_offline(path, err);
	if (p == NULL)
		return -1;
	lt = pcap_datalink(p);
	while (pcap_next_ex(p, &h, &data) == 1) {
		struct mm_packet pkt;
		uint64_t ts =
		        (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec * 1000ull;
		mm_packet_decode(&pkt, lt, ts, data, h->caplen, h->len);
		cb(&pkt, user);
		n++;
	}
	pcap_close(p);
	return n;
}

void
test_data_path(char *out, size_t outlen, const char *rel)
{
	const char *d = getenv("MM_TEST_DATA");

	snprintf(out, outlen, "%s/%s", d != NULL ? d : "tests/data", rel);
}
