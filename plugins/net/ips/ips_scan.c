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
/* A track keeps its ports in a sorted array up to this many, then in a
 * bitmap of every port (8 KiB): a vertical scan adds thousands, and
 * inserting into a long sorted array moved half of it each time. */
#define PORTS_SMALL 64
#define PORT_WORDS (65536 / 64)
#define MAX_BUCKETS (1u << 20)

struct track {
	struct mm_addr key;
	uint64_t first_ns, last_ns;
	uint32_t attempts, rejects;
	uint16_t *ports;  /* sorted; only while bitmap is NULL */
	uint64_t *bitmap; /* once nports > PORTS_SMALL */
	uint32_t nports, capports;
	/* Distinct peers in an open-addressing set (family 0: free slot),
	 * at most half full; the first one is kept for the alert. */
	struct mm_addr first_peer;
	struct mm_addr *peers;
	uint32_t npeers, peer_slots;
	uint8_t proto;
	struct track *next, *prev; /* most recently used first */
	struct track *hnext;       /* hash chain */
};

/* The tracks of one side: a list in most recently used order (sweeps
 * walk it and judge in that order) and a hash index over it, so a busy
 * network with thousands of sources costs one probe per attempt. */
struct tlist {
	struct track *head;
	struct track **bucket;
	uint32_t n, mask;
};

struct ips_scan {
	struct ips_scan_opts o;
	struct tlist src, dst; /* bounded by max_sources */
	uint64_t dropped;
	/* No track goes quiet before this time (a lower bound: the earliest
	 * last_ns + window), so a tick before it has nothing to judge and
	 * skips walking the lists. */
	uint64_t due;
};

static int
tlist_init(struct tlist *l, uint32_t max)
{
	uint32_t n = 64;

	while (n < max && n < MAX_BUCKETS)
		n <<= 1;
	l->bucket = calloc(n, sizeof(*l->bucket));
	l->mask = n - 1;
	return l->bucket ? MM_OK : MM_ERR_NOMEM;
}

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
	if (tlist_init(&s->src, s->o.max_sources) != MM_OK ||
	    tlist_init(&s->dst, s->o.max_sources) != MM_OK) {
		ips_scan_free(s);
		return MM_ERR_NOMEM;
	}
	*out = s;
	return MM_OK;
}

static void
track_free(struct track *t)
{
	free(t->ports);
	free(t->bitmap);
	free(t->peers);
	free(t);
}

static void
tlist_free(struct tlist *l)
{
	struct track *t, *n;

	for (t = l->head; t; t = n) {
		n = t->next;
		track_free(t);
	}
	free(l->bucket);
}

void
ips_scan_free(struct ips_scan *s)
{
	if (s == NULL)
		return;
	tlist_free(&s->src);
	tlist_free(&s->dst);
	free(s);
}

