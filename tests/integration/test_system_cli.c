/*
 * System test of the operator commands on a real sensor: `mimamori events
 * tail` (--kind, --min-sev, --json, --pretty, -n, --follow) reading the
 * spool of a running aggregator, and `mimamori status` / `status --json`
 * against a running supervisor.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "test_system_lib.h"

static size_t
lines(const char *s)
{
	return mmt_count(s, "\n");
}

START_TEST(tail_and_status_on_a_running_sensor)
{
	struct sys_env e;
	struct sys_counts c;
	char *out = NULL, *err = NULL, tail_out[4300], tail_err[4300], *argv[12];
	pid_t tail, worker_b;
	long n;

	sys_init(
	        &e, "sys-cli", NULL, "sinks = { file = { path = \"OUT\"; }; };",
	        "counter_a = { enabled = true; count = 50; rate_per_sec = 1000; };\n"
	        "counter_b = { enabled = true; count = 30; rate_per_sec = 1000; label = \"b\"; };");
	sys_start(&e);
	ck_assert_int_eq(sys_wait_module(&e, "counter_a", "transport.acked", 50, 30000), 50);
	ck_assert_int_eq(sys_wait_module(&e, "counter_b", "transport.acked", 30, 30000), 30);

	/* Alerts of severity 2 (low) and up: all 80, as JSON lines. */
	ck_assert_int_eq(sys_cli(&e, "events tail --kind alert --min-sev 2 --json", &out), 0);
	ck_assert_uint_eq(lines(out), 80);
	ck_assert_uint_eq(mmt_count(out, "\"kind\":\"alert\""), 80);
	sys_count_sink(&c, out, 50, NULL, NULL);
	for (n = 1; n <= 50; n++) {
		ck_assert_uint_eq(c.a[n], 1);
		ck_assert_uint_eq(c.b[n], n <= 30 ? 1 : 0);
	}
	sys_counts_free(&c);
	free(out);
	/* None of them is medium or worse. */
	ck_assert_int_eq(sys_cli(&e, "events tail --kind alert --min-sev 3 --json", &out), 0);
	ck_assert_str_eq(out, "");
	free(out);
	/* The human form: one line each, not JSON. */
	ck_assert_int_eq(sys_cli(&e, "events tail --kind alert --min-sev 2 --pretty", &out), 0);
	ck_assert_uint_eq(lines(out), 80);
	ck_assert_uint_eq(mmt_count(out, "alert/test test event"), 80);
	ck_assert_uint_eq(mmt_count(out, "{\"v\":"), 0);
	free(out);
	/* The last three only. */
	ck_assert_int_eq(sys_cli(&e, "events tail --kind alert -n 3", &out), 0);
	ck_assert_uint_eq(lines(out), 3);
	free(out);
	/* Bad options are refused with a usage status. */
	ck_assert_int_eq(sys_cli(&e, "events tail --min-sev 9", &out), 2);
	free(out);

	/* A crash makes a medium health event from the supervisor. */
	worker_b = (pid_t)sys_module_num(&e, "counter_b", "pid");
	ck_assert_int_gt(worker_b, 0);
	kill(worker_b, SIGKILL);
	for (n = 0; n < 100; n++) {
		ck_assert_int_eq(sys_cli(&e, "events tail --kind health --min-sev 3 --json", &out),
		                 0);
		if (strstr(out, "module_crashed") != NULL)
			break;
		free(out);
		out = NULL;
		mmt_sleep_ms(100);
	}
	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(strstr(out, "\"cat\":\"module_crashed\""));
	ck_assert_ptr_nonnull(strstr(out, "\"module\":\"counter_b\""));
	ck_assert_uint_eq(mmt_count(out, "\"kind\":\"alert\""), 0);
	free(out);

	/* --follow: prints what arrives after it started, until stopped. */
	snprintf(tail_out, sizeof(tail_out), "%s/tail.out", e.dir);
	snprintf(tail_err, sizeof(tail_err), "%s/tail.err", e.dir);
	argv[0] = (char *)mmt_env("MIMAMORI");
	argv[1] = "-c";
	argv[2] = e.conf;
	argv[3] = "events";
	argv[4] = "tail";
	argv[5] = "--follow";
	argv[6] = "--kind";
	argv[7] = "alert";
	argv[8] = NULL;
	tail = mmt_spawn(argv, tail_out, tail_err);
	ck_assert_int_eq(mmt_wait_for(tail_out, "\"kind\":\"alert\"", 80, 10000), 0);
	/* A new module appears on SIGHUP; its events reach the follower. */
	sys_write_conf(&e, NULL, "sinks = { file = { path = \"OUT\"; }; };",
	               "counter_a = { enabled = true; count = 50; rate_per_sec = 1000; };\n"
	               "counter_b = { enabled = true; count = 30; rate_per_sec = 1000; label = "
	               "\"b\"; };\n"
	               "crasher = { enabled = true; count = 25; rate_per_sec = 100; label = "
	               "\"late\"; };");
	kill(e.sup, SIGHUP);
	ck_assert_int_eq(mmt_wait_for(tail_out, "\"label\":\"late\"", 25, 20000), 0);
	ck_assert_int_eq(mmt_wait(tail, 300), -1); /* still following */
	kill(tail, SIGINT);
	ck_assert_int_eq(mmt_wait(tail, 5000), 0);
	out = mmt_read(tail_out);
	/* counter_b's second life repeats 1..30 after its crash. */
	ck_assert_uint_eq(mmt_count(out, "\"label\":\"late\""), 25);
	ck_assert_uint_eq(mmt_count(out, "\"kind\":\"alert\""), lines(out));
	free(out);

	/* status against the running supervisor and aggregator. */
	ck_assert_int_eq(sys_cli(&e, "status", &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "Modules (supervisor running)"));
	ck_assert_ptr_nonnull(strstr(out, "Aggregator: running"));
	ck_assert_ptr_nonnull(strstr(out, "counter_a"));
	ck_assert_ptr_nonnull(strstr(out, "crasher"));
	ck_assert_ptr_nonnull(strstr(out, "sink file"));
	ck_assert_ptr_nonnull(strstr(out, "drops:"));
	free(out);
	ck_assert_int_eq(sys_cli(&e, "status --json", &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"supervisor_running\":true"));
	ck_assert_ptr_nonnull(strstr(out, "\"aggregator_running\":true"));
	{
		char *a = strstr(out, "{\"name\":\"counter_a\",");
		char *b = strstr(out, "{\"name\":\"counter_b\",");
		ck_assert_ptr_nonnull(a);
		ck_assert_ptr_nonnull(b);
		ck_assert_int_eq(sys_json_num(a, "transport.queued"), 50);
		ck_assert_int_eq(sys_json_num(a, "transport.acked"), 50);
		ck_assert_int_eq(sys_json_num(b, "restarts"), 1);
		ck_assert_ptr_nonnull(strstr(b, "\"state\":\"running\""));
		ck_assert_int_ge(sys_json_num(strstr(out, "\"aggregator\":{"), "spool.events"),
		                 80 + 25);
	}
	free(out);
	free(err);
	ck_assert_int_eq(sys_stop(&e), 0);
	/* With everything stopped, status says so and still exits 0. */
	ck_assert_int_eq(sys_cli(&e, "status", &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "supervisor not running"));
	free(out);
	sys_cleanup(&e);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("system_cli");
	TCase *tc = tcase_create("cli");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, tail_and_status_on_a_running_sensor);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
