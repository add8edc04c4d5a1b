/*
 * Check suite of the legacy plugin's parsers: the p0f v3 signature parser
 * and matcher (on Debian's p0f.fp), TCP option parsing, the signal table
 * and the SMB, HTTP and DHCP extractors on hand-made and malformed input.
 * Runs as a test process.
 */
#include "legacy.h"
#include "pcap_feed.h"

#include <mimamori/error.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
source_path(char *out, size_t outlen, const char *rel)
{
	const char *src = getenv("MM_SOURCE_DIR");

	snprintf(out, outlen, "%s/%s", src != NULL ? src : ".", rel);
}

static void
obs_from(struct legacy_tcp_obs *o, int ttl, int win, const uint8_t *opts, size_t olen,
         uint32_t quirks)
{
	memset(o, 0, sizeof(*o));
	o->ver = 4;
	o->ttl = (uint8_t)ttl;
	o->win = (uint16_t)win;
	o->quirks = quirks;
	legacy_tcp_parse_options(o, opts, olen, 0);
}

START_TEST(test_parse_debian_p0f)
{
	struct legacy_p0f db;
	char path[4096], label[160];
	size_t i, req = 0, resp = 0;
	int found_xp = 0;

	memset(&db, 0, sizeof(db));
	test_data_path(path, sizeof(path), "fingerprint-dbs/p0f/p0f.fp");
	ck_assert_int_eq(legacy_p0f_load(&db, path), MM_OK);
	ck_assert_uint_eq(db.bad_lines, 0);
	for (i = 0; i < db.nsig; i++) {
		if (db.sig[i].response)
			resp++;
		else
			req++;
	}
	/* p0f 3.09b: counted with grep on [tcp:request] / [tcp:response]. */
	ck_assert_uint_eq(req, 91);
	ck_assert_uint_eq(resp, 101);
	for (i = 0; i < db.nlabel; i++) {
		legacy_p0f_label_format(label, sizeof(label), &db.label[i]);
		if (strcmp(label, "s:win:Windows:XP") == 0)
			found_xp = 1;
	}
	ck_assert_int_eq(found_xp, 1);
	source_path(path, sizeof(path), "data/legacy/syn-extra.fp");
	ck_assert_int_eq(legacy_p0f_load(&db, path), MM_OK);
	ck_assert_uint_eq(db.bad_lines, 0);
	ck_assert_uint_eq(db.nsig, req + resp + 5);
	legacy_p0f_clear(&db);
	legacy_p0f_clear(&db);
}
END_TEST

START_TEST(test_match)
{
	static const uint8_t xp[] = {2, 4, 5, 0xb4, 1, 1, 4, 2};
	static const uint8_t linux_opts[] = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0,
	                                     1, 0, 0, 0,    0, 0, 1, 3,  3, 7};
	struct legacy_p0f db;
	struct legacy_tcp_obs o;
	const struct legacy_p0f_label *l;
	char path[4096];
	int fuzzy;

	memset(&db, 0, sizeof(db));
	test_data_path(path, sizeof(path), "fingerprint-dbs/p0f/p0f.fp");
	ck_assert_int_eq(legacy_p0f_load(&db, path), MM_OK);

	obs_from(&o, 125, 65535, xp, sizeof(xp), Q_DF | Q_NZ_ID);
	ck_assert_int_eq(o.mss, 1460);
	l = legacy_p0f_match(&db, &o, &fuzzy);
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(l->name, "Windows");
	ck_assert_str_eq(l->flavor, "XP");
	ck_assert_int_eq(fuzzy, 0);

	/* Without DF the match is only fuzzy. */
	obs_from(&o, 125, 65535, xp, sizeof(xp), Q_ZERO_ID);
	l = legacy_p0f_match(&db, &o, &fuzzy);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(fuzzy, 1);

	/* Linux 3.11+: window mss*20, scale 7. */
	obs_from(&o, 60, 29200, linux_opts, sizeof(linux_opts), Q_DF | Q_NZ_ID);
	ck_assert_int_eq(o.scale, 7);
	l = legacy_p0f_match(&db, &o, &fuzzy);
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(l->name, "Linux");
	ck_assert_str_eq(l->flavor, "3.11 and newer");

	/* A TTL above every initial TTL matches nothing. */
	obs_from(&o, 255, 65535, xp, sizeof(xp), Q_DF | Q_NZ_ID);
	ck_assert_ptr_null(legacy_p0f_match(&db, &o, &fuzzy));
	legacy_p0f_clear(&db);
}
END_TEST

