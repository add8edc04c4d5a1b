/*
 * End-to-end Check suite of the legacy plugin through the real host:
 * `mimamori replay --module legacy` over XP captures (UTM side) and over a
 * capture with the PC side pointed at a fixture root, reading the JSON
 * lines the host prints. Runs as a test process; starts $MIMAMORI.
 */
#include "pcap_feed.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char confdir[] = "/tmp/legacy-e2e-XXXXXX";

static void
write_conf(const char *legacy_body)
{
	char path[4200], p0f[4096];
	FILE *f;

	/* Debian's p0f.fp as copied for the tests, not the machine's own. */
	test_data_path(p0f, sizeof(p0f), "fingerprint-dbs/p0f/p0f.fp");

	snprintf(path, sizeof(path), "%s/00-sensor.conf", confdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "sensor = { id = \"e2e\"; site = \"test\"; role = \"utm\"; };\n"
	           "host = { log_level = \"warn\"; };\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/50-legacy.conf", confdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "modules = { legacy = { enabled = true; p0f_fp = \"%s\"; %s }; };\n", p0f,
	        legacy_body);
	fclose(f);
}

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(confdir));
}

static void
teardown(void)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/00-sensor.conf", confdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/50-legacy.conf", confdir);
	unlink(path);
	rmdir(confdir);
	strcpy(confdir, "/tmp/legacy-e2e-XXXXXX");
}

/* Run replay and return its whole stdout (caller frees). */
static char *
replay(const char *pcap_rel)
{
	const char *bin = getenv("MIMAMORI");
	char cmd[8192], pcap[4096];
	size_t cap = 1 << 20, n = 0;
	char *out = malloc(cap + 1);
	FILE *p;

	ck_assert_ptr_nonnull(bin);
	ck_assert_ptr_nonnull(out);
	test_data_path(pcap, sizeof(pcap), pcap_rel);
	snprintf(cmd, sizeof(cmd), "'%s' -c '%s' replay --pcap '%s' --module legacy", bin, confdir,
	         pcap);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, cap, p);
	out[n] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	return out;
}

/* The line containing all of a, b and c, or NULL. */
static const char *
line_with(const char *text, const char *a, const char *b, const char *c)
{
	const char *line = text;

	while (line != NULL && *line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		char *copy = strndup(line, len);
		int ok = strstr(copy, a) && (b == NULL || strstr(copy, b)) &&
		         (c == NULL || strstr(copy, c));
		free(copy);
		if (ok)
			return line;
		line = end != NULL ? end + 1 : NULL;
	}
	return NULL;
}

START_TEST(test_replay_xp_online)
{
	char *out;

	write_conf("mode = \"utm\"; eol_reference = \"2026-11-27\";");
	out = replay("legacy-os/zeek_http_pipelined-requests.pcap");
	ck_assert_msg(line_with(out, "\"cat\":\"inventory\"", "\"ip\":\"192.168.1.104\"",
	                        "\"os\":\"Windows XP\"") != NULL,
	              "no inventory event:\n%s", out);
	ck_assert_msg(line_with(out, "\"rule\":{\"ns\":\"legacy\",\"id\":1,", "\"sev\":4",
	                        "\"families\":[\"tcp\",\"http\"]") != NULL,
	              "no legacy alert:\n%s", out);
	ck_assert_msg(line_with(out, "\"id\":2,", "\"dst\":{\"ip\":\"63.245.209.11\",\"port\":80}",
	                        "\"msg_id\":\"legacy.host_internet\"") != NULL,
	              "no internet alert:\n%s", out);
	ck_assert_ptr_nonnull(line_with(out, "\"mac\":\"00:0b:db:4f:6b:10\"", "Windows NT 5.1",
	                                "\"confidence\":"));
	/* The PC side is off in utm mode. */
	ck_assert_ptr_null(line_with(out, "legacy.pc_", NULL, NULL));
	free(out);
}
END_TEST

START_TEST(test_replay_modern_quiet)
{
	char *out;

	write_conf("mode = \"utm\"; eol_reference = \"2026-11-27\";");
	out = replay("legacy-os/sv_output-eve-smb-01_input.pcap");
	ck_assert_ptr_nonnull(line_with(out, "\"ip\":\"192.168.1.100\"", "Samba", NULL));
	ck_assert_ptr_null(line_with(out, "\"cat\":\"legacy_os\"", NULL, NULL));
	free(out);
}
END_TEST

START_TEST(test_replay_pc_fixture)
{
	char body[8192], root[4096];
	char *out;

	test_data_path(root, sizeof(root), "legacy/roots/debian8");
	snprintf(body, sizeof(body),
	         "mode = \"pc\"; eol_reference = \"2026-11-27\"; root = \"%s\"; "
	         "apt_file = \"apt-upgrade.txt\"; fw_file = \"nft-ruleset.txt\";",
	         root);
	write_conf(body);
	out = replay("chrissanders-packets/passiveosfingerprinting.pcapng");
	ck_assert_msg(line_with(out, "\"msg_id\":\"legacy.pc_inventory\"",
	                        "\"os\":\"Debian GNU/Linux 8 (jessie)\"",
	                        "\"eol_date\":\"2020-06-30\"") != NULL,
	              "no inventory:\n%s", out);
	ck_assert_ptr_nonnull(
	        line_with(out, "\"name\":\"os_end_of_life\"", "\"sev\":4", "2020-06-30"));
	ck_assert_ptr_nonnull(line_with(out, "\"name\":\"antivirus_stale\"", "\"msg_ja\":", NULL));
	ck_assert_ptr_nonnull(line_with(out, "\"name\":\"security_updates_pending\"",
	                                "2 security updates", NULL));
	ck_assert_ptr_nonnull(line_with(out, "\"name\":\"firewall_inactive\"", NULL, NULL));
	ck_assert_ptr_null(line_with(out, "\"name\":\"antivirus_missing\"", NULL, NULL));
	free(out);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("legacy_replay");
	TCase *tc = tcase_create("replay");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_replay_xp_online);
	tcase_add_test(tc, test_replay_modern_quiet);
	tcase_add_test(tc, test_replay_pc_fixture);
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
