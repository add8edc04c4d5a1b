/*
 * Benchmark of the byod detector: frames/s of the detector (SDK decode +
 * inventory, policy, ARP and AP table) over the bundled 802.11 and DHCP
 * captures, against a bare libpcap read loop over the same files in the
 * same run. Runs as a stand-alone program.
 *
 * Two measurements: with the files opened by pcap_open_offline() on every
 * pass (page cache and read() calls, as replaying a capture file does),
 * and with the captures read into memory once and opened with
 * pcap_fopen_offline() over fmemopen(), so neither side pays for system
 * calls and only libpcap's record parsing is the baseline (the stricter
 * ratio). In each, the three loops (bare, decode only, decode + byod)
 * alternate for R rounds, repeated N times, and the shortest single pass
 * of each loop counts: interference on a shared machine only ever
 * makes a loop slower, so the minimum is the most stable estimate.
 * Usage: bench_iot [-v] [R [N]]; -v adds a per-capture breakdown.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mimamori/packet.h>

#include "bench_util.h"
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
#define NFILES (sizeof(files) / sizeof(files[0]))

/* Overridable so the benchmark runs from an installed or moved tree. */
static const char *data_dir = MM_BENCH_DATA;
static const char *src_dir = MM_BENCH_SRC;

static struct {
	char *data;
	size_t len;
} mem[NFILES];

enum mode { BARE, DECODE, DETECT, NMODES };

/* 1: open the files with pcap_open_offline() on every pass (page cache,
 * read() calls), as a capture file replay does; 0: from memory. */
static int from_files;

static void
sink(void *user, const struct byod_finding *f)
{
	(*(unsigned long *)user)++;
	(void)f;
}

static void
load_files(void)
{
	char path[4096];

	for (size_t i = 0; i < NFILES; i++) {
		FILE *f;
		long n;

		snprintf(path, sizeof(path), "%s/%s", data_dir, files[i]);
		f = fopen(path, "rb");
		if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0) {
			fprintf(stderr, "bench_iot: cannot read %s\n", path);
			exit(1);
		}
		rewind(f);
		mem[i].data = malloc((size_t)n);
		if (mem[i].data == NULL || fread(mem[i].data, 1, (size_t)n, f) != (size_t)n) {
			fprintf(stderr, "bench_iot: cannot read %s\n", path);
			exit(1);
		}
		mem[i].len = (size_t)n;
		fclose(f);
	}
}

/* One pass over files [from, to); the sum keeps the compiler from
 * dropping the work. */
static unsigned long
pass_files(enum mode mode, struct byod *b, unsigned long *sum, size_t from, size_t to)
{
	char err[PCAP_ERRBUF_SIZE];
	unsigned long n = 0;

	for (size_t i = from; i < to; i++) {
		struct pcap_pkthdr *h;
		const u_char *d;
		char path[4096];
		FILE *f = NULL;
		pcap_t *p;
		int lt;

		if (from_files) {
			snprintf(path, sizeof(path), "%s/%s", data_dir, files[i]);
			p = pcap_open_offline(path, err);
		} else {
			f = fmemopen(mem[i].data, mem[i].len, "rb");
			p = f ? pcap_fopen_offline(f, err) : NULL;
		}
		if (p == NULL) {
			fprintf(stderr, "bench_iot: %s: %s\n", files[i], err);
			exit(1);
		}
		lt = pcap_datalink(p);
		while (pcap_next_ex(p, &h, &d) == 1) {
			struct mm_packet pkt;
			n++;
			*sum += d[0];
			if (mode == BARE)
				continue;
			mm_packet_decode(&pkt, lt,
			                 (uint64_t)h->ts.tv_sec * 1000000000ull +
			                         (uint64_t)h->ts.tv_usec * 1000ull,
			                 d, h->caplen, h->len);
			*sum += pkt.layers;
			if (mode == DETECT)
				byod_packet(b, &pkt);
		}
		pcap_close(p); /* closes f too */
	}
	return n;
}

static unsigned long
pass(enum mode mode, struct byod *b, unsigned long *sum)
{
	return pass_files(mode, b, sum, 0, NFILES);
}

