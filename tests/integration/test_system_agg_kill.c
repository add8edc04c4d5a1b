/*
 * System test of the whole event path with real processes: `mimamori run`
 * with two modules (counter_a, counter_b: 100,000 numbered alerts each by
 * default, MM_SOAK_SCALE scales) while the aggregator child is SIGKILLed
 * five times at random moments; the supervisor restarts it each time.
 * Afterwards the file sink holds every (module, n) exactly once, the
 * supervisor reported each crash as a health event, and `mimamori status
 * --json` shows counters that add up.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support.h"
#include "test_system_lib.h"

START_TEST(aggregator_killed_five_times_every_event_once)
{
	struct sys_env e;
	struct sys_counts c;
	char mods[1024], *status = NULL, *sink;
	long per = sys_scaled(100000, 5000), n, bad_a = 0, bad_b = 0;
	pid_t agg = 0;
	int k;

	snprintf(mods, sizeof(mods),
	         "counter_a = { enabled = true; count = %ld; rate_per_sec = 20000; };\n"
	         "counter_b = { enabled = true; count = %ld; rate_per_sec = 20000; label = "
	         "\"b\"; };",
	         per, per);
	sys_init(&e, "sys-aggkill", NULL,
	         "sinks = { file = { path = \"OUT\"; rotate_kb = 16384; keep = 200; }; };", mods);
	sys_start(&e);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	for (k = 0; k < 5; k++) {
		/* A fresh aggregator (back-off grows 1, 2, 4, 8 s), then a kill
		 * somewhere in its life while workers hand over and resend. */
		agg = sys_wait_running(&e, "aggregator", agg, 30000);
		ck_assert_msg(agg > 0, "aggregator not running before kill %d", k + 1);
		mmt_sleep_ms(100 + (int)(random() % 1400));
		ck_assert_int_eq(kill(agg, SIGKILL), 0);
	}
	agg = sys_wait_running(&e, "aggregator", agg, 30000);
	ck_assert_int_gt(agg, 0);
	ck_assert_int_eq(sys_module_num(&e, "aggregator", "restarts"), 5);

	/* Every event handed over is acknowledged, so stored... */
	ck_assert_int_eq(sys_wait_module(&e, "counter_a", "transport.acked", per, 240000), per);
	ck_assert_int_eq(sys_wait_module(&e, "counter_b", "transport.acked", per, 240000), per);
	/* ... and the file sink catches up with the spool. */
	for (k = 0; k < 600; k++) {
		if (sys_agg_num(&e, "pid") == agg && sys_agg_num(&e, "sinks.file.pending") == 0 &&
		    sys_agg_num(&e, "spool.undelivered") == 0)
			break;
		mmt_sleep_ms(100);
	}
	ck_assert_int_eq(sys_cli(&e, "status --json", &status), 0);
	ck_assert_ptr_nonnull(strstr(status, "\"supervisor_running\":true"));
	ck_assert_ptr_nonnull(strstr(status, "\"aggregator_running\":true"));
	{
		const char *mod[] = {"counter_a", "counter_b"};
		for (k = 0; k < 2; k++) {
			char key[64], *m;
			int64_t q, a, d, r, b, ev;

			snprintf(key, sizeof(key), "{\"name\":\"%s\",", mod[k]);
			m = strstr(status, key);
			ck_assert_ptr_nonnull(m);
			q = sys_json_num(m, "transport.queued");
			a = sys_json_num(m, "transport.acked");
			d = sys_json_num(m, "transport.dropped_full");
			r = sys_json_num(m, "transport.rejected");
			b = sys_json_num(m, "transport.buffered");
			ev = sys_json_num(m, "counters.events");
			ck_assert_int_eq(q, a + d + r + b);
			ck_assert_int_eq(q, ev);
			ck_assert_int_eq(a, per);
			ck_assert_int_eq(d + r + b, 0);
			ck_assert_int_ge(sys_json_num(m, "transport.sent"), per);
		}
	}
	{
		char *ag = strstr(status, "\"aggregator\":{");
		ck_assert_ptr_nonnull(ag);
		ck_assert_int_eq(sys_json_num(ag, "spool.undelivered"), 0);
		ck_assert_int_eq(sys_json_num(ag, "sinks.file.pending"), 0);
		ck_assert_int_eq(sys_json_num(ag, "drops.rejected_events"), 0);
		ck_assert_int_eq(sys_json_num(ag, "drops.dropped_oldest"), 0);
		ck_assert_int_eq(sys_json_num(ag, "drops.corrupt_skipped"), 0);
		ck_assert_int_eq(sys_json_num(ag, "drops.spool_errors"), 0);
	}
	free(status);
	ck_assert_int_eq(sys_stop(&e), 0);

	sink = sys_read_sink(&e);
	sys_count_sink(&c, sink, per, NULL, NULL);
	for (n = 1; n <= per; n++) {
		bad_a += c.a[n] != 1;
		bad_b += c.b[n] != 1;
		if (c.a[n] != 1 && bad_a < 5)
			fprintf(stderr, "counter_a n=%ld seen %u times\n", n, c.a[n]);
		if (c.b[n] != 1 && bad_b < 5)
			fprintf(stderr, "counter_b n=%ld seen %u times\n", n, c.b[n]);
	}
	ck_assert_int_eq(bad_a, 0);
	ck_assert_int_eq(bad_b, 0);
	ck_assert_int_eq(c.other, 0);
	/* The supervisor said so each time: a health event per crash. */
	ck_assert_uint_ge(mmt_count(sink, "\"cat\":\"module_crashed\""), 5);
	ck_assert_int_eq(c.lines, 2 * per + c.health);
	sys_counts_free(&c);
	free(sink);
	sys_cleanup(&e);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("system_agg_kill");
	TCase *tc = tcase_create("kill");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, aggregator_killed_five_times_every_event_once);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
