/*
 * OLE2 compound file reader and VBA macro extraction ([MS-CFB], [MS-OVBA]).
 * Runs in the attach plugin's worker (and in the milter thread): it is
 * handed untrusted attachments, so every sector number, chain and size is
 * checked against the file, chains are walked at most once per sector and
 * the directory tree is walked with a visited map.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mimamori/error.h>

#include "attach_core.h"

#define ENDOFCHAIN 0xfffffffeu
#define FREESECT 0xffffffffu
#define MAX_ENTRIES 65536

struct ole_entry {
	char *path;
	uint8_t type; /* 1 storage, 2 stream, 5 root */
	uint32_t left, right, child;
	uint32_t start;
	uint64_t size;
	int parent;
};

struct mm_ole {
	const uint8_t *data;
	size_t len;
	unsigned shift;
	size_t ssize;
	size_t nsect;
	uint32_t *fat;
	size_t nfat;
	uint32_t *minifat;
	size_t nminifat;
	uint8_t *ministream;
	size_t ministream_len;
	uint32_t cutoff;
	struct ole_entry *ents;
	size_t nents;
};

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static const uint8_t *
sector(const struct mm_ole *ole, uint32_t n)
{
	size_t off;
	if (n >= ole->nsect)
		return NULL;
	off = ((size_t)n + 1) << ole->shift;
	if (off + ole->ssize > ole->len)
		return NULL;
	return ole->data + off;
}

/* Follows a FAT (or mini FAT) chain into a new buffer of want bytes. */
static int
read_chain(uint8_t **out, const struct mm_ole *ole, uint32_t start, size_t want, int mini)
{
	const uint32_t *fat = mini ? ole->minifat : ole->fat;
	size_t nfat = mini ? ole->nminifat : ole->nfat;
	size_t unit = mini ? 64 : ole->ssize;
	size_t got = 0, steps = 0;
	uint32_t s = start;
	uint8_t *buf;

	*out = NULL;
	buf = malloc(want ? want : 1);
	if (buf == NULL)
		return MM_ERR_NOMEM;
	while (got < want) {
		const uint8_t *src;
		size_t n = want - got < unit ? want - got : unit;
		if (s >= nfat || ++steps > nfat)
			break;
		if (mini) {
			size_t off = (size_t)s * 64;
			if (off + n > ole->ministream_len)
				break;
			src = ole->ministream + off;
		} else {
			src = sector(ole, s);
			if (src == NULL)
				break;
		}
		memcpy(buf + got, src, n);
		got += n;
		s = fat[s];
	}
	if (got < want) {
		/* A truncated stream is kept as far as it goes: a scanner should
		 * see what is there rather than nothing. */
		memset(buf + got, 0, want - got);
	}
	*out = buf;
	return MM_OK;
}

