/*
 * The UTM side of the legacy-OS watcher: for each decoded packet, pull out
 * the passive signals (TCP SYN signature, DHCP options 55/60, SMB dialects
 * and NativeOS, HTTP User-Agent), attribute them to the sending LAN host in
 * a bounded host table, follow each host's flows to the internet with the
 * SDK flow table, and tell the caller when a host gets a label, becomes
 * "legacy" (two independent signal families agree) or, being legacy, is
 * seen talking to the internet. Runs in the legacy module's worker process.
 */
#include "legacy.h"

#include <mimamori/error.h>
#include <mimamori/flow.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UA_MAX 200

struct legacy_utm {
	struct legacy_utm_opts opts;
	const struct legacy_p0f *db;
	const struct legacy_sigtab *tab;
	const struct legacy_eol *eol;
	legacy_change_cb cb;
	void *user;
	struct legacy_host *hosts;
	size_t nhosts;    /* slots handed out */
	uint32_t *bucket; /* IP hash: host index + 1 */
	size_t nbucket;
	struct mm_flow_table *flows;
	struct legacy_utm_stats st;
};

int
legacy_addr_is_private(const struct mm_addr *a)
{
	const uint8_t *b = a->addr;

	if (a->family == 4) {
		return b[0] == 10 || b[0] == 127 || b[0] == 0 ||
		       (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
		       (b[0] == 169 && b[1] == 254) || (b[0] == 100 && (b[1] & 0xc0) == 64) ||
		       b[0] >= 224 || (b[0] == 192 && b[1] == 0 && b[2] == 2) ||
		       (b[0] == 198 && b[1] == 51 && b[2] == 100) ||
		       (b[0] == 203 && b[1] == 0 && b[2] == 113) ||
		       (b[0] == 198 && (b[1] & 0xfe) == 18);
	}
	if (a->family == 6) {
		static const uint8_t zero[15];
		return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
		       b[0] == 0xff || (memcmp(b, zero, 15) == 0 && b[15] <= 1) ||
		       (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8);
	}
	return 1;
}

static uint32_t
addr_hash(const struct mm_addr *a)
{
	uint32_t h = 2166136261u;
	int i, n = a->family == 6 ? 16 : 4;

	for (i = 0; i < n; i++)
		h = (h ^ a->addr[i]) * 16777619u;
	return h;
}

static int
addr_eq(const struct mm_addr *a, const struct mm_addr *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, a->family == 6 ? 16 : 4) == 0;
}

struct legacy_host *
legacy_utm_find(struct legacy_utm *u, const struct mm_addr *ip)
{
	uint32_t i;

	if (ip->family != 4 && ip->family != 6)
		return NULL;
	for (i = u->bucket[addr_hash(ip) & (u->nbucket - 1)]; i != 0; i = u->hosts[i - 1].hash_next)
		if (addr_eq(&u->hosts[i - 1].ip, ip))
			return &u->hosts[i - 1];
	return NULL;
}

static void
hash_insert(struct legacy_utm *u, struct legacy_host *h)
{
	uint32_t *b = &u->bucket[addr_hash(&h->ip) & (u->nbucket - 1)];

	h->hash_next = *b;
	*b = (uint32_t)(h - u->hosts) + 1;
}

static struct legacy_host *
new_host(struct legacy_utm *u, uint64_t ts)
{
	struct legacy_host *h;

	if (u->nhosts >= u->opts.max_hosts) {
		/* Bounded: new hosts beyond the cap are counted, not tracked. */
		u->st.hosts_dropped++;
		return NULL;
	}
	h = &u->hosts[u->nhosts++];
	memset(h, 0, sizeof(*h));
	h->in_use = 1;
	h->first_ns = h->last_ns = ts;
	u->st.hosts++;
	return h;
}

static struct legacy_host *
find_mac_only(struct legacy_utm *u, const uint8_t *mac)
{
	size_t i;

	for (i = 0; i < u->nhosts; i++) {
		struct legacy_host *h = &u->hosts[i];
		if (h->in_use && h->ip.family == 0 && h->has_mac && memcmp(h->mac, mac, 6) == 0)
			return h;
	}
	return NULL;
}

/* The host that sent pkt, created on demand. A host first known only by
 * its MAC (from DHCP) gets its IP here, and its signals follow. */
