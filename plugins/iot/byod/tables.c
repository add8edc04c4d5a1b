/*
 * Lookup tables of the byod detector: the IEEE OUI list (vendor of a MAC
 * prefix, in Debian ieee-data's oui.txt format) and the DHCP fingerprint
 * table that maps parameter request lists, vendor classes, host names and
 * user agents to a device class. Runs in the byod worker process at init
 * and reload; lookups run on the packet path. Both tables are bounded by
 * the caller's max_entries and tolerate malformed lines (skipped, counted).
 */
#include "byod.h"

#include <mimamori/error.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct oui_entry {
	uint32_t prefix;
	char *vendor;
};

struct byod_oui {
	struct oui_entry *v;
	size_t n;
};

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
cmp_oui(const void *a, const void *b)
{
	const struct oui_entry *x = a, *y = b;
	return x->prefix < y->prefix ? -1 : x->prefix > y->prefix;
}

static void
rstrip(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

int
byod_oui_load(struct byod_oui **out, const char *path, size_t max_entries)
{
	struct byod_oui *t = NULL;
	char line[512];
	FILE *f = NULL;
	size_t cap = 0, i, j;
	int rc = MM_OK;

	*out = NULL;
	f = fopen(path, "r");
	if (f == NULL)
		return MM_ERR_NOTFOUND;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		rc = MM_ERR_NOMEM;
		goto out;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		/* "XX-XX-XX   (hex)\t\tVendor": the other lines (base 16,
		 * addresses) are skipped. */
		char *p = strstr(line, "(hex)");
		uint32_t prefix = 0;
		int k, ok = 1;

		if (p == NULL || p - line < 8)
			continue;
		for (k = 0; k < 8; k++) {
			int h;
			if (k == 2 || k == 5) {
				ok &= line[k] == '-' || line[k] == ':';
				continue;
			}
			h = hexval((unsigned char)line[k]);
			if (h < 0) {
				ok = 0;
				break;
			}
			prefix = prefix << 4 | (uint32_t)h;
		}
		if (!ok)
			continue;
		p += 5;
		while (*p == ' ' || *p == '\t')
			p++;
		rstrip(p);
		if (*p == '\0')
			continue;
		if (t->n >= max_entries)
			break;
		if (t->n == cap) {
			size_t nc = cap ? cap * 2 : 1024;
			struct oui_entry *nv = realloc(t->v, nc * sizeof(*nv));
			if (nv == NULL) {
				rc = MM_ERR_NOMEM;
				goto out;
			}
			t->v = nv;
			cap = nc;
		}
		t->v[t->n].prefix = prefix;
		t->v[t->n].vendor = strndup(p, BYOD_STR - 1);
		if (t->v[t->n].vendor == NULL) {
			rc = MM_ERR_NOMEM;
			goto out;
		}
		t->n++;
	}
	qsort(t->v, t->n, sizeof(*t->v), cmp_oui);
	/* Drop duplicate prefixes so bsearch finds a stable answer. */
	for (i = j = 0; i < t->n; i++) {
		if (j > 0 && t->v[j - 1].prefix == t->v[i].prefix) {
			free(t->v[i].vendor);
			continue;
		}
		t->v[j++] = t->v[i];
	}
	t->n = j;
out:
	if (f != NULL)
		fclose(f);
	if (rc != MM_OK) {
		byod_oui_free(t);
		return rc;
	}
	*out = t;
	return MM_OK;
}

const char *
byod_oui_lookup(const struct byod_oui *t, const uint8_t *mac)
{
	struct oui_entry key, *e;

	if (t == NULL || mac == NULL || t->n == 0)
		return NULL;
	key.prefix = (uint32_t)mac[0] << 16 | (uint32_t)mac[1] << 8 | mac[2];
	e = bsearch(&key, t->v, t->n, sizeof(*t->v), cmp_oui);
	return e ? e->vendor : NULL;
}

size_t
byod_oui_count(const struct byod_oui *t)
{
	return t ? t->n : 0;
}

void
byod_oui_free(struct byod_oui *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		free(t->v[i].vendor);
	free(t->v);
	free(t);
}

/* The fingerprint table. Rules are tried in this order of kinds (most
 * specific first); within a kind, in file order. */
enum fp_kind { FP_PRL = 0, FP_PRL_PREFIX, FP_VENDOR, FP_HOSTNAME, FP_UA, FP_OUI, FP__N };

static const char *const fp_kind_names[FP__N] = {"prl",      "prl-prefix", "vendor",
                                                 "hostname", "ua",         "oui"};
static const char *const fp_how[FP__N] = {"dhcp-fingerprint",  "dhcp-fingerprint",
                                          "dhcp-vendor-class", "hostname",
                                          "http-user-agent",   "mac-vendor"};

struct fp_rule {
	int kind;
	char *match;
	char *dev_class;
	char *os;
};

struct byod_fptab {
	struct fp_rule *v;
	size_t n, cap;
};

static int
fp_add(struct byod_fptab *t, int kind, const char *match, const char *cls, const char *os)
{
	struct fp_rule *r;

	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 64;
		struct fp_rule *nv = realloc(t->v, nc * sizeof(*nv));
		if (nv == NULL)
			return MM_ERR_NOMEM;
		t->v = nv;
		t->cap = nc;
	}
	r = &t->v[t->n];
	r->kind = kind;
	r->match = strdup(match);
	r->dev_class = strndup(cls, 23);
	r->os = strndup(os, BYOD_STR - 1);
	if (r->match == NULL || r->dev_class == NULL || r->os == NULL) {
		free(r->match);
		free(r->dev_class);
		free(r->os);
		return MM_ERR_NOMEM;
	}
	t->n++;
	return MM_OK;
}

