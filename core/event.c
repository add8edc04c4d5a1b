/*
 * The host's normalized event: a tree of values under a root map, the
 * schema checks that keep it well formed, its msgpack encoding (the wire and
 * spool format), a strict bounded decoder for what arrives from other
 * processes, its JSON and one-line human renderings, and the UUIDv7 ids that
 * make every event unique and time ordered.
 *
 * Runs in every mimamori process: workers build and encode events, the
 * aggregator decodes, deduplicates and re-encodes them, and the CLI prints
 * them. The decoder is the one place where bytes from another process become
 * an event, so it never trusts a declared length, count or depth and never
 * allocates more than the input can justify.
 */
#include "event.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "mimamori/error.h"

/* Total values in one event. A real event has a few dozen; the bound keeps
 * a hostile 1 MiB input from turning into tens of MiB of nodes. */
#define MAX_NODES 65536
#define MAX_PATH 1024
#define MAX_KEY 255
#define RANK_OTHER UINT_MAX

enum vtype { T_NIL, T_BOOL, T_INT, T_DOUBLE, T_STR, T_ARRAY, T_MAP };

struct member;

struct val {
	unsigned char type;
	unsigned char borrowed; /* p (T_STR) or the entries (T_ARRAY, T_MAP) live
	                         * in the event's arena: not freed on their own */
	union {
		int b;
		int64_t i;
		double d;
		struct {
			char *p;
			size_t len;
		} s;
		struct {
			struct val *v;
			size_t n, cap;
		} a;
		struct {
			struct member *m;
			size_t n, cap;
		} m;
	} u;
};

/* A map entry. Entries are kept sorted by rank (the key's position in the
 * schema, RANK_OTHER for keys the schema does not name) and otherwise in
 * insertion order, so the stored order is the encoding order. */
struct member {
	char *key;
	size_t klen;
	unsigned rank;
	int key_borrowed; /* key lives in the event's arena */
	struct val v;
};

/* A chunk of an event's arena; the bytes follow the header. */
struct chunk {
	struct chunk *next;
	size_t cap, used;
};

/* A decoded event keeps all its strings, keys and the entries of its maps
 * and arrays in an arena of a few chunks allocated with it, instead of one
 * malloc() each: decoding is what the aggregator does most. Values set
 * later are allocated on their own (a container that grows past its arena
 * entries moves to the heap). */
struct mm_event {
	struct val root;
	size_t nodes;
	struct chunk *arena;
	int all_arena; /* as decoded: nothing of the tree is on the heap */
};

/* The schema. F_FREE is a map whose content is not checked (attrs);
 * F_STRS an array of strings. */
enum ftype { F_INT = 1, F_STR, F_BOOL, F_MAP, F_STRS, F_FREE };
enum fcheck { C_NONE, C_V, C_UUID, C_KIND, C_ACTION, C_SEV, C_PORT };

struct field {
	const char *name;
	unsigned char len, type, check;
	const struct field *sub;
};

/* A schema entry; the name's length is kept so that lookups compare it
 * before any bytes. */
#define FLD(name, type, check, sub)                                                                \
	{                                                                                          \
		name, sizeof(name) - 1, type, check, sub                                           \
	}
#define FLD_END                                                                                    \
	{                                                                                          \
		NULL, 0, 0, 0, NULL                                                                \
	}

static const struct field sensor_f[] = {
        FLD("id", F_STR, 0, NULL),
        FLD("host", F_STR, 0, NULL),
        FLD("role", F_STR, 0, NULL),
        FLD("site", F_STR, 0, NULL),
        FLD_END,
};
static const struct field plugin_f[] = {
        FLD("name", F_STR, 0, NULL),
        FLD("version", F_STR, 0, NULL),
        FLD("vendor", F_STR, 0, NULL),
        FLD_END,
};
static const struct field rule_f[] = {
        FLD("ns", F_STR, 0, NULL),
        FLD("id", F_INT, 0, NULL),
        FLD("rev", F_INT, 0, NULL),
        FLD("name", F_STR, 0, NULL),
        FLD_END,
};
static const struct field ep_f[] = {
        FLD("ip", F_STR, 0, NULL),
        FLD("port", F_INT, C_PORT, NULL),
        FLD("mac", F_STR, 0, NULL),
        FLD("host", F_STR, 0, NULL),
        FLD_END,
};
static const struct field mail_f[] = {
        FLD("mid", F_STR, 0, NULL),
        FLD("from", F_STR, 0, NULL),
        FLD("to", F_STRS, 0, NULL),
        FLD("subj", F_STR, 0, NULL),
        FLD_END,
};
static const struct field file_f[] = {
        FLD("name", F_STR, 0, NULL),   FLD("mime", F_STR, 0, NULL), FLD("size", F_INT, 0, NULL),
        FLD("sha256", F_STR, 0, NULL), FLD("path", F_STR, 0, NULL), FLD_END,
};
static const struct field dev_f[] = {
        FLD("mac", F_STR, 0, NULL),
        FLD("ip", F_STR, 0, NULL),
        FLD("vendor", F_STR, 0, NULL),
        FLD("os", F_STR, 0, NULL),
        FLD("hostname", F_STR, 0, NULL),
        FLD("randomized_mac", F_BOOL, 0, NULL),
        FLD_END,
};

/* Top-level keys in encoding order. */
static const struct field top_f[] = {
        FLD("v", F_INT, C_V, NULL),           FLD("id", F_STR, C_UUID, NULL),
        FLD("seq", F_INT, 0, NULL),           FLD("ts", F_INT, 0, NULL),
        FLD("sensor", F_MAP, 0, sensor_f),    FLD("plugin", F_MAP, 0, plugin_f),
        FLD("kind", F_STR, C_KIND, NULL),     FLD("ocsf", F_INT, 0, NULL),
        FLD("cat", F_STR, 0, NULL),           FLD("sev", F_INT, C_SEV, NULL),
        FLD("action", F_STR, C_ACTION, NULL), FLD("rule", F_MAP, 0, rule_f),
        FLD("src", F_MAP, 0, ep_f),           FLD("dst", F_MAP, 0, ep_f),
        FLD("proto", F_STR, 0, NULL),         FLD("app", F_STR, 0, NULL),
        FLD("msg", F_STR, 0, NULL),           FLD("msg_ja", F_STR, 0, NULL),
        FLD("msg_id", F_STR, 0, NULL),        FLD("mail", F_MAP, 0, mail_f),
        FLD("file", F_MAP, 0, file_f),        FLD("dev", F_MAP, 0, dev_f),
        FLD("attrs", F_FREE, 0, NULL),        FLD("count", F_INT, 0, NULL),
        FLD("first_ts", F_INT, 0, NULL),      FLD_END,
};

static const struct field root_f = {"", 0, F_MAP, 0, top_f};

/* Ranks (positions in top_f) the code looks for directly. */
enum {
	RANK_V = 0,
	RANK_ID = 1,
	RANK_TS = 3,
	RANK_SENSOR = 4,
	RANK_PLUGIN = 5,
	RANK_KIND = 6,
	RANK_SEV = 9,
	RANK_FIRST_TS = 24,
};

static const char *const kind_names[] = {NULL, "alert", "asset", "health", "stat"};

/* ---- values ---- */

static void
val_clear(struct val *v)
{
	size_t i;

	switch (v->type) {
	case T_STR:
		if (!v->borrowed)
			free(v->u.s.p);
		break;
	case T_ARRAY:
		for (i = 0; i < v->u.a.n; i++)
			val_clear(&v->u.a.v[i]);
		if (!v->borrowed)
			free(v->u.a.v);
		break;
	case T_MAP:
		for (i = 0; i < v->u.m.n; i++) {
			if (!v->u.m.m[i].key_borrowed)
				free(v->u.m.m[i].key);
			val_clear(&v->u.m.m[i].v);
		}
		if (!v->borrowed)
			free(v->u.m.m);
		break;
	default:
		break;
	}
	v->type = T_NIL;
	v->borrowed = 0;
}

static size_t
val_count(const struct val *v)
{
	size_t i, n = 1;

	if (v->type == T_ARRAY)
		for (i = 0; i < v->u.a.n; i++)
			n += val_count(&v->u.a.v[i]);
	else if (v->type == T_MAP)
		for (i = 0; i < v->u.m.n; i++)
			n += val_count(&v->u.m.m[i].v);
	return n;
}

