/*
 * The ips detection engine (ips worker, replay, tests): per packet it
 * updates the flow table, parses the application layer (DNS, TLS
 * ClientHello, HTTP request), checks reputation, runs the Aho-Corasick
 * prefilter over every buffer the packet has, and fully verifies only the
 * rules whose fast pattern occurred (plus the few rules without content).
 * Verification covers the header, flow, flags, dsize, flowbits and the
 * content/pcre chain with relative modifiers (bounded backtracking); then
 * thresholds and detection filters decide whether an alert is raised.
 */
#include <ctype.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ips_ac.h"
#include "ips_app.h"
#include "ips_engine.h"
#include "ips_rep.h"
#include "ips_scan.h"
#include "mimamori/error.h"

#define MAX_STEPS 4096
#define THR_PROBE 8
#define MAX_TCFG 4096

enum { FB_SET = 1, FB_UNSET, FB_TOGGLE, FB_ISSET, FB_ISNOTSET };

/* Per-flow state the engine keeps in mm_flow.user. */
struct fstate {
	int app;
	int pass;
	int dropped;   /* inline: a drop verdict drops the rest of the flow */
	uint8_t *bits; /* flowbits */
	uint32_t nbits;
	struct fstate *next; /* on the engine's spare list */
};

#define MAX_UNIQUE_PORTS 1024

struct thr_ent {
	uint32_t sid, gid;
	uint8_t kind; /* 0 rule threshold, 1 detection filter, 2 rate filter */
	struct mm_addr a, b;
	uint32_t ports;   /* by_flow: both ports */
	uint16_t *uports; /* unique_on: distinct ports seen in the window */
	uint32_t nuports;
	uint64_t start_ns;
	uint32_t count;
	uint64_t until_ns; /* rate_filter: new action active until */
	int used;
};

enum { TC_SUPPRESS = 1, TC_THRESHOLD, TC_RATE };

struct tcfg {
	int kind;
	uint32_t gid, sid; /* sid 0: every rule */
	struct ips_thr thr;
	int has_ip;
	struct ips_addrset ip;
	int new_action;
	uint32_t timeout;
};

/* Rules without content but with addresses on one side (ET's botcc, tor,
 * ciarmy, compromised lists) are found through a hash of their address
 * blocks instead of being checked against every packet. */
struct ipidx_ent {
	struct mm_addr net; /* masked to bits */
	uint8_t bits;
	uint8_t used;
	uint32_t rule;
};

struct ipidx {
	struct ipidx_ent *slot;
	uint32_t mask; /* slots - 1 */
	uint32_t n;
	uint8_t bits4[33], bits6[129]; /* prefix lengths present */
	uint8_t list4[33], list6[129];
	uint8_t n4, n6;
	/* For each IPv4 /16 block, the prefix lengths (bit len - 1) of the
	 * entries that cover or lie in it: most addresses are in no list and
	 * cost one load instead of a probe per prefix length in the index,
	 * and the others probe only the lengths that can match. /0 entries
	 * are the flag v4_any. Allocated when the index has entries. */
	uint32_t *v4_lens;
	int v4_any;
};

/* Rules without content whose destination port is a short list (ET's
 * "flags:S to port 445" scan rules) are found through their ports: on the
 * address side they would say only $HOME_NET, which nearly every packet
 * matches. Entries are sorted by (protocol class, port); the bitmaps
 * answer "no rule for this port" in one load. */
struct pent {
	uint32_t key; /* class << 16 | port */
	uint32_t rule;
};

struct portidx {
	uint64_t bm[2][65536 / 64];
	struct pent *ent;
	uint32_t n, cap;
};

#define PORTIDX_MAX_SPAN 1024

/* Rules with a weak fast pattern and a narrow dsize are found by the
 * payload length instead of the automata, see dsize_span(): rule[start[n]
 * .. start[n + 1]) are the rules a payload of n bytes can match, for n up
 * to max. */
struct dsidx {
	uint32_t *start;
	uint32_t *rule;
	uint32_t max, n;
};

/* Rules whose weak fast pattern has a fixed place in the payload (offset
 * and a depth equal to its length, or startswith) are found by the bytes
 * at that place: slot k is the first klen (up to 4) bytes at offset off,
 * and the hash table holds (slot, bytes folded to lower case) -> rule. A
 * packet looks up each slot once, see xpos_of(); nearly every lookup
 * misses, so the table is kept at most 1/8 full to end most of them at
 * the first probe. */
#define XP_MAX_OFF 16
#define XP_SLOTS (XP_MAX_OFF * 4)

struct xpent {
	uint32_t key, slot, rule; /* rule UINT32_MAX: an empty entry */
	uint32_t dlo, dhi;        /* payload lengths the rule's dsize allows */
};

struct xpidx {
	struct {
		uint16_t off, klen;
	} slot[XP_SLOTS];
	uint32_t nslots, n, mask, shift;
	struct xpent *ent;
	/* Per slot, 4096 bits over the first two key bytes: a lookup whose
	 * bit is clear (nearly all) skips the table, which is larger than a
	 * first-level cache. */
	uint64_t (*filter)[64];
};

static inline uint32_t
xp_filter_bit(uint32_t key)
{
	return ((key & 0xffff) * 0x9e3779b1u) >> 20;
}

/* Protocol classes of the payload automata. */
enum { PC_TCP = 0, PC_UDP, PC_OTHER, PC__COUNT };
#define NAC (IPS_BUF__COUNT + PC__COUNT * 2 - 1)

/* The automaton of the payload for class pc and direction dir. */
static inline int
pkt_ac(int pc, int dir)
{
	int g = pc * 2 + dir;

	return g == 0 ? IPS_BUF_PKT : IPS_BUF__COUNT + g - 1;
}

struct compiled {
	struct ips_ruleset *rs;
	struct ipidx ipx[2]; /* 0: by source, 1: by destination */
	struct portidx *px;
	/* Rules whose prefilter pattern is short but whose ports are a short
	 * list are found through those ports instead (spx by source port,
	 * px by destination port), see short_side(). */
	struct portidx *spx;
	/* One automaton per buffer; the packet payload has one per protocol
	 * class and direction (pkt_ac()), so a TCP packet to a server scans
	 * only the fast patterns of rules that can match it. Pattern ids are
	 * rule indexes. */
	struct ips_ac *ac[NAC];
	uint32_t npat[NAC];
	/* Port groups of the TCP and UDP payload automata, indexed like
	 * pg[pc * 2 + dir]; NULL when no port has enough rules or the
	 * automaton is not Hyperscan. */
	struct pgroup *pg[4];
	struct dsidx ds;
	struct xpidx xp;
	uint32_t nnofp; /* rules without a fast pattern */
	/* Candidates of the current packet: a bitmap by rule index, so they
	 * come out in rule order without sorting, and the range of words
	 * touched. nofp_bits holds the rules without a fast pattern. */
	uint64_t *cbits, *nofp_bits;
	uint32_t nwords, lo, hi, nofp_lo, nofp_hi;
	uint32_t *cand;
	uint32_t ncand;
};

/* Port groups split a TCP or UDP payload automaton by service port: many
 * rules list one side's ports (25, 445, ...), and a packet can match only
 * the rules of its own ports plus the rules for any port. Service port P
 * has group map[P] - 1, whose automaton ac[] holds the patterns of the
 * rules whose listed ports are all service ports and include P, plus
 * every pattern of a rule that is not restricted that way (which alone
 * make up `any`). A packet with one service port scans that port's
 * automaton, with none the `any` one, with two different ones the whole
 * automaton of its class and direction: always a superset of the rules
 * its ports allow, so results do not change. */
#define PG_MAX 16       /* service ports per class and direction */
#define PG_MIN_RULES 6  /* rules a port needs to get its own automaton */
#define PG_RULE_PORTS 8 /* a rule listing more ports counts as any port */

struct pgroup {
	uint8_t map[65536]; /* port -> group + 1, 0: not a service port */
	uint32_t n;
	struct ips_ac *ac[PG_MAX];
	uint32_t npat[PG_MAX];
	struct ips_ac *any;
	uint32_t nany;
};

static inline void
mark(struct compiled *c, uint32_t ri)
{
	uint32_t w = ri >> 6;

	c->cbits[w] |= 1ull << (ri & 63);
	if (w < c->lo)
		c->lo = w;
	if (w >= c->hi)
		c->hi = w + 1;
}

struct ips_engine {
	struct ips_engine_opts o;
	ips_alert_cb cb;
	void *user;
	struct mm_flow_table *flows;
	struct compiled *c;
	struct ips_rep *rep;
	struct ips_scan *scan;
	struct thr_ent *thr;
	uint32_t nthr;
	struct tcfg *tc;
	size_t ntc;
	struct ips_engine_stats st;
	uint64_t now;
	/* Per-flow states kept for reuse (chained through next), at most
	 * FS_SPARE_MAX: most flows are short, and a calloc/free pair per
	 * flow showed in throughput. */
	struct fstate *fs_spare;
	uint32_t nfs_spare;
};

#define FS_SPARE_MAX 4096

/* ---- flows --------------------------------------------------------- */

static void
flow_end(void *user, struct mm_flow *f, int reason)
{
	struct ips_engine *e = user;
	struct fstate *fs = f->user;

	if (e->scan && f->proto == 6 && f->tcp_seen_syn) {
		int rej = f->outcome == MM_FLOW_REFUSED_RST || f->outcome == MM_FLOW_REFUSED_ICMP ||
		          f->outcome == MM_FLOW_UNANSWERED ||
		          (f->outcome == MM_FLOW_PENDING && f->pkts[MM_FLOW_TO_CLIENT] == 0);
		ips_scan_attempt(e->scan, f, rej, e->cb, e->user);
	} else if (e->scan && f->proto == 17 && f->outcome == MM_FLOW_REFUSED_ICMP) {
		ips_scan_attempt(e->scan, f, 1, e->cb, e->user);
	}
	if (fs) {
		free(fs->bits);
		if (e->nfs_spare < FS_SPARE_MAX) {
			fs->next = e->fs_spare;
			e->fs_spare = fs;
			e->nfs_spare++;
		} else {
			free(fs);
		}
	}
	f->user = NULL;
}

