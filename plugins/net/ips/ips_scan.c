/*
 * Port scan detection of the ips plugin (ips worker, replay, tests). Every
 * connection attempt a flow ends with (completed, refused by RST or ICMP,
 * or unanswered) is added to a track of its source and one of its target.
 * A track is an episode: it lasts while attempts keep coming within the
 * window, and when it goes quiet (or at shutdown) it is judged once:
 * a source with enough rejects and many ports on few hosts is a vertical
 * port scan, on many hosts a sweep; a target probed on many ports by many
 * sources is a distributed scan. Tracks, ports and peers are bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ips_scan.h"
#include "mimamori/error.h"

#define MAX_PORTS 65536
#define MAX_PEERS 1024
#define DIST_MIN_SOURCES 5

struct track {
	struct mm_addr key;
	uint64_t first_ns, last_ns;
	uint32_t attempts, rejects;
	uint16_t *ports;
	uint32_t nports, capports;
	struct mm_addr *peers;
	uint32_t npeers, cappeers;
	uint8_t proto;
	struct track *next;
};

struct ips_scan {
	struct ips_scan_opts o;
	struct track *src, *dst; /* lists; bounded by max_sources */
	uint32_t nsrc, ndst;
	uint64_t dropped;
	/* No track goes quiet before this time (a lower bound: the earliest
	 * last_ns + window), so a tick before it has nothing to judge and
	 * skips walking the lists. */
	uint64_t due;
};

int
ips_scan_new(struct ips_scan **out, const struct ips_scan_opts *opts)
{
	struct ips_scan *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return MM_ERR_NOMEM;
	if (opts)
		s->o = *opts;
	if (!s->o.ports)
		s->o.ports = 15;
	if (!s->o.hosts)
		s->o.hosts = 15;
	if (!s->o.rejects)
		s->o.rejects = 10;
	if (!s->o.window_s)
		s->o.window_s = 90;
	if (!s->o.max_sources)
		s->o.max_sources = 4096;
	s->due = UINT64_MAX;
	*out = s;
	return MM_OK;
}

static void
track_free(struct track *t)
{
	free(t->ports);
	free(t->peers);
	free(t);
}

void
ips_scan_free(struct ips_scan *s)
{
	struct track *t, *n;

	if (s == NULL)
		return;
	for (t = s->src; t; t = n) {
		n = t->next;
		track_free(t);
	}
	for (t = s->dst; t; t = n) {
		n = t->next;
		track_free(t);
	}
	free(s);
}

static int
same(const struct mm_addr *a, const struct mm_addr *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, 16) == 0;
}

