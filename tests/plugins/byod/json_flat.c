/*
 * Test helper (see json_flat.h): a small recursive JSON reader that keeps
 * every scalar under its dotted path. Bounded by JF_MAX pairs and by the
 * field sizes; anything longer is truncated, never overrun.
 */
#include "json_flat.h"

#include <stdio.h>
#include <string.h>

struct rd {
	const char *p;
	struct jflat *out;
	int depth;
};

static void
ws(struct rd *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

static void
put_utf8(char *buf, size_t sz, size_t *o, unsigned cp)
{
	char tmp[4];
	size_t k = 0;

	if (cp < 0x80) {
		tmp[k++] = (char)cp;
	} else if (cp < 0x800) {
		tmp[k++] = (char)(0xc0 | cp >> 6);
		tmp[k++] = (char)(0x80 | (cp & 0x3f));
	} else {
		tmp[k++] = (char)(0xe0 | cp >> 12);
		tmp[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		tmp[k++] = (char)(0x80 | (cp & 0x3f));
	}
	for (size_t i = 0; i < k && *o + 1 < sz; i++)
		buf[(*o)++] = tmp[i];
}

static int
str(struct rd *r, char *buf, size_t sz)
{
	size_t o = 0;

	if (*r->p != '"')
		return -1;
	r->p++;
	while (*r->p && *r->p != '"') {
		char c = *r->p++;
		if (c == '\\') {
			char e = *r->p++;
			unsigned cp = 0;
			switch (e) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'u':
				if (sscanf(r->p, "%4x", &cp) != 1)
					return -1;
				r->p += 4;
				put_utf8(buf, sz, &o, cp);
				continue;
			case '\0':
				return -1;
			default:
				c = e;
			}
		}
		if (o + 1 < sz)
			buf[o++] = c;
	}
	if (*r->p != '"')
		return -1;
	r->p++;
	buf[o] = '\0';
	return 0;
}

static int value(struct rd *r, const char *path);

static void
add(struct rd *r, const char *path, const char *v, size_t len)
{
	struct jf_pair *pr;

	if (r->out->n >= JF_MAX)
		return;
	pr = &r->out->v[r->out->n++];
	snprintf(pr->path, sizeof(pr->path), "%s", path);
	if (len >= sizeof(pr->value))
		len = sizeof(pr->value) - 1;
	memcpy(pr->value, v, len);
	pr->value[len] = '\0';
}

static int
container(struct rd *r, const char *path, char close)
{
	char key[96], sub[200];
	int idx = 0;

	if (++r->depth > 16)
		return -1;
	r->p++;
	ws(r);
	if (*r->p == close) {
		r->p++;
		r->depth--;
		return 0;
	}
	for (;;) {
		ws(r);
		if (close == '}') {
			if (str(r, key, sizeof(key)) != 0)
				return -1;
			ws(r);
			if (*r->p++ != ':')
				return -1;
		} else {
			snprintf(key, sizeof(key), "%d", idx++);
		}
		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", key);
		if (value(r, sub) != 0)
			return -1;
		ws(r);
		if (*r->p == ',') {
			r->p++;
			continue;
		}
		if (*r->p != close)
			return -1;
		r->p++;
		r->depth--;
		return 0;
	}
}

static int
value(struct rd *r, const char *path)
{
	char buf[1024];
	const char *s;

	ws(r);
	if (*r->p == '{')
		return container(r, path, '}');
	if (*r->p == '[')
		return container(r, path, ']');
	if (*r->p == '"') {
		if (str(r, buf, sizeof(buf)) != 0)
			return -1;
		add(r, path, buf, strlen(buf));
		return 0;
	}
	s = r->p;
	while (*r->p && strchr(",}] \t\r\n", *r->p) == NULL)
		r->p++;
	if (r->p == s)
		return -1;
	add(r, path, s, (size_t)(r->p - s));
	return 0;
}

int
jf_parse(struct jflat *out, const char *text)
{
	struct rd r = {text, out, 0};

	out->n = 0;
	ws(&r);
	if (*r.p != '{')
		return -1;
	return value(&r, "");
}

const char *
jf_get(const struct jflat *j, const char *path)
{
	for (size_t i = 0; i < j->n; i++)
		if (strcmp(j->v[i].path, path) == 0)
			return j->v[i].value;
	return NULL;
}
