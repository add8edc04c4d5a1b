/*
 * Check suite of the legacy plugin's UTM side on real captures: Windows XP
 * and 2000 hosts are labelled legacy with the signals that say so, modern
 * hosts (Linux/Samba, Windows Server 2019, macOS, Windows 10-era SMB2
 * clients) are never called legacy, a single signal family never raises an
 * alert, and internet contact is reported. Runs as a test process.
 */
#include "legacy.h"
#include "pcap_feed.h"

#include <mimamori/error.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct legacy_p0f db;
static struct legacy_sigtab tab;
static struct legacy_eol *eol;

#define MAX_CHANGES 256

struct change {
	char ip[MM_ADDR_STRLEN];
	int what;
	char os[48];
	int confidence;
};

struct run {
	struct legacy_utm *u;
	struct change ch[MAX_CHANGES];
	int nch;
};

static void
source_path(char *out, size_t outlen, const char *rel)
{
	const char *src = getenv("MM_SOURCE_DIR");

	snprintf(out, outlen, "%s/%s", src != NULL ? src : ".", rel);
}

static void
setup(void)
{
	char path[4096];

	memset(&db, 0, sizeof(db));
	memset(&tab, 0, sizeof(tab));
	test_data_path(path, sizeof(path), "fingerprint-dbs/p0f/p0f.fp");
	ck_assert_int_eq(legacy_p0f_load(&db, path), MM_OK);
	source_path(path, sizeof(path), "data/legacy/syn-extra.fp");
	ck_assert_int_eq(legacy_p0f_load(&db, path), MM_OK);
	source_path(path, sizeof(path), "data/legacy/signals.tsv");
	ck_assert_int_eq(legacy_sigtab_load(&tab, path), MM_OK);
	source_path(path, sizeof(path), "data/legacy/eol.tsv");
	ck_assert_int_eq(legacy_eol_load(&eol, path), MM_OK);
}

static void
teardown(void)
{
	legacy_p0f_clear(&db);
	legacy_sigtab_clear(&tab);
	legacy_eol_free(eol);
}

static void
on_change(void *user, struct legacy_host *h, int what, const struct legacy_assess *a)
{
	struct run *r = user;
	struct change *c;

	ck_assert_int_lt(r->nch, MAX_CHANGES);
	c = &r->ch[r->nch++];
	mm_addr_format(c->ip, &h->ip);
	c->what = what;
	snprintf(c->os, sizeof(c->os), "%s", a->os != NULL ? a->os : "");
	c->confidence = a->confidence;
}

static void
feed(const struct mm_packet *pkt, void *user)
{
	legacy_utm_packet(user, pkt);
}

/* Run one capture; 2026-11-27 is "today" unless day says otherwise. */
static struct run *
run_file(const char *rel, int min_families, int64_t day, size_t max_hosts)
{
	struct legacy_utm_opts o;
	struct run *r = calloc(1, sizeof(*r));
	char path[4096];

	ck_assert_ptr_nonnull(r);
	memset(&o, 0, sizeof(o));
	o.max_hosts = max_hosts;
	o.min_families = min_families;
	o.now_day = day != 0 ? day : 20784;
	ck_assert_int_eq(legacy_utm_new(&r->u, &o, &db, &tab, eol, on_change, r), MM_OK);
	test_data_path(path, sizeof(path), rel);
	ck_assert_int_gt(feed_pcap(path, feed, r->u), 0);
	return r;
}

static void
run_free(struct run *r)
{
	legacy_utm_free(r->u);
	free(r);
}

static struct legacy_host *
host(struct run *r, const char *ip)
{
	struct mm_addr a;

	ck_assert_int_eq(mm_addr_parse(&a, ip), MM_OK);
	return legacy_utm_find(r->u, &a);
}

static int
is_legacy(struct run *r, const char *ip, struct legacy_assess *out)
{
	struct legacy_assess a;
	struct legacy_host *h = host(r, ip);

	if (h == NULL)
		return 0;
	legacy_assess_host(&a, h, 2);
	if (out != NULL)
		*out = a;
	return a.is_legacy;
}

static int
has_signal(const struct legacy_host *h, const char *kind, const char *evidence_part, int verdict)
{
	size_t i;

	for (i = 0; i < h->nsig; i++)
		if (strcmp(h->sig[i].kind, kind) == 0 &&
		    strstr(h->sig[i].evidence, evidence_part) && h->sig[i].verdict == verdict)
			return 1;
	return 0;
}

