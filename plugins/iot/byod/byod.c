/*
 * The byod plugin: who is on the network and which access points are not
 * ours. This file is the thin layer between the host and the detector core
 * (core.c): it reads the configuration, loads the OUI and fingerprint
 * tables, opens the captures (the wired interface and, when configured, a
 * monitor-mode Wi-Fi interface), persists the inventory in the module's
 * state directory and turns the core's findings into asset and alert
 * events. Runs in the byod worker process.
 */
#include <mimamori/plugin.h>

#include "byod.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RULE_BASE 6000

struct plugin {
	struct mm_ctx *ctx;
	struct byod *core;
	char state_path[4096];
	int save_timer;
};

static const struct mm_cfg_key keys[] = {
        {"interface", MM_CFG_STRING, "", 0, 0, 0,
         "Wired interface to watch (ARP, DHCP, names, HTTP); empty: the host's default."},
        {"monitor_interface", MM_CFG_STRING, "", 0, 0, 0,
         "Wi-Fi interface in monitor mode for the rogue access point checks; empty: none."},
        {"oui_files", MM_CFG_STRING_LIST, "/usr/share/ieee-data/oui.txt,byod/oui-subset.txt", 0, 0,
         0, "IEEE OUI lists (ieee-data oui.txt format); the first that loads is used."},
        {"fingerprint_files", MM_CFG_STRING_LIST, "byod/dhcp-fingerprints.tsv", 0, 0, 0,
         "Device class tables (kind, match, class, os), tried in order."},
        {"prads_fingerprint_file", MM_CFG_STRING, "", 0, 0, 0,
         "Optional extra DHCP fingerprints in prads dhcp.fp format, read at start."},
        {"max_devices", MM_CFG_INT, "4096", 16, 1000000, 0, "Inventory size bound."},
        {"max_access_points", MM_CFG_INT, "512", 16, 100000, 0, "Access point table bound."},
        {"max_arp_entries", MM_CFG_INT, "4096", 16, 1000000, 0, "ARP table bound."},
        {"allow_macs", MM_CFG_STRING_LIST, "", 0, 0, 0, "Company devices by MAC address."},
        {"allow_hostnames", MM_CFG_STRING_LIST, "", 0, 0, 0, "Company devices by host name."},
        {"allow_client_ids", MM_CFG_STRING_LIST, "", 0, 0, 0,
         "Company devices by DHCP client id (hex, as in the asset events)."},
        {"company_segments", MM_CFG_STRING_LIST, "", 0, 0, 0,
         "Company-only networks (CIDR); empty: the whole watched network."},
        {"byod_alerts", MM_CFG_BOOL, "true", 0, 0, 0,
         "Alert on unknown phones and tablets in company-only segments."},
        {"byod_min_confidence", MM_CFG_INT, "50", 0, 100, 0,
         "Smallest confidence (0-100) that raises a BYOD alert."},
        {"arp_new_station", MM_CFG_BOOL, "true", 0, 0, 0,
         "Report each new IP/MAC pair seen in ARP."},
        {"arp_suppress_s", MM_CFG_INT, "3600", 0, 604800, 0,
         "Seconds during which a repeated ARP finding for one address is suppressed."},
        {"arp_flipflop_s", MM_CFG_INT, "600", 1, 604800, 0,
         "A change back to the previous MAC within this many seconds is a flip-flop."},
        {"company_ssids", MM_CFG_STRING_LIST, "", 0, 0, 0, "The company's Wi-Fi network names."},
        {"authorized_bssids", MM_CFG_STRING_LIST, "", 0, 0, 0,
         "MAC addresses (BSSIDs) of the company's own access points."},
        {"lookalike_min", MM_CFG_DOUBLE, "0.75", 0, 1, 0,
         "Similarity (0-1) from which an SSID counts as a look-alike of a company SSID."},
        {"strong_signal_dbm", MM_CFG_INT, "-45", -120, 0, 0,
         "Signal from which an unknown access point counts as inside the office."},
        {"deauth_per_s", MM_CFG_INT, "10", 1, 100000, 0,
         "Deauthentication frames per second per BSSID that make a flood."},
        {"alert_interval_s", MM_CFG_INT, "300", 0, 86400, 0,
         "Minimum seconds between two alerts of one kind about one access point."},
        {"access_point_events", MM_CFG_BOOL, "true", 0, 0, 0,
         "Report each access point seen for the first time as an asset event."},
        {"max_findings_per_min", MM_CFG_INT, "120", 0, 1000000, 0,
         "Events of one kind per minute at most (the rest are counted); 0: no limit."},
        {"save_interval_s", MM_CFG_INT, "60", 1, 86400, 0,
         "How often the inventory is written to the state directory."},
        {NULL, 0, NULL, 0, 0, 0, NULL}};

