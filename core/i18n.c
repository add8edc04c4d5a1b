/*
 * The message catalogue: loads the .tsv files of data/i18n (id, English,
 * Japanese per line), answers lookups by id and fills {name} placeholders, and sets the
 * msg, msg_ja and msg_id keys of an event from it.
 *
 * Loaded once by the supervisor and by every worker before plugins start,
 * and by the CLI. The files ship with plugins from many vendors, so a bad
 * line is reported and skipped rather than stopping the sensor, and every
 * size is bounded.
 */
#include "i18n.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mimamori/error.h"

#define MAX_FILES 1024
#define MAX_FILE_BYTES (4 * 1024 * 1024)
#define MAX_LINE 4096
#define MAX_ID 128
#define MAX_ENTRIES 65536
#define MAX_PROBLEMS_KEPT 64
#define MAX_ARGS 64
#define MAX_NAME 64

struct entry {
	char *id, *en, *ja; /* one allocation, id first */
	size_t order;       /* load order: the first definition wins */
	size_t file, line;
};

struct mm_i18n {
	struct entry *e;
	size_t n, cap;
	char **files;
	size_t nfiles;
	char *problem[MAX_PROBLEMS_KEPT];
	size_t nproblems;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
problem(struct mm_i18n *cat, const char *fmt, ...)
{
	struct mm_buf b = MM_BUF_INIT;
	va_list ap;
	int n;

	if (cat->nproblems++ >= MAX_PROBLEMS_KEPT)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || mm_buf_reserve(&b, (size_t)n) != MM_OK)
		return;
	va_start(ap, fmt);
	vsnprintf((char *)b.data, (size_t)n + 1, fmt, ap);
	va_end(ap);
	cat->problem[cat->nproblems - 1] = (char *)b.data;
}

static int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t need, k;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			lo = c == 0xe0 ? 0xa0 : 0x80;
			hi = c == 0xed ? 0x9f : 0xbf;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			lo = c == 0xf0 ? 0x90 : 0x80;
			hi = c == 0xf4 ? 0x8f : 0xbf;
		} else
			return 0;
		if (n - i <= need)
			return 0;
		for (k = 1; k <= need; k++) {
			unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xbf;

			if (s[i + k] < l || s[i + k] > h)
				return 0;
		}
		i += need + 1;
	}
	return 1;
}

static int
id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* Why a line is not `id<TAB>en<TAB>ja`, or NULL when it is. */
static const char *
check_line(const char *s, size_t len, size_t *tab1, size_t *tab2)
{
	const char *t1, *t2;
	size_t i;

	if (len > MAX_LINE)
		return "line too long";
	if (memchr(s, '\0', len) != NULL)
		return "NUL byte";
	if (!utf8_valid((const unsigned char *)s, len))
		return "invalid UTF-8";
	t1 = memchr(s, '\t', len);
	t2 = t1 ? memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - s)) : NULL;
	if (t1 == NULL || t2 == NULL)
		return "expected id<TAB>English<TAB>Japanese";
	if (memchr(t2 + 1, '\t', len - (size_t)(t2 + 1 - s)) != NULL)
		return "more than three fields";
	*tab1 = (size_t)(t1 - s);
	*tab2 = (size_t)(t2 - s);
	if (*tab1 == 0 || *tab1 > MAX_ID)
		return "empty or too long id";
	for (i = 0; i < *tab1; i++)
		if (!id_char(s[i]))
			return "id may only use letters, digits, '_', '.', '-'";
	if (*tab2 == *tab1 + 1)
		return "empty English text";
	if (*tab2 + 1 == len)
		return "empty Japanese text";
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
			return "control character";
	return NULL;
}

static int
add_entry(struct mm_i18n *cat, const char *s, size_t len, size_t tab1, size_t tab2, size_t file,
          size_t line)
{
	struct entry *e;
	char *p;

	if (cat->n == cat->cap) {
		size_t cap = cat->cap ? cat->cap * 2 : 64;

		e = realloc(cat->e, cap * sizeof(*e));
		if (e == NULL)
			return MM_ERR_NOMEM;
		cat->e = e;
		cat->cap = cap;
	}
	p = malloc(len + 1);
	if (p == NULL)
		return MM_ERR_NOMEM;
	memcpy(p, s, len);
	p[len] = '\0';
	p[tab1] = '\0';
	p[tab2] = '\0';
	e = &cat->e[cat->n];
	e->id = p;
	e->en = p + tab1 + 1;
	e->ja = p + tab2 + 1;
	e->order = cat->n;
	e->file = file;
	e->line = line;
	cat->n++;
	return MM_OK;
}

