/*
 * A full spool: with "refuse" the aggregator refuses batches, the producer
 * holds them and gets them stored once there is room again (after a restart
 * with a sink that drains the spool); with "drop_oldest" the oldest events
 * go. Either way counters and a health event say how many.
 */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agg_testlib.h"

#define N 6000

static int
tail_has(struct agg_env *e, const char *needle)
{
	const char *a[] = {"events", e->conf, "tail", "--kind", "health", NULL};
	char path[400];
	struct agg_lines l;
	size_t i;
	int found = 0;

	snprintf(path, sizeof(path), "%s/tail.out", e->root);
	unlink(path);
	ck_assert_int_eq(agg_wait(agg_spawn(e, "tail.out", a), 20000), 0);
	memset(&l, 0, sizeof(l));
	agg_read_lines(&l, path);
	for (i = 0; i < l.n; i++)
		found |= strstr(l.v[i], needle) != NULL;
	agg_lines_free(&l);
	return found;
}

START_TEST(test_refuse_holds_then_delivers)
{
	struct agg_env e;
	char ids[400], prog[400], n[16], body[600];
	uint64_t p[6];
	pid_t agg, prod;
	struct agg_lines lines, idl;
	struct agg_idset *seen = agg_idset_new();
	size_t i;

	agg_env_init(&e, "spool_max_mb = 1; spool_policy = \"refuse\";"
	                 " sinks = { file = { enabled = false; }; };");
	snprintf(ids, sizeof(ids), "%s/ids", e.root);
	snprintf(prog, sizeof(prog), "%s/prog", e.root);
	snprintf(n, sizeof(n), "%d", N);
	agg = agg_start_aggregator(&e);
	{
		const char *a[] = {"produce", e.endpoint, "full",       n,        ids, prog,
		                   "--pad",   "200",      "--flush-ms", "120000", NULL};
		prod = agg_spawn(&e, "prod.log", a);
	}
	ck_assert_int_gt(agg_wait_stat(&e, "drops.refused_events", 1, 20000), 0);
	ck_assert_int_gt(agg_wait_stat(&e, "health_events", 1, 5000), 0);
	/* The producer holds what was refused. */
	poll(NULL, 0, 300);
	ck_assert_int_eq(agg_read_progress(prog, p), 0);
	ck_assert_uint_lt(p[2], N);
	ck_assert_int_lt(agg_stat(&e, "in.events"), N);
	ck_assert_int_le(agg_stat(&e, "spool.bytes"), 1024 * 1024);
	ck_assert_int_eq(agg_wait(prod, 0), -1);
	ck_assert_int_eq(agg_stop(agg), 0);
	ck_assert(tail_has(&e, "\"refused_events\":"));
	ck_assert(tail_has(&e, "\"msg_id\":\"agg.spool_refused\"") ||
	          tail_has(&e, "agg.spool_refused"));

	/* Room again: a sink drains the spool; the producer's held batches
	 * are accepted and everything arrives exactly once. */
	snprintf(body, sizeof(body),
	         "spool_max_mb = 1; spool_policy = \"refuse\"; dedup_window_sec = 0;"
	         " sinks = { file = { path = \"%s\"; }; };",
	         e.out);
	agg_env_write_conf(&e, body);
	agg = agg_start_aggregator(&e);
	ck_assert_int_eq(agg_wait(prod, 120000), 0);
	agg_wait_stat(&e, "sinks.file.cursor", agg_stat(&e, "spool.last_seq"), 20000);
	poll(NULL, 0, 1200);
	ck_assert_int_eq(agg_stop(agg), 0);
	agg_read_sink(&lines, e.out);
	for (i = 0; i < lines.n; i++) {
		char *id = agg_json_id(lines.v[i]);
		ck_assert_uint_eq(agg_idset_add(seen, id), 1);
		free(id);
	}
	memset(&idl, 0, sizeof(idl));
	agg_read_lines(&idl, ids);
	ck_assert_int_eq((long)idl.n, N);
	for (i = 0; i < idl.n; i++)
		ck_assert_uint_eq(agg_idset_count(seen, idl.v[i]), 1);
	agg_lines_free(&idl);
	agg_lines_free(&lines);
	agg_idset_free(seen);
	agg_env_cleanup(&e);
}
END_TEST

START_TEST(test_drop_oldest_counts)
{
	struct agg_env e;
	char ids[400], prog[400], n[16];
	int64_t dropped, kept;
	pid_t agg;

	agg_env_init(&e, "spool_max_mb = 1; spool_policy = \"drop_oldest\";"
	                 " sinks = { file = { enabled = false; }; };");
	snprintf(ids, sizeof(ids), "%s/ids", e.root);
	snprintf(prog, sizeof(prog), "%s/prog", e.root);
	snprintf(n, sizeof(n), "%d", N);
	agg = agg_start_aggregator(&e);
	{
		const char *a[] = {"produce", e.endpoint, "full", n,   ids,
		                   prog,      "--pad",    "200",  NULL};
		ck_assert_int_eq(agg_wait(agg_spawn(&e, "prod.log", a), 60000), 0);
	}
	ck_assert_int_ge(agg_wait_stat(&e, "health_events", 1, 5000), 1);
	poll(NULL, 0, 1100);
	dropped = agg_stat(&e, "drops.dropped_oldest");
	kept = agg_stat(&e, "spool.events");
	ck_assert_int_eq(agg_stat(&e, "in.events"), N);
	ck_assert_int_gt(dropped, 0);
	ck_assert_int_le(agg_stat(&e, "spool.bytes"), 1024 * 1024 + 4096);
	/* Every event is either still there or counted as dropped (health
	 * events are in the spool too). */
	ck_assert_int_eq(kept + dropped, N + agg_stat(&e, "health_events"));
	ck_assert_int_eq(agg_stop(agg), 0);
	ck_assert(tail_has(&e, "\"dropped_oldest\":"));
	agg_env_cleanup(&e);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("agg_full");
	TCase *tc = tcase_create("full");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_refuse_holds_then_delivers);
	tcase_add_test(tc, test_drop_oldest_counts);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
