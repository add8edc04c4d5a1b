/*
 * Reading the `aggregator` configuration group: its own keys, then one
 * sub-group per sink under `sinks`, each against the key table its sink
 * declares. Runs in the aggregator and in the CLI (check-config, events,
 * status).
 */
#include "aggconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator.h"
#include "mimamori/error.h"
#include "spool.h"

static const struct mm_cfg_key agg_keys[] = {
        {"enabled", MM_CFG_BOOL, "true", 0, 0, 0, "Run the aggregator with `mimamori run`."},
        {"endpoint", MM_CFG_STRING, "", 0, 0, 0,
         "ZeroMQ endpoint (ipc:// or tcp://); empty means ipc://<run_dir>/events.sock."},
        {"spool_max_mb", MM_CFG_INT, "256", 1, 1048576, 0,
         "Largest size of the spool of undelivered events, in MiB."},
        {"spool_policy", MM_CFG_STRING, "refuse", 0, 0, 0,
         "When the spool is full: \"refuse\" new batches (workers hold them) or "
         "\"drop_oldest\"."},
        {"spool_page_kb", MM_CFG_INT, "16", 1, 64, 0,
         "SQLite page size of a new spool, in KiB (1, 2, 4, 8, 16, 32 or 64): larger pages "
         "commit bursts faster, smaller ones write less flash per small commit."},
        {"dedup_window_sec", MM_CFG_INT, "600", 0, 86400, 0,
         "How long delivered events are kept to recognise resent duplicates."},
        {"health_interval_sec", MM_CFG_INT, "1", 1, 86400, 0,
         "Least time between two health events about refused or dropped events."},
};

static const struct mm_sink_ops *const sink_types[] = {&mm_sink_file_ops, &mm_sink_stdout_ops};
#define NSINK_TYPES (sizeof(sink_types) / sizeof(sink_types[0]))

static const char *const reserved[] = {"sinks", NULL};

static const char *
cfg_file(const struct mm_config *cfg, const config_setting_t *s)
{
	const char *f = s ? config_setting_source_file(s) : NULL;

	if (f != NULL)
		return f;
	return cfg->aggregator_file ? cfg->aggregator_file : "aggregator";
}