static int
load_file(struct mm_i18n *cat, const char *dir, size_t file)
{
	const char *name = cat->files[file];
	char *path = NULL, *data = NULL;
	size_t size, pos = 0, line = 0;
	struct stat st;
	FILE *f = NULL;
	int rc = MM_OK;

	if (asprintf(&path, "%s/%s", dir, name) < 0) {
		path = NULL;
		rc = MM_ERR_NOMEM;
		goto out;
	}
	f = fopen(path, "rb");
	if (f == NULL || fstat(fileno(f), &st) != 0) {
		problem(cat, "%s: cannot read: %s", name, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		problem(cat, "%s: not a regular file, ignored", name);
		goto out;
	}
	if (st.st_size > MAX_FILE_BYTES) {
		problem(cat, "%s: larger than %d bytes, ignored", name, MAX_FILE_BYTES);
		goto out;
	}
	size = (size_t)st.st_size;
	data = malloc(size + 1);
	if (data == NULL) {
		rc = MM_ERR_NOMEM;
		goto out;
	}
	size = fread(data, 1, size, f);
	while (pos < size) {
		const char *s = data + pos, *nl = memchr(s, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - s) : size - pos, tab1 = 0, tab2 = 0, i;
		const char *why;

		pos += len + 1;
		line++;
		if (len > 0 && s[len - 1] == '\r')
			len--;
		for (i = 0; i < len && (s[i] == ' ' || s[i] == '\t'); i++)
			;
		if (i == len || s[0] == '#')
			continue;
		why = check_line(s, len, &tab1, &tab2);
		if (why != NULL) {
			problem(cat, "%s:%zu: %s", name, line, why);
			continue;
		}
		if (cat->n >= MAX_ENTRIES) {
			problem(cat, "%s:%zu: more than %d messages, ignored", name, line,
			        MAX_ENTRIES);
			continue;
		}
		rc = add_entry(cat, s, len, tab1, tab2, file, line);
		if (rc != MM_OK)
			goto out;
	}
out:
	if (f != NULL)
		fclose(f);
	free(data);
	free(path);
	return rc;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
is_tsv(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 4 && strcmp(name + len - 4, ".tsv") == 0;
}

int
mm_i18n_load(struct mm_i18n **out, const char *dir)
{
	struct mm_i18n *cat = NULL;
	struct dirent *de;
	DIR *d = NULL;
	size_t i, j;
	int rc = MM_OK;

	if (out == NULL || dir == NULL)
		return MM_ERR_INVAL;
	*out = NULL;
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT || errno == ENOTDIR ? MM_ERR_NOTFOUND : MM_ERR_IO;
	cat = calloc(1, sizeof(*cat));
	if (cat == NULL || (cat->files = calloc(MAX_FILES, sizeof(char *))) == NULL) {
		rc = MM_ERR_NOMEM;
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_tsv(de->d_name))
			continue;
		if (cat->nfiles == MAX_FILES) {
			problem(cat, "%s: more than %d catalogue files, ignored", de->d_name,
			        MAX_FILES);
			continue;
		}
		cat->files[cat->nfiles] = strdup(de->d_name);
		if (cat->files[cat->nfiles] == NULL) {
			rc = MM_ERR_NOMEM;
			goto out;
		}
		cat->nfiles++;
	}
	/* Name order, so that "first definition wins" does not depend on
	 * the order the file system lists them in. */
	qsort(cat->files, cat->nfiles, sizeof(char *), str_cmp);
	for (i = 0; i < cat->nfiles; i++) {
		rc = load_file(cat, dir, i);
		if (rc != MM_OK)
			goto out;
	}
	if (cat->n > 0)
		qsort(cat->e, cat->n, sizeof(*cat->e), entry_cmp);
	for (i = 0, j = 0; i < cat->n; i++) {
		if (j > 0 && strcmp(cat->e[j - 1].id, cat->e[i].id) == 0) {
			const struct entry *keep = &cat->e[j - 1], *dup = &cat->e[i];

			problem(cat, "%s:%zu: duplicate id %s, first defined at %s:%zu",
			        cat->files[dup->file], dup->line, dup->id, cat->files[keep->file],
			        keep->line);
			free(dup->id);
			continue;
		}
		cat->e[j++] = cat->e[i];
	}
	cat->n = j;
	*out = cat;
	cat = NULL;
out:
	if (d != NULL)
		closedir(d);
	mm_i18n_free(cat);
	return rc;
}

void
mm_i18n_free(struct mm_i18n *cat)
{
	size_t i;

	if (cat == NULL)
		return;
	for (i = 0; i < cat->n; i++)
		free(cat->e[i].id);
	free(cat->e);
	if (cat->files != NULL)
		for (i = 0; i < cat->nfiles; i++)
			free(cat->files[i]);
	free(cat->files);
	for (i = 0; i < MAX_PROBLEMS_KEPT; i++)
		free(cat->problem[i]);
	free(cat);
}

size_t
mm_i18n_count(const struct mm_i18n *cat)
{
	return cat ? cat->n : 0;
}

size_t
mm_i18n_problems(const struct mm_i18n *cat)
{
	return cat ? cat->nproblems : 0;
}

const char *
mm_i18n_problem(const struct mm_i18n *cat, size_t i)
{
	if (cat == NULL || i >= cat->nproblems || i >= MAX_PROBLEMS_KEPT)
		return NULL;
	return cat->problem[i];
}

static int
id_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct entry *)elem)->id);
}

