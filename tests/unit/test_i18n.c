/*
 * Unit tests for core/i18n.c: loading catalogues (the repository's own and
 * deliberately broken ones), lookups, placeholder filling and setting the
 * message keys of an event.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"
#include "mimamori/error.h"

static char tmpdir[64];

static void
write_file(const char *name, const char *text, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void
make_dir(void)
{
	strcpy(tmpdir, "/tmp/mm_i18n_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *
data_dir(char *buf, size_t size)
{
	const char *src = getenv("MM_SOURCE_DIR");

	ck_assert_ptr_nonnull(src);
	snprintf(buf, size, "%s/data/i18n", src);
	return buf;
}

/* Every catalogue shipped in the repository loads without a problem. */
START_TEST(test_repo_catalogues_clean)
{
	struct mm_i18n *cat = NULL;
	char dir[512];
	size_t i;

	ck_assert_int_eq(mm_i18n_load(&cat, data_dir(dir, sizeof(dir))), MM_OK);
	for (i = 0; i < mm_i18n_problems(cat); i++)
		fprintf(stderr, "%s\n", mm_i18n_problem(cat, i));
	ck_assert_uint_eq(mm_i18n_problems(cat), 0);
	ck_assert_uint_gt(mm_i18n_count(cat), 0);
	mm_i18n_free(cat);
}
END_TEST

START_TEST(test_host_messages)
{
	struct mm_i18n *cat = NULL;
	struct mm_event *ev = mm_event_create(MM_KIND_HEALTH);
	char dir[512];
	const char *en, *ja;

	ck_assert_int_eq(mm_i18n_load(&cat, data_dir(dir, sizeof(dir))), MM_OK);
	en = mm_i18n_get(cat, "host.capture_overload", "en");
	ja = mm_i18n_get(cat, "host.capture_overload", "ja");
	ck_assert_ptr_nonnull(en);
	ck_assert_ptr_nonnull(ja);
	ck_assert_ptr_nonnull(strstr(en, "{iface}"));
	ck_assert_ptr_nonnull(strstr(ja, "{dropped}"));
	ck_assert_int_eq(
	        mm_event_set_msg(ev, cat, "host.capture_overload",
	                         (const char *[]){"iface", "eth0", "dropped", "1520", NULL}),
	        MM_OK);
	ck_assert_str_eq(mm_event_get_str(ev, "msg"),
	                 "The sensor could not keep up with the traffic on eth0 and missed 1520 "
	                 "packets. Some attacks may not have been seen.");
	ck_assert_str_eq(mm_event_get_str(ev, "msg_ja"),
	                 "通信量が多すぎて eth0 のパケットを 1520 個取りこぼしました。"
	                 "一部の攻撃を見逃した可能性があります。");
	ck_assert_str_eq(mm_event_get_str(ev, "msg_id"), "host.capture_overload");
	/* The health messages the host emits exist in both languages, with
	 * the placeholders their callers fill. */
	ck_assert_ptr_nonnull(strstr(mm_i18n_get(cat, "host.capture_summary", "ja"), "{packets}"));
	ck_assert_ptr_nonnull(strstr(mm_i18n_get(cat, "host.module_started", "ja"), "{module}"));
	ck_assert_ptr_nonnull(strstr(mm_i18n_get(cat, "host.forward_failed", "ja"), "{provider}"));
	mm_event_free(ev);
	mm_i18n_free(cat);
}
END_TEST

START_TEST(test_malformed_lines)
{
	static const char a[] = "# comment\n"
	                        "\n"
	                        "ok.one\tHello {name}\tこんにちは {name} さん\n"
	                        "no tabs at all\n"
	                        "two.fields\tonly\n"
	                        "four\ta\tb\tc\n"
	                        "\tempty id\tx\n"
	                        "bad id!\tx\ty\n"
	                        "empty.en\t\tx\n"
	                        "empty.ja\tx\t\n"
	                        "ok.crlf\tCR LF\tシーアールエルエフ\r\n"
	                        "ok.one\tdup\t重複\n"
	                        "bad.utf8\t\xff\tx\n"
	                        "   \t \n"
	                        "ok.last\tno newline\t改行なし";
	static const char b[] = "ok.one\tfrom b\tビー\nok.b\tB\tビー\n";
	struct mm_i18n *cat = NULL;
	char *longline;
	size_t i;
	int found = 0;

	make_dir();
	write_file("a.tsv", a, sizeof(a) - 1);
	write_file("b.tsv", b, sizeof(b) - 1);
	write_file("ignored.txt", b, sizeof(b) - 1);
	longline = malloc(10000);
	memset(longline, 'x', 10000);
	memcpy(longline, "long\tx\t", 7);
	longline[9999] = '\n';
	write_file("c.tsv", longline, 10000);
	free(longline);

	ck_assert_int_eq(mm_i18n_load(&cat, tmpdir), MM_OK);
	ck_assert_uint_eq(mm_i18n_count(cat), 4);
	ck_assert_uint_eq(mm_i18n_problems(cat), 11);
	for (i = 0; i < mm_i18n_problems(cat); i++) {
		const char *p = mm_i18n_problem(cat, i);

		ck_assert_ptr_nonnull(p);
		if (strncmp(p, "a.tsv:4: ", 9) == 0)
			found |= 1;
		if (strstr(p, "b.tsv:1: duplicate id ok.one, first defined at a.tsv:3") != NULL)
			found |= 2;
		if (strncmp(p, "c.tsv:1: line too long", 22) == 0)
			found |= 4;
	}
	ck_assert_int_eq(found, 7);
	ck_assert_ptr_null(mm_i18n_problem(cat, 11));
	/* The first definition wins, within a file and across files. */
	ck_assert_str_eq(mm_i18n_get(cat, "ok.one", "en"), "Hello {name}");
	ck_assert_str_eq(mm_i18n_get(cat, "ok.one", "ja"), "こんにちは {name} さん");
	ck_assert_str_eq(mm_i18n_get(cat, "ok.one", "ja_JP.UTF-8"), "こんにちは {name} さん");
	ck_assert_str_eq(mm_i18n_get(cat, "ok.crlf", "en"), "CR LF");
	ck_assert_str_eq(mm_i18n_get(cat, "ok.crlf", "ja"), "シーアールエルエフ");
	ck_assert_str_eq(mm_i18n_get(cat, "ok.b", "fr"), "B");
	ck_assert_str_eq(mm_i18n_get(cat, "ok.last", "ja"), "改行なし");
	ck_assert_ptr_null(mm_i18n_get(cat, "two.fields", "en"));
	ck_assert_ptr_null(mm_i18n_get(cat, "empty.ja", "en"));
	ck_assert_ptr_null(mm_i18n_get(cat, "nope", "en"));
	ck_assert_ptr_null(mm_i18n_get(NULL, "ok.one", "en"));
	mm_i18n_free(cat);
	remove_dir();
}
END_TEST

