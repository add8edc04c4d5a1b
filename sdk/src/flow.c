/*
 * Flow table and in-order TCP stream reassembly for plugins (flow.h). Runs
 * inside whichever process drives it: a plugin's worker, replay, or a test.
 *
 * Flows live in a chained hash table and on an LRU list ordered by last
 * packet time, so
 * expiry walks from the oldest end and stops at the first flow younger than
 * the shortest timeout, and a full table evicts the least recently seen
 * flow. Out-of-order TCP segments are kept in a sorted list per direction,
 * bounded per direction by stream_window and per table by stream_memcap;
 * when a bound is hit the buffered data is delivered with explicit gaps and
 * the stream jumps ahead, so memory never grows with hostile input.
 *
 * The bucket array starts small and doubles whenever the live flows
 * outnumber its buckets, up to a power of two at least max_flows: a
 * sensor usually tracks hundreds of flows, and the lookup of every packet
 * then hits a few kilobytes of buckets that stay in cache instead of
 * a random line of a half-megabyte array.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mimamori/error.h"
#include "mimamori/flow.h"

#define S_NS 1000000000ull
#define EXPIRE_PER_PACKET 2
/* Removed entries kept for reuse: scans and DNS make most flows one or two
 * packets long, and a calloc/free pair per flow showed in throughput. The
 * spare list never holds more than the table's peak of live flows (an
 * entry is only spare after it was live), and at most SPARE_MAX. */
#define SPARE_MAX 16384
#define BUCKETS_MIN 1024

struct seg {
	struct seg *next;
	uint32_t seq;
	uint32_t len;
	uint8_t data[];
};

struct stream {
	int have_seq;
	uint32_t next_seq;
	uint32_t buffered;
	int fin;
	struct seg *segs; /* sorted by seq relative to next_seq */
};

/* Normalized key: side a is the lower (address, port) pair. */
struct key {
	uint8_t a[16];
	uint8_t b[16];
	uint16_t pa, pb;
	uint8_t proto, family;
	uint16_t pad;
};

/* hash_key() and key_eq() read a key as five words. */
_Static_assert(sizeof(struct key) == 40, "struct key is five 64-bit words");

struct entry {
	struct mm_flow pub;
	struct key key;
	uint64_t hash;
	struct entry *hnext;
	struct entry *newer, *older; /* LRU list */
	struct stream st[2];
};

struct mm_flow_table {
	struct mm_flow_table_opts o;
	struct entry **buckets;
	uint64_t mask, max_buckets;
	uint64_t seed[6];
	struct entry *newest, *oldest;
	uint64_t min_timeout;
	struct mm_flow_stats stats;
	struct entry *spare; /* chained through hnext, at most spare_max */
	uint32_t nspare, spare_max;
};

const char *
mm_flow_outcome_name(int outcome)
{
	switch (outcome) {
	case MM_FLOW_PENDING:
		return "pending";
	case MM_FLOW_COMPLETED:
		return "completed";
	case MM_FLOW_REFUSED_RST:
		return "refused_rst";
	case MM_FLOW_REFUSED_ICMP:
		return "refused_icmp";
	case MM_FLOW_UNANSWERED:
		return "unanswered";
	default:
		return "unknown";
	}
}

static uint64_t
dflt(uint64_t v, uint64_t d)
{
	return v ? v : d;
}