static int
count_changes(const struct run *r, const char *ip, int what)
{
	int i, n = 0;

	for (i = 0; i < r->nch; i++)
		if (strcmp(r->ch[i].ip, ip) == 0 && r->ch[i].what == what)
			n++;
	return n;
}

START_TEST(test_xp_browsing_the_web)
{
	/* Two Firefox 3.5 on XP captures: p0f's XP signature plus the UA. */
	static const char *const files[] = {"legacy-os/zeek_http_pipelined-requests.pcap",
	                                    "legacy-os/zeek_http_version-mismatch.pcap"};
	static const char *const ips[] = {"192.168.1.104", "192.168.1.102"};
	size_t i;

	for (i = 0; i < 2; i++) {
		struct run *r = run_file(files[i], 2, 0, 4096);
		struct legacy_assess a;
		struct legacy_host *h = host(r, ips[i]);

		ck_assert_ptr_nonnull(h);
		ck_assert_int_eq(is_legacy(r, ips[i], &a), 1);
		ck_assert_str_eq(a.os, "Windows XP");
		ck_assert_int_eq(a.legacy_families, 2);
		ck_assert_str_eq(a.families[0], "tcp");
		ck_assert_str_eq(a.families[1], "http");
		ck_assert_int_ge(a.confidence, 80);
		ck_assert(has_signal(h, "p0f", "Windows:XP 4:128:0:1460:65535,0", LV_LEGACY));
		ck_assert(has_signal(h, "ua", "Windows NT 5.1", LV_LEGACY));
		ck_assert_int_eq(h->has_mac, 1);
		/* It fetched pages from the internet: the second, higher alert. */
		ck_assert_uint_gt(h->ext_packets, 0);
		ck_assert_int_eq(legacy_addr_is_private(&h->ext_peer), 0);
		ck_assert_int_eq(h->ext_port, 80);
		ck_assert_int_eq(count_changes(r, ips[i], LEGACY_CH_LEGACY), 1);
		ck_assert_int_eq(count_changes(r, ips[i], LEGACY_CH_INTERNET), 1);
		ck_assert_int_ge(count_changes(r, ips[i], LEGACY_CH_INVENTORY), 1);
		/* The web servers are not fingerprinted from their SYN+ACK. */
		ck_assert_uint_eq(legacy_utm_stats(r->u)->hosts, 1);
		run_free(r);
	}
}
END_TEST

START_TEST(test_xp_window_supplement)
{
	/* Ethereal's http.cap: XP with an 8760-byte window, which p0f 3.09b only
	 * knows as a generic "NT kernel"; our supplement names NT 5.x. */
	struct run *r = run_file("legacy-os/sv_http-protocol-inspect-v2_http.pcap", 2, 0, 4096);
	struct legacy_host *h = host(r, "145.254.160.237");
	struct legacy_assess a;

	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(is_legacy(r, "145.254.160.237", &a), 1);
	ck_assert(has_signal(h, "p0f", "NT 5.x (window multiple of 1460) 4:128:0:1460:8760",
	                     LV_LEGACY));
	ck_assert(has_signal(h, "port", "1025-5000", LV_LEGACY));
	ck_assert(has_signal(h, "ua", "rv:1.6", LV_LEGACY));
	run_free(r);
}
END_TEST

START_TEST(test_xp_smb_client_and_2000_server)
{
	struct run *r = run_file("legacy-os/zeek_krb_smb_gssapi.pcap", 2, 0, 4096);
	struct legacy_host *cli = host(r, "10.24.64.228"), *srv = host(r, "10.24.8.44");
	struct legacy_assess a;

	ck_assert_ptr_nonnull(cli);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(is_legacy(r, "10.24.64.228", &a), 1);
	ck_assert(has_signal(cli, "smb", "smb1-only-client", LV_LEGACY));
	ck_assert(has_signal(cli, "p0f", "Windows:XP", LV_LEGACY));
	ck_assert_int_eq(is_legacy(r, "10.24.8.44", &a), 1);
	ck_assert_str_eq(a.os, "Windows 2000");
	ck_assert(has_signal(srv, "nativeos", "\"Windows 5.0\"", LV_LEGACY));
	/* Both stay on the LAN: no internet alert. */
	ck_assert_int_eq(count_changes(r, "10.24.64.228", LEGACY_CH_INTERNET), 0);
	run_free(r);
}
END_TEST