START_TEST(test_load_errors)
{
	struct mm_i18n *cat = (struct mm_i18n *)&cat;

	ck_assert_int_eq(mm_i18n_load(&cat, "/nonexistent/i18n"), MM_ERR_NOTFOUND);
	ck_assert_ptr_null(cat);
	make_dir();
	ck_assert_int_eq(mm_i18n_load(&cat, tmpdir), MM_OK);
	ck_assert_uint_eq(mm_i18n_count(cat), 0);
	ck_assert_uint_eq(mm_i18n_problems(cat), 0);
	mm_i18n_free(cat);
	mm_i18n_free(NULL);
	remove_dir();
}
END_TEST

static const char *
fmt(struct mm_buf *b, const char *tmpl, const char *const *args)
{
	mm_buf_reset(b);
	ck_assert_int_eq(mm_i18n_format(b, tmpl, args), MM_OK);
	return mm_buf_cstr(b);
}

START_TEST(test_format)
{
	struct mm_buf b = MM_BUF_INIT;
	const char *const args[] = {"ip", "192.0.2.1", "port", "5228", "x", "{ip}", NULL};

	ck_assert_str_eq(fmt(&b, "{ip}:{port}", args), "192.0.2.1:5228");
	ck_assert_str_eq(fmt(&b, "端末 {ip} が {port}/TCP に接続", args),
	                 "端末 192.0.2.1 が 5228/TCP に接続");
	ck_assert_str_eq(fmt(&b, "missing {host} stays", args), "missing {host} stays");
	ck_assert_str_eq(fmt(&b, "{x} is not expanded twice", args), "{ip} is not expanded twice");
	ck_assert_str_eq(fmt(&b, "{} {ip {ip", args), "{} {ip {ip");
	ck_assert_str_eq(fmt(&b, "{{ip}}", args), "{192.0.2.1}");
	ck_assert_str_eq(fmt(&b, "{ip}", NULL), "{ip}");
	ck_assert_str_eq(fmt(&b, "", args), "");
	/* A list cut short by a NULL value ends there. */
	ck_assert_str_eq(fmt(&b, "{a}{b}", (const char *const[]){"a", "1", "b", NULL}), "1{b}");
	/* Appends to what the buffer holds. */
	mm_buf_reset(&b);
	mm_buf_puts(&b, "> ");
	ck_assert_int_eq(mm_i18n_format(&b, "{port}", args), MM_OK);
	ck_assert_str_eq(mm_buf_cstr(&b), "> 5228");
	ck_assert_int_eq(mm_i18n_format(&b, NULL, args), MM_ERR_INVAL);
	mm_buf_free(&b);
}
END_TEST

START_TEST(test_set_msg_unknown)
{
	static const char a[] = "t.hello\tHello {who}\tこんにちは、{who}さん\n";
	struct mm_i18n *cat = NULL;
	struct mm_event *ev = mm_event_create(MM_KIND_ALERT);

	make_dir();
	write_file("t.tsv", a, sizeof(a) - 1);
	ck_assert_int_eq(mm_i18n_load(&cat, tmpdir), MM_OK);
	ck_assert_int_eq(
	        mm_event_set_msg(ev, cat, "t.hello", (const char *[]){"who", "Sato", NULL}), MM_OK);
	ck_assert_str_eq(mm_event_get_str(ev, "msg"), "Hello Sato");
	ck_assert_str_eq(mm_event_get_str(ev, "msg_ja"), "こんにちは、Satoさん");
	/* An unknown id keeps the id as the message and drops the stale
	 * Japanese text. */
	ck_assert_int_eq(mm_event_set_msg(ev, cat, "t.unknown", NULL), MM_ERR_NOTFOUND);
	ck_assert_str_eq(mm_event_get_str(ev, "msg"), "t.unknown");
	ck_assert_str_eq(mm_event_get_str(ev, "msg_id"), "t.unknown");
	ck_assert_ptr_null(mm_event_get_str(ev, "msg_ja"));
	ck_assert_int_eq(mm_event_set_msg(ev, NULL, "t.hello", NULL), MM_ERR_NOTFOUND);
	ck_assert_str_eq(mm_event_get_str(ev, "msg"), "t.hello");
	mm_event_free(ev);
	mm_i18n_free(cat);
	remove_dir();
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("i18n");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_repo_catalogues_clean);
	tcase_add_test(tc, test_host_messages);
	tcase_add_test(tc, test_malformed_lines);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_set_msg_unknown);
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
