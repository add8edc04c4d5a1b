/*
 * Supervisor tests with real processes: a crashing module is restarted
 * while another module's events all arrive; a hanging module is killed by
 * the watchdog; SIGHUP adds, removes and reconfigures modules and keeps the
 * running configuration when the new one is invalid; SIGTERM stops cleanly.
 * Events print as JSON lines on the supervisor's stdout (aggregator
 * disabled), so these tests need nothing but the binary and test plugins.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

static char *dir;
static char out_path[4200], err_path[4200], plugdir[4200];

static void
setup(void)
{
	char buf[8192];

	dir = mmt_tmpdir("sup");
	snprintf(out_path, sizeof(out_path), "%s/out.jsonl", dir);
	snprintf(err_path, sizeof(err_path), "%s/err.log", dir);
	snprintf(plugdir, sizeof(plugdir), "%s/good", mmt_env("MM_TEST_PLUGIN_DIR"));
	snprintf(buf, sizeof(buf), "mkdir -p %s/conf %s/state %s/run", dir, dir, dir);
	ck_assert_int_eq(system(buf), 0);
	snprintf(buf, sizeof(buf),
	         "sensor = { id = \"test\"; role = \"utm\"; };\n"
	         "host = { state_dir = \"%s/state\"; run_dir = \"%s/run\"; log_level = \"info\"; "
	         "};\n"
	         "aggregator = { enabled = false; };\n",
	         dir, dir);
	{
		char confdir[4200];
		snprintf(confdir, sizeof(confdir), "%s/conf", dir);
		mmt_write(confdir, "00-sensor.conf", buf);
	}
	/* A worker that segfaults must die of the signal, not of ASan's report. */
	setenv("ASAN_OPTIONS", "detect_leaks=1:handle_segv=0:allow_user_segv_handler=1", 1);
}

static void
teardown(void)
{
	if (getenv("MM_KEEP_TMP") == NULL)
		mmt_rmrf(dir);
	free(dir);
}

static void
modules_conf(const char *text)
{
	char confdir[4200];

	snprintf(confdir, sizeof(confdir), "%s/conf", dir);
	mmt_write(confdir, "20-modules.conf", text);
}

static pid_t
start_supervisor(const char *run_for)
{
	char confdir[4200];
	char *argv[12];
	int a = 0;

	snprintf(confdir, sizeof(confdir), "%s/conf", dir);
	argv[a++] = (char *)mmt_env("MIMAMORI");
	argv[a++] = "-c";
	argv[a++] = confdir;
	argv[a++] = "--plugin-dir";
	argv[a++] = plugdir;
	argv[a++] = "run";
	if (run_for) {
		argv[a++] = "--for";
		argv[a++] = (char *)run_for;
	}
	argv[a] = NULL;
	return mmt_spawn(argv, out_path, err_path);
}

/* Count, per number n, the events of one module; returns how many numbers
 * in [1, max] were seen exactly once, and sets *dups / *total. */
static int
count_numbers(const char *module, int max, int *dups, int *total)
{
	char *all = mmt_read(out_path), *line, *save = NULL, needle[64];
	int *seen = calloc((size_t)max + 2, sizeof(int)), once = 0, i;

	snprintf(needle, sizeof(needle), "\"name\":\"%s\"", module);
	*dups = 0;
	*total = 0;
	for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p;
		long n;
		if (strstr(line, needle) == NULL || strstr(line, "\"kind\":\"alert\"") == NULL)
			continue;
		p = strstr(line, "\"n\":");
		if (p == NULL)
			continue;
		n = strtol(p + 4, NULL, 10);
		(*total)++;
		if (n >= 1 && n <= max)
			seen[n]++;
	}
	for (i = 1; i <= max; i++) {
		if (seen[i] == 1)
			once++;
		if (seen[i] > 1)
			(*dups)++;
	}
	free(seen);
	free(all);
	return once;
}

