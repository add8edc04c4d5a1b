/*
 * Tests of the attach plugin's SMTP/POP3 session parser (smtp.c): DATA with
 * dot-unstuffing and pipelined commands, BDAT chunks, POP3 RETR among other
 * multi-line answers, STARTTLS/STLS noted and parsing stopped, the size
 * bound, gaps, a capture ending inside a message, and the same result
 * whatever the segmentation (fed one byte at a time).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimamori/error.h>

#include "attach_core.h"

struct got {
	char msgs[4][4096];
	size_t lens[4];
	int truncated[4];
	char envfrom[4][128];
	size_t nrcpts[4];
	int n;
	char notes[256];
};

static void
on_msg(void *user, const struct mm_smtp_info *info, const uint8_t *eml, size_t len)
{
	struct got *g = user;
	if (g->n >= 4)
		return;
	memcpy(g->msgs[g->n], eml, len < 4095 ? len : 4095);
	g->lens[g->n] = len;
	g->truncated[g->n] = info->truncated;
	snprintf(g->envfrom[g->n], 128, "%s", info->envfrom ? info->envfrom : "");
	g->nrcpts[g->n] = info->nrcpts;
	g->n++;
}

static void
on_note(void *user, int proto, const char *what)
{
	struct got *g = user;
	(void)proto;
	strncat(g->notes, what, sizeof(g->notes) - strlen(g->notes) - 2);
	strcat(g->notes, ";");
}

/* Feeds a script of (dir, text) steps, whole or one byte at a time. */
struct step {
	int dir;
	const char *text;
};

static struct mm_smtp *
run(struct got *g, int proto, size_t max, const struct step *st, int bytewise)
{
	struct mm_smtp *s;
	memset(g, 0, sizeof(*g));
	ck_assert_int_eq(mm_smtp_new(&s, proto, max, on_msg, on_note, g), MM_OK);
	for (; st->text; st++) {
		size_t n = strlen(st->text);
		if (!bytewise)
			mm_smtp_data(s, st->dir, (const uint8_t *)st->text, n);
		else
			for (size_t i = 0; i < n; i++)
				mm_smtp_data(s, st->dir, (const uint8_t *)st->text + i, 1);
	}
	return s;
}

#define C MM_SMTP_CLIENT
#define S MM_SMTP_SERVER

static const struct step smtp_session[] = {
        {S, "220 mx ESMTP\r\n"},
        {C, "EHLO c\r\n"},
        {S, "250-mx\r\n250 PIPELINING\r\n"},
        {C,
         "MAIL FROM:<a@x.test> SIZE=100\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\n"},
        {S, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"},
        {C, "Subject: one\r\n\r\n..leading dot\r\n...two\r\n.\r\n"},
        {S, "250 queued\r\n"},
        {C, "MAIL FROM:<d@x.test>\r\nRCPT TO:<e@y.test>\r\nDATA\r\n"},
        {C, "Subject: two\r\n\r\nbody\r\n.\r\nQUIT\r\n"},
        {0, NULL}};

START_TEST(smtp_data_unstuffed)
{
	struct got g;
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct mm_smtp *s = run(&g, MM_SMTP_PROTO_SMTP, 0, smtp_session, bytewise);
		ck_assert_int_eq(g.n, 2);
		ck_assert_str_eq(g.msgs[0], "Subject: one\r\n\r\n.leading dot\r\n..two\r\n");
		ck_assert_str_eq(g.envfrom[0], "a@x.test");
		ck_assert_uint_eq(g.nrcpts[0], 2);
		ck_assert_int_eq(g.truncated[0], 0);
		ck_assert_str_eq(g.msgs[1], "Subject: two\r\n\r\nbody\r\n");
		ck_assert_str_eq(g.envfrom[1], "d@x.test");
		ck_assert_uint_eq(g.nrcpts[1], 1);
		ck_assert_uint_eq(mm_smtp_messages(s), 2);
		mm_smtp_free(s);
		ck_assert_int_eq(g.n, 2); /* nothing pending at the end */
	}
}
END_TEST

START_TEST(smtp_bdat)
{
	static const struct step st[] = {{C, "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT "
	                                     "20\r\nSubject: x\r\n\r\nbody\r\n"},
	                                 {C, "BDAT 7 LAST\r\n.more\r\n"},
	                                 {C, "QUIT\r\n"},
	                                 {0, NULL}};
	struct got g;
	struct mm_smtp *s = run(&g, MM_SMTP_PROTO_SMTP, 0, st, 1);
	ck_assert_int_eq(g.n, 1);
	/* BDAT carries the message as it is: no dot-unstuffing. */
	ck_assert_str_eq(g.msgs[0], "Subject: x\r\n\r\nbody\r\n.more\r\n");
	mm_smtp_free(s);
}
END_TEST