struct kind_info {
	const char *cat;
	int sev;
};

static const struct kind_info kinds[BYOD_F__COUNT] = {
        [BYOD_F_ASSET_NEW] = {"inventory", MM_SEV_INFO},
        [BYOD_F_ASSET_CHANGE] = {"inventory", MM_SEV_INFO},
        [BYOD_F_BYOD_UNKNOWN] = {"byod", MM_SEV_MEDIUM},
        [BYOD_F_ARP_NEW] = {"inventory", MM_SEV_INFO},
        [BYOD_F_ARP_CHANGED] = {"intrusion", MM_SEV_HIGH},
        [BYOD_F_ARP_FLIPFLOP] = {"intrusion", MM_SEV_MEDIUM},
        [BYOD_F_ARP_MULTI_IP] = {"intrusion", MM_SEV_HIGH},
        [BYOD_F_WIFI_EVIL_TWIN] = {"rogue_ap", MM_SEV_HIGH},
        [BYOD_F_WIFI_DOWNGRADE] = {"rogue_ap", MM_SEV_HIGH},
        [BYOD_F_WIFI_CHANNEL] = {"rogue_ap", MM_SEV_LOW},
        [BYOD_F_WIFI_BEACON_INT] = {"rogue_ap", MM_SEV_LOW},
        [BYOD_F_WIFI_LOOKALIKE] = {"rogue_ap", MM_SEV_MEDIUM},
        [BYOD_F_WIFI_STRONG] = {"rogue_ap", MM_SEV_LOW},
        [BYOD_F_WIFI_DEAUTH_FLOOD] = {"rogue_ap", MM_SEV_HIGH},
        [BYOD_F_WIFI_AP_NEW] = {"inventory", MM_SEV_INFO},
};

static void
dev_fields(struct mm_ctx *ctx, struct mm_event *ev, const struct byod_dev *d)
{
	char ip[MM_ADDR_STRLEN];

	mm_ev_mac(ctx, ev, "dev.mac", d->mac);
	if (d->ip.family)
		mm_ev_str(ctx, ev, "dev.ip", mm_addr_format(ip, &d->ip));
	if (d->vendor[0])
		mm_ev_str(ctx, ev, "dev.vendor", d->vendor);
	if (d->os[0])
		mm_ev_str(ctx, ev, "dev.os", d->os);
	if (d->hostname[0])
		mm_ev_str(ctx, ev, "dev.hostname", d->hostname);
	mm_ev_bool(ctx, ev, "dev.randomized_mac", d->randomized);
	if (d->dev_class[0])
		mm_ev_str(ctx, ev, "attrs.class", d->dev_class);
	if (d->class_how[0])
		mm_ev_str(ctx, ev, "attrs.class_source", d->class_how);
	if (d->dhcp_fp[0])
		mm_ev_str(ctx, ev, "attrs.dhcp_fingerprint", d->dhcp_fp);
	if (d->vendor_class[0])
		mm_ev_str(ctx, ev, "attrs.dhcp_vendor_class", d->vendor_class);
	if (d->client_id[0])
		mm_ev_str(ctx, ev, "attrs.dhcp_client_id", d->client_id);
	if (d->mdns_name[0])
		mm_ev_str(ctx, ev, "attrs.name", d->mdns_name);
	if (d->user_agent[0])
		mm_ev_str(ctx, ev, "attrs.user_agent", d->user_agent);
	if (d->has_prev)
		mm_ev_mac(ctx, ev, "attrs.previous_mac", d->prev_mac);
}

