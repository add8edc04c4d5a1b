/*
 * The ips plugin (runs in its worker process, or in `mimamori replay`):
 * reads its configuration, loads rules, thresholds and reputation lists
 * from files, feeds every captured packet to the detection engine
 * (ips_engine.c) and turns the engine's alerts into normalized events.
 * SIGHUP reloads rules and lists: the new set is built next to the old one
 * and swapped in only when it loaded, so traffic is never dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimamori/plugin.h>

#include "ips_engine.h"
#include "ips_nfq.h"
#include "ips_rep.h"
#include "ips_rule.h"

struct ips {
	struct ips_engine *eng;
	int capture;
	int timer;
	int inline_mode;
	int queue_num; /* -1: inline verdicts on captured packets, no queue */
	struct ips_nfq *nfq;
	int nfq_watch;
	struct mm_ctx *ctx;
	uint64_t nfq_logged; /* stats last reported */
};

static const struct mm_cfg_key keys[] = {
        {"rules", MM_CFG_STRING_LIST, "ips/rules/mimamori.rules", 0, 0, 0,
         "Rule files (Suricata/Snort syntax); relative paths are under the data directory."},
        {"threshold_file", MM_CFG_STRING, "", 0, 0, 0,
         "threshold.config file (suppress, threshold, event_filter, rate_filter), empty for none."},
        {"classification", MM_CFG_STRING, "ips/classification.config", 0, 0, 0,
         "classification.config mapping classtypes to priorities."},
        {"home_net", MM_CFG_STRING, "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]", 0, 0, 0,
         "Value of $HOME_NET in rules."},
        {"external_net", MM_CFG_STRING, "!$HOME_NET", 0, 0, 0, "Value of $EXTERNAL_NET in rules."},
        {"vars", MM_CFG_STRING, "", 0, 0, 0,
         "More rule variables, e.g. \"HTTP_SERVERS=[10.0.0.5]; DNS_PORTS=53\" (';' separated)."},
        {"reputation", MM_CFG_STRING_LIST, "ips/reputation/example.list", 0, 0, 0,
         "Reputation lists: addresses, CIDR blocks (plain or Suricata iprep) and domains."},
        {"reputation_categories", MM_CFG_STRING, "ips/reputation/categories.txt", 0, 0, 0,
         "Suricata iprep categories file (id,name,description)."},
        {"interface", MM_CFG_STRING, "", 0, 0, 0, "Interface to watch (replay binds to its file)."},
        {"bpf", MM_CFG_STRING, "", 0, 0, 0, "Capture filter."},
        {"mode", MM_CFG_STRING, "passive", 0, 0, 0,
         "passive (alerts only) or inline (drop rules block; needs NFQUEUE)."},
        {"queue_num", MM_CFG_INT, "0", -1, 65535, 0,
         "Inline mode: the NFQUEUE number; -1 gives verdicts on captured packets without a "
         "queue (replay and tests)."},
        {"midstream", MM_CFG_BOOL, "false", 0, 0, 0,
         "Treat TCP connections picked up midstream as established (Suricata's "
         "stream.midstream)."},
        {"max_flows", MM_CFG_INT, "65536", 1024, 16777216, 0, "Flow table cap."},
        {"scan_detection", MM_CFG_BOOL, "true", 0, 0, 0, "Detect port scans and sweeps."},
        {"scan_ports", MM_CFG_INT, "15", 2, 65535, 0, "Distinct ports that make a port scan."},
        {"scan_hosts", MM_CFG_INT, "15", 2, 65535, 0, "Distinct hosts that make a sweep."},
        {"scan_rejects", MM_CFG_INT, "10", 1, 1000000, 0,
         "Refused or unanswered attempts a scan needs."},
        {"scan_window_sec", MM_CFG_INT, "90", 1, 86400, 0, "Scan episode window in seconds."},
        {"scan_allow_sources", MM_CFG_STRING, "", 0, 0, 0,
         "Known scanners, e.g. [192.0.2.10,198.51.100.0/24]."},
        {"scan_allow_targets", MM_CFG_STRING, "", 0, 0, 0, "Hosts whose scans are not reported."},
        {NULL, 0, NULL, 0, 0, 0, NULL}};