static struct legacy_host *
host_for(struct legacy_utm *u, const struct mm_addr *ip, const uint8_t *mac, uint64_t ts)
{
	struct legacy_host *h = legacy_utm_find(u, ip), *m;
	/* Only a LAN sender's own MAC means anything: a routed address arrives
	 * with the gateway's. */
	int lan = legacy_addr_is_private(ip);

	if (h == NULL) {
		m = lan && mac != NULL ? find_mac_only(u, mac) : NULL;
		h = m != NULL ? m : new_host(u, ts);
		if (h == NULL)
			return NULL;
		h->ip = *ip;
		hash_insert(u, h);
	}
	if (!h->has_mac && lan && mac != NULL) {
		memcpy(h->mac, mac, 6);
		h->has_mac = 1;
		m = find_mac_only(u, mac);
		if (m != NULL && m != h) {
			size_t i;
			for (i = 0; i < m->nsig; i++)
				legacy_host_add_signal(h, &m->sig[i]);
			if (h->hostname[0] == '\0')
				legacy_strlcpy(h->hostname, m->hostname, sizeof(h->hostname));
			m->in_use = 0;
		}
	}
	h->last_ns = ts;
	return h;
}

int
legacy_host_add_signal(struct legacy_host *h, const struct legacy_signal *s)
{
	size_t i;

	for (i = 0; i < h->nsig; i++)
		if (strcmp(h->sig[i].kind, s->kind) == 0 &&
		    strcmp(h->sig[i].evidence, s->evidence) == 0)
			return 0;
	if (h->nsig >= LEGACY_HOST_SIGNALS)
		return 0;
	h->sig[h->nsig++] = *s;
	return 1;
}

void
legacy_assess_host(struct legacy_assess *out, const struct legacy_host *h, int min_families)
{
	int leg_w[LF__COUNT] = {0}, cur[LF__COUNT] = {0};
	const char *leg_os[LF__COUNT] = {0};
	int best_w = -1, f;
	size_t i;
	double miss = 1.0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < h->nsig; i++) {
		const struct legacy_signal *s = &h->sig[i];
		if (s->family >= LF__COUNT)
			continue;
		if (s->verdict == LV_LEGACY &&
		    (leg_os[s->family] == NULL || s->weight > leg_w[s->family])) {
			leg_w[s->family] = s->weight;
			leg_os[s->family] = s->os;
		} else if (s->verdict == LV_CURRENT) {
			cur[s->family] = 1;
		}
		/* The label shown is the strongest signal with an opinion, or
		 * the first one when none has. */
		if (s->verdict != LV_NEUTRAL && (int)s->weight > best_w) {
			best_w = s->weight;
			out->os = s->os;
		} else if (out->os == NULL) {
			out->os = s->os;
		}
	}
	for (f = 0; f < LF__COUNT; f++) {
		if (cur[f]) {
			out->current_families++;
		} else if (leg_os[f] != NULL) {
			out->families[out->legacy_families++] = legacy_family_name(f);
			miss *= 1.0 - leg_w[f] / 100.0;
		}
	}
	out->confidence = (int)((1.0 - miss) * 100.0 + 0.5);
	out->is_legacy = out->legacy_families >= min_families && out->current_families == 0;
}

static int
verdict_of(const struct legacy_utm *u, const struct legacy_sigrow *r)
{
	const struct legacy_eol_entry *e;

	if (strcmp(r->product, "-") == 0 || r->product[0] == '\0')
		return LV_NEUTRAL;
	if (strcmp(r->product, "other") == 0)
		return LV_CURRENT;
	e = legacy_eol_find(u->eol, r->product, r->version);
	if (e == NULL)
		return LV_NEUTRAL;
	return u->opts.now_day > e->eol_day ? LV_LEGACY : LV_CURRENT;
}

/* Record a signal from a table row; returns 1 when it was new. */
static int
add_row_signal(struct legacy_utm *u, struct legacy_host *h, int family,
               const struct legacy_sigrow *r, const char *evidence)
{
	struct legacy_signal s;

	memset(&s, 0, sizeof(s));
	s.family = (uint8_t)family;
	s.verdict = (uint8_t)verdict_of(u, r);
	s.weight = (uint8_t)r->weight;
	legacy_strlcpy(s.kind, r->kind, sizeof(s.kind));
	legacy_strlcpy(s.os, r->os, sizeof(s.os));
	legacy_strlcpy(s.evidence, evidence, sizeof(s.evidence));
	if (!legacy_host_add_signal(h, &s))
		return 0;
	u->st.signals++;
	return 1;
}

