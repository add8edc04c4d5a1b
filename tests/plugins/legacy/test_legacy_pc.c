/*
 * Check suite of the legacy plugin's PC side: the end-of-life table, the
 * os-release / ClamAV / apt / firewall parsers and the whole check run on
 * fixture root directories (tests/data/legacy/roots), never on the test
 * machine's own state. Runs as a test process.
 */
#include "legacy.h"
#include "pcap_feed.h"

#include <mimamori/error.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static struct legacy_eol *eol;
/* 2026-11-27, noon UTC: fixed so that results do not drift. */
static const int64_t now_s = 20784 * 86400LL + 43200;

static void
load_eol(void)
{
	char path[4096];
	const char *src = getenv("MM_SOURCE_DIR");

	snprintf(path, sizeof(path), "%s/data/legacy/eol.tsv", src != NULL ? src : ".");
	ck_assert_int_eq(legacy_eol_load(&eol, path), MM_OK);
}

static void
free_eol(void)
{
	legacy_eol_free(eol);
	eol = NULL;
}

static void
opts_for(struct legacy_pc_opts *o, char *root, size_t rootlen, const char *name)
{
	memset(o, 0, sizeof(*o));
	snprintf(root, rootlen, "legacy/roots/%s", name);
	{
		char tmp[4096];
		test_data_path(tmp, sizeof(tmp), root);
		snprintf(root, rootlen, "%s", tmp);
	}
	o->root = root;
	o->clamav_dir = "/var/lib/clamav";
	o->av_max_age_days = 7;
	o->apt_file = "apt-upgrade.txt";
	o->apt_command = "false";
	o->fw_file = "nft-ruleset.txt";
	o->fw_command = "false";
}

START_TEST(test_dates)
{
	int64_t d;
	char buf[16];

	ck_assert_int_eq(legacy_days_from_civil(1970, 1, 1), 0);
	ck_assert_int_eq(legacy_parse_date(&d, "2026-11-27"), MM_OK);
	ck_assert_int_eq(d, 20784);
	legacy_format_date(buf, sizeof(buf), d);
	ck_assert_str_eq(buf, "2026-11-27");
	legacy_format_date(buf, sizeof(buf), legacy_days_from_civil(2000, 2, 29));
	ck_assert_str_eq(buf, "2000-02-29");
	ck_assert_int_eq(legacy_parse_date(&d, "2026-13-01"), MM_ERR_PARSE);
	ck_assert_int_eq(legacy_parse_date(&d, "2026-1-01"), MM_ERR_PARSE);
	ck_assert_int_eq(legacy_parse_date(&d, "2026-01-01x"), MM_ERR_PARSE);
}
END_TEST

START_TEST(test_eol_table)
{
	static const char text[] = "# updated: 2025-01-02\n"
	                           "debian\t8\t2020-06-30\tsrc\n"
	                           "rhel\t8\t2029-05-31\tsrc\n"
	                           "rhel\t8.1\t2021-01-01\tsrc\n"
	                           "broken line\n"
	                           "x\ty\tnot-a-date\n";
	struct legacy_eol *t = NULL;
	const struct legacy_eol_entry *e;

	ck_assert_int_eq(legacy_eol_parse(&t, text, sizeof(text) - 1), MM_OK);
	ck_assert_uint_eq(t->n, 3);
	ck_assert_uint_eq(t->bad_lines, 2);
	ck_assert_str_eq(t->updated, "2025-01-02");
	e = legacy_eol_find(t, "RHEL", "8.10");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->version, "8");
	/* The longest version prefix wins. */
	e = legacy_eol_find(t, "rhel", "8.1");
	ck_assert_str_eq(e->version, "8.1");
	ck_assert_ptr_null(legacy_eol_find(t, "rhel", "80"));
	ck_assert_ptr_null(legacy_eol_find(t, "ubuntu", "8"));
	legacy_eol_free(t);
	legacy_eol_free(NULL);
}
END_TEST