/* A cleared per-flow state, from the spare list when it has one. */
static struct fstate *
fstate_new(struct ips_engine *e)
{
	struct fstate *fs = e->fs_spare;

	if (fs == NULL)
		return calloc(1, sizeof(*fs));
	e->fs_spare = fs->next;
	e->nfs_spare--;
	memset(fs, 0, sizeof(*fs));
	return fs;
}

int
ips_engine_new(struct ips_engine **out, const struct ips_engine_opts *opts, ips_alert_cb cb,
               void *user)
{
	struct ips_engine *e = calloc(1, sizeof(*e));
	struct mm_flow_table_opts fo;
	int rc;

	if (e == NULL)
		return MM_ERR_NOMEM;
	if (opts)
		e->o = *opts;
	e->cb = cb;
	e->user = user;
	memset(&fo, 0, sizeof(fo));
	fo.size = sizeof(fo);
	fo.max_flows = e->o.max_flows;
	fo.on_end = flow_end;
	fo.user = e;
	rc = mm_flow_table_new(&e->flows, &fo);
	if (rc != MM_OK)
		goto fail;
	if (e->o.scan_enabled && (rc = ips_scan_new(&e->scan, &e->o.scan)) != MM_OK)
		goto fail;
	e->nthr = e->o.max_thresholds ? e->o.max_thresholds : 65536;
	e->thr = calloc(e->nthr, sizeof(*e->thr));
	if (e->thr == NULL) {
		rc = MM_ERR_NOMEM;
		goto fail;
	}
	*out = e;
	return MM_OK;
fail:
	ips_engine_free(e);
	return rc;
}

static void
addr_mask(struct mm_addr *out, const struct mm_addr *a, uint32_t bits)
{
	uint32_t full = bits / 8u, rem = bits % 8u;

	memset(out, 0, sizeof(*out));
	out->family = a->family;
	memcpy(out->addr, a->addr, full);
	if (rem)
		out->addr[full] = (uint8_t)(a->addr[full] & (0xff << (8 - rem)));
}

static uint32_t
addr_hash(const struct mm_addr *a, uint32_t bits)
{
	uint64_t h = 0xcbf29ce484222325ull ^ bits ^ (uint64_t)a->family << 8;
	int i, n = a->family == 4 ? 4 : 16; /* the rest of an IPv4 is zero */

	for (i = 0; i < n; i++)
		h = (h ^ a->addr[i]) * 0x100000001b3ull;
	return (uint32_t)(h ^ h >> 32);
}

static int
ipidx_add(struct ipidx *x, const struct ips_cidr *c, uint32_t rule)
{
	struct ipidx_ent *e;
	uint32_t i;

	if (c->net.family != 4 && c->net.family != 6)
		return -1;
	for (i = addr_hash(&c->net, c->bits) & x->mask;; i = (i + 1) & x->mask) {
		e = &x->slot[i];
		if (!e->used)
			break;
	}
	addr_mask(&e->net, &c->net, c->bits);
	e->bits = c->bits;
	e->used = 1;
	e->rule = rule;
	x->n++;
	if (c->net.family == 4 && c->bits <= 32 && x->v4_lens != NULL) {
		uint32_t top = (uint32_t)c->net.addr[0] << 8 | c->net.addr[1], k, span;
		span = c->bits >= 16 ? 1 : 1u << (16 - c->bits);
		top &= ~(span - 1);
		if (c->bits == 0)
			x->v4_any = 1;
		else
			for (k = 0; k < span; k++)
				x->v4_lens[top + k] |= 1u << (c->bits - 1);
	}
	if (c->net.family == 4 && c->bits <= 32 && !x->bits4[c->bits]) {
		x->bits4[c->bits] = 1;
		x->list4[x->n4++] = c->bits;
	} else if (c->net.family == 6 && c->bits <= 128 && !x->bits6[c->bits]) {
		x->bits6[c->bits] = 1;
		x->list6[x->n6++] = c->bits;
	}
	return 0;
}

/* Which side of r to index (0 src, 1 dst), or -1: the side whose
 * broadest block is narrowest, so that "$HOME_NET -> [C&C list]" is
 * found by the list and not by every home address. */
static int
ipidx_side(const struct ips_rule *r)
{
	size_t i;
	int side, best = -1, best_bits = -1;

	if (r->bidir)
		return -1;
	for (side = 0; side < 2; side++) {
		const struct ips_addrset *s = side ? &r->dst : &r->src;
		int ok = !s->any && s->ninc > 0, minbits = 255;
		for (i = 0; ok && i < s->ninc; i++) {
			int fam = s->inc[i].net.family, b = s->inc[i].bits;
			if ((fam != 4 || b > 32) && (fam != 6 || b > 128))
				ok = 0;
			/* Compare IPv6 prefixes on the IPv4 scale. */
			b = fam == 6 ? b / 4 : b;
			if (b < minbits)
				minbits = b;
		}
		if (ok && minbits > best_bits) {
			best = side;
			best_bits = minbits;
		}
	}
	return best;
}

/* The broadest block of side (0 src, 1 dst) of r on the IPv4 scale. */
static int
addr_minbits(const struct ips_rule *r, int side)
{
	const struct ips_addrset *s = side ? &r->dst : &r->src;
	int minbits = 255;

	for (size_t i = 0; i < s->ninc; i++) {
		int b = s->inc[i].net.family == 6 ? s->inc[i].bits / 4 : s->inc[i].bits;
		if (b < minbits)
			minbits = b;
	}
	return minbits;
}

/* Whether a content-less rule is better found by its destination ports
 * than by an address block (or than being checked on every packet). */
static int
portidx_wants(const struct ips_rule *r)
{
	uint32_t span = 0;
	int side;

	if (r->bidir || (r->proto != 6 && r->proto != 17) || r->dp.any || r->dp.ninc == 0)
		return 0;
	for (size_t k = 0; k < r->dp.ninc; k++)
		span += (uint32_t)(r->dp.inc[k].hi - r->dp.inc[k].lo) + 1;
	if (span > PORTIDX_MAX_SPAN)
		return 0;
	side = ipidx_side(r);
	/* A /24 or narrower address list (C&C blocks) selects better. */
	return side < 0 || addr_minbits(r, side) < 24;
}

static int
portidx_add(struct portidx *x, const struct ips_rule *r, const struct ips_portset *ps,
            uint32_t rule)
{
	int pc = r->proto == 6 ? 0 : 1;

	for (size_t k = 0; k < ps->ninc; k++)
		for (uint32_t port = ps->inc[k].lo; port <= ps->inc[k].hi; port++) {
			if (x->n == x->cap) {
				uint32_t nc = x->cap ? x->cap * 2 : 256;
				struct pent *ne = realloc(x->ent, nc * sizeof(*ne));
				if (ne == NULL)
					return MM_ERR_NOMEM;
				x->ent = ne;
				x->cap = nc;
			}
			x->ent[x->n].key = (uint32_t)pc << 16 | port;
			x->ent[x->n++].rule = rule;
			x->bm[pc][port >> 6] |= 1ull << (port & 63);
		}
	return MM_OK;
}