static void
report(struct legacy_utm *u, struct legacy_host *h)
{
	struct legacy_assess a;

	legacy_assess_host(&a, h, u->opts.min_families);
	if (h->nsig != h->reported_os_sig && a.os != NULL) {
		h->reported_os_sig = h->nsig;
		u->cb(u->user, h, LEGACY_CH_INVENTORY, &a);
	}
	if (a.is_legacy && h->alerted < 1) {
		h->alerted = 1;
		u->cb(u->user, h, LEGACY_CH_LEGACY, &a);
	}
	if (a.is_legacy && h->alerted < 2 && h->ext_packets > 0) {
		h->alerted = 2;
		u->cb(u->user, h, LEGACY_CH_INTERNET, &a);
	}
}

static void
format_obs(char *out, size_t outlen, const struct legacy_tcp_obs *o)
{
	static const char *const onames[] = {"eol",  "nop", "mss", "ws", "sok",
	                                     "sack", "?6",  "?7",  "ts"};
	char opts[160] = "";
	size_t w = 0, i;

	for (i = 0; i < o->nopt && w + 12 < sizeof(opts); i++) {
		int n;
		if (o->opt[i] == O_EOL)
			n = snprintf(opts + w, sizeof(opts) - w, "%seol+%u", i ? "," : "",
			             o->eol_pad);
		else if (o->opt[i] < sizeof(onames) / sizeof(onames[0]))
			n = snprintf(opts + w, sizeof(opts) - w, "%s%s", i ? "," : "",
			             onames[o->opt[i]]);
		else
			n = snprintf(opts + w, sizeof(opts) - w, "%s?%u", i ? "," : "", o->opt[i]);
		if (n < 0)
			break;
		w += (size_t)n;
	}
	snprintf(out, outlen, "%u:%u:%d:%d:%u,%d:%s:%s%s:%c", o->ver, o->ttl, o->olen, o->mss,
	         o->win, o->scale, opts, (o->quirks & Q_DF) ? "df" : "",
	         (o->quirks & Q_NZ_ID) ? ",id+" : "", o->has_payload ? '+' : '0');
}

static int
on_syn(struct legacy_utm *u, const struct mm_packet *pkt)
{
	struct legacy_tcp_obs obs;
	const struct legacy_p0f_label *l;
	const struct legacy_sigrow *r;
	struct legacy_host *h;
	char key[96], ev[128], sig[100];
	int fuzzy, changed = 0;

	if (legacy_tcp_observe(&obs, pkt) != MM_OK)
		return 0;
	/* Servers are fingerprinted only on the LAN: the internet's web servers
	 * are not the devices this watcher is about. */
	if (obs.response && !legacy_addr_is_private(&pkt->src))
		return 0;
	u->st.syn++;
	l = legacy_p0f_match(u->db, &obs, &fuzzy);
	if (l == NULL) {
		u->st.tcp_unmatched++;
		return 0;
	}
	snprintf(key, sizeof(key), "%s:%s", l->name, l->flavor);
	r = legacy_sigtab_find(u->tab, "p0f", key);
	if (r == NULL)
		return 0;
	h = host_for(u, &pkt->src, pkt->src_mac, pkt->ts_ns);
	if (h == NULL)
		return 0;
	format_obs(sig, sizeof(sig), &obs);
	snprintf(ev, sizeof(ev), "%.60s%s %.56s", key, fuzzy ? " (fuzzy)" : "", sig);
	if (fuzzy) {
		/* A fuzzy match (TTL too far, DF/ID differ) counts half. */
		struct legacy_sigrow half = *r;
		half.weight /= 2;
		changed |= add_row_signal(u, h, LF_TCP, &half, ev);
	} else {
		changed |= add_row_signal(u, h, LF_TCP, r, ev);
	}
	/* Windows before Vista picked client ports from 1025-5000; later
	 * versions use 49152-65535. Only meaningful for a Windows stack. */
	if (!obs.response && strcmp(l->cls, "win") == 0 && pkt->sport >= 1025 &&
	    pkt->sport <= 5000) {
		r = legacy_sigtab_find(u->tab, "port", "win-low-port");
		/* One port signal per host is enough: key it on the range. */
		if (r != NULL)
			changed |= add_row_signal(u, h, LF_TCP, r, "client ports 1025-5000");
	}
	if (changed)
		report(u, h);
	return changed;
}

