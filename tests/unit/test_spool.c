/*
 * The aggregator's spool (core/agg/spool.c) on its own: ids are parsed in
 * either case and checked strictly, duplicates inside a batch and across
 * batches are left out, sequence numbers are handed out in order, and what
 * is stored reads back byte for byte after a reopen. The records' CRC-32
 * gives the standard check values, folded or by table alike.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32.h"
#include "event.h"
#include "mimamori/error.h"
#include "spool.h"

static char dir[64];

static struct mm_spool *
open_spool_paged(uint32_t page_size)
{
	struct mm_spool_opts o;
	struct mm_spool *s = NULL;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.max_bytes = 64u << 20;
	o.dedup_window_ms = 600000;
	o.page_size = page_size;
	ck_assert_int_eq(mm_spool_open(&s, &o, NULL), MM_OK);
	return s;
}

static struct mm_spool *
open_spool(void)
{
	return open_spool_paged(0);
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mm-spool-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
item(struct mm_spool_item *it, const char *id, const char *payload)
{
	it->id = id;
	it->kind = MM_KIND_ALERT;
	it->sev = 3;
	it->data = (const uint8_t *)payload;
	it->len = strlen(payload);
	it->idb = NULL;
	it->rec = NULL;
}

static int
put(struct mm_spool *s, struct mm_spool_item *items, size_t n, uint8_t *dup, uint64_t *first,
    size_t *stored)
{
	int rc;

	ck_assert_int_eq(mm_spool_begin(s), MM_OK);
	rc = mm_spool_put_batch(s, items, n, dup, first, stored);
	if (rc == MM_OK)
		ck_assert_int_eq(mm_spool_commit(s), MM_OK);
	else
		mm_spool_rollback(s);
	return rc;
}

struct seen {
	char data[8][32];
	uint64_t seq[8];
	size_t n;
};

static int
collect(void *arg, const struct mm_spool_row *row)
{
	struct seen *r = arg;

	ck_assert_uint_lt(r->n, 8);
	ck_assert(!row->corrupt && !row->skip);
	ck_assert_uint_lt(row->len, sizeof(r->data[0]));
	memcpy(r->data[r->n], row->data, row->len);
	r->data[r->n][row->len] = '\0';
	r->seq[r->n++] = row->seq;
	return 0;
}

/* The spool holds exactly want, in order, as seqs 1..n. */
static void
expect_rows(struct mm_spool *s, const char *const *want, size_t n)
{
	struct seen r;
	size_t i;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(mm_spool_read(s, 0, 100, collect, &r), (int)n);
	ck_assert_uint_eq(r.n, n);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(r.data[i], want[i]);
		ck_assert_uint_eq(r.seq[i], i + 1);
	}
}

static int
count_corrupt(void *arg, const struct mm_spool_row *row)
{
	*(size_t *)arg = row->corrupt ? 1 : 0;
	return 0;
}

START_TEST(test_ids_and_duplicates)
{
	static const char *bad[] = {
	        "0190f3a2-7b1c-7def-8abc-0123456789a",   /* one digit short */
	        "0190f3a2-7b1c-7def-8abc-0123456789abc", /* one digit long */
	        "0190f3a2x7b1c-7def-8abc-0123456789ab",  /* no dash */
	        "0190f3a2-7b1c-7def-8abc-0123456789ag",  /* not hex */
	        "0190f3a2-7b1c-7def-8abc-01234567\x01"
	        "9ab", /* control byte */
	        "",
	};
	struct mm_spool *s;
	struct mm_spool_item it[4];
	uint8_t dup[4];
	uint64_t first = 0;
	size_t stored = 0, i;

	s = open_spool();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		item(&it[0], bad[i], "x");
		ck_assert_msg(put(s, it, 1, dup, &first, &stored) == MM_ERR_PARSE, "%s accepted",
		              bad[i]);
	}
	ck_assert_uint_eq(mm_spool_last_seq(s), 0);
	/* The same id in upper case is the same event. */
	item(&it[0], "0190f3a2-7b1c-7def-8abc-0123456789ab", "one");
	item(&it[1], "0190F3A2-7B1C-7DEF-8ABC-0123456789AB", "one again");
	item(&it[2], "0190f3a2-7b1c-7def-8abc-0123456789ac", "two");
	ck_assert_int_eq(put(s, it, 3, dup, &first, &stored), MM_OK);
	ck_assert_uint_eq(first, 1);
	ck_assert_uint_eq(stored, 2);
	ck_assert(!dup[0] && dup[1] && !dup[2]);
	/* A later batch: the known id is left out, the new one follows. */
	item(&it[0], "0190f3a2-7b1c-7def-8abc-0123456789ac", "two again");
	item(&it[1], "ffffffff-ffff-7fff-bfff-ffffffffffff", "three");
	ck_assert_int_eq(put(s, it, 2, dup, &first, &stored), MM_OK);
	ck_assert_uint_eq(first, 3);
	ck_assert_uint_eq(stored, 1);
	ck_assert(dup[0] && !dup[1]);
	mm_spool_close(s);

	/* After a reopen: the same rows, and the ids still known. */
	s = open_spool();
	expect_rows(s, (const char *const[]){"one", "two", "three"}, 3);
	item(&it[0], "FFFFFFFF-FFFF-7FFF-BFFF-FFFFFFFFFFFF", "three again");
	ck_assert_int_eq(put(s, it, 1, dup, &first, &stored), MM_OK);
	ck_assert_uint_eq(stored, 0);
	ck_assert(dup[0]);
	mm_spool_close(s);
}
END_TEST