static int
fp_table(struct byod_fptab **out)
{
	if (*out == NULL) {
		*out = calloc(1, sizeof(**out));
		if (*out == NULL)
			return MM_ERR_NOMEM;
	}
	return MM_OK;
}

int
byod_fp_load(struct byod_fptab **out, const char *path, size_t max_entries)
{
	char line[1024];
	FILE *f;
	int rc;

	if ((rc = fp_table(out)) != MM_OK)
		return rc;
	f = fopen(path, "r");
	if (f == NULL)
		return MM_ERR_NOTFOUND;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *fields[4] = {NULL, NULL, NULL, NULL};
		char *save = NULL, *p;
		int n = 0, kind;

		rstrip(line);
		if (line[0] == '#' || line[0] == '\0')
			continue;
		for (p = strtok_r(line, "\t", &save); p != NULL && n < 4;
		     p = strtok_r(NULL, "\t", &save))
			fields[n++] = p;
		if (n < 3)
			continue;
		for (kind = 0; kind < FP__N; kind++)
			if (strcmp(fields[0], fp_kind_names[kind]) == 0)
				break;
		if (kind == FP__N)
			continue;
		if ((*out)->n >= max_entries)
			break;
		rc = fp_add(*out, kind, fields[1], fields[2], n > 3 ? fields[3] : "");
		if (rc != MM_OK)
			break;
	}
	fclose(f);
	return rc;
}

static const char *
prads_class(const char *os, const char *details)
{
	if (strcasestr(details, "iphone") || strcasestr(details, "ipod"))
		return "phone";
	if (strcasestr(details, "ipad"))
		return "tablet";
	if (strcasestr(details, "android") || strcasestr(os, "android"))
		return "phone";
	if (strcasestr(os, "microsoft") || strcasestr(os, "windows"))
		return "windows";
	if (strcasestr(os, "mac"))
		return "macos";
	if (strcasestr(os, "linux"))
		return "linux";
	if (strcasestr(os, "printer"))
		return "printer";
	return "other";
}

int
byod_fp_load_prads(struct byod_fptab **out, const char *path, size_t max_entries)
{
	char line[1024];
	FILE *f;
	int rc;

	/* prads lines: TYPE:TTL:ALL-OPTIONS:55-OPTIONS:60-OPTIONS:OS:DETAILS.
	 * Only the option-55 list, OS and details are used. */
	if ((rc = fp_table(out)) != MM_OK)
		return rc;
	f = fopen(path, "r");
	if (f == NULL)
		return MM_ERR_NOTFOUND;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *fields[7];
		char *p = line;
		char os[BYOD_STR];
		int n;

		rstrip(line);
		if (line[0] == '#' || line[0] == '\0')
			continue;
		for (n = 0; n < 7 && p != NULL; n++) {
			fields[n] = p;
			p = n < 6 ? strchr(p, ':') : NULL;
			if (p != NULL)
				*p++ = '\0';
		}
		if (n < 7 || fields[3][0] == '\0' || fields[3][0] == '.')
			continue;
		if ((*out)->n >= max_entries)
			break;
		snprintf(os, sizeof(os), "%s", fields[6]);
		rc = fp_add(*out, FP_PRL, fields[3], prads_class(fields[5], fields[6]), os);
		if (rc != MM_OK)
			break;
	}
	fclose(f);
	return rc;
}

size_t
byod_fp_count(const struct byod_fptab *t)
{
	return t ? t->n : 0;
}

void
byod_fp_free(struct byod_fptab *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		free(t->v[i].match);
		free(t->v[i].dev_class);
		free(t->v[i].os);
	}
	free(t->v);
	free(t);
}

static int
rule_matches(const struct fp_rule *r, const struct byod_dev *d)
{
	size_t ml = strlen(r->match);

	switch (r->kind) {
	case FP_PRL:
		return d->dhcp_fp[0] && strcmp(d->dhcp_fp, r->match) == 0;
	case FP_PRL_PREFIX:
		/* A prefix must end at a code boundary: "1,3,6" is not a
		 * prefix of "1,3,66". */
		return d->dhcp_fp[0] && strncmp(d->dhcp_fp, r->match, ml) == 0 &&
		       (d->dhcp_fp[ml] == '\0' || d->dhcp_fp[ml] == ',');
	case FP_VENDOR:
		return d->vendor_class[0] && strncasecmp(d->vendor_class, r->match, ml) == 0;
	case FP_HOSTNAME:
		return d->hostname[0] && strncasecmp(d->hostname, r->match, ml) == 0;
	case FP_UA:
		return d->user_agent[0] && strcasestr(d->user_agent, r->match) != NULL;
	case FP_OUI:
		return d->vendor[0] && strcasestr(d->vendor, r->match) != NULL;
	default:
		return 0;
	}
}

int
byod_fp_classify(const struct byod_fptab *t, struct byod_dev *d)
{
	int kind;
	size_t i;

	if (t == NULL)
		return 0;
	for (kind = 0; kind < FP__N; kind++) {
		for (i = 0; i < t->n; i++) {
			const struct fp_rule *r = &t->v[i];
			if (r->kind != kind || !rule_matches(r, d))
				continue;
			snprintf(d->dev_class, sizeof(d->dev_class), "%s", r->dev_class);
			snprintf(d->os, sizeof(d->os), "%s", r->os);
			snprintf(d->class_how, sizeof(d->class_how), "%s", fp_how[kind]);
			return 1;
		}
	}
	return 0;
}