START_TEST(test_xp_smb_server_mac_client)
{
	struct run *r = run_file("zeek-traces/smb_raw_ntlm_in_smb.pcap", 2, 0, 4096);
	struct legacy_host *srv = host(r, "192.168.56.101");
	struct legacy_assess a;

	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(is_legacy(r, "192.168.56.101", &a), 1);
	ck_assert_str_eq(a.os, "Windows XP");
	ck_assert(has_signal(srv, "nativeos", "Windows 5.1", LV_LEGACY));
	ck_assert(has_signal(srv, "p0f", "NT 5.x", LV_LEGACY));
	/* The Mac client offering SMB2 is not legacy. */
	ck_assert_int_eq(is_legacy(r, "192.168.56.1", &a), 0);
	ck_assert_str_eq(a.os, "macOS");
	run_free(r);
}
END_TEST

START_TEST(test_modern_hosts_not_legacy)
{
	/* Every capture of the set: exactly these hosts are called legacy. */
	static const char *const files[] = {
	        "legacy-os/sv_decode-dce_input.pcap",
	        "legacy-os/sv_http-protocol-inspect-v2_http.pcap",
	        "legacy-os/sv_http-raw-header_input.pcap",
	        "legacy-os/sv_output-eve-smb-01_input.pcap",
	        "legacy-os/sv_smb2-07_20171220_smb_psexec_add_user.pcap",
	        "legacy-os/tcpdump_lwapp-data.pcap",
	        "legacy-os/zeek_dce-rpc_mapi.pcap",
	        "legacy-os/zeek_erspan.pcap",
	        "legacy-os/zeek_http_pipelined-requests.pcap",
	        "legacy-os/zeek_http_version-mismatch.pcap",
	        "legacy-os/zeek_krb_smb_gssapi.pcap",
	        "legacy-os/zeek_smb_smb1_transaction_request.pcap",
	        "zeek-traces/smb_cifs_negotiate_lanman.pcap",
	        "zeek-traces/smb_raw_ntlm_in_smb.pcap",
	        "zeek-traces/smb_smb1.pcap",
	        "chrissanders-packets/passiveosfingerprinting.pcapng"};
	static const char *const expected =
	        " 145.254.160.237 192.168.118.10 192.168.0.184 192.168.1.104 192.168.1.102"
	        " 10.24.64.228 10.24.8.44 192.168.56.101 ";
	char found[1024] = " ";
	int nlegacy = 0;
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct run *r = run_file(files[i], 2, 0, 4096);
		struct legacy_host *h;
		size_t it = 0;

		while ((h = legacy_utm_host_at(r->u, &it)) != NULL) {
			struct legacy_assess a;
			char ip[MM_ADDR_STRLEN];

			legacy_assess_host(&a, h, 2);
			if (!a.is_legacy)
				continue;
			mm_addr_format(ip, &h->ip);
			ck_assert_msg(strstr(expected, ip) != NULL, "%s called legacy in %s", ip,
			              files[i]);
			strcat(found, ip);
			strcat(found, " ");
			nlegacy++;
		}
		run_free(r);
	}
	ck_assert_int_eq(nlegacy, 8);
	ck_assert_str_eq(found, expected);
}
END_TEST

START_TEST(test_modern_hosts_labels)
{
	struct run *r = run_file("legacy-os/sv_output-eve-smb-01_input.pcap", 2, 0, 4096);
	struct legacy_assess a;

	/* smbclient on Linux offering SMB1 only: the Samba dialect and the
	 * Linux SYN veto the SMB1 hint. */
	ck_assert_int_eq(is_legacy(r, "192.168.1.100", &a), 0);
	ck_assert_int_ge(a.current_families, 2);
	ck_assert_int_eq(is_legacy(r, "192.168.1.3", &a), 0);
	ck_assert_str_eq(a.os, "Windows Server 2019");
	run_free(r);

	/* Samba 4.7 answers with NativeOS "Windows 6.1": LanMan gives it away. */
	r = run_file("legacy-os/zeek_smb_smb1_transaction_request.pcap", 2, 0, 4096);
	ck_assert_int_eq(is_legacy(r, "192.168.0.2", &a), 0);
	ck_assert_str_eq(a.os, "Samba (Linux/Unix)");
	run_free(r);

	/* A 2017 SMB2 client: p0f's "7 or 8" alone is one family, no alert. */
	r = run_file("legacy-os/sv_smb2-07_20171220_smb_psexec_add_user.pcap", 2, 0, 4096);
	ck_assert_int_eq(is_legacy(r, "192.168.10.31", &a), 0);
	ck_assert_int_eq(a.legacy_families, 1);
	ck_assert_int_eq(count_changes(r, "192.168.10.31", LEGACY_CH_LEGACY), 0);
	run_free(r);
}
END_TEST