static struct track *
get_track(struct ips_scan *s, struct track **list, uint32_t *n, const struct mm_addr *a)
{
	struct track *t;

	/* Move-to-front keeps the busy scanner cheap to find. */
	for (struct track **pp = list; (t = *pp) != NULL; pp = &t->next)
		if (same(&t->key, a)) {
			*pp = t->next;
			t->next = *list;
			*list = t;
			return t;
		}
	if (*n >= s->o.max_sources) {
		s->dropped++;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->key = *a;
	t->next = *list;
	*list = t;
	(*n)++;
	return t;
}

static void
add_port(struct track *t, uint16_t p)
{
	uint32_t lo = 0, hi = t->nports;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (t->ports[mid] == p)
			return;
		if (t->ports[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (t->nports == t->capports) {
		uint32_t nc = t->capports ? t->capports * 2 : 16;
		uint16_t *np;
		if (nc > MAX_PORTS)
			return;
		np = realloc(t->ports, nc * sizeof(*np));
		if (np == NULL)
			return;
		t->ports = np;
		t->capports = nc;
	}
	memmove(t->ports + lo + 1, t->ports + lo, (t->nports - lo) * sizeof(*t->ports));
	t->ports[lo] = p;
	t->nports++;
}

static void
add_peer(struct track *t, const struct mm_addr *a)
{
	uint32_t i;

	for (i = 0; i < t->npeers; i++)
		if (same(&t->peers[i], a))
			return;
	if (t->npeers == t->cappeers) {
		uint32_t nc = t->cappeers ? t->cappeers * 2 : 4;
		struct mm_addr *np;
		if (nc > MAX_PEERS)
			return;
		np = realloc(t->peers, nc * sizeof(*np));
		if (np == NULL)
			return;
		t->peers = np;
		t->cappeers = nc;
	}
	t->peers[t->npeers++] = *a;
}

/* When t goes quiet: sweep_list() ends it once now_ns passes this. */
static uint64_t
deadline(const struct ips_scan *s, const struct track *t)
{
	uint64_t win = (uint64_t)s->o.window_s * 1000000000ull;

	return t->last_ns > UINT64_MAX - win ? UINT64_MAX : t->last_ns + win;
}

static void
update(struct ips_scan *s, struct track *t, const struct mm_flow *f, const struct mm_addr *peer,
       int rejected)
{
	if (t->attempts == 0)
		t->first_ns = f->first_ns;
	if (f->first_ns > t->last_ns)
		t->last_ns = f->first_ns;
	if (f->last_ns > t->last_ns)
		t->last_ns = f->last_ns;
	t->attempts++;
	t->rejects += rejected ? 1u : 0u;
	t->proto = f->proto;
	add_port(t, f->srv_port);
	add_peer(t, peer);
	if (deadline(s, t) < s->due)
		s->due = deadline(s, t);
}

void
ips_scan_attempt(struct ips_scan *s, const struct mm_flow *f, int rejected, ips_alert_cb cb,
                 void *user)
{
	struct track *t;

	if (s == NULL || (f->proto != 6 && f->proto != 17))
		return;
	if (ips_addrset_match(&s->o.allow_src, &f->cli) && s->o.allow_src.ninc + s->o.allow_src.any)
		return;
	if (ips_addrset_match(&s->o.allow_dst, &f->srv) && s->o.allow_dst.ninc + s->o.allow_dst.any)
		return;
	/* A new attempt after a quiet window starts a new episode. */
	ips_scan_tick(s, f->first_ns, 0, cb, user);
	if ((t = get_track(s, &s->src, &s->nsrc, &f->cli)) != NULL)
		update(s, t, f, &f->srv, rejected);
	if ((t = get_track(s, &s->dst, &s->ndst, &f->srv)) != NULL)
		update(s, t, f, &f->cli, rejected);
}

static void
port_text(char *out, size_t len, const struct track *t)
{
	size_t off = 0;
	uint32_t i;

	out[0] = 0;
	for (i = 0; i < t->nports; i++) {
		int w = snprintf(out + off, len - off, "%s%u", i ? "," : "", t->ports[i]);
		if (w < 0 || (size_t)w >= len - off - 4) {
			snprintf(out + off, len - off, ",...");
			break;
		}
		off += (size_t)w;
	}
}

static void
judge(struct ips_scan *s, const struct track *t, int is_src, ips_alert_cb cb, void *user)
{
	struct ips_alert a;

	if (t->rejects < s->o.rejects)
		return;
	memset(&a, 0, sizeof(a));
	a.kind = IPS_AK_SCAN;
	a.ts_ns = t->first_ns;
	a.cat = "scan";
	a.sev = 3;
	a.action = IPS_ALERT;
	a.proto = t->proto;
	if (is_src) {
		if (t->nports >= s->o.ports && t->npeers < s->o.hosts)
			a.scan_type = "portscan";
		else if (t->npeers >= s->o.hosts)
			a.scan_type = "portsweep";
		else
			return;
		a.src = t->key;
		if (t->npeers == 1)
			a.dst = t->peers[0];
	} else {
		if (t->npeers < DIST_MIN_SOURCES || t->nports < s->o.ports)
			return;
		a.scan_type = "distributed_portscan";
		a.dst = t->key;
	}
	a.scan_ports = t->nports;
	a.scan_hosts = t->npeers;
	a.scan_rejects = t->rejects;
	a.scan_attempts = t->attempts;
	if (t->nports == 1)
		a.dport = t->ports[0];
	port_text(a.scan_port_list, sizeof(a.scan_port_list), t);
	cb(user, &a);
}

static void
sweep_list(struct ips_scan *s, struct track **list, uint32_t *n, uint64_t now_ns, int final,
           int is_src, ips_alert_cb cb, void *user)
{
	struct track **pp = list, *t;
	uint64_t win = (uint64_t)s->o.window_s * 1000000000ull;

	while ((t = *pp) != NULL) {
		if (final || (now_ns > t->last_ns && now_ns - t->last_ns > win)) {
			*pp = t->next;
			(*n)--;
			if (cb)
				judge(s, t, is_src, cb, user);
			track_free(t);
		} else {
			if (deadline(s, t) < s->due)
				s->due = deadline(s, t);
			pp = &t->next;
		}
	}
}

void
ips_scan_tick(struct ips_scan *s, uint64_t now_ns, int final, ips_alert_cb cb, void *user)
{
	if (s == NULL || (!final && now_ns <= s->due))
		return;
	s->due = UINT64_MAX;
	sweep_list(s, &s->src, &s->nsrc, now_ns, final, 1, cb, user);
	sweep_list(s, &s->dst, &s->ndst, now_ns, final, 0, cb, user);
}
