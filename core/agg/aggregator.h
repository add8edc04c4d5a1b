/*
 * The aggregator process (`mimamori aggregator`) and the operator commands
 * that read what it keeps (`mimamori events tail`, `mimamori status`).
 *
 * The aggregator binds a ZeroMQ ROUTER socket, stores every valid event of
 * a batch in its durable spool (<state_dir>/spool/), deduplicated by event
 * id, acknowledges the batch only after the commit, and forwards the spool
 * to its sinks, each at its own pace. See docs/aggregator.md.
 */
#ifndef MM_CORE_AGG_AGGREGATOR_H
#define MM_CORE_AGG_AGGREGATOR_H

#include "config.h"

/* `mimamori aggregator [--foreground] ...` (argv[0] == "aggregator"): runs
 * until SIGTERM/SIGINT; returns the process exit status. */
int mm_aggregator_main(const struct mm_config *cfg, int argc, char **argv);

/* The endpoint workers connect to: aggregator.endpoint, or
 * ipc://<run_dir>/events.sock. The string stays valid until the next call. */
const char *mm_aggregator_endpoint(const struct mm_config *cfg);

/* aggregator.enabled (default true). */
int mm_aggregator_enabled(const struct mm_config *cfg);

/* `mimamori events tail [--follow] [--kind K] [--min-sev N] [--pretty] [--json]` */
int mm_events_main(const struct mm_config *cfg, int argc, char **argv);

/* `mimamori status [--json]` */
int mm_status_main(const struct mm_config *cfg, int argc, char **argv);

/* Validate the aggregator group and its sinks: "FILE:LINE: ..." into diag.
 * Returns MM_OK or MM_ERR_CONFIG. */
int mm_aggregator_check_config(const struct mm_config *cfg, struct mm_diag *diag);

#endif
