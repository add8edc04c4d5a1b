/*
 * System test: the spool fills up (spool_max_mb = 1, no sink draining it)
 * under a real `mimamori run`. With "refuse" the aggregator refuses
 * batches, the worker holds them (its counters say how many are
 * buffered), the spool stays within its bound, and a health event in the
 * spool says how many were refused. With "drop_oldest" every event is
 * acknowledged, the spool keeps the newest ones, and what was dropped is
 * counted and reported the same way.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"
#include "test_system_lib.h"

#define N 10000

static const char mods[] = "counter_a = { enabled = true; count = 10000; rate_per_sec = 5000; };";

/* Alerts of counter_a in the spool, per n, via `events tail`. */
static long
spool_alerts(struct sys_env *e, unsigned *seen, long *lo, long *hi)
{
	struct sys_counts c;
	char *out = NULL;
	long n, total = 0;

	ck_assert_int_eq(sys_cli(e, "events tail --kind alert --json", &out), 0);
	sys_count_sink(&c, out, N, NULL, NULL);
	ck_assert_int_eq(c.other + c.health, 0);
	*lo = 0;
	*hi = 0;
	for (n = 1; n <= N; n++) {
		seen[n] = c.a[n];
		total += c.a[n];
		if (c.a[n] && *lo == 0)
			*lo = n;
		if (c.a[n])
			*hi = n;
	}
	sys_counts_free(&c);
	free(out);
	return total;
}

START_TEST(full_spool_refuses_and_worker_holds)
{
	struct sys_env e;
	unsigned *seen = calloc(N + 1, sizeof(unsigned));
	char *health = NULL, *text;
	int64_t refused, acked, buffered, queued, kept;
	long lo, hi, n;

	sys_init(&e, "sys-full", NULL,
	         "spool_max_mb = 1; spool_policy = \"refuse\";\n"
	         "sinks = { file = { enabled = false; }; };",
	         mods);
	sys_start(&e);
	ck_assert_int_ge(sys_wait_module(&e, "counter_a", "transport.queued", N, 60000), N);
	ck_assert_int_gt(sys_agg_num(&e, "drops.refused_events"), 0);
	/* A health event about it reaches the spool (past the bound, by its
	 * own few hundred bytes). */
	for (n = 0; n < 100; n++) {
		free(health);
		ck_assert_int_eq(sys_cli(&e, "events tail --kind health --json", &health), 0);
		if (strstr(health, "agg.spool_refused") != NULL)
			break;
		mmt_sleep_ms(100);
	}
	ck_assert_ptr_nonnull(strstr(health, "\"msg_id\":\"agg.spool_refused\""));
	ck_assert_int_gt(sys_json_num(strstr(health, "agg.spool_refused"), "refused_events"), 0);
	mmt_sleep_ms(1500); /* a fresh heartbeat and stats file */

	text = sys_module_text(&e, "counter_a");
	ck_assert_ptr_nonnull(text);
	queued = sys_json_num(text, "transport.queued");
	acked = sys_json_num(text, "transport.acked");
	buffered = sys_json_num(text, "transport.buffered");
	free(text);
	refused = sys_agg_num(&e, "drops.refused_events");
	kept = spool_alerts(&e, seen, &lo, &hi);
	/* The policy holds: nothing dropped anywhere, the worker holds what
	 * the spool refused, and the spool keeps its bound. */
	ck_assert_int_eq(queued, N);
	ck_assert_int_gt(buffered, 0);
	ck_assert_int_eq(acked + buffered, N);
	ck_assert_int_eq(
	        sys_json_num(text = sys_module_text(&e, "counter_a"), "transport.dropped_full"), 0);
	free(text);
	ck_assert_int_eq(sys_agg_num(&e, "drops.dropped_oldest"), 0);
	ck_assert_int_le(sys_agg_num(&e, "spool.bytes"), 1024 * 1024 + 4096);
	ck_assert_int_gt(refused, 0);
	/* What the worker saw acknowledged is exactly what the spool has,
	 * each once. (Not necessarily a prefix: a smaller batch may still fit
	 * where a refused larger one did not.) */
	ck_assert_int_eq(kept, acked);
	ck_assert_int_eq(lo, 1);
	for (n = 1; n <= N; n++)
		ck_assert_uint_le(seen[n], 1);
	ck_assert_int_le(hi, N);
	ck_assert_int_eq(sys_stop(&e), 0);
	free(health);
	free(seen);
	sys_cleanup(&e);
}
END_TEST

START_TEST(full_spool_drops_oldest_and_says_so)
{
	struct sys_env e;
	unsigned *seen = calloc(N + 1, sizeof(unsigned));
	char *health = NULL, *text;
	int64_t dropped, in, kept_all, healths;
	long lo, hi, n, kept;

	sys_init(&e, "sys-drop", NULL,
	         "spool_max_mb = 1; spool_policy = \"drop_oldest\";\n"
	         "sinks = { file = { enabled = false; }; };",
	         mods);
	sys_start(&e);
	/* Every event is acknowledged: the aggregator makes room itself. */
	ck_assert_int_eq(sys_wait_module(&e, "counter_a", "transport.acked", N, 60000), N);
	for (n = 0; n < 100; n++) {
		free(health);
		ck_assert_int_eq(sys_cli(&e, "events tail --kind health --json", &health), 0);
		if (strstr(health, "agg.spool_dropped") != NULL)
			break;
		mmt_sleep_ms(100);
	}
	ck_assert_ptr_nonnull(strstr(health, "\"msg_id\":\"agg.spool_dropped\""));
	ck_assert_int_gt(sys_json_num(strstr(health, "agg.spool_dropped"), "dropped_oldest"), 0);
	mmt_sleep_ms(1500);
	text = sys_module_text(&e, "counter_a");
	ck_assert_int_eq(sys_json_num(text, "transport.buffered"), 0);
	ck_assert_int_eq(sys_json_num(text, "transport.dropped_full"), 0);
	free(text);
	dropped = sys_agg_num(&e, "drops.dropped_oldest");
	in = sys_agg_num(&e, "in.events");
	kept_all = sys_agg_num(&e, "spool.events");
	healths = sys_agg_num(&e, "health_events");
	kept = spool_alerts(&e, seen, &lo, &hi);
	ck_assert_int_eq(sys_agg_num(&e, "drops.refused_events"), 0);
	ck_assert_int_le(sys_agg_num(&e, "spool.bytes"), 1024 * 1024 + 4096);
	ck_assert_int_gt(dropped, 0);
	/* Every event stored is either still there or counted as dropped
	 * (health events are stored outside "in"). */
	ck_assert_int_eq(kept_all + dropped, in + healths);
	ck_assert_int_lt(kept, N);
	/* The newest are kept, contiguous, each once. */
	ck_assert_int_eq(hi, N);
	ck_assert_int_eq(hi - lo + 1, kept);
	for (n = lo; n <= hi; n++)
		ck_assert_uint_eq(seen[n], 1);
	ck_assert_int_eq(sys_stop(&e), 0);
	free(health);
	free(seen);
	sys_cleanup(&e);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("system_full");
	TCase *tc = tcase_create("full");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, full_spool_refuses_and_worker_holds);
	tcase_add_test(tc, full_spool_drops_oldest_and_says_so);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
