/*
 * System test: a worker SIGKILLed while it hands over events. Everything
 * its last heartbeat before the kill reported as acknowledged is in the
 * file sink exactly once (the transport acknowledges in order, so the
 * settled prefix 1..settled is known stored), its counters at that
 * heartbeat account for every event (queued == acked + dropped + rejected
 * + buffered), the restarted worker's events all arrive, and the other
 * module is untouched. The two lives of the killed module are told apart
 * by event time: the restart comes at least a second after the kill.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "test_system_lib.h"

START_TEST(worker_killed_acked_events_kept)
{
	struct sys_env e;
	struct sys_counts life1, life2, all;
	char mods[1024], kill_ts[64], *sink, *text;
	long per = sys_scaled(100000, 10000), n, missing = 0, dup1 = 0, stored1 = 0;
	int64_t q, a, d, r, b, settled, hb;
	pid_t victim, again;

	/* About eight seconds of production, whatever the scale. */
	snprintf(mods, sizeof(mods),
	         "counter_a = { enabled = true; count = %ld; rate_per_sec = %ld; };\n"
	         "counter_b = { enabled = true; count = %ld; rate_per_sec = %ld; label = "
	         "\"b\"; };",
	         per, per / 8, per, per / 8);
	sys_init(&e, "sys-wkill", NULL, "sinks = { file = { path = \"OUT\"; }; };", mods);
	sys_start(&e);
	victim = sys_wait_running(&e, "counter_a", 0, 30000);
	ck_assert_int_gt(victim, 0);
	/* Kill once a third has been acknowledged, right after a heartbeat:
	 * the counters it carried are the last word of this life. */
	ck_assert_int_ge(sys_wait_module(&e, "counter_a", "transport.acked", per / 3, 120000),
	                 per / 3);
	hb = sys_module_num(&e, "counter_a", "transport.queued");
	for (n = 0; n < 200 && sys_module_num(&e, "counter_a", "transport.queued") == hb; n++)
		mmt_sleep_ms(10);
	text = sys_module_text(&e, "counter_a");
	ck_assert_int_eq(kill(victim, SIGKILL), 0);
	/* Events of the first life are older than this; the restart comes
	 * after a back-off of a second. */
	sys_now_ts(kill_ts, sizeof(kill_ts), 400);
	ck_assert_ptr_nonnull(text);
	q = sys_json_num(text, "transport.queued");
	a = sys_json_num(text, "transport.acked");
	d = sys_json_num(text, "transport.dropped_full");
	r = sys_json_num(text, "transport.rejected");
	b = sys_json_num(text, "transport.buffered");
	settled = sys_json_num(text, "transport.settled");
	free(text);
	ck_assert_int_lt(q, per); /* killed mid-run */
	ck_assert_int_eq(q, a + d + r + b);
	ck_assert_int_eq(d + r, 0);
	ck_assert_int_gt(settled, 0);
	ck_assert_int_le(settled, a);

	again = sys_wait_running(&e, "counter_a", victim, 30000);
	ck_assert_int_gt(again, 0);
	ck_assert_int_eq(sys_module_num(&e, "counter_a", "restarts"), 1);
	/* The second life starts again at 1 and must deliver all of it. */
	ck_assert_int_eq(sys_wait_module(&e, "counter_a", "transport.acked", per, 240000), per);
	ck_assert_int_eq(sys_wait_module(&e, "counter_b", "transport.acked", per, 240000), per);
	for (n = 0; n < 600; n++) {
		if (sys_agg_num(&e, "sinks.file.pending") == 0 &&
		    sys_agg_num(&e, "spool.undelivered") == 0)
			break;
		mmt_sleep_ms(100);
	}
	ck_assert_int_eq(sys_stop(&e), 0);

	sink = sys_read_sink(&e);
	sys_count_sink(&life1, sink, per, kill_ts, NULL);
	sys_count_sink(&life2, sink, per, NULL, kill_ts);
	sys_count_sink(&all, sink, per, NULL, NULL);
	for (n = 1; n <= per; n++) {
		if (n <= settled && life1.a[n] != 1)
			missing++;
		dup1 += life1.a[n] > 1;
		stored1 += life1.a[n];
		ck_assert_uint_eq(life2.a[n], 1);
		ck_assert_uint_eq(all.b[n], 1);
	}
	ck_assert_msg(missing == 0, "%ld acknowledged events of the killed worker missing",
	              missing);
	ck_assert_int_eq(dup1, 0);
	/* Everything acked is stored; what was buffered may or may not be. */
	ck_assert_int_ge(stored1, a);
	ck_assert_int_le(stored1, per);
	ck_assert_int_eq(all.other, 0);
	ck_assert_uint_ge(mmt_count(sink, "\"cat\":\"module_crashed\""), 1);
	fprintf(stderr,
	        "killed worker: queued %lld acked %lld settled %lld buffered %lld; "
	        "stored from its first life %ld\n",
	        (long long)q, (long long)a, (long long)settled, (long long)b, stored1);
	sys_counts_free(&life1);
	sys_counts_free(&life2);
	sys_counts_free(&all);
	free(sink);
	sys_cleanup(&e);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("system_worker_kill");
	TCase *tc = tcase_create("kill");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, worker_killed_acked_events_kept);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
