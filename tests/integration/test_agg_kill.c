/*
 * Done-when test of the event path: two producers hand over events while
 * the aggregator is SIGKILLed five times at random moments; afterwards the
 * file sink must hold every produced id exactly once. 200,000 events in
 * all by default; MM_SOAK_SCALE shrinks (CI) or grows it.
 */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agg_testlib.h"

static void
check_ids(struct agg_env *e, const char *idlog, struct agg_idset *sink, long expect)
{
	struct agg_lines ids;
	size_t i;

	memset(&ids, 0, sizeof(ids));
	agg_read_lines(&ids, idlog);
	ck_assert_int_eq((long)ids.n, expect);
	for (i = 0; i < ids.n; i++)
		ck_assert_msg(agg_idset_count(sink, ids.v[i]) == 1, "id %s seen %u times", ids.v[i],
		              agg_idset_count(sink, ids.v[i]));
	agg_lines_free(&ids);
}

START_TEST(test_kill_aggregator_five_times)
{
	struct agg_env e;
	char n[32], ids1[400], ids2[400], p1[400], p2[400];
	long per = agg_scaled(100000, 2000);
	pid_t agg, prod1, prod2;
	struct agg_lines lines;
	struct agg_idset *seen = agg_idset_new();
	size_t i, dups = 0, alerts = 0;
	int k;

	agg_env_init(&e, "sinks = { file = { path = \"OUT\"; rotate_kb = 4096; keep = 200; }; };");
	{
		char body[600];
		snprintf(body, sizeof(body),
		         "sinks = { file = { path = \"%s\"; rotate_kb = 4096; keep = 200; }; };",
		         e.out);
		agg_env_write_conf(&e, body);
	}
	snprintf(n, sizeof(n), "%ld", per);
	snprintf(ids1, sizeof(ids1), "%s/ids1", e.root);
	snprintf(ids2, sizeof(ids2), "%s/ids2", e.root);
	snprintf(p1, sizeof(p1), "%s/prog1", e.root);
	snprintf(p2, sizeof(p2), "%s/prog2", e.root);
	agg = agg_start_aggregator(&e);
	{
		const char *a1[] = {"produce", e.endpoint,   "prod1",  n,   ids1,
		                    p1,        "--flush-ms", "120000", NULL};
		const char *a2[] = {"produce", e.endpoint,   "prod2",  n,   ids2,
		                    p2,        "--flush-ms", "120000", NULL};
		prod1 = agg_spawn(&e, "prod1.log", a1);
		prod2 = agg_spawn(&e, "prod2.log", a2);
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	for (k = 0; k < 5; k++) {
		/* Kill at a random moment of the run, then come back. */
		poll(NULL, 0, 50 + (int)(random() % (per >= 50000 ? 400 : 150)));
		agg_kill9(agg);
		poll(NULL, 0, (int)(random() % 200));
		agg = agg_start_aggregator(&e);
	}
	ck_assert_int_eq(agg_wait(prod1, 300000), 0);
	ck_assert_int_eq(agg_wait(prod2, 300000), 0);
	/* Everything is acked, so stored; wait until the sink has it all. */
	ck_assert_int_ge(
	        agg_wait_stat(&e, "sinks.file.cursor", agg_stat(&e, "spool.last_seq"), 60000), 0);
	poll(NULL, 0, 1200);
	ck_assert_int_eq(agg_wait_stat(&e, "spool.undelivered", 0, 0) == 0, 1);
	ck_assert_int_eq(agg_stop(agg), 0);

	agg_read_sink(&lines, e.out);
	for (i = 0; i < lines.n; i++) {
		char *id = agg_json_id(lines.v[i]);
		ck_assert_ptr_nonnull(id);
		if (agg_idset_add(seen, id) > 1)
			dups++;
		if (strstr(lines.v[i], "\"kind\":\"alert\"") != NULL)
			alerts++;
		free(id);
	}
	ck_assert_msg(dups == 0, "%zu duplicate lines in the file sink", dups);
	ck_assert_int_eq((long)alerts, 2 * per);
	check_ids(&e, ids1, seen, per);
	check_ids(&e, ids2, seen, per);
	agg_lines_free(&lines);
	agg_idset_free(seen);
	agg_env_cleanup(&e);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("agg_kill");
	TCase *tc = tcase_create("kill");

	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_kill_aggregator_five_times);
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
	return failed ? 1 : 0;
}
