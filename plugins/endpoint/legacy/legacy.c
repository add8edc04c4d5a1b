/*
 * The legacy-OS watcher plugin: the thin layer between the host and the
 * detection code. On a PC (role pc) it runs the end-of-life and protection
 * checks at start and then daily and turns the report into an inventory
 * event and plain-language alerts; on a UTM (role utm) it feeds captured
 * packets to the passive fingerprinting engine and turns its host changes
 * into inventory events and legacy_os alerts. Runs in the legacy module's
 * worker process.
 */
#include "legacy.h"

#include <mimamori/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEGACY_VERSION "0.1.0"

struct legacy_state {
	int run_pc, run_utm;
	struct legacy_eol *eol;
	struct legacy_p0f db;
	struct legacy_sigtab tab;
	struct legacy_utm *utm;
	int64_t fixed_day; /* eol_reference, or -1 for today */
	int capture_id;
	int timer_id;
};

static const struct mm_cfg_key config_keys[] = {
        {"mode", MM_CFG_STRING, "auto", 0, -1, 0,
         "auto (follow the sensor role), pc, utm or both."},
        {"eol_table", MM_CFG_STRING, "legacy/eol.tsv", 0, -1, 0,
         "End-of-life table (product, version, date, source); relative to the data directory."},
        {"eol_reference", MM_CFG_STRING, "", 0, -1, 0,
         "Judge end of life as of this YYYY-MM-DD date instead of today (for tests and audits)."},
        {"signals", MM_CFG_STRING, "legacy/signals.tsv", 0, -1, 0,
         "Passive signal table mapping fingerprints to operating systems."},
        {"p0f_fp", MM_CFG_STRING, "/etc/p0f/p0f.fp", 0, -1, 0,
         "p0f v3 fingerprint database (Debian package p0f); missing means no TCP signal."},
        {"syn_extra", MM_CFG_STRING, "legacy/syn-extra.fp", 0, -1, 0,
         "Extra TCP signatures in p0f v3 format, read after p0f_fp."},
        {"min_signals", MM_CFG_INT, "2", 1, 4, 0,
         "Independent signal families that must agree before a device is called legacy."},
        {"max_hosts", MM_CFG_INT, "4096", 16, 1048576, 0, "Devices tracked at most."},
        {"interface", MM_CFG_STRING, "any", 0, -1, 0, "Capture interface on a UTM."},
        {"bpf", MM_CFG_STRING, "", 0, -1, 0, "Optional capture filter."},
        {"root", MM_CFG_STRING, "/", 0, -1, 0,
         "Root directory the PC checks read below (a fixture tree in tests)."},
        {"clamav_dir", MM_CFG_STRING, "/var/lib/clamav", 0, -1, 0,
         "ClamAV database directory, below root."},
        {"av_max_age_days", MM_CFG_INT, "7", 1, 365, 0,
         "Antivirus signatures older than this many days are stale."},
        {"apt_file", MM_CFG_STRING, "", 0, -1, 0,
         "Saved `apt-get -s upgrade` output below root; empty runs apt_command instead."},
        {"apt_command", MM_CFG_STRING, "apt-get -s -q -o Debug::NoLocking=true upgrade", 0, -1, 0,
         "Command listing pending upgrades (only run when root is /)."},
        {"fw_file", MM_CFG_STRING, "", 0, -1, 0,
         "Saved firewall ruleset (nft list ruleset or iptables-save) below root."},
        {"fw_command", MM_CFG_STRING, "nft list ruleset", 0, -1, 0,
         "Command printing the active firewall ruleset (only run when root is /)."},
        {"inventory_hours", MM_CFG_INT, "24", 1, 720, 0, "Hours between PC inventory checks."},
        {NULL, 0, NULL, 0, 0, 0, NULL}};

/* Resolve a configured data path against the data directory. */
static void
data_path(struct mm_ctx *ctx, char *out, size_t outlen, const char *key)
{
	mm_data_path(ctx, out, outlen, mm_cfg_str(ctx, key));
}