static char *
utf16_name(const uint8_t *p, unsigned bytes)
{
	char *s = malloc(3 * 32 + 1);
	size_t o = 0;
	if (s == NULL)
		return NULL;
	for (unsigned i = 0; i + 1 < bytes && i < 64; i += 2) {
		unsigned c = rd16(p + i);
		if (c == 0)
			break;
		if (c < 0x20)
			continue; /* "\x01CompObj", "\x05SummaryInformation" */
		if (c < 0x80) {
			s[o++] = (char)c;
		} else if (c < 0x800) {
			s[o++] = (char)(0xc0 | c >> 6);
			s[o++] = (char)(0x80 | (c & 0x3f));
		} else {
			s[o++] = (char)(0xe0 | c >> 12);
			s[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
			s[o++] = (char)(0x80 | (c & 0x3f));
		}
	}
	s[o] = 0;
	return s;
}

/* Assigns parents by walking the red-black trees from the root, each entry
 * visited at most once whatever the links say. */
static void
build_paths(struct mm_ole *ole)
{
	uint32_t *stack = malloc(ole->nents * sizeof(*stack));
	uint8_t *seen = calloc(ole->nents, 1);
	size_t top = 0;

	if (stack == NULL || seen == NULL || ole->nents == 0)
		goto out;
	seen[0] = 1;
	if (ole->ents[0].child < ole->nents && !seen[ole->ents[0].child]) {
		seen[ole->ents[0].child] = 1;
		ole->ents[ole->ents[0].child].parent = 0;
		stack[top++] = ole->ents[0].child;
	}
	while (top > 0) {
		uint32_t i = stack[--top];
		struct ole_entry *e = &ole->ents[i];
		uint32_t links[3] = {e->left, e->right, e->child};
		for (int k = 0; k < 3; k++) {
			uint32_t j = links[k];
			if (j >= ole->nents || seen[j] || top >= ole->nents)
				continue;
			seen[j] = 1;
			ole->ents[j].parent = k == 2 ? (int)i : e->parent;
			stack[top++] = j;
		}
	}
	/* Paths are built parents first; depth is bounded by the entry count
	 * because parents were assigned along a tree. */
	for (size_t i = 1; i < ole->nents; i++) {
		struct ole_entry *e = &ole->ents[i];
		char buf[1024];
		size_t depth = 0;
		int chain[32];
		int p = (int)i;
		if (!seen[i] || e->path == NULL)
			continue;
		while (p > 0 && depth < 32) {
			chain[depth++] = p;
			p = ole->ents[p].parent;
		}
		buf[0] = 0;
		for (size_t d = depth; d-- > 0;) {
			size_t l = strlen(buf);
			snprintf(buf + l, sizeof(buf) - l, "%s%s", l ? "/" : "",
			         ole->ents[chain[d]].path ? ole->ents[chain[d]].path : "");
		}
		e->type |= 0x80; /* reachable */
		free(e->path);
		e->path = strdup(buf);
	}
out:
	free(stack);
	free(seen);
}

int
mm_ole_open(struct mm_ole **out, const uint8_t *data, size_t len)
{
	static const uint8_t magic[8] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};
	struct mm_ole *ole = NULL;
	uint8_t *dir = NULL;
	uint32_t *difat = NULL;
	size_t ndifat = 0, dirlen;
	int rc = MM_ERR_PARSE;

	*out = NULL;
	if (len < 512 || memcmp(data, magic, 8) != 0)
		return MM_ERR_PARSE;
	ole = calloc(1, sizeof(*ole));
	if (ole == NULL)
		return MM_ERR_NOMEM;
	ole->data = data;
	ole->len = len;
	ole->shift = rd16(data + 0x1e);
	if (ole->shift != 9 && ole->shift != 12)
		goto out;
	ole->ssize = (size_t)1 << ole->shift;
	ole->nsect = len / ole->ssize; /* upper bound; sector() checks the end */
	ole->cutoff = rd32(data + 0x38);

	/* DIFAT: 109 entries in the header, then a chain of DIFAT sectors. */
	{
		uint32_t nfatsect = rd32(data + 0x2c);
		uint32_t ds = rd32(data + 0x44);
		size_t per = ole->ssize / 4 - 1, steps = 0;
		if (nfatsect > ole->nsect)
			goto out;
		difat = malloc(((size_t)nfatsect + 109) * sizeof(*difat));
		if (difat == NULL) {
			rc = MM_ERR_NOMEM;
			goto out;
		}
		for (int i = 0; i < 109 && ndifat < nfatsect; i++)
			difat[ndifat++] = rd32(data + 0x4c + 4 * i);
		while (ndifat < nfatsect && ds < ole->nsect && steps++ < ole->nsect) {
			const uint8_t *s = sector(ole, ds);
			if (s == NULL)
				break;
			for (size_t i = 0; i < per && ndifat < nfatsect; i++)
				difat[ndifat++] = rd32(s + 4 * i);
			ds = rd32(s + 4 * per);
		}
	}
	ole->fat = malloc((ndifat * (ole->ssize / 4) + 1) * sizeof(uint32_t));
	if (ole->fat == NULL) {
		rc = MM_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < ndifat; i++) {
		const uint8_t *s = sector(ole, difat[i]);
		if (s == NULL)
			continue;
		for (size_t k = 0; k < ole->ssize / 4; k++)
			ole->fat[ole->nfat++] = rd32(s + 4 * k);
	}
	if (ole->nfat == 0)
		goto out;

	/* Directory: its chain length is bounded by the FAT. */
	{
		uint32_t s = rd32(data + 0x30);
		size_t n = 0;
		while (s < ole->nfat && n < ole->nfat && n * ole->ssize / 128 < MAX_ENTRIES) {
			n++;
			s = ole->fat[s];
		}
		dirlen = n * ole->ssize;
		if (n == 0 || read_chain(&dir, ole, rd32(data + 0x30), dirlen, 0) != MM_OK)
			goto out;
	}
	ole->nents = dirlen / 128;
	ole->ents = calloc(ole->nents, sizeof(*ole->ents));
	if (ole->ents == NULL) {
		rc = MM_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < ole->nents; i++) {
		const uint8_t *e = dir + i * 128;
		struct ole_entry *en = &ole->ents[i];
		en->type = e[66];
		en->left = rd32(e + 68);
		en->right = rd32(e + 72);
		en->child = rd32(e + 76);
		en->start = rd32(e + 116);
		en->size = rd32(e + 120);
		if (ole->shift == 12)
			en->size |= (uint64_t)rd32(e + 124) << 32;
		en->parent = -1;
		if (en->type == 1 || en->type == 2 || en->type == 5)
			en->path = utf16_name(e, rd16(e + 64));
	}
	if (ole->ents[0].type != 5)
		goto out;

	/* Mini FAT and mini stream (held by the root entry). */
	{
		uint32_t nmini = rd32(data + 0x40);
		if (nmini > 0 && nmini <= ole->nsect) {
			uint8_t *mf = NULL;
			if (read_chain(&mf, ole, rd32(data + 0x3c), (size_t)nmini * ole->ssize,
			               0) == MM_OK) {
				ole->minifat = (uint32_t *)mf;
				ole->nminifat = (size_t)nmini * ole->ssize / 4;
				for (size_t i = 0; i < ole->nminifat; i++)
					ole->minifat[i] = rd32(mf + 4 * i);
			}
		}
		if (ole->ents[0].size > 0 && ole->ents[0].size <= len) {
			ole->ministream_len = (size_t)ole->ents[0].size;
			if (read_chain(&ole->ministream, ole, ole->ents[0].start,
			               ole->ministream_len, 0) != MM_OK)
				ole->ministream_len = 0;
		}
	}
	build_paths(ole);
	rc = MM_OK;
out:
	free(difat);
	free(dir);
	if (rc == MM_OK)
		*out = ole;
	else
		mm_ole_free(ole);
	return rc;
}

