/*
 * The attach plugin end to end through the host binary: `mimamori
 * scan-mail` on corpus mails and on mails built here (an Office sample
 * with macros, EICAR in a ZIP), checking exit codes and the JSON fields of
 * the events (parsed with tests/plugins/attach/evq.py); a Maildir watched
 * by `mimamori run --inproc` receiving a mail during the run; SIGHUP
 * reloading the rules, keeping the old ones when a file does not compile;
 * and `mimamori replay` over Chris Sanders' SMTP captures, where the
 * sniffed mails and the attachment name must come out.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach_test_util.h"
#include "support.h"

static char *
eicar(void)
{
	static char buf[80];
	snprintf(buf, sizeof(buf), "%s%s%s", "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
	         "EICAR-STANDARD-ANTIVIRUS", "-TEST-FILE!$H+H*");
	return buf;
}

static void
sha256_hex(char out[65], const void *d, size_t n)
{
	unsigned char md[32];
	unsigned int l = 0;
	EVP_Digest(d, n, md, &l, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static uint8_t *
make_zip(size_t *len, const char *member, const void *data, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t cap = n + 65536, used = 0;
	uint8_t *buf = malloc(cap);
	ck_assert_int_eq(archive_write_set_format_zip(a), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	archive_entry_set_pathname(e, member);
	archive_entry_set_size(e, (la_int64_t)n);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_data(a, data, n), (la_ssize_t)n);
	archive_write_close(a);
	archive_write_free(a);
	archive_entry_free(e);
	*len = used;
	return buf;
}

static void
write_file(const char *path, const void *d, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "%s", path);
	ck_assert_uint_eq(fwrite(d, 1, n, f), n);
	fclose(f);
}

/* Runs scan-mail (extra options first) and returns the evq.py view of its
 * events with the given fields; *rc is scan-mail's exit status. */
static char *
scan_mail(const char *extra, const char *file, const char *fields, int *rc)
{
	char cmd[8192], *out, *err, *view, *err2;
	FILE *f;
	char tmp[] = "/tmp/mm-attach-e2e-XXXXXX";
	int fd = mkstemp(tmp);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s -c %s/config-min scan-mail --module attach %s %s",
	         mmt_env("MIMAMORI"), mmt_env("MM_TEST_DATA"), extra ? extra : "", file);
	*rc = mmt_run(cmd, &out, &err);
	f = fopen(tmp, "w");
	fputs(out, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 %s/tests/plugins/attach/evq.py %s < %s",
	         mmt_env("MM_SOURCE_DIR"), fields, tmp);
	ck_assert_msg(mmt_run(cmd, &view, &err2) == 0, "not JSON lines: %s\n%s", out, err2);
	unlink(tmp);
	free(out);
	free(err);
	free(err2);
	return view;
}

START_TEST(scan_mail_corpus_eicar_zip)
{
	/* rspamd's broken_richtext.eml carries eicar.zip holding eicar.com. */
	char file[4096], *v;
	int rc;
	snprintf(file, sizeof(file), "%s/mail-rspamd/broken_richtext.eml", mmt_env("MM_TEST_DATA"));
	v = scan_mail(NULL, file,
	              "ocsf kind rule.name mail.mid mail.from mail.to mail.subj file.name "
	              "file.sha256 file.path msg msg_ja",
	              &rc);
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(strstr(v, "2004\talert\tmm_eicar_test_file\tXXX@yyy\tuser@example.com\t"
	                        "user@example.com\tHi\teicar.com\t") != NULL,
	              "%s", v);
	ck_assert_msg(strstr(v, "\teicar.zip>eicar.com\t") != NULL, "%s", v);
	/* The EICAR file's well-known SHA-256. */
	{
		char sha[65];
		sha256_hex(sha, eicar(), strlen(eicar()));
		ck_assert_msg(strstr(v, sha) != NULL, "%s", v);
	}
	/* One Email Activity event closes the mail; every line has both
	 * sentences. */
	ck_assert_uint_eq(mmt_count(v, "4009\talert\t-\tXXX@yyy"), 1);
	ck_assert_msg(strstr(v, "\t-\t-\n") == NULL && strstr(v, "\t-\n") == NULL, "%s", v);
	free(v);
}
END_TEST

