/*
 * Benchmark of the ips detection engine (a stand-alone tool, run by hand).
 * In one run it reads the same capture files (a) with a bare libpcap
 * pcap_next_ex() loop, (b) decoding every frame with mm_packet_decode() and
 * feeding it to the ips engine without rules, and (c) the same with the
 * full ET Open rule set loaded; it prints packets/s and Gbit/s of each, the
 * ratio of (b) and (c) to the bare loop, the rule load time (not part of
 * the timed passes) and the peak resident set size after each phase.
 *
 * Each measurement is taken twice: reading the files (pcap_open_offline)
 * and reading the same files preloaded in memory (fmemopen +
 * pcap_fopen_offline), the bare loop and the measured loop alike, so the
 * second ratio excludes file system noise. Every phase is run ROUNDS times,
 * a round being one bare pass followed at once by one engine pass. The
 * ratio printed first is the median over the rounds of each round's own
 * ratio: the two passes of a round share the machine's state of the
 * moment, and the median drops rounds that something else disturbed. The
 * ratio of the fastest passes (best of N) follows; it favours the bare
 * pass, which is four times shorter and so more often runs undisturbed,
 * and it falls as ROUNDS grows.
 *
 * With -A FILE it also writes every alert of one pass with the ET rules
 * (capture, kind, sid, time, addresses, action) to FILE, so that two
 * builds of the engine can be compared for identical results.
 *
 * With -P none or -P et only that phase runs (for profiling one of them,
 * e.g. under callgrind); the bare loop is still measured in the same run.
 *
 * bench_ips [-r ROUNDS] [-R RULES_DIR] [-A FILE] [-P none|et] [FILE...];
 * without files it takes every capture under tests/data and, when present,
 * ../shared/data.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "ips_engine.h"
#include "ips_rule.h"
#include "mimamori/error.h"
#include "mimamori/packet.h"

#define MAX_FILES 4096

static char *files[MAX_FILES];
static unsigned char *mem[MAX_FILES]; /* preloaded file contents */
static size_t memlen[MAX_FILES];
static int nfiles;
static unsigned long alerts;
static FILE *dump; /* -A: every alert of one extra pass, for comparisons */
static int cur_file;

static long
peak_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Resident now (VmRSS), -1 when /proc cannot tell. */
static long
rss_now_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	if (f != NULL)
		fclose(f);
	return kb;
}

static void
on_alert(void *user, const struct ips_alert *a)
{
	(void)user;
	alerts++;
	if (dump) {
		char s[MM_ADDR_STRLEN], d[MM_ADDR_STRLEN];
		fprintf(dump, "%s\t%d\t%u\t%llu\t%s:%u\t%s:%u\t%d\n", files[cur_file], a->kind,
		        a->rule ? a->rule->sid : 0, (unsigned long long)a->ts_ns,
		        mm_addr_format(s, &a->src), a->sport, mm_addr_format(d, &a->dst), a->dport,
		        a->action);
	}
}

struct result {
	unsigned long packets;
	unsigned long long bytes;
	double secs;
};

#define MAX_ROUNDS 1000

/* Each round's own ratio of one phase, for the median. */
struct paired {
	double r[MAX_ROUNDS];
	int n;
};

static void
pair_add(struct paired *pr, const struct result *eng, const struct result *bare)
{
	if (pr->n < MAX_ROUNDS && eng->secs > 0 && bare->secs > 0 && bare->packets > 0)
		pr->r[pr->n++] = (eng->packets / eng->secs) / (bare->packets / bare->secs);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pair_median(struct paired *pr)
{
	if (pr->n == 0)
		return 0;
	qsort(pr->r, (size_t)pr->n, sizeof(pr->r[0]), cmp_double);
	return pr->n % 2 ? pr->r[pr->n / 2] : (pr->r[pr->n / 2 - 1] + pr->r[pr->n / 2]) / 2;
}

/* Read every file into memory once (files that cannot be read stay NULL
 * and are skipped by the in-memory passes). */
static void
preload(void)
{
	for (int i = 0; i < nfiles; i++) {
		FILE *f = fopen(files[i], "rb");
		long n;

		if (f == NULL)
			continue;
		if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
		    fseek(f, 0, SEEK_SET) == 0 && (mem[i] = malloc((size_t)n)) != NULL) {
			memlen[i] = fread(mem[i], 1, (size_t)n, f);
		}
		fclose(f);
	}
}