START_TEST(crashing_module_restarted_other_module_unharmed)
{
	char *out, *err;
	int dups, total, once, status;
	pid_t pid;

	modules_conf("modules = {\n"
	             "  counter_b = { enabled = true; count = 600; rate_per_sec = 300; };\n"
	             "  crasher = { enabled = true; count = 0; rate_per_sec = 500;\n"
	             "              crash_every = 100; restart_max_sec = 1; };\n"
	             "};\n");
	pid = start_supervisor("6");
	status = mmt_wait(pid, 60000);
	ck_assert_int_eq(status, 0);
	once = count_numbers("counter_b", 600, &dups, &total);
	ck_assert_int_eq(once, 600);
	ck_assert_int_eq(dups, 0);
	out = mmt_read(out_path);
	err = mmt_read(err_path);
	/* At least two crashes, each restarted and reported as a health event. */
	ck_assert_msg(mmt_count(out, "\"cat\":\"module_crashed\"") >= 2, "health events: %s", err);
	ck_assert_msg(mmt_count(err, "crasher exited unexpectedly: signal 11") >= 2, "%s", err);
	ck_assert_ptr_nonnull(strstr(out, "\"module\":\"crasher\""));
	/* The restarted crasher produced events in more than one life. */
	count_numbers("crasher", 1000000, &dups, &total);
	ck_assert_int_gt(total, 200);
	free(out);
	free(err);
}
END_TEST

START_TEST(hanging_module_killed_by_watchdog)
{
	char *out, *err, status_file[4200], *st;
	int dups, total;
	pid_t pid;

	modules_conf("modules = {\n"
	             "  hanger = { enabled = true; count = 0; rate_per_sec = 100;\n"
	             "             hang_after_ms = 500; watchdog_sec = 1; restart_max_sec = 1; };\n"
	             "};\n");
	pid = start_supervisor("8");
	ck_assert_int_eq(mmt_wait(pid, 60000), 0);
	out = mmt_read(out_path);
	err = mmt_read(err_path);
	ck_assert_msg(mmt_count(err, "hung: no heartbeat for 1 s; killing it") >= 2, "%s", err);
	ck_assert_msg(mmt_count(out, "\"cat\":\"module_hung\"") >= 2, "%s", err);
	/* Each life emits about 50 events before it hangs: more means restarts. */
	count_numbers("hanger", 1000000, &dups, &total);
	ck_assert_int_gt(total, 80);
	snprintf(status_file, sizeof(status_file), "%s/run/supervisor.json", dir);
	st = mmt_read(status_file);
	ck_assert_ptr_nonnull(strstr(st, "\"name\":\"hanger\""));
	ck_assert_ptr_null(strstr(st, "\"restarts\":0,"));
	free(st);
	free(out);
	free(err);
}
END_TEST

static size_t
events_of(const char *module, const char *label)
{
	char *all = mmt_read(out_path), *line, *save = NULL, n1[64], n2[64];
	size_t c = 0;

	snprintf(n1, sizeof(n1), "\"name\":\"%s\"", module);
	snprintf(n2, sizeof(n2), "\"label\":\"%s\"", label ? label : "");
	for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, n1) && strstr(line, "\"kind\":\"alert\"") &&
		    (label == NULL || strstr(line, n2)))
			c++;
	free(all);
	return c;
}

static int
wait_events(const char *module, const char *label, size_t at_least, int timeout_ms)
{
	int waited = 0;

	while (events_of(module, label) < at_least) {
		if (waited >= timeout_ms)
			return -1;
		mmt_sleep_ms(100);
		waited += 100;
	}
	return 0;
}