static int
cmp_pent(const void *a, const void *b)
{
	const struct pent *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static void
portidx_lookup(struct compiled *c, const struct portidx *x, const struct mm_packet *p,
               uint16_t port)
{
	int pc;
	uint32_t key, lo = 0, hi;

	if (x == NULL || x->n == 0)
		return;
	if (p->ip_proto == 6 && (p->layers & MM_L_TCP))
		pc = 0;
	else if (p->ip_proto == 17 && (p->layers & MM_L_UDP))
		pc = 1;
	else
		return;
	if (!(x->bm[pc][port >> 6] & (1ull << (port & 63))))
		return;
	key = (uint32_t)pc << 16 | port;
	hi = x->n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (x->ent[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < x->n && x->ent[lo].key == key; lo++)
		mark(c, x->ent[lo].rule);
}

static void
ipidx_lookup(struct compiled *c, const struct ipidx *x, const struct mm_addr *a)
{
	const uint8_t *list = a->family == 4 ? x->list4 : x->list6;
	uint8_t n = a->family == 4 ? x->n4 : x->n6, k;
	struct mm_addr m;
	uint32_t i;
	uint32_t lens = 0;

	if (x->n == 0 || (a->family != 4 && a->family != 6))
		return;
	if (a->family == 4) {
		uint32_t top = (uint32_t)a->addr[0] << 8 | a->addr[1];
		lens = x->v4_lens ? x->v4_lens[top] : 0;
		if (lens == 0 && !x->v4_any)
			return;
	}
	for (k = 0; k < n; k++) {
		if (a->family == 4 && (list[k] ? !(lens >> (list[k] - 1) & 1) : !x->v4_any))
			continue;
		addr_mask(&m, a, list[k]);
		for (i = addr_hash(&m, list[k]) & x->mask; x->slot[i].used; i = (i + 1) & x->mask) {
			const struct ipidx_ent *e = &x->slot[i];
			if (e->bits == list[k] && memcmp(&e->net, &m, sizeof(m)) == 0)
				mark(c, e->rule);
		}
	}
}

static void
pgroup_free(struct pgroup *g)
{
	if (g == NULL)
		return;
	for (uint32_t i = 0; i < g->n; i++)
		ips_ac_free(g->ac[i]);
	ips_ac_free(g->any);
	free(g);
}

static void
compiled_free(struct compiled *c)
{
	int b;

	if (c == NULL)
		return;
	free(c->ipx[0].slot);
	free(c->ipx[1].slot);
	free(c->ipx[0].v4_lens);
	free(c->ipx[1].v4_lens);
	if (c->px)
		free(c->px->ent);
	free(c->px);
	if (c->spx)
		free(c->spx->ent);
	free(c->spx);
	free(c->ds.start);
	free(c->ds.rule);
	free(c->xp.ent);
	free(c->xp.filter);
	for (b = 0; b < NAC; b++)
		ips_ac_free(c->ac[b]);
	for (b = 0; b < 4; b++)
		pgroup_free(c->pg[b]);
	free(c->cbits);
	free(c->nofp_bits);
	free(c->cand);
	ips_ruleset_free(c->rs);
	free(c);
}

static void
tcfg_free(struct ips_engine *e)
{
	size_t i;

	for (i = 0; i < e->ntc; i++) {
		free(e->tc[i].ip.inc);
		free(e->tc[i].ip.exc);
	}
	free(e->tc);
	e->tc = NULL;
	e->ntc = 0;
}

void
ips_engine_free(struct ips_engine *e)
{
	if (e == NULL)
		return;
	mm_flow_table_free(e->flows);
	while (e->fs_spare != NULL) {
		struct fstate *fs = e->fs_spare;
		e->fs_spare = fs->next;
		free(fs);
	}
	ips_scan_free(e->scan);
	compiled_free(e->c);
	ips_rep_free(e->rep);
	tcfg_free(e);
	if (e->thr)
		for (uint32_t i = 0; i < e->nthr; i++)
			free(e->thr[i].uports);
	free(e->thr);
	free(e);
}

/* Whether r can match a packet of protocol class pc going in direction
 * dir: what verify() would reject anyway (protocol, app-layer protocol,
 * flow direction) is left out of that group's automaton. */
static int
rule_in_group(const struct ips_rule *r, int pc, int dir)
{
	if ((r->flow & IPS_FLOW_TO_SERVER) && dir != MM_FLOW_TO_SERVER)
		return 0;
	if ((r->flow & IPS_FLOW_TO_CLIENT) && dir != MM_FLOW_TO_CLIENT)
		return 0;
	/* The app-layer parsers see HTTP and TLS on TCP, DNS on both. */
	if ((r->app == IPS_APP_HTTP || r->app == IPS_APP_TLS) && pc != PC_TCP)
		return 0;
	if (r->app == IPS_APP_DNS && pc == PC_OTHER)
		return 0;
	switch (r->proto) {
	case 0:
		return 1;
	case 6:
		return pc == PC_TCP;
	case 17:
		return pc == PC_UDP;
	default:
		return pc == PC_OTHER;
	}
}

/* The side of r whose listed ports restrict it to at most PG_RULE_PORTS
 * ports, or NULL when r can see any port (verify() matches a listed side
 * only against its inclusions, so exclusions only narrow it further). */
static const struct ips_portset *
rule_ports(const struct ips_rule *r)
{
	const struct ips_portset *best = NULL;
	uint32_t bestn = PG_RULE_PORTS + 1;

	if (r->bidir)
		return NULL;
	for (int side = 0; side < 2; side++) {
		const struct ips_portset *ps = side ? &r->dp : &r->sp;
		uint32_t n = 0;
		if (ps->any || ps->ninc == 0)
			continue;
		for (size_t k = 0; k < ps->ninc && n <= PG_RULE_PORTS; k++)
			n += (uint32_t)ps->inc[k].hi - ps->inc[k].lo + 1;
		if (n < bestn) {
			best = ps;
			bestn = n;
		}
	}
	return best;
}

/* The content whose pattern goes into the prefilter: the fast pattern,
 * unless that is shorter than PF_MIN_LEN and the rule has a longer
 * positive content. Every positive content must occur in its buffer for
 * the rule to match, so any of them is as exact a prefilter; but one- to
 * three-byte patterns occur in nearly every payload and made up much of
 * the scanning time. -1 when the rule has no positive content. */
#define PF_MIN_LEN 4

static int
pf_opt(const struct ips_rule *r)
{
	int best = r->fp;

	if (r->fp < 0 || r->opts[r->fp].len >= PF_MIN_LEN)
		return r->fp;
	for (size_t i = 0; i < r->nopts; i++)
		if (r->opts[i].type == IPS_OPT_CONTENT && !r->opts[i].negated &&
		    r->opts[i].len > r->opts[best].len)
			best = (int)i;
	return best;
}

/* Payload rules whose prefilter pattern is still short (a handful of
 * them cost as much scanning as a thousand long ones) but which list at
 * most SHORT_PORTS destination or source ports skip the automata: they
 * are candidates for every packet with such a port, and verify() checks
 * them like any candidate. Returns 1 (destination ports), 0 (source
 * ports) or -1 (the rule stays in the automata). */
#define SHORT_PORTS 16

static int
portset_span(const struct ips_portset *ps)
{
	uint32_t n = 0;

	if (ps->any || ps->ninc == 0)
		return -1;
	for (size_t k = 0; k < ps->ninc; k++)
		n += (uint32_t)(ps->inc[k].hi - ps->inc[k].lo) + 1;
	return n <= SHORT_PORTS ? (int)n : -1;
}

static int
short_side(const struct ips_rule *r)
{
	int pf = pf_opt(r);

	if (pf < 0 || r->opts[pf].buf != IPS_BUF_PKT || r->opts[pf].len >= PF_MIN_LEN || r->bidir ||
	    (r->proto != 6 && r->proto != 17))
		return -1;
	if (portset_span(&r->dp) > 0)
		return 1;
	if (portset_span(&r->sp) > 0)
		return 0;
	return -1;
}

#define PF_WEAK 8 /* fast patterns shorter than this are weak */

/* The payload lengths r's dsize allows, as a range that holds them all
 * ([0, UINT32_MAX] without dsize or for '!'). */
static void
dsize_bounds(const struct ips_rule *r, uint32_t *lo, uint32_t *hi)
{
	*lo = 0;
	*hi = UINT32_MAX;
	if (!r->has_dsize)
		return;
	switch (r->dsize_op) {
	case '=':
		*lo = *hi = r->dsize_lo;
		break;
	case '<':
		if (r->dsize_lo == 0)
			*lo = 1; /* nothing: lo > hi */
		*hi = r->dsize_lo == 0 ? 0 : r->dsize_lo - 1;
		break;
	case '>':
		*lo = r->dsize_lo == UINT32_MAX ? UINT32_MAX : r->dsize_lo + 1;
		break;
	case '-':
		*lo = r->dsize_lo + 1;
		*hi = r->dsize_hi == 0 ? 0 : r->dsize_hi - 1;
		break;
	default:
		break;
	}
}

/* Whether r goes to the fixed-place index: a weak payload fast pattern
 * that must start exactly at *off, not relative to another match. Sets
 * *off and the key length *klen. A dsize of the rule is checked by the
 * index too (xpent), so such a rule is a candidate only where both its
 * bytes and its size fit. */
static int
xpos_of(const struct ips_rule *r, uint32_t *off, uint32_t *klen)
{
	int pf = pf_opt(r);
	const struct ips_opt *o;

	if (pf < 0)
		return 0;
	o = &r->opts[pf];
	if (o->buf != IPS_BUF_PKT || o->len == 0 || o->len >= PF_WEAK || o->relative || o->endswith)
		return 0;
	if (o->startswith) {
		*off = 0;
	} else {
		if (!o->has_depth || o->depth < 0 || (uint32_t)o->depth != o->len)
			return 0;
		*off = o->has_offset ? (uint32_t)(o->offset < 0 ? XP_MAX_OFF : o->offset) : 0;
		if (*off >= XP_MAX_OFF)
			return 0;
	}
	*klen = o->len < 4 ? o->len : 4;
	return 1;
}

/* Payload rules whose prefilter pattern is weak (shorter than PF_WEAK,
 * such as "|00 00|" or "|01 00 00 00|", which binary protocols like SMB
 * carry in nearly every packet) but whose dsize admits at most DS_SPAN
 * payload lengths skip the automata too (unless the pattern has a fixed
 * place: xpos_of() is more selective): they are candidates for every
 * packet of such a length, which is rare, where in the automata they
 * cost the scan of every payload a confirmation per occurrence. Sets the
 * lengths [*lo, *hi] (none when *lo > *hi: no payload is long enough for
 * the pattern) and returns 1, or returns 0: the rule stays where it is. */
#define DS_SPAN 32
#define DS_MAX 4096

static int
dsize_span(const struct ips_rule *r, uint32_t *lo, uint32_t *hi)
{
	int pf = pf_opt(r);
	uint32_t a, b;

	if (pf < 0 || r->opts[pf].buf != IPS_BUF_PKT || r->opts[pf].len >= PF_WEAK ||
	    !r->has_dsize || xpos_of(r, &a, &b))
		return 0;
	dsize_bounds(r, &a, &b);
	if (a > b || b > DS_MAX || b - a >= DS_SPAN)
		return 0;
	/* The fast pattern must fit in the payload. */
	if (a < r->opts[pf].len)
		a = r->opts[pf].len;
	*lo = a;
	*hi = b;
	return 1;
}

/* Whether r's prefilter pattern is in the payload automaton of class pc
 * and direction dir. */
static int
pkt_rule_in(const struct ips_rule *r, int pc, int dir)
{
	uint32_t lo, hi;

	return r->fp >= 0 && r->opts[pf_opt(r)].buf == IPS_BUF_PKT && !dsize_span(r, &lo, &hi) &&
	       !xpos_of(r, &lo, &hi) && short_side(r) < 0 && rule_in_group(r, pc, dir);
}

/* A key is the first klen (1..4) bytes of its place, case-folded, as a
 * little-endian word: xp_keep[klen] masks the rest off. */
static const uint32_t xp_keep[5] = {0, 0xff, 0xffff, 0xffffff, 0xffffffff};

/* The four bytes at p with ASCII letters folded to lower case, all at once
 * (SWAR): a byte is 'A'..'Z' when its low seven bits reach 'A' but not
 * 'Z' + 1 and its top bit is clear. */
static inline void
fold4(uint8_t *p)
{
	uint32_t w, h, upper;

	memcpy(&w, p, 4);
	h = w & 0x7f7f7f7fu;
	upper = (h + 0x3f3f3f3fu) & ~(h + 0x25252525u) & ~w & 0x80808080u;
	w |= upper >> 2;
	memcpy(p, &w, 4);
}

/* Fibonacci hashing: the top bits of the product mix every key byte (the
 * low bits would depend on the first byte alone, which many patterns
 * share). */
static inline uint32_t
xp_hash(const struct xpidx *x, uint32_t slot, uint32_t key)
{
	return (uint32_t)((((uint64_t)slot << 32 | key) * 0x9e3779b97f4a7c15ull) >> x->shift);
}

static int
xpidx_build(struct xpidx *x, const struct ips_ruleset *rs)
{
	uint32_t off, klen, slots = 16, bits = 4, s;
	size_t i;

	x->nslots = x->n = 0;
	for (i = 0; i < rs->n; i++) {
		if (!xpos_of(rs->rules[i], &off, &klen))
			continue;
		x->n++;
		for (s = 0; s < x->nslots; s++)
			if (x->slot[s].off == off && x->slot[s].klen == klen)
				break;
		if (s == x->nslots) {
			x->slot[s].off = (uint16_t)off;
			x->slot[s].klen = (uint16_t)klen;
			x->nslots++;
		}
	}
	if (x->n == 0)
		return MM_OK;
	while (slots < 8 * x->n) {
		slots <<= 1;
		bits++;
	}
	if ((x->ent = malloc(slots * sizeof(*x->ent))) == NULL ||
	    (x->filter = calloc(x->nslots, sizeof(*x->filter))) == NULL)
		return MM_ERR_NOMEM;
	x->mask = slots - 1;
	x->shift = 64 - bits;
	for (s = 0; s <= x->mask; s++)
		x->ent[s].rule = UINT32_MAX;
	for (i = 0; i < rs->n; i++) {
		const struct ips_rule *r = rs->rules[i];
		uint32_t key, h;
		if (!xpos_of(r, &off, &klen))
			continue;
		for (s = 0; x->slot[s].off != off || x->slot[s].klen != klen; s++)
			;
		{
			uint8_t b[4] = {0};
			memcpy(b, r->opts[pf_opt(r)].pat, klen);
			fold4(b);
			memcpy(&key, b, 4);
			key &= xp_keep[klen];
		}
		for (h = xp_hash(x, s, key); x->ent[h].rule != UINT32_MAX; h = (h + 1) & x->mask)
			;
		x->ent[h].key = key;
		x->ent[h].slot = s;
		x->ent[h].rule = (uint32_t)i;
		dsize_bounds(r, &x->ent[h].dlo, &x->ent[h].dhi);
		h = xp_filter_bit(key);
		x->filter[s][h >> 6] |= 1ull << (h & 63);
	}
	return MM_OK;
}

static void
xpidx_lookup(struct compiled *c, const struct xpidx *x, const uint8_t *p, uint32_t len)
{
	/* The payload's first XP_MAX_OFF + 4 bytes, folded once (zeros past
	 * the end, which no slot reads: off + klen <= len is checked). */
	uint8_t head[XP_MAX_OFF + 4] = {0};

	if (len == 0 || x->nslots == 0)
		return;
	memcpy(head, p, len < sizeof(head) ? len : sizeof(head));
	for (size_t k = 0; k < sizeof(head); k += 4)
		fold4(head + k);
	for (uint32_t s = 0; s < x->nslots; s++) {
		uint32_t off = x->slot[s].off, klen = x->slot[s].klen, key, h;
		if (off + klen > len)
			continue;
		memcpy(&key, head + off, 4);
		key &= xp_keep[klen];
		h = xp_filter_bit(key);
		if (!(x->filter[s][h >> 6] >> (h & 63) & 1))
			continue;
		for (h = xp_hash(x, s, key); x->ent[h].rule != UINT32_MAX; h = (h + 1) & x->mask)
			if (x->ent[h].key == key && x->ent[h].slot == s && len >= x->ent[h].dlo &&
			    len <= x->ent[h].dhi)
				mark(c, x->ent[h].rule);
	}
}

/* Fill the payload length index from the rules dsize_span() takes. */
static int
dsidx_build(struct dsidx *x, const struct ips_ruleset *rs)
{
	uint32_t lo, hi, n;
	size_t i;

	x->max = 0;
	x->n = 0;
	for (i = 0; i < rs->n; i++)
		if (dsize_span(rs->rules[i], &lo, &hi) && lo <= hi) {
			x->n += hi - lo + 1;
			if (hi > x->max)
				x->max = hi;
		}
	if (x->n == 0)
		return MM_OK;
	x->start = calloc(x->max + 2, sizeof(*x->start));
	x->rule = calloc(x->n, sizeof(*x->rule));
	if (x->start == NULL || x->rule == NULL)
		return MM_ERR_NOMEM;
	/* Count per length, turn the counts into starts, then place the
	 * rules in index order (start[n] runs up to its final value). */
	for (i = 0; i < rs->n; i++)
		if (dsize_span(rs->rules[i], &lo, &hi))
			for (n = lo; n <= hi; n++)
				x->start[n + 1]++;
	for (n = 1; n <= x->max + 1; n++)
		x->start[n] += x->start[n - 1];
	for (i = 0; i < rs->n; i++)
		if (dsize_span(rs->rules[i], &lo, &hi))
			for (n = lo; n <= hi; n++)
				x->rule[x->start[n]++] = (uint32_t)i;
	for (n = x->max + 1; n > 0; n--)
		x->start[n] = x->start[n - 1];
	x->start[0] = 0;
	return MM_OK;
}

static void
dsidx_lookup(struct compiled *c, const struct dsidx *x, uint32_t len)
{
	if (x->n == 0 || len > x->max)
		return;
	for (uint32_t k = x->start[len]; k < x->start[len + 1]; k++)
		mark(c, x->rule[k]);
}

/* Whether every port rule_ports() gives for r is a service port of g. */
static int
pgroup_covers(const struct pgroup *g, const struct ips_portset *ps)
{
	for (size_t k = 0; k < ps->ninc; k++)
		for (uint32_t port = ps->inc[k].lo; port <= ps->inc[k].hi; port++)
			if (g->map[port] == 0)
				return 0;
	return 1;
}

static int
pgroup_build(struct pgroup **out, const struct ips_ruleset *rs, int pc, int dir)
{
	uint32_t *cnt = calloc(65536, sizeof(*cnt));
	struct pgroup *g = calloc(1, sizeof(*g));
	int rc = MM_ERR_NOMEM;
	size_t i;

	*out = NULL;
	if (cnt == NULL || g == NULL)
		goto out;
	for (i = 0; i < rs->n; i++) {
		const struct ips_rule *r = rs->rules[i];
		const struct ips_portset *ps;
		if (!pkt_rule_in(r, pc, dir) || (ps = rule_ports(r)) == NULL)
			continue;
		for (size_t k = 0; k < ps->ninc; k++)
			for (uint32_t port = ps->inc[k].lo; port <= ps->inc[k].hi; port++)
				cnt[port]++;
	}
	/* The ports with the most rules, in order. */
	while (g->n < PG_MAX) {
		uint32_t best = 0;
		for (uint32_t port = 1; port < 65536; port++)
			if (cnt[port] > cnt[best])
				best = port;
		if (cnt[best] < PG_MIN_RULES)
			break;
		cnt[best] = 0;
		g->map[best] = (uint8_t)++g->n;
	}
	if (g->n == 0) {
		rc = MM_OK;
		goto out;
	}
	for (uint32_t k = 0; k < g->n; k++)
		if ((rc = ips_ac_new(&g->ac[k])) != MM_OK)
			goto out;
	if ((rc = ips_ac_new(&g->any)) != MM_OK)
		goto out;
	for (i = 0; i < rs->n; i++) {
		const struct ips_rule *r = rs->rules[i];
		const struct ips_opt *o;
		const struct ips_portset *ps;
		if (!pkt_rule_in(r, pc, dir))
			continue;
		o = &r->opts[pf_opt(r)];
		ps = rule_ports(r);
		if (ps != NULL && pgroup_covers(g, ps)) {
			for (size_t k = 0; k < ps->ninc; k++)
				for (uint32_t port = ps->inc[k].lo; port <= ps->inc[k].hi; port++) {
					uint32_t j = g->map[port] - 1u;
					if ((rc = ips_ac_add(g->ac[j], o->pat, o->len,
					                     (uint32_t)i)) != MM_OK)
						goto out;
					g->npat[j]++;
				}
			continue;
		}
		if ((rc = ips_ac_add(g->any, o->pat, o->len, (uint32_t)i)) != MM_OK)
			goto out;
		g->nany++;
		for (uint32_t k = 0; k < g->n; k++) {
			if ((rc = ips_ac_add(g->ac[k], o->pat, o->len, (uint32_t)i)) != MM_OK)
				goto out;
			g->npat[k]++;
		}
	}
	for (uint32_t k = 0; k < g->n; k++)
		if ((rc = ips_ac_build(g->ac[k])) != MM_OK)
			goto out;
	if ((rc = ips_ac_build(g->any)) != MM_OK)
		goto out;
	*out = g;
	g = NULL;
	rc = MM_OK;
out:
	free(cnt);
	pgroup_free(g);
	return rc;
}

int
ips_engine_set_rules(struct ips_engine *e, struct ips_ruleset *rs)
{
	struct compiled *c = calloc(1, sizeof(*c));
	size_t i;
	int b, rc = MM_ERR_NOMEM;

	if (c == NULL) {
		ips_ruleset_free(rs);
		return MM_ERR_NOMEM;
	}
	c->rs = rs;
	c->nwords = (uint32_t)(rs->n / 64 + 1);
	c->cbits = calloc(c->nwords, sizeof(*c->cbits));
	c->nofp_bits = calloc(c->nwords, sizeof(*c->nofp_bits));
	c->lo = c->nwords;
	c->hi = 0;
	c->cand = calloc(rs->n + 1, sizeof(*c->cand));
	if (!c->cbits || !c->nofp_bits || !c->cand)
		goto fail;
	for (b = 0; b < NAC; b++)
		if ((rc = ips_ac_new(&c->ac[b])) != MM_OK)
			goto fail;
	{
		/* Size the address indexes: twice the blocks, a power of two. */
		size_t need[2] = {0, 0};
		int s;
		for (i = 0; i < rs->n; i++) {
			struct ips_rule *r = rs->rules[i];
			if (r->fp < 0 && !portidx_wants(r) && (s = ipidx_side(r)) >= 0)
				need[s] += s ? r->dst.ninc : r->src.ninc;
		}
		for (s = 0; s < 2; s++) {
			uint32_t slots = 16;
			while (slots < 2 * need[s] && slots < (1u << 30))
				slots <<= 1;
			c->ipx[s].slot = calloc(slots, sizeof(*c->ipx[s].slot));
			c->ipx[s].mask = slots - 1;
			if (need[s] > 0)
				c->ipx[s].v4_lens = calloc(65536, sizeof(uint32_t));
			if (c->ipx[s].slot == NULL || (need[s] > 0 && c->ipx[s].v4_lens == NULL)) {
				rc = MM_ERR_NOMEM;
				goto fail;
			}
		}
	}
	for (i = 0; i < rs->n; i++) {
		struct ips_rule *r = rs->rules[i];
		const struct ips_opt *pf;
		uint32_t dlo, dhi;
		int side;
		if (r->fp < 0) {
			side = ipidx_side(r);
			if (portidx_wants(r)) {
				if (c->px == NULL && (c->px = calloc(1, sizeof(*c->px))) == NULL) {
					rc = MM_ERR_NOMEM;
					goto fail;
				}
				if ((rc = portidx_add(c->px, r, &r->dp, (uint32_t)i)) != MM_OK)
					goto fail;
			} else if (side >= 0) {
				const struct ips_addrset *as = side ? &r->dst : &r->src;
				for (size_t k = 0; k < as->ninc; k++)
					ipidx_add(&c->ipx[side], &as->inc[k], (uint32_t)i);
			} else {
				c->nofp_bits[i / 64] |= 1ull << (i % 64);
				if (c->nnofp++ == 0)
					c->nofp_lo = (uint32_t)(i / 64);
				c->nofp_hi = (uint32_t)(i / 64 + 1);
			}
			continue;
		}
		if (dsize_span(r, &dlo, &dhi) || xpos_of(r, &dlo, &dhi))
			continue; /* in c->ds or c->xp */
		if ((side = short_side(r)) >= 0) {
			struct portidx **x = side ? &c->px : &c->spx;
			if (*x == NULL && (*x = calloc(1, sizeof(**x))) == NULL) {
				rc = MM_ERR_NOMEM;
				goto fail;
			}
			if ((rc = portidx_add(*x, r, side ? &r->dp : &r->sp, (uint32_t)i)) != MM_OK)
				goto fail;
			continue;
		}
		pf = &r->opts[pf_opt(r)];
		b = pf->buf;
		if (b != IPS_BUF_PKT) {
			rc = ips_ac_add(c->ac[b], pf->pat, pf->len, (uint32_t)i);
			if (rc != MM_OK)
				goto fail;
			c->npat[b]++;
			continue;
		}
		for (int pc = 0; pc < PC__COUNT; pc++)
			for (int dir = 0; dir < 2; dir++) {
				int a = pkt_ac(pc, dir);
				if (!rule_in_group(r, pc, dir))
					continue;
				if ((rc = ips_ac_add(c->ac[a], pf->pat, pf->len, (uint32_t)i)) !=
				    MM_OK)
					goto fail;
				c->npat[a]++;
			}
	}
	if ((rc = dsidx_build(&c->ds, rs)) != MM_OK || (rc = xpidx_build(&c->xp, rs)) != MM_OK)
		goto fail;
	if (c->px)
		qsort(c->px->ent, c->px->n, sizeof(*c->px->ent), cmp_pent);
	if (c->spx)
		qsort(c->spx->ent, c->spx->n, sizeof(*c->spx->ent), cmp_pent);
	for (b = 0; b < NAC; b++)
		if ((rc = ips_ac_build(c->ac[b])) != MM_OK)
			goto fail;
	/* Port groups pay off with Hyperscan, whose scan cost grows with the
	 * pattern set; the in-house automaton walks a byte at a time whatever
	 * the set, so there they would only cost memory. */
	for (b = 0; b < 4; b++) {
		int a = pkt_ac(b / 2, b % 2);
		if (strcmp(ips_ac_backend(c->ac[a]), "hyperscan") != 0)
			continue;
		if ((rc = pgroup_build(&c->pg[b], rs, b / 2, b % 2)) != MM_OK)
			goto fail;
	}
	/* Flow state of the old rules refers to old flowbit numbers: the
	 * table keeps its flows, each gets fresh bits on its next packet. */
	compiled_free(e->c);
	e->c = c;
#ifdef __GLIBC__
	/* Compiling the matchers (Hyperscan above all) frees about 100 MB
	 * with ET that the heap would otherwise keep: the worker stayed at
	 * 141 MB instead of 37 MB after loading the rules. */
	malloc_trim(0);
#endif
	return MM_OK;
fail:
	compiled_free(c);
	return rc;
}

void
ips_engine_set_rep(struct ips_engine *e, struct ips_rep *rep)
{
	ips_rep_free(e->rep);
	e->rep = rep;
}

const struct ips_engine_stats *
ips_engine_stats(const struct ips_engine *e)
{
	return &e->st;
}

const struct ips_ruleset *
ips_engine_rules(const struct ips_engine *e)
{
	return e->c ? e->c->rs : NULL;
}

const struct mm_flow_stats *
ips_engine_flow_stats(const struct ips_engine *e)
{
	return mm_flow_table_stats(e->flows);
}

/* ---- threshold.config ------------------------------------------------- */

static char *
trim(char *s)
{
	char *e;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int
tcfg_line(struct tcfg *t, char *line, const struct ips_vars *vars)
{
	char *kw = line, *rest, *tok, *save = NULL;

	rest = line;
	while (*rest && !isspace((unsigned char)*rest))
		rest++;
	if (*rest)
		*rest++ = 0;
	memset(t, 0, sizeof(*t));
	if (strcmp(kw, "suppress") == 0)
		t->kind = TC_SUPPRESS;
	else if (strcmp(kw, "threshold") == 0 || strcmp(kw, "event_filter") == 0)
		t->kind = TC_THRESHOLD;
	else if (strcmp(kw, "rate_filter") == 0)
		t->kind = TC_RATE;
	else
		return -1;
	t->thr.track = IPS_TRACK_RULE;
	for (tok = strtok_r(rest, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *k = trim(tok), *v = k;
		while (*v && !isspace((unsigned char)*v))
			v++;
		if (*v)
			*v++ = 0;
		v = trim(v);
		if (strcmp(k, "gen_id") == 0)
			t->gid = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(k, "sig_id") == 0)
			t->sid = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(k, "type") == 0)
			t->thr.type = strcmp(v, "limit") == 0       ? IPS_THR_LIMIT
			              : strcmp(v, "threshold") == 0 ? IPS_THR_THRESHOLD
			              : strcmp(v, "both") == 0      ? IPS_THR_BOTH
			                                            : -1;
		else if (strcmp(k, "track") == 0)
			t->thr.track = strcmp(v, "by_src") == 0      ? IPS_TRACK_SRC
			               : strcmp(v, "by_dst") == 0    ? IPS_TRACK_DST
			               : strcmp(v, "by_both") == 0   ? IPS_TRACK_BOTH
			               : strcmp(v, "by_either") == 0 ? IPS_TRACK_EITHER
			                                             : IPS_TRACK_RULE;
		else if (strcmp(k, "count") == 0)
			t->thr.count = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(k, "seconds") == 0)
			t->thr.seconds = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(k, "timeout") == 0)
			t->timeout = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(k, "new_action") == 0)
			t->new_action = strcmp(v, "drop") == 0 || strcmp(v, "reject") == 0
			                        ? IPS_DROP
			                : strcmp(v, "pass") == 0 ? IPS_PASS
			                                         : IPS_ALERT;
		else if (strcmp(k, "ip") == 0) {
			/* An address, a CIDR block, a [list] or a $VARIABLE. */
			struct ips_vars none;
			int rc;
			if (vars == NULL && ips_vars_init(&none) != MM_OK)
				return -1;
			rc = ips_addrset_parse(&t->ip, v, vars ? vars : &none);
			if (vars == NULL)
				ips_vars_free(&none);
			if (rc != MM_OK)
				return -1;
			t->has_ip = 1;
		} else
			return -1;
	}
	if (t->kind != TC_SUPPRESS && (t->thr.count == 0 || t->thr.type < 0))
		return -1;
	if (t->kind == TC_RATE)
		t->thr.type = IPS_THR_DF;
	return 0;
}

