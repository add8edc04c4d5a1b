/*
 * Benchmark of the byod detector: reads the bundled 802.11 and DHCP
 * captures with libpcap, decodes each frame with the SDK and runs it
 * through the detector (inventory, policy, ARP, AP table), and compares
 * the frame rate with a bare libpcap read loop over the same files in the
 * same run. Both loops read the files from the page cache, so the ratio
 * says how much of the capture budget the detector costs. Runs as a
 * stand-alone program.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mimamori/packet.h>

#include "byod.h"

static const char *const files[] = {
        "aircrack-ng-tests/wpa-psk-linksys.cap",
        "aircrack-ng-tests/wpa2-psk-linksys.cap",
        "aircrack-ng-tests/n-02.cap",
        "aircrack-ng-tests/capture_wds-01.cap",
        "aircrack-ng-tests/test1.pcap",
        "tcpdump-tests/ieee802.11_exthdr.pcap",
        "chrissanders-packets/80211beacon.pcapng",
        "zeek-traces/dhcp_dhcp.pcap",
        "tcpdump-tests/dhcp-rfc4388.pcap",
        "tcpdump-tests/dhcp-mud.pcap",
        "tcpdump-tests/dhcp-option-108.pcapng",
        "chrissanders-packets/dhcp_nolease_initialization.pcapng",
};

/* Overridable so the benchmark runs from an installed or moved tree. */
static const char *data_dir = MM_BENCH_DATA;
static const char *src_dir = MM_BENCH_SRC;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sink(void *user, const struct byod_finding *f)
{
	(*(unsigned long *)user)++;
	(void)f;
}

/* One pass over every file; with b == NULL only reads the frames. */
static unsigned long
pass(struct byod *b, unsigned long *bytes)
{
	char path[4096], err[PCAP_ERRBUF_SIZE];
	unsigned long n = 0;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct pcap_pkthdr *h;
		const u_char *d;
		pcap_t *p;
		int lt;

		snprintf(path, sizeof(path), "%s/%s", data_dir, files[i]);
		p = pcap_open_offline(path, err);
		if (p == NULL) {
			fprintf(stderr, "%s\n", err);
			exit(1);
		}
		lt = pcap_datalink(p);
		while (pcap_next_ex(p, &h, &d) == 1) {
			n++;
			*bytes += d[0];
			if (b != NULL) {
				struct mm_packet pkt;
				mm_packet_decode(&pkt, lt,
				                 (uint64_t)h->ts.tv_sec * 1000000000ull +
				                         (uint64_t)h->ts.tv_usec * 1000ull,
				                 d, h->caplen, h->len);
				byod_packet(b, &pkt);
			}
		}
		pcap_close(p);
	}
	return n;
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 200;
	struct byod_config cfg;
	struct byod_oui *oui = NULL;
	struct byod_fptab *fp = NULL;
	struct byod *b = NULL;
	unsigned long frames_base = 0, frames_det = 0, bytes = 0, findings = 0;
	double t0, t_base, t_det;
	char path[4096];

	if (getenv("MM_TEST_DATA") != NULL)
		data_dir = getenv("MM_TEST_DATA");
	if (getenv("MM_SOURCE_DIR") != NULL)
		src_dir = getenv("MM_SOURCE_DIR");
	byod_config_init(&cfg);
	byod_config_add(&cfg, "company_ssids", "linksys");
	byod_config_add(&cfg, "authorized_bssids", "00:0b:86:c2:a4:85");
	snprintf(path, sizeof(path), "%s/data/byod/oui-subset.txt", src_dir);
	byod_oui_load(&oui, path, 100000);
	snprintf(path, sizeof(path), "%s/data/byod/dhcp-fingerprints.tsv", src_dir);
	byod_fp_load(&fp, path, 10000);
	if (byod_new(&b, &cfg, oui, fp, sink, &findings) != 0)
		return 1;
	byod_config_clear(&cfg);

	/* Warm the page cache and the tables, then alternate the two loops
	 * so that frequency changes hit both alike. */
	pass(NULL, &bytes);
	pass(b, &bytes);
	t_base = t_det = 0;
	for (int r = 0; r < rounds; r++) {
		t0 = now_s();
		frames_base += pass(NULL, &bytes);
		t_base += now_s() - t0;
		t0 = now_s();
		frames_det += pass(b, &bytes);
		t_det += now_s() - t0;
	}
	printf("bench_iot: %d rounds over %zu captures (802.11 + DHCP)\n", rounds,
	       sizeof(files) / sizeof(files[0]));
	printf("  libpcap read loop : %12.0f frames/s\n", (double)frames_base / t_base);
	printf("  decode + byod     : %12.0f frames/s\n", (double)frames_det / t_det);
	printf("  ratio             : %.3f (goal >= 0.7)\n",
	       ((double)frames_det / t_det) / ((double)frames_base / t_base));
	printf("  devices %zu, access points %zu, findings %lu (check %lu)\n", byod_dev_count(b),
	       byod_ap_count(b), findings, bytes & 1);
	byod_free(b);
	return 0;
}