START_TEST(sighup_adds_removes_reconfigures)
{
	size_t before, after;
	char *err;
	pid_t pid;

	modules_conf("modules = { counter_a = { enabled = true; count = 0; rate_per_sec = 100;\n"
	             "                          label = \"one\"; }; };\n");
	pid = start_supervisor(NULL);
	ck_assert_int_eq(wait_events("counter_a", "one", 20, 15000), 0);

	/* An invalid configuration: reported, and the running one stays. */
	modules_conf("modules = { counter_a = { enabled = true; count = 0; rate_per_sec = 100;\n"
	             "                          label = \"one\"; no_such_key = 1; }; };\n");
	kill(pid, SIGHUP);
	ck_assert_int_eq(mmt_wait_for(err_path, "the running one stays", 1, 10000), 0);
	err = mmt_read(err_path);
	ck_assert_msg(strstr(err, "20-modules.conf:2:") != NULL, "%s", err);
	free(err);
	before = events_of("counter_a", "one");
	mmt_sleep_ms(600);
	ck_assert_int_gt(events_of("counter_a", "one"), before);

	/* Reconfigure counter_a (restarted with the new label) and add counter_b. */
	modules_conf("modules = {\n"
	             "  counter_a = { enabled = true; count = 0; rate_per_sec = 100; label = "
	             "\"two\"; };\n"
	             "  counter_b = { enabled = true; count = 0; rate_per_sec = 100; };\n"
	             "};\n");
	kill(pid, SIGHUP);
	ck_assert_int_eq(wait_events("counter_a", "two", 10, 15000), 0);
	ck_assert_int_eq(wait_events("counter_b", NULL, 10, 15000), 0);
	ck_assert_int_eq(mmt_wait_for(err_path, "counter_a reconfigured: restarting it", 1, 1000),
	                 0);

	/* Remove counter_a: it stops, counter_b keeps going. */
	modules_conf("modules = {\n"
	             "  counter_a = { enabled = false; };\n"
	             "  counter_b = { enabled = true; count = 0; rate_per_sec = 100; };\n"
	             "};\n");
	kill(pid, SIGHUP);
	ck_assert_int_eq(mmt_wait_for(err_path, "counter_a stopped", 2, 15000), 0);
	before = events_of("counter_a", NULL);
	after = events_of("counter_b", NULL);
	mmt_sleep_ms(800);
	ck_assert_int_eq(events_of("counter_a", NULL), before);
	ck_assert_int_gt(events_of("counter_b", NULL), after);

	kill(pid, SIGTERM);
	ck_assert_int_eq(mmt_wait(pid, 20000), 0);
	ck_assert_int_eq(mmt_wait_for(err_path, "supervisor: info: stopping", 1, 100), 0);
}
END_TEST

START_TEST(invalid_config_starts_nothing)
{
	char cmd[8192], *out, *err;
	int rc;

	modules_conf("modules = { counter_a = { enabled = true; rate_per_sec = \"fast\"; }; };\n");
	snprintf(cmd, sizeof(cmd), "%s -c %s/conf --plugin-dir %s run --for 2", mmt_env("MIMAMORI"),
	         dir, plugdir);
	rc = mmt_run(cmd, &out, &err);
	ck_assert_int_eq(rc, 2);
	ck_assert_msg(strstr(err, "20-modules.conf:1:") != NULL, "%s", err);
	ck_assert_ptr_null(strstr(err, "started counter_a"));
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	snprintf(cmd, sizeof(cmd), "%s -c %s/conf --plugin-dir %s check-config",
	         mmt_env("MIMAMORI"), dir, plugdir);
	rc = mmt_run(cmd, &out, &err);
	ck_assert_int_eq(rc, 2);
	ck_assert_msg(strstr(err, "20-modules.conf:1:") != NULL, "%s", err);
	free(out);
	free(err);
}
END_TEST

START_TEST(plugins_lists_refusals_with_reasons)
{
	char cmd[8192], *out, *err;

	snprintf(cmd, sizeof(cmd), "%s -c %s/conf --plugin-dir %s/bad plugins", mmt_env("MIMAMORI"),
	         dir, mmt_env("MM_TEST_PLUGIN_DIR"));
	ck_assert_int_eq(mmt_run(cmd, &out, &err), 0);
	ck_assert_msg(strstr(out, "bad_abi.so: ABI version 2.0 is not supported: this host speaks "
	                          "ABI 1.0") != NULL,
	              "%s", out);
	ck_assert_msg(strstr(out, "too_small.so: descriptor too small: struct mm_plugin is 24 "
	                          "bytes") != NULL,
	              "%s", out);
	ck_assert_msg(strstr(out, "no_entry.so: no entry symbol mm_plugin_entry()") != NULL, "%s",
	              out);
	ck_assert_msg(strstr(out, "null_entry.so: mm_plugin_entry() returned NULL") != NULL, "%s",
	              out);
	free(out);
	free(err);
	snprintf(cmd, sizeof(cmd), "%s -c %s/conf --plugin-dir %s/dup plugins", mmt_env("MIMAMORI"),
	         dir, mmt_env("MM_TEST_PLUGIN_DIR"));
	ck_assert_int_eq(mmt_run(cmd, &out, &err), 0);
	ck_assert_msg(strstr(out, "b_second.so: duplicate plugin name 'twin' (already in ") != NULL,
	              "%s", out);
	ck_assert_msg(strstr(out, "twin ") != NULL && strstr(out, "a_first.so") != NULL, "%s", out);
	free(out);
	free(err);
	snprintf(cmd, sizeof(cmd), "%s -c %s/conf --plugin-dir %s plugins", mmt_env("MIMAMORI"),
	         dir, plugdir);
	ck_assert_int_eq(mmt_run(cmd, &out, &err), 0);
	ck_assert_ptr_nonnull(strstr(out, "counter_a"));
	ck_assert_ptr_nonnull(strstr(out, "mimamori-tests"));
	ck_assert_ptr_null(strstr(out, "Refused"));
	free(out);
	free(err);
}
END_TEST