/* An id handed over as its 16 bytes is the same id as its text: the
 * bytes are what counts (here they differ from the text on purpose). */
START_TEST(test_parsed_ids)
{
	static const uint8_t b[16] = {0x01, 0x89, 0x0a, 0x5d, 0xac, 0x96, 0x77, 0x4b,
	                              0xbc, 0xce, 0xb3, 0x02, 0x09, 0x9a, 0x80, 0x57};
	struct mm_spool_item it[2];
	struct mm_spool *s = open_spool();
	uint8_t dup[2];
	uint64_t first;
	size_t stored;

	item(&it[0], "01890a5d-ac96-774b-bcce-b302099a8057", "text");
	item(&it[1], "01890a5d-ac96-774b-bcce-ffffffffffff", "bytes");
	it[1].idb = b;
	ck_assert_int_eq(put(s, &it[0], 1, dup, &first, &stored), MM_OK);
	ck_assert_uint_eq(stored, 1);
	ck_assert_int_eq(put(s, &it[1], 1, dup, &first, &stored), MM_OK);
	ck_assert_uint_eq(stored, 0);
	ck_assert_int_eq(dup[0], 1);
	mm_spool_close(s);
}
END_TEST

/* Records made ahead by mm_spool_record() store the same rows as plain
 * items: back to back, with a duplicate between them (the run is cut
 * there), one apart from the rest, and mixed with an item without one.
 * After a reopen every row reads back with a good checksum. */
START_TEST(test_prepared_records)
{
	static const char *ids[] = {
	        "0190f3a2-7b1c-7def-8abc-000000000001", "0190f3a2-7b1c-7def-8abc-000000000002",
	        "0190f3a2-7b1c-7def-8abc-000000000001", "0190f3a2-7b1c-7def-8abc-000000000003",
	        "0190f3a2-7b1c-7def-8abc-000000000004", "0190f3a2-7b1c-7def-8abc-000000000005",
	};
	static const char *data[] = {"alpha", "beta", "alpha again", "gamma", "delta", "epsilon"};
	uint8_t recs[256], apart[64], dup[6];
	struct mm_spool_item it[6];
	struct mm_spool *s = open_spool();
	uint64_t first;
	size_t stored, i, off = 0;

	for (i = 0; i < 6; i++) {
		item(&it[i], ids[i], data[i]);
		if (i == 4)
			continue; /* no record: the spool makes its own */
		it[i].rec = i == 3 ? apart : recs + off;
		mm_spool_record((uint8_t *)it[i].rec, it[i].kind, it[i].sev, it[i].data, it[i].len);
		if (i != 3)
			off += MM_SPOOL_REC_SIZE(it[i].len);
	}
	/* The first two alone are one run, bound without a copy. */
	ck_assert_int_eq(put(s, it, 2, dup, &first, &stored), MM_OK);
	ck_assert_uint_eq(stored, 2);
	ck_assert_int_eq(put(s, it + 2, 4, dup, &first, &stored), MM_OK);
	ck_assert_uint_eq(stored, 3);
	ck_assert(dup[0] && !dup[1] && !dup[2] && !dup[3]);
	mm_spool_close(s);

	s = open_spool();
	expect_rows(s, (const char *const[]){"alpha", "beta", "gamma", "delta", "epsilon"}, 5);
	/* The prepared bytes are what is stored: one changed after its
	 * checksum reads back as corrupt. */
	item(&it[0], "0190f3a2-7b1c-7def-8abc-000000000006", "zeta");
	it[0].rec = recs;
	mm_spool_record(recs, it[0].kind, it[0].sev, it[0].data, it[0].len);
	recs[MM_SPOOL_REC_HDR] = 'Z';
	ck_assert_int_eq(put(s, it, 1, dup, &first, &stored), MM_OK);
	ck_assert_int_eq(mm_spool_read(s, 5, 100, count_corrupt, &i), 1);
	ck_assert_uint_eq(i, 1);
	mm_spool_close(s);
}
END_TEST

