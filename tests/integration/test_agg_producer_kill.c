/*
 * A producer killed mid-run: every event it had handed over and had seen
 * acknowledged is in the file sink exactly once, nothing it did not send
 * appears, and its counters account for the rest.
 */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg_testlib.h"

START_TEST(test_killed_producer_loses_nothing_acked)
{
	struct agg_env e;
	char ids[400], prog[400], n[16], body[600];
	uint64_t p[6];
	pid_t agg, prod;
	struct agg_lines lines, idl;
	struct agg_idset *seen = agg_idset_new(), *sent = agg_idset_new();
	size_t i;

	agg_env_init(&e, NULL);
	snprintf(body, sizeof(body), "sinks = { file = { path = \"%s\"; }; };", e.out);
	agg_env_write_conf(&e, body);
	snprintf(ids, sizeof(ids), "%s/ids", e.root);
	snprintf(prog, sizeof(prog), "%s/prog", e.root);
	snprintf(n, sizeof(n), "%ld", agg_scaled(1000000, 100000));
	agg = agg_start_aggregator(&e);
	{
		const char *a[] = {"produce", e.endpoint, "victim", n, ids, prog, NULL};
		prod = agg_spawn(&e, "prod.log", a);
	}
	ck_assert_int_gt(agg_wait_stat(&e, "in.events", 5000, 20000), 0);
	agg_kill9(prod);
	ck_assert_int_eq(agg_read_progress(prog, p), 0);
	/* prefix queued acked dropped rejected buffered */
	ck_assert_uint_gt(p[0], 0);
	ck_assert_uint_eq(p[1], p[2] + p[3] + p[4] + p[5]);
	ck_assert_uint_le(p[0], p[2]);
	poll(NULL, 0, 500);
	agg_wait_stat(&e, "sinks.file.cursor", agg_stat(&e, "spool.last_seq"), 20000);
	poll(NULL, 0, 1200);
	ck_assert_int_eq(agg_stop(agg), 0);

	memset(&idl, 0, sizeof(idl));
	agg_read_lines(&idl, ids);
	ck_assert_uint_ge(idl.n, p[0]);
	for (i = 0; i < idl.n; i++)
		agg_idset_add(sent, idl.v[i]);
	agg_read_sink(&lines, e.out);
	for (i = 0; i < lines.n; i++) {
		char *id = agg_json_id(lines.v[i]);
		ck_assert_uint_eq(agg_idset_add(seen, id), 1);
		if (strstr(lines.v[i], "\"kind\":\"alert\""))
			ck_assert_uint_eq(agg_idset_count(sent, id), 1);
		free(id);
	}
	for (i = 0; i < p[0]; i++)
		ck_assert_msg(agg_idset_count(seen, idl.v[i]) == 1, "acked event %zu missing", i);
	/* Stored but not yet known as acked, at most what was in flight. */
	ck_assert_int_eq(agg_stat(&e, "in.events") <= (int64_t)idl.n, 1);
	agg_lines_free(&idl);
	agg_lines_free(&lines);
	agg_idset_free(seen);
	agg_idset_free(sent);
	agg_env_cleanup(&e);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("agg_producer_kill");
	TCase *tc = tcase_create("producer_kill");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_killed_producer_loses_nothing_acked);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