static char *
memdup0(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static int
val_copy(struct val *out, const struct val *v)
{
	size_t i;

	*out = *v;
	out->borrowed = 0;
	switch (v->type) {
	case T_STR:
		out->u.s.p = memdup0(v->u.s.p, v->u.s.len);
		if (out->u.s.p == NULL)
			goto fail;
		break;
	case T_ARRAY:
		out->u.a.v = NULL;
		out->u.a.n = out->u.a.cap = 0;
		if (v->u.a.n == 0)
			break;
		out->u.a.v = calloc(v->u.a.n, sizeof(*out->u.a.v));
		if (out->u.a.v == NULL)
			goto fail;
		out->u.a.cap = v->u.a.n;
		for (i = 0; i < v->u.a.n; i++) {
			if (val_copy(&out->u.a.v[i], &v->u.a.v[i]) != MM_OK)
				goto fail;
			out->u.a.n++;
		}
		break;
	case T_MAP:
		out->u.m.m = NULL;
		out->u.m.n = out->u.m.cap = 0;
		if (v->u.m.n == 0)
			break;
		out->u.m.m = calloc(v->u.m.n, sizeof(*out->u.m.m));
		if (out->u.m.m == NULL)
			goto fail;
		out->u.m.cap = v->u.m.n;
		for (i = 0; i < v->u.m.n; i++) {
			struct member *d = &out->u.m.m[i];
			const struct member *s = &v->u.m.m[i];

			d->key = memdup0(s->key, s->klen);
			if (d->key == NULL)
				goto fail;
			d->klen = s->klen;
			d->rank = s->rank;
			d->key_borrowed = 0;
			out->u.m.n++;
			if (val_copy(&d->v, &s->v) != MM_OK)
				goto fail;
		}
		break;
	default:
		break;
	}
	return MM_OK;
fail:
	if (out->type == T_STR)
		out->type = T_NIL;
	val_clear(out);
	return MM_ERR_NOMEM;
}

static struct member *
map_find(const struct val *m, const char *key, size_t klen)
{
	size_t i;

	for (i = 0; i < m->u.m.n; i++)
		if (m->u.m.m[i].klen == klen && memcmp(m->u.m.m[i].key, key, klen) == 0)
			return &m->u.m.m[i];
	return NULL;
}

/* Insert a new entry (the caller checked it is absent) at its rank. With
 * borrow set, key is a NUL-terminated string in the event's arena and is
 * used as it is; otherwise it is copied. */
static int
map_insert(struct member **out, struct val *m, const char *key, size_t klen, unsigned rank,
           int borrow)
{
	struct member *e;
	size_t pos;

	if (m->u.m.n >= MM_EVENT_MAX_ITEMS)
		return MM_ERR_FULL;
	if (m->u.m.n == m->u.m.cap) {
		size_t cap = m->u.m.cap ? m->u.m.cap * 2 : 4;

		if (cap > MM_EVENT_MAX_ITEMS)
			cap = MM_EVENT_MAX_ITEMS;
		if (m->borrowed) {
			/* Entries in the arena cannot grow there: move them. */
			e = malloc(cap * sizeof(*e));
			if (e != NULL && m->u.m.n > 0)
				memcpy(e, m->u.m.m, m->u.m.n * sizeof(*e));
		} else
			e = realloc(m->u.m.m, cap * sizeof(*e));
		if (e == NULL)
			return MM_ERR_NOMEM;
		m->u.m.m = e;
		m->u.m.cap = cap;
		m->borrowed = 0;
	}
	pos = m->u.m.n;
	while (pos > 0 && m->u.m.m[pos - 1].rank > rank)
		pos--;
	e = &m->u.m.m[pos];
	memmove(e + 1, e, (m->u.m.n - pos) * sizeof(*e));
	e->key = borrow ? (char *)key : memdup0(key, klen);
	e->key_borrowed = borrow;
	if (e->key == NULL) {
		memmove(e, e + 1, (m->u.m.n - pos) * sizeof(*e));
		return MM_ERR_NOMEM;
	}
	e->klen = klen;
	e->rank = rank;
	e->v.type = T_NIL;
	e->v.borrowed = 0;
	m->u.m.n++;
	*out = e;
	return MM_OK;
}

/* Schema keys are a few bytes long: comparing them here is cheaper than a
 * call to memcmp(). */
static inline int
same_bytes(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* The schema entry named key, searched from position start on (wrapping
 * around): keys usually arrive in schema order, so the decoder starts just
 * after the previous key's entry and finds the next one at once. */
static const struct field *
field_find_from(const struct field *table, unsigned start, const char *key, size_t klen,
                unsigned *rank)
{
	unsigned i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = pass ? 0 : start; table[i].name != NULL && (!pass || i < start); i++)
			if (table[i].len == klen && table[i].name[0] == key[0] &&
			    same_bytes(table[i].name, key, klen)) {
				*rank = i;
				return &table[i];
			}
		if (start == 0)
			break;
	}
	*rank = RANK_OTHER;
	return NULL;
}

/* Keys arrive in schema order, so the next one is usually at start or just
 * after it: look there before the search (this runs for every key of every
 * event the aggregator receives). */
static inline const struct field *
field_at_or_find(const struct field *table, unsigned start, const char *key, size_t klen,
                 unsigned *rank)
{
	unsigned i;

	for (i = start; i < start + 3 && table[i].name != NULL; i++)
		if (table[i].len == klen && table[i].name[0] == key[0] &&
		    same_bytes(table[i].name, key, klen)) {
			*rank = i;
			return &table[i];
		}
	return field_find_from(table, start, key, klen, rank);
}

static const struct field *
field_find(const struct field *table, const char *key, size_t klen, unsigned *rank)
{
	return field_find_from(table, 0, key, klen, rank);
}

/* ---- schema checks ---- */

/* Where the 32 hex digits of a UUID's text are. */
static const uint8_t uuid_digit_at[32] = {0,  1,  2,  3,  4,  5,  6,  7,  9,  10, 11,
                                          12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25,
                                          26, 27, 28, 29, 30, 31, 32, 33, 34, 35};

/* Lower-case hex digits' values with 0x10 set; 0 for every other byte. */
static const uint8_t hex_lower_val[256] = {
        ['0'] = 0x10, ['1'] = 0x11, ['2'] = 0x12, ['3'] = 0x13, ['4'] = 0x14, ['5'] = 0x15,
        ['6'] = 0x16, ['7'] = 0x17, ['8'] = 0x18, ['9'] = 0x19, ['a'] = 0x1a, ['b'] = 0x1b,
        ['c'] = 0x1c, ['d'] = 0x1d, ['e'] = 0x1e, ['f'] = 0x1f,
};

/* 1 and the 16 bytes in out for a UUID text (lower-case hex), else 0. No
 * early exit: the ids that arrive are valid, and a loop without branches
 * on the data is cheaper for them. */