int
ips_engine_load_thresholds(struct ips_engine *e, const char *path, char *err, size_t errlen)
{
	return ips_engine_load_thresholds_vars(e, path, NULL, err, errlen);
}

int
ips_engine_load_thresholds_vars(struct ips_engine *e, const char *path, const struct ips_vars *vars,
                                char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int lineno = 0;
	struct tcfg *nt = NULL;
	size_t n = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? MM_ERR_NOTFOUND : MM_ERR_IO;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line);
		struct tcfg t, *g;
		lineno++;
		if (*s == 0 || *s == '#')
			continue;
		if (tcfg_line(&t, s, vars) != 0 || n >= MAX_TCFG) {
			free(t.ip.inc);
			free(t.ip.exc);
			snprintf(err, errlen, "%s:%d: bad threshold line", path, lineno);
			for (size_t i = 0; i < n; i++) {
				free(nt[i].ip.inc);
				free(nt[i].ip.exc);
			}
			free(nt);
			fclose(f);
			return MM_ERR_PARSE;
		}
		g = realloc(nt, (n + 1) * sizeof(*g));
		if (g == NULL) {
			free(t.ip.inc);
			free(t.ip.exc);
			for (size_t i = 0; i < n; i++) {
				free(nt[i].ip.inc);
				free(nt[i].ip.exc);
			}
			fclose(f);
			free(nt);
			return MM_ERR_NOMEM;
		}
		nt = g;
		nt[n++] = t;
	}
	fclose(f);
	tcfg_free(e);
	e->tc = nt;
	e->ntc = n;
	return MM_OK;
}