int
mm_agg_conf_load(struct mm_agg_conf *out, const struct mm_config *cfg, struct mm_diag *diag)
{
	struct mm_diag local = {NULL, 0};
	struct mm_diag *d = diag ? diag : &local;
	const struct mm_cfg_value *v;
	const config_setting_t *sinks = NULL;
	const char *run_dir = cfg->run_dir ? cfg->run_dir : ".";
	const char *state_dir = cfg->state_dir ? cfg->state_dir : ".";
	size_t before = d->n, i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (cfg->aggregator != NULL)
		rc = mm_cfg_validate_group(&out->vals, cfg->aggregator, agg_keys,
		                           sizeof(agg_keys) / sizeof(agg_keys[0]), reserved, d);
	else
		rc = mm_cfg_defaults(&out->vals, agg_keys, sizeof(agg_keys) / sizeof(agg_keys[0]));
	if (rc != MM_OK && out->vals.v == NULL)
		goto out;
	v = mm_cfg_values_find(&out->vals, "enabled");
	out->enabled = v ? (int)v->i : 1;
	v = mm_cfg_values_find(&out->vals, "endpoint");
	if (v && v->s && v->s[0]) {
		if (strncmp(v->s, "ipc://", 6) != 0 && strncmp(v->s, "tcp://", 6) != 0)
			mm_diag_add(
			        d, v->file ? v->file : cfg_file(cfg, NULL), v->line,
			        "aggregator.endpoint must start with ipc:// or tcp://, not '%s'",
			        v->s);
		mm_strlcpy(out->endpoint, v->s, sizeof(out->endpoint));
	} else {
		snprintf(out->endpoint, sizeof(out->endpoint), "ipc://%s/events.sock", run_dir);
	}
	v = mm_cfg_values_find(&out->vals, "spool_max_mb");
	out->spool_max_bytes = (uint64_t)(v ? v->i : 256) * 1024 * 1024;
	v = mm_cfg_values_find(&out->vals, "spool_policy");
	if (v && v->s && strcmp(v->s, "drop_oldest") == 0)
		out->spool_policy = MM_SPOOL_DROP_OLDEST;
	else if (v && v->s && strcmp(v->s, "refuse") != 0)
		mm_diag_add(
		        d, v->file ? v->file : cfg_file(cfg, NULL), v->line,
		        "aggregator.spool_policy must be \"refuse\" or \"drop_oldest\", not '%s'",
		        v->s);
	v = mm_cfg_values_find(&out->vals, "spool_page_kb");
	out->spool_page_size = (uint32_t)(v ? v->i : 16) * 1024;
	if (v && (v->i & (v->i - 1)) != 0)
		mm_diag_add(
		        d, v->file ? v->file : cfg_file(cfg, NULL), v->line,
		        "aggregator.spool_page_kb must be a power of two from 1 to 64, not %lld",
		        (long long)v->i);
	v = mm_cfg_values_find(&out->vals, "dedup_window_sec");
	out->dedup_window_ms = (v ? v->i : 600) * 1000;
	v = mm_cfg_values_find(&out->vals, "health_interval_sec");
	out->health_interval_ms = (v ? v->i : 1) * 1000;
	snprintf(out->spool_dir, sizeof(out->spool_dir), "%s/spool", state_dir);
	snprintf(out->stats_path, sizeof(out->stats_path), "%s/aggregator.json", run_dir);

	if (cfg->aggregator != NULL)
		sinks = config_setting_get_member(cfg->aggregator, "sinks");
	if (sinks != NULL && !config_setting_is_group(sinks)) {
		mm_diag_add(d, cfg_file(cfg, sinks), config_setting_source_line(sinks),
		            "aggregator.sinks must be a group of sinks");
		sinks = NULL;
	}
	if (sinks != NULL) {
		int k, n = config_setting_length(sinks);
		for (k = 0; k < n; k++) {
			const config_setting_t *m = config_setting_get_elem(sinks, (unsigned)k);
			const char *name = config_setting_name(m);
			int known = 0;

			for (i = 0; i < NSINK_TYPES; i++)
				known |= name != NULL && strcmp(name, sink_types[i]->name) == 0;
			if (!known)
				mm_diag_add(
				        d, cfg_file(cfg, m), config_setting_source_line(m),
				        "unknown sink 'aggregator.sinks.%s' (known: file, stdout)",
				        name ? name : "?");
		}
	}
	for (i = 0; i < NSINK_TYPES; i++) {
		struct mm_agg_sink_conf *sc = &out->sinks[out->nsinks];
		const config_setting_t *g =
		        sinks ? config_setting_get_member(sinks, sink_types[i]->name) : NULL;

		sc->ops = sink_types[i];
		if (g != NULL && !config_setting_is_group(g)) {
			mm_diag_add(d, cfg_file(cfg, g), config_setting_source_line(g),
			            "aggregator.sinks.%s must be a group", sink_types[i]->name);
			g = NULL;
		}
		if (g != NULL)
			mm_cfg_validate_group(&sc->vals, g, sc->ops->keys, sc->ops->nkeys, NULL, d);
		else
			mm_cfg_defaults(&sc->vals, sc->ops->keys, sc->ops->nkeys);
		v = mm_cfg_values_find(&sc->vals, "enabled");
		sc->enabled = v ? (int)v->i : 0;
		if (sc->ops == &mm_sink_stdout_ops) {
			v = mm_cfg_values_find(&sc->vals, "format");
			if (v && v->s && strcmp(v->s, "json") != 0 && strcmp(v->s, "pretty") != 0)
				mm_diag_add(d, v->file ? v->file : cfg_file(cfg, g), v->line,
				            "aggregator.sinks.stdout.format must be \"json\" or "
				            "\"pretty\", not '%s'",
				            v->s);
		}
		out->nsinks++;
	}
	rc = d->n > before ? MM_ERR_CONFIG : MM_OK;
out:
	if (diag == NULL)
		mm_diag_free(&local);
	return rc;
}

void
mm_agg_conf_free(struct mm_agg_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nsinks; i++)
		mm_cfg_values_free(&c->sinks[i].vals);
	mm_cfg_values_free(&c->vals);
	memset(c, 0, sizeof(*c));
}

const char *
mm_aggregator_endpoint(const struct mm_config *cfg)
{
	static char ep[MM_PATH_MAX];
	struct mm_agg_conf c;

	mm_agg_conf_load(&c, cfg, NULL);
	mm_strlcpy(ep, c.endpoint, sizeof(ep));
	mm_agg_conf_free(&c);
	return ep;
}

int
mm_aggregator_enabled(const struct mm_config *cfg)
{
	struct mm_agg_conf c;
	int en;

	mm_agg_conf_load(&c, cfg, NULL);
	en = c.enabled;
	mm_agg_conf_free(&c);
	return en;
}

int
mm_aggregator_check_config(const struct mm_config *cfg, struct mm_diag *diag)
{
	struct mm_agg_conf c;
	int rc = mm_agg_conf_load(&c, cfg, diag);

	mm_agg_conf_free(&c);
	return rc;
}
