/*
 * Helpers shared by every host process (supervisor, worker, aggregator,
 * CLI): stderr logging, clocks, directory creation and the default paths,
 * which point into the build tree when the executable runs from there so
 * that nothing has to be installed to try or test it.
 */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mimamori/error.h"
#include "mimamori/plugin.h"

static int log_level = MM_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
mm_log_set_level(int level)
{
	log_level = level;
}

int
mm_log_enabled(int level)
{
	return level <= log_level;
}

int
mm_log_level_parse(const char *text)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (text && strcmp(text, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void
mm_log_host(int level, const char *who, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (level > log_level)
		return;
	if (level < 0 || level > MM_LOG_DEBUG)
		level = MM_LOG_ERROR;
	n = snprintf(line, sizeof(line), "mimamori[%ld] %s: %s: ", (long)getpid(),
	             who ? who : "host", level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line keeps lines from several processes whole. */
	n = (int)strlen(line);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nothing sensible is left to report to. */
	}
}

uint64_t
mm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t
mm_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

int
mm_strlcpy(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	if (n == 0)
		return MM_ERR_TOOBIG;
	if (len >= n) {
		memcpy(dst, src, n - 1);
		dst[n - 1] = '\0';
		return MM_ERR_TOOBIG;
	}
	memcpy(dst, src, len + 1);
	return MM_OK;
}

int
mm_mkdir_p(const char *path, unsigned mode)
{
	char tmp[MM_PATH_MAX];
	char *p;

	if (mm_strlcpy(tmp, path, sizeof(tmp)) != MM_OK)
		return MM_ERR_TOOBIG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
			return MM_ERR_IO;
		*p = '/';
	}
	if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
		return MM_ERR_IO;
	return MM_OK;
}

static struct mm_paths paths;
static int paths_ready;

static void
paths_init(void)
{
	char build[MM_PATH_MAX], exe_dir[MM_PATH_MAX];
	ssize_t n;
	char *slash;

	paths_ready = 1;
	n = readlink("/proc/self/exe", paths.exe, sizeof(paths.exe) - 1);
	if (n < 0)
		n = 0;
	paths.exe[n] = '\0';
	mm_strlcpy(exe_dir, paths.exe, sizeof(exe_dir));
	slash = strrchr(exe_dir, '/');
	if (slash)
		*slash = '\0';
	if (realpath(MM_BUILD_DIR, build) != NULL && strcmp(build, exe_dir) == 0)
		paths.in_build_tree = 1;
	if (paths.in_build_tree) {
		mm_strlcpy(paths.plugin_dir, MM_BUILD_PLUGIN_DIR, MM_PATH_MAX);
		mm_strlcpy(paths.conf_dir, MM_SOURCE_CONF_DIR, MM_PATH_MAX);
		mm_strlcpy(paths.data_dir, MM_SOURCE_DATA_DIR, MM_PATH_MAX);
		snprintf(paths.state_dir, MM_PATH_MAX, "%s/state", MM_BUILD_DIR);
		snprintf(paths.run_dir, MM_PATH_MAX, "%s/run", MM_BUILD_DIR);
	} else {
		mm_strlcpy(paths.plugin_dir, MM_INSTALL_PLUGIN_DIR, MM_PATH_MAX);
		mm_strlcpy(paths.conf_dir, MM_INSTALL_CONF_DIR, MM_PATH_MAX);
		mm_strlcpy(paths.data_dir, MM_INSTALL_DATA_DIR, MM_PATH_MAX);
		mm_strlcpy(paths.state_dir, "/var/lib/mimamori", MM_PATH_MAX);
		mm_strlcpy(paths.run_dir, "/run/mimamori", MM_PATH_MAX);
	}
}

const struct mm_paths *
mm_paths(void)
{
	if (!paths_ready)
		paths_init();
	return &paths;
}

void
mm_paths_set(const char *conf_dir, const char *plugin_dir, const char *data_dir)
{
	if (!paths_ready)
		paths_init();
	if (conf_dir)
		mm_strlcpy(paths.conf_dir, conf_dir, MM_PATH_MAX);
	if (plugin_dir)
		mm_strlcpy(paths.plugin_dir, plugin_dir, MM_PATH_MAX);
	if (data_dir)
		mm_strlcpy(paths.data_dir, data_dir, MM_PATH_MAX);
}