const char *
mm_i18n_get(const struct mm_i18n *cat, const char *id, const char *lang)
{
	const struct entry *e;

	if (cat == NULL || id == NULL || cat->n == 0)
		return NULL;
	e = bsearch(id, cat->e, cat->n, sizeof(*cat->e), id_cmp);
	if (e == NULL)
		return NULL;
	return lang != NULL && strncmp(lang, "ja", 2) == 0 ? e->ja : e->en;
}

static const char *
arg_value(const char *const *args, const char *name, size_t len)
{
	size_t i;

	if (args == NULL)
		return NULL;
	for (i = 0; i < 2 * MAX_ARGS && args[i] != NULL && args[i + 1] != NULL; i += 2)
		if (strlen(args[i]) == len && memcmp(args[i], name, len) == 0)
			return args[i + 1];
	return NULL;
}

int
mm_i18n_format(struct mm_buf *out, const char *tmpl, const char *const *args)
{
	const char *p, *run;
	size_t start;
	int rc = MM_OK;

	if (out == NULL || tmpl == NULL)
		return MM_ERR_INVAL;
	start = out->len;
	for (p = run = tmpl; *p != '\0' && rc == MM_OK;) {
		const char *name, *end, *value;

		if (*p != '{') {
			p++;
			continue;
		}
		name = p + 1;
		for (end = name; end - name <= MAX_NAME && *end != '\0' && *end != '}' &&
		                 (id_char(*end) && *end != '.' && *end != '-');
		     end++)
			;
		if (*end != '}' || end == name || end - name > MAX_NAME) {
			p++;
			continue;
		}
		value = arg_value(args, name, (size_t)(end - name));
		if (value == NULL) {
			p = end + 1;
			continue;
		}
		rc = mm_buf_append(out, run, (size_t)(p - run));
		if (rc == MM_OK)
			rc = mm_buf_puts(out, value);
		p = run = end + 1;
	}
	if (rc == MM_OK)
		rc = mm_buf_puts(out, run);
	if (rc != MM_OK)
		out->len = start;
	return rc;
}

int
mm_event_set_msg(struct mm_event *ev, const struct mm_i18n *cat, const char *id,
                 const char *const *args)
{
	struct mm_buf b = MM_BUF_INIT;
	const char *en, *ja;
	int rc;

	if (ev == NULL || id == NULL)
		return MM_ERR_INVAL;
	en = mm_i18n_get(cat, id, "en");
	ja = mm_i18n_get(cat, id, "ja");
	if (en == NULL || ja == NULL) {
		/* Keep what the plugin meant even without its sentence. */
		rc = mm_event_set_str(ev, "msg", id);
		if (rc == MM_OK)
			rc = mm_event_set_str(ev, "msg_id", id);
		if (rc == MM_OK)
			rc = mm_event_unset(ev, "msg_ja");
		return rc == MM_OK ? MM_ERR_NOTFOUND : rc;
	}
	rc = mm_i18n_format(&b, en, args);
	if (rc == MM_OK)
		rc = mm_event_set_str(ev, "msg", mm_buf_cstr(&b));
	mm_buf_reset(&b);
	if (rc == MM_OK)
		rc = mm_i18n_format(&b, ja, args);
	if (rc == MM_OK)
		rc = mm_event_set_str(ev, "msg_ja", mm_buf_cstr(&b));
	if (rc == MM_OK)
		rc = mm_event_set_str(ev, "msg_id", id);
	mm_buf_free(&b);
	return rc;
}
