/*
 * Aho-Corasick automaton of the ips plugin (ips worker, replay, tests). The
 * trie is built with per-state edge lists, then failure links in breadth
 * order; each state's output list includes the outputs of its failure
 * chain, so a scan reports matches without walking links.
 *
 * ips_ac_build then compiles the trie into flat arrays, which is what a
 * scan touches: the root, the states one and two bytes deep (within a row
 * budget) and every state with many edges get a complete 256-entry row
 * (failure transitions folded in, so a step is one load); the deep states,
 * which almost always have one or two edges, keep a short edge list in
 * one contiguous pool and a failure link. Every transition target carries
 * a flag bit telling whether the state has outputs, so the scan loop
 * tests a register instead of loading the state. Memory grows with the
 * total pattern length plus at most DENSE_BUDGET rows.
 *
 * Built with Hyperscan (Debian libhyperscan-dev, MM_IPS_HAVE_HS) and on a
 * CPU it supports, the same patterns are compiled into one Hyperscan
 * literal database instead (caseless, single match: each id once per
 * scan), which scans several times faster; the automaton above is the
 * fallback when Hyperscan is absent, refuses the CPU or fails to compile.
 */
#include <stdlib.h>
#include <string.h>

#include "ips_ac.h"
#include "mimamori/error.h"

#ifdef MM_IPS_HAVE_HS
#include <hs.h>
#endif

#define DENSE_MIN 24
#define DENSE_BUDGET 512 /* complete rows beyond the root and depth 1 */
/* A state reference in rows[] and eto[]: a state with a complete row is
 * referred to by the offset of its row (id * 256), so a step is
 * rows[s + byte]; a sparse state by its id with SPF set. OUTF marks a
 * state with outputs. */
#define OUTF 0x80000000u
#define SPF 0x40000000u
#define NOROW 0xffffffffu

/* The compiled form of one state (see the top). */
struct cst {
	uint32_t row;  /* offset of the complete row in rows[], or NOROW */
	uint32_t fail; /* sparse states: failure state (a reference) */
	uint32_t eoff; /* sparse states: edges in ekey[]/eto[] */
	uint32_t nedge;
	uint32_t ooff, nout; /* outputs in outs[] */
};

struct edge {
	uint8_t c;
	uint32_t to;
};

struct state {
	uint32_t fail;
	uint32_t nedges, capedges;
	struct edge *edges; /* sorted by c */
	uint32_t *dense;    /* 256 entries or NULL */
	uint32_t *outs;
	uint32_t nouts, capouts;
};

struct ips_ac {
	struct state *st; /* the trie while building; freed by the build */
	uint32_t n, cap;
	size_t npat;
	size_t maxlen; /* longest pattern */
	int built;
	/* compiled */
	struct cst *cs;
	uint32_t *rows;
	uint8_t *ekey;
	uint32_t *eto;
	uint32_t *outs;
	uint32_t nrows;
	/* Scan scratch: the scan that last reported a state's outputs, so a
	 * pattern that occurs a hundred times in a buffer (zero runs, CRLF)
	 * is reported once per scan. */
	uint32_t *seen;
	uint32_t gen;
	/* Hyperscan: the literals kept until the build, then the database. */
	int allow_hs;
	char **lit;
	size_t *litlen;
	unsigned *litid;
	size_t nlit, caplit;
#ifdef MM_IPS_HAVE_HS
	hs_database_t *db;
	hs_scratch_t *scratch;
#endif
};

static void
free_lits(struct ips_ac *ac)
{
	for (size_t i = 0; i < ac->nlit; i++)
		free(ac->lit[i]);
	free(ac->lit);
	free(ac->litlen);
	free(ac->litid);
	ac->lit = NULL;
	ac->litlen = NULL;
	ac->litid = NULL;
	ac->nlit = ac->caplit = 0;
}

static uint8_t fold[256];

static void
init_fold(void)
{
	int i;

	for (i = 0; i < 256; i++)
		fold[i] = (uint8_t)((i >= 'A' && i <= 'Z') ? i + 32 : i);
}

int
ips_ac_new(struct ips_ac **out)
{
	return ips_ac_new2(out, 1);
}

int
ips_ac_new2(struct ips_ac **out, int allow_hs)
{
	struct ips_ac *ac;

	init_fold();
	ac = calloc(1, sizeof(*ac));
	if (ac == NULL)
		return MM_ERR_NOMEM;
	ac->cap = 64;
	ac->st = calloc(ac->cap, sizeof(*ac->st));
	if (ac->st == NULL) {
		free(ac);
		return MM_ERR_NOMEM;
	}
	ac->n = 1;
#ifdef MM_IPS_HAVE_HS
	ac->allow_hs = allow_hs && hs_valid_platform() == HS_SUCCESS;
#else
	(void)allow_hs;
#endif
	*out = ac;
	return MM_OK;
}