START_TEST(test_shipped_eol_table)
{
	const struct legacy_eol_entry *e;
	char buf[16];

	ck_assert_uint_eq(eol->bad_lines, 0);
	ck_assert_uint_ge(eol->n, 40);
	ck_assert_str_ne(eol->updated, "");
	e = legacy_eol_find(eol, "windows", "xp");
	ck_assert_ptr_nonnull(e);
	legacy_format_date(buf, sizeof(buf), e->eol_day);
	ck_assert_str_eq(buf, "2014-04-08");
	ck_assert_ptr_nonnull(legacy_eol_find(eol, "windows", "7"));
	ck_assert_ptr_nonnull(legacy_eol_find(eol, "windows", "8.1"));
	ck_assert_ptr_nonnull(legacy_eol_find(eol, "windows", "10"));
	ck_assert_ptr_nonnull(legacy_eol_find(eol, "windows", "vista"));
	ck_assert_ptr_nonnull(legacy_eol_find(eol, "macos", "12"));
	ck_assert_ptr_nonnull(legacy_eol_find(eol, "ubuntu", "24.04"));
	ck_assert_ptr_nonnull(legacy_eol_find(eol, "rhel", "9.4"));
}
END_TEST

START_TEST(test_os_release_quoting)
{
	static const char text[] = "# comment\nID=\"my\\\"os\"\nVERSION_ID='1.2'\n"
	                           "PRETTY_NAME=\"My OS 1.2\"\nID_LIKE=debian\nBROKEN\n";
	struct legacy_os_info os;

	memset(&os, 0, sizeof(os));
	ck_assert_int_eq(legacy_os_release_parse(&os, text, sizeof(text) - 1), MM_OK);
	ck_assert_str_eq(os.id, "my\"os");
	ck_assert_str_eq(os.version_id, "1.2");
	ck_assert_str_eq(os.pretty, "My OS 1.2");
	ck_assert_str_eq(os.id_like, "debian");
	memset(&os, 0, sizeof(os));
	ck_assert_int_eq(legacy_os_release_parse(&os, "NAME=x\n", 7), MM_ERR_NOTFOUND);
}
END_TEST

START_TEST(test_clamav_header)
{
	static const char with_stime[] = "ClamAV-VDB:15 Mar 2019 06-23 +0000:25389:2270161:63:md5:"
	                                 "sig:builder:1552630980";
	static const char old_style[] = "ClamAV-VDB:15 Mar 2019 06-23 +0000:25389:2270161";
	int64_t t = 0;

	ck_assert_int_eq(legacy_clamav_header_time(&t, with_stime, sizeof(with_stime) - 1), MM_OK);
	ck_assert_int_eq(t, 1552630980);
	ck_assert_int_eq(legacy_clamav_header_time(&t, old_style, sizeof(old_style) - 1), MM_OK);
	ck_assert_int_eq(t, legacy_days_from_civil(2019, 3, 15) * 86400 + 6 * 3600 + 23 * 60);
	ck_assert_int_eq(legacy_clamav_header_time(&t, "ClamAV-VDB:garbage", 18), MM_ERR_PARSE);
	ck_assert_int_eq(legacy_clamav_header_time(&t, "MZ", 2), MM_ERR_PARSE);
}
END_TEST

START_TEST(test_firewall_parse)
{
	static const char ipt_accept[] =
	        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n";
	static const char ipt_policy[] = "*filter\n:INPUT DROP [0:0]\nCOMMIT\n";
	static const char nft_rule[] = "table ip f {\n chain in {\n  type filter hook input "
	                               "priority 0; policy accept;\n  tcp dport 23 drop\n }\n}\n";
	static const char nft_output_drop[] =
	        "table ip f {\n chain in {\n  type filter hook input "
	        "priority 0; policy accept;\n }\n chain out {\n  type "
	        "filter hook output priority 0;\n  tcp dport 25 drop\n "
	        "}\n}\n";
	char kind[16];

	ck_assert_int_eq(legacy_fw_parse(kind, sizeof(kind), "", 0), 0);
	ck_assert_str_eq(kind, "");
	ck_assert_int_eq(legacy_fw_parse(kind, sizeof(kind), ipt_accept, sizeof(ipt_accept) - 1),
	                 0);
	ck_assert_str_eq(kind, "iptables");
	ck_assert_int_eq(legacy_fw_parse(kind, sizeof(kind), ipt_policy, sizeof(ipt_policy) - 1),
	                 1);
	ck_assert_int_eq(legacy_fw_parse(kind, sizeof(kind), nft_rule, sizeof(nft_rule) - 1), 1);
	ck_assert_str_eq(kind, "nftables");
	/* Dropping outbound mail says nothing about inbound protection. */
	ck_assert_int_eq(
	        legacy_fw_parse(kind, sizeof(kind), nft_output_drop, sizeof(nft_output_drop) - 1),
	        0);
}
END_TEST

