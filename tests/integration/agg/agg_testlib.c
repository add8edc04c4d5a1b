/*
 * Helpers for the aggregator integration tests (see agg_testlib.h). They
 * run in the test processes.
 */
#include "agg_testlib.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void
agg_env_write_conf(struct agg_env *e, const char *body)
{
	char path[400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/00-test.conf", e->conf);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
	        "host = { state_dir = \"%s/state\"; run_dir = \"%s/run\"; };\n"
	        "aggregator = {\n%s\n};\n",
	        e->root, e->root, body ? body : "");
	fclose(f);
}

void
agg_env_init(struct agg_env *e, const char *body)
{
	char tmpl[] = "/tmp/mm-agg-XXXXXX";

	memset(e, 0, sizeof(*e));
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(e->root, sizeof(e->root), "%s", tmpl);
	snprintf(e->conf, sizeof(e->conf), "%s/conf", e->root);
	snprintf(e->endpoint, sizeof(e->endpoint), "ipc://%s/run/events.sock", e->root);
	snprintf(e->out, sizeof(e->out), "%s/out/events.jsonl", e->root);
	snprintf(e->stats, sizeof(e->stats), "%s/run/aggregator.json", e->root);
	ck_assert_int_eq(mkdir(e->conf, 0700), 0);
	agg_env_write_conf(e, body);
}

void
agg_env_cleanup(struct agg_env *e)
{
	char cmd[400];

	if (getenv("MM_KEEP_TEST_DIR") != NULL || e->root[0] != '/')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->root);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", e->root);
}

pid_t
agg_spawn(struct agg_env *e, const char *logname, const char *const *args)
{
	char log[400];
	pid_t pid;
	size_t n = 0;
	char *argv[32];

	snprintf(log, sizeof(log), "%s/%s", e->root, logname);
	argv[n++] = (char *)MM_AGG_HELPER;
	while (args[n - 1] != NULL && n < 31) {
		argv[n] = (char *)args[n - 1];
		n++;
	}
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(MM_AGG_HELPER, argv);
		_exit(127);
	}
	return pid;
}

pid_t
agg_start_aggregator(struct agg_env *e)
{
	const char *args[] = {"aggregator", e->conf, NULL};
	pid_t pid = agg_spawn(e, "aggregator.log", args);

	agg_wait_ready(e);
	return pid;
}

void
agg_wait_ready(struct agg_env *e)
{
	int i;
	struct stat st;

	for (i = 0; i < 500; i++) {
		if (stat(e->endpoint + 6, &st) == 0)
			return;
		poll(NULL, 0, 10);
	}
	ck_abort_msg("aggregator socket %s never appeared", e->endpoint + 6);
}

int
agg_wait(pid_t pid, int ms)
{
	int st, waited = 0;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0)
			return -1;
		if (ms >= 0 && waited >= ms)
			return -1;
		poll(NULL, 0, 10);
		waited += 10;
	}
}

int
agg_stop(pid_t pid)
{
	int rc;

	kill(pid, SIGTERM);
	rc = agg_wait(pid, 30000);
	if (rc < 0) {
		kill(pid, SIGKILL);
		agg_wait(pid, -1);
	}
	return rc;
}

void
agg_kill9(pid_t pid)
{
	kill(pid, SIGKILL);
	agg_wait(pid, -1);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
}

int64_t
agg_stat(struct agg_env *e, const char *path)
{
	char *text = slurp(e->stats), *p, key[160], seg[128];
	const char *s = path, *dot;
	int64_t v = -1;

	if (text == NULL)
		return -1;
	p = text;
	/* Walk "a.b.c": each segment is a key searched after the previous one;
	 * for sinks/modules, a segment may be a "name" value. */
	while ((dot = strchr(s, '.')) != NULL || *s) {
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		snprintf(seg, sizeof(seg), "%.*s", (int)n, s);
		snprintf(key, sizeof(key), "\"%s\":", seg);
		p = strstr(p, key);
		if (p == NULL) {
			snprintf(key, sizeof(key), "\"name\":\"%s\"", seg);
			p = strstr(text, key);
		}
		if (p == NULL)
			goto out;
		p += strlen(key);
		if (dot == NULL)
			break;
		s = dot + 1;
	}
	v = strtoll(p, NULL, 10);
out:
	free(text);
	return v;
}

int64_t
agg_wait_stat(struct agg_env *e, const char *path, int64_t want, int ms)
{
	int64_t v = -1;
	int waited;

	for (waited = 0; waited <= ms; waited += 50) {
		v = agg_stat(e, path);
		if (v >= want)
			return v;
		poll(NULL, 0, 50);
	}
	return v;
}

void
agg_read_lines(struct agg_lines *out, const char *path)
{
	char *text = slurp(path), *p, *nl;

	if (text == NULL)
		return;
	for (p = text; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		if ((out->n & (out->n + 1)) == 0 || out->n == 0)
			out->v = realloc(out->v, (out->n * 2 + 2) * sizeof(char *));
		out->v[out->n++] = strdup(p);
	}
	free(text);
}

void
agg_read_sink(struct agg_lines *out, const char *path)
{
	char p[400];
	int i;

	memset(out, 0, sizeof(*out));
	for (i = 200; i >= 1; i--) {
		snprintf(p, sizeof(p), "%s.%d", path, i);
		agg_read_lines(out, p);
	}
	agg_read_lines(out, path);
}

void
agg_lines_free(struct agg_lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

char *
agg_json_id(const char *line)
{
	/* The encoder writes "v" then "id" first. */
	const char *p = strstr(line, "\"id\":\"");

	if (p == NULL)
		return NULL;
	p += 6;
	return strndup(p, 36);
}

#define IDSET_BITS 20

struct agg_idset {
	struct ent {
		char *id;
		unsigned count;
		struct ent *next;
	} * buckets[1u << IDSET_BITS];
};

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h & ((1u << IDSET_BITS) - 1);
}

struct agg_idset *
agg_idset_new(void)
{
	return calloc(1, sizeof(struct agg_idset));
}

void
agg_idset_free(struct agg_idset *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < (1u << IDSET_BITS); i++) {
		struct ent *e = s->buckets[i];
		while (e) {
			struct ent *n = e->next;
			free(e->id);
			free(e);
			e = n;
		}
	}
	free(s);
}

unsigned
agg_idset_add(struct agg_idset *s, const char *id)
{
	unsigned h = hash(id);
	struct ent *e;

	for (e = s->buckets[h]; e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return ++e->count;
	e = calloc(1, sizeof(*e));
	e->id = strdup(id);
	e->count = 1;
	e->next = s->buckets[h];
	s->buckets[h] = e;
	return 1;
}

unsigned
agg_idset_count(const struct agg_idset *s, const char *id)
{
	const struct ent *e;

	for (e = s->buckets[hash(id)]; e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e->count;
	return 0;
}

long
agg_scaled(long n, long min)
{
	const char *s = getenv("MM_SOAK_SCALE");
	double f = s ? atof(s) : 1.0;
	long v = (long)((double)n * (f > 0 ? f : 1.0));

	return v < min ? min : v;
}

int
agg_read_progress(const char *path, uint64_t v[6])
{
	char *text = slurp(path);
	unsigned long long a[6];
	int n;

	if (text == NULL)
		return -1;
	n = sscanf(text, "%llu %llu %llu %llu %llu %llu", &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]);
	free(text);
	for (int i = 0; i < 6; i++)
		v[i] = n == 6 ? a[i] : 0;
	return n == 6 ? 0 : -1;
}
