/*
 * Tests of the attach plugin's MIME layer over every .eml of the copied
 * corpora (tests/data/mail-*): each parses, and the attachment names and
 * counts match what PROVENANCE.md documents for the file (the list
 * Python's email package gives). Names that the provenance tool itself
 * mangled (U+FFFD replacement characters, undecoded =?...?= words cut short)
 * are compared by count only. Also RFC 2047/2231 Japanese names and
 * uuencode built in the test.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimamori/error.h>

#include "attach_core.h"
#include "attach_test_util.h"

#define MAX_EXPECT 16

struct expect {
	char path[512];
	int nnames;
	char names[MAX_EXPECT][256];
	int checked[MAX_EXPECT];
};

/* Parses the python list after "attachments: " in a provenance row. */
static int
parse_row(struct expect *e, const char *line)
{
	const char *p = strstr(line, "attachments: ");
	const char *lp = line + 2;
	const char *bar = strchr(lp, '|');
	memset(e, 0, sizeof(*e));
	if (p == NULL || bar == NULL || strncmp(lp, "mail-", 5) != 0)
		return 0;
	snprintf(e->path, sizeof(e->path), "%.*s", (int)(bar - lp - 1), lp);
	p += 13;
	if (strncmp(p, "none", 4) == 0)
		return 1;
	if (*p != '[')
		return 0;
	p++;
	while (*p && *p != ']' && e->nnames < MAX_EXPECT) {
		char q;
		size_t o = 0;
		while (*p == ' ' || *p == ',')
			p++;
		q = *p;
		if (q != '\'' && q != '"')
			break;
		p++;
		while (*p && *p != q && o + 1 < sizeof(e->names[0])) {
			if (*p == '\\' && p[1])
				p++;
			e->names[e->nnames][o++] = *p++;
		}
		e->names[e->nnames][o] = 0;
		/* Compare the text only where the provenance kept it intact. */
		e->checked[e->nnames] = strstr(e->names[e->nnames], "\xef\xbf\xbd") == NULL &&
		                        strncmp(e->names[e->nnames], "=?", 2) != 0;
		e->nnames++;
		if (*p == q)
			p++;
	}
	return 1;
}

START_TEST(corpus_every_eml)
{
	static const char *dirs[] = {"mail-mailparser", "mail-mikel", "mail-rspamd"};
	const char *data = tu_env("MM_TEST_DATA", "tests/data");
	int files = 0, names_checked = 0;

	for (int d = 0; d < 3; d++) {
		char prov[1024];
		FILE *f;
		char line[4096];
		snprintf(prov, sizeof(prov), "%s/%s/PROVENANCE.md", data, dirs[d]);
		f = fopen(prov, "r");
		ck_assert_msg(f != NULL, "missing %s", prov);
		while (fgets(line, sizeof(line), f)) {
			struct expect e;
			char path[1024];
			uint8_t *buf;
			size_t len;
			struct mm_mime_mail *m = NULL;
			if (!parse_row(&e, line) || strstr(e.path, ".eml") == NULL)
				continue;
			snprintf(path, sizeof(path), "%s/%s", data, e.path);
			buf = tu_read(path, &len);
			ck_assert_msg(buf != NULL, "cannot read %s", path);
			ck_assert_int_eq(mm_mime_parse(&m, buf, len), MM_OK);
			ck_assert_ptr_nonnull(m);
			ck_assert_msg((int)m->nnames == e.nnames,
			              "%s: %zu names, provenance says %d", e.path, m->nnames,
			              e.nnames);
			for (int i = 0; i < e.nnames; i++) {
				if (!e.checked[i])
					continue;
				/* The provenance tool cut names at 40 bytes. */
				ck_assert_msg(strlen(e.names[i]) >= 40
				                      ? strncmp(m->names[i], e.names[i], 40) == 0
				                      : strcmp(m->names[i], e.names[i]) == 0,
				              "%s: name %d is '%s', provenance says '%s'", e.path,
				              i, m->names[i], e.names[i]);
				names_checked++;
			}
			/* Every name is also a part the scanner sees (a mail without
			 * any body, like empty_in_reply_to.eml, has no parts). */
			ck_assert_msg(m->nparts + 1 >= m->nnames, "%s: %zu parts for %zu names",
			              e.path, m->nparts, m->nnames);
			mm_mime_free(m);
			free(buf);
			files++;
		}
		fclose(f);
	}
	ck_assert_int_eq(files, 72);
	ck_assert_int_ge(names_checked, 30);
}
END_TEST

static struct mm_mime_mail *
parse_str(const char *s)
{
	struct mm_mime_mail *m = NULL;
	ck_assert_int_eq(mm_mime_parse(&m, s, strlen(s)), MM_OK);
	return m;
}

