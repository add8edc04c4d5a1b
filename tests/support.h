/*
 * Helpers for integration tests: temporary directories, files, running the
 * mimamori binary and waiting for what it writes.
 */
#ifndef MM_TESTS_SUPPORT_H
#define MM_TESTS_SUPPORT_H

#include <stddef.h>
#include <sys/types.h>

/* Environment set by ctest (tests/CMakeLists.txt); abort when missing. */
const char *mmt_env(const char *name);

/* A fresh directory under $TMPDIR (or /tmp); removed by mmt_rmrf. */
char *mmt_tmpdir(const char *tag);
void mmt_rmrf(const char *dir);
void mmt_write(const char *dir, const char *name, const char *content);
/* Whole file as a NUL-terminated string ("" when missing). Caller frees. */
char *mmt_read(const char *path);
size_t mmt_count(const char *hay, const char *needle);

/* Run a shell command; stdout and stderr are captured (caller frees).
 * Returns the exit status, or 128 + signal. */
int mmt_run(const char *cmd, char **out, char **err);

/* Start argv in the background with stdout/stderr going to files. */
pid_t mmt_spawn(char *const argv[], const char *out_path, const char *err_path);
/* Wait up to timeout_ms for pid to exit; returns its status as mmt_run, or
 * -1 on timeout. */
int mmt_wait(pid_t pid, int timeout_ms);
/* Poll a file until it contains needle at least n times. 0 on success. */
int mmt_wait_for(const char *path, const char *needle, size_t n, int timeout_ms);
void mmt_sleep_ms(int ms);

#endif
