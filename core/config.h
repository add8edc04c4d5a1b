/*
 * Configuration: every *.conf in the configuration directory (libconfig,
 * lexical order), validated against the host's own tables and each
 * plugin's declared key table before anything starts. Every problem becomes
 * one "FILE:LINE: what is wrong" line in a struct mm_diag.
 *
 * Runs in the supervisor (load + validate), in workers (decoding the values
 * the supervisor hands them) and in the CLI (check-config).
 */
#ifndef MM_CORE_CONFIG_H
#define MM_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libconfig.h>

#include "buf.h"
#include "plugin_info.h"

/* Diagnostics: a list of "FILE:LINE: message" lines. */
struct mm_diag {
	char **msgs;
	size_t n;
};
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void
mm_diag_add(struct mm_diag *d, const char *file, int line, const char *fmt, ...);
void mm_diag_print(const struct mm_diag *d, FILE *out);
void mm_diag_free(struct mm_diag *d);

/* One validated value of a key table. */
struct mm_cfg_value {
	const struct mm_cfg_key *key; /* borrowed from the table validated against */
	int set;                      /* 1: from a file, 0: the default */
	int64_t i;                    /* INT, BOOL */
	double d;                     /* DOUBLE */
	char *s;                      /* STRING */
	char **list;                  /* STRING_LIST */
	size_t nlist;
	const char *file; /* where it was set (NULL for defaults) */
	int line;
};

struct mm_cfg_values {
	struct mm_cfg_value *v; /* one per key, in table order */
	size_t n;
};

const struct mm_cfg_value *mm_cfg_values_find(const struct mm_cfg_values *vals, const char *name);
void mm_cfg_values_free(struct mm_cfg_values *vals);

/*
 * Validate a libconfig group against a key table (nkeys entries). Unknown
 * keys (other than those named in reserved, a NULL-terminated list, which
 * may be NULL), wrong types, out-of-range values and missing required keys
 * are added to diag. Defaults fill what is unset. Returns MM_OK or
 * MM_ERR_CONFIG.
 */
int mm_cfg_validate_group(struct mm_cfg_values *out, const config_setting_t *group,
                          const struct mm_cfg_key *keys, size_t nkeys, const char *const *reserved,
                          struct mm_diag *diag);

/* Defaults only (no group): what a module gets with nothing configured. */
int mm_cfg_defaults(struct mm_cfg_values *out, const struct mm_cfg_key *keys, size_t nkeys);

/* Serialize values for a worker (msgpack) and read them back against the
 * same key table. */
int mm_cfg_values_encode(const struct mm_cfg_values *vals, struct mm_buf *out);
int mm_cfg_values_decode(struct mm_cfg_values *out, const struct mm_cfg_key *keys, size_t nkeys,
                         const void *data, size_t len);

/* Settings the host reads for every module, next to the plugin's keys. */
struct mm_module_conf {
	char *name;
	char *file; /* where the module's group is */
	int line;
	int enabled;
	int64_t watchdog_sec;          /* heartbeat timeout; 0 disables */
	int64_t restart_max_sec;       /* cap of the restart back-off */
	int64_t queue_max;             /* events buffered while the aggregator is away */
	char *queue_policy;            /* "block" or "drop_oldest" */
	const config_setting_t *group; /* the libconfig group (owned by the config) */
	struct mm_cfg_values values;   /* plugin keys, after mm_config_validate */
	char *digest;                  /* canonical text of everything above, for SIGHUP diffs */
	const struct mm_plugin_info *plugin; /* after mm_config_validate */
};

struct mm_config {
	char *dir;
	/* sensor = { id; host; site; role } */
	char *sensor_id;
	char *sensor_host;
	char *sensor_site;
	char *role_text; /* "utm", "pc" or "auto" as written */
	int role;        /* MM_ROLE_UTM or MM_ROLE_PC after resolving "auto" */
	/* host = { state_dir; run_dir; log_level; user } */
	char *state_dir;
	char *run_dir;
	char *log_level;
	char *user;
	/* aggregator = { ... }: validated by the aggregator's own table. */
	const config_setting_t *aggregator;
	const char *aggregator_file;
	struct mm_module_conf *modules;
	size_t nmodules;
	/* Parsed files, kept so settings and their file names stay valid. */
	config_t *files;
	char **file_names;
	size_t nfiles;
};

/*
 * Load every *.conf in dir. Syntax errors, unknown top-level groups,
 * unknown keys of sensor/host, bad role, duplicate modules across files go to
 * diag. defaults_dir_state / run: used when host.state_dir / run_dir are
 * not set. Returns MM_OK or MM_ERR_CONFIG (cfg is still allocated then, and
 * must be freed).
 */
int mm_config_load(struct mm_config **out, const char *dir, const char *default_state_dir,
                   const char *default_run_dir, struct mm_diag *diag);

/*
 * Validate every module group against the plugin it names (by module name ==
 * plugin name): unknown module, refused plugin, module enabled for a role
 * it does not support, and every key error. Fills values, digest and plugin.
 */
int mm_config_validate(struct mm_config *cfg, struct mm_plugin_info *const *plugins, size_t n,
                       struct mm_diag *diag);

const struct mm_module_conf *mm_config_module(const struct mm_config *cfg, const char *name);
void mm_config_free(struct mm_config *cfg);

/* "utm" / "pc" / "auto" -> MM_ROLE_* (auto: detected from this machine). */
int mm_role_resolve(const char *text);
const char *mm_role_name(int role);

#endif
