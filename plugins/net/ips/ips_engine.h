/*
 * The ips detection engine: flow table, compiled rules with the
 * Aho-Corasick prefilter, thresholds, port scan detection and reputation,
 * driven one decoded packet at a time. The plugin layer (ips.c) turns its
 * alerts into events; tests drive it directly.
 */
#ifndef MM_IPS_ENGINE_H
#define MM_IPS_ENGINE_H

#include <stdint.h>

#include "ips_rule.h"
#include "mimamori/flow.h"
#include "mimamori/packet.h"

enum ips_alert_kind { IPS_AK_RULE = 0, IPS_AK_SCAN = 1, IPS_AK_REP = 2 };

#define IPS_SCAN_PORTS_TEXT 256

struct ips_alert {
	int kind;
	uint64_t ts_ns;
	const struct ips_rule *rule; /* IPS_AK_RULE */
	int sev;                     /* OCSF severity */
	const char *cat;             /* scan, c2, intrusion, policy */
	int action;                  /* enum ips_action as decided */
	uint8_t proto;
	struct mm_addr src, dst;
	uint16_t sport, dport;
	const char *app; /* "dns", "tls", "http" or NULL */
	const char *dns_query, *sni, *host, *uri, *ua;
	/* IPS_AK_SCAN */
	const char *scan_type; /* "portscan", "portsweep", "distributed_portscan" */
	uint32_t scan_ports, scan_hosts, scan_rejects, scan_attempts;
	char scan_port_list[IPS_SCAN_PORTS_TEXT];
	/* IPS_AK_REP */
	const char *rep_category;
	const char *rep_indicator; /* the matching address or domain */
	const char *rep_where;     /* "ip", "dns_query", "dns_answer", "tls_sni", "http_host" */
};

typedef void (*ips_alert_cb)(void *user, const struct ips_alert *a);

struct ips_scan_opts {
	uint32_t ports;               /* distinct ports to call a vertical scan [15] */
	uint32_t hosts;               /* distinct hosts to call a sweep [15] */
	uint32_t rejects;             /* refused/unanswered attempts needed [10] */
	uint32_t window_s;            /* [90] */
	uint32_t max_sources;         /* tracked sources / targets [16384] */
	struct ips_addrset allow_src; /* known scanners */
	struct ips_addrset allow_dst; /* hosts whose scans are ignored */
};

struct ips_engine_opts {
	int inline_mode; /* drop rules block */
	int midstream;   /* TCP picked up midstream may be "established" */
	uint32_t max_flows;
	int scan_enabled;
	struct ips_scan_opts scan;
	uint32_t max_thresholds; /* threshold tracking entries [65536] */
};

struct ips_engine_stats {
	uint64_t packets, bytes, alerts, drops, suppressed, candidates, verify_steps_limit;
	uint64_t threshold_table_full, app_dns, app_tls, app_http;
};

struct ips_engine;
struct ips_rep;

int ips_engine_new(struct ips_engine **out, const struct ips_engine_opts *opts, ips_alert_cb cb,
                   void *user);
void ips_engine_free(struct ips_engine *e);
/* Replace the rules: the engine takes ownership of rs (also on error) and
 * frees the old set. On error the old rules stay. */
int ips_engine_set_rules(struct ips_engine *e, struct ips_ruleset *rs);
/* Replace the reputation data (ownership taken); NULL removes it. */
void ips_engine_set_rep(struct ips_engine *e, struct ips_rep *rep);
/* Load a threshold.config (suppress, threshold, event_filter, rate_filter). */
int ips_engine_load_thresholds(struct ips_engine *e, const char *path, char *err, size_t errlen);
/* The same with rule variables for "ip $VAR" (vars may be NULL). */
int ips_engine_load_thresholds_vars(struct ips_engine *e, const char *path,
                                    const struct ips_vars *vars, char *err, size_t errlen);
/* Process one packet. Returns 1 when the packet should be dropped (inline
 * mode and a drop rule, or a blocked reputation category), else 0. */
int ips_engine_packet(struct ips_engine *e, const struct mm_packet *pkt, uint64_t now_ns);
/* Expire flows and scan windows; flush everything at the end with
 * final = 1 (emits pending scan alerts). */
void ips_engine_tick(struct ips_engine *e, uint64_t now_ns, int final);
const struct ips_engine_stats *ips_engine_stats(const struct ips_engine *e);
const struct ips_ruleset *ips_engine_rules(const struct ips_engine *e);
const struct mm_flow_stats *ips_engine_flow_stats(const struct ips_engine *e);

#endif