void
mm_ole_free(struct mm_ole *ole)
{
	if (ole == NULL)
		return;
	for (size_t i = 0; i < ole->nents; i++)
		free(ole->ents[i].path);
	free(ole->ents);
	free(ole->fat);
	free(ole->minifat);
	free(ole->ministream);
	free(ole);
}

size_t
mm_ole_count(const struct mm_ole *ole)
{
	return ole->nents;
}

const char *
mm_ole_path(const struct mm_ole *ole, size_t i)
{
	if (i >= ole->nents || !(ole->ents[i].type & 0x80))
		return NULL;
	return ole->ents[i].path;
}

int
mm_ole_is_stream(const struct mm_ole *ole, size_t i)
{
	return i < ole->nents && (ole->ents[i].type & 0x7f) == 2 && (ole->ents[i].type & 0x80);
}

int
mm_ole_read(uint8_t **out, size_t *out_len, const struct mm_ole *ole, size_t i, size_t max)
{
	const struct ole_entry *e;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (!mm_ole_is_stream(ole, i))
		return MM_ERR_INVAL;
	e = &ole->ents[i];
	/* A stream cannot be larger than the file that holds it. */
	if (e->size > max)
		return MM_ERR_TOOBIG;
	if (e->size > ole->len)
		return MM_ERR_PARSE;
	rc = read_chain(out, ole, e->start, (size_t)e->size, e->size < ole->cutoff);
	if (rc == MM_OK)
		*out_len = (size_t)e->size;
	return rc;
}

int
mm_ovba_decompress(uint8_t **out, size_t *out_len, const uint8_t *in, size_t len, size_t max)
{
	size_t cap = 4096, o = 0, p = 1;
	uint8_t *buf;

	*out = NULL;
	*out_len = 0;
	if (len < 1 || in[0] != 0x01)
		return MM_ERR_PARSE;
	buf = malloc(cap);
	if (buf == NULL)
		return MM_ERR_NOMEM;
	while (p + 2 <= len) {
		uint16_t hdr = rd16(in + p);
		size_t csize = (size_t)(hdr & 0x0fff) + 3;
		size_t end = p + csize < len ? p + csize : len;
		size_t dstart = o;
		p += 2;
		if (o + 4096 > max)
			break;
		if (o + 4096 > cap) {
			uint8_t *nb;
			cap = cap * 2 > o + 4096 ? cap * 2 : o + 4096;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				return MM_ERR_NOMEM;
			}
			buf = nb;
		}
		if (!(hdr & 0x8000)) {
			/* Raw chunk: 4096 bytes copied as they are. */
			size_t n = end - p < 4096 ? end - p : 4096;
			memcpy(buf + o, in + p, n);
			o += n;
			p = end;
			continue;
		}
		while (p < end && o - dstart < 4096) {
			uint8_t flags = in[p++];
			for (int bit = 0; bit < 8 && p < end && o - dstart < 4096; bit++) {
				if (!(flags & (1u << bit))) {
					buf[o++] = in[p++];
					continue;
				}
				if (p + 2 > end) {
					p = end;
					break;
				}
				{
					uint16_t tok = rd16(in + p);
					size_t d = o - dstart, off, n;
					unsigned bc = 4;
					p += 2;
					while (bc < 12 && ((size_t)1 << bc) < d)
						bc++;
					n = (size_t)(tok & (0xffffu >> bc)) + 3;
					off = (size_t)(tok >> (16 - bc)) + 1;
					if (off > d)
						goto bad;
					for (size_t k = 0; k < n && o - dstart < 4096; k++, o++)
						buf[o] = buf[o - off];
				}
			}
		}
		p = end;
	}
	*out = buf;
	*out_len = o;
	return MM_OK;
