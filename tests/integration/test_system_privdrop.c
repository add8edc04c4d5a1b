/*
 * System test: workers drop privileges to host.user = "nobody" after they
 * connected; the aggregator (still root) is SIGKILLed twice and restarted
 * by the supervisor, and the workers, now unprivileged, must reconnect to
 * its new ipc socket and deliver every event. Needs root (skipped
 * otherwise) and a "nobody" account.
 */
#include <check.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"
#include "test_system_lib.h"

static uid_t
uid_of(pid_t pid)
{
	char path[64], *s, *p;
	uid_t uid = (uid_t)-1;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	s = mmt_read(path);
	p = strstr(s, "\nUid:");
	if (p != NULL)
		uid = (uid_t)strtoul(p + 5, NULL, 10);
	free(s);
	return uid;
}

START_TEST(unprivileged_workers_reconnect_after_aggregator_restart)
{
	struct sys_env e;
	struct sys_counts c;
	struct passwd *pw = getpwnam("nobody");
	char *sink, sock[4300];
	struct stat st;
	pid_t agg = 0, w;
	long n;
	int k;

	if (geteuid() != 0 || pw == NULL) {
		fprintf(stderr, "skipped: needs root and a 'nobody' account\n");
		return;
	}
	sys_init(&e, "sys-priv", "user = \"nobody\";", "sinks = { file = { path = \"OUT\"; }; };",
	         "counter_a = { enabled = true; count = 4000; rate_per_sec = 500; };\n"
	         "counter_b = { enabled = true; count = 4000; rate_per_sec = 500; label = "
	         "\"b\"; };");
	sys_start(&e);
	w = sys_wait_running(&e, "counter_a", 0, 30000);
	ck_assert_int_gt(w, 0);
	ck_assert_int_gt(sys_wait_module(&e, "counter_a", "transport.acked", 1, 30000), 0);
	ck_assert_uint_eq(uid_of(w), pw->pw_uid);
	for (k = 0; k < 2; k++) {
		agg = sys_wait_running(&e, "aggregator", agg, 30000);
		ck_assert_int_gt(agg, 0);
		mmt_sleep_ms(700);
		ck_assert_int_eq(kill(agg, SIGKILL), 0);
	}
	agg = sys_wait_running(&e, "aggregator", agg, 30000);
	ck_assert_int_gt(agg, 0);
	/* The new socket belongs to the service user's group. */
	snprintf(sock, sizeof(sock), "%s/events.sock", e.run);
	for (k = 0; k < 50 && stat(sock, &st) != 0; k++)
		mmt_sleep_ms(100);
	ck_assert_int_eq(stat(sock, &st), 0);
	ck_assert_uint_eq(st.st_gid, pw->pw_gid);
	ck_assert((st.st_mode & 0060) == 0060);
	ck_assert_int_eq(sys_wait_module(&e, "counter_a", "transport.acked", 4000, 60000), 4000);
	ck_assert_int_eq(sys_wait_module(&e, "counter_b", "transport.acked", 4000, 60000), 4000);
	ck_assert_int_eq(sys_module_num(&e, "counter_a", "restarts"), 0);
	ck_assert_int_eq(sys_module_num(&e, "counter_b", "restarts"), 0);
	for (k = 0; k < 100 && sys_agg_num(&e, "sinks.file.pending") != 0; k++)
		mmt_sleep_ms(100);
	ck_assert_int_eq(sys_stop(&e), 0);
	sink = sys_read_sink(&e);
	sys_count_sink(&c, sink, 4000, NULL, NULL);
	for (n = 1; n <= 4000; n++) {
		ck_assert_uint_eq(c.a[n], 1);
		ck_assert_uint_eq(c.b[n], 1);
	}
	sys_counts_free(&c);
	free(sink);
	sys_cleanup(&e);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("system_privdrop");
	TCase *tc = tcase_create("privdrop");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, unprivileged_workers_reconnect_after_aggregator_restart);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