void
ips_ac_free(struct ips_ac *ac)
{
	uint32_t i;

	if (ac == NULL)
		return;
	for (i = 0; ac->st != NULL && i < ac->n; i++) {
		free(ac->st[i].edges);
		free(ac->st[i].dense);
		free(ac->st[i].outs);
	}
	free(ac->st);
	free(ac->cs);
	free(ac->rows);
	free(ac->ekey);
	free(ac->eto);
	free(ac->outs);
	free(ac->seen);
	free_lits(ac);
#ifdef MM_IPS_HAVE_HS
	hs_free_scratch(ac->scratch);
	hs_free_database(ac->db);
#endif
	free(ac);
}

static uint32_t
edge_find(const struct state *s, uint8_t c)
{
	uint32_t lo = 0, hi = s->nedges;

	if (s->dense)
		return s->dense[c];
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (s->edges[mid].c == c)
			return s->edges[mid].to;
		if (s->edges[mid].c < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int
add_out(struct state *s, uint32_t id)
{
	if (s->nouts == s->capouts) {
		uint32_t nc = s->capouts ? s->capouts * 2 : 2;
		uint32_t *no = realloc(s->outs, nc * sizeof(*no));
		if (no == NULL)
			return MM_ERR_NOMEM;
		s->outs = no;
		s->capouts = nc;
	}
	s->outs[s->nouts++] = id;
	return MM_OK;
}

/* Add a pattern to the trie. */
static int
trie_add(struct ips_ac *ac, const uint8_t *pat, size_t len, uint32_t id)
{
	uint32_t cur = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t c = fold[pat[i]];
		struct state *s = &ac->st[cur];
		uint32_t to = edge_find(s, c), j;

		if (to == 0) {
			if (ac->n == ac->cap) {
				uint32_t nc = ac->cap * 2;
				struct state *ns = realloc(ac->st, nc * sizeof(*ns));
				if (ns == NULL)
					return MM_ERR_NOMEM;
				memset(ns + ac->cap, 0, (nc - ac->cap) * sizeof(*ns));
				ac->st = ns;
				ac->cap = nc;
				s = &ac->st[cur];
			}
			to = ac->n++;
			if (s->nedges == s->capedges) {
				uint32_t nc = s->capedges ? s->capedges * 2 : 2;
				struct edge *ne = realloc(s->edges, nc * sizeof(*ne));
				if (ne == NULL)
					return MM_ERR_NOMEM;
				s->edges = ne;
				s->capedges = nc;
			}
			for (j = s->nedges; j > 0 && s->edges[j - 1].c > c; j--)
				s->edges[j] = s->edges[j - 1];
			s->edges[j].c = c;
			s->edges[j].to = to;
			s->nedges++;
		}
		cur = to;
	}
	ac->npat++;
	if (len > ac->maxlen)
		ac->maxlen = len;
	return add_out(&ac->st[cur], id);
}

int
ips_ac_add(struct ips_ac *ac, const uint8_t *pat, size_t len, uint32_t id)
{
	if (ac->built || len == 0)
		return MM_ERR_STATE;
	if (!ac->allow_hs)
		return trie_add(ac, pat, len, id);
	/* Kept for Hyperscan; they go into the trie only if it fails. */
	if (ac->nlit == ac->caplit) {
		size_t nc = ac->caplit ? ac->caplit * 2 : 64;
		char **nl = realloc(ac->lit, nc * sizeof(*nl));
		size_t *nn;
		unsigned *ni;
		if (nl == NULL)
			return MM_ERR_NOMEM;
		ac->lit = nl;
		if ((nn = realloc(ac->litlen, nc * sizeof(*nn))) == NULL)
			return MM_ERR_NOMEM;
		ac->litlen = nn;
		if ((ni = realloc(ac->litid, nc * sizeof(*ni))) == NULL)
			return MM_ERR_NOMEM;
		ac->litid = ni;
		ac->caplit = nc;
	}
	if ((ac->lit[ac->nlit] = malloc(len)) == NULL)
		return MM_ERR_NOMEM;
	memcpy(ac->lit[ac->nlit], pat, len);
	ac->litlen[ac->nlit] = len;
	ac->litid[ac->nlit++] = id;
	ac->npat++;
	if (len > ac->maxlen)
		ac->maxlen = len;
	return MM_OK;
}

static inline uint32_t
step(const struct ips_ac *ac, uint32_t s, uint8_t c)
{
	for (;;) {
		const struct state *st = &ac->st[s];
		uint32_t to;
		if (st->dense)
			return st->dense[c]; /* complete: failures folded in */
		to = edge_find(st, c);
		if (to != 0 || s == 0)
			return to;
		s = st->fail;
	}
}

/* Turn the built trie into the flat arrays the scan uses, renumbering the
 * states so that the ones with a complete row come first (then a step from
 * them is "s < ndense ? rows[s * 256 + c]"), and free the trie. order[]
 * is every state in breadth order, root first. */
static int
compile(struct ips_ac *ac, const uint32_t *order)
{
	uint32_t *newid = NULL, nd = 0, ns = 0, i, k, eo = 0, oo = 0, ne = 0, no = 0;
	int rc = MM_ERR_NOMEM;

	newid = malloc(ac->n * sizeof(*newid));
	if (newid == NULL)
		goto out;
	for (i = 0; i < ac->n; i++)
		if (ac->st[order[i]].dense)
			newid[order[i]] = nd++;
	for (i = 0; i < ac->n; i++) {
		const struct state *s = &ac->st[order[i]];
		if (!s->dense) {
			newid[order[i]] = nd + ns++;
			ne += s->nedges;
		}
		no += s->nouts;
	}
	ac->nrows = nd;
	ac->rows = malloc((size_t)nd * 256 * sizeof(*ac->rows));
	ac->cs = calloc(ns + 1, sizeof(*ac->cs));
	ac->ekey = malloc(ne + 1);
	ac->eto = malloc((ne + 1) * sizeof(*ac->eto));
	ac->outs = malloc((no + 1) * sizeof(*ac->outs));
	ac->seen = calloc(ac->n, sizeof(*ac->seen));
	if (!ac->seen || !ac->rows || !ac->cs || !ac->ekey || !ac->eto || !ac->outs)
		goto out;
#define REF(old)                                                                                   \
	((ac->st[old].dense ? newid[old] * 256 : newid[old] | SPF) | (ac->st[old].nouts ? OUTF : 0))
	for (i = 0; i < ac->n; i++) {
		const struct state *s = &ac->st[order[i]];
		uint32_t id = newid[order[i]];
		struct cst *q;
		if (s->dense) {
			for (k = 0; k < 256; k++)
				ac->rows[(size_t)id * 256 + k] = REF(s->dense[fold[k]]);
		}
		q = s->dense ? NULL : &ac->cs[id - nd];
		if (q != NULL) {
			q->fail = REF(s->fail) & ~OUTF;
			q->eoff = eo;
			q->nedge = s->nedges;
			for (k = 0; k < s->nedges; k++) {
				ac->ekey[eo] = s->edges[k].c;
				ac->eto[eo++] = REF(s->edges[k].to);
			}
		}
	}
#undef REF
	/* One cst per state by new id: outputs for all, edges and failure
	 * link for the sparse ones. */
	{
		struct cst *all = calloc(ac->n, sizeof(*all));
		if (all == NULL)
			goto out;
		for (i = 0; i < ac->n; i++) {
			const struct state *s = &ac->st[order[i]];
			struct cst *q = &all[newid[order[i]]];
			q->ooff = oo;
			q->nout = s->nouts;
			for (k = 0; k < s->nouts; k++)
				ac->outs[oo++] = s->outs[k];
		}
		for (i = 0; i < ns; i++) {
			all[nd + i].row = NOROW;
			all[nd + i].fail = ac->cs[i].fail;
			all[nd + i].eoff = ac->cs[i].eoff;
			all[nd + i].nedge = ac->cs[i].nedge;
		}
		for (i = 0; i < nd; i++)
			all[i].row = i * 256;
		free(ac->cs);
		ac->cs = all;
	}
	for (i = 0; i < ac->n; i++) {
		free(ac->st[i].edges);
		free(ac->st[i].dense);
		free(ac->st[i].outs);
	}
	free(ac->st);
	ac->st = NULL;
	rc = MM_OK;
out:
	free(newid);
	return rc;
}

/* Without Hyperscan after all: put the kept literals into the trie. */
static int
replay_lits(struct ips_ac *ac)
{
	int rc = MM_OK;

	if (ac->nlit == 0)
		return MM_OK; /* added straight to the trie */
	ac->npat = 0;
	ac->maxlen = 0;
	for (size_t i = 0; i < ac->nlit && rc == MM_OK; i++)
		rc = trie_add(ac, (const uint8_t *)ac->lit[i], ac->litlen[i], ac->litid[i]);
	free_lits(ac);
	return rc;
}

/* Compile the literals into a Hyperscan database. Returns 1 when the scans
 * will use it, MM_OK when the automaton is to be built instead (the
 * literals are then in the trie), or MM_ERR_NOMEM. */
static int
hs_build(struct ips_ac *ac)
{
#ifdef MM_IPS_HAVE_HS
	unsigned *flags = NULL;
	hs_compile_error_t *err = NULL;
	int rc = 0;

	if (!ac->allow_hs || ac->nlit == 0 || ac->nlit > 0xffffffu)
		goto out;
	rc = MM_ERR_NOMEM;
	flags = malloc(ac->nlit * sizeof(*flags));
	if (flags == NULL)
		goto out;
	for (size_t i = 0; i < ac->nlit; i++)
		flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
	if (hs_compile_lit_multi((const char *const *)ac->lit, flags, ac->litid, ac->litlen,
	                         (unsigned)ac->nlit, HS_MODE_BLOCK, NULL, &ac->db,
	                         &err) != HS_SUCCESS) {
		hs_free_compile_error(err);
		ac->db = NULL;
		goto out;
	}
	if (hs_alloc_scratch(ac->db, &ac->scratch) != HS_SUCCESS) {
		hs_free_database(ac->db);
		ac->db = NULL;
		goto out;
	}
	for (uint32_t i = 0; i < ac->n; i++) {
		free(ac->st[i].edges);
		free(ac->st[i].dense);
		free(ac->st[i].outs);
	}
	free(ac->st);
	ac->st = NULL;
	ac->built = 1;
	rc = 1;
out:
	free(flags);
	if (rc == 1)
		free_lits(ac);
	else
		rc = replay_lits(ac);
	return rc;
#else
	return replay_lits(ac);
#endif
}

#ifdef MM_IPS_HAVE_HS
struct hs_ctx {
	ips_ac_cb cb;
	void *user;
};

static int
on_hs_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
            void *ctx)
{
	struct hs_ctx *h = ctx;

	(void)from;
	(void)to;
	(void)flags;
	h->cb(h->user, id);
	return 0;
}
#endif