/* ---- thresholds ------------------------------------------------------ */

static struct thr_ent *
thr_get(struct ips_engine *e, const struct ips_rule *r, int kind, int track,
        const struct mm_packet *p, uint64_t now)
{
	struct thr_ent key;
	uint64_t h = (uint64_t)r->sid * 0x9e3779b97f4a7c15ull ^ (uint64_t)kind << 56;
	uint32_t i, best = 0;
	uint64_t oldest = UINT64_MAX;

	memset(&key, 0, sizeof(key));
	key.sid = r->sid;
	key.gid = r->gid;
	key.kind = (uint8_t)kind;
	if (track == IPS_TRACK_SRC)
		key.a = p->src;
	if (track == IPS_TRACK_DST)
		key.a = p->dst;
	if (track == IPS_TRACK_BOTH) {
		/* An address pair, whichever way the packet goes. */
		int c = memcmp(p->src.addr, p->dst.addr, sizeof(p->src.addr));
		key.a = c <= 0 ? p->src : p->dst;
		key.b = c <= 0 ? p->dst : p->src;
	}
	if (track == IPS_TRACK_FLOW) {
		/* Both directions of a flow share one entry. */
		int c = memcmp(p->src.addr, p->dst.addr, sizeof(p->src.addr));
		int fwd = c < 0 || (c == 0 && p->sport <= p->dport);
		key.a = fwd ? p->src : p->dst;
		key.b = fwd ? p->dst : p->src;
		key.ports = fwd ? (uint32_t)p->sport << 16 | p->dport
		                : (uint32_t)p->dport << 16 | p->sport;
		h ^= key.ports;
	}
	for (i = 0; i < 16; i++)
		h = (h ^ key.a.addr[i] ^ (uint64_t)key.b.addr[i] << 8) * 0x100000001b3ull;
	for (i = 0; i < THR_PROBE; i++) {
		struct thr_ent *t = &e->thr[(h + i) % e->nthr];
		if (t->used && t->sid == key.sid && t->gid == key.gid && t->kind == key.kind &&
		    t->ports == key.ports && memcmp(&t->a, &key.a, sizeof(key.a)) == 0 &&
		    memcmp(&t->b, &key.b, sizeof(key.b)) == 0)
			return t;
		if (!t->used) {
			best = i;
			oldest = 0;
			break;
		}
		if (t->start_ns < oldest) {
			oldest = t->start_ns;
			best = i;
		}
	}
	if (oldest != 0)
		e->st.threshold_table_full++;
	{
		struct thr_ent *t = &e->thr[(h + best) % e->nthr];
		free(t->uports);
		*t = key;
		t->used = 1;
		t->start_ns = now;
		return t;
	}
}