START_TEST(japanese_names)
{
	/* 請求書.pdf.exe: RFC 2047 in ISO-2022-JP and Shift_JIS, and RFC 2231. */
	const char *mail = "From: =?ISO-2022-JP?B?GyRCQXc/LjxUGyhC?= <a@example.jp>\r\n"
	                   "To: b@example.jp\r\nSubject: =?ISO-2022-JP?B?GyRCQEE1YT1xGyhC?=\r\n"
	                   "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
	                   "--x\r\nContent-Type: application/octet-stream;\r\n"
	                   " name=\"=?ISO-2022-JP?B?GyRCQEE1YT1xGyhCLnBkZi5leGU=?=\"\r\n"
	                   "Content-Transfer-Encoding: base64\r\n\r\nTVo=\r\n"
	                   "--x\r\nContent-Type: application/octet-stream\r\n"
	                   "Content-Disposition: attachment;\r\n"
	                   " filename*=ISO-2022-JP''%1B%24B%40A5a%3Dq%1B%28B.pdf.exe\r\n\r\nx\r\n"
	                   "--x\r\nContent-Type: application/octet-stream;\r\n"
	                   " name=\"=?Shift_JIS?B?kL+LgY+R?=.pdf.exe\"\r\n\r\ny\r\n"
	                   "--x--\r\n";
	struct mm_mime_mail *m = parse_str(mail);
	ck_assert_uint_eq(m->nnames, 3);
	ck_assert_str_eq(m->names[0], "\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8.pdf.exe");
	ck_assert_str_eq(m->names[1], "\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8.pdf.exe");
	ck_assert_str_eq(m->names[2], "\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8.pdf.exe");
	ck_assert_uint_eq(m->parts[0].len, 2);
	ck_assert_int_eq(m->parts[0].data[0], 'M');
	mm_mime_free(m);
}
END_TEST

START_TEST(uuencode_in_text)
{
	/* "begin 644 a.exe" inside a plain text body, as old clients send. */
	const char *mail = "From: a@example.jp\r\nSubject: uu\r\n\r\nhello\r\n"
	                   "begin 644 a.exe\r\n"
	                   "#35H \r\n"
	                   "`\r\nend\r\n";
	struct mm_mime_mail *m = parse_str(mail);
	ck_assert_uint_eq(m->nnames, 1);
	ck_assert_str_eq(m->names[0], "a.exe");
	ck_assert_uint_eq(m->nparts, 2);
	ck_assert_uint_eq(m->parts[0].len, 3);
	ck_assert_int_eq(m->parts[0].data[0], 'M');
	ck_assert_int_eq(m->parts[0].data[1], 'Z');
	mm_mime_free(m);
}
END_TEST

START_TEST(missing_boundary_not_hidden)
{
	/* The declared boundary never appears: the content must still be a
	 * part that gets scanned, not silently dropped. */
	const char *mail = "From: a@example.jp\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
	                   "Content-Type: multipart/mixed; boundary=nothere\r\n\r\n"
	                   "X5O!P%@AP[4\\PZX54 hidden content\r\n";
	struct mm_mime_mail *m = parse_str(mail);
	int found = 0;
	for (size_t i = 0; i < m->nparts; i++)
		if (memmem(m->parts[i].data, m->parts[i].len, "hidden content", 14) != NULL)
			found = 1;
	ck_assert_int_eq(found, 1);
	ck_assert_uint_ge(m->defects, 1);
	mm_mime_free(m);
}
END_TEST

START_TEST(x_uuencode_transfer_encoding)
{
	/* Content-Transfer-Encoding: x-uuencode (as in mikel's fixture, whose
	 * body was cut): the part decodes to the bytes. */
	const char *mail = "From: a@example.jp\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
	                   "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	                   "Content-Type: application/msword; name=\"x.doc\"\r\n"
	                   "Content-Transfer-Encoding: x-uuencode\r\n\r\n"
	                   "begin 644 x.doc\r\n#35H \r\n`\r\nend\r\n--b--\r\n";
	struct mm_mime_mail *m = parse_str(mail);
	ck_assert_uint_eq(m->nparts, 1);
	ck_assert_str_eq(m->parts[0].name, "x.doc");
	ck_assert_uint_eq(m->parts[0].len, 3);
	ck_assert_int_eq(memcmp(m->parts[0].data, "MZ", 2), 0);
	mm_mime_free(m);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("attach_mime");
	TCase *tc = tcase_create("mime");
	tcase_add_test(tc, corpus_every_eml);
	tcase_add_test(tc, japanese_names);
	tcase_add_test(tc, uuencode_in_text);
	tcase_add_test(tc, missing_boundary_not_hidden);
	tcase_add_test(tc, x_uuencode_transfer_encoding);
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