START_TEST(test_bad_signatures)
{
	static const char text[] = "[tcp:request]\n"
	                           "sig = *:64:0:*:mss*4,0:mss:df:0\n" /* no label yet */
	                           "label = x:unix:Bad:\n"
	                           "label = s:unix:Good:1\n"
	                           "sig = *:64:0:*:mss*4,0:mss:df:0\n"
	                           "sig = *:300:0:*:mss*4,0:mss:df:0\n"
	                           "sig = *:64:0:*:mss*4:mss:df:0\n"
	                           "sig = *:64:0:*:mss*4,0:mss,bogus:df:0\n"
	                           "sig = *:64:0:*:mss*4,0:mss:df,weird:0\n"
	                           "sig = *:64:0:*:mss*4,0:eol+1,mss:df:0\n"
	                           "sig = *:64:0:*:%0,0:mss:df:0\n"
	                           "sig = *:64:0:*:mss*4,0:mss:df:x\n"
	                           "garbage\n"
	                           "[http:request]\nsig = anything\n";
	struct legacy_p0f db;

	memset(&db, 0, sizeof(db));
	ck_assert_int_eq(legacy_p0f_parse(&db, text, sizeof(text) - 1), MM_OK);
	ck_assert_uint_eq(db.nsig, 1);
	ck_assert_uint_eq(db.nlabel, 1);
	ck_assert_uint_eq(db.bad_lines, 10);
	legacy_p0f_clear(&db);
}
END_TEST

START_TEST(test_tcp_options_quirks)
{
	static const uint8_t bad_len[] = {2, 9, 5, 0xb4};
	static const uint8_t eol_junk[] = {2, 4, 5, 0xb4, 0, 0, 7};
	static const uint8_t big_ws[] = {3, 3, 15, 8, 10, 0, 0, 0, 0, 0, 0, 0, 9};
	struct legacy_tcp_obs o;

	obs_from(&o, 64, 1, bad_len, sizeof(bad_len), 0);
	ck_assert(o.quirks & Q_OPT_BAD);
	obs_from(&o, 64, 1, eol_junk, sizeof(eol_junk), 0);
	ck_assert(o.quirks & Q_OPT_EOL_NZ);
	ck_assert_int_eq(o.eol_pad, 2);
	ck_assert_int_eq(o.nopt, 2);
	obs_from(&o, 64, 1, big_ws, sizeof(big_ws), 0);
	ck_assert(o.quirks & Q_OPT_EXWS);
	ck_assert(o.quirks & Q_OPT_ZERO_TS1);
	ck_assert(o.quirks & Q_OPT_NZ_TS2);
}
END_TEST

START_TEST(test_signal_table)
{
	struct legacy_sigtab t;
	const struct legacy_sigrow *r;
	char path[4096];

	memset(&t, 0, sizeof(t));
	source_path(path, sizeof(path), "data/legacy/signals.tsv");
	ck_assert_int_eq(legacy_sigtab_load(&t, path), MM_OK);
	ck_assert_uint_eq(t.bad_lines, 0);
	r = legacy_sigtab_find(&t, "ua", "Microsoft-CryptoAPI/5.131.2600");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->os, "Windows XP");
	r = legacy_sigtab_find(&t, "ua", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)");
	ck_assert_str_eq(r->product, "-");
	r = legacy_sigtab_find(&t, "nativeos", "Windows 6.1|Samba 4.7.4");
	ck_assert_str_eq(r->product, "other");
	r = legacy_sigtab_find(&t, "p0f", "Linux:3.11 and newer");
	ck_assert_str_eq(r->os, "Linux");
	r = legacy_sigtab_find(&t, "p0f", "Windows:NT kernel");
	ck_assert_str_eq(r->os, "Windows");
	r = legacy_sigtab_find(&t, "dhcp55", "msft5-121");
	ck_assert_str_eq(r->version, "nt5");
	ck_assert_ptr_null(legacy_sigtab_find(&t, "ua", "curl/8.0"));
	legacy_sigtab_clear(&t);
}
END_TEST

START_TEST(test_http_user_agent)
{
	static const char req[] = "GET /crl HTTP/1.1\r\nHost: x\r\nuser-agent:  "
	                          "Microsoft-CryptoAPI/5.131.2600 \r\n\r\n";
	static const char after_body[] = "POST / HTTP/1.1\r\nHost: x\r\n\r\nUser-Agent: no\r\n";
	static const char reply[] = "HTTP/1.1 200 OK\r\nUser-Agent: no\r\n\r\n";
	static const char cut[] = "GET / HTTP/1.1\r\nUser-Agent: Mozilla/4.0 (compatible; MSIE 6";
	char ua[64];

	ck_assert_int_eq(
	        legacy_http_user_agent(ua, sizeof(ua), (const uint8_t *)req, sizeof(req) - 1),
	        MM_OK);
	ck_assert_str_eq(ua, "Microsoft-CryptoAPI/5.131.2600");
	ck_assert_int_eq(legacy_http_user_agent(ua, sizeof(ua), (const uint8_t *)after_body,
	                                        sizeof(after_body) - 1),
	                 MM_ERR_NOTFOUND);
	ck_assert_int_eq(
	        legacy_http_user_agent(ua, sizeof(ua), (const uint8_t *)reply, sizeof(reply) - 1),
	        MM_ERR_NOTFOUND);
	/* A header cut by the segment end still gives what is there. */
	ck_assert_int_eq(legacy_http_user_agent(ua, 16, (const uint8_t *)cut, sizeof(cut) - 1),
	                 MM_OK);
	ck_assert_str_eq(ua, "Mozilla/4.0 (co");
}
END_TEST