/* Returns 1 when an alert should be raised. */
static int
thr_check(struct ips_engine *e, const struct ips_rule *r, const struct ips_thr *th, int kind,
          const struct mm_packet *p, uint64_t now)
{
	struct thr_ent *t = thr_get(e, r, kind, th->track, p, now);
	uint64_t win = (uint64_t)th->seconds * 1000000000ull;

	if (now - t->start_ns >= win && t->count > 0) {
		t->start_ns = now;
		t->count = 0;
		t->nuports = 0;
	}
	if (th->unique_on != IPS_UNIQUE_NONE) {
		/* Count a port only the first time it is seen in the window. */
		uint16_t port = th->unique_on == IPS_UNIQUE_DST_PORT ? p->dport : p->sport;
		uint32_t j;
		for (j = 0; j < t->nuports; j++)
			if (t->uports[j] == port)
				return t->count > th->count;
		if (t->uports == NULL)
			t->uports = calloc(MAX_UNIQUE_PORTS, sizeof(*t->uports));
		if (t->uports != NULL && t->nuports < MAX_UNIQUE_PORTS)
			t->uports[t->nuports++] = port;
	}
	t->count++;
	switch (th->type) {
	case IPS_THR_LIMIT:
		return t->count <= th->count;
	case IPS_THR_THRESHOLD:
		if (t->count >= th->count) {
			t->count = 0;
			return 1;
		}
		return 0;
	case IPS_THR_BOTH:
		return t->count == th->count;
	case IPS_THR_DF:
		return t->count > th->count;
	default:
		return 1;
	}
}

/* ---- verification ---------------------------------------------------- */

struct pctx {
	const struct mm_packet *pkt;
	struct mm_flow *flow;
	int dir;
	struct fstate *fs;
	const uint8_t *buf[IPS_BUF__COUNT];
	uint32_t len[IPS_BUF__COUNT];
	uint32_t steps;
};

static int
bytes_eq(const uint8_t *a, const uint8_t *b, uint32_t n, int nocase)
{
	uint32_t i;

	if (!nocase)
		return memcmp(a, b, n) == 0;
	for (i = 0; i < n; i++)
		if (tolower(a[i]) != tolower(b[i]))
			return 0;
	return 1;
}

static int match_from(struct pctx *x, const struct ips_rule *r, size_t i, const int32_t *prev);