START_TEST(test_debian8_root)
{
	struct legacy_pc_opts o;
	struct legacy_pc_report r;
	char root[4096], day[16];

	opts_for(&o, root, sizeof(root), "debian8");
	ck_assert_int_eq(legacy_pc_check(&r, &o, eol, now_s), MM_OK);
	ck_assert_str_eq(r.os.id, "debian");
	ck_assert_str_eq(r.os.version_id, "8");
	ck_assert_str_eq(r.os.pretty, "Debian GNU/Linux 8 (jessie)");
	ck_assert_str_eq(r.os.kernel, "3.16.0-6-amd64");
	ck_assert_int_eq(r.eol_known, 1);
	ck_assert_int_eq(r.eol_past, 1);
	ck_assert_str_eq(r.eol_date, "2020-06-30");
	ck_assert_int_eq(r.av_present, LEGACY_YES);
	legacy_format_date(day, sizeof(day), r.av_sig_day);
	ck_assert_str_eq(day, "2019-03-15");
	ck_assert_int_eq(r.av_age_days, 20784 - legacy_days_from_civil(2019, 3, 15));
	ck_assert_int_eq(r.av_stale, 1);
	ck_assert_int_eq(r.updates_known, 1);
	ck_assert_int_eq(r.updates_total, 3);
	ck_assert_int_eq(r.updates_security, 2);
	ck_assert_int_eq(r.fw_active, LEGACY_NO);
	ck_assert_str_eq(r.fw_kind, "nftables");
}
END_TEST

START_TEST(test_ubuntu2404_root)
{
	struct legacy_pc_opts o;
	struct legacy_pc_report r;
	char root[4096];

	opts_for(&o, root, sizeof(root), "ubuntu2404");
	ck_assert_int_eq(legacy_pc_check(&r, &o, eol, now_s), MM_OK);
	ck_assert_str_eq(r.os.id, "ubuntu");
	ck_assert_str_eq(r.os.version_id, "24.04");
	ck_assert_str_eq(r.os.kernel, "6.8.0-48-generic");
	ck_assert_int_eq(r.eol_known, 1);
	ck_assert_int_eq(r.eol_past, 0);
	ck_assert_str_eq(r.eol_date, "2029-05-31");
	ck_assert_int_eq(r.av_present, LEGACY_NO);
	ck_assert_int_eq(r.av_age_days, -1);
	ck_assert_int_eq(r.updates_known, 1);
	ck_assert_int_eq(r.updates_total, 0);
	ck_assert_int_eq(r.fw_active, LEGACY_YES);
}
END_TEST

START_TEST(test_rhel_like_root)
{
	struct legacy_pc_opts o;
	struct legacy_pc_report r;
	char root[4096];

	opts_for(&o, root, sizeof(root), "rhel-like");
	o.apt_file = NULL;
	o.fw_file = "iptables-save.txt";
	ck_assert_int_eq(legacy_pc_check(&r, &o, eol, now_s), MM_OK);
	/* usr/lib/os-release, and ID_LIKE when the ID is not in the table. */
	ck_assert_str_eq(r.os.id, "exel");
	ck_assert_int_eq(r.eol_known, 1);
	ck_assert_str_eq(r.eol_product, "rhel");
	ck_assert_str_eq(r.eol_version, "7");
	ck_assert_int_eq(r.eol_past, 1);
	/* No proc file in the fixture: the machine's own uname is not used. */
	ck_assert_str_eq(r.os.kernel, "");
	/* No apt file and a fixture root: the command is not run. */
	ck_assert_int_eq(r.updates_known, 0);
	ck_assert_int_eq(r.fw_active, LEGACY_YES);
	ck_assert_str_eq(r.fw_kind, "iptables");
}
END_TEST