/* Enough ids that the dedup set is resized many times (to 256K slots):
 * every one is still found, before and after a reopen (which rebuilds the
 * set from the rows). */
START_TEST(test_large_dedup_set)
{
	enum { N = 120000, B = 4000 };
	static char ids[B][MM_EVENT_ID_LEN + 1];
	struct mm_spool_item it[B];
	static uint8_t dup[B];
	struct mm_spool *s = open_spool();
	uint64_t first;
	size_t stored, i, k, round;

	for (round = 0; round < 2; round++) {
		for (k = 0; k < N; k += B) {
			for (i = 0; i < B; i++) {
				snprintf(ids[i], sizeof(ids[i]), "0190f3a2-7b1c-7def-8abc-%012zx",
				         (k + i) * 2654435761u % 0xffffffffffffu);
				item(&it[i], ids[i], "e");
			}
			ck_assert_int_eq(put(s, it, B, dup, &first, &stored), MM_OK);
			/* First time all new, then every one a duplicate. */
			ck_assert_uint_eq(stored, round == 0 ? B : 0);
		}
		mm_spool_close(s);
		s = open_spool();
	}
	ck_assert_uint_eq(mm_spool_last_seq(s), N);
	mm_spool_close(s);
}
END_TEST

/* The page size of the closed spool's file, from the SQLite header. */
static unsigned
file_page_size(void)
{
	char path[128];
	unsigned char h[18];
	FILE *f;
	unsigned v;

	snprintf(path, sizeof(path), "%s/spool.db", dir);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(h, 1, sizeof(h), f), sizeof(h));
	fclose(f);
	v = (unsigned)h[16] << 8 | h[17];
	return v == 1 ? 65536 : v;
}

/* A new spool takes the configured page size (16 KiB by default, anything
 * SQLite cannot take is the default too); an existing one keeps its own. */
START_TEST(test_page_size)
{
	struct mm_spool_item it;
	struct mm_spool *s;
	uint64_t first;
	size_t stored;
	uint8_t dup;

	s = open_spool_paged(4096);
	item(&it, "01890a5d-ac96-774b-bcce-b302099a8057", "four");
	ck_assert_int_eq(put(s, &it, 1, &dup, &first, &stored), MM_OK);
	mm_spool_close(s);
	ck_assert_uint_eq(file_page_size(), 4096);
	s = open_spool_paged(65536);
	ck_assert_uint_eq(mm_spool_last_seq(s), 1);
	mm_spool_close(s);
	ck_assert_uint_eq(file_page_size(), 4096);
	teardown();
	setup();
	s = open_spool_paged(3000);
	ck_assert_int_eq(put(s, &it, 1, &dup, &first, &stored), MM_OK);
	mm_spool_close(s);
	ck_assert_uint_eq(file_page_size(), MM_SPOOL_PAGE_SIZE);
	teardown();
	setup();
	s = open_spool();
	ck_assert_int_eq(put(s, &it, 1, &dup, &first, &stored), MM_OK);
	mm_spool_close(s);
	ck_assert_uint_eq(file_page_size(), 16384);
}
END_TEST

/* The check values of CRC-32 (zlib's crc32()), and the folded path agrees
 * with the table on every length and alignment around its 64- and 16-byte
 * steps, continued from a running value too. */
START_TEST(test_crc32)
{
	static uint8_t buf[1200];
	uint32_t x = 12345;
	size_t n, off;

	ck_assert_uint_eq(mm_crc32(0, "123456789", 9), 0xcbf43926u);
	ck_assert_uint_eq(mm_crc32(0, "", 0), 0);
	ck_assert_uint_eq(mm_crc32(0, "The quick brown fox jumps over the lazy dog", 43),
	                  0x414fa339u);
	/* Continuing equals one run over both parts. */
	ck_assert_uint_eq(mm_crc32(mm_crc32(0, "12345", 5), "6789", 4), 0xcbf43926u);
	for (n = 0; n < sizeof(buf); n++) {
		x = x * 1103515245u + 12345u;
		buf[n] = (uint8_t)(x >> 16);
	}
	memset(buf + 600, 0xff, 100);
	for (n = 0; n + 8 <= sizeof(buf); n++)
		for (off = 0; off < 8; off += 3)
			ck_assert_uint_eq(mm_crc32(0x9e3779b9u, buf + off, n),
			                  mm_crc32_table(0x9e3779b9u, buf + off, n));
	printf("crc32: %s\n", mm_crc32_accelerated() ? "carry-less multiply" : "table");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("ids");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ids_and_duplicates);
	tcase_add_test(tc, test_page_size);
	tcase_add_test(tc, test_parsed_ids);
	tcase_add_test(tc, test_crc32);
	tcase_add_test(tc, test_prepared_records);
	tcase_add_test(tc, test_large_dedup_set);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
