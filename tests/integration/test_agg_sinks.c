/*
 * The sinks write events rendered straight from their stored bytes: on the
 * hot path while the aggregator checks them, and from the spool after a
 * restart. Either way the file and stdout sinks must write exactly the line
 * `mimamori events tail` renders from the decoded event, and every event
 * exactly once, also when duplicates were dropped from between them, and
 * when a burst waiting for the aggregator arrives at once (a group large
 * enough to be checked in two parts on two threads).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agg_testlib.h"

#define N 1500
#define N_BURST 10000

static pid_t
produce_start(struct agg_env *e, const char *module, int count, const char *pad,
              const char *dup_every)
{
	char ids[400], prog[400], n[16];
	const char *a[] = {"produce", e->endpoint, module,        n,         ids, prog,
	                   "--pad",   pad,         "--dup-every", dup_every, NULL};

	snprintf(ids, sizeof(ids), "%s/ids-%s", e->root, module);
	snprintf(prog, sizeof(prog), "%s/prog-%s", e->root, module);
	snprintf(n, sizeof(n), "%d", count);
	return agg_spawn(e, "prod.log", a);
}

static void
produce(struct agg_env *e, const char *module, const char *pad, const char *dup_every)
{
	ck_assert_int_eq(agg_wait(produce_start(e, module, N, pad, dup_every), 60000), 0);
}

/* JSON lines only: the log also holds the aggregator's own messages. */
static void
json_lines(struct agg_lines *out, const char *path)
{
	struct agg_lines all;
	size_t i;

	memset(&all, 0, sizeof(all));
	memset(out, 0, sizeof(*out));
	agg_read_lines(&all, path);
	out->v = calloc(all.n + 1, sizeof(*out->v));
	for (i = 0; i < all.n; i++)
		if (all.v[i][0] == '{')
			out->v[out->n++] = strdup(all.v[i]);
	agg_lines_free(&all);
}

struct keyed {
	char *id;
	const char *line;
};

static int
by_id(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->id, ((const struct keyed *)b)->id);
}

/* Every line of got is the tail line of its id, and each id once. */
static size_t
match_tail(const struct agg_lines *got, const struct agg_lines *tail)
{
	struct agg_idset *seen = agg_idset_new();
	struct keyed *t = calloc(tail->n + 1, sizeof(*t));
	size_t i, found = 0;

	for (i = 0; i < tail->n; i++) {
		t[i].id = agg_json_id(tail->v[i]);
		t[i].line = tail->v[i];
		ck_assert_ptr_nonnull(t[i].id);
	}
	qsort(t, tail->n, sizeof(*t), by_id);
	for (i = 0; i < got->n; i++) {
		struct keyed k = {agg_json_id(got->v[i]), NULL}, *hit;

		ck_assert_ptr_nonnull(k.id);
		ck_assert_uint_eq(agg_idset_add(seen, k.id), 1);
		hit = bsearch(&k, t, tail->n, sizeof(*t), by_id);
		ck_assert_msg(hit != NULL, "event %s is not in the spool", k.id);
		ck_assert_str_eq(got->v[i], hit->line);
		found++;
		free(k.id);
	}
	for (i = 0; i < tail->n; i++)
		free(t[i].id);
	free(t);
	agg_idset_free(seen);
	return found;
}

static size_t
count_marks(const struct agg_lines *l, const char *mark)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++)
		n += strstr(l->v[i], mark) != NULL;
	return n;
}

START_TEST(test_hot_and_cold_lines_match_tail)
{
	struct agg_env e;
	struct agg_lines file, out, tail;
	char body[800], path[400];
	const char *ta[] = {"events", NULL, "tail", NULL};
	pid_t agg, burst;

	/* No sink: the first events stay in the spool, undelivered. */
	agg_env_init(&e, "sinks = { file = { enabled = false; }; };");
	agg = agg_start_aggregator(&e);
	produce(&e, "cold", "1", "0");
	ck_assert_int_eq(agg_stop(agg), 0);

	/* Both sinks: they catch up from the spool (cold), then take the
	 * next events as they are stored (hot). */
	snprintf(body, sizeof(body),
	         "sinks = { file = { path = \"%s\"; }; stdout = { enabled = true; }; };", e.out);
	agg_env_write_conf(&e, body);
	snprintf(path, sizeof(path), "%s/aggregator.log", e.root);
	unlink(path);
	agg = agg_start_aggregator(&e);
	produce(&e, "hot", "40", "0");
	/* Copies dropped from the middle of a group leave holes between the
	 * rendered lines the sinks are handed. */
	produce(&e, "dup", "40", "7");
	ck_assert_int_ge(agg_wait_stat(&e, "sinks.file.events", 3 * N, 30000), 3 * N);
	ck_assert_int_ge(agg_wait_stat(&e, "sinks.stdout.events", 3 * N, 30000), 3 * N);
	ck_assert_int_eq(agg_stop(agg), 0);

	/* A burst queued while the aggregator is away: once it is back,
	 * the producer sends every batch its window allows at once. */
	burst = produce_start(&e, "burst", N_BURST, "300", "5");
	sleep(1);
	agg = agg_start_aggregator(&e);
	ck_assert_int_eq(agg_wait(burst, 60000), 0);
	ck_assert_int_ge(agg_wait_stat(&e, "sinks.file.events", N_BURST, 30000), N_BURST);
	ck_assert_int_ge(agg_wait_stat(&e, "sinks.stdout.events", N_BURST, 30000), N_BURST);
	ck_assert_int_eq(agg_stop(agg), 0);

	ta[1] = e.conf;
	snprintf(path, sizeof(path), "%s/tail.out", e.root);
	ck_assert_int_eq(agg_wait(agg_spawn(&e, "tail.out", ta), 30000), 0);
	json_lines(&tail, path);
	agg_read_sink(&file, e.out);
	snprintf(path, sizeof(path), "%s/aggregator.log", e.root);
	json_lines(&out, path);

	ck_assert_uint_eq(count_marks(&file, "MARK-cold-"), N);
	ck_assert_uint_eq(count_marks(&file, "MARK-hot-"), N);
	ck_assert_uint_eq(count_marks(&file, "MARK-dup-"), N);
	ck_assert_uint_eq(count_marks(&out, "MARK-dup-"), N);
	ck_assert_uint_eq(count_marks(&out, "MARK-cold-"), N);
	ck_assert_uint_eq(count_marks(&out, "MARK-hot-"), N);
	ck_assert_uint_eq(count_marks(&file, "MARK-burst-"), N_BURST);
	ck_assert_uint_eq(count_marks(&out, "MARK-burst-"), N_BURST);
	ck_assert_uint_eq(match_tail(&file, &tail), file.n);
	ck_assert_uint_eq(match_tail(&out, &tail), out.n);
	agg_lines_free(&file);
	agg_lines_free(&out);
	agg_lines_free(&tail);
	agg_env_cleanup(&e);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("agg_sinks");
	TCase *tc = tcase_create("render");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_hot_and_cold_lines_match_tail);
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