START_TEST(writable_plugin_file_refused)
{
	char cmd[8192], *out, *err;

	snprintf(cmd, sizeof(cmd),
	         "mkdir -p %s/wp && cp %s/counter_a.so %s/wp/ && chmod 666 %s/wp/counter_a.so", dir,
	         plugdir, dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s -c %s/conf --plugin-dir %s/wp plugins", mmt_env("MIMAMORI"),
	         dir, dir);
	ck_assert_int_eq(mmt_run(cmd, &out, &err), 0);
	ck_assert_msg(strstr(out, "is writable by group or others (mode 0666)") != NULL, "%s", out);
	free(out);
	free(err);
	if (geteuid() != 0)
		return;
	/* Owned by someone who is neither root nor the service user. */
	snprintf(cmd, sizeof(cmd), "chmod 644 %s/wp/counter_a.so && chown 12345 %s/wp/counter_a.so",
	         dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s -c %s/conf --plugin-dir %s/wp plugins", mmt_env("MIMAMORI"),
	         dir, dir);
	ck_assert_int_eq(mmt_run(cmd, &out, &err), 0);
	ck_assert_msg(strstr(out, "is owned by uid 12345, not root or the service user") != NULL,
	              "%s", out);
	free(out);
	free(err);
}
END_TEST

START_TEST(worker_drops_privileges_after_start)
{
	char confdir[4200], buf[8192], status_file[4200], *st, *p, proc[64], *ps;
	long wpid;
	pid_t pid;

	if (geteuid() != 0 || system("getent passwd nobody >/dev/null") != 0) {
		fprintf(stderr, "skipped: needs root and a 'nobody' user\n");
		return;
	}
	snprintf(confdir, sizeof(confdir), "%s/conf", dir);
	snprintf(buf, sizeof(buf),
	         "sensor = { id = \"test\"; role = \"utm\"; };\n"
	         "host = { state_dir = \"%s/state\"; run_dir = \"%s/run\"; user = \"nobody\"; };\n"
	         "aggregator = { enabled = false; };\n",
	         dir, dir);
	mmt_write(confdir, "00-sensor.conf", buf);
	modules_conf(
	        "modules = { counter_a = { enabled = true; count = 0; rate_per_sec = 50; }; };\n");
	pid = start_supervisor(NULL);
	ck_assert_int_eq(wait_events("counter_a", NULL, 20, 15000), 0);
	snprintf(status_file, sizeof(status_file), "%s/run/supervisor.json", dir);
	st = mmt_read(status_file);
	p = strstr(st, "\"name\":\"counter_a\"");
	ck_assert_ptr_nonnull(p);
	p = strstr(p, "\"pid\":");
	ck_assert_ptr_nonnull(p);
	wpid = strtol(p + 6, NULL, 10);
	ck_assert_int_gt(wpid, 0);
	snprintf(proc, sizeof(proc), "/proc/%ld/status", wpid);
	ps = mmt_read(proc);
	/* Real, effective, saved and filesystem uid all 65534 (nobody). */
	ck_assert_msg(strstr(ps, "Uid:\t65534\t65534\t65534\t65534") != NULL, "%s", ps);
	ck_assert_ptr_nonnull(strstr(ps, "NoNewPrivs:\t1"));
	kill(pid, SIGTERM);
	ck_assert_int_eq(mmt_wait(pid, 20000), 0);
	free(ps);
	free(st);
}
END_TEST