static void
on_dhcp(struct legacy_utm *u, const struct mm_packet *pkt)
{
	struct legacy_dhcp_info d;
	const struct legacy_sigrow *r = NULL;
	struct legacy_host *h;
	char ev[128], prl[100];
	size_t i, w = 0;
	int has121 = 0;

	if (legacy_dhcp_extract(&d, pkt->payload, pkt->payload_len) != MM_OK)
		return;
	u->st.dhcp++;
	for (i = 0; i < d.nprl && w + 5 < sizeof(prl); i++) {
		int n = snprintf(prl + w, sizeof(prl) - w, "%s%u", i ? "," : "", d.prl[i]);
		if (n < 0)
			break;
		w += (size_t)n;
		if (d.prl[i] == 121)
			has121 = 1;
	}
	prl[w] = '\0';
	/* Windows 2000 to 10 all send "MSFT 5.0"; what tells XP from Vista and
	 * later is option 121 (classless routes) missing from the request list. */
	if (d.has_60 && d.has_55 && strncmp(d.vendor, "MSFT 5.0", 8) == 0)
		r = legacy_sigtab_find(u->tab, "dhcp55", has121 ? "msft5+121" : "msft5-121");
	if (r == NULL && d.has_60)
		r = legacy_sigtab_find(u->tab, "dhcp60", d.vendor);
	if (r == NULL)
		return;
	/* The client is known by its MAC until it has an address. */
	if (d.requested.family == 4) {
		h = host_for(u, &d.requested, d.chaddr, pkt->ts_ns);
	} else {
		h = find_mac_only(u, d.chaddr);
		if (h == NULL) {
			size_t j;
			for (j = 0; j < u->nhosts && h == NULL; j++)
				if (u->hosts[j].in_use && u->hosts[j].has_mac &&
				    memcmp(u->hosts[j].mac, d.chaddr, 6) == 0)
					h = &u->hosts[j];
		}
		if (h == NULL && (h = new_host(u, pkt->ts_ns)) != NULL) {
			memcpy(h->mac, d.chaddr, 6);
			h->has_mac = 1;
		}
	}
	if (h == NULL)
		return;
	if (d.hostname[0] != '\0')
		legacy_strlcpy(h->hostname, d.hostname, sizeof(h->hostname));
	snprintf(ev, sizeof(ev), "60=%.40s 55=%.80s", d.has_60 ? d.vendor : "-",
	         d.has_55 ? prl : "-");
	if (add_row_signal(u, h, LF_DHCP, r, ev))
		report(u, h);
}

static void
on_smb(struct legacy_utm *u, const struct mm_packet *pkt)
{
	struct legacy_smb_info s;
	const struct legacy_sigrow *r = NULL;
	struct legacy_host *h;
	char ev[128], text[200];
	int changed = 0;

	if (legacy_smb_extract(&s, pkt->payload, pkt->payload_len) != MM_OK || !s.is_smb1)
		return;
	u->st.smb++;
	h = NULL;
	if (s.negotiate_req && s.ndialects > 0) {
		const char *key = s.offers_samba   ? "samba-client"
		                  : s.offers_smb2  ? "smb2-client"
		                  : s.offers_nt_lm ? "smb1-only-client"
		                                   : "lanman-only-client";
		r = legacy_sigtab_find(u->tab, "smb", key);
		if (r != NULL && (h = host_for(u, &pkt->src, pkt->src_mac, pkt->ts_ns)) != NULL) {
			snprintf(ev, sizeof(ev), "negotiate: %d dialects, %s", s.ndialects, key);
			changed |= add_row_signal(u, h, LF_SMB, r, ev);
		}
	}
	if (s.native_os[0] != '\0') {
		snprintf(text, sizeof(text), "%s|%s", s.native_os, s.native_lanman);
		r = legacy_sigtab_find(u->tab, "nativeos", text);
		if (r != NULL && (h = host_for(u, &pkt->src, pkt->src_mac, pkt->ts_ns)) != NULL) {
			snprintf(ev, sizeof(ev), "NativeOS \"%.50s\" LanMan \"%.40s\"", s.native_os,
			         s.native_lanman);
			changed |= add_row_signal(u, h, LF_SMB, r, ev);
		}
	}
	if (changed && h != NULL)
		report(u, h);
}

static void
on_http(struct legacy_utm *u, const struct mm_packet *pkt)
{
	char ua[UA_MAX], ev[128];
	const struct legacy_sigrow *r;
	struct legacy_host *h;

	if (legacy_http_user_agent(ua, sizeof(ua), pkt->payload, pkt->payload_len) != MM_OK)
		return;
	u->st.http++;
	r = legacy_sigtab_find(u->tab, "ua", ua);
	if (r == NULL)
		return;
	h = host_for(u, &pkt->src, pkt->src_mac, pkt->ts_ns);
	if (h == NULL)
		return;
	snprintf(ev, sizeof(ev), "User-Agent: %.110s", ua);
	if (add_row_signal(u, h, LF_HTTP, r, ev))
		report(u, h);
}

