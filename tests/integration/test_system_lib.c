/*
 * Helpers of the system tests (see test_system_lib.h): a scratch sensor run
 * by the real binary, and readers for what it leaves behind. Runs in the
 * Check test processes.
 */
#include "test_system_lib.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "support.h"

void
sys_write_conf(struct sys_env *e, const char *host_extra, const char *agg, const char *modules)
{
	size_t cap = 16384 + (agg ? strlen(agg) : 0) + (modules ? strlen(modules) : 0);
	char *text = malloc(cap), *body = malloc(cap);
	const char *p, *q;
	size_t n = 0;

	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(body);
	/* "OUT" stands for the file sink's path. */
	body[0] = '\0';
	for (p = agg ? agg : ""; (q = strstr(p, "OUT")) != NULL; p = q + 3)
		n += (size_t)snprintf(body + n, cap - n, "%.*s%s", (int)(q - p), p, e->out);
	snprintf(body + n, cap - n, "%s", p);
	snprintf(text, cap,
	         "sensor = { id = \"systest\"; role = \"utm\"; };\n"
	         "host = { state_dir = \"%s\"; run_dir = \"%s\"; log_level = \"info\"; %s };\n"
	         "aggregator = {\n%s\n};\n"
	         "modules = {\n%s\n};\n",
	         e->state, e->run, host_extra ? host_extra : "", body, modules ? modules : "");
	mmt_write(e->conf, "00-test.conf", text);
	free(text);
	free(body);
}