static pcap_t *
open_capture(int i, int inmem, FILE **fp, char *ebuf)
{
	*fp = NULL;
	if (!inmem)
		return pcap_open_offline(files[i], ebuf);
	if (mem[i] == NULL || memlen[i] == 0 || (*fp = fmemopen(mem[i], memlen[i], "rb")) == NULL)
		return NULL;
	/* pcap_close() closes the stream. */
	return pcap_fopen_offline(*fp, ebuf);
}

/* One pass over every file. eng NULL: the bare read loop. */
static void
pass1(struct ips_engine *eng, int inmem, struct result *r, unsigned long *sink)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	struct mm_packet p;
	double t0 = mm_bench_now();

	for (int i = 0; i < nfiles; i++) {
		FILE *fp;
		cur_file = i;
		pcap_t *pc = open_capture(i, inmem, &fp, ebuf);
		int lt;

		if (pc == NULL) {
			if (fp)
				fclose(fp);
			continue;
		}
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
	r->secs = mm_bench_now() - t0;
}

/* Best of the rounds: keep the fastest pass; *last gets this one. */
static void
pass(struct ips_engine *eng, int inmem, struct result *best, unsigned long *sink,
     struct result *last)
{
	struct result r = {0};

	pass1(eng, inmem, &r, sink);
	if (best->packets == 0 || r.secs < best->secs)
		*best = r;
	if (last)
		*last = r;
}

/* One round: a bare pass, then the engine's, paired. */
static void
round1(struct ips_engine *eng, int inmem, struct result *bare, struct result *best,
       struct paired *pr, unsigned long *sink)
{
	struct result b, e;

	pass(NULL, inmem, bare, sink, &b);
	pass(eng, inmem, best, sink, &e);
	pair_add(pr, &e, &b);
}

static int
load_et(struct ips_ruleset **out, const char *dir, double *secs, char *sum, size_t sumlen)
{
	struct ips_ruleset *rs = NULL;
	struct ips_vars v;
	struct dirent **ents = NULL;
	char path[4096];
	int n, i, rc = MM_OK;
	double t0 = mm_bench_now();

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
	*secs = mm_bench_now() - t0;
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	ips_vars_free(&v);
	ips_ruleset_free(rs);
	return rc;
}

/* With base: the median of the rounds' ratios first, then the ratio of
 * the fastest passes. */
static void
report(const char *name, const struct result *r, const struct result *base, struct paired *pr)
{
	double pps = r->packets / r->secs, gbps = (double)r->bytes * 8 / r->secs / 1e9;

	printf("%-22s %12.0f pkt/s %8.3f Gbit/s", name, pps, gbps);
	if (base)
		printf("   ratio to bare read %.3f (best of each %.3f)", pair_median(pr),
		       pps / (base->packets / base->secs));
	printf("\n");
}