int
ips_ac_build(struct ips_ac *ac)
{
	uint32_t *queue, *depth, head = 0, tail = 0, i, k, budget = DENSE_BUDGET;
	int rc = MM_ERR_NOMEM;

	if (ac->built)
		return MM_ERR_STATE;
	if ((rc = hs_build(ac)) != MM_OK)
		return rc == 1 ? MM_OK : rc;
	rc = MM_ERR_NOMEM;
	queue = malloc((ac->n + 1) * sizeof(*queue));
	depth = calloc(ac->n, sizeof(*depth));
	if (queue == NULL || depth == NULL)
		goto out;
	queue[tail++] = 0;
	head = 1;
	for (i = 0; i < ac->st[0].nedges; i++) {
		uint32_t to = ac->st[0].edges[i].to;
		ac->st[to].fail = 0;
		depth[to] = 1;
		queue[tail++] = to;
	}
	while (head < tail) {
		uint32_t s = queue[head++];
		for (i = 0; i < ac->st[s].nedges; i++) {
			uint8_t c = ac->st[s].edges[i].c;
			uint32_t to = ac->st[s].edges[i].to;
			uint32_t f = step(ac, ac->st[s].fail, c);
			ac->st[to].fail = f;
			depth[to] = depth[s] + 1;
			for (k = 0; k < ac->st[f].nouts; k++)
				if (add_out(&ac->st[to], ac->st[f].outs[k]) != MM_OK)
					goto out;
			queue[tail++] = to;
		}
	}
	/* Complete rows (failure transitions folded in, so a step is one
	 * load): the root, the states one byte deep, two bytes deep while the
	 * budget lasts (where a scan spends nearly all its time) and busy
	 * states. Built in breadth order, so a failure state's row is ready
	 * before it is used. */
	for (i = 0; i < tail; i++) {
		uint32_t si = queue[i], c;
		struct state *s = &ac->st[si];
		int want = depth[si] <= 1 || s->nedges >= DENSE_MIN;
		if (!want && depth[si] == 2 && s->nedges > 0 && budget > 0) {
			want = 1;
			budget--;
		}
		if (!want)
			continue;
		s->dense = malloc(256 * sizeof(uint32_t));
		if (s->dense == NULL)
			goto out;
		for (c = 0; c < 256; c++)
			s->dense[c] = si == 0 ? 0 : step(ac, s->fail, (uint8_t)c);
		for (k = 0; k < s->nedges; k++)
			s->dense[s->edges[k].c] = s->edges[k].to;
	}
	if ((rc = compile(ac, queue)) != MM_OK)
		goto out;
	ac->built = 1;
out:
	free(queue);
	free(depth);
	return rc;
}

