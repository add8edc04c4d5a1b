/*
 * The byod detector core: keeps the device inventory (ARP, DHCP, mDNS,
 * LLMNR, NetBIOS, HTTP User-Agent), applies the BYOD policy, reports
 * arpwatch findings and watches 802.11 management frames for rogue access
 * points. Runs on the packet path of the byod worker process (and in the
 * tests, driven directly). It reports findings through a callback and
 * never touches the host API. Every table has a configured bound; when one
 * is full the entry seen longest ago is replaced and the eviction counted.
 */
#include "byod.h"
#include "tab.h"

#include <mimamori/dhcp.h>
#include <mimamori/error.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS 1000000000ull

/* |a - b| < win: captures are not always in time order, so a frame a
 * little older than the last alert must not look like the far future. */
static int
within(uint64_t a, uint64_t b, uint64_t win)
{
	return (a >= b ? a - b : b - a) < win;
}

/* Bytes of a beacon body kept per access point (most are 80-300). */
#define BEACON_KEEP 320

struct ap_ent {
	struct byod_ap ap;
	uint64_t last_alert[BYOD_F__COUNT];
	uint8_t reported; /* 0 not yet, 1 reported without SSID, 2 with */
	/* Which company SSID the name is (-1: none), worked out when the
	 * name changes rather than for every beacon. */
	int16_t company_ci;
	/* The last beacon or probe response body after its timestamp, and
	 * what it said: an access point repeats the same body many times a
	 * second, and an identical one need not be parsed again. Bodies
	 * longer than the copy are parsed every time. */
	uint16_t body_len; /* 0: nothing kept */
	struct byod_beacon body_info;
	uint8_t body[BEACON_KEEP];
};

/* Bytes of a DHCP parameter request list kept per device (most are
 * 5-20 option codes). */
#define PRL_KEEP 64

/* A device and what the ARP checks remember about it: the address it
 * claimed last, so that one MAC claiming a second address is seen without
 * searching the ARP table. */
struct dev_ent {
	struct byod_dev d;
	uint8_t arp_ip[4];
	uint64_t arp_ts;
	/* The DHCP parameter request list the device's fingerprint was last
	 * made from (prl_len bytes, valid when has_prl): a client sends the
	 * same list in every request, and the same bytes make the same
	 * fingerprint, already applied. Longer lists are not kept. */
	uint8_t has_prl;
	uint8_t prl_len;
	uint8_t prl[PRL_KEEP];
};

struct arp_ent {
	uint8_t ip[4];
	uint8_t mac[6];
	uint8_t prev_mac[6];
	uint8_t has_prev;
	uint64_t first_ts;
	uint64_t last_ts;
	uint64_t changed_ts;
	uint64_t last_alert;
	uint64_t multi_alert;
};

enum ctr {
	C_PACKETS,
	C_DHCP,
	C_DHCP_BAD,
	C_ARP,
	C_NAMES,
	C_HTTP_UA,
	C_WLAN_MGMT,
	C_BEACONS,
	C_DEAUTH,
	C_DEV_EVICT,
	C_AP_EVICT,
	C_ARP_EVICT,
	C_SUPPRESSED,
	C_MERGED,
	C_FINDINGS,
	C_RATE_LIMITED,
	C__N
};

static const char *const ctr_names[C__N] = {"packets",
                                            "dhcp",
                                            "dhcp_bad",
                                            "arp",
                                            "names",
                                            "http_ua",
                                            "wlan_mgmt",
                                            "beacons",
                                            "deauth",
                                            "dev_evicted",
                                            "ap_evicted",
                                            "arp_evicted",
                                            "alerts_suppressed",
                                            "mac_rerandomized_merged",
                                            "findings",
                                            "findings_rate_limited"};

struct byod {
	struct byod_config cfg;
	struct byod_oui *oui;
	struct byod_fptab *fp;
	byod_report_fn report;
	void *user;
	struct dev_ent *dev;
	struct byod_tab devt; /* by MAC */
	struct ap_ent *ap;
	struct byod_tab apt; /* by BSSID */
	struct arp_ent *arp;
	struct byod_tab arpt; /* by IPv4 address */
	uint8_t company_best_enc[BYOD_MAX_LIST];
	size_t company_len[BYOD_MAX_LIST]; /* strlen of each company SSID */
	/* Per-kind budget of findings (token bucket on the capture clock),
	 * so a flood of fake beacons or spoofed MACs cannot turn into a
	 * flood of events. */
	double tokens[BYOD_F__COUNT];
	uint64_t tokens_ts[BYOD_F__COUNT];
	uint64_t ctr[C__N];
};

const char *
byod_kind_name(int kind)
{
	static const char *const n[BYOD_F__COUNT] = {"",
	                                             "asset_new",
	                                             "asset_change",
	                                             "byod_unknown_mobile",
	                                             "arp_new_station",
	                                             "arp_changed_mac",
	                                             "arp_flip_flop",
	                                             "arp_mac_multiple_ips",
	                                             "wifi_evil_twin",
	                                             "wifi_encryption_downgrade",
	                                             "wifi_channel_change",
	                                             "wifi_beacon_interval_change",
	                                             "wifi_lookalike_ssid",
	                                             "wifi_strong_unknown_ap",
	                                             "wifi_deauth_flood",
	                                             "wifi_ap_new"};
	return kind > 0 && kind < BYOD_F__COUNT ? n[kind] : "unknown";
}

/* snprintf(out, sz, "%s", s) without the format machinery, which was a
 * visible share of the per-packet cost on the DHCP path. */
static void
copy_str(char *out, size_t sz, const char *s)
{
	size_t n = strnlen(s, sz - 1);

	memcpy(out, s, n);
	out[n] = '\0';
}

/* --- configuration ------------------------------------------------------ */

int
byod_config_init(struct byod_config *out)
{
	memset(out, 0, sizeof(*out));
	out->max_devices = 4096;
	out->max_aps = 512;
	out->max_arp = 4096;
	out->byod_min_confidence = 50;
	out->arp_suppress_ns = 3600 * NS;
	out->arp_flipflop_ns = 600 * NS;
	out->arp_report_new = 1;
	out->lookalike_min = 0.75;
	out->strong_dbm = -45;
	out->deauth_per_s = 10;
	out->alert_interval_ns = 300 * NS;
	out->findings_per_min = 120;
	out->ap_events = 1;
	return MM_OK;
}

static void
free_list(char **v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free(v[i]);
	*n = 0;
}

void
byod_config_clear(struct byod_config *cfg)
{
	if (cfg == NULL)
		return;
	free_list(cfg->allow_mac, &cfg->n_allow_mac);
	free_list(cfg->allow_host, &cfg->n_allow_host);
	free_list(cfg->allow_client_id, &cfg->n_allow_client_id);
	free_list(cfg->company_ssid, &cfg->n_company_ssid);
}

static int
parse_mac(uint8_t *out, const char *s)
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%x%*1[:-]%x%*1[:-]%x%*1[:-]%x%*1[:-]%x%*1[:-]%x%c", &v[0], &v[1], &v[2],
	           &v[3], &v[4], &v[5], &tail) != 6)
		return MM_ERR_PARSE;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 255)
			return MM_ERR_PARSE;
		out[i] = (uint8_t)v[i];
	}
	return MM_OK;
}

static int
add_str(char **v, size_t *n, const char *value)
{
	if (*n >= BYOD_MAX_LIST)
		return MM_ERR_FULL;
	v[*n] = strdup(value);
	if (v[*n] == NULL)
		return MM_ERR_NOMEM;
	(*n)++;
	return MM_OK;
}

