/*
 * Small text helpers of the legacy-OS watcher: bounded file reading, line
 * and tab splitting, path joining below a root directory and date
 * arithmetic. Runs in the legacy module's worker process (and in its tests
 * and fuzzers).
 */
#include "legacy.h"

#include <mimamori/error.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
legacy_read_file(char **out, size_t *out_len, const char *path, size_t maxlen)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t n = 0;
	int rc = MM_OK;

	*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	f = fopen(path, "rb");
	if (f == NULL) {
		rc = errno == ENOENT || errno == ENOTDIR ? MM_ERR_NOTFOUND : MM_ERR_IO;
		goto out;
	}
	buf = malloc(maxlen + 1);
	if (buf == NULL) {
		rc = MM_ERR_NOMEM;
		goto out;
	}
	n = fread(buf, 1, maxlen, f);
	if (ferror(f)) {
		rc = MM_ERR_IO;
		goto out;
	}
	/* One more byte tells a file of exactly maxlen from a longer one. */
	if (n == maxlen && fgetc(f) != EOF) {
		rc = MM_ERR_TOOBIG;
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	buf = NULL;
	if (out_len != NULL)
		*out_len = n;
out:
	free(buf);
	if (f != NULL)
		fclose(f);
	return rc;
}

int
legacy_next_line(char *line, size_t linelen, const char *text, size_t len, size_t *pos)
{
	size_t i = *pos, o = 0;

	if (i >= len)
		return 0;
	while (i < len && text[i] != '\n') {
		if (o + 1 < linelen && text[i] != '\r' && text[i] != '\0')
			line[o++] = text[i];
		i++;
	}
	if (i < len)
		i++;
	line[o] = '\0';
	*pos = i;
	return 1;
}

int
legacy_split_tabs(char **fields, int max, char *line)
{
	int n = 0;
	char *p = line;

	while (n < max) {
		fields[n++] = p;
		p = strchr(p, '\t');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	return n;
}

char *
legacy_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

void
legacy_strlcpy(char *dst, const char *src, size_t dstlen)
{
	size_t n;

	if (dstlen == 0)
		return;
	n = strlen(src);
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
legacy_path(char *out, size_t outlen, const char *root, const char *path)
{
	size_t rl;

	if (root == NULL || root[0] == '\0' || strcmp(root, "/") == 0) {
		snprintf(out, outlen, "%s%s", path[0] == '/' ? "" : "/", path);
		return;
	}
	/* Below a fixture root, absolute paths are still taken inside it: the
	 * point is that a test never reads the machine's own files. */
	while (*path == '/')
		path++;
	rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	snprintf(out, outlen, "%.*s/%s", (int)rl, root, path);
}

int64_t
legacy_days_from_civil(int y, unsigned m, unsigned d)
{
	/* Howard Hinnant's days_from_civil, valid for any Gregorian date. */
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (int64_t)(m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

int
legacy_parse_date(int64_t *out, const char *text)
{
	int y, m, d, n = 0;

	if (sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 || text[10] != '\0')
		return MM_ERR_PARSE;
	if (y < 1970 || y > 2200 || m < 1 || m > 12 || d < 1 || d > 31)
		return MM_ERR_PARSE;
	*out = legacy_days_from_civil(y, (unsigned)m, (unsigned)d);
	return MM_OK;
}

void
legacy_format_date(char *out, size_t outlen, int64_t z)
{
	int64_t era, doe, yoe, y, doy, mp, d, m;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	snprintf(out, outlen, "%04d-%02d-%02d", (int)(y + (m <= 2)), (int)m, (int)d);
}
