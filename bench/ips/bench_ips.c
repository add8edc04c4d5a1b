/*
 * Benchmark of the ips detection engine (a stand-alone tool, run by hand).
 * In one run it reads the same capture files (a) with a bare libpcap
 * pcap_next_ex() loop, (b) decoding every frame with mm_packet_decode() and
 * feeding it to the ips engine without rules, and (c) the same with the
 * full ET Open rule set loaded; it prints packets/s and Gbit/s of each, the
 * ratio of (b) and (c) to the bare loop, the rule load time (not part of
 * the timed passes) and the peak resident set size after each phase.
 *
 * bench_ips [-r ROUNDS] [-R RULES_DIR] [FILE...]; without files it takes
 * every capture under tests/data and, when present, ../shared/data.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <ftw.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ips_engine.h"
#include "ips_rule.h"
#include "mimamori/error.h"
#include "mimamori/packet.h"

#define MAX_FILES 4096

static char *files[MAX_FILES];
static int nfiles;
static unsigned long alerts;

static int
is_capture(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot != NULL && (strcmp(dot, ".pcap") == 0 || strcmp(dot, ".pcapng") == 0 ||
	                       strcmp(dot, ".cap") == 0);
}

static int
add_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_F && is_capture(path) && nfiles < MAX_FILES)
		files[nfiles++] = strdup(path);
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
peak_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void
on_alert(void *user, const struct ips_alert *a)
{
	(void)user;
	(void)a;
	alerts++;
}

struct result {
	unsigned long packets;
	unsigned long long bytes;
	double secs;
};

/* One pass over every file. eng NULL: the bare read loop. */
static void
pass(struct ips_engine *eng, struct result *r, unsigned long *sink)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	struct mm_packet p;
	double t0 = now();

	for (int i = 0; i < nfiles; i++) {
		pcap_t *pc = pcap_open_offline(files[i], ebuf);
		int lt;

		if (pc == NULL)
			continue;
		lt = pcap_datalink(pc);
		while (pcap_next_ex(pc, &h, &d) == 1) {
			uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000ull +
			              (uint64_t)h->ts.tv_usec * 1000ull;
			if (eng) {
				mm_packet_decode(&p, lt, ts, d, h->caplen, h->len);
				*sink += (unsigned long)ips_engine_packet(eng, &p, ts);
			} else {
				*sink += h->caplen ? d[0] : 0;
			}
			r->packets++;
			r->bytes += h->len;
		}
		pcap_close(pc);
		/* Files are unrelated captures: end their flows between them
		 * so one file's clock does not expire another's flows. */
		if (eng)
			ips_engine_tick(eng, UINT64_MAX / 2, 1);
	}
	r->secs += now() - t0;
}