static void
ap_fields(struct mm_ctx *ctx, struct mm_event *ev, const struct byod_ap *ap)
{
	mm_ev_str(ctx, ev, "attrs.ssid", ap->ssid);
	mm_ev_mac(ctx, ev, "attrs.bssid", ap->bssid);
	mm_ev_mac(ctx, ev, "src.mac", ap->bssid);
	mm_ev_int(ctx, ev, "attrs.channel", ap->channel);
	mm_ev_str(ctx, ev, "attrs.encryption", byod_enc_name(ap->enc));
	mm_ev_int(ctx, ev, "attrs.beacon_interval", ap->beacon_int);
	if (ap->signal)
		mm_ev_int(ctx, ev, "attrs.signal_dbm", ap->signal);
}

static void
on_finding(void *user, const struct byod_finding *f)
{
	struct plugin *p = user;
	struct mm_ctx *ctx = p->ctx;
	const int asset = f->kind == BYOD_F_ASSET_NEW || f->kind == BYOD_F_ASSET_CHANGE ||
	                  f->kind == BYOD_F_WIFI_AP_NEW;
	struct mm_event *ev;
	char mac[MM_MAC_STRLEN], old[MM_MAC_STRLEN], ip[MM_ADDR_STRLEN], num[32], id[64], ch[16];
	const char *who;

	ev = mm_ev_new(ctx, asset ? MM_KIND_ASSET : MM_KIND_ALERT);
	if (ev == NULL)
		return;
	mm_ev_int(ctx, ev, "ts", (int64_t)f->ts_ns);
	mm_ev_int(ctx, ev, "ocsf", asset ? MM_OCSF_DEVICE_INVENTORY : MM_OCSF_DETECTION_FINDING);
	mm_ev_str(ctx, ev, "cat", kinds[f->kind].cat);
	mm_ev_int(ctx, ev, "sev", kinds[f->kind].sev);
	mm_ev_str(ctx, ev, "action", "detected");
	mm_ev_str(ctx, ev, "rule.ns", "byod");
	mm_ev_int(ctx, ev, "rule.id", RULE_BASE + f->kind);
	mm_ev_int(ctx, ev, "rule.rev", 1);
	mm_ev_str(ctx, ev, "rule.name", byod_kind_name(f->kind));
	mm_mac_format(mac, f->mac);
	mm_mac_format(old, f->old_mac);
	mm_addr_format(ip, &f->ip);
	if (f->dev != NULL) {
		dev_fields(ctx, ev, f->dev);
		mm_ev_mac(ctx, ev, "src.mac", f->mac);
		if (f->ip.family)
			mm_ev_str(ctx, ev, "src.ip", ip);
	}
	if (f->ap != NULL)
		ap_fields(ctx, ev, f->ap);
	if (f->kind == BYOD_F_WIFI_AP_NEW) {
		/* An access point is a device of its own in the inventory. */
		mm_ev_mac(ctx, ev, "dev.mac", f->ap->bssid);
		if (f->ap->vendor[0])
			mm_ev_str(ctx, ev, "dev.vendor", f->ap->vendor);
		mm_ev_bool(ctx, ev, "dev.randomized_mac", f->ap->randomized);
		mm_ev_str(ctx, ev, "attrs.class", "access_point");
		mm_ev_bool(ctx, ev, "attrs.company", f->ap->company);
		mm_ev_bool(ctx, ev, "attrs.authorized", f->ap->authorized);
	}
	if (f->detail[0])
		mm_ev_str(ctx, ev, "attrs.detail", f->detail);
	if (f->how[0])
		mm_ev_str(ctx, ev, "attrs.recognised_by", f->how);
	if (f->kind == BYOD_F_BYOD_UNKNOWN)
		mm_ev_int(ctx, ev, "attrs.confidence", f->confidence);
	if (f->kind == BYOD_F_WIFI_LOOKALIKE)
		mm_ev_double(ctx, ev, "attrs.similarity", f->score);
	if (f->kind == BYOD_F_WIFI_DEAUTH_FLOOD)
		mm_ev_int(ctx, ev, "attrs.frames_per_s", (int64_t)f->score);
	if (f->kind >= BYOD_F_ARP_NEW && f->kind <= BYOD_F_ARP_MULTI_IP) {
		mm_ev_str(ctx, ev, "src.ip", ip);
		mm_ev_mac(ctx, ev, "src.mac", f->mac);
		mm_ev_str(ctx, ev, "proto", "arp");
		if (f->kind == BYOD_F_ARP_CHANGED || f->kind == BYOD_F_ARP_FLIPFLOP)
			mm_ev_str(ctx, ev, "attrs.previous_mac", old);
	}

	who = f->dev && f->dev->hostname[0] ? f->dev->hostname : mac;
	snprintf(num, sizeof(num), "%d", f->confidence);
	snprintf(ch, sizeof(ch), "%u", f->ap ? f->ap->channel : 0u);
	snprintf(id, sizeof(id), "byod.%s", byod_kind_name(f->kind));
	mm_ev_msg(ctx, ev, id,
	          (const char *const[]){
	                  "device",     who,
	                  "mac",        mac,
	                  "ip",         ip,
	                  "old_mac",    old,
	                  "class",      f->dev ? f->dev->dev_class : "",
	                  "os",         f->dev ? f->dev->os : "",
	                  "vendor",     f->dev && f->dev->vendor[0] ? f->dev->vendor : "-",
	                  "ssid",       f->ap ? f->ap->ssid : "",
	                  "channel",    ch,
	                  "encryption", f->ap ? byod_enc_name(f->ap->enc) : "",
	                  "bssid",      mac,
	                  "detail",     f->detail,
	                  "confidence", num,
	                  "how",        f->how,
	                  NULL});
	mm_emit(ctx, ev);
	mm_counter_add(ctx, byod_kind_name(f->kind), 1);
}

