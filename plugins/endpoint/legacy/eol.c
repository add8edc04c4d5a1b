/*
 * The end-of-life table: a dated, tab-separated data file (product,
 * version, end-of-life date, source) that the user can update without a new
 * build. The PC checks look the running OS up in it and the passive side
 * turns fingerprint labels into "past end of life" through it. Runs in the
 * legacy module's worker process.
 */
#include "legacy.h"

#include <mimamori/error.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EOL_FILE_MAX (1u << 20)

static int
version_matches(const char *entry, const char *version)
{
	size_t n = strlen(entry);

	if (strncasecmp(entry, version, n) != 0)
		return 0;
	/* "8" covers "8.10" but not "80". */
	return version[n] == '\0' || version[n] == '.';
}

int
legacy_eol_parse(struct legacy_eol **out, const char *text, size_t len)
{
	struct legacy_eol *t = NULL;
	char line[512];
	char *f[5];
	size_t pos = 0, cap = 0;
	int rc = MM_OK;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return MM_ERR_NOMEM;
	while (legacy_next_line(line, sizeof(line), text, len, &pos)) {
		struct legacy_eol_entry *e;
		char *s = legacy_trim(line);
		int64_t day;
		int nf;

		if (s[0] == '#') {
			/* The file's own date: "# updated: 2026-11-01". */
			char *u = strstr(s, "updated:");
			if (u != NULL) {
				u = legacy_trim(u + 8);
				if (legacy_parse_date(&day, u) == MM_OK)
					legacy_strlcpy(t->updated, u, sizeof(t->updated));
			}
			continue;
		}
		if (s[0] == '\0')
			continue;
		nf = legacy_split_tabs(f, 5, s);
		if (nf < 3 || f[0][0] == '\0' || f[1][0] == '\0' ||
		    legacy_parse_date(&day, legacy_trim(f[2])) != MM_OK ||
		    strlen(f[0]) >= sizeof(e->product) || strlen(f[1]) >= sizeof(e->version)) {
			t->bad_lines++;
			continue;
		}
		if (t->n >= LEGACY_EOL_MAX) {
			rc = MM_ERR_FULL;
			goto out;
		}
		if (t->n == cap) {
			size_t ncap = cap == 0 ? 64 : cap * 2;
			struct legacy_eol_entry *nv = realloc(t->v, ncap * sizeof(*nv));
			if (nv == NULL) {
				rc = MM_ERR_NOMEM;
				goto out;
			}
			t->v = nv;
			cap = ncap;
		}
		e = &t->v[t->n++];
		memset(e, 0, sizeof(*e));
		legacy_strlcpy(e->product, legacy_trim(f[0]), sizeof(e->product));
		legacy_strlcpy(e->version, legacy_trim(f[1]), sizeof(e->version));
		e->eol_day = day;
		if (nf >= 4)
			legacy_strlcpy(e->source, legacy_trim(f[3]), sizeof(e->source));
	}
out:
	if (rc != MM_OK) {
		legacy_eol_free(t);
		return rc;
	}
	*out = t;
	return MM_OK;
}

int
legacy_eol_load(struct legacy_eol **out, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = legacy_read_file(&text, &len, path, EOL_FILE_MAX);
	if (rc != MM_OK)
		return rc;
	rc = legacy_eol_parse(out, text, len);
	free(text);
	return rc;
}

void
legacy_eol_free(struct legacy_eol *t)
{
	if (t == NULL)
		return;
	free(t->v);
	free(t);
}

const struct legacy_eol_entry *
legacy_eol_find(const struct legacy_eol *t, const char *product, const char *version)
{
	const struct legacy_eol_entry *best = NULL;
	size_t i, bestlen = 0;

	if (t == NULL || product == NULL || version == NULL)
		return NULL;
	for (i = 0; i < t->n; i++) {
		const struct legacy_eol_entry *e = &t->v[i];
		size_t l = strlen(e->version);

		if (strcasecmp(e->product, product) != 0 || !version_matches(e->version, version))
			continue;
		if (best == NULL || l > bestlen) {
			best = e;
			bestlen = l;
		}
	}
	return best;
}