START_TEST(test_dhcp_vista_or_later)
{
	struct run *r = run_file("legacy-os/sv_decode-dce_input.pcap", 2, 0, 4096);
	struct legacy_host *h;
	size_t it = 0;
	int seen = 0;

	while ((h = legacy_utm_host_at(r->u, &it)) != NULL) {
		char mac[MM_MAC_STRLEN];
		if (!h->has_mac)
			continue;
		mm_mac_format(mac, h->mac);
		if (strcmp(mac, "5c:f3:fc:a9:33:8d") != 0)
			continue;
		seen = 1;
		ck_assert_str_eq(h->hostname, "WinSniff2");
		/* "MSFT 5.0" asking for option 121: Vista or later, no claim. */
		ck_assert(has_signal(h, "dhcp55", "55=1,15,3,6,44,46,47,31,33,121,249,252,43",
		                     LV_NEUTRAL));
	}
	ck_assert_int_eq(seen, 1);
	run_free(r);
}
END_TEST

START_TEST(test_one_family_is_not_enough)
{
	struct run *r = run_file("legacy-os/zeek_dce-rpc_mapi.pcap", 2, 0, 4096);
	struct legacy_assess a;

	/* 192.168.0.173 only shows its TCP stack: labelled, not alerted. */
	ck_assert_int_eq(is_legacy(r, "192.168.0.173", &a), 0);
	ck_assert_str_eq(a.os, "Windows 2000/XP/2003");
	ck_assert_int_eq(a.legacy_families, 1);
	ck_assert_int_ge(count_changes(r, "192.168.0.173", LEGACY_CH_INVENTORY), 1);
	ck_assert_int_eq(count_changes(r, "192.168.0.173", LEGACY_CH_LEGACY), 0);
	/* 192.168.0.184 adds an MSIE 6 User-Agent and goes online. */
	ck_assert_int_eq(is_legacy(r, "192.168.0.184", &a), 1);
	ck_assert_int_eq(count_changes(r, "192.168.0.184", LEGACY_CH_INTERNET), 1);
	run_free(r);

	/* With min_signals = 1 the same host is reported. */
	r = run_file("legacy-os/zeek_dce-rpc_mapi.pcap", 1, 0, 4096);
	ck_assert_int_eq(count_changes(r, "192.168.0.173", LEGACY_CH_LEGACY), 1);
	run_free(r);
}
END_TEST

START_TEST(test_eol_date_decides)
{
	/* Judged as of 2013-01-01, XP was still supported. */
	struct run *r = run_file("legacy-os/zeek_http_pipelined-requests.pcap", 2,
	                         legacy_days_from_civil(2013, 1, 1), 4096);
	struct legacy_assess a;

	ck_assert_int_eq(is_legacy(r, "192.168.1.104", &a), 0);
	ck_assert_int_eq(a.current_families, 2);
	ck_assert_int_eq(count_changes(r, "192.168.1.104", LEGACY_CH_LEGACY), 0);
	run_free(r);
}
END_TEST

START_TEST(test_host_table_bounded)
{
	struct run *r = run_file("legacy-os/sv_smb2-07_20171220_smb_psexec_add_user.pcap", 2, 0, 1);

	ck_assert_uint_eq(legacy_utm_stats(r->u)->hosts, 1);
	ck_assert_uint_gt(legacy_utm_stats(r->u)->hosts_dropped, 0);
	run_free(r);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("legacy_utm");
	TCase *tc = tcase_create("captures");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_xp_browsing_the_web);
	tcase_add_test(tc, test_xp_window_supplement);
	tcase_add_test(tc, test_xp_smb_client_and_2000_server);
	tcase_add_test(tc, test_xp_smb_server_mac_client);
	tcase_add_test(tc, test_modern_hosts_not_legacy);
	tcase_add_test(tc, test_modern_hosts_labels);
	tcase_add_test(tc, test_dhcp_vista_or_later);
	tcase_add_test(tc, test_one_family_is_not_enough);
	tcase_add_test(tc, test_eol_date_decides);
	tcase_add_test(tc, test_host_table_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