START_TEST(sigterm_hands_pending_events_to_the_aggregator)
{
	char confdir[4200], buf[8192], cmd[8192], *out, *err;
	pid_t pid;

	/* hello reports only when it stops (interval of an hour): that event
	 * exists only if stop ran and its event reached the spool before the
	 * aggregator went down. */
	snprintf(confdir, sizeof(confdir), "%s/conf", dir);
	snprintf(buf, sizeof(buf),
	         "sensor = { id = \"test\"; role = \"utm\"; };\n"
	         "host = { state_dir = \"%s/state\"; run_dir = \"%s/run\"; };\n"
	         "aggregator = { enabled = true; };\n"
	         "modules = { hello = { enabled = true; report_interval_sec = 3600;\n"
	         "  interface = \"file:%s/data/demo/tcp_ports.pcapng\"; }; };\n",
	         dir, dir, mmt_env("MM_SOURCE_DIR"));
	mmt_write(confdir, "00-sensor.conf", buf);
	snprintf(plugdir, sizeof(plugdir), "%s", mmt_env("MM_PLUGIN_DIR"));
	pid = start_supervisor(NULL);
	ck_assert_int_eq(mmt_wait_for(err_path, "reached the end of its file", 1, 20000), 0);
	kill(pid, SIGTERM);
	ck_assert_int_eq(mmt_wait(pid, 30000), 0);
	snprintf(cmd, sizeof(cmd), "%s -c %s events tail --kind stat", mmt_env("MIMAMORI"),
	         confdir);
	ck_assert_int_eq(mmt_run(cmd, &out, &err), 0);
	ck_assert_msg(strstr(out, "\"cat\":\"traffic\"") != NULL, "%s %s", out, err);
	ck_assert_ptr_nonnull(strstr(out, "\"packets\":505"));
	free(out);
	free(err);
}
END_TEST

START_TEST(blocked_queue_is_not_a_hang)
{
	char confdir[4200], buf[8192], status_file[4200], *st, *p, *err;
	long apid;
	pid_t pid;
	int dups, total;

	/* counter_a fills a 50-event queue while the aggregator is frozen: the
	 * worker blocks (queue_policy block) but keeps its heartbeat, so a 1 s
	 * watchdog must not kill it; once the aggregator runs again every
	 * event arrives once. */
	snprintf(confdir, sizeof(confdir), "%s/conf", dir);
	snprintf(buf, sizeof(buf),
	         "sensor = { id = \"test\"; role = \"utm\"; };\n"
	         "host = { state_dir = \"%s/state\"; run_dir = \"%s/run\"; };\n"
	         "aggregator = { enabled = true; sinks = { file = { enabled = true;\n"
	         "  path = \"%s/events.jsonl\"; }; }; };\n",
	         dir, dir, dir);
	mmt_write(confdir, "00-sensor.conf", buf);
	modules_conf("modules = { counter_a = { enabled = true; count = 600; rate_per_sec = 200;\n"
	             "  queue_max = 50; queue_policy = \"block\"; watchdog_sec = 1; }; };\n");
	pid = start_supervisor(NULL);
	snprintf(status_file, sizeof(status_file), "%s/run/supervisor.json", dir);
	ck_assert_int_eq(mmt_wait_for(status_file, "\"kind\":\"aggregator\",\"state\":\"running\"",
	                              1, 15000),
	                 0);
	mmt_sleep_ms(500);
	st = mmt_read(status_file);
	p = strstr(st, "\"kind\":\"aggregator\"");
	ck_assert_ptr_nonnull(p);
	p = strstr(p, "\"pid\":");
	apid = strtol(p + 6, NULL, 10);
	ck_assert_int_gt(apid, 0);
	free(st);
	kill((pid_t)apid, SIGSTOP);
	mmt_sleep_ms(4000);
	kill((pid_t)apid, SIGCONT);
	mmt_sleep_ms(4000);
	kill(pid, SIGTERM);
	ck_assert_int_eq(mmt_wait(pid, 30000), 0);
	err = mmt_read(err_path);
	ck_assert_msg(strstr(err, "hung") == NULL, "%s", err);
	ck_assert_msg(strstr(err, "counter_a exited unexpectedly") == NULL, "%s", err);
	free(err);
	snprintf(out_path, sizeof(out_path), "%s/events.jsonl", dir);
	ck_assert_int_eq(count_numbers("counter_a", 600, &dups, &total), 600);
	ck_assert_int_eq(dups, 0);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("supervisor");
	TCase *tc = tcase_create("processes");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, crashing_module_restarted_other_module_unharmed);
	tcase_add_test(tc, hanging_module_killed_by_watchdog);
	tcase_add_test(tc, sighup_adds_removes_reconfigures);
	tcase_add_test(tc, invalid_config_starts_nothing);
	tcase_add_test(tc, plugins_lists_refusals_with_reasons);
	tcase_add_test(tc, writable_plugin_file_refused);
	tcase_add_test(tc, worker_drops_privileges_after_start);
	tcase_add_test(tc, sigterm_hands_pending_events_to_the_aggregator);
	tcase_add_test(tc, blocked_queue_is_not_a_hang);
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
