/*
 * The aggregator's configuration: the `aggregator` group and its `sinks`
 * sub-groups, validated with the host's key tables. Used by the aggregator,
 * by check-config and by the operator commands (where the spool is).
 */
#ifndef MM_CORE_AGG_AGGCONF_H
#define MM_CORE_AGG_AGGCONF_H

#include <stdint.h>

#include "config.h"
#include "sink.h"
#include "util.h"

#define MM_AGG_MAX_SINKS 8

struct mm_agg_sink_conf {
	const struct mm_sink_ops *ops;
	int enabled;
	struct mm_cfg_values vals;
};

struct mm_agg_conf {
	int enabled;
	char endpoint[MM_PATH_MAX];
	char spool_dir[MM_PATH_MAX];
	char stats_path[MM_PATH_MAX];
	uint64_t spool_max_bytes;
	int spool_policy; /* enum mm_spool_policy */
	uint32_t spool_page_size;
	int64_t dedup_window_ms;
	int64_t health_interval_ms;
	struct mm_agg_sink_conf sinks[MM_AGG_MAX_SINKS];
	size_t nsinks;
	struct mm_cfg_values vals;
};

/* Validate and fill; diag may be NULL (problems then only make it fail). */
int mm_agg_conf_load(struct mm_agg_conf *out, const struct mm_config *cfg, struct mm_diag *diag);
void mm_agg_conf_free(struct mm_agg_conf *c);

#endif
