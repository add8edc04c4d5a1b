/*
 * Tests of the ips plugin's Aho-Corasick matcher (test process): the set of
 * patterns it reports must be exactly what a plain case-insensitive search
 * finds, for short buffers (one walk) and long ones (interleaved segments),
 * with patterns that overlap, nest and repeat, and with patterns taken from
 * the ET Open rules when ../shared/data is present; both with the in-house
 * automaton and with Hyperscan when the build has it (odd loop indexes).
 */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ips_ac.h"
#include "mimamori/error.h"

#define MAXPAT 2048

struct found {
	unsigned char hit[MAXPAT];
	unsigned long calls;
};

static void
on_hit(void *user, uint32_t id)
{
	struct found *f = user;

	ck_assert_uint_lt(id, MAXPAT);
	f->hit[id] = 1;
	f->calls++;
}

static int
naive_has(const uint8_t *buf, size_t len, const uint8_t *pat, size_t plen)
{
	for (size_t i = 0; i + plen <= len; i++) {
		size_t k;
		for (k = 0; k < plen && tolower(buf[i + k]) == tolower(pat[k]); k++)
			;
		if (k == plen)
			return 1;
	}
	return 0;
}

static uint32_t rng = 12345;

static uint32_t
rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

/* Random patterns over a small alphabet (so they overlap and nest), some
 * upper case, compared with the naive search over random buffers of many
 * lengths, below and above the interleaving threshold. */
START_TEST(ac_matches_naive_search)
{
	static uint8_t pats[MAXPAT][40];
	static size_t plen[MAXPAT];
	static uint8_t buf[20000];
	const char alpha[] = "abcAB\x00\xff";
	size_t npat = 300 + (size_t)(_i / 2) * 600;
	struct ips_ac *ac = NULL;

	ck_assert_int_eq(ips_ac_new2(&ac, _i & 1), MM_OK);
	for (size_t p = 0; p < npat; p++) {
		plen[p] = 1 + rnd() % (p % 7 == 0 ? 39 : 6);
		for (size_t k = 0; k < plen[p]; k++)
			pats[p][k] = (uint8_t)alpha[rnd() % (sizeof(alpha) - 1)];
		ck_assert_int_eq(ips_ac_add(ac, pats[p], plen[p], (uint32_t)p), MM_OK);
	}
	ck_assert_int_eq(ips_ac_build(ac), MM_OK);
	ck_assert_uint_eq(ips_ac_patterns(ac), npat);
	if (!(_i & 1))
		ck_assert_str_eq(ips_ac_backend(ac), "aho-corasick");
	for (int round = 0; round < 40; round++) {
		size_t len = round < 20 ? rnd() % 300 : 300 + rnd() % sizeof(buf) % 19000;
		struct found f;
		size_t expected = 0;

		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)(round % 3 == 0 ? alpha[rnd() % 7]
			                                  : "abcdefxyzAB"[rnd() % 11]);
		memset(&f, 0, sizeof(f));
		ips_ac_scan(ac, buf, len, on_hit, &f);
		for (size_t p = 0; p < npat; p++) {
			int want = naive_has(buf, len, pats[p], plen[p]);
			ck_assert_msg(f.hit[p] == want,
			              "pattern %zu (len %zu) in a %zu-byte buffer: %d, want %d", p,
			              plen[p], len, f.hit[p], want);
			expected += (size_t)want;
		}
		ck_assert_uint_ge(f.calls, expected);
	}
	ips_ac_free(ac);
}
END_TEST

/* Real patterns: every content of the ET Open 2019 emerging-trojan rules
 * (when ../shared/data is there), scanned over a buffer built from some of
 * them at known places plus noise, against the naive search. */
