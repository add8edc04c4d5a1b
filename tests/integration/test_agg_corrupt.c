/*
 * A damaged spool at start-up never stops the aggregator: a record whose
 * bytes were flipped is skipped and counted, a truncated file is salvaged
 * into a new one, what could not be read is reported (stats file and a
 * health event), and everything else is delivered.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agg_testlib.h"

#define N 3000

static void
fill_spool(struct agg_env *e, char *ids, size_t idslen)
{
	char prog[400], n[16];
	pid_t agg;

	agg_env_init(e, "sinks = { file = { enabled = false; }; };");
	snprintf(ids, idslen, "%s/ids", e->root);
	snprintf(prog, sizeof(prog), "%s/prog", e->root);
	snprintf(n, sizeof(n), "%d", N);
	agg = agg_start_aggregator(e);
	{
		const char *a[] = {"produce", e->endpoint, "c", n, ids, prog, NULL};
		ck_assert_int_eq(agg_wait(agg_spawn(e, "prod.log", a), 60000), 0);
	}
	ck_assert_int_eq(agg_stop(agg), 0);
}

static void
enable_sink(struct agg_env *e)
{
	char body[600];

	snprintf(body, sizeof(body), "sinks = { file = { path = \"%s\"; }; };", e->out);
	agg_env_write_conf(e, body);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Deliver, then count alert lines, checking ids are produced and unique. */
static size_t
deliver_and_count(struct agg_env *e, const char *idlog, struct agg_idset *seen)
{
	struct agg_lines lines, ids;
	struct agg_idset *known = agg_idset_new();
	size_t i, alerts = 0;
	pid_t agg = agg_start_aggregator(e);

	ck_assert_int_ge(agg_wait_stat(e, "sinks.file.cursor", 1, 10000), 1);
	agg_wait_stat(e, "sinks.file.cursor", agg_stat(e, "spool.last_seq"), 10000);
	ck_assert_int_eq(agg_stop(agg), 0);
	memset(&ids, 0, sizeof(ids));
	agg_read_lines(&ids, idlog);
	for (i = 0; i < ids.n; i++)
		agg_idset_add(known, ids.v[i]);
	agg_read_sink(&lines, e->out);
	for (i = 0; i < lines.n; i++) {
		char *id = agg_json_id(lines.v[i]);
		ck_assert_ptr_nonnull(id);
		ck_assert_uint_eq(agg_idset_add(seen, id), 1);
		if (strstr(lines.v[i], "\"kind\":\"alert\"")) {
			ck_assert_uint_eq(agg_idset_count(known, id), 1);
			alerts++;
		}
		free(id);
	}
	agg_lines_free(&lines);
	agg_lines_free(&ids);
	agg_idset_free(known);
	return alerts;
}

START_TEST(test_flipped_bytes_skip_one_record)
{
	struct agg_env e;
	struct agg_idset *seen = agg_idset_new();
	char ids[400], db[400], *buf, *hit;
	size_t len;
	int fd;

	fill_spool(&e, ids, sizeof(ids));
	snprintf(db, sizeof(db), "%s/state/spool/spool.db", e.root);
	buf = read_file(db, &len);
	hit = memmem(buf, len, "MARK-c-00001500", 15);
	ck_assert_ptr_nonnull(hit);
	fd = open(db, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "Z", 1, (hit - buf) + 8), 1);
	close(fd);
	free(buf);
	enable_sink(&e);
	ck_assert_uint_eq(deliver_and_count(&e, ids, seen), N - 1);
	ck_assert_int_eq(agg_stat(&e, "drops.corrupt_skipped"), 1);
	ck_assert_int_ge(agg_stat(&e, "health_events"), 1);
	agg_idset_free(seen);
	agg_env_cleanup(&e);
}
END_TEST

START_TEST(test_truncated_file_is_salvaged)
{
	struct agg_env e;
	struct agg_idset *seen = agg_idset_new();
	char ids[400], db[400];
	struct stat st;
	size_t alerts;
	int64_t lost, corrupt;

	fill_spool(&e, ids, sizeof(ids));
	snprintf(db, sizeof(db), "%s/state/spool/spool.db", e.root);
	ck_assert_int_eq(stat(db, &st), 0);
	/* Cut the last third of the file off in the middle of a page, and
	 * flip bytes in a page a third of the way in (a leaf of the table). */
	ck_assert_int_eq(truncate(db, st.st_size * 2 / 3 + 1000), 0);
	{
		int fd = open(db, O_WRONLY);
		off_t at = (st.st_size / 3) / 4096 * 4096 + 100;
		ck_assert_int_eq(pwrite(fd, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, at), 8);
		close(fd);
	}
	enable_sink(&e);
	alerts = deliver_and_count(&e, ids, seen);
	lost = agg_stat(&e, "drops.unreadable_events");
	corrupt = agg_stat(&e, "drops.corrupt_skipped");
	ck_assert_int_ge(agg_stat(&e, "drops.unreadable_ranges") + corrupt, 1);
	ck_assert_uint_lt(alerts, N);
	/* How much survives depends on which pages the cut and the flipped
	 * bytes land on, and that follows the batch layout, which follows
	 * timing: when an interior page of SQLite's tree is hit, every row
	 * below it is unreadable and its event count unknown (docs/aggregator.md).
	 * What must always hold: the aggregator starts on the damaged file,
	 * says what it skipped, delivers only original events and each once
	 * (checked in deliver_and_count), and raises a health event. The
	 * record-level case, where everything but the damaged record is
	 * delivered, is test_flipped_bytes_skip_one_record. */
	(void)lost;
	ck_assert_int_ge(agg_stat(&e, "health_events"), 1);
	agg_idset_free(seen);
	agg_env_cleanup(&e);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("agg_corrupt");
	TCase *tc = tcase_create("corrupt");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_flipped_bytes_skip_one_record);
	tcase_add_test(tc, test_truncated_file_is_salvaged);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