static int
uuid_scan(uint8_t out[16], const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	unsigned ok = 0x10;

	if (len != MM_EVENT_ID_LEN || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
		return 0;
	for (size_t i = 0; i < 16; i++) {
		unsigned hi = hex_lower_val[s[uuid_digit_at[2 * i]]];
		unsigned lo = hex_lower_val[s[uuid_digit_at[2 * i + 1]]];

		ok &= hi & lo;
		out[i] = (uint8_t)((hi & 15) << 4 | (lo & 15));
	}
	return ok != 0;
}

static int
is_uuid(const char *str, size_t len)
{
	uint8_t bytes[16];

	return uuid_scan(bytes, str, len);
}

static int
kind_parse(const char *s, size_t len)
{
	int k;

	for (k = MM_KIND_ALERT; k <= MM_KIND_STAT; k++)
		if (strlen(kind_names[k]) == len && memcmp(kind_names[k], s, len) == 0)
			return k;
	return 0;
}

static int
is_action(const char *s, size_t len)
{
	static const char *const names[] = {"detected", "blocked", "allowed"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return 1;
	return 0;
}

/* Does a scalar value fit a field of the schema? Containers are checked by
 * their callers. */
static int
leaf_ok(const struct field *f, const struct val *v)
{
	switch (f->type) {
	case F_INT:
		if (v->type != T_INT)
			return 0;
		if (f->check == C_V)
			return v->u.i == MM_EVENT_SCHEMA_VERSION;
		if (f->check == C_SEV)
			return v->u.i >= MM_SEV_INFO && v->u.i <= MM_SEV_CRITICAL;
		if (f->check == C_PORT)
			return v->u.i >= 0 && v->u.i <= 65535;
		return 1;
	case F_STR:
		if (v->type != T_STR)
			return 0;
		if (f->check == C_UUID)
			return is_uuid(v->u.s.p, v->u.s.len);
		if (f->check == C_KIND)
			return kind_parse(v->u.s.p, v->u.s.len) != 0;
		if (f->check == C_ACTION)
			return is_action(v->u.s.p, v->u.s.len);
		return 1;
	case F_BOOL:
		return v->type == T_BOOL;
	default:
		return 0;
	}
}

/* ---- building ---- */

struct mm_event *
mm_event_create(int kind)
{
	struct mm_event *ev;

	if (kind < MM_KIND_ALERT || kind > MM_KIND_STAT)
		return NULL;
	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return NULL;
	ev->root.type = T_MAP;
	ev->nodes = 1;
	if (mm_event_set_int(ev, "v", MM_EVENT_SCHEMA_VERSION) != MM_OK ||
	    mm_event_set_str(ev, "kind", kind_names[kind]) != MM_OK) {
		mm_event_free(ev);
		return NULL;
	}
	return ev;
}

void
mm_event_free(struct mm_event *ev)
{
	if (ev == NULL)
		return;
	/* A decoded event that was never changed owns nothing but its arena:
	 * no need to walk the tree. */
	if (!ev->all_arena)
		val_clear(&ev->root);
	while (ev->arena != NULL) {
		struct chunk *next = ev->arena->next;

		free(ev->arena);
		ev->arena = next;
	}
	free(ev);
}

struct mm_event *
mm_event_clone(const struct mm_event *ev)
{
	struct mm_event *c;

	if (ev == NULL)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if (val_copy(&c->root, &ev->root) != MM_OK) {
		free(c);
		return NULL;
	}
	c->nodes = ev->nodes;
	return c;
}

/* A path split into components pointing into the caller's string. */
struct path {
	const char *c[MM_EVENT_MAX_DEPTH];
	size_t len[MM_EVENT_MAX_DEPTH];
	size_t n;
};

static int
path_split(struct path *out, const char *path)
{
	const char *p = path, *dot;
	size_t total;

	if (path == NULL)
		return MM_ERR_INVAL;
	total = strnlen(path, MAX_PATH + 1);
	if (total == 0 || total > MAX_PATH)
		return MM_ERR_INVAL;
	out->n = 0;
	for (;;) {
		size_t len;

		dot = strchr(p, '.');
		len = dot ? (size_t)(dot - p) : strlen(p);
		if (len == 0 || len > MAX_KEY || out->n == MM_EVENT_MAX_DEPTH)
			return MM_ERR_INVAL;
		out->c[out->n] = p;
		out->len[out->n] = len;
		out->n++;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	return MM_OK;
}

/*
 * Put leaf at path, or append it to the array at path when append is set.
 * The walk runs twice: a dry run that checks the schema, the existing tree
 * and the limits without touching anything, then the real one. A failed
 * call therefore never leaves half-created maps behind. Takes ownership of
 * leaf's content whatever it returns.
 */
static int
put(struct mm_event *ev, const char *path, struct val *leaf, int append)
{
	struct path p;
	int rc, dry;

	/* Whatever happens below may put values on the heap. */
	ev->all_arena = 0;
	rc = path_split(&p, path);
	if (rc != MM_OK)
		goto out;
	/* The root map is level 1, so a path of n keys puts its leaf in a map
	 * of level n, and an array leaf is one level deeper. */
	if (append && p.n + 1 > MM_EVENT_MAX_DEPTH) {
		rc = MM_ERR_INVAL;
		goto out;
	}
	for (dry = 1; dry >= 0; dry--) {
		struct val *cur = &ev->root;
		const struct field *table = top_f;
		size_t i, created = 0, freed = 0;

		for (i = 0; i < p.n; i++) {
			const struct field *f = NULL;
			struct member *m = NULL;
			unsigned rank = RANK_OTHER;
			int last = i + 1 == p.n;

			if (table != NULL) {
				f = field_find(table, p.c[i], p.len[i], &rank);
				if (f == NULL) {
					rc = MM_ERR_INVAL;
					goto out;
				}
			}
			if (cur != NULL)
				m = map_find(cur, p.c[i], p.len[i]);
			if (!last) {
				if (f != NULL && f->type != F_MAP && f->type != F_FREE) {
					rc = MM_ERR_INVAL;
					goto out;
				}
				if (m != NULL && m->v.type != T_MAP) {
					rc = MM_ERR_INVAL;
					goto out;
				}
				if (m == NULL) {
					created++;
					if (!dry) {
						rc = map_insert(&m, cur, p.c[i], p.len[i], rank, 0);
						if (rc != MM_OK)
							goto out;
						m->v.type = T_MAP;
						m->v.u.m.m = NULL;
						m->v.u.m.n = m->v.u.m.cap = 0;
						ev->nodes++;
					} else if (cur != NULL &&
					           cur->u.m.n >= MM_EVENT_MAX_ITEMS) {
						rc = MM_ERR_FULL;
						goto out;
					}
				}
				cur = m ? &m->v : NULL;
				table = f == NULL || f->type == F_FREE ? NULL : f->sub;
				continue;
			}
			/* The leaf. */
			if (m == NULL && cur != NULL && cur->u.m.n >= MM_EVENT_MAX_ITEMS) {
				rc = MM_ERR_FULL;
				goto out;
			}
			if (append) {
				if (f != NULL && !(f->type == F_STRS && leaf->type == T_STR)) {
					rc = MM_ERR_INVAL;
					goto out;
				}
				if (m != NULL && m->v.type != T_ARRAY) {
					rc = MM_ERR_INVAL;
					goto out;
				}
				if (m != NULL && m->v.u.a.n >= MM_EVENT_MAX_ITEMS) {
					rc = MM_ERR_FULL;
					goto out;
				}
				created += m == NULL ? 2 : 1;
			} else {
				if (f != NULL && !leaf_ok(f, leaf)) {
					rc = MM_ERR_INVAL;
					goto out;
				}
				if (m != NULL)
					freed = val_count(&m->v);
				created++;
			}
			if (dry) {
				if (ev->nodes - freed + created > MAX_NODES) {
					rc = MM_ERR_FULL;
					goto out;
				}
				break;
			}
			if (m == NULL) {
				rc = map_insert(&m, cur, p.c[i], p.len[i], rank, 0);
				if (rc != MM_OK)
					goto out;
				/* Not a value yet: nothing to uncount below. */
				freed = 0;
				if (append) {
					m->v.type = T_ARRAY;
					m->v.u.a.v = NULL;
					m->v.u.a.n = m->v.u.a.cap = 0;
					ev->nodes++;
				}
			}
			if (append) {
				struct val *a = &m->v;

				if (a->u.a.n == a->u.a.cap) {
					size_t cap = a->u.a.cap ? a->u.a.cap * 2 : 4;
					struct val *nv;

					if (a->borrowed) {
						nv = malloc(cap * sizeof(*nv));
						if (nv != NULL && a->u.a.n > 0)
							memcpy(nv, a->u.a.v,
							       a->u.a.n * sizeof(*nv));
					} else
						nv = realloc(a->u.a.v, cap * sizeof(*nv));
					if (nv == NULL) {
						rc = MM_ERR_NOMEM;
						goto out;
					}
					a->u.a.v = nv;
					a->u.a.cap = cap;
					a->borrowed = 0;
				}
				a->u.a.v[a->u.a.n++] = *leaf;
			} else {
				ev->nodes -= freed;
				val_clear(&m->v);
				m->v = *leaf;
			}
			ev->nodes++;
			leaf->type = T_NIL;
			rc = MM_OK;
			goto out;
		}
	}
	rc = MM_ERR_INVAL;
out:
	val_clear(leaf);
	return rc;
}

static int
str_leaf(struct val *out, const char *value)
{
	size_t len;

	if (value == NULL)
		return MM_ERR_INVAL;
	len = strnlen(value, MM_EVENT_MAX_BYTES + 1);
	if (len > MM_EVENT_MAX_BYTES)
		return MM_ERR_TOOBIG;
	out->type = T_STR;
	out->borrowed = 0;
	out->u.s.p = memdup0(value, len);
	out->u.s.len = len;
	if (out->u.s.p == NULL) {
		out->type = T_NIL;
		return MM_ERR_NOMEM;
	}
	return MM_OK;
}

int
mm_event_set_str(struct mm_event *ev, const char *path, const char *value)
{
	struct val v;
	int rc;

	if (ev == NULL)
		return MM_ERR_INVAL;
	rc = str_leaf(&v, value);
	if (rc != MM_OK)
		return rc;
	return put(ev, path, &v, 0);
}

int
mm_event_set_int(struct mm_event *ev, const char *path, int64_t value)
{
	struct val v = {.type = T_INT, .u.i = value};

	if (ev == NULL)
		return MM_ERR_INVAL;
	return put(ev, path, &v, 0);
}

int
mm_event_set_double(struct mm_event *ev, const char *path, double value)
{
	struct val v = {.type = T_DOUBLE, .u.d = value};

	if (ev == NULL)
		return MM_ERR_INVAL;
	return put(ev, path, &v, 0);
}

int
mm_event_set_bool(struct mm_event *ev, const char *path, int value)
{
	struct val v = {.type = T_BOOL, .u.b = value != 0};

	if (ev == NULL)
		return MM_ERR_INVAL;
	return put(ev, path, &v, 0);
}

int
mm_event_add_str(struct mm_event *ev, const char *path, const char *value)
{
	struct val v;
	int rc;

	if (ev == NULL)
		return MM_ERR_INVAL;
	rc = str_leaf(&v, value);
	if (rc != MM_OK)
		return rc;
	return put(ev, path, &v, 1);
}

int
mm_event_add_int(struct mm_event *ev, const char *path, int64_t value)
{
	struct val v = {.type = T_INT, .u.i = value};

	if (ev == NULL)
		return MM_ERR_INVAL;
	return put(ev, path, &v, 1);
}

/* Find the value at path, or NULL. */
static struct val *
lookup(const struct mm_event *ev, const char *path, struct member **parent_entry,
       struct val **parent)
{
	struct path p;
	struct val *cur;
	size_t i;

	if (ev == NULL || path_split(&p, path) != MM_OK)
		return NULL;
	cur = (struct val *)&ev->root;
	for (i = 0; i < p.n; i++) {
		struct member *m;

		if (cur->type != T_MAP)
			return NULL;
		m = map_find(cur, p.c[i], p.len[i]);
		if (m == NULL)
			return NULL;
		if (parent != NULL)
			*parent = cur;
		if (parent_entry != NULL)
			*parent_entry = m;
		cur = &m->v;
	}
	return cur;
}

int
mm_event_unset(struct mm_event *ev, const char *path)
{
	struct member *m = NULL;
	struct val *parent = NULL, *v;
	size_t idx;

	if (ev == NULL || path == NULL)
		return MM_ERR_INVAL;
	v = lookup(ev, path, &m, &parent);
	if (v == NULL)
		return MM_OK;
	ev->all_arena = 0;
	ev->nodes -= val_count(v);
	val_clear(v);
	if (!m->key_borrowed)
		free(m->key);
	idx = (size_t)(m - parent->u.m.m);
	memmove(m, m + 1, (parent->u.m.n - idx - 1) * sizeof(*m));
	parent->u.m.n--;
	return MM_OK;
}

const char *
mm_event_get_str(const struct mm_event *ev, const char *path)
{
	const struct val *v = lookup(ev, path, NULL, NULL);

	return v != NULL && v->type == T_STR ? v->u.s.p : NULL;
}

int
mm_event_get_int(const struct mm_event *ev, const char *path, int64_t *out)
{
	const struct val *v = lookup(ev, path, NULL, NULL);

	if (v == NULL || v->type != T_INT)
		return MM_ERR_NOTFOUND;
	if (out != NULL)
		*out = v->u.i;
	return MM_OK;
}

/* A top-level schema key's value by its rank. The root's entries are
 * sorted by rank, so the scan stops at the first one past it: the id, kind
 * and ts the aggregator asks for every event are found in a few steps,
 * without splitting a path. */
static const struct val *
root_get(const struct mm_event *ev, unsigned rank)
{
	size_t i;

	if (ev == NULL || ev->root.type != T_MAP)
		return NULL;
	for (i = 0; i < ev->root.u.m.n; i++) {
		const struct member *m = &ev->root.u.m.m[i];

		if (m->rank == rank)
			return &m->v;
		if (m->rank > rank)
			break;
	}
	return NULL;
}

int
mm_event_kind(const struct mm_event *ev)
{
	const struct val *v = root_get(ev, RANK_KIND);

	return v != NULL && v->type == T_STR ? kind_parse(v->u.s.p, v->u.s.len) : 0;
}

const char *
mm_event_kind_name(int kind)
{
	if (kind < MM_KIND_ALERT || kind > MM_KIND_STAT)
		return NULL;
	return kind_names[kind];
}

int
mm_event_kind_parse(const char *name)
{
	if (name == NULL)
		return 0;
	return kind_parse(name, strlen(name));
}

const char *
mm_event_id(const struct mm_event *ev)
{
	const struct val *v = root_get(ev, RANK_ID);

	return v != NULL && v->type == T_STR ? v->u.s.p : NULL;
}

int64_t
mm_event_ts(const struct mm_event *ev)
{
	const struct val *v = root_get(ev, RANK_TS);

	return v != NULL && v->type == T_INT ? v->u.i : 0;
}

int
mm_event_sev(const struct mm_event *ev)
{
	const struct val *v = root_get(ev, RANK_SEV);

	return v != NULL && v->type == T_INT ? (int)v->u.i : 0;
}

/* ---- ids ---- */

static void
fill_random(uint8_t *out, size_t n)
{
	static _Atomic uint64_t fallback;
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(out + got, n - got, 0);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		break;
	}
	/* Without getrandom() (old kernel, seccomp) the id must still be
	 * unique: mix the clock, the pid and a counter (splitmix64). */
	while (got < n) {
		struct timespec t;
		uint64_t z;

		clock_gettime(CLOCK_REALTIME, &t);
		z = atomic_fetch_add(&fallback, 0x9e3779b97f4a7c15ull) ^
		    ((uint64_t)t.tv_nsec << 20) ^ (uint64_t)t.tv_sec ^ ((uint64_t)getpid() << 40);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		out[got++] = (uint8_t)z;
	}
}

/* The last id's 48-bit ms timestamp and 12-bit rand_a, as (ms << 12) |
 * rand_a. A new id takes a fresh random rand_a when its ms is later than
 * the last one, else the last value plus one: a counter within the ms that
 * carries into the timestamp when it overflows. Ids of one process thus
 * sort in creation order even when the clock stands still or steps back. */
static _Atomic uint64_t uuid_last;

/*
 * Random bytes for ids from a small per-thread pool, refilled from the
 * kernel 512 bytes at a time: a getrandom() call per event showed in the
 * cost of stamping events. A forked child must not reuse its parent's
 * pool (the two would hand out the same bytes), so fork empties it.
 */
#define POOL_BYTES 512

static _Thread_local uint8_t pool[POOL_BYTES];
static _Thread_local size_t pool_left;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void
pool_forget(void)
{
	pool_left = 0;
}

static void
pool_at_fork(void)
{
	pthread_atfork(NULL, NULL, pool_forget);
}

static void
random_bytes(uint8_t *out, size_t n)
{
	pthread_once(&pool_once, pool_at_fork);
	if (n > POOL_BYTES) {
		fill_random(out, n);
		return;
	}
	if (pool_left < n) {
		fill_random(pool, POOL_BYTES);
		pool_left = POOL_BYTES;
	}
	memcpy(out, pool + POOL_BYTES - pool_left, n);
	/* Used bytes are wiped so that no id's randomness stays in memory. */
	memset(pool + POOL_BYTES - pool_left, 0, n);
	pool_left -= n;
}

void
mm_uuid7(char *out, uint64_t ts_ns)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t r[10], b[16];
	uint64_t ms, want, old, next;
	size_t i, o = 0;

	random_bytes(r, sizeof(r));
	ms = (ts_ns / 1000000u) & 0xffffffffffffull;
	/* The top bit of the fresh rand_a stays clear so that the counter
	 * has room before it carries. */
	want = (ms << 12) | (((uint64_t)r[8] << 8 | r[9]) & 0x7ff);
	old = atomic_load(&uuid_last);
	do {
		next = (want >> 12) > (old >> 12) ? want : old + 1;
	} while (!atomic_compare_exchange_weak(&uuid_last, &old, next));
	ms = next >> 12;
	for (i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (40 - 8 * i));
	b[6] = (uint8_t)(0x70 | ((next >> 8) & 0x0f));
	b[7] = (uint8_t)next;
	b[8] = (uint8_t)(0x80 | (r[0] & 0x3f));
	memcpy(b + 9, r + 1, 7);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

int
mm_event_stamp(struct mm_event *ev, const struct mm_event_stamp *s)
{
	struct {
		const char *path, *value;
	} strs[] = {
	        {"sensor.id", s ? s->sensor_id : NULL},
	        {"sensor.host", s ? s->sensor_host : NULL},
	        {"sensor.role", s ? s->sensor_role : NULL},
	        {"sensor.site", s ? s->sensor_site : NULL},
	        {"plugin.name", s ? s->plugin_name : NULL},
	        {"plugin.version", s ? s->plugin_version : NULL},
	        {"plugin.vendor", s ? s->plugin_vendor : NULL},
	};
	uint64_t now = 0;
	int64_t ts;
	size_t i;
	int rc;

	if (ev == NULL || s == NULL)
		return MM_ERR_INVAL;
	now = s->ts_ns;
	if (now == 0) {
		struct timespec t;

		clock_gettime(CLOCK_REALTIME, &t);
		now = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
	}
	if (now > INT64_MAX)
		return MM_ERR_RANGE;
	rc = mm_event_set_int(ev, "v", MM_EVENT_SCHEMA_VERSION);
	if (rc == MM_OK && mm_event_id(ev) == NULL) {
		char id[MM_EVENT_ID_LEN + 1];

		mm_uuid7(id, now);
		rc = mm_event_set_str(ev, "id", id);
	}
	if (rc == MM_OK)
		rc = mm_event_set_int(ev, "seq", (int64_t)(s->seq & INT64_MAX));
	if (rc == MM_OK && mm_event_get_int(ev, "ts", &ts) != MM_OK)
		rc = mm_event_set_int(ev, "ts", (int64_t)now);
	for (i = 0; rc == MM_OK && i < sizeof(strs) / sizeof(strs[0]); i++)
		if (strs[i].value != NULL)
			rc = mm_event_set_str(ev, strs[i].path, strs[i].value);
	return rc;
}

/* ---- msgpack encoding ---- */

static int
write_buf(void *data, const char *buf, size_t len)
{
	return mm_buf_append(data, buf, len) == MM_OK ? 0 : -1;
}

static int
pack_str(msgpack_packer *pk, const char *s, size_t len)
{
	if (msgpack_pack_str(pk, len) != 0)
		return -1;
	return msgpack_pack_str_body(pk, s, len);
}

static int
pack_val(msgpack_packer *pk, const struct val *v)
{
	size_t i;

	switch (v->type) {
	case T_NIL:
		return msgpack_pack_nil(pk);
	case T_BOOL:
		return v->u.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	case T_INT:
		return msgpack_pack_int64(pk, v->u.i);
	case T_DOUBLE:
		return msgpack_pack_double(pk, v->u.d);
	case T_STR:
		return pack_str(pk, v->u.s.p, v->u.s.len);
	case T_ARRAY:
		if (msgpack_pack_array(pk, v->u.a.n) != 0)
			return -1;
		for (i = 0; i < v->u.a.n; i++)
			if (pack_val(pk, &v->u.a.v[i]) != 0)
				return -1;
		return 0;
	case T_MAP:
		if (msgpack_pack_map(pk, v->u.m.n) != 0)
			return -1;
		for (i = 0; i < v->u.m.n; i++)
			if (pack_str(pk, v->u.m.m[i].key, v->u.m.m[i].klen) != 0 ||
			    pack_val(pk, &v->u.m.m[i].v) != 0)
				return -1;
		return 0;
	default:
		return -1;
	}
}

static int
is_v(const struct member *m)
{
	return m->klen == 1 && m->key[0] == 'v';
}

int
mm_event_encode(const struct mm_event *ev, struct mm_buf *out)
{
	msgpack_packer pk;
	const struct val *root;
	size_t start, i, n = 1;
	int64_t ts;
	const char *id, *kind;

	if (ev == NULL || out == NULL)
		return MM_ERR_INVAL;
	/* Refuse what the decoder would refuse: an unstamped event found
	 * here is a bug at its source, not a parse error at the aggregator. */
	id = mm_event_id(ev);
	kind = mm_event_get_str(ev, "kind");
	if (id == NULL || !is_uuid(id, strlen(id)) || kind == NULL ||
	    mm_event_kind_parse(kind) == 0 || mm_event_get_int(ev, "ts", &ts) != MM_OK)
		return MM_ERR_STATE;
	root = &ev->root;
	for (i = 0; i < root->u.m.n; i++)
		if (!is_v(&root->u.m.m[i]))
			n++;
	start = out->len;
	msgpack_packer_init(&pk, out, write_buf);
	if (msgpack_pack_map(&pk, n) != 0 || pack_str(&pk, "v", 1) != 0 ||
	    msgpack_pack_int64(&pk, MM_EVENT_SCHEMA_VERSION) != 0)
		goto nomem;
	for (i = 0; i < root->u.m.n; i++) {
		const struct member *m = &root->u.m.m[i];

		if (is_v(m))
			continue;
		if (pack_str(&pk, m->key, m->klen) != 0 || pack_val(&pk, &m->v) != 0)
			goto nomem;
	}
	if (out->len - start > MM_EVENT_MAX_BYTES) {
		out->len = start;
		return MM_ERR_TOOBIG;
	}
	return MM_OK;
nomem:
	out->len = start;
	return MM_ERR_NOMEM;
}

/* ---- msgpack decoding ---- */

struct rd {
	const uint8_t *p, *end;
	size_t nodes;
	struct mm_event *ev; /* whose arena takes strings and entries */
	unsigned root_seen;  /* bit i: the top-level key of rank i was read */
};

/*
 * n bytes (8-byte aligned) from the event's arena. The first chunk is sized
 * from the input so that a usual event needs one; a later chunk is at least
 * twice the previous one. What is handed out is bounded by the input (each
 * string costs its bytes plus a NUL, each entry at least two input bytes,
 * and the node count is capped), so the arena is too.
 */
static void *
arena_alloc(struct rd *r, size_t n)
{
	struct chunk *c = r->ev->arena;
	size_t at;

	n = (n + 7) & ~(size_t)7;
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = c ? 2 * c->cap : 6 * (size_t)(r->end - r->p) + 1024;

		if (cap < n)
			cap = n;
		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = r->ev->arena;
		r->ev->arena = c;
	}
	at = c->used;
	c->used += n;
	/* The header is 24 bytes, so offsets that are multiples of 8 stay
	 * aligned for the pointers and 64-bit values stored there. */
	return (char *)(c + 1) + at;
}

static char *
arena_dup(struct rd *r, const char *s, size_t len)
{
	char *p = arena_alloc(r, len + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static size_t
left(const struct rd *r)
{
	return (size_t)(r->end - r->p);
}

static uint64_t
be(const uint8_t *p, size_t n)
{
	uint64_t x = 0;
	size_t i;

	for (i = 0; i < n; i++)
		x = x << 8 | p[i];
	return x;
}

/* Read n big-endian bytes. */
static int
rd_uint(struct rd *r, size_t n, uint64_t *out)
{
	if (left(r) < n)
		return MM_ERR_PARSE;
	*out = be(r->p, n);
	r->p += n;
	return MM_OK;
}

/* Read a string header (any of the str forms) and return its body. */
static int
rd_str(struct rd *r, const char **s, size_t *len)
{
	uint64_t n;
	uint8_t c;

	if (left(r) < 1)
		return MM_ERR_PARSE;
	c = *r->p++;
	if (c >= 0xa0 && c <= 0xbf)
		n = c & 0x1f;
	else if (c >= 0xd9 && c <= 0xdb) {
		if (rd_uint(r, (size_t)1 << (c - 0xd9), &n) != MM_OK)
			return MM_ERR_PARSE;
	} else
		return MM_ERR_PARSE;
	if (n > left(r))
		return MM_ERR_PARSE;
	*s = (const char *)r->p;
	*len = (size_t)n;
	r->p += n;
	return MM_OK;
}

static int
key_ok(const char *k, size_t len)
{
	return len > 0 && len <= MAX_KEY && memchr(k, '\0', len) == NULL &&
	       memchr(k, '.', len) == NULL;
}

/*
 * One key of a map whose schema entries are table (NULL: a free-form map),
 * as the decoder and the one-pass check both take it: the root's first key
 * must be "v"; a schema key is valid by construction, a duplicate if its
 * entry was seen, and moves the hint on; any other key must be a valid
 * name (its duplicates are the caller's to find). Sets *cf (NULL for a
 * non-schema key) and *rank (RANK_OTHER then).
 */
static inline int
map_key(const struct field *table, int root_first, const char *k, size_t klen, unsigned *hint,
        uint64_t *seen, const struct field **cf, unsigned *rank)
{
	*cf = NULL;
	*rank = RANK_OTHER;
	if (root_first && !(klen == 1 && k[0] == 'v'))
		return MM_ERR_PARSE;
	if (table != NULL)
		*cf = field_at_or_find(table, *hint, k, klen, rank);
	if (*cf == NULL)
		return key_ok(k, klen) ? MM_OK : MM_ERR_PARSE;
	if (*seen & (1ull << *rank))
		return MM_ERR_PARSE;
	*seen |= 1ull << *rank;
	*hint = *rank + 1;
	return MM_OK;
}

static int
key_cmp(const void *a, const void *b)
{
	const struct member *x = *(const struct member *const *)a;
	const struct member *y = *(const struct member *const *)b;

	if (x->klen != y->klen)
		return x->klen < y->klen ? -1 : 1;
	return memcmp(x->key, y->key, x->klen);
}

/* Duplicate keys would make "which value counts" depend on the reader;
 * large maps are checked by sorting so that the cost stays n log n. */
static int
has_dup(const struct val *m)
{
	const struct member **idx;
	size_t i;
	int dup = 0;

	idx = malloc(m->u.m.n * sizeof(*idx));
	if (idx == NULL)
		return -1;
	for (i = 0; i < m->u.m.n; i++)
		idx[i] = &m->u.m.m[i];
	qsort(idx, m->u.m.n, sizeof(*idx), key_cmp);
	for (i = 1; i < m->u.m.n && !dup; i++)
		dup = key_cmp(&idx[i - 1], &idx[i]) == 0;
	free(idx);
	return dup;
}

static int rd_val(struct rd *r, struct val *out, int depth, const struct field *f);

static int
rd_map(struct rd *r, struct val *out, uint64_t n, int depth, const struct field *f)
{
	const struct field *table = f != NULL && f->type == F_MAP ? f->sub : NULL;
	uint64_t seen = 0, i;
	unsigned hint = 0;
	int rc;

	out->type = T_MAP;
	out->u.m.m = NULL;
	out->u.m.n = out->u.m.cap = 0;
	if (f != NULL && f->type != F_MAP && f->type != F_FREE)
		return MM_ERR_PARSE;
	if (depth > MM_EVENT_MAX_DEPTH || n > MM_EVENT_MAX_ITEMS || n * 2 > left(r))
		return MM_ERR_PARSE;
	if (n == 0)
		return MM_OK;
	out->u.m.m = arena_alloc(r, (size_t)n * sizeof(*out->u.m.m));
	if (out->u.m.m == NULL)
		return MM_ERR_NOMEM;
	out->u.m.cap = (size_t)n;
	out->borrowed = 1;
	for (i = 0; i < n; i++) {
		const struct field *cf;
		struct member *m;
		unsigned rank;
		const char *k, *key;
		size_t klen, j;

		if (rd_str(r, &k, &klen) != MM_OK || map_key(table, f == &root_f && i == 0, k, klen,
		                                             &hint, &seen, &cf, &rank) != MM_OK)
			return MM_ERR_PARSE;
		if (cf != NULL) {
			key = cf->name; /* the table's copy of the name */
		} else {
			/* Entries are kept sorted by rank, so the other keys
			 * are the tail: only those can be equal to this one. */
			if (n <= 32)
				for (j = out->u.m.n; j > 0 && out->u.m.m[j - 1].rank == RANK_OTHER;
				     j--)
					if (out->u.m.m[j - 1].klen == klen &&
					    memcmp(out->u.m.m[j - 1].key, k, klen) == 0)
						return MM_ERR_PARSE;
			key = arena_dup(r, k, klen);
			if (key == NULL)
				return MM_ERR_NOMEM;
		}
		if (out->u.m.n == 0 || out->u.m.m[out->u.m.n - 1].rank <= rank) {
			/* In schema order (the encoder's): append. */
			m = &out->u.m.m[out->u.m.n++];
			m->key = (char *)key;
			m->klen = klen;
			m->rank = rank;
			m->key_borrowed = 1;
			m->v.type = T_NIL;
			m->v.borrowed = 0;
		} else if ((rc = map_insert(&m, out, key, klen, rank, 1)) != MM_OK)
			return rc;
		rc = rd_val(r, &m->v, depth + 1, cf);
		if (rc != MM_OK)
			return rc;
	}
	if (f == &root_f)
		r->root_seen = (unsigned)seen;
	if (n > 32) {
		rc = has_dup(out);
		if (rc != 0)
			return rc < 0 ? MM_ERR_NOMEM : MM_ERR_PARSE;
	}
	return MM_OK;
}

static int
rd_array(struct rd *r, struct val *out, uint64_t n, int depth, const struct field *f)
{
	uint64_t i;
	int rc;

	out->type = T_ARRAY;
	out->u.a.v = NULL;
	out->u.a.n = out->u.a.cap = 0;
	if (f != NULL && f->type != F_STRS)
		return MM_ERR_PARSE;
	if (depth > MM_EVENT_MAX_DEPTH || n > MM_EVENT_MAX_ITEMS || n > left(r))
		return MM_ERR_PARSE;
	if (n == 0)
		return MM_OK;
	out->u.a.v = arena_alloc(r, (size_t)n * sizeof(*out->u.a.v));
	if (out->u.a.v == NULL)
		return MM_ERR_NOMEM;
	out->u.a.cap = (size_t)n;
	out->borrowed = 1;
	for (i = 0; i < n; i++) {
		struct val *e = &out->u.a.v[out->u.a.n++];

		e->type = T_NIL;
		rc = rd_val(r, e, depth + 1, NULL);
		if (rc != MM_OK)
			return rc;
		if (f != NULL && e->type != T_STR)
			return MM_ERR_PARSE;
	}
	return MM_OK;
}

/*
 * Read one value into out (left a valid, freeable value on every path) with
 * f the schema field it must match, NULL where anything goes. depth is the
 * nesting level a container read here would have, the root map being 1.
 */
static int
rd_val(struct rd *r, struct val *out, int depth, const struct field *f)
{
	uint64_t n;
	uint8_t c;

	out->type = T_NIL;
	out->borrowed = 0;
	if (++r->nodes > MAX_NODES || left(r) < 1)
		return MM_ERR_PARSE;
	c = *r->p;
	if (c <= 0x7f) {
		out->type = T_INT;
		out->u.i = c;
		r->p++;
	} else if (c >= 0xe0) {
		out->type = T_INT;
		out->u.i = (int8_t)c;
		r->p++;
	} else if (c <= 0x8f) {
		r->p++;
		return rd_map(r, out, c & 0x0f, depth, f);
	} else if (c <= 0x9f) {
		r->p++;
		return rd_array(r, out, c & 0x0f, depth, f);
	} else if (c <= 0xbf || (c >= 0xd9 && c <= 0xdb)) {
		const char *s;
		size_t len;

		if (rd_str(r, &s, &len) != MM_OK || memchr(s, '\0', len) != NULL)
			return MM_ERR_PARSE;
		out->u.s.p = arena_dup(r, s, len);
		if (out->u.s.p == NULL)
			return MM_ERR_NOMEM;
		out->u.s.len = len;
		out->borrowed = 1;
		out->type = T_STR;
	} else {
		r->p++;
		switch (c) {
		case 0xc0:
			break;
		case 0xc2:
		case 0xc3:
			out->type = T_BOOL;
			out->u.b = c == 0xc3;
			break;
		case 0xca: {
			uint32_t bits;
			float fl;

			if (rd_uint(r, 4, &n) != MM_OK)
				return MM_ERR_PARSE;
			bits = (uint32_t)n;
			memcpy(&fl, &bits, sizeof(fl));
			out->type = T_DOUBLE;
			out->u.d = fl;
			break;
		}
		case 0xcb:
			if (rd_uint(r, 8, &n) != MM_OK)
				return MM_ERR_PARSE;
			out->type = T_DOUBLE;
			memcpy(&out->u.d, &n, sizeof(out->u.d));
			break;
		case 0xcc:
		case 0xcd:
		case 0xce:
		case 0xcf:
			if (rd_uint(r, (size_t)1 << (c - 0xcc), &n) != MM_OK || n > INT64_MAX)
				return MM_ERR_PARSE;
			out->type = T_INT;
			out->u.i = (int64_t)n;
			break;
		case 0xd0:
		case 0xd1:
		case 0xd2:
		case 0xd3: {
			size_t w = (size_t)1 << (c - 0xd0);

			if (rd_uint(r, w, &n) != MM_OK)
				return MM_ERR_PARSE;
			/* Sign-extend from w bytes. */
			if (w < 8 && (n >> (8 * w - 1)) & 1)
				n |= ~0ull << (8 * w);
			out->type = T_INT;
			memcpy(&out->u.i, &n, sizeof(out->u.i));
			break;
		}
		case 0xdc:
		case 0xdd:
			if (rd_uint(r, c == 0xdc ? 2 : 4, &n) != MM_OK)
				return MM_ERR_PARSE;
			return rd_array(r, out, n, depth, f);
		case 0xde:
		case 0xdf:
			if (rd_uint(r, c == 0xde ? 2 : 4, &n) != MM_OK)
				return MM_ERR_PARSE;
			return rd_map(r, out, n, depth, f);
		default:
			/* bin, ext and the never-used 0xc1: not part of the schema. */
			return MM_ERR_PARSE;
		}
	}
	if (f != NULL && !leaf_ok(f, out))
		return MM_ERR_PARSE;
	return MM_OK;
}

int
mm_event_decode(struct mm_event **out, const void *data, size_t len)
{
	struct mm_event *ev = NULL;
	struct rd r;
	unsigned need;
	int rc;

	if (out == NULL)
		return MM_ERR_INVAL;
	*out = NULL;
	if (data == NULL && len > 0)
		return MM_ERR_INVAL;
	if (len > MM_EVENT_MAX_BYTES)
		return MM_ERR_TOOBIG;
	if (len == 0)
		return MM_ERR_PARSE;
	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return MM_ERR_NOMEM;
	r.p = data;
	r.end = r.p + len;
	r.nodes = 0;
	r.ev = ev;
	r.root_seen = 0;
	rc = rd_val(&r, &ev->root, 1, &root_f);
	if (rc != MM_OK)
		goto out;
	ev->nodes = r.nodes;
	ev->all_arena = 1;
	if (r.p != r.end) {
		rc = MM_ERR_PARSE;
		goto out;
	}
	/* The keys every event carries. Their types were checked on the way. */
	need = 1u << RANK_V | 1u << RANK_ID | 1u << RANK_KIND | 1u << RANK_TS;
	if (ev->root.type != T_MAP || (r.root_seen & need) != need) {
		rc = MM_ERR_PARSE;
		goto out;
	}
	*out = ev;
	ev = NULL;
out:
	mm_event_free(ev);
	return rc;
}

/* ---- text output ---- */

/* Appends that remember the first failure, so that renderers need not
 * check every call. The JSON renderer reserves room once per piece and then
 * writes bytes straight into the buffer: one mm_buf call per string, not one
 * per run of characters. */
struct out {
	struct mm_buf *b;
	int rc;
};

/* Room for n more bytes: where to write them, or NULL once a reservation
 * failed (the caller then writes nothing). */
static uint8_t *
room(struct out *o, size_t n)
{
	if (o->rc != MM_OK)
		return NULL;
	if (o->b->cap - o->b->len <= n) {
		o->rc = mm_buf_reserve(o->b, n);
		if (o->rc != MM_OK)
			return NULL;
	}
	return o->b->data + o->b->len;
}

static void
put_mem(struct out *o, const void *p, size_t n)
{
	uint8_t *d = room(o, n);

	if (d == NULL)
		return;
	memcpy(d, p, n);
	o->b->len += n;
}

static void
put_s(struct out *o, const char *s)
{
	put_mem(o, s, strlen(s));
}

static void
put_c(struct out *o, char c)
{
	uint8_t *d = room(o, 1);

	if (d == NULL)
		return;
	*d = (uint8_t)c;
	o->b->len++;
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it
 * is invalid; *bad then says how many bytes one U+FFFD replaces (the
 * maximal prefix of a sequence that could still have been valid, as
 * Unicode recommends).
 */
static size_t
utf8_len(const uint8_t *s, size_t n, size_t *bad)
{
	size_t need, i;
	uint8_t lo = 0x80, hi = 0xbf;

	*bad = 1;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	for (i = 1; i <= need; i++) {
		uint8_t l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xbf;

		if (i >= n || s[i] < l || s[i] > h) {
			*bad = i;
			return 0;
		}
	}
	return need + 1;
}

static const char fffd[] = "\xef\xbf\xbd";

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* 1 when none of the 8 bytes in w needs more than a copy in JSON: no
 * control character, quote, backslash or non-ASCII byte. With every byte
 * below 0x80, subtracting from a byte borrows into its top bit only when
 * the byte was below the subtrahend (or a lower byte already borrowed,
 * which needs such a byte too), so each test below is exact for "any". */
static int
plain8(uint64_t w)
{
	uint64_t q = w ^ (ONES * '"'), bs = w ^ (ONES * '\\');

	return ((w | (w - ONES * 0x20) | (q - ONES) | (bs - ONES)) & HIGHS) == 0;
}

/*
 * A JSON string. Every input byte becomes at most 6 output bytes (a control
 * character as \u00XX; a bad byte at most one 3-byte U+FFFD), so one
 * reservation covers the whole string and the loop writes without checks.
 * Printable ASCII, nearly everything an event holds, is copied as it is.
 * Returns 1 when the string held a NUL byte (which the one-pass check
 * rejects, having left the search for it to this loop), else 0.
 */
static int
put_json_str(struct out *o, const char *str, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = (const uint8_t *)str;
	uint8_t *d, *d0;
	size_t i = 0;
	int nul = 0;

	d0 = d = room(o, 6 * len + 2);
	if (d == NULL)
		return 0;
	*d++ = '"';
	while (i < len) {
		size_t n, bad;
		uint8_t c;

		if (len - i >= 8) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if (plain8(w)) {
				memcpy(d, &w, 8);
				d += 8;
				i += 8;
				continue;
			}
		}
		c = s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*d++ = c;
			i++;
			continue;
		}
		if (c < 0x80) {
			*d++ = '\\';
			switch (c) {
			case '"':
			case '\\':
				*d++ = c;
				break;
			case '\n':
				*d++ = 'n';
				break;
			case '\r':
				*d++ = 'r';
				break;
			case '\t':
				*d++ = 't';
				break;
			case '\b':
				*d++ = 'b';
				break;
			case '\f':
				*d++ = 'f';
				break;
			default:
				nul |= c == 0;
				memcpy(d, "u00", 3);
				d[3] = (uint8_t)hex[c >> 4];
				d[4] = (uint8_t)hex[c & 15];
				d += 5;
				break;
			}
			i++;
			continue;
		}
		/* Kana and most kanji (E1..EC, EE, EF lead bytes) and the two-byte
		 * forms are valid whatever their continuation bytes are, as long
		 * as those are continuation bytes. */
		if (c >= 0xe1 && c != 0xed && c <= 0xef && len - i >= 3 &&
		    (s[i + 1] & 0xc0) == 0x80 && (s[i + 2] & 0xc0) == 0x80) {
			memcpy(d, s + i, 3);
			d += 3;
			i += 3;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf && len - i >= 2 && (s[i + 1] & 0xc0) == 0x80) {
			d[0] = c;
			d[1] = s[i + 1];
			d += 2;
			i += 2;
			continue;
		}
		n = utf8_len(s + i, len - i, &bad);
		if (n == 0) {
			memcpy(d, fffd, 3);
			d += 3;
			i += bad;
		} else {
			memcpy(d, s + i, n);
			d += n;
			i += n;
		}
	}
	*d++ = '"';
	o->b->len += (size_t)(d - d0);
	return nul;
}

/* Decimal digits of v at d (room for 20 bytes); returns their count. */
static size_t
fmt_i64(uint8_t *d, int64_t v)
{
	char tmp[20];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0, k = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		d[k++] = '-';
	while (n > 0)
		d[k++] = (uint8_t)tmp[--n];
	return k;
}

static void
put_i64(struct out *o, int64_t v)
{
	uint8_t *d = room(o, 20);

	if (d != NULL)
		o->b->len += fmt_i64(d, v);
}

/* Shortest text that reads back as the same double. */
static void
fmt_double(char *out, size_t size, double d)
{
	int prec;
	char *p;

	if (!isfinite(d)) {
		snprintf(out, size, "null");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(out, size, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			break;
	}
	/* A locale with a decimal comma must not leak into JSON. */
	for (p = out; *p; p++)
		if (*p == ',')
			*p = '.';
	if (strpbrk(out, ".eEn") == NULL && strlen(out) + 3 <= size)
		strcat(out, ".0");
}

/* n as exactly w decimal digits at d. */
static void
digits(uint8_t *d, unsigned n, int w)
{
	while (w-- > 0) {
		d[w] = (uint8_t)('0' + n % 10);
		n /= 10;
	}
}

/*
 * A timestamp as a quoted RFC 3339 UTC string with microseconds. Events
 * come in bursts from the same seconds, so the date and time part of the
 * last two seconds seen (ts and first_ts of one event usually differ) is
 * kept per thread and only the fraction is written each time.
 */
static void
put_rfc3339(struct out *o, int64_t ns)
{
	static _Thread_local int64_t cached_sec[2] = {INT64_MIN, INT64_MIN};
	static _Thread_local uint8_t cached[2][19];
	static _Thread_local int next;
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	const uint8_t *text;
	uint8_t *d;
	int k;

	if (frac < 0) {
		frac += 1000000000;
		sec--;
	}
	if (sec == cached_sec[0] || sec == cached_sec[1])
		text = cached[sec == cached_sec[1]];
	else {
		time_t t = (time_t)sec;
		struct tm tm;
		uint8_t *c = cached[next];

		if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 ||
		    tm.tm_year + 1900 > 9999) {
			/* Not a representable date: the number itself, quoted. */
			d = room(o, 22);
			if (d == NULL)
				return;
			d[0] = '"';
			k = 1 + (int)fmt_i64(d + 1, ns);
			d[k++] = '"';
			o->b->len += (size_t)k;
			return;
		}
		digits(c, (unsigned)(tm.tm_year + 1900), 4);
		c[4] = '-';
		digits(c + 5, (unsigned)tm.tm_mon + 1, 2);
		c[7] = '-';
		digits(c + 8, (unsigned)tm.tm_mday, 2);
		c[10] = 'T';
		digits(c + 11, (unsigned)tm.tm_hour, 2);
		c[13] = ':';
		digits(c + 14, (unsigned)tm.tm_min, 2);
		c[16] = ':';
		digits(c + 17, (unsigned)tm.tm_sec, 2);
		cached_sec[next] = sec;
		next ^= 1;
		text = c;
	}
	d = room(o, 29);
	if (d == NULL)
		return;
	d[0] = '"';
	memcpy(d + 1, text, 19);
	d[20] = '.';
	digits(d + 21, (unsigned)(frac / 1000), 6);
	d[27] = 'Z';
	d[28] = '"';
	o->b->len += 29;
}

/* A key and its colon. Schema keys (a rank other than RANK_OTHER) are
 * plain lower-case ASCII and need no escaping: copied in one go. */
static void
put_json_key(struct out *o, const struct member *m)
{
	uint8_t *d;

	if (m->rank == RANK_OTHER) {
		put_json_str(o, m->key, m->klen);
		put_c(o, ':');
		return;
	}
	d = room(o, m->klen + 3);
	if (d == NULL)
		return;
	d[0] = '"';
	memcpy(d + 1, m->key, m->klen);
	d[m->klen + 1] = '"';
	d[m->klen + 2] = ':';
	o->b->len += m->klen + 3;
}

static void
put_json_val(struct out *o, const struct val *v)
{
	char tmp[64];
	size_t i;

	switch (v->type) {
	case T_NIL:
		put_mem(o, "null", 4);
		break;
	case T_BOOL:
		if (v->u.b)
			put_mem(o, "true", 4);
		else
			put_mem(o, "false", 5);
		break;
	case T_INT:
		put_i64(o, v->u.i);
		break;
	case T_DOUBLE:
		fmt_double(tmp, sizeof(tmp), v->u.d);
		put_s(o, tmp);
		break;
	case T_STR:
		put_json_str(o, v->u.s.p, v->u.s.len);
		break;
	case T_ARRAY:
		put_c(o, '[');
		for (i = 0; i < v->u.a.n; i++) {
			if (i)
				put_c(o, ',');
			put_json_val(o, &v->u.a.v[i]);
		}
		put_c(o, ']');
		break;
	case T_MAP:
		put_c(o, '{');
		for (i = 0; i < v->u.m.n; i++) {
			if (i)
				put_c(o, ',');
			put_json_key(o, &v->u.m.m[i]);
			put_json_val(o, &v->u.m.m[i].v);
		}
		put_c(o, '}');
		break;
	default:
		break;
	}
}

int
mm_event_to_json(const struct mm_event *ev, struct mm_buf *out)
{
	struct out o = {out, MM_OK};
	size_t i, start;

	if (ev == NULL || out == NULL)
		return MM_ERR_INVAL;
	start = out->len;
	put_mem(&o, "{\"v\":1", 6);
	for (i = 0; i < ev->root.u.m.n; i++) {
		const struct member *m = &ev->root.u.m.m[i];

		if (is_v(m))
			continue;
		put_c(&o, ',');
		put_json_key(&o, m);
		if ((m->rank == RANK_TS || m->rank == RANK_FIRST_TS) && m->v.type == T_INT)
			put_rfc3339(&o, m->v.u.i);
		else
			put_json_val(&o, &m->v);
	}
	put_c(&o, '}');
	if (o.rc != MM_OK)
		out->len = start;
	return o.rc;
}

/* ---- checking and rendering without building the event ---- */

/*
 * The aggregator checks every event it receives and renders each one as
 * JSON for the file sink. Building the tree for that costs more than both,
 * so this one pass over the msgpack bytes applies exactly the decoder's
 * checks and, when asked, writes exactly what mm_event_to_json() would
 * write for the decoded event. The tree keeps map entries in schema order
 * and the pass writes them in input order, so an input whose keys are not
 * in schema order (never one of our encoder's), or with a map too large for
 * the quick duplicate check, is handed to the decoder instead: RESCAN.
 */
#define RESCAN 1
#define SCAN_OTHER_KEYS 32

struct scan {
	const uint8_t *p, *end;
	size_t nodes;
	struct out *o; /* NULL: check only */
	unsigned root_seen;
	struct mm_event_view *view;
};

static int scan_val(struct scan *r, int depth, const struct field *f, unsigned rank);

/*
 * The sensor and plugin maps are the same in every event a worker sends,
 * and the aggregator checks and renders them tens of thousands of times a
 * second. Each thread remembers the last bytes of each that checked clean,
 * with their JSON and node count: bytes equal to those (msgpack is
 * self-delimiting, so equal bytes are the same value) are copied instead
 * of checked again. Anything else takes the normal path and replaces the
 * memory.
 */
#define MEMO_RAW 256
#define MEMO_JSON (6 * MEMO_RAW + 64)

struct memo {
	uint8_t raw[MEMO_RAW];
	char json[MEMO_JSON];
	size_t rawlen, jlen, nodes;
};

static _Thread_local struct memo memos[2];

/* The value at r->p for root rank RANK_SENSOR or RANK_PLUGIN, rendered. */
static int
scan_memo(struct scan *r, int depth, const struct field *f, unsigned rank)
{
	struct memo *m = &memos[rank - RANK_SENSOR];
	const uint8_t *p0 = r->p;
	size_t n0 = r->nodes, j0 = r->o->b->len;
	int rc;

	if (m->rawlen > 0 && (size_t)(r->end - r->p) >= m->rawlen &&
	    memcmp(r->p, m->raw, m->rawlen) == 0 && r->nodes + m->nodes <= MAX_NODES) {
		put_mem(r->o, m->json, m->jlen);
		r->p += m->rawlen;
		r->nodes += m->nodes;
		return MM_OK;
	}
	rc = scan_val(r, depth, f, rank);
	m->rawlen = 0;
	if (rc == MM_OK && r->o->rc == MM_OK && (size_t)(r->p - p0) <= MEMO_RAW &&
	    r->o->b->len - j0 <= MEMO_JSON) {
		memcpy(m->raw, p0, (size_t)(r->p - p0));
		memcpy(m->json, r->o->b->data + j0, r->o->b->len - j0);
		m->jlen = r->o->b->len - j0;
		m->nodes = r->nodes - n0;
		m->rawlen = (size_t)(r->p - p0);
	}
	return rc;
}

static int
scan_str(struct scan *r, const char **s, size_t *len)
{
	struct rd rd = {r->p, r->end, 0, NULL, 0};

	if (rd_str(&rd, s, len) != MM_OK)
		return MM_ERR_PARSE;
	r->p = rd.p;
	return MM_OK;
}

static int
scan_map(struct scan *r, uint64_t n, int depth, const struct field *f)
{
	const struct field *table = f != NULL && f->type == F_MAP ? f->sub : NULL;
	const char *other[SCAN_OTHER_KEYS];
	size_t other_len[SCAN_OTHER_KEYS], nother = 0, j;
	uint64_t seen = 0, i;
	unsigned hint = 0, last = 0;
	int root = f == &root_f, rc;

	if (f != NULL && f->type != F_MAP && f->type != F_FREE)
		return MM_ERR_PARSE;
	if (depth > MM_EVENT_MAX_DEPTH || n > MM_EVENT_MAX_ITEMS ||
	    n * 2 > (uint64_t)(r->end - r->p))
		return MM_ERR_PARSE;
	if (n > SCAN_OTHER_KEYS)
		return RESCAN;
	if (r->o != NULL)
		put_c(r->o, '{');
	for (i = 0; i < n; i++) {
		const struct field *cf;
		unsigned rank;
		const char *k;
		size_t klen;

		/* Keys are short: a fixstr is read here. */
		if (r->p < r->end && (*r->p & 0xe0) == 0xa0 &&
		    (size_t)(r->end - r->p) > (size_t)(*r->p & 0x1f)) {
			klen = *r->p & 0x1f;
			k = (const char *)r->p + 1;
			r->p += 1 + klen;
		} else if (scan_str(r, &k, &klen) != MM_OK)
			return MM_ERR_PARSE;
		if (map_key(table, root && i == 0, k, klen, &hint, &seen, &cf, &rank) != MM_OK)
			return MM_ERR_PARSE;
		if (cf == NULL) {
			for (j = 0; j < nother; j++)
				if (other_len[j] == klen && memcmp(other[j], k, klen) == 0)
					return MM_ERR_PARSE;
			other[nother] = k;
			other_len[nother++] = klen;
		}
		if (rank < last)
			return RESCAN;
		last = rank;
		if (r->o != NULL && !(root && i == 0)) {
			/* The root's "v" was written with its brace. */
			size_t comma = i > 0;

			if (cf != NULL) {
				uint8_t *d = room(r->o, comma + klen + 3);
				if (d != NULL) {
					d[0] = ',';
					d += comma;
					d[0] = '"';
					memcpy(d + 1, k, klen);
					d[klen + 1] = '"';
					d[klen + 2] = ':';
					r->o->b->len += comma + klen + 3;
				}
			} else {
				if (comma)
					put_c(r->o, ',');
				put_json_str(r->o, k, klen);
				put_c(r->o, ':');
			}
		} else if (r->o != NULL)
			put_mem(r->o, "\"v\":1", 5);
		if (root && r->o != NULL && (rank == RANK_SENSOR || rank == RANK_PLUGIN))
			rc = scan_memo(r, depth + 1, cf, rank);
		else
			rc = scan_val(r, depth + 1, cf, root ? rank : RANK_OTHER);
		if (rc != MM_OK)
			return rc;
	}
	if (root)
		r->root_seen = (unsigned)seen;
	if (r->o != NULL)
		put_c(r->o, '}');
	return MM_OK;
}

static int
scan_array(struct scan *r, uint64_t n, int depth, const struct field *f)
{
	uint64_t i;
	int rc;

	if (f != NULL && f->type != F_STRS)
		return MM_ERR_PARSE;
	if (depth > MM_EVENT_MAX_DEPTH || n > MM_EVENT_MAX_ITEMS || n > (uint64_t)(r->end - r->p))
		return MM_ERR_PARSE;
	if (r->o != NULL)
		put_c(r->o, '[');
	for (i = 0; i < n; i++) {
		if (r->o != NULL && i > 0)
			put_c(r->o, ',');
		if (f != NULL && r->p < r->end && !(*r->p >= 0xa0 && *r->p <= 0xbf) &&
		    !(*r->p >= 0xd9 && *r->p <= 0xdb))
			return MM_ERR_PARSE; /* F_STRS holds strings only */
		rc = scan_val(r, depth + 1, NULL, RANK_OTHER);
		if (rc != MM_OK)
			return rc;
	}
	if (r->o != NULL)
		put_c(r->o, ']');
	return MM_OK;
}

/* Whether the scalar at this place is written to the line: not when only
 * checking, nor the root's "v" (written with its brace). */
static inline int
renders(const struct scan *r, int depth, unsigned rank)
{
	return r->o != NULL && !(depth == 2 && rank == RANK_V);
}

/* One value, checked against f as rd_val() checks it, and rendered as
 * put_json_val() (or, for the root's ts and first_ts, put_rfc3339()) would
 * render what rd_val() reads. rank is the value's rank in the root map. */
static int
scan_val(struct scan *r, int depth, const struct field *f, unsigned rank)
{
	struct rd rd;
	struct val v;
	uint8_t c;
	int rc;

	if (++r->nodes > MAX_NODES || r->p >= r->end)
		return MM_ERR_PARSE;
	c = *r->p;
	if (c <= 0x7f) {
		/* The most common scalars, read here rather than by rd_val(). */
		v.type = T_INT;
		v.u.i = c;
		r->p++;
		goto got;
	}
	if ((c >= 0x80 && c <= 0x9f) || c == 0xdc || c == 0xdd || c == 0xde || c == 0xdf) {
		uint64_t n;

		r->p++;
		if (c <= 0x9f)
			n = c & 0x0f;
		else {
			size_t w = c == 0xdc || c == 0xde ? 2 : 4;
			if ((size_t)(r->end - r->p) < w)
				return MM_ERR_PARSE;
			n = be(r->p, w);
			r->p += w;
		}
		if (c <= 0x8f || c == 0xde || c == 0xdf)
			return scan_map(r, n, depth, f);
		return scan_array(r, n, depth, f);
	}
	if ((c >= 0xa0 && c <= 0xbf) || (c >= 0xd9 && c <= 0xdb)) {
		const char *s;
		size_t len;

		if (c <= 0xbf && (size_t)(r->end - r->p) > (size_t)(c & 0x1f)) {
			s = (const char *)r->p + 1;
			len = c & 0x1f;
			r->p += 1 + len;
		} else if (scan_str(r, &s, &len) != MM_OK)
			return MM_ERR_PARSE;
		/* A string that is rendered is searched for NUL bytes while
		 * it is copied. */
		if (!renders(r, depth, rank) && memchr(s, '\0', len) != NULL)
			return MM_ERR_PARSE;
		v.type = T_STR;
		v.u.s.p = (char *)s;
		v.u.s.len = len;
	} else {
		/* Scalars: the decoder's own reader, on a tree-less state
		 * (no arena is touched for anything but strings). */
		rd.p = r->p;
		rd.end = r->end;
		rd.nodes = 0;
		rd.ev = NULL;
		rd.root_seen = 0;
		if ((rc = rd_val(&rd, &v, depth, NULL)) != MM_OK)
			return rc;
		r->p = rd.p;
	}
got:
	if (r->view != NULL && depth == 2 && rank == RANK_ID && v.type == T_STR) {
		/* leaf_ok()'s check of the id, keeping its bytes. */
		if (!uuid_scan(r->view->idb, v.u.s.p, v.u.s.len))
			return MM_ERR_PARSE;
		memcpy(r->view->id, v.u.s.p, MM_EVENT_ID_LEN);
	} else if (f != NULL && f->check == 0 && (f->type == F_STR || f->type == F_INT)) {
		/* leaf_ok() for the plain fields, most of them. */
		if (v.type != (f->type == F_STR ? T_STR : T_INT))
			return MM_ERR_PARSE;
	} else if (f != NULL && !leaf_ok(f, &v))
		return MM_ERR_PARSE;
	if (r->view != NULL && depth == 2) {
		if (rank == RANK_KIND)
			r->view->kind = kind_parse(v.u.s.p, v.u.s.len);
		else if (rank == RANK_SEV)
			r->view->sev = (int)v.u.i;
	}
	if (!renders(r, depth, rank))
		return MM_OK;
	if ((rank == RANK_TS || rank == RANK_FIRST_TS) && depth == 2 && v.type == T_INT)
		put_rfc3339(r->o, v.u.i);
	else if (v.type == T_STR)
		return put_json_str(r->o, v.u.s.p, v.u.s.len) ? MM_ERR_PARSE : MM_OK;
	else
		put_json_val(r->o, &v);
	return MM_OK;
}

static void
view_from(struct mm_event_view *out, const struct mm_event *ev)
{
	memcpy(out->id, mm_event_id(ev), MM_EVENT_ID_LEN);
	out->id[MM_EVENT_ID_LEN] = '\0';
	uuid_scan(out->idb, out->id, MM_EVENT_ID_LEN); /* the decoder checked it */
	out->kind = mm_event_kind(ev);
	out->sev = mm_event_sev(ev);
}

int
mm_event_check(struct mm_event_view *out, const void *data, size_t len, struct mm_buf *json)
{
	struct out o = {json, MM_OK};
	struct mm_event *ev = NULL;
	struct scan r;
	size_t start = json != NULL ? json->len : 0;
	unsigned need = 1u << RANK_V | 1u << RANK_ID | 1u << RANK_KIND | 1u << RANK_TS;
	int rc;

	if (out == NULL || (data == NULL && len > 0))
		return MM_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	if (len > MM_EVENT_MAX_BYTES)
		return MM_ERR_TOOBIG;
	if (len == 0)
		return MM_ERR_PARSE;
	r.p = data;
	r.end = r.p + len;
	r.nodes = 0;
	r.o = json != NULL ? &o : NULL;
	r.root_seen = 0;
	r.view = out;
	rc = scan_val(&r, 1, &root_f, RANK_OTHER);
	if (rc == MM_OK && (r.p != r.end || (r.root_seen & need) != need))
		rc = MM_ERR_PARSE;
	if (rc == MM_OK && o.rc != MM_OK)
		rc = o.rc;
	if (rc == MM_OK)
		return MM_OK;
	if (json != NULL)
		json->len = start;
	memset(out, 0, sizeof(*out));
	if (rc != RESCAN)
		return rc;
	/* Valid or not, the decoder knows; its tree renders in schema order. */
	if ((rc = mm_event_decode(&ev, data, len)) != MM_OK)
		return rc;
	view_from(out, ev);
	if (json != NULL)
		rc = mm_event_to_json(ev, json);
	mm_event_free(ev);
	return rc;
}

/* Text for a terminal: control characters become '?' so that a mail
 * subject cannot move the cursor or change colours, bad UTF-8 U+FFFD. */
static void
put_plain(struct out *o, const char *str)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0, len = strlen(str);

	while (i < len) {
		size_t n, bad;

		if (s[i] < 0x20 || s[i] == 0x7f) {
			put_s(o, "?");
			i++;
			continue;
		}
		n = utf8_len(s + i, len - i, &bad);
		if (n == 0) {
			put_mem(o, fffd, 3);
			i += bad;
		} else if (n == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0) {
			/* C1 controls (U+0080..U+009F) act on terminals too. */
			put_s(o, "?");
			i += n;
		} else {
			put_mem(o, s + i, n);
			i += n;
		}
	}
}

static void
put_endpoint(struct out *o, const struct mm_event *ev, const char *side)
{
	static const char *const keys[] = {"ip", "host", "mac"};
	char path[16];
	const char *addr = NULL;
	int64_t port;
	size_t i;

	for (i = 0; i < 3 && addr == NULL; i++) {
		snprintf(path, sizeof(path), "%s.%s", side, keys[i]);
		addr = mm_event_get_str(ev, path);
	}
	snprintf(path, sizeof(path), "%s.port", side);
	if (mm_event_get_int(ev, path, &port) != MM_OK)
		port = -1;
	if (addr == NULL) {
		put_s(o, "-");
		return;
	}
	if (port >= 0 && strchr(addr, ':') != NULL) {
		put_s(o, "[");
		put_plain(o, addr);
		put_s(o, "]");
	} else
		put_plain(o, addr);
	if (port >= 0) {
		char p[16];

		snprintf(p, sizeof(p), ":%d", (int)port);
		put_s(o, p);
	}
}

int
mm_event_to_pretty(const struct mm_event *ev, struct mm_buf *out)
{
	static const char *const sev[] = {"-", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
	struct out o = {out, MM_OK};
	const char *kind, *cat, *msg = NULL, *lang;
	char when[32] = "-";
	int64_t ts;
	size_t start;
	int s;

	if (ev == NULL || out == NULL)
		return MM_ERR_INVAL;
	start = out->len;
	/* Local time: this line is read by people, the JSON by machines. */
	if (mm_event_get_int(ev, "ts", &ts) == MM_OK) {
		int64_t sec = ts / 1000000000 - (ts % 1000000000 < 0 ? 1 : 0);
		time_t t = (time_t)sec;
		struct tm tm;

		if (localtime_r(&t, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	}
	put_s(&o, when);
	s = mm_event_sev(ev);
	put_s(&o, " ");
	put_s(&o, sev[s >= 1 && s <= 5 ? s : 0]);
	put_s(&o, " ");
	kind = mm_event_get_str(ev, "kind");
	put_plain(&o, kind ? kind : "-");
	cat = mm_event_get_str(ev, "cat");
	if (cat != NULL) {
		put_s(&o, "/");
		put_plain(&o, cat);
	}
	if (lookup(ev, "src", NULL, NULL) != NULL || lookup(ev, "dst", NULL, NULL) != NULL) {
		put_s(&o, " ");
		put_endpoint(&o, ev, "src");
		put_s(&o, " -> ");
		put_endpoint(&o, ev, "dst");
	}
	lang = getenv("LANG");
	if (lang != NULL && strncmp(lang, "ja", 2) == 0)
		msg = mm_event_get_str(ev, "msg_ja");
	if (msg == NULL)
		msg = mm_event_get_str(ev, "msg");
	if (msg == NULL)
		msg = mm_event_get_str(ev, "msg_id");
	if (msg != NULL) {
		put_s(&o, " ");
		put_plain(&o, msg);
	}
	if (o.rc != MM_OK)
		out->len = start;
	return o.rc;
}
