/*
 * Aho-Corasick automaton of the ips plugin (ips worker, replay, tests). The
 * trie is built with per-state edge lists, then failure links in breadth
 * order; each state's output list includes the outputs of its failure
 * chain, so a scan reports matches without walking links. The root keeps a
 * complete 256-entry table (failure transitions folded in), and so do
 * the states one byte deep and every state whose edge list grows large,
 * so the common steps cost one load. Memory grows
 * with the total pattern length only.
 */
#include <stdlib.h>
#include <string.h>

#include "ips_ac.h"
#include "mimamori/error.h"

#define DENSE_MIN 24

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
	struct state *st;
	uint32_t n, cap;
	size_t npat;
	int built;
};

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
	*out = ac;
	return MM_OK;
}

void
ips_ac_free(struct ips_ac *ac)
{
	uint32_t i;

	if (ac == NULL)
		return;
	for (i = 0; i < ac->n; i++) {
		free(ac->st[i].edges);
		free(ac->st[i].dense);
		free(ac->st[i].outs);
	}
	free(ac->st);
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

int
ips_ac_add(struct ips_ac *ac, const uint8_t *pat, size_t len, uint32_t id)
{
	uint32_t cur = 0;
	size_t i;

	if (ac->built || len == 0)
		return MM_ERR_STATE;
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
	return add_out(&ac->st[cur], id);
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

int
ips_ac_build(struct ips_ac *ac)
{
	uint32_t *queue, head = 0, tail = 0, i, k;

	queue = malloc(ac->n * sizeof(*queue));
	if (queue == NULL)
		return MM_ERR_NOMEM;
	for (i = 0; i < ac->st[0].nedges; i++) {
		uint32_t to = ac->st[0].edges[i].to;
		ac->st[to].fail = 0;
		queue[tail++] = to;
	}
	while (head < tail) {
		uint32_t s = queue[head++];
		for (i = 0; i < ac->st[s].nedges; i++) {
			uint8_t c = ac->st[s].edges[i].c;
			uint32_t to = ac->st[s].edges[i].to;
			uint32_t f = step(ac, ac->st[s].fail, c);
			ac->st[to].fail = f;
			for (k = 0; k < ac->st[f].nouts; k++)
				if (add_out(&ac->st[to], ac->st[f].outs[k]) != MM_OK) {
					free(queue);
					return MM_ERR_NOMEM;
				}
			queue[tail++] = to;
		}
	}
	/* Dense tables, complete (failure transitions folded in, so a step
	 * is one load): the root, the states one byte deep (where a scan
	 * spends most of its time) and busy states. Built in breadth order,
	 * so a failure state's table is ready before it is used. */
	{
		uint32_t order;
		for (order = 0; order <= tail; order++) {
			/* queue[0 .. root's edges - 1] are the states one byte deep. */
			uint32_t si = order == 0 ? 0 : queue[order - 1];
			struct state *s = &ac->st[si];
			int shallow = order <= ac->st[0].nedges;
			uint32_t c;
			if (!shallow && s->nedges < DENSE_MIN)
				continue;
			s->dense = malloc(256 * sizeof(uint32_t));
			if (s->dense == NULL) {
				free(queue);
				return MM_ERR_NOMEM;
			}
			for (c = 0; c < 256; c++)
				s->dense[c] = si == 0 ? 0 : step(ac, s->fail, (uint8_t)c);
			for (k = 0; k < s->nedges; k++)
				s->dense[s->edges[k].c] = s->edges[k].to;
		}
	}
	free(queue);
	ac->built = 1;
	return MM_OK;
}

void
ips_ac_scan(const struct ips_ac *ac, const uint8_t *data, size_t len, ips_ac_cb cb, void *user)
{
	uint32_t s = 0, k;
	size_t i;

	if (!ac->built || ac->npat == 0)
		return;
	for (i = 0; i < len; i++) {
		s = step(ac, s, fold[data[i]]);
		for (k = 0; k < ac->st[s].nouts; k++)
			cb(user, ac->st[s].outs[k]);
	}
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
