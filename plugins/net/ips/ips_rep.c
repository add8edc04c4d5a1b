/*
 * Reputation tables of the ips plugin (ips worker, replay, tests). One
 * open-addressing hash table holds every entry: addresses are keyed by
 * (family, prefix length, masked address), so a lookup probes once per
 * prefix length present in the lists (a bitmap records which), and domains
 * are keyed by their lower-case text, so a lookup probes once per label
 * suffix. Loading a million entries is a million inserts into a table that
 * doubles when half full.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ips_rep.h"
#include "ips_rule.h"
#include "mimamori/error.h"

#define MAX_CATS 256
#define KEY_MAX 256

struct hent {
	uint64_t h;
	uint8_t *key; /* NULL: empty slot */
	uint16_t klen;
	uint16_t cat;
};

struct ips_rep {
	struct hent *tab;
	size_t cap, n;
	char *cats[MAX_CATS];
	size_t ncats;
	char *catnames[MAX_CATS]; /* iprep numeric id -> name */
	uint8_t plen4[33], plen6[129];
};

static uint64_t
hash(const uint8_t *k, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= k[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 31);
}

int
ips_rep_new(struct ips_rep **out)
{
	struct ips_rep *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return MM_ERR_NOMEM;
	r->cap = 1024;
	r->tab = calloc(r->cap, sizeof(*r->tab));
	if (r->tab == NULL) {
		free(r);
		return MM_ERR_NOMEM;
	}
	*out = r;
	return MM_OK;
}

void
ips_rep_free(struct ips_rep *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->cap; i++)
		free(r->tab[i].key);
	for (i = 0; i < r->ncats; i++)
		free(r->cats[i]);
	for (i = 0; i < MAX_CATS; i++)
		free(r->catnames[i]);
	free(r->tab);
	free(r);
}

size_t
ips_rep_count(const struct ips_rep *r)
{
	return r ? r->n : 0;
}

static int
cat_id(struct ips_rep *r, const char *cat)
{
	size_t i;

	for (i = 0; i < r->ncats; i++)
		if (strcmp(r->cats[i], cat) == 0)
			return (int)i;
	if (r->ncats >= MAX_CATS)
		return -1;
	r->cats[r->ncats] = strdup(cat);
	if (r->cats[r->ncats] == NULL)
		return -1;
	return (int)r->ncats++;
}

static int
grow(struct ips_rep *r)
{
	size_t nc = r->cap * 2, i, j;
	struct hent *nt = calloc(nc, sizeof(*nt));

	if (nt == NULL)
		return MM_ERR_NOMEM;
	for (i = 0; i < r->cap; i++) {
		if (r->tab[i].key == NULL)
			continue;
		for (j = r->tab[i].h & (nc - 1); nt[j].key; j = (j + 1) & (nc - 1))
			;
		nt[j] = r->tab[i];
	}
	free(r->tab);
	r->tab = nt;
	r->cap = nc;
	return MM_OK;
}

static int
put(struct ips_rep *r, const uint8_t *k, size_t n, int cat)
{
	uint64_t h = hash(k, n);
	size_t j;

	if ((r->n + 1) * 2 > r->cap && grow(r) != MM_OK)
		return MM_ERR_NOMEM;
	for (j = h & (r->cap - 1); r->tab[j].key; j = (j + 1) & (r->cap - 1))
		if (r->tab[j].h == h && r->tab[j].klen == n && memcmp(r->tab[j].key, k, n) == 0) {
			r->tab[j].cat = (uint16_t)cat; /* the last list wins */
			return MM_OK;
		}
	r->tab[j].key = malloc(n);
	if (r->tab[j].key == NULL)
		return MM_ERR_NOMEM;
	memcpy(r->tab[j].key, k, n);
	r->tab[j].klen = (uint16_t)n;
	r->tab[j].h = h;
	r->tab[j].cat = (uint16_t)cat;
	r->n++;
	return MM_OK;
}

static int
get(const struct ips_rep *r, const uint8_t *k, size_t n)
{
	uint64_t h = hash(k, n);
	size_t j;

	for (j = h & (r->cap - 1); r->tab[j].key; j = (j + 1) & (r->cap - 1))
		if (r->tab[j].h == h && r->tab[j].klen == n && memcmp(r->tab[j].key, k, n) == 0)
			return r->tab[j].cat;
	return -1;
}

static size_t
ip_key(uint8_t *k, const struct mm_addr *a, unsigned bits)
{
	unsigned full = bits / 8, rem = bits % 8, alen = a->family == 4 ? 4 : 16;

	k[0] = 'I';
	k[1] = a->family;
	k[2] = (uint8_t)bits;
	memset(k + 3, 0, alen);
	memcpy(k + 3, a->addr, full);
	if (rem)
		k[3 + full] = (uint8_t)(a->addr[full] & (0xff << (8 - rem)));
	return 3 + alen;
}

int
ips_rep_add_ip(struct ips_rep *r, const char *cidr, const char *cat)
{
	struct ips_cidr c;
	uint8_t k[32];
	int id;

	if (ips_cidr_parse(&c, cidr) != MM_OK)
		return MM_ERR_PARSE;
	id = cat_id(r, cat);
	if (id < 0)
		return MM_ERR_FULL;
	if (c.net.family == 4)
		r->plen4[c.bits] = 1;
	else
		r->plen6[c.bits] = 1;
	return put(r, k, ip_key(k, &c.net, c.bits), id);
}