int
byod_config_add(struct byod_config *cfg, const char *list, const char *value)
{
	if (strcmp(list, "allow_mac") == 0) {
		uint8_t m[6];
		char buf[MM_MAC_STRLEN];
		if (parse_mac(m, value) != MM_OK)
			return MM_ERR_PARSE;
		return add_str(cfg->allow_mac, &cfg->n_allow_mac, mm_mac_format(buf, m));
	}
	if (strcmp(list, "allow_hostname") == 0)
		return add_str(cfg->allow_host, &cfg->n_allow_host, value);
	if (strcmp(list, "allow_client_id") == 0)
		return add_str(cfg->allow_client_id, &cfg->n_allow_client_id, value);
	if (strcmp(list, "company_ssids") == 0)
		return add_str(cfg->company_ssid, &cfg->n_company_ssid, value);
	if (strcmp(list, "authorized_bssids") == 0) {
		if (cfg->n_auth_bssid >= BYOD_MAX_LIST)
			return MM_ERR_FULL;
		if (parse_mac(cfg->auth_bssid[cfg->n_auth_bssid], value) != MM_OK)
			return MM_ERR_PARSE;
		cfg->n_auth_bssid++;
		return MM_OK;
	}
	if (strcmp(list, "company_segments") == 0) {
		char ip[64];
		const char *slash = strchr(value, '/');
		struct byod_cidr *c;
		long bits;
		size_t l = slash ? (size_t)(slash - value) : strlen(value);

		if (cfg->n_company_nets >= BYOD_MAX_LIST)
			return MM_ERR_FULL;
		if (l >= sizeof(ip))
			return MM_ERR_PARSE;
		memcpy(ip, value, l);
		ip[l] = '\0';
		c = &cfg->company_nets[cfg->n_company_nets];
		if (mm_addr_parse(&c->net, ip) != MM_OK)
			return MM_ERR_PARSE;
		bits = slash ? strtol(slash + 1, NULL, 10) : (c->net.family == 4 ? 32 : 128);
		if (bits < 0 || bits > (c->net.family == 4 ? 32 : 128))
			return MM_ERR_PARSE;
		c->bits = (uint8_t)bits;
		cfg->n_company_nets++;
		return MM_OK;
	}
	return MM_ERR_NOTFOUND;
}