void
sys_init(struct sys_env *e, const char *tag, const char *host_extra, const char *agg,
         const char *modules)
{
	char cmd[8600];

	memset(e, 0, sizeof(*e));
	e->dir = mmt_tmpdir(tag);
	snprintf(e->conf, sizeof(e->conf), "%s/conf", e->dir);
	snprintf(e->run, sizeof(e->run), "%s/run", e->dir);
	snprintf(e->state, sizeof(e->state), "%s/state", e->dir);
	snprintf(e->out, sizeof(e->out), "%s/out/events.jsonl", e->dir);
	snprintf(e->sup_out, sizeof(e->sup_out), "%s/supervisor.out", e->dir);
	snprintf(e->sup_err, sizeof(e->sup_err), "%s/supervisor.err", e->dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' '%s/out'", e->conf, e->dir);
	ck_assert_int_eq(system(cmd), 0);
	sys_write_conf(e, host_extra, agg, modules);
}

void
sys_cleanup(struct sys_env *e)
{
	if (e->sup > 0) {
		kill(e->sup, SIGKILL);
		mmt_wait(e->sup, 10000);
		e->sup = 0;
	}
	if (getenv("MM_KEEP_TMP") == NULL)
		mmt_rmrf(e->dir);
	else
		fprintf(stderr, "kept %s\n", e->dir);
	free(e->dir);
	e->dir = NULL;
}

void
sys_start(struct sys_env *e)
{
	char plugdir[4200];
	char *argv[8];

	snprintf(plugdir, sizeof(plugdir), "%s/good", mmt_env("MM_TEST_PLUGIN_DIR"));
	argv[0] = (char *)mmt_env("MIMAMORI");
	argv[1] = "-c";
	argv[2] = e->conf;
	argv[3] = "--plugin-dir";
	argv[4] = plugdir;
	argv[5] = "run";
	argv[6] = NULL;
	e->sup = mmt_spawn(argv, e->sup_out, e->sup_err);
}

int
sys_stop(struct sys_env *e)
{
	int rc;

	if (e->sup <= 0)
		return -1;
	kill(e->sup, SIGTERM);
	rc = mmt_wait(e->sup, 60000);
	if (rc < 0) {
		kill(e->sup, SIGKILL);
		mmt_wait(e->sup, 10000);
	}
	e->sup = 0;
	return rc;
}

int64_t
sys_json_num(const char *json, const char *path)
{
	char seg[128], key[160];
	const char *p = json, *s = path, *dot, *hit;

	for (;;) {
		size_t n;

		dot = strchr(s, '.');
		n = dot ? (size_t)(dot - s) : strlen(s);
		snprintf(seg, sizeof(seg), "%.*s", (int)n, s);
		snprintf(key, sizeof(key), "\"%s\":", seg);
		hit = strstr(p, key);
		if (hit == NULL) {
			snprintf(key, sizeof(key), "\"name\":\"%s\"", seg);
			hit = strstr(p, key);
		}
		if (hit == NULL)
			return -1;
		p = hit + strlen(key);
		if (dot == NULL)
			break;
		s = dot + 1;
	}
	while (*p == ' ')
		p++;
	if (*p != '-' && (*p < '0' || *p > '9'))
		return -1;
	return strtoll(p, NULL, 10);
}

/* The text of one module's object in supervisor.json (caller frees). */
char *
sys_module_text(struct sys_env *e, const char *module)
{
	char path[4300], key[128], *all, *start, *end, *out;

	snprintf(path, sizeof(path), "%s/supervisor.json", e->run);
	all = mmt_read(path);
	snprintf(key, sizeof(key), "{\"name\":\"%s\",", module);
	start = strstr(all, key);
	if (start == NULL) {
		free(all);
		return NULL;
	}
	end = strstr(start + 1, "{\"name\":");
	out = end ? strndup(start, (size_t)(end - start)) : strdup(start);
	free(all);
	return out;
}

int64_t
sys_module_num(struct sys_env *e, const char *module, const char *field)
{
	char *t = sys_module_text(e, module);
	int64_t v;

	if (t == NULL)
		return -1;
	v = sys_json_num(t, field);
	free(t);
	return v;
}

void
sys_module_state(struct sys_env *e, const char *module, char *out, size_t size)
{
	char *t = sys_module_text(e, module), *p;

	out[0] = '\0';
	if (t == NULL)
		return;
	p = strstr(t, "\"state\":\"");
	if (p != NULL) {
		p += 9;
		snprintf(out, size, "%.*s", (int)strcspn(p, "\""), p);
	}
	free(t);
}

int64_t
sys_wait_module(struct sys_env *e, const char *module, const char *field, int64_t want, int ms)
{
	int64_t v = -1;
	int waited;

	for (waited = 0; waited <= ms; waited += 100) {
		v = sys_module_num(e, module, field);
		if (v >= want)
			return v;
		mmt_sleep_ms(100);
	}
	return v;
}

pid_t
sys_wait_running(struct sys_env *e, const char *module, pid_t not_pid, int ms)
{
	char state[32];
	int waited;

	for (waited = 0; waited <= ms; waited += 50) {
		int64_t pid = sys_module_num(e, module, "pid");
		sys_module_state(e, module, state, sizeof(state));
		if (pid > 0 && pid != not_pid && strcmp(state, "running") == 0 &&
		    kill((pid_t)pid, 0) == 0)
			return (pid_t)pid;
		mmt_sleep_ms(50);
	}
	return -1;
}

int64_t
sys_agg_num(struct sys_env *e, const char *path)
{
	char p[4300], *t;
	int64_t v;

	snprintf(p, sizeof(p), "%s/aggregator.json", e->run);
	t = mmt_read(p);
	v = t[0] ? sys_json_num(t, path) : -1;
	free(t);
	return v;
}

int
sys_cli(struct sys_env *e, const char *args, char **out)
{
	char cmd[9000];

	snprintf(cmd, sizeof(cmd), "'%s' -c '%s' %s", mmt_env("MIMAMORI"), e->conf, args);
	return mmt_run(cmd, out, NULL);
}

char *
sys_read_sink(struct sys_env *e)
{
	struct mm_text {
		char *p;
		size_t n;
	} all = {NULL, 0};
	char path[4300];
	int i;

	/* Oldest first: .N ... .1, then the current file. */
	for (i = 200; i >= 0; i--) {
		char *t;
		size_t n;

		if (i)
			snprintf(path, sizeof(path), "%s.%d", e->out, i);
		else
			snprintf(path, sizeof(path), "%s", e->out);
		t = mmt_read(path);
		n = strlen(t);
		all.p = realloc(all.p, all.n + n + 1);
		ck_assert_ptr_nonnull(all.p);
		memcpy(all.p + all.n, t, n);
		all.n += n;
		all.p[all.n] = '\0';
		free(t);
	}
	return all.p;
}

/* needle inside [p, end), or NULL. */
static const char *
find(const char *p, const char *end, const char *needle)
{
	return memmem(p, (size_t)(end - p), needle, strlen(needle));
}

void
sys_count_sink(struct sys_counts *c, const char *text, long max, const char *ts_before,
               const char *ts_after)
{
	const char *line = text, *nl;

	memset(c, 0, sizeof(*c));
	c->max = max;
	c->a = calloc((size_t)max + 1, sizeof(unsigned));
	c->b = calloc((size_t)max + 1, sizeof(unsigned));
	ck_assert_ptr_nonnull(c->a);
	ck_assert_ptr_nonnull(c->b);
	for (; *line; line = nl + 1) {
		const char *ts, *plugin, *attrs, *np;
		char name[64];
		long n;

		nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		c->lines++;
		if (strncmp(line, "{\"v\":1,", 7) != 0)
			ck_abort_msg("not an event line: %.200s", line);
		if ((ts = find(line, nl, "\"ts\":\"")) == NULL)
			ck_abort_msg("no ts: %.200s", line);
		ts += 6;
		if (ts_before != NULL && strncmp(ts, ts_before, strlen(ts_before)) >= 0)
			continue;
		if (ts_after != NULL && strncmp(ts, ts_after, strlen(ts_after)) < 0)
			continue;
		if (find(line, nl, "\"kind\":\"health\"") != NULL) {
			c->health++;
			continue;
		}
		plugin = find(line, nl, "\"plugin\":{\"name\":\"");
		attrs = find(line, nl, "\"attrs\":{");
		if (plugin == NULL || attrs == NULL ||
		    find(line, nl, "\"kind\":\"alert\"") == NULL) {
			c->other++;
			continue;
		}
		plugin += 18;
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(plugin, "\""), plugin);
		np = find(attrs, nl, "\"n\":");
		if (np == NULL) {
			c->other++;
			continue;
		}
		n = strtol(np + 4, NULL, 10);
		if (n < 1 || n > max)
			c->other++;
		else if (strcmp(name, "counter_a") == 0)
			c->a[n]++;
		else if (strcmp(name, "counter_b") == 0)
			c->b[n]++;
		else
			c->other++;
	}
}

void
sys_counts_free(struct sys_counts *c)
{
	free(c->a);
	free(c->b);
	memset(c, 0, sizeof(*c));
}

long
sys_scaled(long n, long min)
{
	const char *s = getenv("MM_SOAK_SCALE");
	double f = s && *s ? atof(s) : 1.0;
	long v = (long)((double)n * (f > 0 ? f : 1.0));

	return v < min ? min : v;
}

void
sys_now_ts(char *out, size_t size, int offset_ms)
{
	struct timespec ts;
	struct tm tm;
	time_t t;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += offset_ms / 1000;
	ts.tv_nsec += (long)(offset_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	t = ts.tv_sec;
	gmtime_r(&t, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}