int
mm_flow_table_new(struct mm_flow_table **out, const struct mm_flow_table_opts *opts)
{
	struct mm_flow_table *t;
	uint64_t n = 1;
	struct timespec ts;

	if (out == NULL)
		return MM_ERR_INVAL;
	*out = NULL;
	if (opts != NULL && opts->size < sizeof(uint32_t))
		return MM_ERR_INVAL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return MM_ERR_NOMEM;
	if (opts != NULL) {
		size_t sz = opts->size < sizeof(t->o) ? opts->size : sizeof(t->o);
		memcpy(&t->o, opts, sz);
	}
	t->o.size = sizeof(t->o);
	t->o.max_flows = (uint32_t)dflt(t->o.max_flows, 65536);
	t->o.tcp_syn_timeout_ns = dflt(t->o.tcp_syn_timeout_ns, 30 * S_NS);
	t->o.tcp_timeout_ns = dflt(t->o.tcp_timeout_ns, 3600 * S_NS);
	t->o.tcp_closed_timeout_ns = dflt(t->o.tcp_closed_timeout_ns, 10 * S_NS);
	t->o.udp_timeout_ns = dflt(t->o.udp_timeout_ns, 120 * S_NS);
	t->o.other_timeout_ns = dflt(t->o.other_timeout_ns, 60 * S_NS);
	t->o.stream_window = (uint32_t)dflt(t->o.stream_window, 65536);
	t->o.stream_memcap = dflt(t->o.stream_memcap, 64ull << 20);
	t->min_timeout = t->o.tcp_syn_timeout_ns;
	if (t->o.tcp_timeout_ns < t->min_timeout)
		t->min_timeout = t->o.tcp_timeout_ns;
	if (t->o.tcp_closed_timeout_ns < t->min_timeout)
		t->min_timeout = t->o.tcp_closed_timeout_ns;
	if (t->o.udp_timeout_ns < t->min_timeout)
		t->min_timeout = t->o.udp_timeout_ns;
	if (t->o.other_timeout_ns < t->min_timeout)
		t->min_timeout = t->o.other_timeout_ns;
	while (n < t->o.max_flows && n < (1u << 30))
		n <<= 1;
	t->max_buckets = n;
	if (n > BUCKETS_MIN)
		n = BUCKETS_MIN;
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (t->buckets == NULL) {
		free(t);
		return MM_ERR_NOMEM;
	}
	t->mask = n - 1;
	t->spare_max = t->o.max_flows < SPARE_MAX ? t->o.max_flows : SPARE_MAX;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* A per-table seed keeps a remote sender from aiming at one bucket. */
	{
		uint64_t x =
		        ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)t;
		for (int i = 0; i < 6; i++) {
			/* splitmix64 steps spread it over the six words. */
			uint64_t z = (x += 0x9e3779b97f4a7c15ull);
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
			t->seed[i] = (z ^ (z >> 31)) | 1;
		}
	}
	*out = t;
	return MM_OK;
}

/* Multiply to 128 bits and fold: a seeded, non-linear mix of two words
 * (the same construction as wyhash's). */
static inline uint64_t
mum(uint64_t x, uint64_t y)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 r = (unsigned __int128)x * y;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
	uint64_t h = x * y;
	return h ^ (h >> 29) ^ ((x >> 32) * (y >> 32));
#endif
}

/* The key's five words, each pair mixed with its own part of the
 * table's seed: three independent multiplies instead of a chain. */
static inline uint64_t
hash_key(const uint64_t *seed, const struct key *k)
{
	uint64_t w[5];

	memcpy(w, k, sizeof(w));
	return mum(w[0] ^ seed[0], w[1] ^ seed[1]) ^ mum(w[2] ^ seed[2], w[3] ^ seed[3]) ^
	       mum(w[4] ^ seed[4], seed[5]);
}

/* memcmp() order of two 16-byte addresses, as two big-endian words. */
static inline int
addr_cmp(const uint8_t *a, const uint8_t *b)
{
	uint64_t x[2], y[2];

	memcpy(x, a, 16);
	memcpy(y, b, 16);
	for (int i = 0; i < 2; i++) {
		if (x[i] != y[i]) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			uint64_t u = __builtin_bswap64(x[i]), v = __builtin_bswap64(y[i]);
#else
			uint64_t u = x[i], v = y[i];
#endif
			return u < v ? -1 : 1;
		}
	}
	return 0;
}

static inline void
make_key(struct key *k, uint8_t proto, const struct mm_addr *s, uint16_t sp,
         const struct mm_addr *d, uint16_t dp)
{
	int c;

	memset(k, 0, sizeof(*k));
	k->proto = proto;
	k->family = s->family;
	c = addr_cmp(s->addr, d->addr);
	if (c < 0 || (c == 0 && sp <= dp)) {
		memcpy(k->a, s->addr, 16);
		memcpy(k->b, d->addr, 16);
		k->pa = sp;
		k->pb = dp;
	} else {
		memcpy(k->a, d->addr, 16);
		memcpy(k->b, s->addr, 16);
		k->pa = dp;
		k->pb = sp;
	}
}

/* Keys compare as five words: cheaper inline than a memcmp call. */
static inline int
key_eq(const struct key *a, const struct key *b)
{
	uint64_t x[5], y[5];

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) == 0;
}

static inline struct entry *
lookup(struct mm_flow_table *t, const struct key *k, uint64_t h)
{
	struct entry *e;

	for (e = t->buckets[h & t->mask]; e != NULL; e = e->hnext)
		if (e->hash == h && key_eq(&e->key, k))
			return e;
	return NULL;
}