/* With -v: the same measurement per capture, to see where the time goes. */
static void
per_file(struct byod *b, int rounds, unsigned long *sum)
{
	for (size_t i = 0; i < NFILES; i++) {
		double best[NMODES] = {1e30, 1e30, 1e30};
		unsigned long n = pass_files(BARE, b, sum, i, i + 1);
		for (int r = 0; r < 5; r++) {
			for (int m = 0; m < NMODES; m++) {
				double t0 = mm_bench_now();
				for (int k = 0; k < rounds; k++)
					pass_files((enum mode)m, b, sum, i, i + 1);
				t0 = mm_bench_now() - t0;
				if (t0 < best[m])
					best[m] = t0;
			}
		}
		printf("  %-55s %5lu frames: bare %6.1f, decode +%6.1f, byod +%6.1f ns/frame\n",
		       files[i], n, best[BARE] * 1e9 / ((double)n * rounds),
		       (best[DECODE] - best[BARE]) * 1e9 / ((double)n * rounds),
		       (best[DETECT] - best[DECODE]) * 1e9 / ((double)n * rounds));
	}
}

/* For each loop, the shortest single pass over all the captures among
 * reps x rounds interleaved passes (a pass takes a fraction of a
 * millisecond, so most passes run without being preempted even on a busy
 * machine, and the minimum is what the code costs), scaled to rounds
 * passes. */
static void
measure(double *best, struct byod *b, int rounds, int reps, unsigned long *sum)
{
	for (int m = 0; m < NMODES; m++)
		best[m] = 1e30;
	for (int r = 0; r < reps; r++) {
		for (int k = 0; k < rounds; k++) {
			for (int m = 0; m < NMODES; m++) {
				double t0 = mm_bench_now();
				pass((enum mode)m, b, sum);
				t0 = mm_bench_now() - t0;
				if (t0 < best[m])
					best[m] = t0;
			}
		}
	}
	for (int m = 0; m < NMODES; m++)
		best[m] *= rounds;
}

static void
report(const char *title, const double *best, unsigned long frames, int rounds)
{
	static const char *const names[NMODES] = {"libpcap read loop (baseline)",
	                                          "read + SDK decode", "read + decode + byod"};
	double rate[NMODES];

	printf("%s\n", title);
	for (int m = 0; m < NMODES; m++) {
		rate[m] = (double)frames * rounds / best[m];
		printf("  %-30s: %12.0f frames/s  %7.1f ns/frame\n", names[m], rate[m],
		       1e9 / rate[m]);
	}
	printf("  decode cost %.1f ns/frame, byod cost %.1f ns/frame\n",
	       1e9 / rate[DECODE] - 1e9 / rate[BARE], 1e9 / rate[DETECT] - 1e9 / rate[DECODE]);
	printf("  ratio %.3f (decode + byod / bare libpcap; goal >= 0.7)\n",
	       rate[DETECT] / rate[BARE]);
}

int
main(int argc, char **argv)
{
	int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
	int rounds = argc > 1 + verbose ? atoi(argv[1 + verbose]) : 200;
	int reps = argc > 2 + verbose ? atoi(argv[2 + verbose]) : 9;
	struct byod_config cfg;
	struct byod_oui *oui = NULL;
	struct byod_fptab *fp = NULL;
	struct byod *b = NULL;
	unsigned long frames = 0, sum = 0, findings = 0;
	double best[NMODES];
	char path[4096];

	if (rounds < 1 || reps < 1)
		return 2;
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
	load_files();

	/* Warm the caches and the tables. */
	for (int m = 0; m < NMODES; m++)
		frames = pass((enum mode)m, b, &sum);
	printf("bench_iot: %lu frames in %zu captures (802.11 + DHCP); shortest of %d x %d passes "
	       "per loop\n",
	       frames, NFILES, reps, rounds);
	from_files = 1;
	measure(best, b, rounds, reps, &sum);
	report("files (pcap_open_offline per pass, page cache):", best, frames, rounds);
	from_files = 0;
	measure(best, b, rounds, reps, &sum);
	report("in memory (fmemopen + pcap_fopen_offline):", best, frames, rounds);
	printf("devices %zu, access points %zu, findings %lu (check %lu)\n", byod_dev_count(b),
	       byod_ap_count(b), findings, sum & 1);
	if (verbose)
		per_file(b, rounds, &sum);
	byod_free(b);
	for (size_t i = 0; i < NFILES; i++)
		free(mem[i].data);
	return 0;
}