START_TEST(test_smb_extract)
{
	/* NBSS + SMB1 negotiate request offering XP's six dialects. */
	static const char dialects[] = "\x02PC NETWORK PROGRAM 1.0\0\x02LANMAN1.0\0"
	                               "\x02Windows for Workgroups 3.1a\0\x02LM1.2X002\0"
	                               "\x02LANMAN2.1\0\x02NT LM 0.12";
	uint8_t buf[256];
	struct legacy_smb_info s;
	size_t dl = sizeof(dialects), n = 4 + 32 + 1 + 2 + dl, i;

	memset(buf, 0, sizeof(buf));
	buf[3] = (uint8_t)(n - 4);
	memcpy(buf + 4, "\xffSMB\x72", 5);
	buf[4 + 32] = 0;
	buf[4 + 33] = (uint8_t)dl;
	memcpy(buf + 4 + 35, dialects, dl);
	ck_assert_int_eq(legacy_smb_extract(&s, buf, n), MM_OK);
	ck_assert_int_eq(s.is_smb1, 1);
	ck_assert_int_eq(s.negotiate_req, 1);
	ck_assert_int_eq(s.ndialects, 6);
	ck_assert_int_eq(s.offers_nt_lm, 1);
	ck_assert_int_eq(s.offers_smb2, 0);
	/* Every truncation is handled without reading past the end. */
	for (i = 0; i < n; i++) {
		uint8_t *copy = malloc(i + 1);
		memcpy(copy, buf, i);
		legacy_smb_extract(&s, copy, i);
		free(copy);
	}
	/* The NBSS length may be shorter than the data: it wins. */
	buf[3] = 40;
	ck_assert_int_eq(legacy_smb_extract(&s, buf, n), MM_OK);
	ck_assert_int_lt(s.ndialects, 6);
	ck_assert_int_eq(legacy_smb_extract(&s, (const uint8_t *)"\x00\x00\x00\x04\xfeSMB", 8),
	                 MM_OK);
	ck_assert_int_eq(s.is_smb2, 1);
}
END_TEST

START_TEST(test_dhcp_extract_xp)
{
	/* A DISCOVER as Windows XP sends it: MSFT 5.0 without option 121. */
	static const uint8_t opts[] = {53,  1,   1,   12,  4,   'x', 'p', 'p', 'c', 60, 8,
	                               'M', 'S', 'F', 'T', ' ', '5', '.', '0', 55,  11, 1,
	                               15,  3,   6,   44,  46,  47,  31,  33,  249, 43, 255};
	uint8_t buf[300];
	struct legacy_dhcp_info d;

	memset(buf, 0, sizeof(buf));
	buf[0] = 1;
	buf[1] = 1;
	buf[2] = 6;
	memcpy(buf + 28, "\x00\x0c\x29\x01\x02\x03", 6);
	memcpy(buf + 236, "\x63\x82\x53\x63", 4);
	memcpy(buf + 240, opts, sizeof(opts));
	ck_assert_int_eq(legacy_dhcp_extract(&d, buf, 240 + sizeof(opts)), MM_OK);
	ck_assert_int_eq(d.has_55, 1);
	ck_assert_uint_eq(d.nprl, 11);
	ck_assert_str_eq(d.vendor, "MSFT 5.0");
	ck_assert_str_eq(d.hostname, "xppc");
	ck_assert_int_eq(d.chaddr[5], 3);
	buf[0] = 2; /* a server's reply says nothing about the client */
	ck_assert_int_ne(legacy_dhcp_extract(&d, buf, 240 + sizeof(opts)), MM_OK);
	ck_assert_int_ne(legacy_dhcp_extract(&d, buf, 100), MM_OK);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("legacy_p0f");
	TCase *tc = tcase_create("parsers");

	tcase_add_test(tc, test_parse_debian_p0f);
	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_bad_signatures);
	tcase_add_test(tc, test_tcp_options_quirks);
	tcase_add_test(tc, test_signal_table);
	tcase_add_test(tc, test_http_user_agent);
	tcase_add_test(tc, test_smb_extract);
	tcase_add_test(tc, test_dhcp_extract_xp);
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
