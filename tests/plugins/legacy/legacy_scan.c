/*
 * legacy_scan: run the legacy plugin's passive engine over capture files
 * without the host and print one line per device (address, label, verdict,
 * confidence, signals) plus the time spent. Used to look at captures while
 * writing tests and by scripts/compare_p0f.sh next to `mimamori replay`.
 * Runs as a command-line tool.
 *
 *   legacy_scan [-p p0f.fp] [-d datadir] [-r YYYY-MM-DD] FILE...
 */
#include "legacy.h"
#include "pcap_feed.h"

#include <mimamori/error.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
on_change(void *user, struct legacy_host *h, int change, const struct legacy_assess *a)
{
}

static void
feed(const struct mm_packet *pkt, void *user)
{
	legacy_utm_packet(user, pkt);
}

int
main(int argc, char **argv)
{
	const char *p0f = "/etc/p0f/p0f.fp", *data = "data", *ref = NULL;
	struct legacy_p0f db;
	struct legacy_sigtab tab;
	struct legacy_eol *eol = NULL;
	struct legacy_utm_opts uo;
	char path[4096];
	int c, i, rc = 0;
	double secs = 0;
	long frames = 0;

	while ((c = getopt(argc, argv, "p:d:r:")) != -1) {
		if (c == 'p')
			p0f = optarg;
		else if (c == 'd')
			data = optarg;
		else if (c == 'r')
			ref = optarg;
		else
			return 2;
	}
	memset(&db, 0, sizeof(db));
	memset(&tab, 0, sizeof(tab));
	memset(&uo, 0, sizeof(uo));
	snprintf(path, sizeof(path), "%s/legacy/eol.tsv", data);
	if (legacy_eol_load(&eol, path) != MM_OK) {
		fprintf(stderr, "cannot read %s\n", path);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/legacy/signals.tsv", data);
	if (legacy_sigtab_load(&tab, path) != MM_OK) {
		fprintf(stderr, "cannot read %s\n", path);
		return 1;
	}
	if (legacy_p0f_load(&db, p0f) != MM_OK)
		fprintf(stderr, "warning: cannot read %s\n", p0f);
	snprintf(path, sizeof(path), "%s/legacy/syn-extra.fp", data);
	legacy_p0f_load(&db, path);
	uo.max_hosts = 4096;
	uo.min_families = 2;
	uo.now_day = (int64_t)time(NULL) / 86400;
	if (ref != NULL && legacy_parse_date(&uo.now_day, ref) != MM_OK)
		return 2;

	for (i = optind; i < argc; i++) {
		struct legacy_utm *u = NULL;
		struct legacy_host *h;
		struct timespec t0, t1;
		size_t it = 0;
		long n;

		if (legacy_utm_new(&u, &uo, &db, &tab, eol, on_change, NULL) != MM_OK)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		n = feed_pcap(argv[i], feed, u);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (n < 0) {
			fprintf(stderr, "cannot read %s\n", argv[i]);
			rc = 1;
		} else {
			frames += n;
		}
		secs += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		while ((h = legacy_utm_host_at(u, &it)) != NULL) {
			struct legacy_assess a;
			char ip[MM_ADDR_STRLEN], mac[MM_MAC_STRLEN] = "-";
			size_t k;

			legacy_assess_host(&a, h, uo.min_families);
			if (a.os == NULL && h->nsig == 0)
				continue;
			mm_addr_format(ip, &h->ip);
			if (h->has_mac)
				mm_mac_format(mac, h->mac);
			printf("%s\t%s\t%s\t%s\t%s\tconf=%d\tinternet=%s\n", argv[i],
			       ip[0] ? ip : "-", mac, a.os != NULL ? a.os : "-",
			       a.is_legacy ? "LEGACY" : "-", a.confidence,
			       h->ext_packets > 0 ? "yes" : "no");
			for (k = 0; k < h->nsig; k++)
				printf("\t\t%s/%s %s [%s] %s\n",
				       legacy_family_name(h->sig[k].family), h->sig[k].kind,
				       h->sig[k].os,
				       h->sig[k].verdict == LV_LEGACY    ? "legacy"
				       : h->sig[k].verdict == LV_CURRENT ? "current"
				                                         : "neutral",
				       h->sig[k].evidence);
		}
		legacy_utm_free(u);
	}
	fprintf(stderr, "frames=%ld seconds=%.6f\n", frames, secs);
	legacy_p0f_clear(&db);
	legacy_sigtab_clear(&tab);
	legacy_eol_free(eol);
	return rc;
}
