/*
 * Integration test helpers (see support.h). Runs in the Check test
 * processes.
 */
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *
mmt_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		fprintf(stderr, "test environment variable %s is not set (run through ctest)\n",
		        name);
		abort();
	}
	return v;
}

char *
mmt_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path = malloc(4096);

	if (path == NULL)
		abort();
	snprintf(path, 4096, "%s/mm-%s-XXXXXX", base && *base ? base : "/tmp", tag);
	if (mkdtemp(path) == NULL)
		abort();
	chmod(path, 0755);
	return path;
}

void
mmt_rmrf(const char *dir)
{
	char cmd[4200];

	if (dir == NULL || strncmp(dir, "/tmp/", 5) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

void
mmt_write(const char *dir, const char *name, const char *content)
{
	char path[4096], tmp[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	f = fopen(tmp, "w");
	if (f == NULL || fputs(content, f) < 0 || fclose(f) != 0)
		abort();
	/* Replace atomically: a supervisor reading on SIGHUP sees all or nothing. */
	if (rename(tmp, path) != 0)
		abort();
}

char *
mmt_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t len = 0, cap = 4096, n;
	char *buf;

	if (f == NULL)
		return strdup("");
	buf = malloc(cap);
	if (buf == NULL)
		abort();
	/* Read to the end rather than trusting the size: /proc files report 0. */
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (buf == NULL)
				abort();
		}
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

size_t
mmt_count(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);
	const char *p = hay;

	if (len == 0)
		return 0;
	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += len;
	}
	return n;
}

static int
status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

int
mmt_run(const char *cmd, char **out, char **err)
{
	char dir[] = "/tmp/mm-run-XXXXXX", o[64], e[64], full[16384];
	int status;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(o, sizeof(o), "%s/out", dir);
	snprintf(e, sizeof(e), "%s/err", dir);
	snprintf(full, sizeof(full), "( %s ) >%s 2>%s </dev/null", cmd, o, e);
	status = system(full);
	if (out)
		*out = mmt_read(o);
	if (err)
		*err = mmt_read(e);
	unlink(o);
	unlink(e);
	rmdir(dir);
	return status_code(status);
}

pid_t
mmt_spawn(char *const argv[], const char *out_path, const char *err_path)
{
	pid_t pid = fork();

	if (pid < 0)
		abort();
	if (pid == 0) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int n = open("/dev/null", O_RDONLY);
		if (o < 0 || e < 0 || n < 0)
			_exit(126);
		dup2(n, 0);
		dup2(o, 1);
		dup2(e, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

void
mmt_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
mmt_wait(pid_t pid, int timeout_ms)
{
	int status, waited = 0;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status_code(status);
		if (r < 0)
			return -1;
		if (waited >= timeout_ms)
			return -1;
		mmt_sleep_ms(20);
		waited += 20;
	}
}

int
mmt_wait_for(const char *path, const char *needle, size_t n, int timeout_ms)
{
	int waited = 0;

	for (;;) {
		char *s = mmt_read(path);
		size_t c = mmt_count(s, needle);
		free(s);
		if (c >= n)
			return 0;
		if (waited >= timeout_ms)
			return -1;
		mmt_sleep_ms(50);
		waited += 50;
	}
}