static int
load_et(struct ips_ruleset **out, const char *dir, double *secs, char *sum, size_t sumlen)
{
	struct ips_ruleset *rs = NULL;
	struct ips_vars v;
	struct dirent **ents = NULL;
	char path[4096];
	int n, i, rc = MM_OK;
	double t0 = now();

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return MM_ERR_NOTFOUND;
	if (ips_vars_init(&v) != MM_OK || ips_ruleset_new(&rs) != MM_OK) {
		rc = MM_ERR_NOMEM;
		goto out;
	}
	ips_ruleset_default_classes(rs);
	snprintf(path, sizeof(path), "%s/classification.config", dir);
	ips_ruleset_load_classes(rs, path);
	for (i = 0; i < n; i++) {
		const char *dot = strrchr(ents[i]->d_name, '.');
		if (dot == NULL || strcmp(dot, ".rules") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if ((rc = ips_ruleset_load_file(rs, &v, path)) != MM_OK)
			goto out;
	}
	ips_ruleset_summary(rs, sum, sumlen);
	*out = rs;
	rs = NULL;
out:
	*secs = now() - t0;
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	ips_vars_free(&v);
	ips_ruleset_free(rs);
	return rc;
}

static void
report(const char *name, const struct result *r, const struct result *base)
{
	double pps = r->packets / r->secs, gbps = (double)r->bytes * 8 / r->secs / 1e9;

	printf("%-22s %12.0f pkt/s %8.3f Gbit/s", name, pps, gbps);
	if (base)
		printf("   ratio to bare read %.3f", pps / (base->packets / base->secs));
	printf("\n");
}

int
main(int argc, char **argv)
{
	int rounds = 5, opt;
	const char *et = MM_BENCH_SHARED "/et-open-2019-mirror";
	struct result bare = {0}, none = {0}, full = {0};
	struct ips_engine_opts eo;
	struct ips_engine *e0 = NULL, *e1 = NULL;
	struct ips_ruleset *rs = NULL;
	unsigned long sink = 0, a0;
	double load_s = 0;
	char sum[4096];
	long rss0, rss1, rss2;
	int rc = 0;

	while ((opt = getopt(argc, argv, "r:R:")) != -1) {
		if (opt == 'r')
			rounds = atoi(optarg) > 0 ? atoi(optarg) : 1;
		else if (opt == 'R')
			et = optarg;
		else {
			fprintf(stderr, "usage: bench_ips [-r ROUNDS] [-R RULES_DIR] [FILE...]\n");
			return 2;
		}
	}
	for (int i = optind; i < argc && nfiles < MAX_FILES; i++)
		files[nfiles++] = strdup(argv[i]);
	if (nfiles == 0) {
		nftw(MM_BENCH_DATA, add_file, 16, FTW_PHYS);
		nftw(MM_BENCH_SHARED, add_file, 16, FTW_PHYS);
	}
	if (nfiles == 0) {
		fprintf(stderr, "bench_ips: no capture files\n");
		return 1;
	}
	memset(&eo, 0, sizeof(eo));
	eo.max_flows = 65536;
	eo.scan_enabled = 1;
	eo.scan.ports = 15;
	eo.scan.hosts = 15;
	eo.scan.rejects = 10;
	eo.scan.window_s = 90;
	if (ips_engine_new(&e0, &eo, on_alert, NULL) != MM_OK ||
	    ips_engine_new(&e1, &eo, on_alert, NULL) != MM_OK) {
		fprintf(stderr, "bench_ips: engine: out of memory\n");
		rc = 1;
		goto out;
	}
	{
		struct ips_ruleset *empty = NULL;
		if (ips_ruleset_new(&empty) != MM_OK || ips_engine_set_rules(e0, empty) != MM_OK) {
			rc = 1;
			goto out;
		}
	}
	/* Warm the page cache and the code once, untimed. */
	{
		struct result w = {0};
		pass(NULL, &w, &sink);
		printf("%d capture files, %lu packets, %.1f MB per round, %d rounds\n", nfiles,
		       w.packets, (double)w.bytes / 1e6, rounds);
	}
	rss0 = peak_rss_kb();
	for (int i = 0; i < rounds; i++) {
		pass(NULL, &bare, &sink);
		pass(e0, &none, &sink);
	}
	a0 = alerts;
	rss1 = peak_rss_kb();
	report("bare pcap_next_ex", &bare, NULL);
	report("ips, no rules", &none, &bare);
	printf("  alerts %lu (scans), peak RSS %ld kB\n", a0 / rounds, rss1);

	if (load_et(&rs, et, &load_s, sum, sizeof(sum)) != MM_OK) {
		printf("ET Open rules not found at %s: full-rule-set run skipped\n", et);
		goto out;
	}
	{
		double t0 = now();
		if (ips_engine_set_rules(e1, rs) != MM_OK) {
			fprintf(stderr, "bench_ips: compiling the rules failed\n");
			rc = 1;
			goto out;
		}
		printf("ET Open: %s\n  load %.2f s (parse %.2f s, prefilter build %.2f s)\n", sum,
		       load_s + now() - t0, load_s, now() - t0);
	}
	rss2 = peak_rss_kb();
	memset(&bare, 0, sizeof(bare));
	alerts = 0;
	for (int i = 0; i < rounds; i++) {
		pass(NULL, &bare, &sink);
		pass(e1, &full, &sink);
	}
	report("bare pcap_next_ex", &bare, NULL);
	report("ips, ET Open", &full, &bare);
	printf("  alerts %lu per round, candidates verified %llu per round, peak RSS %ld kB "
	       "(%ld kB before the rules, %ld kB after loading)\n",
	       alerts / rounds,
	       (unsigned long long)ips_engine_stats(e1)->candidates / (unsigned long long)rounds,
	       peak_rss_kb(), rss0, rss2);
out:
	ips_engine_free(e0);
	ips_engine_free(e1);
	for (int i = 0; i < nfiles; i++)
		free(files[i]);
	if (sink == 42)
		printf(" \n");
	return rc;
}