static void
on_alert(void *user, const struct ips_alert *a)
{
	struct mm_ctx *ctx = user;
	struct ips *st = ctx->data;
	struct mm_event *ev = mm_ev_new(ctx, MM_KIND_ALERT);
	char buf[64];
	const char *proto = a->proto == 6    ? "tcp"
	                    : a->proto == 17 ? "udp"
	                    : a->proto == 1  ? "icmp"
	                                     : NULL;

	if (ev == NULL)
		return;
	mm_ev_int(ctx, ev, "ocsf", MM_OCSF_DETECTION_FINDING);
	mm_ev_str(ctx, ev, "cat", a->cat);
	mm_ev_int(ctx, ev, "sev", a->sev);
	mm_ev_str(ctx, ev, "action",
	          a->action == IPS_DROP && st && st->inline_mode ? "blocked"
	          : a->action == IPS_PASS                        ? "allowed"
	                                                         : "detected");
	mm_ev_addr(ctx, ev, "src.ip", &a->src);
	mm_ev_addr(ctx, ev, "dst.ip", &a->dst);
	if (a->sport)
		mm_ev_int(ctx, ev, "src.port", a->sport);
	if (a->dport)
		mm_ev_int(ctx, ev, "dst.port", a->dport);
	if (proto)
		mm_ev_str(ctx, ev, "proto", proto);
	if (a->app)
		mm_ev_str(ctx, ev, "app", a->app);
	if (a->dns_query)
		mm_ev_str(ctx, ev, "attrs.dns_query", a->dns_query);
	if (a->sni)
		mm_ev_str(ctx, ev, "attrs.sni", a->sni);
	if (a->host)
		mm_ev_str(ctx, ev, "attrs.http_host", a->host);
	if (a->uri)
		mm_ev_str(ctx, ev, "attrs.http_uri", a->uri);
	if (a->kind == IPS_AK_RULE) {
		mm_ev_str(ctx, ev, "rule.ns", "ips");
		mm_ev_int(ctx, ev, "rule.id", a->rule->sid);
		mm_ev_int(ctx, ev, "rule.rev", a->rule->rev);
		mm_ev_str(ctx, ev, "rule.name", a->rule->msg);
		if (a->rule->gid != 1)
			mm_ev_int(ctx, ev, "attrs.gid", a->rule->gid);
		if (a->rule->classtype)
			mm_ev_str(ctx, ev, "attrs.classtype", a->rule->classtype);
		mm_ev_msg(ctx, ev, "ips.rule", (const char *[]){"name", a->rule->msg, NULL});
	} else if (a->kind == IPS_AK_SCAN) {
		char src[MM_ADDR_STRLEN], dst[MM_ADDR_STRLEN], n[16], h[16];
		int sweep = strcmp(a->scan_type, "portsweep") == 0;
		mm_ev_str(ctx, ev, "rule.ns", "ips");
		/* Built-in detections use sids 9000001-9000010 (see docs/ips.md). */
		mm_ev_int(ctx, ev, "rule.id",
		          sweep                                   ? 9000002
		          : strcmp(a->scan_type, "portscan") == 0 ? 9000001
		                                                  : 9000003);
		mm_ev_int(ctx, ev, "rule.rev", 1);
		mm_ev_str(ctx, ev, "rule.name", a->scan_type);
		mm_ev_str(ctx, ev, "attrs.scan_type", a->scan_type);
		mm_ev_int(ctx, ev, "attrs.ports", a->scan_ports);
		mm_ev_int(ctx, ev, "attrs.hosts", a->scan_hosts);
		mm_ev_int(ctx, ev, "attrs.rejects", a->scan_rejects);
		mm_ev_int(ctx, ev, "attrs.attempts", a->scan_attempts);
		mm_ev_str(ctx, ev, "attrs.port_list", a->scan_port_list);
		snprintf(n, sizeof(n), "%u", a->scan_ports);
		snprintf(h, sizeof(h), "%u", a->scan_hosts);
		mm_addr_format(src, &a->src);
		mm_addr_format(dst, &a->dst);
		if (!a->src.family)
			mm_ev_msg(ctx, ev, "ips.scan_distributed",
			          (const char *[]){"dst", dst, "ports", n, "hosts", h, NULL});
		else if (sweep || !a->dst.family)
			mm_ev_msg(ctx, ev, "ips.sweep",
			          (const char *[]){"src", src, "ports", n, "hosts", h, NULL});
		else
			mm_ev_msg(ctx, ev, "ips.scan",
			          (const char *[]){"src", src, "dst", dst, "ports", n, NULL});
	} else {
		mm_ev_str(ctx, ev, "rule.ns", "ips");
		snprintf(buf, sizeof(buf), "reputation: %s", a->rep_category);
		mm_ev_int(ctx, ev, "rule.id", 9000010);
		mm_ev_int(ctx, ev, "rule.rev", 1);
		mm_ev_str(ctx, ev, "rule.name", buf);
		mm_ev_str(ctx, ev, "attrs.rep_category", a->rep_category);
		mm_ev_str(ctx, ev, "attrs.rep_indicator", a->rep_indicator);
		mm_ev_str(ctx, ev, "attrs.rep_match", a->rep_where);
		mm_ev_msg(ctx, ev, "ips.reputation",
		          (const char *[]){"indicator", a->rep_indicator, "category",
		                           a->rep_category, NULL});
	}
	mm_emit(ctx, ev);
}