bad:
	/* A copy token pointing before the chunk: keep what decoded so far. */
	*out = buf;
	*out_len = o;
	return o > 0 ? MM_OK : MM_ERR_PARSE;
}

struct vba_module {
	char name[128];
	char stream[128];
	uint32_t offset;
};

static int
find_entry(const struct mm_ole *ole, const char *path)
{
	for (size_t i = 0; i < ole->nents; i++) {
		const char *p = mm_ole_path(ole, i);
		if (p != NULL && strcasecmp(p, path) == 0)
			return (int)i;
	}
	return -1;
}

/* Parses the decompressed dir stream (MS-OVBA 2.3.4.2) into modules. */
static size_t
parse_dir(struct vba_module *mods, size_t max, const uint8_t *d, size_t len)
{
	size_t p = 0, n = 0;
	struct vba_module cur;

	memset(&cur, 0, sizeof(cur));
	while (p + 6 <= len && n < max) {
		uint16_t id = rd16(d + p);
		size_t sz = rd32(d + p + 2);
		if (id == 0x0009)
			sz = 6; /* PROJECTVERSION: its Size field is a constant 4 */
		p += 6;
		if (sz > len - p)
			break;
		switch (id) {
		case 0x0019: /* MODULENAME */
			memset(&cur, 0, sizeof(cur));
			memcpy(cur.name, d + p,
			       sz < sizeof(cur.name) - 1 ? sz : sizeof(cur.name) - 1);
			break;
		case 0x001a: /* MODULESTREAMNAME */
			memcpy(cur.stream, d + p,
			       sz < sizeof(cur.stream) - 1 ? sz : sizeof(cur.stream) - 1);
			break;
		case 0x0031: /* MODULEOFFSET */
			if (sz >= 4)
				cur.offset = rd32(d + p);
			break;
		case 0x002b: /* module terminator */
			if (cur.stream[0] != 0)
				mods[n++] = cur;
			memset(&cur, 0, sizeof(cur));
			break;
		default:
			break;
		}
		p += sz;
	}
	return n;
}

int
mm_vba_extract(const struct mm_ole *ole, size_t max, mm_vba_module_cb cb, void *user)
{
	struct vba_module mods[256];
	int found = 0;

	for (size_t i = 0; i < ole->nents; i++) {
		const char *p = mm_ole_path(ole, i);
		const char *base;
		char prefix[1024];
		uint8_t *raw = NULL, *dir = NULL;
		size_t rawlen, dirlen, nmods;

		if (p == NULL || !mm_ole_is_stream(ole, i))
			continue;
		base = strrchr(p, '/');
		base = base ? base + 1 : p;
		if (strcasecmp(base, "dir") != 0)
			continue;
		/* A VBA project is a "VBA" storage holding "dir"; Excel puts it
		 * under _VBA_PROJECT_CUR, Word under Macros, vbaProject.bin at
		 * the root. */
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(base - p), p);
		if (strlen(prefix) < 4 || strcasecmp(prefix + strlen(prefix) - 4, "VBA/") != 0)
			continue;
		if (mm_ole_read(&raw, &rawlen, ole, i, max) != MM_OK)
			continue;
		if (mm_ovba_decompress(&dir, &dirlen, raw, rawlen, 1u << 20) != MM_OK) {
			free(raw);
			continue;
		}
		nmods = parse_dir(mods, 256, dir, dirlen);
		for (size_t m = 0; m < nmods; m++) {
			char sp[1200];
			uint8_t *ms = NULL, *src = NULL;
			size_t mslen, srclen;
			int e;
			snprintf(sp, sizeof(sp), "%s%s", prefix, mods[m].stream);
			e = find_entry(ole, sp);
			if (e < 0 || mm_ole_read(&ms, &mslen, ole, (size_t)e, max) != MM_OK)
				continue;
			if (mods[m].offset < mslen &&
			    mm_ovba_decompress(&src, &srclen, ms + mods[m].offset,
			                       mslen - mods[m].offset, max) == MM_OK) {
				int rc = cb(user, mods[m].name[0] ? mods[m].name : mods[m].stream,
				            src, srclen);
				found++;
				free(src);
				if (rc != MM_OK) {
					free(ms);
					free(raw);
					free(dir);
					return rc;
				}
			}
			free(ms);
		}
		free(raw);
		free(dir);
	}
	return found;
}