START_TEST(ac_et_open_contents)
{
	const char *shared = getenv("MM_SHARED_DATA");
	char path[4096], line[65536];
	static uint8_t pats[MAXPAT][128];
	static size_t plen[MAXPAT];
	static uint8_t buf[60000];
	size_t npat = 0, len = 0;
	struct ips_ac *ac = NULL;
	struct found f;
	FILE *fp;

	if (shared == NULL)
		return;
	rng = 777; /* the same buffer for both backends */
	snprintf(path, sizeof(path), "%s/et-open-2019-mirror/emerging-trojan.rules", shared);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	ck_assert_int_eq(ips_ac_new2(&ac, _i), MM_OK);
	while (npat < MAXPAT && fgets(line, sizeof(line), fp) != NULL) {
		const char *c = strstr(line, "content:\"");
		if (c == NULL || line[0] == '#')
			continue;
		c += 9;
		plen[npat] = 0;
		/* Text between quotes, without hex blocks (enough here). */
		for (; *c && *c != '"' && plen[npat] < sizeof(pats[0]); c++) {
			if (*c == '|') {
				const char *e = strchr(c + 1, '|');
				if (e == NULL)
					break;
				c = e;
				continue;
			}
			pats[npat][plen[npat]++] = (uint8_t)*c;
		}
		if (plen[npat] < 3)
			continue;
		ck_assert_int_eq(ips_ac_add(ac, pats[npat], plen[npat], (uint32_t)npat), MM_OK);
		npat++;
	}
	fclose(fp);
	ck_assert_uint_gt(npat, 100);
	ck_assert_int_eq(ips_ac_build(ac), MM_OK);
	while (len + 200 < sizeof(buf)) {
		size_t p = rnd() % npat, noise = rnd() % 64;
		for (size_t k = 0; k < noise; k++)
			buf[len++] = (uint8_t)rnd();
		if (rnd() % 4 == 0) {
			for (size_t k = 0; k < plen[p]; k++)
				buf[len++] = (uint8_t)toupper(pats[p][k]);
		}
	}
	for (size_t cut = 100; cut <= len; cut = cut * 3 + 7) {
		memset(&f, 0, sizeof(f));
		ips_ac_scan(ac, buf, cut, on_hit, &f);
		for (size_t p = 0; p < npat; p++)
			ck_assert_msg(f.hit[p] == naive_has(buf, cut, pats[p], plen[p]),
			              "ET pattern %zu over %zu bytes", p, cut);
	}
	ips_ac_free(ac);
}
END_TEST

START_TEST(ac_empty_and_bad_use)
{
	struct ips_ac *ac = NULL;
	struct found f;
	const uint8_t x[] = "abc";

	ck_assert_int_eq(ips_ac_new(&ac), MM_OK);
	ck_assert_int_eq(ips_ac_add(ac, x, 0, 1), MM_ERR_STATE);
	memset(&f, 0, sizeof(f));
	ips_ac_scan(ac, x, 3, on_hit, &f); /* not built: nothing */
	ck_assert_int_eq(ips_ac_build(ac), MM_OK);
	ips_ac_scan(ac, x, 3, on_hit, &f);
	ck_assert_uint_eq(f.calls, 0);
	ck_assert_int_eq(ips_ac_add(ac, x, 3, 1), MM_ERR_STATE);
	ips_ac_free(ac);
	ips_ac_free(NULL);

	/* A pattern repeated all over a buffer is reported once per state
	 * and scan ("a" once from state a, "aa" and "a" once from state aa),
	 * in one walk and in interleaved segments alike. */
	{
		static uint8_t run[5000];
		memset(run, 'A', sizeof(run));
		ck_assert_int_eq(ips_ac_new(&ac), MM_OK);
		ck_assert_int_eq(ips_ac_add(ac, (const uint8_t *)"a", 1, 0), MM_OK);
		ck_assert_int_eq(ips_ac_add(ac, (const uint8_t *)"aa", 2, 1), MM_OK);
		ck_assert_int_eq(ips_ac_build(ac), MM_OK);
		for (size_t n = 100; n <= sizeof(run); n *= 50) {
			memset(&f, 0, sizeof(f));
			ips_ac_scan(ac, run, n, on_hit, &f);
			ck_assert(f.hit[0] && f.hit[1]);
			/* Hyperscan reports each pattern once: 2 calls. */
			ck_assert_uint_le(f.calls, 3);
		}
		ips_ac_free(ac);
	}
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("ips_ac");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, ac_matches_naive_search, 0, 4);
	tcase_add_loop_test(tc, ac_et_open_contents, 0, 2);
	tcase_add_test(tc, ac_empty_and_bad_use);
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
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