static inline uint8_t
lower(uint8_t c)
{
	return (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

static int
match_content(struct pctx *x, const struct ips_rule *r, size_t i, const int32_t *prev)
{
	const struct ips_opt *o = &r->opts[i];
	const uint8_t *b = x->buf[o->buf];
	int64_t len = x->len[o->buf], start = 0, end = len, pos;
	int32_t next[IPS_BUF__COUNT];

	if (o->relative) {
		start = prev[o->buf] + (o->has_distance ? o->distance : 0);
		if (o->has_within)
			end = (int64_t)prev[o->buf] + (o->has_distance ? o->distance : 0) +
			      o->within;
		if (o->has_depth)
			end = start + o->depth < end ? start + o->depth : end;
	} else {
		if (o->has_offset)
			start = o->offset;
		if (o->has_depth)
			end = start + o->depth;
	}
	if (o->startswith) {
		start = 0;
		end = o->len;
	}
	if (start < 0)
		start = 0;
	if (end > len)
		end = len;
	if (o->endswith)
		start = end - o->len > start ? end - o->len : start;
	memcpy(next, prev, sizeof(next));
	for (pos = start; pos + o->len <= end; pos++) {
		/* Skip to the next position whose first byte fits, counting
		 * the skipped positions as steps, so the result (and the step
		 * limit) is exactly that of trying every position. */
		if (o->len > 0 && !o->endswith) {
			int64_t last = end - o->len, q = pos;
			if (!o->nocase) {
				const uint8_t *m =
				        memchr(b + pos, o->pat[0], (size_t)(last - pos + 1));
				q = m ? m - b : last + 1;
			} else {
				uint8_t f = lower(o->pat[0]);
				while (q <= last && lower(b[q]) != f)
					q++;
			}
			if (q > pos) {
				if (x->steps + (uint64_t)(q - pos) > MAX_STEPS) {
					x->steps = MAX_STEPS + 1;
					return 0;
				}
				x->steps += (uint32_t)(q - pos);
				pos = q;
				if (pos > last)
					break;
			}
		}
		if (++x->steps > MAX_STEPS)
			return 0;
		if (o->endswith && pos + o->len != end)
			continue;
		if (!bytes_eq(b + pos, o->pat, o->len, o->nocase))
			continue;
		if (o->negated)
			return 0;
		next[o->buf] = (int32_t)(pos + o->len);
		if (match_from(x, r, i + 1, next))
			return 1;
		/* Only a following relative option can make another
		 * occurrence succeed where this one failed. */
		if (i + 1 >= r->nopts || !r->opts[i + 1].relative)
			return 0;
	}
	return o->negated ? match_from(x, r, i + 1, prev) : 0;
}

static int
match_pcre(struct pctx *x, const struct ips_rule *r, size_t i, const int32_t *prev)
{
	const struct ips_opt *o = &r->opts[i];
	const uint8_t *b = x->buf[o->buf];
	uint32_t len = x->len[o->buf];
	PCRE2_SIZE start = o->relative ? (PCRE2_SIZE)prev[o->buf] : 0;
	int rc;
	int32_t next[IPS_BUF__COUNT];

	if (start > len)
		return 0;
	/* Like Suricata, a relative pcre sees the buffer from the previous
	 * match on, so ^ anchors there. */
	rc = pcre2_match(o->re, b ? b + start : (const uint8_t *)"", len - start, 0, 0, o->md,
	                 NULL);
	if (o->negated)
		return rc < 0 ? match_from(x, r, i + 1, prev) : 0;
	if (rc < 0)
		return 0;
	memcpy(next, prev, sizeof(next));
	next[o->buf] = (int32_t)(start + pcre2_get_ovector_pointer(o->md)[1]);
	return match_from(x, r, i + 1, next);
}

static int
match_from(struct pctx *x, const struct ips_rule *r, size_t i, const int32_t *prev)
{
	if (i >= r->nopts)
		return 1;
	if (x->buf[r->opts[i].buf] == NULL)
		return 0; /* the buffer does not exist for this packet */
	if (r->opts[i].type == IPS_OPT_BSIZE)
		return ips_num_match(&r->opts[i].bsize, x->len[r->opts[i].buf]) &&
		       match_from(x, r, i + 1, prev);
	if (r->opts[i].type == IPS_OPT_CONTENT)
		return match_content(x, r, i, prev);
	return match_pcre(x, r, i, prev);
}

static int
header_dir(const struct ips_rule *r, const struct mm_packet *p, int swap)
{
	const struct mm_addr *s = swap ? &p->dst : &p->src, *d = swap ? &p->src : &p->dst;
	uint16_t sp = swap ? p->dport : p->sport, dp = swap ? p->sport : p->dport;
	int ports = (p->layers & (MM_L_TCP | MM_L_UDP)) != 0;

	/* Ports first: cheaper than address lists, and they reject most
	 * candidates. */
	if (!ports) {
		if (!((r->sp.any || (r->sp.ninc == 0 && r->sp.nexc == 0)) &&
		      (r->dp.any || (r->dp.ninc == 0 && r->dp.nexc == 0))))
			return 0;
	} else if (!ips_portset_match(&r->dp, dp) || !ips_portset_match(&r->sp, sp)) {
		return 0;
	}
	return ips_addrset_match(&r->src, s) && ips_addrset_match(&r->dst, d);
}

static int
fb_isset(const struct fstate *fs, uint32_t bit)
{
	return fs && bit < fs->nbits && (fs->bits[bit / 8] & (1u << (bit % 8)));
}

/* isset "a|b": any is set; isnotset "a|b": any is not set. */
static int
fb_check(const struct fstate *fs, const struct ips_flowbit *fb)
{
	int want = fb->op == FB_ISSET;
	uint32_t j;

	if (fb_isset(fs, fb->bit) == want)
		return 1;
	for (j = 0; j < fb->nalt; j++)
		if (fb_isset(fs, fb->alt[j]) == want)
			return 1;
	return 0;
}

static int
verify(struct ips_engine *e, struct pctx *x, const struct ips_rule *r)
{
	const struct mm_packet *p = x->pkt;
	int32_t prev[IPS_BUF__COUNT] = {0};
	size_t i;

	if (r->proto && r->proto != p->ip_proto)
		return 0;
	if (r->app && (x->fs == NULL || x->fs->app != r->app))
		return 0;
	/* The flow, flags and size tests come before the header's address
	 * lists: they are a few loads each and reject many candidates. */
	if (r->flow & ~(uint32_t)IPS_FLOW_STATELESS) {
		struct mm_flow *f = x->flow;
		int est;
		if (f == NULL)
			return 0;
		/* TCP picked up midstream counts as established only when
		 * configured so (Suricata's stream.midstream). */
		est = ((f->state == MM_FLOW_ESTABLISHED || f->state == MM_FLOW_CLOSING) &&
		       (f->proto != 6 || f->tcp_seen_syn || e->o.midstream)) ||
		      (f->proto != 6 && f->pkts[MM_FLOW_TO_CLIENT] > 0 && f->pkts[0] > 0);
		if ((r->flow & IPS_FLOW_ESTABLISHED) && !est)
			return 0;
		if ((r->flow & IPS_FLOW_NOT_ESTABLISHED) && est)
			return 0;
		if ((r->flow & IPS_FLOW_TO_SERVER) && x->dir != MM_FLOW_TO_SERVER)
			return 0;
		if ((r->flow & IPS_FLOW_TO_CLIENT) && x->dir != MM_FLOW_TO_CLIENT)
			return 0;
	}
	if (r->has_flags) {
		uint8_t f;
		if (!(p->layers & MM_L_TCP))
			return 0;
		f = (uint8_t)(p->tcp_flags & ~r->flags_mask);
		switch (r->flags_mode) {
		case '+':
			if ((f & r->flags_set) != r->flags_set)
				return 0;
			break;
		case '*':
			if ((f & r->flags_set) == 0)
				return 0;
			break;
		case '!':
			if ((f & r->flags_set) != 0)
				return 0;
			break;
		default:
			if (f != r->flags_set)
				return 0;
		}
	}
	if (r->has_dsize) {
		uint32_t d = p->payload_len;
		switch (r->dsize_op) {
		case '=':
			if (d != r->dsize_lo)
				return 0;
			break;
		case '<':
			if (d >= r->dsize_lo)
				return 0;
			break;
		case '>':
			if (d <= r->dsize_lo)
				return 0;
			break;
		case '!':
			if (d == r->dsize_lo)
				return 0;
			break;
		case '-':
			if (d <= r->dsize_lo || d >= r->dsize_hi)
				return 0;
			break;
		default:
			break;
		}
	}
	/* Flowbit tests are a bit each, and the rules that need a bit set
	 * are mostly candidates on every packet of their port. */
	for (i = 0; i < r->nfb; i++)
		if ((r->fb[i].op == FB_ISSET || r->fb[i].op == FB_ISNOTSET) &&
		    !fb_check(x->fs, &r->fb[i]))
			return 0;
	if (!header_dir(r, p, 0) && !(r->bidir && header_dir(r, p, 1)))
		return 0;
	if (r->has_itype &&
	    (!(p->layers & (MM_L_ICMP | MM_L_ICMP6)) || !ips_num_match(&r->itype, p->icmp_type)))
		return 0;
	if (r->has_icode &&
	    (!(p->layers & (MM_L_ICMP | MM_L_ICMP6)) || !ips_num_match(&r->icode, p->icmp_code)))
		return 0;
	if (r->has_urilen && (x->buf[IPS_BUF_HTTP_URI_RAW] == NULL ||
	                      !ips_num_match(&r->urilen, x->len[IPS_BUF_HTTP_URI_RAW])))
		return 0;
	x->steps = 0;
	if (!match_from(x, r, 0, prev)) {
		if (x->steps > MAX_STEPS)
			e->st.verify_steps_limit++;
		return 0;
	}
	return 1;
}

static void
apply_flowbits(struct ips_engine *e, struct pctx *x, const struct ips_rule *r)
{
	size_t i;
	struct fstate *fs = x->fs;
	uint32_t need = (uint32_t)e->c->rs->nflowbits;

	if (fs == NULL || r->nfb == 0)
		return;
	if (fs->nbits < need) {
		uint8_t *nb = realloc(fs->bits, (need + 7) / 8);
		if (nb == NULL)
			return;
		memset(nb + (fs->nbits + 7) / 8, 0, (need + 7) / 8 - (fs->nbits + 7) / 8);
		fs->bits = nb;
		fs->nbits = need;
	}
	for (i = 0; i < r->nfb; i++) {
		uint32_t b = r->fb[i].bit;
		if (b >= fs->nbits)
			continue;
		if (r->fb[i].op == FB_SET)
			fs->bits[b / 8] |= (uint8_t)(1u << (b % 8));
		else if (r->fb[i].op == FB_UNSET)
			fs->bits[b / 8] &= (uint8_t) ~(1u << (b % 8));
		else if (r->fb[i].op == FB_TOGGLE)
			fs->bits[b / 8] ^= (uint8_t)(1u << (b % 8));
	}
}

static void
ac_hit(void *user, uint32_t id)
{
	mark(user, id);
}

static void
copy_span(char *dst, size_t cap, const uint8_t *p, uint32_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1, i;

	for (i = 0; i < n; i++)
		dst[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '.';
	dst[n] = 0;
}

struct names {
	char query[IPS_DNS_NAME_MAX], sni[256], host[256], uri[512], ua[256];
};

static void
fill_alert(struct ips_alert *a, const struct mm_packet *p, const struct ips_app_info *ai,
           const struct names *nm, uint64_t now)
{
	memset(a, 0, sizeof(*a));
	a->ts_ns = now;
	a->proto = p->ip_proto;
	a->src = p->src;
	a->dst = p->dst;
	a->sport = p->sport;
	a->dport = p->dport;
	switch (ai->app) {
	case IPS_APP_DNS:
		a->app = "dns";
		a->dns_query = nm->query[0] ? nm->query : NULL;
		break;
	case IPS_APP_TLS:
		a->app = "tls";
		a->sni = nm->sni[0] ? nm->sni : NULL;
		break;
	case IPS_APP_HTTP:
		a->app = "http";
		a->host = nm->host[0] ? nm->host : NULL;
		a->uri = nm->uri[0] ? nm->uri : NULL;
		a->ua = nm->ua[0] ? nm->ua : NULL;
		break;
	default:
		break;
	}
}

static int
rep_check(struct ips_engine *e, const struct mm_packet *p, const struct ips_app_info *ai,
          const struct names *nm, uint64_t now)
{
	struct ips_alert a;
	const char *cat = NULL, *ind = NULL, *where = NULL;
	char addr[MM_ADDR_STRLEN];
	uint32_t i;

	if (e->rep == NULL || ips_rep_count(e->rep) == 0)
		return 0;
	if ((cat = ips_rep_ip(e->rep, &p->dst)) != NULL) {
		ind = mm_addr_format(addr, &p->dst);
		where = "ip";
	} else if ((cat = ips_rep_ip(e->rep, &p->src)) != NULL) {
		ind = mm_addr_format(addr, &p->src);
		where = "ip";
	} else if (ai->app == IPS_APP_DNS && nm->query[0] &&
	           (cat = ips_rep_domain(e->rep, nm->query, strlen(nm->query), NULL))) {
		ind = nm->query;
		where = "dns_query";
	} else if (ai->app == IPS_APP_TLS && nm->sni[0] &&
	           (cat = ips_rep_domain(e->rep, nm->sni, strlen(nm->sni), NULL))) {
		ind = nm->sni;
		where = "tls_sni";
	} else if (ai->app == IPS_APP_HTTP && nm->host[0] &&
	           (cat = ips_rep_domain(e->rep, nm->host, strlen(nm->host), NULL))) {
		ind = nm->host;
		where = "http_host";
	} else if (ai->app == IPS_APP_DNS) {
		for (i = 0; i < ai->dns_naddrs && !cat; i++)
			if ((cat = ips_rep_ip(e->rep, &ai->dns_addrs[i])) != NULL)
				ind = mm_addr_format(addr, &ai->dns_addrs[i]);
		for (i = 0; i < ai->dns_nnames && !cat; i++)
			if ((cat = ips_rep_domain(e->rep, ai->dns_names[i],
			                          strlen(ai->dns_names[i]), NULL)) != NULL)
				ind = ai->dns_names[i];
		where = "dns_answer";
	}
	if (cat == NULL)
		return 0;
	fill_alert(&a, p, ai, nm, now);
	a.kind = IPS_AK_REP;
	a.rep_category = cat;
	a.rep_indicator = ind;
	a.rep_where = where;
	a.cat = ips_rep_event_cat(cat);
	a.sev = strcmp(a.cat, "policy") == 0 ? 2 : 4;
	a.action = IPS_ALERT;
	e->st.alerts++;
	e->cb(e->user, &a);
	return 0;
}

static const struct tcfg *
tcfg_find(const struct ips_engine *e, const struct ips_rule *r, int kind, const struct mm_packet *p)
{
	size_t i;

	for (i = 0; i < e->ntc; i++) {
		const struct tcfg *t = &e->tc[i];
		if (t->kind != kind || (t->sid != 0 && t->sid != r->sid) ||
		    (t->gid != 0 && t->gid != r->gid))
			continue;
		if (t->has_ip) {
			int hit = t->thr.track == IPS_TRACK_DST ? ips_addrset_match(&t->ip, &p->dst)
			          : t->thr.track == IPS_TRACK_EITHER
			                  ? ips_addrset_match(&t->ip, &p->src) ||
			                            ips_addrset_match(&t->ip, &p->dst)
			                  : ips_addrset_match(&t->ip, &p->src);
			if (!hit)
				continue;
		}
		return t;
	}
	return NULL;
}

int
ips_engine_packet(struct ips_engine *e, const struct mm_packet *p, uint64_t now)
{
	struct pctx x;
	struct ips_app_info ai;
	struct names nm;
	struct compiled *c = e->c;
	struct mm_flow *f = NULL;
	int dir = 0, b, verdict = 0, pass = 0, rules;
	uint32_t i, nmatch = 0;
	uint32_t *matched = NULL;

	e->now = now;
	e->st.packets++;
	e->st.bytes += p->wirelen;
	mm_flow_table_update(&f, &dir, e->flows, p, now);
	/* Without rules nothing reads or writes per-flow state (app, pass,
	 * drop, flowbits), and without rules or reputation nothing reads the
	 * application layer: skip both, the common case of a scan-only
	 * sensor. */
	rules = c != NULL && c->rs->n > 0;
	x.fs = NULL;
	if (f != NULL) {
		if (f->user == NULL && rules)
			f->user = fstate_new(e);
		x.fs = f->user;
		if (x.fs && x.fs->pass)
			return 0;
		if (x.fs && x.fs->dropped && e->o.inline_mode) {
			/* Like Suricata in IPS mode: the rest of the flow goes. */
			e->st.drops++;
			return 1;
		}
	}
	/* Nothing below has an effect without rules or reputation. */
	if (!rules && (e->rep == NULL || ips_rep_count(e->rep) == 0))
		return 0;
	memset(x.buf, 0, sizeof(x.buf));
	memset(x.len, 0, sizeof(x.len));
	x.pkt = p;
	x.flow = f;
	x.dir = dir;
	x.steps = 0;
	ips_app_parse(&ai, p);
	nm.query[0] = nm.sni[0] = nm.host[0] = nm.uri[0] = nm.ua[0] = 0;
	if (ai.app == IPS_APP_DNS) {
		e->st.app_dns++;
		snprintf(nm.query, sizeof(nm.query), "%s", ai.dns_query);
		/* dns.query inspects requests, as in Suricata. */
		if (!ai.dns_response) {
			x.buf[IPS_BUF_DNS_QUERY] = (const uint8_t *)ai.dns_query;
			x.len[IPS_BUF_DNS_QUERY] = ai.dns_query_len;
		}
	} else if (ai.app == IPS_APP_TLS) {
		e->st.app_tls++;
		if (ai.sni.p) {
			copy_span(nm.sni, sizeof(nm.sni), ai.sni.p, ai.sni.len);
			x.buf[IPS_BUF_TLS_SNI] = ai.sni.p;
			x.len[IPS_BUF_TLS_SNI] = ai.sni.len;
		}
	} else if (ai.app == IPS_APP_HTTP) {
		e->st.app_http++;
		x.buf[IPS_BUF_HTTP_METHOD] = ai.method.p;
		x.len[IPS_BUF_HTTP_METHOD] = ai.method.len;
		x.buf[IPS_BUF_HTTP_URI] = ai.uri_norm.p;
		x.len[IPS_BUF_HTTP_URI] = ai.uri_norm.len;
		x.buf[IPS_BUF_HTTP_URI_RAW] = ai.uri.p;
		x.len[IPS_BUF_HTTP_URI_RAW] = ai.uri.len;
		copy_span(nm.uri, sizeof(nm.uri), ai.uri.p, ai.uri.len);
		if (ai.headers.p) {
			x.buf[IPS_BUF_HTTP_HEADER] = ai.headers.p;
			x.len[IPS_BUF_HTTP_HEADER] = ai.headers.len;
		}
		if (ai.host.p) {
			x.buf[IPS_BUF_HTTP_HOST] = ai.host_norm.p;
			x.len[IPS_BUF_HTTP_HOST] = ai.host_norm.len;
			copy_span(nm.host, sizeof(nm.host), ai.host_norm.p, ai.host_norm.len);
		}
		if (ai.ua.p) {
			x.buf[IPS_BUF_HTTP_UA] = ai.ua.p;
			x.len[IPS_BUF_HTTP_UA] = ai.ua.len;
			copy_span(nm.ua, sizeof(nm.ua), ai.ua.p, ai.ua.len);
		}
	}
	if (x.fs && ai.app && x.fs->app == 0)
		x.fs->app = ai.app;
	if (x.fs && x.fs->app == IPS_APP_NONE && ai.app == 0 && f && f->pkts[0] + f->pkts[1] > 8)
		x.fs->app = -1; /* not one we parse: stop looking */
	if (p->payload_len > 0) {
		x.buf[IPS_BUF_PKT] = p->payload;
		x.len[IPS_BUF_PKT] = p->payload_len;
	} else {
		x.buf[IPS_BUF_PKT] = (const uint8_t *)"";
		x.len[IPS_BUF_PKT] = 0;
	}
	rep_check(e, p, &ai, &nm, now);
	if (!rules || !(p->layers & (MM_L_IPV4 | MM_L_IPV6)))
		return 0;

	/* Prefilter: candidates from every buffer, plus rules without one. */
	c->ncand = 0;
	for (b = 0; b < IPS_BUF__COUNT; b++) {
		struct ips_ac *m = c->ac[b];
		uint32_t n = c->npat[b];
		if (x.buf[b] == NULL || x.len[b] == 0)
			continue;
		if (b == IPS_BUF_PKT) {
			int pc = p->ip_proto == 6 ? PC_TCP : p->ip_proto == 17 ? PC_UDP : PC_OTHER;
			int d = dir == MM_FLOW_TO_CLIENT;
			const struct pgroup *g = pc != PC_OTHER ? c->pg[pc * 2 + d] : NULL;
			int a = pkt_ac(pc, d);
			m = c->ac[a];
			n = c->npat[a];
			if (g != NULL) {
				unsigned gs = g->map[p->sport], gd = g->map[p->dport];
				/* Two different service ports: the whole set. */
				if (!(gs && gd && gs != gd)) {
					unsigned k = gs ? gs : gd;
					m = k ? g->ac[k - 1] : g->any;
					n = k ? g->npat[k - 1] : g->nany;
				}
			}
		}
		if (n == 0)
			continue;
		ips_ac_scan(m, x.buf[b], x.len[b], ac_hit, c);
	}
	ipidx_lookup(c, &c->ipx[0], &p->src);
	ipidx_lookup(c, &c->ipx[1], &p->dst);
	portidx_lookup(c, c->px, p, p->dport);
	portidx_lookup(c, c->spx, p, p->sport);
	dsidx_lookup(c, &c->ds, p->payload_len);
	xpidx_lookup(c, &c->xp, x.buf[IPS_BUF_PKT], x.len[IPS_BUF_PKT]);
	if (c->nnofp) {
		for (i = c->nofp_lo; i < c->nofp_hi; i++)
			c->cbits[i] |= c->nofp_bits[i];
		if (c->nofp_lo < c->lo)
			c->lo = c->nofp_lo;
		if (c->nofp_hi > c->hi)
			c->hi = c->nofp_hi;
	}
	/* Drain the bitmap in rule order (and leave it clear). */
	for (i = c->lo; i < c->hi; i++) {
		uint64_t w = c->cbits[i];
		c->cbits[i] = 0;
		while (w) {
			c->cand[c->ncand++] = i * 64 + (uint32_t)__builtin_ctzll(w);
			w &= w - 1;
		}
	}
	c->lo = c->nwords;
	c->hi = 0;
	e->st.candidates += c->ncand;
	if (c->ncand == 0)
		return 0;
	matched = c->cand; /* verified rules are compacted in place */
	for (i = 0; i < c->ncand; i++) {
		const struct ips_rule *r = c->rs->rules[c->cand[i]];
		if (verify(e, &x, r)) {
			matched[nmatch++] = c->cand[i];
			if (r->action == IPS_PASS)
				pass = 1;
		}
	}
	if (pass) {
		if (x.fs)
			x.fs->pass = 1;
		return 0;
	}
	for (i = 0; i < nmatch; i++) {
		const struct ips_rule *r = c->rs->rules[matched[i]];
		const struct tcfg *t;
		struct ips_alert a;
		int action = r->action;

		apply_flowbits(e, &x, r);
		if (r->noalert)
			continue;
		if (r->detection_filter.type && !thr_check(e, r, &r->detection_filter, 1, p, now))
			continue;
		if ((t = tcfg_find(e, r, TC_SUPPRESS, p)) != NULL) {
			e->st.suppressed++;
			continue;
		}
		if ((t = tcfg_find(e, r, TC_THRESHOLD, p)) != NULL) {
			if (!thr_check(e, r, &t->thr, 0, p, now)) {
				e->st.suppressed++;
				continue;
			}
		} else if (r->threshold.type && !thr_check(e, r, &r->threshold, 0, p, now)) {
			e->st.suppressed++;
			continue;
		}
		if ((t = tcfg_find(e, r, TC_RATE, p)) != NULL &&
		    thr_check(e, r, &t->thr, 2, p, now))
			action = t->new_action;
		if (action == IPS_PASS) {
			/* rate_filter new_action pass: let the flow through, quietly. */
			if (x.fs)
				x.fs->pass = 1;
			continue;
		}
		fill_alert(&a, p, &ai, &nm, now);
		if (a.app == NULL && x.fs && x.fs->app == IPS_APP_HTTP)
			a.app = "http";
		a.kind = IPS_AK_RULE;
		a.rule = r;
		a.sev = ips_rule_severity(c->rs, r);
		a.cat = ips_rule_category(r);
		a.action = action;
		if (action == IPS_DROP && e->o.inline_mode) {
			verdict = 1;
			e->st.drops++;
			/* An app-layer rule drops the whole flow (as Suricata
			 * does); a packet rule only this packet. */
			if (r->app != IPS_APP_NONE && x.fs)
				x.fs->dropped = 1;
		}
		e->st.alerts++;
		e->cb(e->user, &a);
	}
	return verdict;
}

void
ips_engine_tick(struct ips_engine *e, uint64_t now_ns, int final)
{
	if (final)
		mm_flow_table_flush(e->flows);
	else
		mm_flow_table_expire(e->flows, now_ns);
	ips_scan_tick(e->scan, now_ns, final, e->cb, e->user);
}