/* A flow became established: if a tracked LAN host is the client and the
 * server is on the internet, the host is talking to the internet. */
static void
flow_state(void *user, struct mm_flow *flow, int old_state, int new_state)
{
	struct legacy_utm *u = user;
	struct legacy_host *h;

	if (new_state != MM_FLOW_ESTABLISHED || legacy_addr_is_private(&flow->srv))
		return;
	h = legacy_utm_find(u, &flow->cli);
	/* LAN hosts are tracked from their first internet flow on, so a host
	 * recognised later already knows it has been online. */
	if (h == NULL && legacy_addr_is_private(&flow->cli))
		h = host_for(u, &flow->cli, NULL, flow->last_ns);
	if (h == NULL)
		return;
	h->ext_peer = flow->srv;
	h->ext_port = flow->srv_port;
	h->ext_proto = flow->proto;
	h->ext_ns = flow->last_ns;
	h->ext_packets += flow->pkts[MM_FLOW_TO_SERVER];
	report(u, h);
}

int
legacy_utm_new(struct legacy_utm **out, const struct legacy_utm_opts *opts,
               const struct legacy_p0f *db, const struct legacy_sigtab *tab,
               const struct legacy_eol *eol, legacy_change_cb cb, void *user)
{
	struct legacy_utm *u = NULL;
	struct mm_flow_table_opts fo;
	int rc = MM_OK;

	*out = NULL;
	if (opts->max_hosts == 0 || opts->max_hosts > (1u << 20) || cb == NULL)
		return MM_ERR_INVAL;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return MM_ERR_NOMEM;
	u->opts = *opts;
	if (u->opts.min_families < 1)
		u->opts.min_families = 1;
	u->db = db;
	u->tab = tab;
	u->eol = eol;
	u->cb = cb;
	u->user = user;
	u->hosts = calloc(opts->max_hosts, sizeof(*u->hosts));
	for (u->nbucket = 64; u->nbucket < opts->max_hosts * 2; u->nbucket *= 2)
		;
	u->bucket = calloc(u->nbucket, sizeof(*u->bucket));
	if (u->hosts == NULL || u->bucket == NULL) {
		rc = MM_ERR_NOMEM;
		goto out;
	}
	memset(&fo, 0, sizeof(fo));
	fo.size = sizeof(fo);
	fo.max_flows = 65536;
	fo.on_state = flow_state;
	fo.user = u;
	rc = mm_flow_table_new(&u->flows, &fo);
out:
	if (rc != MM_OK) {
		legacy_utm_free(u);
		return rc;
	}
	*out = u;
	return MM_OK;
}

void
legacy_utm_free(struct legacy_utm *u)
{
	if (u == NULL)
		return;
	mm_flow_table_free(u->flows);
	free(u->hosts);
	free(u->bucket);
	free(u);
}

void
legacy_utm_set_day(struct legacy_utm *u, int64_t now_day)
{
	u->opts.now_day = now_day;
}

void
legacy_utm_packet(struct legacy_utm *u, const struct mm_packet *pkt)
{
	u->st.packets++;
	if (!(pkt->layers & (MM_L_IPV4 | MM_L_IPV6)))
		return;
	mm_flow_table_process(u->flows, pkt, pkt->ts_ns);
	if (pkt->layers & MM_L_TCP) {
		if ((pkt->tcp_flags & MM_TCP_SYN) != 0) {
			on_syn(u, pkt);
			return;
		}
		if (pkt->payload_len == 0)
			return;
		if (pkt->sport == 445 || pkt->dport == 445 || pkt->sport == 139 ||
		    pkt->dport == 139)
			on_smb(u, pkt);
		else
			on_http(u, pkt);
	} else if ((pkt->layers & MM_L_UDP) && pkt->sport == 68 && pkt->dport == 67) {
		on_dhcp(u, pkt);
	}
}

const struct legacy_utm_stats *
legacy_utm_stats(const struct legacy_utm *u)
{
	return &u->st;
}

struct legacy_host *
legacy_utm_host_at(struct legacy_utm *u, size_t *iter)
{
	while (*iter < u->nhosts) {
		struct legacy_host *h = &u->hosts[(*iter)++];
		if (h->in_use)
			return h;
	}
	return NULL;
}
