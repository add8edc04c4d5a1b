/*
 * `mimamori replay` end to end with the SDK's example plugin: JSON lines
 * that parse, counts that match the capture (cross-checked with tcpdump
 * when it is installed), a closing stat event, clear errors for bad input.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

static char *
replay(const char *capture, const char *extra, int *rc, char **err)
{
	char cmd[8192], *out;

	snprintf(cmd, sizeof(cmd), "%s -c %s/config-min replay --pcap %s --module hello %s",
	         mmt_env("MIMAMORI"), mmt_env("MM_TEST_DATA"), capture, extra ? extra : "");
	*rc = mmt_run(cmd, &out, err);
	return out;
}

static long
attr(const char *line, const char *key)
{
	char needle[64];
	const char *p;

	snprintf(needle, sizeof(needle), "\"%s\":", key);
	p = strstr(line, needle);
	return p ? strtol(p + strlen(needle), NULL, 10) : -1;
}

static char *
line_with(char *all, const char *a, const char *b)
{
	char *line, *save = NULL;

	for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, a) && (b == NULL || strstr(line, b)))
			return line;
	return NULL;
}

START_TEST(replay_counts_and_prints_json_lines)
{
	char capture[4200], cmd[8400], *out, *err, *copy, *line, *t_out, *t_err;
	int rc;

	snprintf(capture, sizeof(capture), "%s/data/demo/tcp_ports.pcapng",
	         mmt_env("MM_SOURCE_DIR"));
	out = replay(capture, NULL, &rc, &err);
	ck_assert_msg(rc == 0, "%s", err);
	/* Every line is a JSON object in the schema's order: v first. */
	copy = strdup(out);
	for (line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
		ck_assert_msg(strncmp(line, "{\"v\":1,\"id\":\"", 13) == 0, "%s", line);
		ck_assert(line[strlen(line) - 1] == '}');
	}
	free(copy);
	if (system("command -v python3 >/dev/null 2>&1") == 0) {
		char *pyout, *pyerr;
		char tmpl[] = "/tmp/mm-replay-XXXXXX";
		int fd = mkstemp(tmpl);
		FILE *f = fdopen(fd, "w");
		fputs(out, f);
		fclose(f);
		snprintf(cmd, sizeof(cmd),
		         "python3 -c 'import json,sys\nn=0\nfor l in open(sys.argv[1]):\n"
		         "  e=json.loads(l); assert e[\"v\"]==1 and len(e[\"id\"])==36; n+=1\n"
		         "print(n)' %s",
		         tmpl);
		ck_assert_int_eq(mmt_run(cmd, &pyout, &pyerr), 0);
		ck_assert_int_ge(atoi(pyout), 2);
		unlink(tmpl);
		free(pyout);
		free(pyerr);
	}
	/* The plugin's own report and the host's summary agree with the file. */
	copy = strdup(out);
	line = line_with(copy, "\"cat\":\"traffic\"", NULL);
	ck_assert_ptr_nonnull(line);
	ck_assert_int_eq(attr(line, "packets"), 505);
	ck_assert_str_eq(strstr(line, "\"kind\":\"stat\"") ? "stat" : "?", "stat");
	free(copy);
	copy = strdup(out);
	line = line_with(copy, "\"cat\":\"capture\"", NULL);
	ck_assert_ptr_nonnull(line);
	ck_assert_int_eq(attr(line, "packets"), 505);
	ck_assert_int_eq(attr(line, "decode_errors"), 0);
	/* The summary is the last line: a replay always ends with it. */
	{
		size_t len = strlen(out);
		const char *last;
		ck_assert(len > 1 && out[len - 1] == '\n');
		last = out + len - 2;
		while (last > out && *last != '\n')
			last--;
		ck_assert_ptr_nonnull(strstr(last, "\"cat\":\"capture\""));
	}
	if (system("command -v tcpdump >/dev/null 2>&1") == 0) {
		long tcp = attr(line, "tcp");
		snprintf(cmd, sizeof(cmd), "tcpdump -nn -r %s tcp 2>/dev/null | wc -l", capture);
		ck_assert_int_eq(mmt_run(cmd, &t_out, &t_err), 0);
		ck_assert_int_eq(tcp, atol(t_out));
		free(t_out);
		free(t_err);
	}
	free(copy);
	free(out);
	free(err);
}
END_TEST

START_TEST(replay_missing_file_is_a_clear_error)
{
	char *out, *err;
	int rc;

	out = replay("/nonexistent/capture.pcap", NULL, &rc, &err);
	ck_assert_int_eq(rc, 2);
	ck_assert_msg(strstr(err, "replay: cannot open /nonexistent/capture.pcap") != NULL, "%s",
	              err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
}
END_TEST

START_TEST(replay_not_a_capture_is_a_clear_error)
{
	char capture[4200], *out, *err;
	int rc;

	snprintf(capture, sizeof(capture), "%s/config-min/00-sensor.conf", mmt_env("MM_TEST_DATA"));
	out = replay(capture, NULL, &rc, &err);
	ck_assert_int_eq(rc, 2);
	ck_assert_ptr_nonnull(strstr(err, "replay: cannot open"));
	free(out);
	free(err);
}
END_TEST

START_TEST(replay_malformed_frames_counted_not_fatal)
{
	char capture[4200], *out, *err, *line;
	int rc;

	snprintf(capture, sizeof(capture), "%s/tcpdump-tests/radiotap-heapoverflow.pcap",
	         mmt_env("MM_TEST_DATA"));
	out = replay(capture, NULL, &rc, &err);
	ck_assert_msg(rc == 0, "%s", err);
	line = line_with(out, "\"cat\":\"capture\"", NULL);
	ck_assert_ptr_nonnull(line);
	ck_assert_int_gt(attr(line, "packets"), 0);
	ck_assert_int_gt(attr(line, "decode_errors"), 0);
	free(out);
	free(err);
}
END_TEST

START_TEST(replay_unknown_module_and_bad_set)
{
	char capture[4200], cmd[8400], *out, *err;
	int rc;

	snprintf(capture, sizeof(capture), "%s/data/demo/tcp_ports.pcapng",
	         mmt_env("MM_SOURCE_DIR"));
	snprintf(cmd, sizeof(cmd), "%s -c %s/config-min replay --pcap %s --module nosuch",
	         mmt_env("MIMAMORI"), mmt_env("MM_TEST_DATA"), capture);
	ck_assert_int_eq(mmt_run(cmd, &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "no usable plugin named 'nosuch'"));
	free(out);
	free(err);
	out = replay(capture, "--set hello.report_interval_sec=0", &rc, &err);
	ck_assert_int_eq(rc, 2);
	ck_assert_ptr_nonnull(strstr(err, "not a valid value"));
	free(out);
	free(err);
	/* A one-second report interval on the capture's clock gives several
	 * reports, proving timers follow packet time, not the wall clock. */
	out = replay(capture, "--set hello.report_interval_sec=1", &rc, &err);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_gt(mmt_count(out, "\"cat\":\"traffic\""), 2);
	free(out);
	free(err);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("hello");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, replay_counts_and_prints_json_lines);
	tcase_add_test(tc, replay_missing_file_is_a_clear_error);
	tcase_add_test(tc, replay_not_a_capture_is_a_clear_error);
	tcase_add_test(tc, replay_malformed_frames_counted_not_fatal);
	tcase_add_test(tc, replay_unknown_module_and_bad_set);
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
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