static size_t
dom_key(uint8_t *k, const char *d, size_t n)
{
	size_t i;

	if (n > KEY_MAX - 2)
		return 0;
	k[0] = 'D';
	for (i = 0; i < n; i++)
		k[1 + i] = (uint8_t)tolower((unsigned char)d[i]);
	return n + 1;
}

int
ips_rep_add_domain(struct ips_rep *r, const char *domain, const char *cat)
{
	uint8_t k[KEY_MAX];
	size_t n;
	int id;

	while (*domain == '.' || *domain == '*')
		domain++;
	n = strlen(domain);
	while (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || (n = dom_key(k, domain, n)) == 0)
		return MM_ERR_PARSE;
	id = cat_id(r, cat);
	if (id < 0)
		return MM_ERR_FULL;
	return put(r, k, n, id);
}

const char *
ips_rep_ip(const struct ips_rep *r, const struct mm_addr *a)
{
	uint8_t k[32];
	int b, max, id;
	const uint8_t *pl;

	if (r == NULL || r->n == 0 || (a->family != 4 && a->family != 6))
		return NULL;
	max = a->family == 4 ? 32 : 128;
	pl = a->family == 4 ? r->plen4 : r->plen6;
	for (b = max; b >= 0; b--) {
		if (!pl[b])
			continue;
		id = get(r, k, ip_key(k, a, (unsigned)b));
		if (id >= 0)
			return r->cats[id];
	}
	return NULL;
}

const char *
ips_rep_domain(const struct ips_rep *r, const char *name, size_t len, size_t *matched)
{
	uint8_t k[KEY_MAX];
	size_t off = 0, n;
	int id;

	if (r == NULL || r->n == 0)
		return NULL;
	while (len > 0 && name[len - 1] == '.')
		len--;
	/* A Host header may carry a port. */
	{
		const char *colon = memchr(name, ':', len);
		if (colon && memchr(colon + 1, ':', len - (size_t)(colon + 1 - name)) == NULL)
			len = (size_t)(colon - name);
	}
	while (off < len) {
		n = dom_key(k, name + off, len - off);
		if (n > 0 && (id = get(r, k, n)) >= 0) {
			if (matched)
				*matched = off;
			return r->cats[id];
		}
		while (off < len && name[off] != '.')
			off++;
		off++;
	}
	return NULL;
}

int
ips_rep_load_categories(struct ips_rep *r, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];

	if (f == NULL)
		return errno == ENOENT ? MM_ERR_NOTFOUND : MM_ERR_IO;
	while (fgets(line, sizeof(line), f)) {
		char *id = strtok(line, ","), *name = strtok(NULL, ",");
		long v;
		if (!id || !name || line[0] == '#')
			continue;
		v = strtol(id, NULL, 10);
		if (v < 0 || v >= MAX_CATS)
			continue;
		name[strcspn(name, " \t\r\n")] = 0;
		free(r->catnames[v]);
		r->catnames[v] = strdup(name);
	}
	fclose(f);
	return MM_OK;
}

int
ips_rep_load_file(struct ips_rep *r, const char *path, const char *def_cat, size_t *bad)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int rc = MM_OK;
	struct ips_cidr c;

	if (f == NULL)
		return errno == ENOENT ? MM_ERR_NOTFOUND : MM_ERR_IO;
	while (rc != MM_ERR_NOMEM && fgets(line, sizeof(line), f)) {
		char *p = line, *f1, *f2, *save = NULL;
		char catbuf[64];
		const char *cat = def_cat;

		p[strcspn(p, "#\r\n")] = 0;
		f1 = strtok_r(p, ", \t", &save);
		if (f1 == NULL)
			continue;
		f2 = strtok_r(NULL, ", \t", &save);
		if (f2 != NULL) {
			if (isdigit((unsigned char)f2[0])) {
				long v = strtol(f2, NULL, 10);
				if (v >= 0 && v < MAX_CATS && r->catnames[v])
					cat = r->catnames[v];
				else if (def_cat != NULL)
					cat = def_cat;
				else {
					snprintf(catbuf, sizeof(catbuf), "cat%ld", v);
					cat = catbuf;
				}
			} else {
				cat = f2;
			}
		}
		if (ips_cidr_parse(&c, f1) == MM_OK)
			rc = ips_rep_add_ip(r, f1, cat);
		else if (strspn(f1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		                    "-._*") == strlen(f1))
			rc = ips_rep_add_domain(r, f1, cat);
		else
			rc = MM_ERR_PARSE;
		if (rc != MM_OK && rc != MM_ERR_NOMEM && bad)
			(*bad)++;
	}
	fclose(f);
	return rc == MM_ERR_NOMEM ? rc : MM_OK;
}

const char *
ips_rep_event_cat(const char *c)
{
	static const char *const c2[] = {"cnc", "c2", "c&c", "botnet", "botcc", "cc", NULL};
	char low[32];
	size_t i;

	for (i = 0; i + 1 < sizeof(low) && c[i]; i++)
		low[i] = (char)tolower((unsigned char)c[i]);
	low[i] = 0;
	for (i = 0; c2[i]; i++)
		if (strcmp(low, c2[i]) == 0)
			return "c2";
	if (strcmp(low, "malware") == 0 || strcmp(low, "compromised") == 0 ||
	    strcmp(low, "badhosts") == 0)
		return "malware";
	if (strcmp(low, "phishing") == 0)
		return "phishing";
	return "policy";
}