/* A step from a sparse state: its edges, else its failure chain down to a
 * state with a complete row. c is the input byte as is. */
static inline uint32_t
sparse_step(const struct ips_ac *ac, uint32_t s, uint8_t c)
{
	uint8_t f = fold[c];

	while (s & SPF) {
		const struct cst *q = &ac->cs[s & ~SPF];
		const uint8_t *k = ac->ekey + q->eoff;
		uint32_t j;
		for (j = 0; j < q->nedge; j++)
			if (k[j] == f)
				return ac->eto[q->eoff + j];
		s = q->fail;
	}
	return ac->rows[s + c];
}

/* One step of a scan from state s on byte c, reporting the outputs of
 * the new state unless this scan did already. */
static inline uint32_t
advance(struct ips_ac *ac, uint32_t s, uint8_t c, uint32_t gen, ips_ac_cb cb, void *user)
{
	uint32_t t = (s & SPF) ? sparse_step(ac, s, c) : ac->rows[s + c];

	if (t & OUTF) {
		uint32_t id, k;
		t &= ~OUTF;
		id = (t & SPF) ? t & ~SPF : t >> 8;
		if (ac->seen[id] != gen) {
			const uint32_t *o = ac->outs + ac->cs[id].ooff, n = ac->cs[id].nout;
			ac->seen[id] = gen;
			for (k = 0; k < n; k++)
				cb(user, o[k]);
		}
	}
	return t;
}