START_TEST(scan_mail_corpus_clean)
{
	char file[4096], *v;
	int rc;
	snprintf(file, sizeof(file), "%s/mail-rspamd/alternative-nested-rfc822.eml",
	         mmt_env("MM_TEST_DATA"));
	v = scan_mail(NULL, file, "ocsf", &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(v, ""); /* a clean mail: no event */
	free(v);
	v = scan_mail("--set attach.scan_record=true", file,
	              "ocsf kind sev action mail.from mail.subj msg_id", &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(v, "4009\tstat\t1\tallowed\ttest@test.com\t"
	                    "multipart/alternative with nested rfc822\tattach.clean\n");
	free(v);
	/* An unreadable file is an error. */
	v = scan_mail(NULL, "/nonexistent/mail.eml", "ocsf", &rc);
	ck_assert_int_eq(rc, 2);
	free(v);
}
END_TEST

START_TEST(scan_mail_built_macro_and_eicar)
{
	char *dir = mmt_tmpdir("attach-e2e"), path[4096], sample[4096], *v, sha[65];
	size_t n, ml, zl;
	uint8_t *doc, *zip;
	char *mail;
	int rc;

	/* The oletools Excel 4 / VBA sample, attached as an invoice. */
	snprintf(sample, sizeof(sample),
	         "%s/oletools-office-samples/excel4-macros_excel4_sample_macro.xlsm",
	         mmt_env("MM_TEST_DATA"));
	doc = tu_read(sample, &n);
	ck_assert_ptr_nonnull(doc);
	sha256_hex(sha, doc, n);
	mail = tu_mail(&ml, "=?UTF-8?B?6KuL5rGC5pu4?=", "Supplier <billing@supplier.example.jp>",
	               "Please see the attached invoice.", "invoice.xlsm",
	               "application/vnd.ms-excel.sheet.macroEnabled.12", doc, n);
	snprintf(path, sizeof(path), "%s/macro.eml", dir);
	write_file(path, mail, ml);
	v = scan_mail(NULL, path, "ocsf attrs.finding file.name file.sha256 mail.subj mail.from",
	              &rc);
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(strstr(v, "2004\tmacro\tinvoice.xlsm\t") != NULL, "%s", v);
	ck_assert_msg(strstr(v, sha) != NULL, "%s", v);
	/* The RFC 2047 subject decoded: 請求書 is also a lure word. */
	ck_assert_msg(strstr(v, "\t請求書\tbilling@supplier.example.jp") != NULL, "%s", v);
	ck_assert_msg(strstr(v, "2004\tlure\t") != NULL, "%s", v);
	free(v);
	free(mail);
	free(doc);

	zip = make_zip(&zl, "readme.com", eicar(), strlen(eicar()));
	mail = tu_mail(&ml, "documents", "a@example.jp", "see attachment", "docs.zip",
	               "application/zip", zip, zl);
	snprintf(path, sizeof(path), "%s/eicar.eml", dir);
	write_file(path, mail, ml);
	v = scan_mail(NULL, path, "rule.name file.name file.path file.size", &rc);
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(strstr(v, "mm_eicar_test_file\treadme.com\tdocs.zip>readme.com\t68\n") !=
	                      NULL,
	              "%s", v);
	free(v);
	free(mail);
	free(zip);
	mmt_rmrf(dir);
	free(dir);
}
END_TEST

/* A configuration directory for `run --inproc` with the attach module
 * watching dir/Maildir and loading its strict rules from dir/rules. */
static void
write_conf(const char *dir)
{
	char conf[4096], body[8192];
	snprintf(conf, sizeof(conf), "%s/conf", dir);
	mkdir(conf, 0755);
	snprintf(body, sizeof(body),
	         "sensor = { id = \"e2e\"; role = \"pc\"; };\n"
	         "host = { state_dir = \"%s/state\"; run_dir = \"%s/run\"; };\n"
	         "aggregator = { enabled = false; };\n"
	         "modules = { attach = { enabled = true; rules = [ \"%s/rules\" ];\n"
	         "  watch_dir = \"%s/Maildir\"; sniff = \"off\"; }; };\n",
	         dir, dir, dir, dir);
	mmt_write(conf, "00-test.conf", body);
}

static void
maildir_init(const char *dir)
{
	char p[4096];
	const char *sub[] = {"Maildir", "Maildir/new", "Maildir/cur", "Maildir/tmp", "rules"};
	for (size_t i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, sub[i]);
		ck_assert_int_eq(mkdir(p, 0755), 0);
	}
}

/* Delivers like an MDA: write into tmp/, rename into new/. */
static void
deliver(const char *dir, const char *name, const char *mail, size_t len)
{
	char t[4096], n[4096];
	snprintf(t, sizeof(t), "%s/Maildir/tmp/%s", dir, name);
	snprintf(n, sizeof(n), "%s/Maildir/new/%s", dir, name);
	write_file(t, mail, len);
	ck_assert_int_eq(rename(t, n), 0);
}

static void
copy_rules(const char *dir)
{
	char cmd[8192], *o, *e;
	snprintf(cmd, sizeof(cmd), "cp %s/data/attach/rules/*.yar %s/rules/",
	         mmt_env("MM_SOURCE_DIR"), dir);
	ck_assert_int_eq(mmt_run(cmd, &o, &e), 0);
	free(o);
	free(e);
}

static pid_t
start_inproc(const char *dir, const char *secs, char *out, char *err, size_t n)
{
	char conf[4096];
	pid_t pid;
	snprintf(conf, sizeof(conf), "%s/conf", dir);
	snprintf(out, n, "%s/out.jsonl", dir);
	snprintf(err, n, "%s/err.log", dir);
	{
		char *argv[] = {(char *)mmt_env("MIMAMORI"),
		                "-c",
		                conf,
		                "run",
		                "--inproc",
		                "--for",
		                (char *)secs,
		                NULL};
		pid = mmt_spawn(argv, out, err);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_msg(mmt_wait_for(err, "watching", 1, 20000) == 0, "%s", mmt_read(err));
	return pid;
}

START_TEST(maildir_inotify_inproc)
{
	char *dir = mmt_tmpdir("attach-maildir"), out[4096], err[4096];
	size_t zl, ml;
	uint8_t *zip;
	char *mail, *text;
	pid_t pid;

	maildir_init(dir);
	copy_rules(dir);
	write_conf(dir);
	pid = start_inproc(dir, "8", out, err, sizeof(out));
	zip = make_zip(&zl, "invoice.pdf.exe", eicar(), strlen(eicar()));
	mail = tu_mail(&ml, "Maildir test", "x@example.jp", "hello", "files.zip", "application/zip",
	               zip, zl);
	deliver(dir, "1700000000.M1P1.host", mail, ml);
	ck_assert_msg(mmt_wait_for(out, "mm_eicar_test_file", 1, 10000) == 0, "%s\n%s",
	              mmt_read(out), mmt_read(err));
	ck_assert_int_eq(mmt_wait(pid, 20000), 0);
	text = mmt_read(out);
	ck_assert_msg(strstr(text, "\"source\":\"maildir\"") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "\"path\":\"files.zip>invoice.pdf.exe\"") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "mm_double_extension") != NULL, "%s", text);
	free(text);
	free(mail);
	free(zip);
	mmt_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(sighup_reload_keeps_old_rules)
{
	char *dir = mmt_tmpdir("attach-hup"), out[4096], err[4096], bad[4096];
	size_t zl, ml, ml2;
	uint8_t *zip;
	char *mail, *mail2, *text;
	const char *marker_rule =
	        "rule mm_test_reload_marker { strings: $a = \"MIMAMORI-RELOAD-MARKER\" "
	        "condition: $a }\n";
	pid_t pid;

	maildir_init(dir);
	copy_rules(dir);
	write_conf(dir);
	pid = start_inproc(dir, "30", out, err, sizeof(out));
	zip = make_zip(&zl, "a.com", eicar(), strlen(eicar()));
	mail = tu_mail(&ml, "one", "x@example.jp", "hello", "a.zip", "application/zip", zip, zl);
	mail2 = tu_mail(&ml2, "marker", "x@example.jp", "hello", "note.txt", "text/plain",
	                (const uint8_t *)"MIMAMORI-RELOAD-MARKER", 22);

	/* A file with a syntax error on line 2: the reload fails, naming it. */
	snprintf(bad, sizeof(bad), "%s/rules/zz_bad.yar", dir);
	write_file(bad, "rule ok_one { condition: true }\nrule broken { condition: ( }\n", 60);
	kill(pid, SIGHUP);
	ck_assert_msg(mmt_wait_for(err, "reload failed", 1, 10000) == 0, "%s", mmt_read(err));
	text = mmt_read(err);
	ck_assert_msg(strstr(text, "zz_bad.yar:2:") != NULL, "%s", text);
	free(text);
	/* The previous rules still run. */
	deliver(dir, "m1", mail, ml);
	ck_assert_msg(mmt_wait_for(out, "mm_eicar_test_file", 1, 10000) == 0, "%s", mmt_read(err));

	/* Fixed: the new rule is active after the next SIGHUP. */
	write_file(bad, marker_rule, strlen(marker_rule));
	kill(pid, SIGHUP);
	ck_assert_msg(mmt_wait_for(err, "rules from 3 files", 1, 10000) == 0, "%s", mmt_read(err));
	deliver(dir, "m2", mail2, ml2);
	ck_assert_msg(mmt_wait_for(out, "mm_test_reload_marker", 1, 10000) == 0, "%s\n%s",
	              mmt_read(out), mmt_read(err));
	kill(pid, SIGTERM);
	ck_assert_int_eq(mmt_wait(pid, 20000), 0);
	free(mail);
	free(mail2);
	free(zip);
	mmt_rmrf(dir);
	free(dir);
}
END_TEST

static char *
replay(const char *pcap, const char *fields, int *rc)
{
	char cmd[8192], *out, *err, *view, *err2, tmp[] = "/tmp/mm-attach-replay-XXXXXX";
	FILE *f;
	int fd = mkstemp(tmp);
	close(fd);
	snprintf(cmd, sizeof(cmd),
	         "%s -c %s/config-min replay --pcap %s/chrissanders-packets/%s --module attach "
	         "--set attach.scan_record=true",
	         mmt_env("MIMAMORI"), mmt_env("MM_TEST_DATA"), mmt_env("MM_TEST_DATA"), pcap);
	*rc = mmt_run(cmd, &out, &err);
	f = fopen(tmp, "w");
	fputs(out, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 %s/tests/plugins/attach/evq.py %s < %s",
	         mmt_env("MM_SOURCE_DIR"), fields, tmp);
	ck_assert_msg(mmt_run(cmd, &view, &err2) == 0, "%s\n%s", out, err2);
	unlink(tmp);
	free(out);
	free(err);
	free(err2);
	return view;
}

START_TEST(replay_smtp_attachment)
{
	int rc;
	char *v = replay("mail_sender_attachment.pcapng",
	                 "plugin.name ocsf src.ip dst.port app mail.from mail.to mail.subj "
	                 "attrs.attachments attrs.parts attrs.modules.attach.sniff.tso_frames",
	                 &rc);
	ck_assert_int_eq(rc, 0);
	/* The JPEG attached to "New Coworker", sent over port 25; its large
	 * segments were captured with TSO (IPv4 length 0). */
	ck_assert_msg(strstr(v, "attach\t4009\t172.16.16.225\t25\tsmtp\tsanders@skynet.local\t"
	                        "ppa@skynet.local\tNew Coworker\tnewguy.jpg\t2\t-\n") != NULL,
	              "%s", v);
	ck_assert_msg(strstr(v, "mimamori\t-\t-\t-\t-\t-\t-\t-\t-\t-\t19\n") != NULL, "%s", v);
	free(v);
	/* Two sessions (one per MTA hop) with the same mail. */
	v = replay("mail_sender_server_2.pcapng", "plugin.name mail.subj dst.ip", &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(mmt_count(v, "attach\tHelp!\t"), 2);
	free(v);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("attach_e2e");
	TCase *tc = tcase_create("host");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, scan_mail_corpus_eicar_zip);
	tcase_add_test(tc, scan_mail_corpus_clean);
	tcase_add_test(tc, scan_mail_built_macro_and_eicar);
	tcase_add_test(tc, maildir_inotify_inproc);
	tcase_add_test(tc, sighup_reload_keeps_old_rules);
	tcase_add_test(tc, replay_smtp_attachment);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