/* Rule variables: the defaults, home_net/external_net and "vars". */
static int
load_vars(struct mm_ctx *ctx, struct ips_vars *v)
{
	char buf[4096], *tok, *save = NULL;
	const char *extra = mm_cfg_str(ctx, "vars");

	if (ips_vars_init(v) != MM_OK)
		return MM_ERR_NOMEM;
	ips_vars_set(v, "HOME_NET", mm_cfg_str(ctx, "home_net"));
	ips_vars_set(v, "EXTERNAL_NET", mm_cfg_str(ctx, "external_net"));
	snprintf(buf, sizeof(buf), "%s", extra ? extra : "");
	for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(tok, '='), *name = tok, *e;
		if (eq == NULL) {
			while (*name == ' ')
				name++;
			if (*name == 0)
				continue;
			mm_log(ctx, MM_LOG_ERROR, "vars: '%s' is not NAME=VALUE", tok);
			return MM_ERR_CONFIG;
		}
		*eq = 0;
		while (*name == ' ' || *name == '$')
			name++;
		for (e = eq; e > name && e[-1] == ' ';)
			*--e = 0;
		if (ips_vars_set(v, name, eq + 1) != MM_OK)
			return MM_ERR_NOMEM;
	}
	return MM_OK;
}

/* Build rules from the configured files; NULL on a fatal error. */
static struct ips_ruleset *
load_rules(struct mm_ctx *ctx, const struct ips_vars *vp)
{
	struct ips_ruleset *rs = NULL;
	char path[4096], sum[2048];
	size_t i, n;
	const char *cls = mm_cfg_str(ctx, "classification");
	int rc;

	if (ips_ruleset_new(&rs) != MM_OK)
		goto fail;
	ips_ruleset_default_classes(rs);
	if (cls && *cls) {
		mm_data_path(ctx, path, sizeof(path), cls);
		if (ips_ruleset_load_classes(rs, path) != MM_OK)
			mm_log(ctx, MM_LOG_WARN, "classification %s not readable, using built-in",
			       path);
	}
	n = ctx->api->cfg_list_count(ctx, "rules");
	for (i = 0; i < n; i++) {
		mm_data_path(ctx, path, sizeof(path), ctx->api->cfg_list_at(ctx, "rules", i));
		rc = ips_ruleset_load_file(rs, vp, path);
		if (rc != MM_OK) {
			mm_log(ctx, MM_LOG_ERROR, "rules %s: %s", path, mm_strerror(rc));
			goto fail;
		}
	}
	ips_ruleset_summary(rs, sum, sizeof(sum));
	mm_log(ctx, MM_LOG_INFO, "%s", sum);
	mm_counter_add(ctx, "rules.loaded", (int64_t)rs->loaded);
	mm_counter_add(ctx, "rules.skipped", (int64_t)rs->skipped);
	return rs;
fail:
	ips_ruleset_free(rs);
	return NULL;
}