static int
load_list(struct mm_ctx *ctx, struct byod_config *cfg, const char *key, const char *list)
{
	size_t n = ctx->api->cfg_list_count(ctx, key);

	for (size_t i = 0; i < n; i++) {
		const char *v = ctx->api->cfg_list_at(ctx, key, i);
		int rc = byod_config_add(cfg, list, v);
		if (rc != MM_OK) {
			mm_log(ctx, MM_LOG_ERROR, "%s: bad entry \"%s\": %s", key, v,
			       mm_strerror(rc));
			return MM_ERR_CONFIG;
		}
	}
	return MM_OK;
}

static int
byod_init(struct mm_ctx *ctx)
{
	struct plugin *p = NULL;
	struct byod_config cfg;
	struct byod_oui *oui = NULL;
	struct byod_fptab *fp = NULL;
	char path[4096];
	const char *s;
	size_t i, n;
	int rc;

	byod_config_init(&cfg);
	cfg.max_devices = (size_t)mm_cfg_int(ctx, "max_devices");
	cfg.max_aps = (size_t)mm_cfg_int(ctx, "max_access_points");
	cfg.max_arp = (size_t)mm_cfg_int(ctx, "max_arp_entries");
	cfg.byod_min_confidence = mm_cfg_bool(ctx, "byod_alerts")
	                                  ? (int)mm_cfg_int(ctx, "byod_min_confidence")
	                                  : 1000;
	cfg.arp_report_new = mm_cfg_bool(ctx, "arp_new_station");
	cfg.arp_suppress_ns = (uint64_t)mm_cfg_int(ctx, "arp_suppress_s") * 1000000000ull;
	cfg.arp_flipflop_ns = (uint64_t)mm_cfg_int(ctx, "arp_flipflop_s") * 1000000000ull;
	cfg.lookalike_min = mm_cfg_double(ctx, "lookalike_min");
	cfg.strong_dbm = (int)mm_cfg_int(ctx, "strong_signal_dbm");
	cfg.deauth_per_s = (uint32_t)mm_cfg_int(ctx, "deauth_per_s");
	cfg.alert_interval_ns = (uint64_t)mm_cfg_int(ctx, "alert_interval_s") * 1000000000ull;
	cfg.findings_per_min = (uint32_t)mm_cfg_int(ctx, "max_findings_per_min");
	cfg.ap_events = mm_cfg_bool(ctx, "access_point_events");
	if ((rc = load_list(ctx, &cfg, "allow_macs", "allow_mac")) != MM_OK ||
	    (rc = load_list(ctx, &cfg, "allow_hostnames", "allow_hostname")) != MM_OK ||
	    (rc = load_list(ctx, &cfg, "allow_client_ids", "allow_client_id")) != MM_OK ||
	    (rc = load_list(ctx, &cfg, "company_segments", "company_segments")) != MM_OK ||
	    (rc = load_list(ctx, &cfg, "company_ssids", "company_ssids")) != MM_OK ||
	    (rc = load_list(ctx, &cfg, "authorized_bssids", "authorized_bssids")) != MM_OK)
		goto out;

	n = ctx->api->cfg_list_count(ctx, "oui_files");
	for (i = 0; i < n && oui == NULL; i++) {
		mm_data_path(ctx, path, sizeof(path), ctx->api->cfg_list_at(ctx, "oui_files", i));
		if (byod_oui_load(&oui, path, 200000) == MM_OK)
			mm_log(ctx, MM_LOG_INFO, "OUI list %s: %zu vendors", path,
			       byod_oui_count(oui));
	}
	if (oui == NULL)
		mm_log(ctx, MM_LOG_WARN, "no OUI list could be read: vendors stay empty");
	n = ctx->api->cfg_list_count(ctx, "fingerprint_files");
	for (i = 0; i < n; i++) {
		mm_data_path(ctx, path, sizeof(path),
		             ctx->api->cfg_list_at(ctx, "fingerprint_files", i));
		rc = byod_fp_load(&fp, path, 100000);
		if (rc != MM_OK)
			mm_log(ctx, MM_LOG_WARN, "fingerprints %s: %s", path, mm_strerror(rc));
	}
	s = mm_cfg_str(ctx, "prads_fingerprint_file");
	if (s != NULL && s[0] != '\0') {
		mm_data_path(ctx, path, sizeof(path), s);
		rc = byod_fp_load_prads(&fp, path, 100000);
		if (rc != MM_OK)
			mm_log(ctx, MM_LOG_WARN, "prads fingerprints %s: %s", path,
			       mm_strerror(rc));
	}

	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		byod_oui_free(oui);
		byod_fp_free(fp);
		rc = MM_ERR_NOMEM;
		goto out;
	}
	p->ctx = ctx;
	p->save_timer = -1;
	rc = byod_new(&p->core, &cfg, oui, fp, on_finding, p);
	if (rc != MM_OK) {
		free(p);
		p = NULL;
		goto out;
	}
	snprintf(p->state_path, sizeof(p->state_path), "%s/inventory.tsv",
	         ctx->api->state_dir(ctx));
	rc = byod_load(p->core, p->state_path);
	if (rc >= 0)
		mm_log(ctx, MM_LOG_INFO, "inventory: %d devices restored", rc);
	rc = MM_OK;
	ctx->data = p;