static void
lru_unlink(struct mm_flow_table *t, struct entry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void
lru_push(struct mm_flow_table *t, struct entry *e)
{
	e->older = t->newest;
	e->newer = NULL;
	if (t->newest)
		t->newest->newer = e;
	t->newest = e;
	if (t->oldest == NULL)
		t->oldest = e;
}

static void
deliver(struct mm_flow_table *t, struct entry *e, int dir, const uint8_t *data, size_t len)
{
	if (len == 0)
		return;
	if (data == NULL) {
		e->pub.stream_gaps[dir]++;
		t->stats.stream_gaps++;
	} else {
		e->pub.stream_bytes[dir] += len;
	}
	if (t->o.on_data)
		t->o.on_data(t->o.user, &e->pub, dir, data, len);
}

/* Deliver every segment that is now contiguous with next_seq. */
static void
drain(struct mm_flow_table *t, struct entry *e, int dir)
{
	struct stream *s = &e->st[dir];
	struct seg *g;

	while ((g = s->segs) != NULL) {
		int32_t d = (int32_t)(g->seq - s->next_seq);
		if (d > 0)
			break;
		s->segs = g->next;
		s->buffered -= g->len;
		t->stats.stream_buffered -= g->len;
		if ((uint32_t)(-(int64_t)d) < g->len) {
			uint32_t skip = (uint32_t)(-(int64_t)d);
			deliver(t, e, dir, g->data + skip, g->len - skip);
			s->next_seq += g->len - skip;
		}
		free(g);
	}
}

/* Give up waiting for missing bytes: deliver what is buffered, with gaps. */
static void
flush_gaps(struct mm_flow_table *t, struct entry *e, int dir)
{
	struct stream *s = &e->st[dir];

	while (s->segs != NULL) {
		int32_t d = (int32_t)(s->segs->seq - s->next_seq);
		if (d > 0) {
			deliver(t, e, dir, NULL, (size_t)d);
			s->next_seq = s->segs->seq;
		}
		drain(t, e, dir);
	}
}

static void
stream_data(struct mm_flow_table *t, struct entry *e, int dir, uint32_t seq, const uint8_t *data,
            uint32_t len)
{
	struct stream *s = &e->st[dir];
	int32_t d;
	struct seg *g, **pp;

	if (!s->have_seq) {
		s->have_seq = 1;
		s->next_seq = seq;
	}
	d = (int32_t)(seq - s->next_seq);
	if (d <= 0) {
		uint32_t old = (uint32_t)(-(int64_t)d);
		if (old >= len)
			return; /* a retransmission of delivered bytes */
		deliver(t, e, dir, data + old, len - old);
		s->next_seq += len - old;
		drain(t, e, dir);
		return;
	}
	if ((uint64_t)d + len > t->o.stream_window || s->buffered + len > t->o.stream_window) {
		t->stats.stream_window_hits++;
		goto jump;
	}
	if (t->stats.stream_buffered + len > t->o.stream_memcap) {
		t->stats.stream_memcap_hits++;
		goto jump;
	}
	g = malloc(sizeof(*g) + len);
	if (g == NULL) {
		t->stats.stream_memcap_hits++;
		goto jump;
	}
	g->seq = seq;
	g->len = len;
	memcpy(g->data, data, len);
	for (pp = &s->segs; *pp != NULL; pp = &(*pp)->next)
		if ((int32_t)((*pp)->seq - seq) > 0)
			break;
	g->next = *pp;
	*pp = g;
	s->buffered += len;
	t->stats.stream_buffered += len;
	return;
jump:
	/* The hole is too far back to wait for: skip to this segment. */
	flush_gaps(t, e, dir);
	d = (int32_t)(seq - s->next_seq);
	if (d > 0) {
		deliver(t, e, dir, NULL, (size_t)d);
		s->next_seq = seq;
	}
	stream_data(t, e, dir, seq, data, len);
}

static void
set_state(struct mm_flow_table *t, struct entry *e, int st)
{
	int old = e->pub.state;

	if (old == st)
		return;
	e->pub.state = (uint8_t)st;
	if (t->o.on_state)
		t->o.on_state(t->o.user, &e->pub, old, st);
}

static void
remove_entry(struct mm_flow_table *t, struct entry *e, int reason)
{
	struct entry **pp;
	int d;

	for (pp = &t->buckets[e->hash & t->mask]; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	lru_unlink(t, e);
	for (d = 0; d < 2; d++)
		if (e->st[d].segs != NULL)
			flush_gaps(t, e, d);
	if (e->pub.outcome == MM_FLOW_PENDING && reason == MM_FLOW_END_TIMEOUT &&
	    e->pub.pkts[MM_FLOW_TO_CLIENT] == 0)
		e->pub.outcome = MM_FLOW_UNANSWERED;
	if (t->o.on_end)
		t->o.on_end(t->o.user, &e->pub, reason);
	t->stats.flows_active--;
	if (t->nspare < t->spare_max) {
		e->hnext = t->spare;
		t->spare = e;
		t->nspare++;
	} else {
		free(e);
	}
}

static uint64_t
timeout_of(const struct mm_flow_table *t, const struct entry *e)
{
	if (e->pub.proto == 6) {
		switch (e->pub.state) {
		case MM_FLOW_NEW:
		case MM_FLOW_SYN_ACKED:
			return t->o.tcp_syn_timeout_ns;
		case MM_FLOW_CLOSED:
		case MM_FLOW_REFUSED:
			return t->o.tcp_closed_timeout_ns;
		default:
			return t->o.tcp_timeout_ns;
		}
	}
	if (e->pub.proto == 17)
		return t->o.udp_timeout_ns;
	return t->o.other_timeout_ns;
}

static size_t
expire_some(struct mm_flow_table *t, uint64_t now_ns, size_t limit)
{
	struct entry *e = t->oldest, *next;
	size_t n = 0, seen = 0;

	while (e != NULL && seen < limit) {
		next = e->newer;
		if (now_ns < e->pub.last_ns || now_ns - e->pub.last_ns < t->min_timeout)
			break;
		seen++;
		if (now_ns - e->pub.last_ns >= timeout_of(t, e)) {
			t->stats.flows_expired++;
			remove_entry(t, e, MM_FLOW_END_TIMEOUT);
			n++;
		}
		e = next;
	}
	return n;
}

size_t
mm_flow_table_expire(struct mm_flow_table *table, uint64_t now_ns)
{
	if (table == NULL)
		return 0;
	return expire_some(table, now_ns, (size_t)-1);
}

void
mm_flow_table_flush(struct mm_flow_table *table)
{
	if (table == NULL)
		return;
	while (table->oldest != NULL)
		remove_entry(table, table->oldest, MM_FLOW_END_FLUSH);
}

void
mm_flow_table_free(struct mm_flow_table *table)
{
	if (table == NULL)
		return;
	mm_flow_table_flush(table);
	while (table->spare != NULL) {
		struct entry *e = table->spare;
		table->spare = e->hnext;
		free(e);
	}
	free(table->buckets);
	free(table);
}

const struct mm_flow_stats *
mm_flow_table_stats(const struct mm_flow_table *table)
{
	return table ? &table->stats : NULL;
}

static int
is_unreachable(const struct mm_packet *pkt)
{
	if (pkt->layers & MM_L_ICMP)
		return pkt->icmp_type == 3;
	if (pkt->layers & MM_L_ICMP6)
		return pkt->icmp_type == 1;
	return 0;
}

/* An ICMP error quoting one of our flows: a refusal when it is an
 * unreachable and the flow had no answer yet. Returns 1 when matched. */
static int
icmp_error(struct mm_flow_table *t, const struct mm_packet *pkt, uint64_t now_ns)
{
	struct key k;
	struct entry *e;

	if (pkt->icmp_inner.src.family == 0)
		return 0;
	make_key(&k, pkt->icmp_inner.ip_proto, &pkt->icmp_inner.src, pkt->icmp_inner.sport,
	         &pkt->icmp_inner.dst, pkt->icmp_inner.dport);
	e = lookup(t, &k, hash_key(t->seed, &k));
	if (e == NULL)
		return 0;
	t->stats.icmp_matched++;
	if (is_unreachable(pkt) && e->pub.outcome == MM_FLOW_PENDING) {
		e->pub.outcome = MM_FLOW_REFUSED_ICMP;
		set_state(t, e, MM_FLOW_REFUSED);
		e->pub.last_ns = now_ns > e->pub.last_ns ? now_ns : e->pub.last_ns;
		lru_unlink(t, e);
		lru_push(t, e);
	}
	return 1;
}

/* Double the bucket array and relink every entry by its stored hash. When
 * the memory is not there the table keeps its buckets: longer chains,
 * same results. */
static void
grow(struct mm_flow_table *t)
{
	uint64_t n = (t->mask + 1) * 2;
	struct entry **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return;
	for (uint64_t i = 0; i <= t->mask; i++) {
		struct entry *e = t->buckets[i], *next;
		for (; e != NULL; e = next) {
			next = e->hnext;
			e->hnext = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->mask = n - 1;
}

static struct entry *
create(struct mm_flow_table *t, const struct key *k, uint64_t h, const struct mm_packet *pkt,
       uint16_t sp, uint16_t dp, uint64_t now_ns)
{
	struct entry *e;
	int swap = 0;

	if (t->stats.flows_active >= t->o.max_flows) {
		expire_some(t, now_ns, EXPIRE_PER_PACKET);
		if (t->stats.flows_active >= t->o.max_flows && t->oldest != NULL) {
			t->stats.flows_evicted++;
			remove_entry(t, t->oldest, MM_FLOW_END_EVICTED);
		}
	}
	if (t->spare != NULL) {
		e = t->spare;
		t->spare = e->hnext;
		t->nspare--;
		memset(e, 0, sizeof(*e));
	} else if ((e = calloc(1, sizeof(*e))) == NULL) {
		return NULL;
	}
	e->key = *k;
	e->hash = h;
	e->pub.proto = pkt->ip_proto;
	/* A SYN-ACK or a reply from a well-known port seen first means the
	 * initiator is the packet's destination. */
	if (pkt->ip_proto == 6 &&
	    (pkt->tcp_flags & (MM_TCP_SYN | MM_TCP_ACK)) == (MM_TCP_SYN | MM_TCP_ACK))
		swap = 1;
	if (swap) {
		e->pub.cli = pkt->dst;
		e->pub.srv = pkt->src;
		e->pub.cli_port = dp;
		e->pub.srv_port = sp;
	} else {
		e->pub.cli = pkt->src;
		e->pub.srv = pkt->dst;
		e->pub.cli_port = sp;
		e->pub.srv_port = dp;
	}
	if (pkt->ip_proto == 6) {
		if ((pkt->tcp_flags & (MM_TCP_SYN | MM_TCP_ACK)) == MM_TCP_SYN)
			e->pub.tcp_seen_syn = 1;
		else if (!swap)
			e->pub.state = MM_FLOW_ESTABLISHED; /* picked up midstream */
	}
	e->pub.first_ns = now_ns;
	e->pub.last_ns = now_ns;
	if (t->stats.flows_active >= t->mask + 1 && t->mask + 1 < t->max_buckets)
		grow(t);
	e->hnext = t->buckets[h & t->mask];
	t->buckets[h & t->mask] = e;
	lru_push(t, e);
	t->stats.flows_created++;
	t->stats.flows_active++;
	return e;
}

static void
tcp_update(struct mm_flow_table *t, struct entry *e, int dir, const struct mm_packet *pkt)
{
	uint8_t f = pkt->tcp_flags;
	struct stream *s = &e->st[dir];

	if (f & MM_TCP_RST) {
		if (dir == MM_FLOW_TO_CLIENT && e->pub.outcome == MM_FLOW_PENDING &&
		    e->pub.state == MM_FLOW_NEW) {
			e->pub.outcome = MM_FLOW_REFUSED_RST;
			set_state(t, e, MM_FLOW_REFUSED);
		} else if (e->pub.state != MM_FLOW_REFUSED) {
			set_state(t, e, MM_FLOW_CLOSED);
		}
		return;
	}
	if ((f & (MM_TCP_SYN | MM_TCP_ACK)) == (MM_TCP_SYN | MM_TCP_ACK)) {
		if (dir == MM_FLOW_TO_CLIENT && e->pub.state == MM_FLOW_NEW) {
			if (e->pub.outcome == MM_FLOW_PENDING)
				e->pub.outcome = MM_FLOW_COMPLETED;
			set_state(t, e, MM_FLOW_SYN_ACKED);
		}
	} else if (f & MM_TCP_SYN) {
		/* A fresh SYN on a closed tuple is port reuse: start over. */
		if (dir == MM_FLOW_TO_SERVER &&
		    (e->pub.state == MM_FLOW_CLOSED || e->pub.state == MM_FLOW_REFUSED)) {
			int d;
			for (d = 0; d < 2; d++) {
				flush_gaps(t, e, d);
				e->st[d].have_seq = 0;
				e->st[d].fin = 0;
			}
			e->pub.outcome = MM_FLOW_PENDING;
			set_state(t, e, MM_FLOW_NEW);
		}
	} else if (f & MM_TCP_ACK) {
		if (dir == MM_FLOW_TO_SERVER && e->pub.state == MM_FLOW_SYN_ACKED)
			set_state(t, e, MM_FLOW_ESTABLISHED);
	}
	if (dir == MM_FLOW_TO_CLIENT && e->pub.outcome == MM_FLOW_PENDING &&
	    e->pub.state == MM_FLOW_ESTABLISHED)
		e->pub.outcome = MM_FLOW_COMPLETED;

	if (t->o.reassemble) {
		uint32_t seq = pkt->tcp_seq;
		if (f & MM_TCP_SYN) {
			s->have_seq = 1;
			s->next_seq = seq + 1;
			seq++;
		}
		if (pkt->payload_len > 0 && pkt->payload != NULL)
			stream_data(t, e, dir, seq, pkt->payload, pkt->payload_len);
	}
	if (f & MM_TCP_FIN) {
		s->fin = 1;
		if (e->st[!dir].fin)
			set_state(t, e, MM_FLOW_CLOSED);
		else if (e->pub.state == MM_FLOW_ESTABLISHED || e->pub.state == MM_FLOW_SYN_ACKED)
			set_state(t, e, MM_FLOW_CLOSING);
	}
}

int
mm_flow_table_update(struct mm_flow **out, int *out_dir, struct mm_flow_table *table,
                     const struct mm_packet *pkt, uint64_t now_ns)
{
	struct mm_flow_table *t = table;
	struct key k;
	struct entry *e;
	uint64_t h;
	uint16_t sp = 0, dp = 0;
	int dir;

	if (out)
		*out = NULL;
	if (out_dir)
		*out_dir = MM_FLOW_TO_SERVER;
	if (t == NULL || pkt == NULL)
		return MM_ERR_INVAL;
	t->stats.packets++;
	/* The common case, nothing old enough to expire, without a call. */
	if (t->oldest != NULL && now_ns >= t->oldest->pub.last_ns &&
	    now_ns - t->oldest->pub.last_ns >= t->min_timeout)
		expire_some(t, now_ns, EXPIRE_PER_PACKET);
	if (!(pkt->layers & (MM_L_IPV4 | MM_L_IPV6)) || pkt->src.family == 0 ||
	    (pkt->layers & MM_L_FRAG)) {
		t->stats.no_flow++;
		return MM_OK;
	}
	if ((pkt->layers & MM_L_ICMP_INNER) && icmp_error(t, pkt, now_ns))
		return MM_OK;
	if (pkt->layers & (MM_L_TCP | MM_L_UDP)) {
		sp = pkt->sport;
		dp = pkt->dport;
	} else if (pkt->ip_proto == 6 || pkt->ip_proto == 17) {
		/* TCP or UDP whose header did not decode: not a flow packet. */
		t->stats.no_flow++;
		return MM_OK;
	}
	make_key(&k, pkt->ip_proto, &pkt->src, sp, &pkt->dst, dp);
	h = hash_key(t->seed, &k);
	e = lookup(t, &k, h);
	if (e == NULL) {
		e = create(t, &k, h, pkt, sp, dp, now_ns);
		if (e == NULL)
			return MM_ERR_NOMEM;
	} else {
		/* A flow's packets often come in runs: it is newest already. */
		if (t->newest != e) {
			lru_unlink(t, e);
			lru_push(t, e);
		}
		if (now_ns > e->pub.last_ns)
			e->pub.last_ns = now_ns;
	}
	if (pkt->src.family == e->pub.cli.family && sp == e->pub.cli_port &&
	    memcmp(pkt->src.addr, e->pub.cli.addr, 16) == 0)
		dir = MM_FLOW_TO_SERVER;
	else
		dir = MM_FLOW_TO_CLIENT;
	e->pub.pkts[dir]++;
	e->pub.bytes[dir] += pkt->payload_len;
	if (pkt->ip_proto == 6 && (pkt->layers & MM_L_TCP)) {
		tcp_update(t, e, dir, pkt);
	} else if (dir == MM_FLOW_TO_CLIENT && e->pub.state == MM_FLOW_NEW) {
		if (e->pub.outcome == MM_FLOW_PENDING)
			e->pub.outcome = MM_FLOW_COMPLETED;
		set_state(t, e, MM_FLOW_ESTABLISHED);
	}
	if (out)
		*out = &e->pub;
	if (out_dir)
		*out_dir = dir;
	return MM_OK;
}

int
mm_flow_table_process(struct mm_flow_table *table, const struct mm_packet *pkt, uint64_t now_ns)
{
	return mm_flow_table_update(NULL, NULL, table, pkt, now_ns);
}