static struct ips_rep *
load_rep(struct mm_ctx *ctx)
{
	struct ips_rep *rep = NULL;
	char path[4096];
	size_t i, n = ctx->api->cfg_list_count(ctx, "reputation"), bad = 0;
	const char *cats = mm_cfg_str(ctx, "reputation_categories");

	if (ips_rep_new(&rep) != MM_OK)
		return NULL;
	if (cats && *cats) {
		mm_data_path(ctx, path, sizeof(path), cats);
		ips_rep_load_categories(rep, path);
	}
	for (i = 0; i < n; i++) {
		int rc;
		mm_data_path(ctx, path, sizeof(path), ctx->api->cfg_list_at(ctx, "reputation", i));
		rc = ips_rep_load_file(rep, path, "malware", &bad);
		if (rc != MM_OK) {
			mm_log(ctx, MM_LOG_ERROR, "reputation %s: %s", path, mm_strerror(rc));
			ips_rep_free(rep);
			return NULL;
		}
	}
	if (bad)
		mm_log(ctx, MM_LOG_WARN, "reputation: %zu unreadable lines skipped", bad);
	mm_log(ctx, MM_LOG_INFO, "reputation: %zu entries", ips_rep_count(rep));
	return rep;
}

static int
load_all(struct mm_ctx *ctx, struct ips_engine *eng)
{
	struct ips_ruleset *rs;
	struct ips_rep *rep;
	struct ips_vars v;
	const char *thr = mm_cfg_str(ctx, "threshold_file");
	int rc;

	if ((rc = load_vars(ctx, &v)) != MM_OK) {
		ips_vars_free(&v);
		return rc;
	}
	rs = load_rules(ctx, &v);
	if (rs == NULL) {
		ips_vars_free(&v);
		return MM_ERR_CONFIG;
	}
	rep = load_rep(ctx);
	if (rep == NULL) {
		ips_vars_free(&v);
		ips_ruleset_free(rs);
		return MM_ERR_CONFIG;
	}
	if (thr && *thr) {
		char path[4096], err[512];
		mm_data_path(ctx, path, sizeof(path), thr);
		rc = ips_engine_load_thresholds_vars(eng, path, &v, err, sizeof(err));
		if (rc != MM_OK) {
			mm_log(ctx, MM_LOG_ERROR, "%s", err);
			ips_vars_free(&v);
			ips_ruleset_free(rs);
			ips_rep_free(rep);
			return MM_ERR_CONFIG;
		}
	}
	ips_vars_free(&v);
	if ((rc = ips_engine_set_rules(eng, rs)) != MM_OK) {
		ips_rep_free(rep);
		return rc;
	}
	ips_engine_set_rep(eng, rep);
	return MM_OK;
}

static int
parse_set(struct ips_addrset *out, const char *text)
{
	struct ips_ruleset *rs = NULL;
	struct ips_vars v;
	char line[4096];
	int rc = MM_OK;

	memset(out, 0, sizeof(*out));
	if (text == NULL || *text == 0)
		return MM_OK;
	/* Reuse the rule parser for address lists. */
	ips_vars_init(&v);
	ips_ruleset_new(&rs);
	snprintf(line, sizeof(line), "alert ip %s any -> any any (sid:1;)", text);
	ips_ruleset_add_line(rs, &v, line, "config", 0);
	if (rs == NULL || rs->n != 1) {
		rc = MM_ERR_CONFIG;
	} else {
		*out = rs->rules[0]->src;
		memset(&rs->rules[0]->src, 0, sizeof(rs->rules[0]->src));
	}
	ips_ruleset_free(rs);
	ips_vars_free(&v);
	return rc;
}