static inline int
same(const struct mm_addr *a, const struct mm_addr *b)
{
	uint64_t x[2], y[2];

	memcpy(x, a->addr, 16);
	memcpy(y, b->addr, 16);
	return a->family == b->family && ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

static inline uint32_t
addr_hash(const struct mm_addr *a)
{
	uint64_t w[2], h;

	memcpy(w, a->addr, 16);
	h = (w[0] ^ (w[1] * 0x9e3779b97f4a7c15ull) ^ a->family) * 0xff51afd7ed558ccdull;
	return (uint32_t)(h >> 32);
}

static void
list_unlink(struct tlist *l, struct track *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		l->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

static void
list_push(struct tlist *l, struct track *t)
{
	t->prev = NULL;
	t->next = l->head;
	if (l->head)
		l->head->prev = t;
	l->head = t;
}

static struct track *
get_track(struct ips_scan *s, struct tlist *l, const struct mm_addr *a)
{
	struct track *t, **b = &l->bucket[addr_hash(a) & l->mask];

	for (t = *b; t != NULL; t = t->hnext)
		if (same(&t->key, a)) {
			/* Move to front, as the sweeps judge in this order. */
			if (l->head != t) {
				list_unlink(l, t);
				list_push(l, t);
			}
			return t;
		}
	if (l->n >= s->o.max_sources) {
		s->dropped++;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->key = *a;
	t->hnext = *b;
	*b = t;
	list_push(l, t);
	l->n++;
	return t;
}

/* Take t out of l (list and index) and free it. */
static void
track_remove(struct tlist *l, struct track *t)
{
	struct track **pp;

	for (pp = &l->bucket[addr_hash(&t->key) & l->mask]; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == t) {
			*pp = t->hnext;
			break;
		}
	list_unlink(l, t);
	l->n--;
	track_free(t);
}

static void
add_port(struct track *t, uint16_t p)
{
	uint32_t lo = 0, hi = t->nports;

	if (t->bitmap != NULL) {
		uint64_t bit = 1ull << (p & 63);
		if (!(t->bitmap[p >> 6] & bit)) {
			t->bitmap[p >> 6] |= bit;
			t->nports++;
		}
		return;
	}
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (t->ports[mid] == p)
			return;
		if (t->ports[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (t->nports == PORTS_SMALL) {
		/* Switch to the bitmap; the array goes. */
		uint64_t *bm = calloc(PORT_WORDS, sizeof(*bm));
		if (bm == NULL)
			return;
		for (uint32_t i = 0; i < t->nports; i++)
			bm[t->ports[i] >> 6] |= 1ull << (t->ports[i] & 63);
		bm[p >> 6] |= 1ull << (p & 63);
		t->nports++;
		free(t->ports);
		t->ports = NULL;
		t->capports = 0;
		t->bitmap = bm;
		return;
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

/* The slot of a in an open-addressing set of n (a power of two) slots:
 * where it is, or the free slot where it would go. */
static struct mm_addr *
peer_slot(struct mm_addr *set, uint32_t n, const struct mm_addr *a)
{
	uint32_t i = addr_hash(a) & (n - 1);

	while (set[i].family != 0 && !same(&set[i], a))
		i = (i + 1) & (n - 1);
	return &set[i];
}

static void
add_peer(struct track *t, const struct mm_addr *a)
{
	struct mm_addr *slot;

	if (a->family == 0)
		return; /* flows always have addresses; 0 marks free slots */
	/* Most tracks see one peer again and again. */
	if (t->npeers > 0 && same(&t->first_peer, a))
		return;
	if (t->peer_slots > 0) {
		slot = peer_slot(t->peers, t->peer_slots, a);
		if (slot->family != 0)
			return;
	}
	if (t->npeers >= MAX_PEERS)
		return;
	if (2 * (t->npeers + 1) > t->peer_slots) {
		uint32_t nn = t->peer_slots ? t->peer_slots * 2 : 8;
		struct mm_addr *np = calloc(nn, sizeof(*np));
		if (np == NULL)
			return;
		for (uint32_t i = 0; i < t->peer_slots; i++)
			if (t->peers[i].family != 0)
				*peer_slot(np, nn, &t->peers[i]) = t->peers[i];
		free(t->peers);
		t->peers = np;
		t->peer_slots = nn;
	}
	*peer_slot(t->peers, t->peer_slots, a) = *a;
	if (t->npeers++ == 0)
		t->first_peer = *a;
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
	uint64_t due;

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
	due = deadline(s, t);
	if (due < s->due)
		s->due = due;
}

void
ips_scan_attempt(struct ips_scan *s, const struct mm_flow *f, int rejected, ips_alert_cb cb,
                 void *user)
{
	struct track *t;

	if (s == NULL || (f->proto != 6 && f->proto != 17))
		return;
	if (s->o.allow_src.ninc + s->o.allow_src.any && ips_addrset_match(&s->o.allow_src, &f->cli))
		return;
	if (s->o.allow_dst.ninc + s->o.allow_dst.any && ips_addrset_match(&s->o.allow_dst, &f->srv))
		return;
	/* A new attempt after a quiet window starts a new episode. */
	if (f->first_ns > s->due)
		ips_scan_tick(s, f->first_ns, 0, cb, user);
	if ((t = get_track(s, &s->src, &f->cli)) != NULL)
		update(s, t, f, &f->srv, rejected);
	if ((t = get_track(s, &s->dst, &f->srv)) != NULL)
		update(s, t, f, &f->cli, rejected);
}

/* The n-th port of t in ascending order is what the text lists; this
 * walks them in that order, from the array or the bitmap. */
static void
port_text(char *out, size_t len, const struct track *t)
{
	size_t off = 0;
	uint32_t i = 0, w;

	out[0] = 0;
	for (w = 0; w < (t->bitmap ? PORT_WORDS : 1u); w++) {
		uint64_t bits = t->bitmap ? t->bitmap[w] : 0;
		for (;;) {
			uint32_t port;
			int n;
			if (t->bitmap) {
				if (bits == 0)
					break;
				port = w * 64 + (uint32_t)__builtin_ctzll(bits);
				bits &= bits - 1;
			} else {
				if (i >= t->nports)
					break;
				port = t->ports[i];
			}
			n = snprintf(out + off, len - off, "%s%u", i ? "," : "", port);
			if (n < 0 || (size_t)n >= len - off - 4) {
				snprintf(out + off, len - off, ",...");
				return;
			}
			off += (size_t)n;
			i++;
		}
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
			a.dst = t->first_peer;
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
	if (t->nports == 1 && t->bitmap == NULL)
		a.dport = t->ports[0];
	port_text(a.scan_port_list, sizeof(a.scan_port_list), t);
	cb(user, &a);
}

static void
sweep_list(struct ips_scan *s, struct tlist *l, uint64_t now_ns, int final, int is_src,
           ips_alert_cb cb, void *user)
{
	struct track *t, *next;
	uint64_t win = (uint64_t)s->o.window_s * 1000000000ull;

	for (t = l->head; t != NULL; t = next) {
		next = t->next;
		if (final || (now_ns > t->last_ns && now_ns - t->last_ns > win)) {
			if (cb)
				judge(s, t, is_src, cb, user);
			track_remove(l, t);
		} else if (deadline(s, t) < s->due) {
			s->due = deadline(s, t);
		}
	}
}

void
ips_scan_tick(struct ips_scan *s, uint64_t now_ns, int final, ips_alert_cb cb, void *user)
{
	if (s == NULL || (!final && now_ns <= s->due))
		return;
	s->due = UINT64_MAX;
	sweep_list(s, &s->src, now_ns, final, 1, cb, user);
	sweep_list(s, &s->dst, now_ns, final, 0, cb, user);
}