int
main(int argc, char **argv)
{
	int rounds = 15, opt;
	const char *et = MM_BENCH_SHARED "/et-open-2019-mirror";
	struct result bare = {0}, none = {0}, full = {0}, bare_m = {0}, none_m = {0}, full_m = {0};
	static struct paired p_none, p_none_m, p_full, p_full_m;
	struct ips_engine_opts eo;
	struct ips_engine *e0 = NULL, *e1 = NULL;
	struct ips_ruleset *rs = NULL;
	unsigned long sink = 0, a0;
	double load_s = 0;
	char sum[4096];
	long rss0, rss1, rss2, rss_loaded;
	int rc = 0;
	const char *dump_path = NULL;
	int run_none = 1, run_et = 1;

	while ((opt = getopt(argc, argv, "r:R:A:P:")) != -1) {
		if (opt == 'A')
			dump_path = optarg;
		else if (opt == 'P' && strcmp(optarg, "none") == 0)
			run_et = 0;
		else if (opt == 'P' && strcmp(optarg, "et") == 0)
			run_none = 0;
		else if (opt == 'r')
			rounds = atoi(optarg) > 0
			                 ? (atoi(optarg) < MAX_ROUNDS ? atoi(optarg) : MAX_ROUNDS)
			                 : 1;
		else if (opt == 'R')
			et = optarg;
		else {
			fprintf(stderr, "usage: bench_ips [-r ROUNDS] [-R RULES_DIR] [-A "
			                "ALERTS_OUT] [-P none|et] [FILE...]\n");
			return 2;
		}
	}
	for (int i = optind; i < argc && nfiles < MAX_FILES; i++)
		files[nfiles++] = strdup(argv[i]);
	if (nfiles == 0) {
		mm_bench_add_captures(files, &nfiles, MAX_FILES, MM_BENCH_DATA);
		mm_bench_add_captures(files, &nfiles, MAX_FILES, MM_BENCH_SHARED);
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
	preload();
	/* Warm the page cache and the code once, untimed. */
	{
		struct result w = {0};
		pass(NULL, 0, &w, &sink, NULL);
		printf("%d capture files, %lu packets, %.1f MB per round, %d rounds\n", nfiles,
		       w.packets, (double)w.bytes / 1e6, rounds);
	}
	rss0 = peak_rss_kb();
	for (int i = 0; i < rounds && run_none; i++) {
		round1(e0, 0, &bare, &none, &p_none, &sink);
		round1(e0, 1, &bare_m, &none_m, &p_none_m, &sink);
	}
	a0 = alerts;
	rss1 = peak_rss_kb();
	if (run_none) {
		report("bare pcap_next_ex", &bare, NULL, NULL);
		report("ips, no rules", &none, &bare, &p_none);
		report("bare, in memory", &bare_m, NULL, NULL);
		report("ips, no rules, in mem", &none_m, &bare_m, &p_none_m);
		printf("  alerts %lu (scans), peak RSS %ld kB\n", a0 / (2 * (unsigned long)rounds),
		       rss1);
	}
	if (!run_et)
		goto out;

	if (load_et(&rs, et, &load_s, sum, sizeof(sum)) != MM_OK) {
		printf("ET Open rules not found at %s: full-rule-set run skipped\n", et);
		goto out;
	}
	{
		double t0 = mm_bench_now();
		if (ips_engine_set_rules(e1, rs) != MM_OK) {
			fprintf(stderr, "bench_ips: compiling the rules failed\n");
			rc = 1;
			goto out;
		}
		printf("ET Open: %s\n  load %.2f s (parse %.2f s, prefilter build %.2f s)\n", sum,
		       load_s + mm_bench_now() - t0, load_s, mm_bench_now() - t0);
	}
	rss2 = peak_rss_kb();
	rss_loaded = rss_now_kb();
	memset(&bare, 0, sizeof(bare));
	memset(&bare_m, 0, sizeof(bare_m));
	alerts = 0;
	for (int i = 0; i < rounds; i++) {
		round1(e1, 0, &bare, &full, &p_full, &sink);
		round1(e1, 1, &bare_m, &full_m, &p_full_m, &sink);
	}
	if (dump_path != NULL) {
		/* A fresh engine, so the dump does not depend on the rounds. */
		struct ips_engine *e2 = NULL;
		struct ips_ruleset *rs2 = NULL;
		struct result r2 = {0};
		double s2;
		char sum2[64];
		if ((dump = fopen(dump_path, "w")) != NULL &&
		    ips_engine_new(&e2, &eo, on_alert, NULL) == MM_OK &&
		    load_et(&rs2, et, &s2, sum2, sizeof(sum2)) == MM_OK &&
		    ips_engine_set_rules(e2, rs2) == MM_OK) {
			unsigned long save = alerts;
			pass(e2, 0, &r2, &sink, NULL);
			alerts = save;
		}
		ips_engine_free(e2);
		if (dump)
			fclose(dump);
		dump = NULL;
	}
	report("bare pcap_next_ex", &bare, NULL, NULL);
	report("ips, ET Open", &full, &bare, &p_full);
	report("bare, in memory", &bare_m, NULL, NULL);
	report("ips, ET Open, in mem", &full_m, &bare_m, &p_full_m);
	printf("  alerts %lu per round, candidates verified %llu per round, peak RSS %ld kB "
	       "(%ld kB before the rules, %ld kB peak while loading them, %ld kB resident once "
	       "loaded)\n",
	       alerts / (2 * (unsigned long)rounds),
	       (unsigned long long)ips_engine_stats(e1)->candidates /
	               (2 * (unsigned long long)rounds),
	       peak_rss_kb(), rss0, rss2, rss_loaded);
out:
	ips_engine_free(e0);
	ips_engine_free(e1);
	for (int i = 0; i < nfiles; i++) {
		free(files[i]);
		free(mem[i]);
	}
	if (sink == 42)
		printf(" \n");
	return rc;
}