/* A temporary root with a ClamAV database written now. */
static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

START_TEST(test_fresh_and_mtime_signatures)
{
	char root[] = "/tmp/legacy-root-XXXXXX", path[4096], hdr[512];
	struct legacy_pc_opts o;
	struct legacy_pc_report r;
	struct timeval tv[2];
	int n;

	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/etc", root);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/etc/os-release", root);
	write_file(path, "ID=debian\nVERSION_ID=\"12\"\n", 26);
	snprintf(path, sizeof(path), "%s/var", root);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/var/lib", root);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/var/lib/clamav", root);
	ck_assert_int_eq(mkdir(path, 0700), 0);

	memset(&o, 0, sizeof(o));
	o.root = root;
	o.clamav_dir = "var/lib/clamav";
	o.av_max_age_days = 7;

	/* A header built one day before now: fresh. */
	memset(hdr, ' ', sizeof(hdr));
	n = snprintf(hdr, sizeof(hdr), "ClamAV-VDB:x:1:2:3:md5:sig:b:%lld",
	             (long long)(now_s - 86400));
	hdr[n] = ' ';
	snprintf(path, sizeof(path), "%s/var/lib/clamav/daily.cld", root);
	write_file(path, hdr, sizeof(hdr));
	ck_assert_int_eq(legacy_pc_check(&r, &o, eol, now_s), MM_OK);
	ck_assert_int_eq(r.eol_past, 0);
	ck_assert_int_eq(r.av_present, LEGACY_YES);
	ck_assert_int_eq(r.av_age_days, 1);
	ck_assert_int_eq(r.av_stale, 0);

	/* An unreadable header falls back to the file time: 30 days old. */
	write_file(path, "ClamAV-VDB:garbage", 18);
	tv[0].tv_sec = tv[1].tv_sec = (time_t)(now_s - 30 * 86400);
	tv[0].tv_usec = tv[1].tv_usec = 0;
	ck_assert_int_eq(utimes(path, tv), 0);
	ck_assert_int_eq(legacy_pc_check(&r, &o, eol, now_s), MM_OK);
	ck_assert_int_eq(r.av_age_days, 30);
	ck_assert_int_eq(r.av_stale, 1);

	unlink(path);
	snprintf(path, sizeof(path), "%s/etc/os-release", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/var/lib/clamav", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/var/lib", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/var", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/etc", root);
	rmdir(path);
	rmdir(root);
}
END_TEST

START_TEST(test_apt_count)
{
	static const char text[] =
	        "Inst a [1] (2 Ubuntu:24.04/noble-security [amd64])\n"
	        "Inst b [1] (2 Ubuntu:24.04/noble-updates [amd64])\n"
	        "Conf a (2 Ubuntu:24.04/noble-security [amd64])\nInstall nothing\n";
	int total = -1, sec = -1;

	legacy_apt_count(&total, &sec, text, sizeof(text) - 1);
	ck_assert_int_eq(total, 2);
	ck_assert_int_eq(sec, 1);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("legacy_pc");
	TCase *tc = tcase_create("pc");

	tcase_add_checked_fixture(tc, load_eol, free_eol);
	tcase_add_test(tc, test_dates);
	tcase_add_test(tc, test_eol_table);
	tcase_add_test(tc, test_shipped_eol_table);
	tcase_add_test(tc, test_os_release_quoting);
	tcase_add_test(tc, test_clamav_header);
	tcase_add_test(tc, test_firewall_parse);
	tcase_add_test(tc, test_debian8_root);
	tcase_add_test(tc, test_ubuntu2404_root);
	tcase_add_test(tc, test_rhel_like_root);
	tcase_add_test(tc, test_fresh_and_mtime_signatures);
	tcase_add_test(tc, test_apt_count);
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