out:
	byod_config_clear(&cfg);
	return rc;
}

static void
on_packet(struct mm_ctx *ctx, const struct mm_packet *pkt, void *user)
{
	struct plugin *p = user;
	byod_packet(p->core, pkt);
}

static void
save(struct mm_ctx *ctx, void *user)
{
	struct plugin *p = user;
	int rc = byod_save(p->core, p->state_path);

	if (rc != MM_OK)
		mm_log(ctx, MM_LOG_WARN, "cannot save %s: %s", p->state_path, mm_strerror(rc));
	static const char *const ctrs[] = {"dev_evicted",           "ap_evicted",
	                                   "arp_evicted",           "alerts_suppressed",
	                                   "findings_rate_limited", "dhcp_bad"};
	ctx->api->gauge_set(ctx, "devices", (int64_t)byod_dev_count(p->core));
	ctx->api->gauge_set(ctx, "access_points", (int64_t)byod_ap_count(p->core));
	ctx->api->gauge_set(ctx, "arp_entries", (int64_t)byod_arp_count(p->core));
	ctx->api->gauge_set(ctx, "table_bytes", (int64_t)byod_mem_bytes(p->core));
	/* The core's drop and eviction counters, so that nothing it leaves
	 * out goes unreported. */
	for (size_t i = 0; i < sizeof(ctrs) / sizeof(ctrs[0]); i++)
		ctx->api->gauge_set(ctx, ctrs[i], (int64_t)byod_counter(p->core, ctrs[i]));
}

