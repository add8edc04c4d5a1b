/*
 * Plugin loading: ABI refusals name the file's and the host's versions, a
 * missing entry symbol and a NULL descriptor are refused, the probe
 * encoding round-trips and rejects damage, and probing in a child gives the
 * same answer as loading in process.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "support.h"

static char path[4200];

static const char *
tp(const char *dir, const char *name)
{
	snprintf(path, sizeof(path), "%s/%s/%s.so", mmt_env("MM_TEST_PLUGIN_DIR"), dir, name);
	return path;
}

static void
expect_refusal(const char *name, int code, const char *text)
{
	const struct mm_plugin *p = NULL;
	char reason[512];
	void *dl = NULL;
	int rc = mm_plugin_open(tp("bad", name), &dl, &p, reason, sizeof(reason));

	ck_assert_int_eq(rc, code);
	ck_assert_ptr_null(dl);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(reason, text) != NULL, "%s: got '%s'", name, reason);
}

START_TEST(refuses_wrong_abi_major)
{
	expect_refusal("bad_abi", MM_ERR_ABI,
	               "ABI version 2.0 is not supported: this host speaks ABI 1.0");
}
END_TEST

START_TEST(refuses_too_small_descriptor)
{
	char want[128];

	snprintf(want, sizeof(want), "struct mm_plugin is 24 bytes, ABI 1.0 needs at least %zu",
	         (size_t)MM_PLUGIN_MIN_SIZE);
	expect_refusal("too_small", MM_ERR_ABI, want);
}
END_TEST

START_TEST(refuses_missing_entry)
{
	expect_refusal("no_entry", MM_ERR_NOTFOUND, "no entry symbol mm_plugin_entry()");
	expect_refusal("null_entry", MM_ERR_ABI, "mm_plugin_entry() returned NULL");
}
END_TEST

START_TEST(loads_good_plugin_and_describes_it)
{
	struct mm_plugin_info *info = NULL;
	const struct mm_plugin *p = NULL;
	char reason[512];
	void *dl = NULL;
	size_t i;
	int found = 0;

	ck_assert_int_eq(mm_plugin_open(tp("good", "counter_a"), &dl, &p, reason, sizeof(reason)),
	                 MM_OK);
	ck_assert_str_eq(p->name, "counter_a");
	ck_assert_int_eq(mm_plugin_describe(&info, path, p), MM_OK);
	ck_assert_str_eq(info->vendor, "mimamori-tests");
	ck_assert_uint_eq(info->roles, MM_ROLE_UTM | MM_ROLE_PC);
	ck_assert_uint_eq(info->nkeys, 6);
	for (i = 0; i < info->nkeys; i++)
		if (strcmp(info->keys[i].name, "rate_per_sec") == 0) {
			ck_assert_int_eq(info->keys[i].type, MM_CFG_INT);
			ck_assert_str_eq(info->keys[i].def, "1000");
			ck_assert(info->keys[i].min == 1 && info->keys[i].max == 10000000);
			found = 1;
		}
	ck_assert(found);
	mm_plugin_info_free(info);
}
END_TEST

START_TEST(probe_encoding_round_trip_and_damage)
{
	struct mm_plugin_info *info = NULL, *back = NULL;
	const struct mm_plugin *p = NULL;
	struct mm_buf b = MM_BUF_INIT, b2 = MM_BUF_INIT;
	char reason[512];
	void *dl;
	size_t cut;

	ck_assert_int_eq(mm_plugin_open(tp("good", "crasher"), &dl, &p, reason, sizeof(reason)),
	                 MM_OK);
	ck_assert_int_eq(mm_plugin_describe(&info, path, p), MM_OK);
	ck_assert_int_eq(mm_plugin_info_encode(info, &b), MM_OK);
	ck_assert_int_eq(mm_plugin_info_decode(&back, b.data, b.len), MM_OK);
	ck_assert_int_eq(mm_plugin_info_encode(back, &b2), MM_OK);
	ck_assert_uint_eq(b.len, b2.len);
	ck_assert_int_eq(memcmp(b.data, b2.data, b.len), 0);
	mm_plugin_info_free(back);
	/* Every truncation is rejected, never read past. */
	for (cut = 0; cut < b.len; cut++) {
		back = NULL;
		ck_assert_int_ne(mm_plugin_info_decode(&back, b.data, cut), MM_OK);
		ck_assert_ptr_null(back);
	}
	mm_buf_free(&b);
	mm_buf_free(&b2);
	mm_plugin_info_free(info);
}
END_TEST

START_TEST(scan_in_child_matches_in_process)
{
	struct mm_plugin_info **a = NULL, **b = NULL;
	char dir[4200];
	size_t na = 0, nb = 0, i;

	snprintf(dir, sizeof(dir), "%s/bad", mmt_env("MM_TEST_PLUGIN_DIR"));
	ck_assert_int_eq(mm_plugins_scan(&a, &na, dir, mmt_env("MIMAMORI")), MM_OK);
	ck_assert_int_eq(mm_plugins_scan(&b, &nb, dir, NULL), MM_OK);
	ck_assert_uint_eq(na, 4);
	ck_assert_uint_eq(nb, 4);
	for (i = 0; i < na; i++) {
		ck_assert_ptr_nonnull(a[i]->refused);
		ck_assert_str_eq(a[i]->path, b[i]->path);
		ck_assert_str_eq(a[i]->refused, b[i]->refused);
	}
	mm_plugins_free(a, na);
	mm_plugins_free(b, nb);
	snprintf(dir, sizeof(dir), "%s/dup", mmt_env("MM_TEST_PLUGIN_DIR"));
	ck_assert_int_eq(mm_plugins_scan(&a, &na, dir, mmt_env("MIMAMORI")), MM_OK);
	ck_assert_uint_eq(na, 2);
	ck_assert_ptr_null(a[0]->refused);
	ck_assert_ptr_nonnull(strstr(a[1]->refused, "duplicate plugin name 'twin'"));
	mm_plugins_free(a, na);
}
END_TEST

static const char *
fixed_data_dir(struct mm_ctx *ctx)
{
	(void)ctx;
	return "/usr/share/mimamori";
}

START_TEST(data_path_resolves_relative_only)
{
	struct mm_host_api api;
	struct mm_ctx ctx;
	char out[64], tiny[8];

	memset(&api, 0, sizeof(api));
	api.data_dir = fixed_data_dir;
	ctx.api = &api;
	ctx.data = NULL;
	ck_assert_int_eq(mm_data_path(&ctx, out, sizeof(out), "ips/rules/a.rules"), MM_OK);
	ck_assert_str_eq(out, "/usr/share/mimamori/ips/rules/a.rules");
	ck_assert_int_eq(mm_data_path(&ctx, out, sizeof(out), "/etc/x.rules"), MM_OK);
	ck_assert_str_eq(out, "/etc/x.rules");
	ck_assert_int_eq(mm_data_path(&ctx, out, sizeof(out), ""), MM_OK);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(mm_data_path(&ctx, tiny, sizeof(tiny), "demo/x.pcap"), MM_ERR_TOOBIG);
	ck_assert_uint_eq(strlen(tiny), sizeof(tiny) - 1);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("abi");

	tcase_add_test(tc, refuses_wrong_abi_major);
	tcase_add_test(tc, refuses_too_small_descriptor);
	tcase_add_test(tc, refuses_missing_entry);
	tcase_add_test(tc, loads_good_plugin_and_describes_it);
	tcase_add_test(tc, probe_encoding_round_trip_and_damage);
	tcase_add_test(tc, scan_in_child_matches_in_process);
	tcase_add_test(tc, data_path_resolves_relative_only);
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
