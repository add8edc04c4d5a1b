/*
 * Shared pieces of the system tests: a scratch sensor (configuration,
 * state and run directories) run by the real `mimamori run` with the test
 * plugins, readers for the supervisor's and aggregator's status files, and
 * a reader of the file sink that counts events per (module, n).
 */
#ifndef MM_TESTS_SYSTEM_LIB_H
#define MM_TESTS_SYSTEM_LIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sys_env {
	char *dir;
	char conf[4200], out[4200], run[4200], state[4200];
	char sup_out[4200], sup_err[4200];
	pid_t sup;
};

/* Create the scratch tree and 00-test.conf: host settings (host_extra is
 * put inside the host group, may be NULL), the aggregator group body and
 * the modules group body. The file sink path is <dir>/out/events.jsonl;
 * the text "OUT" in aggregator_body is replaced by it. */
void sys_init(struct sys_env *e, const char *tag, const char *host_extra,
              const char *aggregator_body, const char *modules_body);
void sys_write_conf(struct sys_env *e, const char *host_extra, const char *aggregator_body,
                    const char *modules_body);
void sys_cleanup(struct sys_env *e);

/* Start `mimamori -c conf --plugin-dir <test plugins>/good run`. */
void sys_start(struct sys_env *e);
/* SIGTERM the supervisor and wait for it (it stops workers, then the
 * aggregator). Returns its exit status. */
int sys_stop(struct sys_env *e);

/* A number of one module ("aggregator" for the aggregator child) in
 * supervisor.json: field "pid", "restarts", or "transport.acked",
 * "counters.events" ...; -1 when absent. */
int64_t sys_module_num(struct sys_env *e, const char *module, const char *field);
/* Its "state" string into out. */
void sys_module_state(struct sys_env *e, const char *module, char *out, size_t size);
/* Wait until sys_module_num(...) >= want; returns the last value. */
int64_t sys_wait_module(struct sys_env *e, const char *module, const char *field, int64_t want,
                        int ms);
/* Wait for the module to run with a pid other than not_pid (0: any). */
pid_t sys_wait_running(struct sys_env *e, const char *module, pid_t not_pid, int ms);

/* A number in a JSON text, found by a dotted path of keys searched in
 * order ("spool.undelivered"); a segment matching a "name" value selects
 * that array element ("sinks.file.pending"). -1 when absent. */
int64_t sys_json_num(const char *json, const char *path);
/* The same on <run>/aggregator.json. */
int64_t sys_agg_num(struct sys_env *e, const char *path);

/* Run `mimamori -c conf ARGS`; stdout into *out (caller frees). */
int sys_cli(struct sys_env *e, const char *args, char **out);

/* Alert events of the file sink (all rotated files), per module. */
struct sys_counts {
	long max;
	unsigned *a, *b; /* [n] for counter_a / counter_b */
	long other;      /* alerts with n outside 1..max or another plugin */
	long lines, health;
};
/* ts_before: when non-NULL, only events with "ts" < ts_before (RFC 3339
 * strings compare in time order) count; ts_after likewise (>=). */
void sys_count_sink(struct sys_counts *c, const char *text, long max, const char *ts_before,
                    const char *ts_after);
void sys_counts_free(struct sys_counts *c);
/* Every line of the file sink, .N files first: one string, caller frees. */
char *sys_read_sink(struct sys_env *e);

/* MM_SOAK_SCALE (default 1) times n, at least min. */
long sys_scaled(long n, long min);
/* The current time plus offset_ms as the event "ts" text. */
void sys_now_ts(char *out, size_t size, int offset_ms);
/* One module's object in supervisor.json, read once (caller frees), or
 * NULL; use sys_json_num on it. */
char *sys_module_text(struct sys_env *e, const char *module);

#endif