static int
cidr_contains(const struct byod_cidr *c, const struct mm_addr *a)
{
	unsigned full, rest;

	if (a->family != c->net.family)
		return 0;
	full = c->bits / 8u;
	rest = c->bits % 8u;
	if (memcmp(a->addr, c->net.addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a->addr[full] ^ c->net.addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* --- lifetime ----------------------------------------------------------- */

static char **
dup_list(char *const *src, size_t n, char **dst)
{
	for (size_t i = 0; i < n; i++) {
		dst[i] = strdup(src[i]);
		if (dst[i] == NULL)
			return NULL;
	}
	return dst;
}

int
byod_new(struct byod **out, const struct byod_config *cfg, struct byod_oui *oui,
         struct byod_fptab *fp, byod_report_fn report, void *user)
{
	struct byod *b;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		goto fail;
	b->cfg = *cfg;
	/* The lists are deep-copied so the caller may clear its config. */
	b->cfg.n_allow_mac = b->cfg.n_allow_host = b->cfg.n_allow_client_id = 0;
	b->cfg.n_company_ssid = 0;
	if (!dup_list(cfg->allow_mac, cfg->n_allow_mac, b->cfg.allow_mac))
		goto fail;
	b->cfg.n_allow_mac = cfg->n_allow_mac;
	if (!dup_list(cfg->allow_host, cfg->n_allow_host, b->cfg.allow_host))
		goto fail;
	b->cfg.n_allow_host = cfg->n_allow_host;
	if (!dup_list(cfg->allow_client_id, cfg->n_allow_client_id, b->cfg.allow_client_id))
		goto fail;
	b->cfg.n_allow_client_id = cfg->n_allow_client_id;
	if (!dup_list(cfg->company_ssid, cfg->n_company_ssid, b->cfg.company_ssid))
		goto fail;
	b->cfg.n_company_ssid = cfg->n_company_ssid;
	for (size_t i = 0; i < b->cfg.n_company_ssid; i++)
		b->company_len[i] = strlen(b->cfg.company_ssid[i]);
	if (b->cfg.max_devices == 0)
		b->cfg.max_devices = 1;
	if (b->cfg.max_aps == 0)
		b->cfg.max_aps = 1;
	if (b->cfg.max_arp == 0)
		b->cfg.max_arp = 1;
	if (b->cfg.max_devices > BYOD_MAX_ENTRIES)
		b->cfg.max_devices = BYOD_MAX_ENTRIES;
	if (b->cfg.max_aps > BYOD_MAX_ENTRIES)
		b->cfg.max_aps = BYOD_MAX_ENTRIES;
	if (b->cfg.max_arp > BYOD_MAX_ENTRIES)
		b->cfg.max_arp = BYOD_MAX_ENTRIES;
	b->dev = calloc(b->cfg.max_devices, sizeof(*b->dev));
	b->ap = calloc(b->cfg.max_aps, sizeof(*b->ap));
	b->arp = calloc(b->cfg.max_arp, sizeof(*b->arp));
	if (b->dev == NULL || b->ap == NULL || b->arp == NULL)
		goto fail;
	if (byod_tab_init(&b->devt, b->dev, sizeof(*b->dev), offsetof(struct dev_ent, d.mac), 6,
	                  (uint32_t)b->cfg.max_devices) != MM_OK ||
	    byod_tab_init(&b->apt, b->ap, sizeof(*b->ap), offsetof(struct ap_ent, ap.bssid), 6,
	                  (uint32_t)b->cfg.max_aps) != MM_OK ||
	    byod_tab_init(&b->arpt, b->arp, sizeof(*b->arp), offsetof(struct arp_ent, ip), 4,
	                  (uint32_t)b->cfg.max_arp) != MM_OK)
		goto fail;
	b->oui = oui;
	b->fp = fp;
	b->report = report;
	b->user = user;
	*out = b;
	return MM_OK;
fail:
	if (b != NULL) {
		b->oui = NULL;
		b->fp = NULL;
		byod_free(b);
	}
	byod_oui_free(oui);
	byod_fp_free(fp);
	return MM_ERR_NOMEM;
}

void
byod_free(struct byod *b)
{
	if (b == NULL)
		return;
	byod_config_clear(&b->cfg);
	byod_oui_free(b->oui);
	byod_fp_free(b->fp);
	byod_tab_clear(&b->devt);
	byod_tab_clear(&b->apt);
	byod_tab_clear(&b->arpt);
	free(b->dev);
	free(b->ap);
	free(b->arp);
	free(b);
}

uint64_t
byod_counter(const struct byod *b, const char *name)
{
	for (int i = 0; i < C__N; i++)
		if (strcmp(name, ctr_names[i]) == 0)
			return b->ctr[i];
	return 0;
}

size_t
byod_dev_count(const struct byod *b)
{
	return b->devt.n;
}

const struct byod_dev *
byod_dev_at(const struct byod *b, size_t i)
{
	return i < b->devt.n ? &b->dev[i].d : NULL;
}

size_t
byod_ap_count(const struct byod *b)
{
	return b->apt.n;
}

const struct byod_ap *
byod_ap_at(const struct byod *b, size_t i)
{
	return i < b->apt.n ? &b->ap[i].ap : NULL;
}

size_t
byod_arp_count(const struct byod *b)
{
	return b->arpt.n;
}

size_t
byod_mem_bytes(const struct byod *b)
{
	return sizeof(*b) + b->cfg.max_devices * sizeof(*b->dev) + b->cfg.max_aps * sizeof(*b->ap) +
	       b->cfg.max_arp * sizeof(*b->arp) + byod_tab_bytes(&b->devt) +
	       byod_tab_bytes(&b->apt) + byod_tab_bytes(&b->arpt);
}

/* Takes one token of this kind's budget; refills on the capture clock. */
static int
budget_ok(struct byod *b, int kind, uint64_t ts)
{
	double rate = (double)b->cfg.findings_per_min;

	if (b->cfg.findings_per_min == 0)
		return 1;
	if (b->tokens_ts[kind] == 0) {
		b->tokens[kind] = rate;
		b->tokens_ts[kind] = ts;
	} else if (ts > b->tokens_ts[kind]) {
		b->tokens[kind] += (double)(ts - b->tokens_ts[kind]) / (60.0 * NS) * rate;
		if (b->tokens[kind] > rate)
			b->tokens[kind] = rate;
		b->tokens_ts[kind] = ts;
	}
	if (b->tokens[kind] < 1.0)
		return 0;
	b->tokens[kind] -= 1.0;
	return 1;
}

static void
emit(struct byod *b, struct byod_finding *f)
{
	if (!budget_ok(b, f->kind, f->ts_ns)) {
		b->ctr[C_RATE_LIMITED]++;
		return;
	}
	b->ctr[C_FINDINGS]++;
	if (b->report != NULL)
		b->report(b->user, f);
}

/* --- inventory ---------------------------------------------------------- */

static int
mac_randomized(const uint8_t *mac)
{
	/* Locally administered unicast: the bit vendors never set, and what
	 * phones use for per-network random addresses. */
	return (mac[0] & 0x02) != 0 && (mac[0] & 0x01) == 0;
}

static int
mac_usable(const uint8_t *mac)
{
	static const uint8_t zero[6];
	return mac != NULL && (mac[0] & 0x01) == 0 && memcmp(mac, zero, 6) != 0;
}

static struct dev_ent *
dev_ent_lookup(struct byod *b, const uint8_t *mac)
{
	uint32_t i = byod_tab_find(&b->devt, mac);
	return i == TAB_NONE ? NULL : &b->dev[i];
}

static struct byod_dev *
dev_lookup(struct byod *b, const uint8_t *mac)
{
	struct dev_ent *e = dev_ent_lookup(b, mac);
	return e ? &e->d : NULL;
}

const struct byod_dev *
byod_dev_find(const struct byod *b, const uint8_t *mac)
{
	return dev_lookup((struct byod *)b, mac);
}

static void
dev_identity(struct byod *b, struct byod_dev *d)
{
	const char *v;

	d->randomized = (uint8_t)mac_randomized(d->mac);
	d->vendor[0] = '\0';
	/* A random address has no vendor: looking it up would only name
	 * whichever company owns that prefix by chance. */
	if (!d->randomized && (v = byod_oui_lookup(b->oui, d->mac)) != NULL)
		copy_str(d->vendor, sizeof(d->vendor), v);
}

/* A fresh entry for mac (the least recently seen device makes room when
 * the inventory is full), linked into the index. */
static struct dev_ent *
dev_new(struct byod *b, const uint8_t *mac)
{
	int evicted;
	uint32_t i = byod_tab_alloc(&b->devt, NULL, &evicted);
	struct dev_ent *e = &b->dev[i];

	if (evicted)
		b->ctr[C_DEV_EVICT]++;
	memset(e, 0, sizeof(*e));
	memcpy(e->d.mac, mac, 6);
	byod_tab_link(&b->devt, i);
	return e;
}

/* A device seen for the first time; out of line, as ap_new(). */
static __attribute__((noinline)) struct byod_dev *
dev_first(struct byod *b, const uint8_t *mac, uint64_t ts)
{
	struct byod_dev *d = &dev_new(b, mac)->d;

	d->first_ts = d->last_ts = ts;
	dev_identity(b, d);
	return d;
}

static struct byod_dev *
dev_get(struct byod *b, const uint8_t *mac, uint64_t ts, int *is_new)
{
	uint32_t i = byod_tab_find(&b->devt, mac);

	*is_new = i == TAB_NONE;
	if (i == TAB_NONE)
		return dev_first(b, mac, ts);
	byod_tab_touch(&b->devt, i);
	b->dev[i].d.last_ts = ts;
	return &b->dev[i].d;
}

/* Which fields of a device changed while one frame was handled: the
 * setters below compare as they write, so nothing is copied aside or
 * compared again for the many frames that change nothing. */
enum dev_change {
	CH_MAC = 1u << 0,
	CH_IP = 1u << 1,
	CH_HOST = 1u << 2,
	CH_OS = 1u << 3,
	CH_NAME = 1u << 4,
	CH_FP = 1u << 5,
	CH_VCLASS = 1u << 6,
	CH_UA = 1u << 7
};

/* copy_str() into a device field; returns bit when the text changed. */
static unsigned
set_str(char *dst, size_t sz, const char *src, unsigned bit)
{
	size_t n = strnlen(src, sz - 1);

	if (memcmp(dst, src, n) == 0 && dst[n] == '\0')
		return 0;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return bit;
}

static void
append(char *buf, size_t sz, const char *word)
{
	size_t n = strlen(buf);

	if (n > 0 && n + 1 < sz)
		buf[n++] = ',';
	copy_str(buf + n, sz - n, word);
}

static int
is_mobile(const struct byod_dev *d)
{
	/* The first letter first: this runs for every frame about a device. */
	return (d->dev_class[0] == 'p' && strcmp(d->dev_class, "phone") == 0) ||
	       (d->dev_class[0] == 't' && strcmp(d->dev_class, "tablet") == 0);
}

static int
in_list(char *const *v, size_t n, const char *s, int nocase)
{
	for (size_t i = 0; i < n; i++)
		if ((nocase ? strcasecmp(v[i], s) : strcmp(v[i], s)) == 0)
			return 1;
	return 0;
}

static int
dev_allowed(const struct byod *b, const struct byod_dev *d)
{
	char m[MM_MAC_STRLEN];

	if (b->cfg.n_allow_mac > 0) {
		if (in_list(b->cfg.allow_mac, b->cfg.n_allow_mac, mm_mac_format(m, d->mac), 1))
			return 1;
		if (d->has_prev &&
		    in_list(b->cfg.allow_mac, b->cfg.n_allow_mac, mm_mac_format(m, d->prev_mac), 1))
			return 1;
	}
	if (d->hostname[0] && in_list(b->cfg.allow_host, b->cfg.n_allow_host, d->hostname, 1))
		return 1;
	if (d->mdns_name[0] && in_list(b->cfg.allow_host, b->cfg.n_allow_host, d->mdns_name, 1))
		return 1;
	if (d->client_id[0] &&
	    in_list(b->cfg.allow_client_id, b->cfg.n_allow_client_id, d->client_id, 1))
		return 1;
	return 0;
}

static int
in_company_segment(const struct byod *b, const struct byod_dev *d)
{
	/* No segment configured: the whole watched network is company-only. */
	if (b->cfg.n_company_nets == 0)
		return 1;
	if (d->ip.family == 0)
		return 0;
	for (size_t i = 0; i < b->cfg.n_company_nets; i++)
		if (cidr_contains(&b->cfg.company_nets[i], &d->ip))
			return 1;
	return 0;
}

static void
policy(struct byod *b, struct byod_dev *d, uint64_t ts)
{
	struct byod_finding f;
	const int mobile = is_mobile(d), push = (d->sources & BYOD_SRC_PUSH) != 0;
	int conf = 0;

	d->allowed = (uint8_t)dev_allowed(b, d);
	if (d->allowed || d->alerted || !in_company_segment(b, d))
		return;
	/* Push traffic or a random MAC alone does not make a phone. */
	if (!mobile && !(push && d->randomized))
		return;
	if (mobile) {
		if (strcmp(d->class_how, "dhcp-fingerprint") == 0 ||
		    strcmp(d->class_how, "dhcp-vendor-class") == 0)
			conf += 50;
		else if (strcmp(d->class_how, "http-user-agent") == 0)
			conf += 40;
		else
			conf += 30;
	}
	conf += d->randomized ? 20 : 0;
	conf += push ? 25 : 0;
	if (conf > 100)
		conf = 100;
	if (conf < b->cfg.byod_min_confidence)
		return;
	/* The explanation is written only for a finding that is reported. */
	memset(&f, 0, sizeof(f));
	if (mobile)
		snprintf(f.how, sizeof(f.how), "%s(%s)", d->class_how, d->os);
	if (d->randomized)
		append(f.how, sizeof(f.how), "randomized-mac");
	if (push)
		append(f.how, sizeof(f.how), "mobile-push-traffic");
	d->alerted = 1;
	f.kind = BYOD_F_BYOD_UNKNOWN;
	f.ts_ns = ts;
	f.dev = d;
	memcpy(f.mac, d->mac, 6);
	f.ip = d->ip;
	f.confidence = conf;
	emit(b, &f);
}

static void
dev_commit(struct byod *b, struct byod_dev *d, int is_new, unsigned chg, uint64_t ts)
{
	struct byod_finding f;

	/* Classify again only when something the table looks at changed:
	 * this runs for every DHCP, ARP and name packet. */
	if (is_new || d->dev_class[0] == '\0' || (chg & (CH_FP | CH_VCLASS | CH_HOST | CH_UA))) {
		char cls[sizeof(d->dev_class)], os[sizeof(d->os)];

		memcpy(cls, d->dev_class, sizeof(cls));
		memcpy(os, d->os, sizeof(os));
		if (b->fp != NULL && !byod_fp_classify(b->fp, d) && d->dev_class[0] == '\0')
			snprintf(d->dev_class, sizeof(d->dev_class), "unknown");
		if (strcmp(cls, d->dev_class) != 0 || strcmp(os, d->os) != 0)
			chg |= CH_OS;
	}
	if (is_new || chg != 0) {
		/* The two text buffers make up most of a finding, so only
		 * their first bytes are cleared. */
		memset(&f, 0, offsetof(struct byod_finding, how));
		f.how[0] = f.detail[0] = '\0';
		f.ts_ns = ts;
		f.dev = d;
		memcpy(f.mac, d->mac, 6);
		f.ip = d->ip;
		if (is_new) {
			f.kind = BYOD_F_ASSET_NEW;
			emit(b, &f);
		} else {
			if (chg & CH_MAC) {
				append(f.detail, sizeof(f.detail), "mac");
				memcpy(f.old_mac, d->prev_mac, 6);
			}
			if (chg & CH_IP)
				append(f.detail, sizeof(f.detail), "ip");
			if (chg & CH_HOST)
				append(f.detail, sizeof(f.detail), "hostname");
			if (chg & CH_OS)
				append(f.detail, sizeof(f.detail), "os");
			if (chg & CH_NAME)
				append(f.detail, sizeof(f.detail), "name");
			if (chg & CH_FP)
				append(f.detail, sizeof(f.detail), "dhcp_fingerprint");
			if (chg & CH_VCLASS)
				append(f.detail, sizeof(f.detail), "vendor_class");
			if (f.detail[0]) {
				f.kind = BYOD_F_ASSET_CHANGE;
				emit(b, &f);
			}
		}
	}
	policy(b, d, ts);
}

/* Takes a non-zero IPv4 address; returns CH_IP when it changed. */
static unsigned
set_ip(struct byod_dev *d, const struct mm_addr *ip)
{
	static const uint8_t zero[4];

	if (ip->family != 4 || memcmp(ip->addr, zero, 4) == 0 ||
	    memcmp(&d->ip, ip, sizeof(*ip)) == 0)
		return 0;
	d->ip = *ip;
	return CH_IP;
}

/* A phone that picked a new random MAC is recognised by the same DHCP
 * fingerprint and host name (or client id) under a random address. */
static struct byod_dev *
find_earlier_self(struct byod *b, const uint8_t *mac, const char *fp, const char *host,
                  const char *cid)
{
	if (!mac_randomized(mac) || fp[0] == '\0' || (host[0] == '\0' && cid[0] == '\0'))
		return NULL;
	/* A linear pass, but only for a DHCP client under a random MAC not
	 * yet known that sends both a parameter list and a name or id. */
	for (size_t i = 0; i < b->devt.n; i++) {
		struct byod_dev *d = &b->dev[i].d;
		if (!d->randomized || strcmp(d->dhcp_fp, fp) != 0)
			continue;
		if ((host[0] && strcasecmp(d->hostname, host) == 0) ||
		    (cid[0] && strcmp(d->client_id, cid) == 0))
			return d;
	}
	return NULL;
}

/* Whether list is the parameter request list the device's fingerprint
 * was last made from (an absent list counts as an empty one: both make
 * no fingerprint). */
static int
prl_same(const struct dev_ent *de, const struct mm_dhcp_bytes *list)
{
	uint8_t n = list->p != NULL ? list->len : 0;

	return de->has_prl && de->prl_len == n && (n == 0 || memcmp(de->prl, list->p, n) == 0);
}

static __attribute__((noinline)) void
on_dhcp(struct byod *b, const struct mm_packet *pkt)
{
	struct mm_dhcp_msg m;
	struct byod_dev *d;
	struct dev_ent *de;
	char fp[BYOD_LONG], host[BYOD_STR], vc[BYOD_STR], cid[BYOD_STR];
	int is_new = 0, same_prl;
	unsigned chg = 0;

	if (mm_dhcp_parse(&m, pkt->payload, pkt->payload_len) != MM_OK) {
		b->ctr[C_DHCP_BAD]++;
		return;
	}
	b->ctr[C_DHCP]++;
	if (m.htype != 1 || m.chaddr_len != 6 || !mac_usable(m.chaddr))
		return;
	if (m.op == 2) {
		/* Server replies only tell us the address a client got. */
		if (m.msg_type == MM_DHCP_ACK && (d = dev_lookup(b, m.chaddr)) != NULL) {
			chg = set_ip(d, &m.yiaddr);
			d->sources |= BYOD_SRC_DHCP;
			dev_commit(b, d, 0, chg, pkt->ts_ns);
		}
		return;
	}
	if (m.op != 1)
		return;
	/* A known device sending the list its fingerprint was made from:
	 * the fingerprint would come out the same and is already set. */
	d = dev_lookup(b, m.chaddr);
	same_prl = d != NULL && prl_same((struct dev_ent *)(void *)d, &m.param_list);
	fp[0] = '\0';
	if (!same_prl && mm_dhcp_fingerprint(fp, sizeof(fp), &m) < 0)
		fp[0] = '\0';
	mm_dhcp_text(host, sizeof(host), &m.hostname);
	mm_dhcp_text(vc, sizeof(vc), &m.vendor_class);
	cid[0] = '\0';
	for (size_t i = 0; i < m.client_id.len && i * 2 + 2 < sizeof(cid); i++) {
		static const char hex[] = "0123456789abcdef";
		cid[i * 2] = hex[m.client_id.p[i] >> 4];
		cid[i * 2 + 1] = hex[m.client_id.p[i] & 15];
		cid[i * 2 + 2] = '\0';
	}

	if (d == NULL && (d = find_earlier_self(b, m.chaddr, fp, host, cid)) != NULL) {
		uint32_t idx = (uint32_t)((struct dev_ent *)(void *)d - b->dev);
		/* dev_commit() reports the old MAC from prev_mac. */
		memcpy(d->prev_mac, d->mac, 6);
		d->has_prev = 1;
		/* The device changes its key: out of the index under the old
		 * MAC, back in under the new one. */
		byod_tab_unhash(&b->devt, idx);
		memcpy(d->mac, m.chaddr, 6);
		byod_tab_rehash(&b->devt, idx);
		byod_tab_touch(&b->devt, idx);
		d->mac_changes++;
		d->last_ts = pkt->ts_ns;
		b->ctr[C_MERGED]++;
		chg = CH_MAC;
	} else if (d != NULL) {
		/* dev_get() for the device already looked up above. */
		byod_tab_touch(&b->devt, (uint32_t)((struct dev_ent *)(void *)d - b->dev));
		d->last_ts = pkt->ts_ns;
	} else {
		d = dev_get(b, m.chaddr, pkt->ts_ns, &is_new);
	}
	d->sources |= BYOD_SRC_DHCP;
	if (fp[0])
		chg |= set_str(d->dhcp_fp, sizeof(d->dhcp_fp), fp, CH_FP);
	de = (struct dev_ent *)(void *)d;
	if (!same_prl) {
		/* What the fingerprint was just made from (see dev_ent). */
		uint8_t n = m.param_list.p != NULL ? m.param_list.len : 0;
		de->has_prl = n <= sizeof(de->prl);
		if (de->has_prl) {
			de->prl_len = n;
			if (n > 0)
				memcpy(de->prl, m.param_list.p, n);
		}
	}
	if (host[0])
		chg |= set_str(d->hostname, sizeof(d->hostname), host, CH_HOST);
	if (vc[0])
		chg |= set_str(d->vendor_class, sizeof(d->vendor_class), vc, CH_VCLASS);
	if (cid[0])
		copy_str(d->client_id, sizeof(d->client_id), cid);
	chg |= set_ip(d, &m.ciaddr);
	if (m.msg_type == MM_DHCP_REQUEST && d->ip.family == 0)
		chg |= set_ip(d, &m.requested_ip);
	dev_commit(b, d, is_new, chg, pkt->ts_ns);
}

struct name_ctx {
	struct byod *b;
	const struct mm_packet *pkt;
	uint32_t src;
};

static void
on_name(void *user, const char *name, const uint8_t *ip4)
{
	struct name_ctx *nc = user;
	struct byod *b = nc->b;
	struct byod_dev *d;
	unsigned chg;
	int is_new;

	/* Only names the sender announces for its own address describe the
	 * sender's device. */
	if (ip4 == NULL || nc->pkt->src.family != 4 || memcmp(nc->pkt->src.addr, ip4, 4) != 0)
		return;
	b->ctr[C_NAMES]++;
	d = dev_get(b, nc->pkt->src_mac, nc->pkt->ts_ns, &is_new);
	d->sources |= nc->src;
	chg = set_ip(d, &nc->pkt->src);
	chg |= set_str(d->mdns_name, sizeof(d->mdns_name), name, CH_NAME);
	if (d->hostname[0] == '\0')
		chg |= set_str(d->hostname, sizeof(d->hostname), name, CH_HOST);
	dev_commit(b, d, is_new, chg, nc->pkt->ts_ns);
}

static __attribute__((noinline)) void
on_http(struct byod *b, const struct mm_packet *pkt)
{
	const uint8_t *p = pkt->payload;
	uint32_t n = pkt->payload_len, i, end;
	struct byod_dev *d;
	unsigned chg;
	int is_new;

	if (n < 16 || !(memcmp(p, "GET ", 4) == 0 || memcmp(p, "POST ", 5) == 0 ||
	                memcmp(p, "HEAD ", 5) == 0))
		return;
	if (n > 4096)
		n = 4096;
	for (i = 0; i + 12 < n; i++) {
		if (p[i] != '\n' || strncasecmp((const char *)p + i + 1, "User-Agent:", 11) != 0)
			continue;
		i += 12;
		while (i < n && p[i] == ' ')
			i++;
		for (end = i; end < n && p[end] != '\r' && p[end] != '\n'; end++)
			;
		if (end == i)
			return;
		d = dev_get(b, pkt->src_mac, pkt->ts_ns, &is_new);
		d->sources |= BYOD_SRC_HTTP;
		chg = set_ip(d, &pkt->src);
		{
			struct mm_dhcp_bytes ua = {p + i, (uint8_t)(end - i > 255 ? 255 : end - i)};
			char txt[sizeof(d->user_agent)];
			mm_dhcp_text(txt, sizeof(txt), &ua);
			chg |= set_str(d->user_agent, sizeof(d->user_agent), txt, CH_UA);
		}
		b->ctr[C_HTTP_UA]++;
		dev_commit(b, d, is_new, chg, pkt->ts_ns);
		return;
	}
}

static __attribute__((noinline)) void
on_push(struct byod *b, const struct mm_packet *pkt)
{
	struct byod_dev *d = dev_lookup(b, pkt->src_mac);

	/* Only devices already in the inventory: a SYN alone does not make
	 * one, and the policy re-runs with the extra evidence. */
	if (d == NULL || (d->sources & BYOD_SRC_PUSH))
		return;
	d->sources |= BYOD_SRC_PUSH;
	dev_commit(b, d, 0, set_ip(d, &pkt->src), pkt->ts_ns);
}

/* --- arpwatch ----------------------------------------------------------- */

static struct arp_ent *
arp_new(struct byod *b, const uint8_t *ip)
{
	int evicted;
	uint32_t i = byod_tab_alloc(&b->arpt, NULL, &evicted);
	struct arp_ent *e = &b->arp[i];

	if (evicted)
		b->ctr[C_ARP_EVICT]++;
	memset(e, 0, sizeof(*e));
	memcpy(e->ip, ip, 4);
	byod_tab_link(&b->arpt, i);
	return e;
}

static void
arp_finding(struct byod *b, int kind, const struct arp_ent *e, const uint8_t *old, uint64_t ts)
{
	struct byod_finding f;

	memset(&f, 0, sizeof(f));
	f.kind = kind;
	f.ts_ns = ts;
	memcpy(f.mac, e->mac, 6);
	if (old != NULL)
		memcpy(f.old_mac, old, 6);
	f.ip.family = 4;
	memcpy(f.ip.addr, e->ip, 4);
	f.dev = dev_lookup(b, e->mac);
	emit(b, &f);
}

/* One station answering for several addresses at once is how ARP
 * poisoning looks from outside: the attacker claims the gateway's address
 * with the MAC it also uses for its own. The device remembers the address
 * it claimed last; when that differs and the ARP table still gives it to
 * the same MAC, the station holds two addresses. */
static void
arp_multi(struct byod *b, struct dev_ent *de, struct arp_ent *e, uint64_t ts)
{
	struct arp_ent *o = NULL;
	uint32_t oi;

	if (de->arp_ts != 0 && memcmp(de->arp_ip, e->ip, 4) != 0 &&
	    within(ts, de->arp_ts, b->cfg.arp_flipflop_ns) &&
	    (oi = byod_tab_find(&b->arpt, de->arp_ip)) != TAB_NONE &&
	    memcmp(b->arp[oi].mac, e->mac, 6) == 0)
		o = &b->arp[oi];
	memcpy(de->arp_ip, e->ip, 4);
	de->arp_ts = ts;
	if (o == NULL)
		return;
	if (e->multi_alert != 0 && within(ts, e->multi_alert, b->cfg.arp_suppress_ns)) {
		b->ctr[C_SUPPRESSED]++;
		return;
	}
	e->multi_alert = ts;
	o->multi_alert = ts;
	{
		struct byod_finding f;
		char ipb[MM_ADDR_STRLEN];
		struct mm_addr oa = {.family = 4};
		memset(&f, 0, sizeof(f));
		f.kind = BYOD_F_ARP_MULTI_IP;
		f.ts_ns = ts;
		memcpy(f.mac, e->mac, 6);
		f.ip.family = 4;
		memcpy(f.ip.addr, e->ip, 4);
		memcpy(oa.addr, o->ip, 4);
		copy_str(f.detail, sizeof(f.detail), mm_addr_format(ipb, &oa));
		f.dev = &de->d;
		emit(b, &f);
	}
}

static __attribute__((noinline)) void
on_arp(struct byod *b, const struct mm_packet *pkt)
{
	static const uint8_t zero4[4];
	const uint8_t *mac = pkt->arp_sha, *ip = pkt->arp_spa.addr;
	struct arp_ent *e;
	struct byod_dev *d;
	uint64_t ts = pkt->ts_ns;
	uint32_t i;
	int is_new;

	b->ctr[C_ARP]++;
	if (!mac_usable(mac) || pkt->arp_spa.family != 4 || memcmp(ip, zero4, 4) == 0)
		return;
	/* The inventory learns the station too. */
	d = dev_get(b, mac, ts, &is_new);
	d->sources |= BYOD_SRC_ARP;
	dev_commit(b, d, is_new, set_ip(d, &pkt->arp_spa), ts);

	i = byod_tab_find(&b->arpt, ip);
	if (i == TAB_NONE) {
		e = arp_new(b, ip);
		memcpy(e->mac, mac, 6);
		e->first_ts = e->last_ts = ts;
		if (b->cfg.arp_report_new)
			arp_finding(b, BYOD_F_ARP_NEW, e, NULL, ts);
	} else {
		e = &b->arp[i];
		byod_tab_touch(&b->arpt, i);
		if (memcmp(e->mac, mac, 6) != 0) {
			uint8_t old[6];
			int flip = e->has_prev && memcmp(e->prev_mac, mac, 6) == 0 &&
			           within(ts, e->changed_ts, b->cfg.arp_flipflop_ns);
			memcpy(old, e->mac, 6);
			memcpy(e->prev_mac, e->mac, 6);
			e->has_prev = 1;
			memcpy(e->mac, mac, 6);
			e->changed_ts = ts;
			if (e->last_alert != 0 &&
			    within(ts, e->last_alert, b->cfg.arp_suppress_ns)) {
				b->ctr[C_SUPPRESSED]++;
			} else {
				e->last_alert = ts;
				arp_finding(b, flip ? BYOD_F_ARP_FLIPFLOP : BYOD_F_ARP_CHANGED, e,
				            old, ts);
			}
		}
		e->last_ts = ts;
	}
	/* dev_get may not have kept the device when the inventory bound is
	 * tiny; look it up again rather than trusting d. */
	{
		struct dev_ent *de = dev_ent_lookup(b, mac);
		if (de != NULL)
			arp_multi(b, de, e, ts);
	}
}

/* --- rogue Wi-Fi -------------------------------------------------------- */

static int bssid_authorized(const struct byod *b, const uint8_t *bssid);
static int company_index(const struct byod *b, const struct byod_ap *ap);

/* Authorized access points are never pushed out by others: a flood of
 * fake beacons must not make the company's own APs look new. */
static int
ap_pinned(const void *entry)
{
	return ((const struct ap_ent *)entry)->ap.authorized;
}

/* A new entry for bssid (the least recently seen unpinned access point
 * makes room when the table is full). Out of line so that the lookup
 * in ap_get(), which runs for every beacon, stays small. */
static __attribute__((noinline)) struct ap_ent *
ap_new(struct byod *b, const uint8_t *bssid, uint64_t ts)
{
	int evicted;
	uint32_t i = byod_tab_alloc(&b->apt, ap_pinned, &evicted);

	if (evicted)
		b->ctr[C_AP_EVICT]++;
	memset(&b->ap[i], 0, sizeof(b->ap[i]));
	memcpy(b->ap[i].ap.bssid, bssid, 6);
	b->ap[i].ap.first_ts = ts;
	b->ap[i].ap.authorized = (uint8_t)bssid_authorized(b, bssid);
	b->ap[i].ap.randomized = (uint8_t)mac_randomized(bssid);
	b->ap[i].company_ci = (int16_t)company_index(b, &b->ap[i].ap);
	if (!b->ap[i].ap.randomized) {
		const char *v = byod_oui_lookup(b->oui, bssid);
		if (v != NULL)
			copy_str(b->ap[i].ap.vendor, sizeof(b->ap[i].ap.vendor), v);
	}
	byod_tab_link(&b->apt, i);
	return &b->ap[i];
}

static struct ap_ent *
ap_get(struct byod *b, const uint8_t *bssid, uint64_t ts, int *is_new)
{
	uint32_t i = byod_tab_find(&b->apt, bssid);

	*is_new = i == TAB_NONE;
	if (i == TAB_NONE)
		return ap_new(b, bssid, ts);
	byod_tab_touch(&b->apt, i);
	return &b->ap[i];
}

static int
rate_ok(struct byod *b, struct ap_ent *e, int kind, uint64_t ts)
{
	if (e->last_alert[kind] != 0 && within(ts, e->last_alert[kind], b->cfg.alert_interval_ns)) {
		b->ctr[C_SUPPRESSED]++;
		return 0;
	}
	e->last_alert[kind] = ts;
	return 1;
}

/* Reports a finding about an access point; callers test rate_ok() first,
 * so that a repeated condition (every beacon of a downgraded AP) costs
 * neither the call nor the formatting of its detail text. */
static void ap_report(struct byod *b, struct ap_ent *e, int kind, uint64_t ts, double score,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
ap_report(struct byod *b, struct ap_ent *e, int kind, uint64_t ts, double score, const char *fmt,
          ...)
{
	struct byod_finding f;
	va_list ap;

	memset(&f, 0, sizeof(f));
	f.kind = kind;
	f.ts_ns = ts;
	f.ap = &e->ap;
	memcpy(f.mac, e->ap.bssid, 6);
	f.score = score;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(f.detail, sizeof(f.detail), fmt, ap);
		va_end(ap);
	}
	emit(b, &f);
}

static int
company_index(const struct byod *b, const struct byod_ap *ap)
{
	for (size_t i = 0; i < b->cfg.n_company_ssid; i++)
		if (b->company_len[i] == ap->ssid_len &&
		    memcmp(b->cfg.company_ssid[i], ap->ssid_raw, ap->ssid_len) == 0)
			return (int)i;
	return -1;
}

static int
bssid_authorized(const struct byod *b, const uint8_t *bssid)
{
	for (size_t i = 0; i < b->cfg.n_auth_bssid; i++)
		if (memcmp(b->cfg.auth_bssid[i], bssid, 6) == 0)
			return 1;
	return 0;
}

/* What this frame's body says: the copy kept from the access point's
 * previous frame when the bytes after the timestamp are the same, which
 * is the common case, or a fresh parse that is then kept. */
static const struct byod_beacon *
beacon_info(struct ap_ent *e, const struct mm_packet *pkt, struct byod_beacon *tmp)
{
	const uint8_t *body = pkt->wlan_body + 8;
	uint32_t n = pkt->wlan_body_len - 8;

	if (n == e->body_len && memcmp(e->body, body, n) == 0)
		return &e->body_info;
	byod_beacon_parse(tmp, pkt->wlan_body, pkt->wlan_body_len);
	if (n > sizeof(e->body)) {
		e->body_len = 0;
		return tmp;
	}
	memcpy(e->body, body, n);
	e->body_len = (uint16_t)n;
	e->body_info = *tmp;
	return &e->body_info;
}

static __attribute__((noinline)) void
on_beacon(struct byod *b, const struct mm_packet *pkt)
{
	struct byod_beacon tmp;
	const struct byod_beacon *bc;
	struct ap_ent *e;
	uint64_t ts = pkt->ts_ns;
	int is_new, ci, ssid_changed;
	/* The frame's view of the access point, as byod_wlan_parse() gives
	 * it (the printable SSID is made only when the name changes). */
	uint16_t channel, beacon_int;
	uint8_t enc, ssid_len;
	int8_t signal;

	if (!byod_beacon_frame(pkt))
		return;
	b->ctr[C_BEACONS]++;
	e = ap_get(b, pkt->wlan_bssid, ts, &is_new);
	bc = beacon_info(e, pkt, &tmp);
	beacon_int = bc->beacon_int;
	channel = bc->has_ds ? bc->ds_channel : pkt->channel;
	signal = pkt->has_signal ? pkt->signal_dbm : 0;
	enc = bc->enc;
	ssid_len = bc->ssid_len;
	if (!is_new && pkt->wlan_subtype == MM_WLAN_BEACON) {
		if (e->ap.channel && channel && e->ap.channel != channel) {
			unsigned was = e->ap.channel;
			e->ap.channel = channel;
			if (rate_ok(b, e, BYOD_F_WIFI_CHANNEL, ts))
				ap_report(b, e, BYOD_F_WIFI_CHANNEL, ts, 0, "%u>%u", was,
				          (unsigned)channel);
		}
		if (e->ap.beacon_int && beacon_int && e->ap.beacon_int != beacon_int) {
			unsigned was = e->ap.beacon_int;
			e->ap.beacon_int = beacon_int;
			if (rate_ok(b, e, BYOD_F_WIFI_BEACON_INT, ts))
				ap_report(b, e, BYOD_F_WIFI_BEACON_INT, ts, 0, "%u>%u", was,
				          (unsigned)beacon_int);
		}
	}
	/* The name is compared once; nothing before the copy below changes
	 * it. */
	ssid_changed = is_new || e->ap.ssid_len != ssid_len ||
	               memcmp(e->ap.ssid_raw, bc->ssid_raw, ssid_len) != 0;
	if (!ssid_changed && enc < e->ap.enc) {
		int was = e->ap.enc;
		e->ap.enc = enc;
		if (rate_ok(b, e, BYOD_F_WIFI_DOWNGRADE, ts))
			ap_report(b, e, BYOD_F_WIFI_DOWNGRADE, ts, 0, "%s>%s", byod_enc_name(was),
			          byod_enc_name(enc));
	}
	/* Keep what we learnt; hidden SSIDs in probe responses fill in. An
	 * unchanged name is already there, printable text included. */
	if (ssid_changed && bc->has_ssid && (ssid_len > 0 || e->ap.ssid_len == 0)) {
		memset(e->ap.ssid, 0, sizeof(e->ap.ssid));
		byod_ssid_text(e->ap.ssid, sizeof(e->ap.ssid), bc->ssid_raw, ssid_len);
		memcpy(e->ap.ssid_raw, bc->ssid_raw, sizeof(e->ap.ssid_raw));
		e->ap.ssid_len = ssid_len;
		e->company_ci = (int16_t)company_index(b, &e->ap);
	}
	if (channel)
		e->ap.channel = channel;
	if (beacon_int && pkt->wlan_subtype == MM_WLAN_BEACON)
		e->ap.beacon_int = beacon_int;
	e->ap.enc = enc;
	e->ap.privacy = bc->privacy;
	if (signal)
		e->ap.signal = signal;
	e->ap.beacons++;
	e->ap.last_ts = ts;

	/* ap.authorized was set when the entry was made: the BSSID is its
	 * key and the authorized list does not change. */
	ci = e->company_ci;
	e->ap.company = ci >= 0;
	/* The AP table as asset events: once at first sight, and once more
	 * when a hidden network's name shows up in a probe response. */
	if (b->cfg.ap_events && (e->reported == 0 || (e->reported == 1 && e->ap.ssid_len > 0))) {
		struct byod_finding f;
		memset(&f, 0, sizeof(f));
		f.kind = BYOD_F_WIFI_AP_NEW;
		f.ts_ns = ts;
		f.ap = &e->ap;
		memcpy(f.mac, e->ap.bssid, 6);
		if (e->reported == 1)
			snprintf(f.detail, sizeof(f.detail), "ssid");
		e->reported = e->ap.ssid_len > 0 ? 2 : 1;
		emit(b, &f);
	}
	if (ci >= 0) {
		if (e->ap.authorized) {
			if (e->ap.enc > b->company_best_enc[ci])
				b->company_best_enc[ci] = e->ap.enc;
		} else if (b->cfg.n_auth_bssid > 0 && rate_ok(b, e, BYOD_F_WIFI_EVIL_TWIN, ts)) {
			ap_report(b, e, BYOD_F_WIFI_EVIL_TWIN, ts, 0, "%s",
			          b->cfg.company_ssid[ci]);
		}
		if (e->ap.enc < b->company_best_enc[ci] &&
		    rate_ok(b, e, BYOD_F_WIFI_DOWNGRADE, ts)) {
			ap_report(b, e, BYOD_F_WIFI_DOWNGRADE, ts, 0, "%s>%s",
			          byod_enc_name(b->company_best_enc[ci]), byod_enc_name(e->ap.enc));
		}
		return;
	}
	/* The similarity only changes with the SSID. */
	if (e->ap.ssid_len > 0 && ssid_changed) {
		for (size_t i = 0; i < b->cfg.n_company_ssid; i++) {
			double sim = byod_ssid_similarity(e->ap.ssid, b->cfg.company_ssid[i]);
			if (sim >= b->cfg.lookalike_min) {
				if (rate_ok(b, e, BYOD_F_WIFI_LOOKALIKE, ts))
					ap_report(b, e, BYOD_F_WIFI_LOOKALIKE, ts, sim, "%s",
					          b->cfg.company_ssid[i]);
				break;
			}
		}
	}
	if (!e->ap.authorized && e->ap.signal != 0 && e->ap.signal >= b->cfg.strong_dbm &&
	    rate_ok(b, e, BYOD_F_WIFI_STRONG, ts))
		ap_report(b, e, BYOD_F_WIFI_STRONG, ts, e->ap.signal, NULL);
}

static __attribute__((noinline)) void
on_deauth(struct byod *b, const struct mm_packet *pkt)
{
	const uint8_t *bssid = pkt->wlan_bssid ? pkt->wlan_bssid : pkt->wlan_addr2;
	struct ap_ent *e;
	uint64_t ts = pkt->ts_ns;
	int is_new;

	b->ctr[C_DEAUTH]++;
	if (bssid == NULL)
		return;
	e = ap_get(b, bssid, ts, &is_new);
	if (is_new)
		e->ap.last_ts = ts;
	if (!within(ts, e->ap.deauth_win, NS)) {
		e->ap.deauth_win = ts;
		e->ap.deauth_count = 0;
	}
	e->ap.deauth_count++;
	if (e->ap.deauth_count == b->cfg.deauth_per_s + 1 &&
	    rate_ok(b, e, BYOD_F_WIFI_DEAUTH_FLOOD, ts))
		ap_report(b, e, BYOD_F_WIFI_DEAUTH_FLOOD, ts, e->ap.deauth_count, NULL);
}

/* --- dispatch ----------------------------------------------------------- */

/* The handlers are kept out of line (noinline above): inlined, their
 * many live values made byod_packet() save and restore six registers
 * for every frame, most of which (802.11 data and control frames) it
 * only looks at and drops. */

static __attribute__((noinline)) void
on_names(struct byod *b, const struct mm_packet *pkt)
{
	struct name_ctx nc = {b, pkt,
	                      pkt->sport == 5353   ? BYOD_SRC_MDNS
	                      : pkt->sport == 5355 ? BYOD_SRC_LLMNR
	                                           : BYOD_SRC_NBNS};

	byod_dns_names(pkt->payload, pkt->payload_len, pkt->sport == 137, on_name, &nc);
}

void
byod_packet(struct byod *b, const struct mm_packet *pkt)
{
	b->ctr[C_PACKETS]++;
	if (pkt->layers & MM_L_WLAN) {
		if (pkt->wlan_type != MM_WLAN_MGMT)
			return;
		b->ctr[C_WLAN_MGMT]++;
		if (pkt->wlan_subtype == MM_WLAN_BEACON || pkt->wlan_subtype == MM_WLAN_PROBE_RESP)
			on_beacon(b, pkt);
		else if (pkt->wlan_subtype == MM_WLAN_DEAUTH ||
		         pkt->wlan_subtype == MM_WLAN_DISASSOC)
			on_deauth(b, pkt);
		return;
	}
	if (pkt->layers & MM_L_ARP) {
		on_arp(b, pkt);
		return;
	}
	if (pkt->src_mac == NULL || !mac_usable(pkt->src_mac))
		return;
	if (pkt->layers & MM_L_UDP) {
		if ((pkt->sport == 68 && pkt->dport == 67) ||
		    (pkt->sport == 67 && pkt->dport == 68) ||
		    (pkt->sport == 67 && pkt->dport == 67)) {
			on_dhcp(b, pkt);
		} else if (pkt->sport == 5353 || pkt->sport == 5355 || pkt->sport == 137) {
			on_names(b, pkt);
		}
	} else if (pkt->layers & MM_L_TCP) {
		if ((pkt->tcp_flags & (MM_TCP_SYN | MM_TCP_ACK)) == MM_TCP_SYN &&
		    (pkt->dport == 5223 || (pkt->dport >= 5228 && pkt->dport <= 5230)))
			on_push(b, pkt);
		else if (pkt->payload_len > 0)
			on_http(b, pkt);
	}
}

/* --- persistence -------------------------------------------------------- */

int
byod_save(const struct byod *b, const char *path)
{
	char tmp[4096], m1[MM_MAC_STRLEN], m2[MM_MAC_STRLEN], ip[MM_ADDR_STRLEN];
	FILE *f;
	int rc = MM_OK;

	/* Written to a temporary file and renamed, so a crash never leaves
	 * half an inventory behind. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return MM_ERR_INVAL;
	f = fopen(tmp, "w");
	if (f == NULL)
		return MM_ERR_IO;
	fprintf(f, "# mimamori byod inventory v1\n");
	/* Oldest first, so that loading it back leaves the most recently
	 * seen devices the last to be replaced. */
	for (uint32_t i = b->devt.tail; i != TAB_NONE; i = b->devt.prev[i]) {
		const struct byod_dev *d = &b->dev[i].d;
		fprintf(f,
		        "%s\t%s\t%u\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%llu\t%llu\t%u\t%"
		        "u\t%u\n",
		        mm_mac_format(m1, d->mac),
		        d->has_prev ? mm_mac_format(m2, d->prev_mac) : "-", d->randomized,
		        d->ip.family ? mm_addr_format(ip, &d->ip) : "-",
		        d->vendor[0] ? d->vendor : "-", d->hostname[0] ? d->hostname : "-",
		        d->dev_class[0] ? d->dev_class : "-", d->os[0] ? d->os : "-",
		        d->class_how[0] ? d->class_how : "-", d->dhcp_fp[0] ? d->dhcp_fp : "-",
		        d->vendor_class[0] ? d->vendor_class : "-",
		        d->client_id[0] ? d->client_id : "-", d->mdns_name[0] ? d->mdns_name : "-",
		        d->user_agent[0] ? d->user_agent : "-", (unsigned long long)d->first_ts,
		        (unsigned long long)d->last_ts, d->sources, d->mac_changes, d->alerted);
	}
	if (fclose(f) != 0)
		rc = MM_ERR_IO;
	if (rc == MM_OK && rename(tmp, path) != 0)
		rc = MM_ERR_IO;
	if (rc != MM_OK)
		remove(tmp);
	return rc;
}

static void
field(char *out, size_t outsz, const char *s)
{
	snprintf(out, outsz, "%s", strcmp(s, "-") == 0 ? "" : s);
}

int
byod_load(struct byod *b, const char *path)
{
	char line[2048];
	FILE *f = fopen(path, "r");
	int loaded = 0;

	if (f == NULL)
		return MM_ERR_NOTFOUND;
	while (fgets(line, sizeof(line), f) != NULL && b->devt.n < b->cfg.max_devices) {
		char *v[19], *save = NULL, *p;
		struct byod_dev *d;
		struct mm_addr ip;
		uint8_t mac[6];
		int n = 0;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#')
			continue;
		for (p = strtok_r(line, "\t", &save); p != NULL && n < 19;
		     p = strtok_r(NULL, "\t", &save))
			v[n++] = p;
		if (n != 19 || parse_mac(mac, v[0]) != MM_OK || dev_lookup(b, mac) != NULL)
			continue;
		d = &dev_new(b, mac)->d;
		d->has_prev = parse_mac(d->prev_mac, v[1]) == MM_OK;
		d->randomized = (uint8_t)mac_randomized(mac);
		if (strcmp(v[3], "-") != 0 && mm_addr_parse(&ip, v[3]) == MM_OK)
			d->ip = ip;
		field(d->vendor, sizeof(d->vendor), v[4]);
		field(d->hostname, sizeof(d->hostname), v[5]);
		field(d->dev_class, sizeof(d->dev_class), v[6]);
		field(d->os, sizeof(d->os), v[7]);
		field(d->class_how, sizeof(d->class_how), v[8]);
		field(d->dhcp_fp, sizeof(d->dhcp_fp), v[9]);
		field(d->vendor_class, sizeof(d->vendor_class), v[10]);
		field(d->client_id, sizeof(d->client_id), v[11]);
		field(d->mdns_name, sizeof(d->mdns_name), v[12]);
		field(d->user_agent, sizeof(d->user_agent), v[13]);
		d->first_ts = strtoull(v[14], NULL, 10);
		d->last_ts = strtoull(v[15], NULL, 10);
		d->sources = (uint32_t)strtoul(v[16], NULL, 10);
		d->mac_changes = (uint32_t)strtoul(v[17], NULL, 10);
		d->alerted = (uint8_t)(strtoul(v[18], NULL, 10) != 0);
		loaded++;
	}
	fclose(f);
	return loaded;
}