static void
tick(struct mm_ctx *ctx, void *user)
{
	struct ips *st = ctx->data;

	ips_engine_tick(st->eng, ctx->api->now_ns(ctx), 0);
}

static void
on_packet(struct mm_ctx *ctx, const struct mm_packet *pkt, void *user)
{
	struct ips *st = ctx->data;

	ips_engine_packet(st->eng, pkt, pkt->ts_ns);
}

/* A queued IP packet: decode, run the engine, return the verdict. */
static int
on_nfq_packet(void *user, const uint8_t *data, size_t len)
{
	struct mm_ctx *ctx = user;
	struct ips *st = ctx->data;
	struct mm_packet pkt;
	uint64_t now = ctx->api->now_ns(ctx);

	mm_packet_decode(&pkt, MM_LINK_RAW, now, data, (uint32_t)len, (uint32_t)len);
	return ips_engine_packet(st->eng, &pkt, now);
}

static void
on_nfq_readable(struct mm_ctx *ctx, int fd, unsigned revents, void *user)
{
	struct ips *st = ctx->data;
	const struct ips_nfq_stats *ns;

	(void)fd;
	(void)revents;
	(void)user;
	ips_nfq_read(st->nfq);
	ns = ips_nfq_stats(st->nfq);
	if (ns->packets - st->nfq_logged >= 1000) {
		mm_counter_add(ctx, "inline.packets", (int64_t)(ns->packets - st->nfq_logged));
		st->nfq_logged = ns->packets;
	}
}

static int
ips_init(struct mm_ctx *ctx)
{
	struct ips *st = calloc(1, sizeof(*st));
	struct ips_engine_opts o;
	int rc;

	if (st == NULL)
		return MM_ERR_NOMEM;
	ctx->data = st;
	st->capture = -1;
	st->timer = -1;
	memset(&o, 0, sizeof(o));
	st->inline_mode = strcmp(mm_cfg_str(ctx, "mode"), "inline") == 0;
	if (!st->inline_mode && strcmp(mm_cfg_str(ctx, "mode"), "passive") != 0) {
		mm_log(ctx, MM_LOG_ERROR, "mode must be passive or inline");
		return MM_ERR_CONFIG;
	}
	o.inline_mode = st->inline_mode;
	st->queue_num = (int)mm_cfg_int(ctx, "queue_num");
	st->nfq_watch = -1;
	st->ctx = ctx;
	o.midstream = mm_cfg_bool(ctx, "midstream");
	o.max_flows = (uint32_t)mm_cfg_int(ctx, "max_flows");
	o.scan_enabled = mm_cfg_bool(ctx, "scan_detection");
	o.scan.ports = (uint32_t)mm_cfg_int(ctx, "scan_ports");
	o.scan.hosts = (uint32_t)mm_cfg_int(ctx, "scan_hosts");
	o.scan.rejects = (uint32_t)mm_cfg_int(ctx, "scan_rejects");
	o.scan.window_s = (uint32_t)mm_cfg_int(ctx, "scan_window_sec");
	if (parse_set(&o.scan.allow_src, mm_cfg_str(ctx, "scan_allow_sources")) != MM_OK ||
	    parse_set(&o.scan.allow_dst, mm_cfg_str(ctx, "scan_allow_targets")) != MM_OK) {
		mm_log(ctx, MM_LOG_ERROR, "scan_allow_sources/targets: bad address list");
		return MM_ERR_CONFIG;
	}
	rc = ips_engine_new(&st->eng, &o, on_alert, ctx);
	if (rc != MM_OK)
		return rc;
	return load_all(ctx, st->eng);
}