/* Interleaved segments of a long buffer: a step is a load whose address
 * depends on the previous step's load, so one automaton walk waits on
 * memory latency; four independent walks over four segments keep four
 * loads in flight. Segment k > 0 starts maxlen - 1 bytes before its
 * share, so every occurrence ending in its share lies wholly inside it
 * and the set of patterns found is exactly that of one walk. */
#define LANES 4

void
ips_ac_scan(struct ips_ac *ac, const uint8_t *data, size_t len, ips_ac_cb cb, void *user)
{
	uint32_t gen, s = 0;
	size_t i;

	if (!ac->built || ac->npat == 0)
		return;
#ifdef MM_IPS_HAVE_HS
	if (ac->db != NULL) {
		struct hs_ctx h = {cb, user};
		if (len > 0xffffffffu)
			len = 0xffffffffu;
		hs_scan(ac->db, (const char *)data, (unsigned int)len, 0, ac->scratch, on_hs_match,
		        &h);
		return;
	}
#endif
	if (++ac->gen == 0) {
		memset(ac->seen, 0, ac->n * sizeof(*ac->seen));
		ac->gen = 1;
	}
	gen = ac->gen;
	if (len >= LANES * (ac->maxlen + 64)) {
		size_t share = len / LANES, pos[LANES], end[LANES], n = (size_t)-1;
		uint32_t st[LANES] = {0};
		int l;
		for (l = 0; l < LANES; l++) {
			pos[l] = l == 0 ? 0 : l * share - (ac->maxlen - 1);
			end[l] = l == LANES - 1 ? len : (size_t)(l + 1) * share;
			if (end[l] - pos[l] < n)
				n = end[l] - pos[l];
		}
		for (i = 0; i < n; i++) {
			st[0] = advance(ac, st[0], data[pos[0] + i], gen, cb, user);
			st[1] = advance(ac, st[1], data[pos[1] + i], gen, cb, user);
			st[2] = advance(ac, st[2], data[pos[2] + i], gen, cb, user);
			st[3] = advance(ac, st[3], data[pos[3] + i], gen, cb, user);
		}
		for (l = 0; l < LANES; l++)
			for (i = pos[l] + n; i < end[l]; i++)
				st[l] = advance(ac, st[l], data[i], gen, cb, user);
		return;
	}
	/* The rows are indexed by the raw byte (case folded when built);
	 * only the rare sparse states fold at run time. */
	for (i = 0; i < len; i++)
		s = advance(ac, s, data[i], gen, cb, user);
}

const char *
ips_ac_backend(const struct ips_ac *ac)
{
#ifdef MM_IPS_HAVE_HS
	if (ac->db != NULL)
		return "hyperscan";
#endif
	(void)ac;
	return "aho-corasick";
}

size_t
ips_ac_patterns(const struct ips_ac *ac)
{
	return ac->npat;
}

size_t
ips_ac_states(const struct ips_ac *ac)
{
	return ac->n;
}
