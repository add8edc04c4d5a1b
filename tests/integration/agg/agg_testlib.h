/*
 * Shared pieces of the aggregator integration tests: a scratch directory
 * with a configuration, child processes (the aggregator and producers run
 * by agg_helper), and readers for what they leave behind.
 */
#ifndef MM_TESTS_AGG_TESTLIB_H
#define MM_TESTS_AGG_TESTLIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct agg_env {
	char root[256];     /* scratch directory */
	char conf[300];     /* root/conf */
	char endpoint[320]; /* ipc://root/run/events.sock */
	char out[300];      /* root/out/events.jsonl (file sink) */
	char stats[300];    /* root/run/aggregator.json */
};

/* Create the scratch tree and write conf/00-test.conf with extra text
 * inside the aggregator group (e.g. spool_max_mb, sinks). */
void agg_env_init(struct agg_env *e, const char *aggregator_body);
void agg_env_write_conf(struct agg_env *e, const char *aggregator_body);
void agg_env_cleanup(struct agg_env *e);

/* Start a helper with the given arguments (NULL-terminated), stdout and
 * stderr to root/<logname>. */
pid_t agg_spawn(struct agg_env *e, const char *logname, const char *const *args);
pid_t agg_start_aggregator(struct agg_env *e);
/* SIGTERM and wait; returns the exit status (or -1). */
int agg_stop(pid_t pid);
void agg_kill9(pid_t pid);
/* Wait for pid, at most ms; returns exit status, -1 on timeout (pid left). */
int agg_wait(pid_t pid, int ms);
/* Wait until the aggregator's socket exists. */
void agg_wait_ready(struct agg_env *e);

/* A number from the aggregator's stats file: "drops.refused_events",
 * "in.events", "spool.undelivered", "sinks.file.events" ...; -1 if absent. */
int64_t agg_stat(struct agg_env *e, const char *path);
/* Wait until stat(path) >= want (ms at most); returns the last value. */
int64_t agg_wait_stat(struct agg_env *e, const char *path, int64_t want, int ms);

/* Lines of a file as an array of strings (caller frees with agg_lines_free). */
struct agg_lines {
	char **v;
	size_t n;
};
void agg_read_lines(struct agg_lines *out, const char *path);
/* Every line of the file sink (path and path.1 .. path.N). */
void agg_read_sink(struct agg_lines *out, const char *path);
void agg_lines_free(struct agg_lines *l);
/* The top-level "id" of a JSON line in a fresh string, or NULL. */
char *agg_json_id(const char *line);

/* A set of strings (ids) with counts. */
struct agg_idset;
struct agg_idset *agg_idset_new(void);
void agg_idset_free(struct agg_idset *s);
/* Returns the new count of id. */
unsigned agg_idset_add(struct agg_idset *s, const char *id);
unsigned agg_idset_count(const struct agg_idset *s, const char *id);

/* MM_SOAK_SCALE (default 1.0) times n, at least min. */
long agg_scaled(long n, long min);

/* The progress line of a producer: prefix queued acked dropped rejected buffered */
int agg_read_progress(const char *path, uint64_t v[6]);

#endif