START_TEST(smtp_starttls_noted)
{
	static const struct step st[] = {{S, "220 mx\r\n"},
	                                 {C, "EHLO c\r\nSTARTTLS\r\n"},
	                                 {S, "220 2.0.0 Ready to start TLS\r\n"},
	                                 {C, "\x16\x03\x01 random bytes\r\nDATA\r\n"},
	                                 {C, "Subject: hidden\r\n\r\n.\r\n"},
	                                 {0, NULL}};
	static const struct step refused[] = {
	        {C, "STARTTLS\r\n"},
	        {S, "454 TLS not available\r\n"},
	        {C, "MAIL FROM:<a@b>\r\nDATA\r\nSubject: s\r\n\r\n.\r\n"},
	        {0, NULL}};
	struct got g;
	struct mm_smtp *s = run(&g, MM_SMTP_PROTO_SMTP, 0, st, 0);
	ck_assert_int_eq(g.n, 0);
	ck_assert_str_eq(g.notes, "starttls;");
	ck_assert_int_eq(mm_smtp_tls(s), 1);
	mm_smtp_free(s);
	/* A refused STARTTLS leaves the session in clear text. */
	s = run(&g, MM_SMTP_PROTO_SMTP, 0, refused, 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.notes, "");
	mm_smtp_free(s);
}
END_TEST

START_TEST(smtp_limits_gap_and_cut)
{
	static const struct step big[] = {
	        {C, "MAIL FROM:<a@b>\r\nDATA\r\nSubject: "
	            "big\r\n\r\n0123456789012345678901234567890123456789\r\n.\r\n"},
	        {C, "MAIL FROM:<a@b>\r\nDATA\r\nSubject: small\r\n\r\n.\r\n"},
	        {0, NULL}};
	static const struct step cut[] = {
	        {C, "MAIL FROM:<a@b>\r\nDATA\r\nSubject: cut\r\n\r\npart"}, {0, NULL}};
	struct got g;
	struct mm_smtp *s = run(&g, MM_SMTP_PROTO_SMTP, 32, big, 0);
	/* The big one is cut at 32 bytes, flagged, and the session stays in
	 * step for the next message. */
	ck_assert_int_eq(g.n, 2);
	ck_assert_uint_le(g.lens[0], 32);
	ck_assert_int_eq(g.truncated[0], 1);
	ck_assert_str_eq(g.msgs[1], "Subject: small\r\n\r\n");
	ck_assert_int_eq(g.truncated[1], 0);
	mm_smtp_free(s);
	/* A capture that ends inside DATA delivers what it has at free. */
	s = run(&g, MM_SMTP_PROTO_SMTP, 0, cut, 0);
	ck_assert_int_eq(g.n, 0);
	mm_smtp_free(s);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.msgs[0], "Subject: cut\r\n\r\npart");
	ck_assert_int_eq(g.truncated[0], 1);
	/* A gap inside DATA: delivered as it is, then the session is given up. */
	s = run(&g, MM_SMTP_PROTO_SMTP, 0, cut, 0);
	mm_smtp_gap(s, MM_SMTP_CLIENT, 100);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.truncated[0], 1);
	ck_assert_str_eq(g.notes, "gap;");
	mm_smtp_data(s, MM_SMTP_CLIENT, (const uint8_t *)"DATA\r\nx\r\n.\r\n", 12);
	mm_smtp_free(s);
	ck_assert_int_eq(g.n, 1);
}
END_TEST

START_TEST(pop3_retr)
{
	static const struct step st[] = {
	        {S, "+OK POP3 ready\r\n"},
	        {C, "USER u\r\n"},
	        {S, "+OK\r\n"},
	        {C, "PASS p\r\n"},
	        {S, "+OK\r\n"},
	        {C, "LIST\r\n"},
	        {S, "+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"},
	        {C, "RETR 9\r\n"},
	        {S, "-ERR no such message\r\n"},
	        {C, "RETR 1\r\n"},
	        {S, "+OK 120 octets\r\nSubject: pop\r\n\r\n..stuffed\r\nbody\r\n.\r\n"},
	        {C, "UIDL\r\nTOP 2 0\r\n"},
	        {S, "+OK\r\n1 abc\r\n.\r\n+OK\r\nSubject: top\r\n\r\n.\r\n"},
	        {C, "STLS\r\n"},
	        {S, "+OK begin TLS\r\n"},
	        {C, "RETR 2\r\n"},
	        {S, "+OK\r\nSubject: encrypted\r\n\r\n.\r\n"},
	        {0, NULL}};
	struct got g;
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct mm_smtp *s = run(&g, MM_SMTP_PROTO_POP3, 0, st, bytewise);
		ck_assert_int_eq(g.n, 2);
		ck_assert_str_eq(g.msgs[0], "Subject: pop\r\n\r\n.stuffed\r\nbody\r\n");
		ck_assert_str_eq(g.msgs[1], "Subject: top\r\n\r\n");
		ck_assert_str_eq(g.notes, "stls;");
		mm_smtp_free(s);
	}
}
END_TEST

int
main(void)
{
	Suite *su = suite_create("attach_smtp");
	TCase *tc = tcase_create("smtp");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, smtp_data_unstuffed);
	tcase_add_test(tc, smtp_bdat);
	tcase_add_test(tc, smtp_starttls_noted);
	tcase_add_test(tc, smtp_limits_gap_and_cut);
	tcase_add_test(tc, pop3_retr);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
