/*
 * Small helpers shared by every host process: logging to stderr, clocks,
 * paths, and where the build tree or the installed layout keeps things.
 */
#ifndef MM_CORE_UTIL_H
#define MM_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define MM_PATH_MAX 4096

/* Log one line to stderr: "mimamori[pid] who: level: message". */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void
mm_log_host(int level, const char *who, const char *fmt, ...);
void mm_log_set_level(int level);
int mm_log_level_parse(const char *text); /* -1 when unknown */
int mm_log_enabled(int level);

uint64_t mm_now_ns(void);       /* CLOCK_REALTIME */
uint64_t mm_monotonic_ms(void); /* CLOCK_MONOTONIC */

/* mkdir -p with mode for each created component. */
int mm_mkdir_p(const char *path, unsigned mode);

/* Where things are by default: the build tree when this executable runs
 * from it, otherwise the installed layout. Strings are static. */
struct mm_paths {
	char exe[MM_PATH_MAX];
	char plugin_dir[MM_PATH_MAX];
	char conf_dir[MM_PATH_MAX];
	char data_dir[MM_PATH_MAX];
	char state_dir[MM_PATH_MAX];
	char run_dir[MM_PATH_MAX];
	int in_build_tree;
};
const struct mm_paths *mm_paths(void);
/* Override from the command line (NULL leaves a path as it is). */
void mm_paths_set(const char *conf_dir, const char *plugin_dir, const char *data_dir);

/* Copy src into dst of size n, always terminated; returns MM_ERR_TOOBIG if cut. */
int mm_strlcpy(char *dst, const char *src, size_t n);

#endif