static int
byod_start(struct mm_ctx *ctx)
{
	struct plugin *p = ctx->data;
	struct mm_capture_opts o;
	const char *wifi = mm_cfg_str(ctx, "monitor_interface");
	const char *ifname = mm_cfg_str(ctx, "interface");
	int id;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.interface = ifname && ifname[0] ? ifname : NULL;
	o.promisc = 1;
	o.snaplen = 2048;
	id = mm_packets_open(ctx, &o, on_packet, p);
	if (id < 0) {
		mm_log(ctx, MM_LOG_ERROR, "cannot open capture: %s", mm_strerror(id));
		return id;
	}
	if (wifi != NULL && wifi[0] != '\0') {
		memset(&o, 0, sizeof(o));
		o.size = sizeof(o);
		o.interface = wifi;
		o.monitor = 1;
		o.snaplen = 2048;
		/* Only management frames matter here. */
		o.bpf = "type mgt";
		id = mm_packets_open(ctx, &o, on_packet, p);
		if (id < 0)
			mm_log(ctx, MM_LOG_WARN, "cannot open monitor interface %s: %s", wifi,
			       mm_strerror(id));
	}
	p->save_timer = ctx->api->timer_add(
	        ctx, (uint64_t)mm_cfg_int(ctx, "save_interval_s") * 1000, 1, save, p);
	return MM_OK;
}

static void
byod_stop(struct mm_ctx *ctx)
{
	struct plugin *p = ctx->data;

	if (p == NULL)
		return;
	if (p->save_timer >= 0)
		ctx->api->timer_cancel(ctx, p->save_timer);
	p->save_timer = -1;
	save(ctx, p);
}

static void
byod_fini(struct mm_ctx *ctx)
{
	struct plugin *p = ctx->data;

	if (p == NULL)
		return;
	byod_free(p->core);
	free(p);
	ctx->data = NULL;
}

static const struct mm_plugin plugin = {
        .abi_version = MM_ABI_VERSION,
        .size = sizeof(struct mm_plugin),
        .name = "byod",
        .version = "0.1.0",
        .vendor = "mimamori",
        .description = "Device inventory, unknown phones and tablets, ARP spoofing and rogue "
                       "Wi-Fi access points.",
        .roles = MM_ROLE_UTM,
        .caps = MM_CAP_PACKETS | MM_CAP_WIFI,
        .config = keys,
        .init = byod_init,
        .start = byod_start,
        .stop = byod_stop,
        .fini = byod_fini,
};

MM_PLUGIN_EXPORT const struct mm_plugin *mm_plugin_entry(void);

MM_PLUGIN_EXPORT const struct mm_plugin *
mm_plugin_entry(void)
{
	return &plugin;
}