static int64_t
today(const struct legacy_state *st)
{
	struct timespec ts;

	if (st->fixed_day >= 0)
		return st->fixed_day;
	/* End of life is judged against the real date, also in replay: an
	 * XP capture from 2004 shows an unsupported OS today. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec / 86400;
}

/* ------------------------------------------------------------------ */
/* PC side. */

static void
pc_alert(struct mm_ctx *ctx, const struct legacy_pc_report *r, int id, const char *name, int sev,
         const char *msg_id, const char *const *args)
{
	struct mm_event *ev = mm_ev_new(ctx, MM_KIND_ALERT);

	if (ev == NULL)
		return;
	mm_ev_int(ctx, ev, "ocsf", MM_OCSF_DETECTION_FINDING);
	mm_ev_str(ctx, ev, "cat", "legacy_os");
	mm_ev_int(ctx, ev, "sev", sev);
	mm_ev_str(ctx, ev, "action", "detected");
	mm_ev_str(ctx, ev, "rule.ns", "legacy");
	mm_ev_int(ctx, ev, "rule.id", id);
	mm_ev_int(ctx, ev, "rule.rev", 1);
	mm_ev_str(ctx, ev, "rule.name", name);
	mm_ev_str(ctx, ev, "dev.os", r->os.pretty[0] ? r->os.pretty : r->os.id);
	mm_ev_str(ctx, ev, "attrs.os_id", r->os.id);
	mm_ev_str(ctx, ev, "attrs.os_version", r->os.version_id);
	mm_ev_msg(ctx, ev, msg_id, args);
	mm_emit(ctx, ev);
}

static void
pc_run(struct mm_ctx *ctx, void *user)
{
	struct legacy_state *st = ctx->data;
	struct legacy_pc_opts o;
	struct legacy_pc_report r;
	struct mm_event *ev;
	char days[24], count[24];
	const char *os;
	int64_t now_s = (int64_t)(ctx->api->now_ns(ctx) / 1000000000ull);

	memset(&o, 0, sizeof(o));
	o.root = mm_cfg_str(ctx, "root");
	o.clamav_dir = mm_cfg_str(ctx, "clamav_dir");
	o.av_max_age_days = (int)mm_cfg_int(ctx, "av_max_age_days");
	o.apt_file = mm_cfg_str(ctx, "apt_file");
	o.apt_command = mm_cfg_str(ctx, "apt_command");
	o.fw_file = mm_cfg_str(ctx, "fw_file");
	o.fw_command = mm_cfg_str(ctx, "fw_command");
	if (st->fixed_day >= 0)
		now_s = st->fixed_day * 86400 + 43200;
	legacy_pc_check(&r, &o, st->eol, now_s);
	os = r.os.pretty[0] ? r.os.pretty : r.os.id;
	mm_counter_add(ctx, "pc_checks", 1);

	ev = mm_ev_new(ctx, MM_KIND_ASSET);
	if (ev != NULL) {
		mm_ev_int(ctx, ev, "ocsf", MM_OCSF_DEVICE_INVENTORY);
		mm_ev_str(ctx, ev, "cat", "inventory");
		mm_ev_int(ctx, ev, "sev", MM_SEV_INFO);
		mm_ev_str(ctx, ev, "action", "detected");
		mm_ev_str(ctx, ev, "dev.os", os);
		mm_ev_str(ctx, ev, "attrs.os_id", r.os.id);
		mm_ev_str(ctx, ev, "attrs.os_version", r.os.version_id);
		mm_ev_str(ctx, ev, "attrs.kernel", r.os.kernel);
		if (r.eol_known) {
			mm_ev_str(ctx, ev, "attrs.eol_date", r.eol_date);
			mm_ev_bool(ctx, ev, "attrs.eol_past", r.eol_past);
			mm_ev_str(ctx, ev, "attrs.eol_source", r.eol_source);
		}
		if (st->eol->updated[0])
			mm_ev_str(ctx, ev, "attrs.eol_table_updated", st->eol->updated);
		if (r.av_present != LEGACY_UNKNOWN)
			mm_ev_bool(ctx, ev, "attrs.av_present", r.av_present == LEGACY_YES);
		if (r.av_age_days >= 0)
			mm_ev_int(ctx, ev, "attrs.av_signature_age_days", r.av_age_days);
		if (r.updates_known) {
			mm_ev_int(ctx, ev, "attrs.updates_pending", r.updates_total);
			mm_ev_int(ctx, ev, "attrs.security_updates_pending", r.updates_security);
		}
		if (r.fw_active != LEGACY_UNKNOWN)
			mm_ev_bool(ctx, ev, "attrs.firewall_active", r.fw_active == LEGACY_YES);
		mm_ev_msg(ctx, ev, "legacy.pc_inventory",
		          (const char *[]){"os", os, "eol", r.eol_known ? r.eol_date : "?", NULL});
		mm_emit(ctx, ev);
	}

	if (r.eol_known && r.eol_past)
		pc_alert(ctx, &r, 100, "os_end_of_life", MM_SEV_HIGH, "legacy.pc_eol",
		         (const char *[]){"os", os, "eol", r.eol_date, NULL});
	if (r.av_present == LEGACY_NO)
		pc_alert(ctx, &r, 101, "antivirus_missing", MM_SEV_HIGH, "legacy.pc_av_missing",
		         (const char *[]){NULL});
	if (r.av_present == LEGACY_YES && r.av_age_days < 0) {
		/* A database without a readable date is as bad as an old one. */
		pc_alert(ctx, &r, 102, "antivirus_stale", MM_SEV_MEDIUM, "legacy.pc_av_stale",
		         (const char *[]){"days", "?", NULL});
	} else if (r.av_present == LEGACY_YES && r.av_stale) {
		snprintf(days, sizeof(days), "%lld", (long long)r.av_age_days);
		pc_alert(ctx, &r, 102, "antivirus_stale", MM_SEV_MEDIUM, "legacy.pc_av_stale",
		         (const char *[]){"days", days, NULL});
	}
	if (r.updates_known && r.updates_security > 0) {
		snprintf(count, sizeof(count), "%d", r.updates_security);
		pc_alert(ctx, &r, 103, "security_updates_pending", MM_SEV_MEDIUM,
		         "legacy.pc_updates", (const char *[]){"count", count, NULL});
	}
	if (r.fw_active == LEGACY_NO)
		pc_alert(ctx, &r, 104, "firewall_inactive", MM_SEV_LOW, "legacy.pc_firewall",
		         (const char *[]){NULL});
}

/* ------------------------------------------------------------------ */
/* UTM side. */

static void
host_fields(struct mm_ctx *ctx, struct mm_event *ev, const struct legacy_host *h,
            const struct legacy_assess *a, const char *ip)
{
	char line[256];
	size_t i;

	mm_ev_str(ctx, ev, "dev.ip", ip);
	if (h->has_mac)
		mm_ev_mac(ctx, ev, "dev.mac", h->mac);
	if (a->os != NULL)
		mm_ev_str(ctx, ev, "dev.os", a->os);
	if (h->hostname[0])
		mm_ev_str(ctx, ev, "dev.hostname", h->hostname);
	mm_ev_bool(ctx, ev, "attrs.legacy", a->is_legacy);
	mm_ev_int(ctx, ev, "attrs.confidence", a->confidence);
	for (i = 0; i < (size_t)a->legacy_families; i++)
		mm_ev_add_str(ctx, ev, "attrs.families", a->families[i]);
	for (i = 0; i < h->nsig; i++) {
		const struct legacy_signal *s = &h->sig[i];
		snprintf(line, sizeof(line), "%s/%s: %s [%s] %s", legacy_family_name(s->family),
		         s->kind, s->os,
		         s->verdict == LV_LEGACY    ? "legacy"
		         : s->verdict == LV_CURRENT ? "current"
		                                    : "neutral",
		         s->evidence);
		mm_ev_add_str(ctx, ev, "attrs.signals", line);
	}
}

static void
on_change(void *user, struct legacy_host *h, int change, const struct legacy_assess *a)
{
	struct mm_ctx *ctx = user;
	struct mm_event *ev;
	char ip[MM_ADDR_STRLEN], peer[MM_ADDR_STRLEN + 8];
	const char *os = a->os != NULL ? a->os : "?";

	mm_addr_format(ip, &h->ip);
	if (ip[0] == '\0')
		mm_mac_format(ip, h->mac);
	if (change == LEGACY_CH_INVENTORY) {
		ev = mm_ev_new(ctx, MM_KIND_ASSET);
		if (ev == NULL)
			return;
		mm_ev_int(ctx, ev, "ocsf", MM_OCSF_DEVICE_INVENTORY);
		mm_ev_str(ctx, ev, "cat", "inventory");
		mm_ev_int(ctx, ev, "sev", MM_SEV_INFO);
		mm_ev_str(ctx, ev, "action", "detected");
		host_fields(ctx, ev, h, a, ip);
		mm_ev_msg(ctx, ev, "legacy.host_inventory",
		          (const char *[]){"ip", ip, "os", os, NULL});
		mm_emit(ctx, ev);
		return;
	}
	ev = mm_ev_new(ctx, MM_KIND_ALERT);
	if (ev == NULL)
		return;
	mm_ev_int(ctx, ev, "ocsf", MM_OCSF_DETECTION_FINDING);
	mm_ev_str(ctx, ev, "cat", "legacy_os");
	mm_ev_str(ctx, ev, "action", "detected");
	mm_ev_str(ctx, ev, "rule.ns", "legacy");
	mm_ev_int(ctx, ev, "rule.rev", 1);
	mm_ev_addr(ctx, ev, "src.ip", &h->ip);
	if (h->has_mac)
		mm_ev_mac(ctx, ev, "src.mac", h->mac);
	host_fields(ctx, ev, h, a, ip);
	if (change == LEGACY_CH_LEGACY) {
		mm_ev_int(ctx, ev, "sev", h->ext_packets > 0 ? MM_SEV_HIGH : MM_SEV_MEDIUM);
		mm_ev_int(ctx, ev, "rule.id", 1);
		mm_ev_str(ctx, ev, "rule.name", "legacy_os_on_lan");
		mm_ev_msg(ctx, ev, "legacy.host_eol", (const char *[]){"ip", ip, "os", os, NULL});
		mm_counter_add(ctx, "legacy_hosts", 1);
	} else {
		mm_addr_format(peer, &h->ext_peer);
		mm_ev_int(ctx, ev, "sev", MM_SEV_HIGH);
		mm_ev_int(ctx, ev, "rule.id", 2);
		mm_ev_str(ctx, ev, "rule.name", "legacy_os_internet");
		mm_ev_addr(ctx, ev, "dst.ip", &h->ext_peer);
		mm_ev_int(ctx, ev, "dst.port", h->ext_port);
		mm_ev_str(ctx, ev, "proto",
		          h->ext_proto == 6    ? "tcp"
		          : h->ext_proto == 17 ? "udp"
		                               : "ip");
		mm_ev_msg(ctx, ev, "legacy.host_internet",
		          (const char *[]){"ip", ip, "os", os, "peer", peer, NULL});
		mm_counter_add(ctx, "legacy_hosts_online", 1);
	}
	mm_emit(ctx, ev);
}

static void
on_packet(struct mm_ctx *ctx, const struct mm_packet *pkt, void *user)
{
	struct legacy_state *st = user;

	legacy_utm_packet(st->utm, pkt);
}

/* ------------------------------------------------------------------ */
/* Life cycle. */

static void legacy_fini(struct mm_ctx *ctx);

static int
legacy_init(struct mm_ctx *ctx)
{
	struct legacy_state *st;
	struct legacy_utm_opts uo;
	char path[4096];
	const char *mode = mm_cfg_str(ctx, "mode");
	const char *ref = mm_cfg_str(ctx, "eol_reference");
	int role = ctx->api->role(ctx), rc = MM_OK;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return MM_ERR_NOMEM;
	ctx->data = st;
	st->capture_id = -1;
	st->timer_id = -1;
	st->fixed_day = -1;
	if (ref != NULL && ref[0] != '\0' && legacy_parse_date(&st->fixed_day, ref) != MM_OK) {
		mm_log(ctx, MM_LOG_ERROR, "eol_reference \"%s\" is not a YYYY-MM-DD date", ref);
		rc = MM_ERR_CONFIG;
		goto out;
	}
	if (mode == NULL || strcmp(mode, "auto") == 0) {
		st->run_pc = role == MM_ROLE_PC;
		st->run_utm = role == MM_ROLE_UTM;
	} else if (strcmp(mode, "pc") == 0 || strcmp(mode, "utm") == 0 ||
	           strcmp(mode, "both") == 0) {
		st->run_pc = strcmp(mode, "utm") != 0;
		st->run_utm = strcmp(mode, "pc") != 0;
	} else {
		mm_log(ctx, MM_LOG_ERROR, "mode \"%s\" is not auto, pc, utm or both", mode);
		rc = MM_ERR_CONFIG;
		goto out;
	}

	data_path(ctx, path, sizeof(path), "eol_table");
	rc = legacy_eol_load(&st->eol, path);
	if (rc != MM_OK) {
		mm_log(ctx, MM_LOG_ERROR, "cannot read the end-of-life table %s: %s", path,
		       mm_strerror(rc));
		rc = MM_ERR_CONFIG;
		goto out;
	}
	if (st->eol->bad_lines > 0)
		mm_log(ctx, MM_LOG_WARN, "%s: %zu malformed lines skipped", path,
		       st->eol->bad_lines);
	if (!st->run_utm)
		goto out;

	data_path(ctx, path, sizeof(path), "signals");
	rc = legacy_sigtab_load(&st->tab, path);
	if (rc != MM_OK) {
		mm_log(ctx, MM_LOG_ERROR, "cannot read the signal table %s: %s", path,
		       mm_strerror(rc));
		rc = MM_ERR_CONFIG;
		goto out;
	}
	/* Without p0f's database the other signal families still work. */
	data_path(ctx, path, sizeof(path), "p0f_fp");
	rc = legacy_p0f_load(&st->db, path);
	if (rc != MM_OK)
		mm_log(ctx, MM_LOG_WARN, "p0f database %s not read (%s): no TCP signatures", path,
		       mm_strerror(rc));
	data_path(ctx, path, sizeof(path), "syn_extra");
	if (path[0] != '\0' && (rc = legacy_p0f_load(&st->db, path)) != MM_OK)
		mm_log(ctx, MM_LOG_WARN, "extra signatures %s not read: %s", path, mm_strerror(rc));
	if (st->db.bad_lines > 0)
		mm_log(ctx, MM_LOG_WARN, "p0f signatures: %zu malformed lines skipped",
		       st->db.bad_lines);

	memset(&uo, 0, sizeof(uo));
	uo.max_hosts = (size_t)mm_cfg_int(ctx, "max_hosts");
	uo.min_families = (int)mm_cfg_int(ctx, "min_signals");
	uo.now_day = today(st);
	rc = legacy_utm_new(&st->utm, &uo, &st->db, &st->tab, st->eol, on_change, ctx);
out:
	/* A failed init leaves nothing behind, whether or not fini follows. */
	if (rc != MM_OK)
		legacy_fini(ctx);
	return rc;
}

static int
legacy_start(struct mm_ctx *ctx)
{
	struct legacy_state *st = ctx->data;

	if (st->run_utm) {
		struct mm_capture_opts co;
		const char *bpf = mm_cfg_str(ctx, "bpf");

		memset(&co, 0, sizeof(co));
		co.size = sizeof(co);
		co.interface = mm_cfg_str(ctx, "interface");
		co.bpf = bpf != NULL && bpf[0] != '\0' ? bpf : NULL;
		co.snaplen = 65535;
		st->capture_id = mm_packets_open(ctx, &co, on_packet, st);
		if (st->capture_id < 0) {
			mm_log(ctx, MM_LOG_ERROR, "cannot open capture on %s: %s",
			       co.interface != NULL ? co.interface : "?",
			       mm_strerror(st->capture_id));
			return st->capture_id;
		}
	}
	if (st->run_pc) {
		uint64_t ms = (uint64_t)mm_cfg_int(ctx, "inventory_hours") * 3600ull * 1000ull;
		pc_run(ctx, NULL);
		st->timer_id = ctx->api->timer_add(ctx, ms, 1, pc_run, NULL);
	}
	return MM_OK;
}

static void
legacy_stop(struct mm_ctx *ctx)
{
	struct legacy_state *st = ctx->data;

	if (st == NULL)
		return;
	if (st->utm != NULL) {
		const struct legacy_utm_stats *s = legacy_utm_stats(st->utm);
		ctx->api->gauge_set(ctx, "hosts", (int64_t)s->hosts);
		mm_counter_add(ctx, "hosts_dropped", (int64_t)s->hosts_dropped);
		mm_counter_add(ctx, "syn_unmatched", (int64_t)s->tcp_unmatched);
	}
	if (st->capture_id >= 0)
		ctx->api->capture_close(ctx, st->capture_id);
	if (st->timer_id >= 0)
		ctx->api->timer_cancel(ctx, st->timer_id);
	st->capture_id = st->timer_id = -1;
}

static void
legacy_fini(struct mm_ctx *ctx)
{
	struct legacy_state *st = ctx->data;

	if (st == NULL)
		return;
	legacy_utm_free(st->utm);
	legacy_p0f_clear(&st->db);
	legacy_sigtab_clear(&st->tab);
	legacy_eol_free(st->eol);
	free(st);
	ctx->data = NULL;
}

static const struct mm_plugin legacy_plugin = {
        .abi_version = MM_ABI_VERSION,
        .size = sizeof(struct mm_plugin),
        .name = "legacy",
        .version = LEGACY_VERSION,
        .vendor = "mimamori",
        .description = "Finds end-of-life and unprotected systems: on the PC itself and, from the "
                       "UTM, by passive fingerprinting of LAN devices.",
        .roles = MM_ROLE_UTM | MM_ROLE_PC,
        .caps = MM_CAP_PACKETS | MM_CAP_HOST,
        .config = config_keys,
        .init = legacy_init,
        .start = legacy_start,
        .stop = legacy_stop,
        .fini = legacy_fini,
        .reload = NULL,
        .feed = NULL,
};

MM_PLUGIN_EXPORT const struct mm_plugin *mm_plugin_entry(void);

MM_PLUGIN_EXPORT const struct mm_plugin *
mm_plugin_entry(void)
{
	return &legacy_plugin;
}