static int
ips_start(struct mm_ctx *ctx)
{
	struct ips *st = ctx->data;
	struct mm_capture_opts co;
	const char *ifc = mm_cfg_str(ctx, "interface"), *bpf = mm_cfg_str(ctx, "bpf");

	st->timer = ctx->api->timer_add(ctx, 1000, 1, tick, NULL);
	if (st->inline_mode && st->queue_num >= 0) {
		/* Inline: packets come from NFQUEUE and get a verdict each. */
		char err[256];
		int rc = ips_nfq_open(&st->nfq, (uint16_t)st->queue_num, on_nfq_packet, ctx, err,
		                      sizeof(err));
		if (rc != MM_OK) {
			mm_log(ctx, MM_LOG_ERROR,
			       "inline mode: cannot open NFQUEUE %d: %s (traffic keeps flowing "
			       "when "
			       "the iptables rule uses --queue-bypass)",
			       st->queue_num, err);
			return rc;
		}
		st->nfq_watch = ctx->api->fd_watch(ctx, ips_nfq_fd(st->nfq), MM_FD_READ,
		                                   on_nfq_readable, NULL);
		if (st->nfq_watch < 0)
			return st->nfq_watch;
		mm_log(ctx, MM_LOG_INFO, "inline mode on NFQUEUE %d (fail-open)", st->queue_num);
		return MM_OK;
	}
	memset(&co, 0, sizeof(co));
	co.size = sizeof(co);
	co.interface = ifc && *ifc ? ifc : NULL;
	co.bpf = bpf && *bpf ? bpf : NULL;
	co.promisc = 1;
	st->capture = ctx->api->capture_open(ctx, &co, on_packet, NULL);
	if (st->capture < 0)
		return st->capture;
	return MM_OK;
}

static void
ips_stop(struct mm_ctx *ctx)
{
	struct ips *st = ctx->data;

	if (st == NULL || st->eng == NULL)
		return;
	if (st->timer >= 0)
		ctx->api->timer_cancel(ctx, st->timer);
	if (st->capture >= 0)
		ctx->api->capture_close(ctx, st->capture);
	if (st->nfq_watch >= 0)
		ctx->api->fd_unwatch(ctx, st->nfq_watch);
	st->nfq_watch = -1;
	if (st->nfq) {
		const struct ips_nfq_stats *ns = ips_nfq_stats(st->nfq);
		mm_log(ctx, MM_LOG_INFO, "inline: %llu packets, %llu dropped",
		       (unsigned long long)ns->packets, (unsigned long long)ns->dropped);
		ips_nfq_close(st->nfq);
		st->nfq = NULL;
	}
	/* Pending scan episodes are reported before the worker goes. */
	ips_engine_tick(st->eng, ctx->api->now_ns(ctx), 1);
}

static void
ips_fini(struct mm_ctx *ctx)
{
	struct ips *st = ctx->data;

	if (st == NULL)
		return;
	ips_engine_free(st->eng);
	free(st);
	ctx->data = NULL;
}

static int
ips_reload(struct mm_ctx *ctx)
{
	struct ips *st = ctx->data;

	return load_all(ctx, st->eng);
}

static const struct mm_plugin plugin = {
        .abi_version = MM_ABI_VERSION,
        .size = sizeof(struct mm_plugin),
        .name = "ips",
        .version = "0.1.0",
        .vendor = "mimamori",
        .description = "Packet IPS: Suricata/Snort rules, port scans, reputation of addresses and "
                       "domains.",
        .roles = MM_ROLE_UTM | MM_ROLE_PC,
        .caps = MM_CAP_PACKETS | MM_CAP_INLINE,
        .config = keys,
        .init = ips_init,
        .start = ips_start,
        .stop = ips_stop,
        .fini = ips_fini,
        .reload = ips_reload,
};

MM_PLUGIN_EXPORT const struct mm_plugin *mm_plugin_entry(void);

MM_PLUGIN_EXPORT const struct mm_plugin *
mm_plugin_entry(void)
{
	return &plugin;
}
