/*
 * Configuration loading and validation. mm_config_load() reads every *.conf
 * of the configuration directory in lexical order with libconfig, checks the
 * top-level layout and the host's own groups (sensor, host and the host keys
 * of every module) and mm_config_validate() checks each module group against
 * the key table of the plugin it names. Every problem becomes one
 * "FILE:LINE: what is wrong" line in a struct mm_diag, and all of them are
 * collected before anything starts.
 *
 * It also turns validated values into msgpack for a worker and back (the
 * worker checks them against the key table again), and resolves the sensor
 * role, detecting it from the machine for "auto".
 *
 * Runs in the supervisor (load, validate, encode), in workers (decode) and in
 * the CLI (check-config).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>

#include "mimamori/error.h"

/* Bounds: a configuration is written by people, so these are generous, but
 * they keep a broken or hostile file from taking unbounded memory. */
#define DIAG_MAX 1000       /* lines kept in one struct mm_diag */
#define DIAG_TEXT_MAX 1024  /* characters of one line */
#define CONF_FILES_MAX 1000 /* *.conf files in the directory */
#define CONF_FILE_SIZE_MAX (4u << 20)
#define MODULES_MAX 512     /* module groups in all files */
#define LIST_MAX 100000     /* items of one string list */
#define KEYS_MAX 4096       /* keys of one table */
#define SUGGEST_NAME_MAX 64 /* longest name the suggestion compares */
#define NET_IFACES_MAX 4096 /* interfaces looked at by role detection */

/* ------------------------------------------------------------------------ */
/* Diagnostics */

/*
 * Each line carries its sort key (file and line) in a header in front of the
 * text that msgs[] points at, so the list can stay sorted as lines arrive
 * without parsing file names that may themselves contain ':'.
 */
struct diag_entry {
	int line;
	int has_file;
	size_t file_len;
	char text[];
};

static struct diag_entry *
entry_of(char *msg)
{
	return (struct diag_entry *)(void *)(msg - offsetof(struct diag_entry, text));
}

static int
entry_cmp(const struct diag_entry *a, const struct diag_entry *b)
{
	size_t n;
	int c;

	/* Lines without a file go last. */
	if (a->has_file != b->has_file)
		return a->has_file ? -1 : 1;
	if (!a->has_file)
		return 0;
	n = a->file_len < b->file_len ? a->file_len : b->file_len;
	c = memcmp(a->text, b->text, n);
	if (c != 0)
		return c;
	if (a->file_len != b->file_len)
		return a->file_len < b->file_len ? -1 : 1;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return 0;
}

static void
diag_insert(struct mm_diag *d, struct diag_entry *e)
{
	char **msgs;
	size_t i;

	msgs = realloc(d->msgs, (d->n + 1) * sizeof(*msgs));
	if (msgs == NULL) {
		free(e);
		return;
	}
	d->msgs = msgs;
	/* Stable: a new line goes after every line that sorts equal to it. */
	i = d->n;
	while (i > 0 && entry_cmp(e, entry_of(d->msgs[i - 1])) < 0)
		i--;
	memmove(&d->msgs[i + 1], &d->msgs[i], (d->n - i) * sizeof(*msgs));
	d->msgs[i] = e->text;
	d->n++;
}

static void
diag_text(struct mm_diag *d, const char *file, int line, const char *text)
{
	struct diag_entry *e;
	char prefix[PATH_MAX + 32];
	size_t plen, tlen, i, flen = 0;

	if (d == NULL || d->n >= DIAG_MAX)
		return;
	if (d->n == DIAG_MAX - 1) {
		/* The last slot says that lines were dropped. */
		file = NULL;
		line = 0;
		text = "too many problems: the rest are not shown";
	}
	if (file != NULL && line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", file, line);
	else if (file != NULL)
		snprintf(prefix, sizeof(prefix), "%s: ", file);
	else
		prefix[0] = '\0';
	if (file != NULL) {
		flen = strlen(file);
		if (flen > sizeof(prefix) - 32)
			flen = sizeof(prefix) - 32;
	}
	plen = strlen(prefix);
	tlen = strlen(text);
	if (tlen > DIAG_TEXT_MAX)
		tlen = DIAG_TEXT_MAX;
	e = malloc(sizeof(*e) + plen + tlen + 1);
	if (e == NULL)
		return;
	e->line = line;
	e->has_file = file != NULL;
	e->file_len = flen;
	memcpy(e->text, prefix, plen);
	memcpy(e->text + plen, text, tlen);
	e->text[plen + tlen] = '\0';
	/* One problem is one line: control characters from values would break
	 * that (and a terminal), so they are shown as '?'. */
	for (i = 0; i < plen + tlen; i++)
		if ((unsigned char)e->text[i] < 0x20 || e->text[i] == 0x7f)
			e->text[i] = '?';
	diag_insert(d, e);
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 0)))
#endif
static void
diag_vadd(struct mm_diag *d, const char *file, int line, const char *fmt, va_list ap)
{
	char text[DIAG_TEXT_MAX + 1];

	vsnprintf(text, sizeof(text), fmt, ap);
	diag_text(d, file, line, text);
}

void
mm_diag_add(struct mm_diag *d, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, file, line, fmt, ap);
	va_end(ap);
}

void
mm_diag_print(const struct mm_diag *d, FILE *out)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		fprintf(out, "%s\n", d->msgs[i]);
}

void
mm_diag_free(struct mm_diag *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		free(entry_of(d->msgs[i]));
	free(d->msgs);
	d->msgs = NULL;
	d->n = 0;
}

/* ------------------------------------------------------------------------ */
/* Small helpers */

static char *
xstrdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

static const char *
setting_file(const config_setting_t *s, const char *fallback)
{
	const char *f = s ? config_setting_source_file(s) : NULL;

	return f != NULL ? f : fallback;
}

static int
setting_line(const config_setting_t *s)
{
	return s ? (int)config_setting_source_line(s) : 0;
}

/* Levenshtein distance, for "did you mean" hints; names are short. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[SUGGEST_NAME_MAX + 1], prev, cur;

	if (la > SUGGEST_NAME_MAX || lb > SUGGEST_NAME_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (cur + 1 < row[j])
				row[j] = cur + 1;
			prev = cur;
		}
	}
	return row[lb];
}

struct suggest {
	const char *best;
	size_t dist;
};

static void
suggest_try(struct suggest *s, const char *name, const char *candidate)
{
	size_t dist;

	if (candidate == NULL)
		return;
	dist = edit_distance(name, candidate);
	if (dist <= 2 && (s->best == NULL || dist < s->dist)) {
		s->best = candidate;
		s->dist = dist;
	}
}

static const char *
type_wanted(int type)
{
	switch (type) {
	case MM_CFG_BOOL:
		return "a boolean";
	case MM_CFG_INT:
		return "an integer";
	case MM_CFG_DOUBLE:
		return "a number";
	case MM_CFG_STRING:
		return "a string";
	case MM_CFG_STRING_LIST:
		return "a list of strings";
	default:
		return "an unknown type";
	}
}

static const char *
type_found(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	default:
		return "nothing";
	}
}

/* Range bounds read best without exponents when they are whole numbers. */
static void
fmt_num(char *buf, size_t len, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%g", v);
}

static int
has_range(const struct mm_cfg_key *k)
{
	return k->min <= k->max;
}

static void
value_clear(struct mm_cfg_value *v)
{
	size_t i;

	free(v->s);
	v->s = NULL;
	for (i = 0; i < v->nlist; i++)
		free(v->list[i]);
	free(v->list);
	v->list = NULL;
	v->nlist = 0;
	v->i = 0;
	v->d = 0;
}

const struct mm_cfg_value *
mm_cfg_values_find(const struct mm_cfg_values *vals, const char *name)
{
	size_t i;

	if (vals == NULL || name == NULL)
		return NULL;
	for (i = 0; i < vals->n; i++)
		if (vals->v[i].key && vals->v[i].key->name &&
		    strcmp(vals->v[i].key->name, name) == 0)
			return &vals->v[i];
	return NULL;
}

void
mm_cfg_values_free(struct mm_cfg_values *vals)
{
	size_t i;

	if (vals == NULL)
		return;
	for (i = 0; i < vals->n; i++)
		value_clear(&vals->v[i]);
	free(vals->v);
	vals->v = NULL;
	vals->n = 0;
}

/* ------------------------------------------------------------------------ */
/* Defaults */

static int
parse_int_text(int64_t *out, const char *s)
{
	char *end;
	long long v;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return MM_ERR_PARSE;
	errno = 0;
	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
		v = (long long)strtoull(s, &end, 16);
	else
		v = strtoll(s, &end, 10);
	if (errno != 0)
		return MM_ERR_RANGE;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0')
		return MM_ERR_PARSE;
	*out = v;
	return MM_OK;
}

static int
parse_double_text(double *out, const char *s)
{
	char *end;
	double v;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return MM_ERR_PARSE;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || !isfinite(v))
		return MM_ERR_RANGE;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0')
		return MM_ERR_PARSE;
	*out = v;
	return MM_OK;
}

static int
list_push(struct mm_cfg_value *v, const char *s, size_t len)
{
	char **list;
	char *copy;

	if (v->nlist >= LIST_MAX)
		return MM_ERR_FULL;
	copy = strndup(s, len);
	if (copy == NULL)
		return MM_ERR_NOMEM;
	list = realloc(v->list, (v->nlist + 1) * sizeof(*list));
	if (list == NULL) {
		free(copy);
		return MM_ERR_NOMEM;
	}
	v->list = list;
	v->list[v->nlist++] = copy;
	return MM_OK;
}

/*
 * Set v to the key's default. Returns MM_OK, MM_ERR_NOMEM, or MM_ERR_PARSE
 * when the default text does not fit the key's type or range (a bug in the
 * plugin's table).
 */
static int
value_default(struct mm_cfg_value *v, const struct mm_cfg_key *k)
{
	const char *p, *e, *comma;
	int rc;

	value_clear(v);
	v->key = k;
	v->set = 0;
	v->file = NULL;
	v->line = 0;
	if (k->def == NULL)
		return MM_OK;
	switch (k->type) {
	case MM_CFG_BOOL:
		if (strcasecmp(k->def, "true") == 0)
			v->i = 1;
		else if (strcasecmp(k->def, "false") == 0)
			v->i = 0;
		else
			return MM_ERR_PARSE;
		return MM_OK;
	case MM_CFG_INT:
		if (parse_int_text(&v->i, k->def) != MM_OK)
			return MM_ERR_PARSE;
		if (has_range(k) && ((double)v->i < k->min || (double)v->i > k->max))
			return MM_ERR_PARSE;
		return MM_OK;
	case MM_CFG_DOUBLE:
		if (parse_double_text(&v->d, k->def) != MM_OK)
			return MM_ERR_PARSE;
		if (has_range(k) && (v->d < k->min || v->d > k->max))
			return MM_ERR_PARSE;
		return MM_OK;
	case MM_CFG_STRING:
		v->s = strdup(k->def);
		return v->s ? MM_OK : MM_ERR_NOMEM;
	case MM_CFG_STRING_LIST:
		/* Comma-separated items, blanks around each trimmed. */
		p = k->def;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			return MM_OK;
		for (;;) {
			comma = strchr(p, ',');
			e = comma ? comma : p + strlen(p);
			while (p < e && isspace((unsigned char)*p))
				p++;
			while (e > p && isspace((unsigned char)e[-1]))
				e--;
			if ((rc = list_push(v, p, (size_t)(e - p))) != MM_OK)
				return rc == MM_ERR_NOMEM ? rc : MM_ERR_PARSE;
			if (comma == NULL)
				break;
			p = comma + 1;
		}
		return MM_OK;
	default:
		return MM_ERR_PARSE;
	}
}

static int
values_alloc(struct mm_cfg_values *out, const struct mm_cfg_key *keys, size_t nkeys)
{
	size_t i;

	out->v = NULL;
	out->n = 0;
	if (nkeys > KEYS_MAX || (nkeys > 0 && keys == NULL))
		return MM_ERR_INVAL;
	if (nkeys == 0)
		return MM_OK;
	out->v = calloc(nkeys, sizeof(*out->v));
	if (out->v == NULL)
		return MM_ERR_NOMEM;
	out->n = nkeys;
	for (i = 0; i < nkeys; i++)
		out->v[i].key = &keys[i];
	return MM_OK;
}

int
mm_cfg_defaults(struct mm_cfg_values *out, const struct mm_cfg_key *keys, size_t nkeys)
{
	size_t i;
	int rc, bad = 0;

	if (out == NULL)
		return MM_ERR_INVAL;
	if ((rc = values_alloc(out, keys, nkeys)) != MM_OK)
		return rc;
	for (i = 0; i < nkeys; i++) {
		rc = value_default(&out->v[i], &keys[i]);
		if (rc == MM_ERR_NOMEM) {
			mm_cfg_values_free(out);
			return rc;
		}
		if (rc != MM_OK)
			bad = 1;
	}
	return bad ? MM_ERR_CONFIG : MM_OK;
}

/* ------------------------------------------------------------------------ */
/* Validating a group against a key table */

struct vctx {
	const char *what;   /* "module 'ips'", "sensor", ... or NULL */
	const char *plugin; /* names the table's owner in bad-default lines */
	const char *file;   /* where the group is */
	int line;
	int check_required; /* missing MM_CFG_REQUIRED keys are errors */
	int ignore_unknown; /* keys not in the table are someone else's */
	struct mm_diag *diag;
	int errors;
};

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
verr(struct vctx *vc, const char *file, int line, const char *fmt, ...)
{
	char text[DIAG_TEXT_MAX + 1];
	va_list ap;
	size_t off = 0;

	if (vc->what != NULL) {
		snprintf(text, sizeof(text), "%s: ", vc->what);
		off = strlen(text);
	}
	va_start(ap, fmt);
	vsnprintf(text + off, sizeof(text) - off, fmt, ap);
	va_end(ap);
	diag_text(vc->diag, file, line, text);
	vc->errors++;
}

static int
is_reserved(const char *name, const char *const *reserved)
{
	size_t i;

	for (i = 0; reserved != NULL && reserved[i] != NULL; i++)
		if (strcmp(reserved[i], name) == 0)
			return 1;
	return 0;
}

static const struct mm_cfg_key *
key_find(const struct mm_cfg_key *keys, size_t nkeys, const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < nkeys; i++) {
		if (keys[i].name != NULL && strcmp(keys[i].name, name) == 0) {
			*idx = i;
			return &keys[i];
		}
	}
	return NULL;
}

/*
 * Read one setting into v (already holding the default). On a type or range
 * error the default stays and the error goes to the diagnostics.
 */
static int
value_read(struct mm_cfg_value *v, const config_setting_t *s, struct vctx *vc)
{
	const struct mm_cfg_key *k = v->key;
	const char *file = setting_file(s, vc->file);
	int line = setting_line(s), type = config_setting_type(s), n, i, rc;
	char lo[40], hi[40], val[40];
	struct mm_cfg_value nv;
	const config_setting_t *e;

	memset(&nv, 0, sizeof(nv));
	nv.key = k;
	switch (k->type) {
	case MM_CFG_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			goto bad_type;
		nv.i = config_setting_get_bool(s) ? 1 : 0;
		break;
	case MM_CFG_INT:
		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
			goto bad_type;
		nv.i = (int64_t)config_setting_get_int64(s);
		if (has_range(k) && ((double)nv.i < k->min || (double)nv.i > k->max)) {
			fmt_num(lo, sizeof(lo), k->min);
			fmt_num(hi, sizeof(hi), k->max);
			verr(vc, file, line, "key '%s' is %lld, outside [%s, %s]", k->name,
			     (long long)nv.i, lo, hi);
			return MM_OK;
		}
		break;
	case MM_CFG_DOUBLE:
		if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
			nv.d = (double)config_setting_get_int64(s);
		else if (type == CONFIG_TYPE_FLOAT)
			nv.d = config_setting_get_float(s);
		else
			goto bad_type;
		if (!isfinite(nv.d)) {
			verr(vc, file, line, "key '%s' is not a finite number", k->name);
			return MM_OK;
		}
		if (has_range(k) && (nv.d < k->min || nv.d > k->max)) {
			fmt_num(lo, sizeof(lo), k->min);
			fmt_num(hi, sizeof(hi), k->max);
			snprintf(val, sizeof(val), "%g", nv.d);
			verr(vc, file, line, "key '%s' is %s, outside [%s, %s]", k->name, val, lo,
			     hi);
			return MM_OK;
		}
		break;
	case MM_CFG_STRING:
		if (type != CONFIG_TYPE_STRING)
			goto bad_type;
		nv.s = xstrdup(config_setting_get_string(s));
		if (nv.s == NULL)
			return MM_ERR_NOMEM;
		break;
	case MM_CFG_STRING_LIST:
		if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
			goto bad_type;
		n = config_setting_length(s);
		if (n > LIST_MAX) {
			verr(vc, file, line, "key '%s' has %d items, more than %d", k->name, n,
			     LIST_MAX);
			return MM_OK;
		}
		for (i = 0; i < n; i++) {
			e = config_setting_get_elem(s, (unsigned)i);
			if (e == NULL || config_setting_type(e) != CONFIG_TYPE_STRING) {
				verr(vc, file, line,
				     "key '%s' must be a list of strings, but item %d is %s",
				     k->name, i + 1, e ? type_found(e) : "missing");
				value_clear(&nv);
				return MM_OK;
			}
			rc = list_push(&nv, config_setting_get_string(e),
			               strlen(config_setting_get_string(e)));
			if (rc != MM_OK) {
				value_clear(&nv);
				return rc;
			}
		}
		break;
	default:
		verr(vc, file, line, "key '%s' has an unknown type %d in its table", k->name,
		     k->type);
		return MM_OK;
	}
	value_clear(v);
	v->i = nv.i;
	v->d = nv.d;
	v->s = nv.s;
	v->list = nv.list;
	v->nlist = nv.nlist;
	v->set = 1;
	v->file = file;
	v->line = line;
	return MM_OK;

bad_type:
	verr(vc, file, line, "key '%s' must be %s, not %s", k->name, type_wanted(k->type),
	     type_found(s));
	return MM_OK;
}

/* Returns MM_OK (errors counted in vc) or MM_ERR_NOMEM / MM_ERR_INVAL. */
static int
validate(struct mm_cfg_values *out, const config_setting_t *group, const struct mm_cfg_key *keys,
         size_t nkeys, const char *const *reserved, struct vctx *vc)
{
	const config_setting_t *s;
	const struct mm_cfg_key *k;
	struct suggest sg;
	size_t i, idx = 0;
	int rc, n, j;

	if ((rc = values_alloc(out, keys, nkeys)) != MM_OK)
		return rc;
	for (i = 0; i < nkeys; i++) {
		rc = value_default(&out->v[i], &keys[i]);
		if (rc == MM_ERR_NOMEM)
			goto fail;
		if (rc != MM_OK) {
			if (vc->plugin != NULL)
				verr(vc, vc->file, vc->line,
				     "plugin '%s' declares an invalid default '%s' for key '%s' "
				     "(expected %s%s)",
				     vc->plugin, keys[i].def, keys[i].name ? keys[i].name : "?",
				     type_wanted(keys[i].type),
				     has_range(&keys[i]) ? " within its range" : "");
			else
				verr(vc, vc->file, vc->line,
				     "invalid default '%s' for key '%s' (expected %s)", keys[i].def,
				     keys[i].name ? keys[i].name : "?", type_wanted(keys[i].type));
		}
	}
	if (group != NULL && !config_setting_is_group(group)) {
		verr(vc, setting_file(group, vc->file), setting_line(group),
		     "must be a group, not %s", type_found(group));
		group = NULL;
	}
	n = group ? config_setting_length(group) : 0;
	for (j = 0; j < n; j++) {
		s = config_setting_get_elem(group, (unsigned)j);
		if (s == NULL || config_setting_name(s) == NULL)
			continue;
		if (is_reserved(config_setting_name(s), reserved))
			continue;
		k = key_find(keys, nkeys, config_setting_name(s), &idx);
		if (k == NULL) {
			if (vc->ignore_unknown)
				continue;
			sg.best = NULL;
			sg.dist = SIZE_MAX;
			for (i = 0; i < nkeys; i++)
				suggest_try(&sg, config_setting_name(s), keys[i].name);
			for (i = 0; reserved != NULL && reserved[i] != NULL; i++)
				suggest_try(&sg, config_setting_name(s), reserved[i]);
			if (sg.best != NULL)
				verr(vc, setting_file(s, vc->file), setting_line(s),
				     "unknown key '%s' (did you mean '%s'?)",
				     config_setting_name(s), sg.best);
			else
				verr(vc, setting_file(s, vc->file), setting_line(s),
				     "unknown key '%s'", config_setting_name(s));
			continue;
		}
		if ((rc = value_read(&out->v[idx], s, vc)) != MM_OK)
			goto fail;
	}
	if (vc->check_required) {
		for (i = 0; i < nkeys; i++)
			if ((keys[i].flags & MM_CFG_REQUIRED) && !out->v[i].set)
				verr(vc, vc->file, vc->line, "missing required key '%s'",
				     keys[i].name ? keys[i].name : "?");
	}
	return MM_OK;
fail:
	mm_cfg_values_free(out);
	return rc;
}

/* Names a group in messages: "module 'x'" under modules, else its name. */
static void
group_what(char *buf, size_t len, const config_setting_t *group)
{
	const config_setting_t *parent;

	buf[0] = '\0';
	if (group == NULL || config_setting_name(group) == NULL)
		return;
	parent = config_setting_parent(group);
	if (parent != NULL && config_setting_name(parent) != NULL &&
	    strcmp(config_setting_name(parent), "modules") == 0)
		snprintf(buf, len, "module '%s'", config_setting_name(group));
	else
		snprintf(buf, len, "%s", config_setting_name(group));
}

int
mm_cfg_validate_group(struct mm_cfg_values *out, const config_setting_t *group,
                      const struct mm_cfg_key *keys, size_t nkeys, const char *const *reserved,
                      struct mm_diag *diag)
{
	struct vctx vc;
	char what[128];
	int rc;

	if (out == NULL)
		return MM_ERR_INVAL;
	memset(&vc, 0, sizeof(vc));
	group_what(what, sizeof(what), group);
	vc.what = what[0] ? what : NULL;
	vc.file = setting_file(group, NULL);
	vc.line = setting_line(group);
	vc.check_required = 1;
	vc.diag = diag;
	rc = validate(out, group, keys, nkeys, reserved, &vc);
	if (rc != MM_OK)
		return rc;
	return vc.errors ? MM_ERR_CONFIG : MM_OK;
}

/* ------------------------------------------------------------------------ */
/* msgpack for workers */

static int
buf_write(void *data, const char *p, size_t len)
{
	return mm_buf_append(data, p, len) == MM_OK ? 0 : -1;
}

int
mm_cfg_values_encode(const struct mm_cfg_values *vals, struct mm_buf *out)
{
	msgpack_packer pk;
	const struct mm_cfg_value *v;
	size_t i, j, len;
	int r = 0;

	if (vals == NULL || out == NULL || vals->n > UINT32_MAX)
		return MM_ERR_INVAL;
	msgpack_packer_init(&pk, out, buf_write);
	r |= msgpack_pack_map(&pk, vals->n);
	for (i = 0; i < vals->n && r == 0; i++) {
		v = &vals->v[i];
		if (v->key == NULL || v->key->name == NULL)
			return MM_ERR_INVAL;
		len = strlen(v->key->name);
		r |= msgpack_pack_str(&pk, len);
		r |= msgpack_pack_str_body(&pk, v->key->name, len);
		switch (v->key->type) {
		case MM_CFG_BOOL:
			r |= v->i ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
			break;
		case MM_CFG_INT:
			r |= msgpack_pack_int64(&pk, v->i);
			break;
		case MM_CFG_DOUBLE:
			r |= msgpack_pack_double(&pk, v->d);
			break;
		case MM_CFG_STRING:
			if (v->s == NULL) {
				r |= msgpack_pack_nil(&pk);
				break;
			}
			len = strlen(v->s);
			r |= msgpack_pack_str(&pk, len);
			r |= msgpack_pack_str_body(&pk, v->s, len);
			break;
		case MM_CFG_STRING_LIST:
			r |= msgpack_pack_array(&pk, v->nlist);
			for (j = 0; j < v->nlist && r == 0; j++) {
				len = strlen(v->list[j]);
				r |= msgpack_pack_str(&pk, len);
				r |= msgpack_pack_str_body(&pk, v->list[j], len);
			}
			break;
		default:
			return MM_ERR_INVAL;
		}
	}
	return r == 0 ? MM_OK : MM_ERR_NOMEM;
}

/*
 * A minimal msgpack reader for the subset encode writes. The worker trusts
 * nothing it receives, so every length is checked against what is left
 * before anything is allocated (a generic unpacker would allocate a declared
 * element count up front).
 */
struct rd {
	const uint8_t *p;
	size_t n;
};

enum rd_kind { RD_NIL, RD_BOOL, RD_INT, RD_DOUBLE, RD_STR, RD_ARRAY, RD_MAP };

struct rd_obj {
	enum rd_kind kind;
	int64_t i;
	double d;
	const char *s;
	size_t len; /* string bytes, array items or map pairs */
};

static int
rd_be(struct rd *r, size_t k, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (r->n < k)
		return MM_ERR_TRUNCATED;
	for (i = 0; i < k; i++)
		v = v << 8 | r->p[i];
	r->p += k;
	r->n -= k;
	*out = v;
	return MM_OK;
}

static int
rd_next(struct rd *r, struct rd_obj *o)
{
	uint64_t u;
	uint8_t b;
	float f;
	uint32_t f32;
	int rc;

	if (r->n == 0)
		return MM_ERR_TRUNCATED;
	b = *r->p++;
	r->n--;
	memset(o, 0, sizeof(*o));
	if (b <= 0x7f) {
		o->kind = RD_INT;
		o->i = b;
		return MM_OK;
	}
	if (b >= 0xe0) {
		o->kind = RD_INT;
		o->i = (int8_t)b;
		return MM_OK;
	}
	if ((b & 0xf0) == 0x80 || (b & 0xf0) == 0x90 || (b & 0xe0) == 0xa0) {
		o->kind = (b & 0xf0) == 0x80 ? RD_MAP : (b & 0xf0) == 0x90 ? RD_ARRAY : RD_STR;
		u = (b & 0xe0) == 0xa0 ? (b & 0x1f) : (b & 0x0f);
		goto counted;
	}
	switch (b) {
	case 0xc0:
		o->kind = RD_NIL;
		return MM_OK;
	case 0xc2:
	case 0xc3:
		o->kind = RD_BOOL;
		o->i = b == 0xc3;
		return MM_OK;
	case 0xca:
		if ((rc = rd_be(r, 4, &u)) != MM_OK)
			return rc;
		f32 = (uint32_t)u;
		memcpy(&f, &f32, sizeof(f));
		o->kind = RD_DOUBLE;
		o->d = f;
		return MM_OK;
	case 0xcb:
		if ((rc = rd_be(r, 8, &u)) != MM_OK)
			return rc;
		o->kind = RD_DOUBLE;
		memcpy(&o->d, &u, sizeof(o->d));
		return MM_OK;
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf:
		if ((rc = rd_be(r, (size_t)1 << (b - 0xcc), &u)) != MM_OK)
			return rc;
		if (u > INT64_MAX)
			return MM_ERR_RANGE;
		o->kind = RD_INT;
		o->i = (int64_t)u;
		return MM_OK;
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3: {
		size_t k = (size_t)1 << (b - 0xd0);

		if ((rc = rd_be(r, k, &u)) != MM_OK)
			return rc;
		o->kind = RD_INT;
		/* Sign-extend from k bytes. */
		if (k < 8 && (u >> (8 * k - 1)) & 1)
			u |= ~(uint64_t)0 << (8 * k);
		memcpy(&o->i, &u, sizeof(o->i));
		return MM_OK;
	}
	case 0xd9:
	case 0xda:
	case 0xdb:
		o->kind = RD_STR;
		if ((rc = rd_be(r, (size_t)1 << (b - 0xd9), &u)) != MM_OK)
			return rc;
		goto counted;
	case 0xdc:
	case 0xdd:
		o->kind = RD_ARRAY;
		if ((rc = rd_be(r, (size_t)2 << (b - 0xdc), &u)) != MM_OK)
			return rc;
		goto counted;
	case 0xde:
	case 0xdf:
		o->kind = RD_MAP;
		if ((rc = rd_be(r, (size_t)2 << (b - 0xde), &u)) != MM_OK)
			return rc;
		goto counted;
	default:
		return MM_ERR_PARSE;
	}
counted:
	/* Every string byte and every item takes at least one byte of input. */
	if (u > r->n)
		return MM_ERR_TRUNCATED;
	o->len = (size_t)u;
	if (o->kind == RD_STR) {
		o->s = (const char *)r->p;
		r->p += o->len;
		r->n -= o->len;
	}
	return MM_OK;
}

static int
rd_string(struct rd *r, char **out)
{
	struct rd_obj o;
	int rc;

	if ((rc = rd_next(r, &o)) != MM_OK)
		return rc;
	if (o.kind != RD_STR || memchr(o.s, '\0', o.len) != NULL)
		return MM_ERR_PARSE;
	*out = strndup(o.s, o.len);
	return *out ? MM_OK : MM_ERR_NOMEM;
}

static int
decode_value(struct mm_cfg_value *v, struct rd *r)
{
	const struct mm_cfg_key *k = v->key;
	struct rd_obj o;
	char *s;
	size_t i;
	int rc;

	if ((rc = rd_next(r, &o)) != MM_OK)
		return rc;
	value_clear(v);
	switch (k->type) {
	case MM_CFG_BOOL:
		if (o.kind != RD_BOOL)
			return MM_ERR_PARSE;
		v->i = o.i;
		break;
	case MM_CFG_INT:
		if (o.kind != RD_INT)
			return MM_ERR_PARSE;
		if (has_range(k) && ((double)o.i < k->min || (double)o.i > k->max))
			return MM_ERR_RANGE;
		v->i = o.i;
		break;
	case MM_CFG_DOUBLE:
		if (o.kind == RD_INT)
			o.d = (double)o.i;
		else if (o.kind != RD_DOUBLE)
			return MM_ERR_PARSE;
		if (!isfinite(o.d) || (has_range(k) && (o.d < k->min || o.d > k->max)))
			return MM_ERR_RANGE;
		v->d = o.d;
		break;
	case MM_CFG_STRING:
		if (o.kind == RD_NIL)
			break;
		if (o.kind != RD_STR || memchr(o.s, '\0', o.len) != NULL)
			return MM_ERR_PARSE;
		v->s = strndup(o.s, o.len);
		if (v->s == NULL)
			return MM_ERR_NOMEM;
		break;
	case MM_CFG_STRING_LIST:
		if (o.kind != RD_ARRAY)
			return MM_ERR_PARSE;
		if (o.len > LIST_MAX)
			return MM_ERR_TOOBIG;
		for (i = 0; i < o.len; i++) {
			if ((rc = rd_string(r, &s)) != MM_OK)
				return rc;
			rc = list_push(v, s, strlen(s));
			free(s);
			if (rc != MM_OK)
				return rc;
		}
		break;
	default:
		return MM_ERR_PARSE;
	}
	v->set = 1;
	return MM_OK;
}

int
mm_cfg_values_decode(struct mm_cfg_values *out, const struct mm_cfg_key *keys, size_t nkeys,
                     const void *data, size_t len)
{
	struct rd r = {data, len};
	struct rd_obj o;
	unsigned char *seen = NULL;
	size_t i, j, idx;
	int rc;

	if (out == NULL || (data == NULL && len > 0))
		return MM_ERR_INVAL;
	if ((rc = mm_cfg_defaults(out, keys, nkeys)) != MM_OK) {
		if (rc == MM_ERR_CONFIG)
			mm_cfg_values_free(out);
		return rc;
	}
	seen = calloc(nkeys ? nkeys : 1, 1);
	if (seen == NULL) {
		rc = MM_ERR_NOMEM;
		goto out;
	}
	if ((rc = rd_next(&r, &o)) != MM_OK)
		goto out;
	if (o.kind != RD_MAP || o.len > nkeys) {
		rc = MM_ERR_PARSE;
		goto out;
	}
	for (i = 0; i < o.len; i++) {
		struct rd_obj name;

		if ((rc = rd_next(&r, &name)) != MM_OK)
			goto out;
		if (name.kind != RD_STR) {
			rc = MM_ERR_PARSE;
			goto out;
		}
		idx = nkeys;
		for (j = 0; j < nkeys; j++) {
			if (keys[j].name != NULL && strlen(keys[j].name) == name.len &&
			    memcmp(keys[j].name, name.s, name.len) == 0) {
				idx = j;
				break;
			}
		}
		if (idx == nkeys || seen[idx]) {
			rc = MM_ERR_PARSE;
			goto out;
		}
		seen[idx] = 1;
		if ((rc = decode_value(&out->v[idx], &r)) != MM_OK)
			goto out;
	}
	if (r.n != 0)
		rc = MM_ERR_PARSE;
out:
	free(seen);
	if (rc != MM_OK)
		mm_cfg_values_free(out);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Roles */

const char *
mm_role_name(int role)
{
	switch (role) {
	case MM_ROLE_UTM:
		return "utm";
	case MM_ROLE_PC:
		return "pc";
	default:
		return "unknown";
	}
}

static int
read_small(char *buf, size_t len, const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

static int
no_dot(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/*
 * An interface counts when it is up, not a loopback and backed by a device:
 * virtual interfaces (docker0, veth, tun, bridges) have no "device" entry,
 * and ordinary PCs running Docker or a VPN client enable forwarding too.
 * A bridge's ports are physical, so a bridged LAN still counts.
 */
static int
iface_counts(const char *root, const char *name)
{
	char path[PATH_MAX], buf[64];
	unsigned long flags;
	char *end;
	struct stat st;

	if (strcmp(name, "lo") == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/sys/class/net/%s/device", root, name);
	if (lstat(path, &st) != 0)
		return 0;
	snprintf(path, sizeof(path), "%s/sys/class/net/%s/flags", root, name);
	if (read_small(buf, sizeof(buf), path) == 0) {
		errno = 0;
		flags = strtoul(buf, &end, 16);
		if (errno != 0 || end == buf)
			return 0;
		/* IFF_UP and not IFF_LOOPBACK. */
		return (flags & 0x1) && !(flags & 0x8);
	}
	snprintf(path, sizeof(path), "%s/sys/class/net/%s/operstate", root, name);
	if (read_small(buf, sizeof(buf), path) == 0)
		return strncmp(buf, "up", 2) == 0;
	return 0;
}

static int
role_detect(void)
{
	const char *root = getenv("MM_ROLE_PROC_ROOT");
	char path[PATH_MAX], buf[16];
	struct dirent **ents = NULL;
	int n, i, up = 0;

	if (root == NULL)
		root = "";
	snprintf(path, sizeof(path), "%s/proc/sys/net/ipv4/ip_forward", root);
	if (read_small(buf, sizeof(buf), path) != 0 || buf[0] != '1')
		return MM_ROLE_PC;
	snprintf(path, sizeof(path), "%s/sys/class/net", root);
	n = scandir(path, &ents, no_dot, alphasort);
	if (n < 0)
		return MM_ROLE_PC;
	for (i = 0; i < n; i++) {
		if (i < NET_IFACES_MAX && up < 2 && iface_counts(root, ents[i]->d_name))
			up++;
		free(ents[i]);
	}
	free(ents);
	return up >= 2 ? MM_ROLE_UTM : MM_ROLE_PC;
}

int
mm_role_resolve(const char *text)
{
	if (text == NULL)
		return MM_ERR_INVAL;
	if (strcmp(text, "utm") == 0)
		return MM_ROLE_UTM;
	if (strcmp(text, "pc") == 0)
		return MM_ROLE_PC;
	if (strcmp(text, "auto") == 0)
		return role_detect();
	return MM_ERR_INVAL;
}

/* ------------------------------------------------------------------------ */
/* Loading */

static const struct mm_cfg_key sensor_keys[] = {
        {"id", MM_CFG_STRING, NULL, 0, -1, 0, "Sensor id; the host name when unset."},
        {"host", MM_CFG_STRING, NULL, 0, -1, 0, "Host name reported in events."},
        {"site", MM_CFG_STRING, "", 0, -1, 0, "Free text naming the site."},
        {"role", MM_CFG_STRING, "auto", 0, -1, 0, "utm, pc or auto."},
};

static const struct mm_cfg_key host_keys[] = {
        {"state_dir", MM_CFG_STRING, NULL, 0, -1, 0, "Persistent state directory."},
        {"run_dir", MM_CFG_STRING, NULL, 0, -1, 0, "Runtime directory (sockets)."},
        {"log_level", MM_CFG_STRING, "info", 0, -1, 0, "error, warn, info or debug."},
        {"user", MM_CFG_STRING, "", 0, -1, 0, "Unprivileged user for workers."},
};

static const struct mm_cfg_key module_keys[] = {
        {"enabled", MM_CFG_BOOL, "false", 0, -1, 0, "Run this module."},
        {"watchdog_sec", MM_CFG_INT, "10", 0, 3600, 0, "Heartbeat timeout, 0 disables."},
        {"restart_max_sec", MM_CFG_INT, "60", 1, 3600, 0, "Cap of the restart back-off."},
        {"queue_max", MM_CFG_INT, "100000", 1, 10000000, 0, "Events kept while away."},
        {"queue_policy", MM_CFG_STRING, "block", 0, -1, 0, "block or drop_oldest."},
};

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

static const char *const module_reserved[] = {"enabled",   "watchdog_sec", "restart_max_sec",
                                              "queue_max", "queue_policy", NULL};

static const char *const top_level[] = {"sensor", "host", "aggregator", "modules", NULL};

struct loader {
	struct mm_config *cfg;
	struct mm_diag *diag;
	int errors;
	int nomem;
	const config_setting_t *sensor, *host;
};

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
lerr(struct loader *ld, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(ld->diag, file, line, fmt, ap);
	va_end(ap);
	ld->errors++;
}

static int
conf_name(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > 5 && strcmp(e->d_name + n - 5, ".conf") == 0;
}

static char *
str_or(const struct mm_cfg_value *v, const char *fallback)
{
	return xstrdup(v != NULL && v->s != NULL ? v->s : fallback);
}

/* Canonical text of a module's settings: equal settings, equal digests. */
static char *
module_digest(const struct mm_module_conf *m)
{
	struct mm_buf b = MM_BUF_INIT;
	const struct mm_cfg_value *v;
	size_t i, j;
	int rc = MM_OK;
	char *out = NULL;

	rc |= mm_buf_printf(&b, "module=%zu:%s\n", strlen(m->name), m->name);
	rc |= mm_buf_printf(&b, "enabled=%d\nwatchdog_sec=%lld\nrestart_max_sec=%lld\n", m->enabled,
	                    (long long)m->watchdog_sec, (long long)m->restart_max_sec);
	rc |= mm_buf_printf(&b, "queue_max=%lld\nqueue_policy=%zu:%s\n", (long long)m->queue_max,
	                    strlen(m->queue_policy ? m->queue_policy : ""),
	                    m->queue_policy ? m->queue_policy : "");
	for (i = 0; i < m->values.n; i++) {
		v = &m->values.v[i];
		/* Lengths in front of strings keep "a,b" and "a","b" apart. */
		rc |= mm_buf_printf(&b, "%s=", v->key->name ? v->key->name : "");
		switch (v->key->type) {
		case MM_CFG_BOOL:
		case MM_CFG_INT:
			rc |= mm_buf_printf(&b, "i%lld", (long long)v->i);
			break;
		case MM_CFG_DOUBLE:
			rc |= mm_buf_printf(&b, "d%.17g", v->d);
			break;
		case MM_CFG_STRING:
			if (v->s == NULL)
				rc |= mm_buf_puts(&b, "nil");
			else
				rc |= mm_buf_printf(&b, "s%zu:%s", strlen(v->s), v->s);
			break;
		case MM_CFG_STRING_LIST:
			rc |= mm_buf_printf(&b, "l%zu", v->nlist);
			for (j = 0; j < v->nlist; j++)
				rc |= mm_buf_printf(&b, ",%zu:%s", strlen(v->list[j]), v->list[j]);
			break;
		default:
			break;
		}
		rc |= mm_buf_putc(&b, '\n');
	}
	if (rc == MM_OK)
		out = xstrdup(mm_buf_cstr(&b));
	mm_buf_free(&b);
	return out;
}

static void
module_conf_free(struct mm_module_conf *m)
{
	free(m->name);
	free(m->file);
	free(m->queue_policy);
	free(m->digest);
	mm_cfg_values_free(&m->values);
}

static void
load_module(struct loader *ld, const config_setting_t *g)
{
	struct mm_config *cfg = ld->cfg;
	const char *name = config_setting_name(g);
	const char *file = setting_file(g, NULL);
	const struct mm_cfg_value *v;
	struct mm_module_conf *m, *mods;
	struct mm_cfg_values vals;
	struct vctx vc;
	char what[128];
	size_t i;

	if (name == NULL)
		return;
	for (i = 0; i < cfg->nmodules; i++) {
		if (strcmp(cfg->modules[i].name, name) == 0) {
			lerr(ld, file, setting_line(g), "module '%s' is also configured in %s:%d",
			     name, cfg->modules[i].file ? cfg->modules[i].file : "?",
			     cfg->modules[i].line);
			return;
		}
	}
	if (!config_setting_is_group(g)) {
		lerr(ld, file, setting_line(g), "module '%s' must be a group, not %s", name,
		     type_found(g));
		return;
	}
	if (cfg->nmodules >= MODULES_MAX) {
		lerr(ld, file, setting_line(g), "more than %d modules", MODULES_MAX);
		return;
	}
	snprintf(what, sizeof(what), "module '%s'", name);
	memset(&vc, 0, sizeof(vc));
	vc.what = what;
	vc.file = file;
	vc.line = setting_line(g);
	vc.ignore_unknown = 1; /* the plugin's keys are checked in mm_config_validate */
	vc.diag = ld->diag;
	if (validate(&vals, g, module_keys, NKEYS(module_keys), NULL, &vc) != MM_OK) {
		ld->nomem = 1;
		return;
	}
	ld->errors += vc.errors;
	v = mm_cfg_values_find(&vals, "queue_policy");
	if (v->s == NULL || (strcmp(v->s, "block") != 0 && strcmp(v->s, "drop_oldest") != 0)) {
		lerr(ld, v->file, v->line, "%s: queue_policy '%s' is not one of block, drop_oldest",
		     what, v->s ? v->s : "");
	}
	mods = realloc(cfg->modules, (cfg->nmodules + 1) * sizeof(*mods));
	if (mods == NULL) {
		mm_cfg_values_free(&vals);
		ld->nomem = 1;
		return;
	}
	cfg->modules = mods;
	m = &cfg->modules[cfg->nmodules];
	memset(m, 0, sizeof(*m));
	m->name = xstrdup(name);
	m->file = xstrdup(file);
	m->line = setting_line(g);
	m->enabled = mm_cfg_values_find(&vals, "enabled")->i != 0;
	m->watchdog_sec = mm_cfg_values_find(&vals, "watchdog_sec")->i;
	m->restart_max_sec = mm_cfg_values_find(&vals, "restart_max_sec")->i;
	m->queue_max = mm_cfg_values_find(&vals, "queue_max")->i;
	m->queue_policy = str_or(mm_cfg_values_find(&vals, "queue_policy"), "block");
	m->group = g;
	mm_cfg_values_free(&vals);
	cfg->nmodules++;
	if (m->name == NULL || (file != NULL && m->file == NULL) || m->queue_policy == NULL) {
		ld->nomem = 1;
		return;
	}
	m->digest = module_digest(m);
	if (m->digest == NULL)
		ld->nomem = 1;
}

/* One "first seen" slot of sensor, host or aggregator. */
static void
load_single(struct loader *ld, const config_setting_t **slot, const config_setting_t *s)
{
	const char *name = config_setting_name(s);

	if (*slot != NULL) {
		lerr(ld, setting_file(s, NULL), setting_line(s),
		     "duplicate '%s' group (first in %s:%d)", name, setting_file(*slot, "?"),
		     setting_line(*slot));
		return;
	}
	if (!config_setting_is_group(s)) {
		lerr(ld, setting_file(s, NULL), setting_line(s), "'%s' must be a group, not %s",
		     name, type_found(s));
		return;
	}
	*slot = s;
}

static void
load_root(struct loader *ld, const config_t *c, const char *path)
{
	const config_setting_t *root = config_root_setting(c), *s, *m;
	struct suggest sg;
	const char *name;
	int n, i, k, nm;

	n = root ? config_setting_length(root) : 0;
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(root, (unsigned)i);
		if (s == NULL || (name = config_setting_name(s)) == NULL)
			continue;
		if (strcmp(name, "sensor") == 0) {
			load_single(ld, &ld->sensor, s);
		} else if (strcmp(name, "host") == 0) {
			load_single(ld, &ld->host, s);
		} else if (strcmp(name, "aggregator") == 0) {
			load_single(ld, &ld->cfg->aggregator, s);
			if (ld->cfg->aggregator == s)
				ld->cfg->aggregator_file = setting_file(s, path);
		} else if (strcmp(name, "modules") == 0) {
			if (!config_setting_is_group(s)) {
				lerr(ld, setting_file(s, path), setting_line(s),
				     "'modules' must be a group, not %s", type_found(s));
				continue;
			}
			nm = config_setting_length(s);
			for (k = 0; k < nm && !ld->nomem; k++) {
				m = config_setting_get_elem(s, (unsigned)k);
				if (m != NULL)
					load_module(ld, m);
			}
		} else {
			sg.best = NULL;
			sg.dist = SIZE_MAX;
			for (k = 0; top_level[k] != NULL; k++)
				suggest_try(&sg, name, top_level[k]);
			if (sg.best != NULL)
				lerr(ld, setting_file(s, path), setting_line(s),
				     "unknown top-level setting '%s' (did you mean '%s'?)", name,
				     sg.best);
			else
				lerr(ld, setting_file(s, path), setting_line(s),
				     "unknown top-level setting '%s' (expected sensor, host, "
				     "aggregator or modules)",
				     name);
		}
	}
}

static const char *
hostname(char *buf, size_t len)
{
	if (gethostname(buf, len - 1) != 0)
		snprintf(buf, len, "localhost");
	buf[len - 1] = '\0';
	return buf;
}

/* sensor = { ... } and host = { ... }, with their defaults. */
static void
load_host_groups(struct loader *ld, const char *default_state_dir, const char *default_run_dir)
{
	struct mm_config *cfg = ld->cfg;
	struct mm_cfg_values sv = {NULL, 0}, hv = {NULL, 0};
	const struct mm_cfg_value *v;
	struct vctx vc;
	char host[256];
	static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
	size_t i;

	memset(&vc, 0, sizeof(vc));
	vc.what = "sensor";
	vc.file = setting_file(ld->sensor, NULL);
	vc.line = setting_line(ld->sensor);
	vc.diag = ld->diag;
	if (validate(&sv, ld->sensor, sensor_keys, NKEYS(sensor_keys), NULL, &vc) != MM_OK)
		goto nomem;
	vc.what = "host";
	vc.file = setting_file(ld->host, NULL);
	vc.line = setting_line(ld->host);
	if (validate(&hv, ld->host, host_keys, NKEYS(host_keys), NULL, &vc) != MM_OK)
		goto nomem;
	ld->errors += vc.errors;

	hostname(host, sizeof(host));
	cfg->sensor_id = str_or(mm_cfg_values_find(&sv, "id"), host);
	cfg->sensor_host = str_or(mm_cfg_values_find(&sv, "host"), host);
	cfg->sensor_site = str_or(mm_cfg_values_find(&sv, "site"), "");
	cfg->role_text = str_or(mm_cfg_values_find(&sv, "role"), "auto");
	v = mm_cfg_values_find(&sv, "id");
	if (v->set && v->s[0] == '\0')
		lerr(ld, v->file, v->line, "sensor: id must not be empty");
	v = mm_cfg_values_find(&sv, "role");
	if (cfg->role_text != NULL) {
		cfg->role = mm_role_resolve(cfg->role_text);
		if (cfg->role < 0) {
			cfg->role = 0;
			lerr(ld, v->file, v->line, "sensor: role '%s' is not one of utm, pc, auto",
			     cfg->role_text);
		}
	}

	cfg->state_dir = str_or(mm_cfg_values_find(&hv, "state_dir"), default_state_dir);
	cfg->run_dir = str_or(mm_cfg_values_find(&hv, "run_dir"), default_run_dir);
	cfg->log_level = str_or(mm_cfg_values_find(&hv, "log_level"), "info");
	cfg->user = str_or(mm_cfg_values_find(&hv, "user"), "");
	v = mm_cfg_values_find(&hv, "state_dir");
	if (v->set && v->s[0] == '\0')
		lerr(ld, v->file, v->line, "host: state_dir must not be empty");
	v = mm_cfg_values_find(&hv, "run_dir");
	if (v->set && v->s[0] == '\0')
		lerr(ld, v->file, v->line, "host: run_dir must not be empty");
	v = mm_cfg_values_find(&hv, "log_level");
	if (cfg->log_level != NULL) {
		for (i = 0; levels[i] != NULL; i++)
			if (strcmp(levels[i], cfg->log_level) == 0)
				break;
		if (levels[i] == NULL)
			lerr(ld, v->file, v->line,
			     "host: log_level '%s' is not one of error, warn, info, debug",
			     cfg->log_level);
	}
	if (cfg->sensor_id == NULL || cfg->sensor_host == NULL || cfg->sensor_site == NULL ||
	    cfg->role_text == NULL || cfg->log_level == NULL || cfg->user == NULL ||
	    (default_state_dir != NULL && cfg->state_dir == NULL) ||
	    (default_run_dir != NULL && cfg->run_dir == NULL))
		ld->nomem = 1;
	mm_cfg_values_free(&sv);
	mm_cfg_values_free(&hv);
	return;
nomem:
	ld->nomem = 1;
	mm_cfg_values_free(&sv);
	mm_cfg_values_free(&hv);
}

/*
 * libconfig names settings of an @include'd file by the name written in the
 * @include line, while it opened the file relative to the include directory.
 * Diagnostics and the settings' file names should be paths a person can
 * open, so those names are replaced by dir/name: in the config's own list
 * (which config_destroy frees) and in every setting pointing at them.
 */
static void
repoint(config_setting_t *s, const char *old, const char *new_name)
{
	unsigned i, n;

	/* Every setting must be visited (the old name is freed after), so no
	 * depth cut-off here: libconfig's parser already bounds the nesting,
	 * and config_destroy recurses the same way. */
	if (s->file == old)
		s->file = new_name;
	if (!config_setting_is_aggregate(s))
		return;
	n = (unsigned)config_setting_length(s);
	for (i = 0; i < n; i++)
		repoint(config_setting_get_elem(s, i), old, new_name);
}

static int
include_paths(config_t *c, const char *dir, const char *main_path)
{
	unsigned k;
	char *full;

	for (k = 0; k < c->num_filenames; k++) {
		const char *name = c->filenames[k];

		if (name == NULL || name == main_path || strcmp(name, main_path) == 0 ||
		    name[0] == '/')
			continue;
		if (asprintf(&full, "%s/%s", dir, name) < 0)
			return MM_ERR_NOMEM;
		repoint(config_root_setting(c), name, full);
		c->filenames[k] = full;
		free((void *)name);
	}
	return MM_OK;
}

/* The path of a file named in a libconfig error, as include_paths makes it. */
static const char *
error_path(char *buf, size_t len, const config_t *c, const char *dir, const char *main_path)
{
	const char *f = config_error_file(c);

	if (f == NULL || strcmp(f, main_path) == 0)
		return main_path;
	if (f[0] == '/')
		return f;
	snprintf(buf, len, "%s/%s", dir, f);
	return buf;
}

/* Parse one file; returns 1 when it parsed, 0 after reporting why not. */
static int
read_one(struct loader *ld, config_t *c, const char *dir, const char *path)
{
	char buf[PATH_MAX];

	if (config_read_file(c, path)) {
		if (include_paths(c, dir, path) != MM_OK)
			ld->nomem = 1;
		return 1;
	}
	if (config_error_type(c) == CONFIG_ERR_FILE_IO && config_error_file(c) == NULL)
		lerr(ld, path, 0, "cannot read: %s", errno ? strerror(errno) : "file I/O error");
	else
		lerr(ld, error_path(buf, sizeof(buf), c, dir, path), config_error_line(c), "%s",
		     config_error_text(c) ? config_error_text(c) : "syntax error");
	return 0;
}

int
mm_config_load(struct mm_config **out, const char *dir, const char *default_state_dir,
               const char *default_run_dir, struct mm_diag *diag)
{
	struct mm_config *cfg;
	struct loader ld;
	struct dirent **ents = NULL;
	struct stat st;
	char *path = NULL;
	int n = 0, i, skip;
	size_t dlen;
	unsigned char *parsed = NULL;

	if (out == NULL || dir == NULL)
		return MM_ERR_INVAL;
	*out = NULL;
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		return MM_ERR_NOMEM;
	*out = cfg;
	memset(&ld, 0, sizeof(ld));
	ld.cfg = cfg;
	ld.diag = diag;
	cfg->dir = xstrdup(dir);
	if (cfg->dir == NULL) {
		ld.nomem = 1;
		goto out;
	}

	n = scandir(dir, &ents, conf_name, alphasort);
	if (n < 0) {
		lerr(&ld, dir, 0, "cannot read the configuration directory: %s", strerror(errno));
		n = 0;
		ents = NULL;
		goto groups;
	}
	if (n > CONF_FILES_MAX) {
		lerr(&ld, dir, 0, "more than %d *.conf files", CONF_FILES_MAX);
		goto groups;
	}
	cfg->files = calloc(n ? (size_t)n : 1, sizeof(*cfg->files));
	cfg->file_names = calloc(n ? (size_t)n : 1, sizeof(*cfg->file_names));
	parsed = calloc(n ? (size_t)n : 1, 1);
	if (cfg->files == NULL || cfg->file_names == NULL || parsed == NULL) {
		ld.nomem = 1;
		goto out;
	}
	dlen = strlen(dir);
	for (i = 0; i < n; i++) {
		path = malloc(dlen + strlen(ents[i]->d_name) + 2);
		if (path == NULL) {
			ld.nomem = 1;
			goto out;
		}
		sprintf(path, "%s%s%s", dir, dlen && dir[dlen - 1] == '/' ? "" : "/",
		        ents[i]->d_name);
		skip = 1;
		if (stat(path, &st) != 0)
			lerr(&ld, path, 0, "cannot read: %s", strerror(errno));
		else if (S_ISREG(st.st_mode) && st.st_size > (off_t)CONF_FILE_SIZE_MAX)
			lerr(&ld, path, 0, "file is larger than %u bytes", CONF_FILE_SIZE_MAX);
		else
			skip = !S_ISREG(st.st_mode); /* directories named *.conf are not read */
		if (skip) {
			free(path);
			path = NULL;
			continue;
		}
		errno = 0;
		config_init(&cfg->files[cfg->nfiles]);
		config_set_include_dir(&cfg->files[cfg->nfiles], dir);
		cfg->file_names[cfg->nfiles] = path;
		path = NULL;
		parsed[cfg->nfiles] =
		        read_one(&ld, &cfg->files[cfg->nfiles], dir, cfg->file_names[cfg->nfiles]);
		cfg->nfiles++;
	}
	for (i = 0; i < (int)cfg->nfiles && !ld.nomem; i++)
		if (parsed[i])
			load_root(&ld, &cfg->files[i], cfg->file_names[i]);
groups:
	if (!ld.nomem)
		load_host_groups(&ld, default_state_dir, default_run_dir);
out:
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	free(parsed);
	free(path);
	if (ld.nomem)
		return MM_ERR_NOMEM;
	return ld.errors ? MM_ERR_CONFIG : MM_OK;
}

/* ------------------------------------------------------------------------ */
/* Validating modules against plugins */

static const struct mm_plugin_info *
plugin_find(struct mm_plugin_info *const *plugins, size_t n, const char *name)
{
	const struct mm_plugin_info *found = NULL;
	size_t i;

	/* A usable plugin wins over a refused file of the same name. */
	for (i = 0; i < n; i++) {
		if (plugins[i] == NULL || plugins[i]->name == NULL ||
		    strcmp(plugins[i]->name, name) != 0)
			continue;
		if (plugins[i]->refused == NULL)
			return plugins[i];
		if (found == NULL)
			found = plugins[i];
	}
	return found;
}

static void
roles_text(char *buf, size_t len, uint32_t roles)
{
	buf[0] = '\0';
	if (roles & MM_ROLE_UTM)
		snprintf(buf, len, "utm");
	if (roles & MM_ROLE_PC)
		snprintf(buf + strlen(buf), len - strlen(buf), "%spc", buf[0] ? ", " : "");
	if (buf[0] == '\0')
		snprintf(buf, len, "none");
}

int
mm_config_validate(struct mm_config *cfg, struct mm_plugin_info *const *plugins, size_t n,
                   struct mm_diag *diag)
{
	const struct mm_plugin_info *p;
	struct mm_module_conf *m;
	struct vctx vc;
	char what[128], roles[32];
	size_t i, k;
	int errors = 0, rc;

	if (cfg == NULL || (plugins == NULL && n > 0))
		return MM_ERR_INVAL;
	for (i = 0; i < cfg->nmodules; i++) {
		m = &cfg->modules[i];
		mm_cfg_values_free(&m->values);
		m->plugin = NULL;
		p = plugin_find(plugins, n, m->name);
		if (p == NULL) {
			mm_diag_add(diag, m->file, m->line,
			            "no plugin named '%s' (see mimamori plugins)", m->name);
			errors++;
			continue;
		}
		m->plugin = p;
		if (p->refused != NULL) {
			if (m->enabled) {
				mm_diag_add(
				        diag, m->file, m->line,
				        "module '%s' is enabled but its plugin %s was refused: %s",
				        m->name, p->path ? p->path : "?", p->refused);
				errors++;
			}
			continue;
		}
		if (m->enabled && cfg->role != 0 && !(p->roles & (uint32_t)cfg->role)) {
			roles_text(roles, sizeof(roles), p->roles);
			mm_diag_add(diag, m->file, m->line,
			            "module '%s' does not support role '%s' (supports: %s)",
			            m->name, mm_role_name(cfg->role), roles);
			errors++;
		}
		snprintf(what, sizeof(what), "module '%s'", m->name);
		memset(&vc, 0, sizeof(vc));
		vc.what = what;
		vc.plugin = p->name;
		vc.file = m->file;
		vc.line = m->line;
		vc.check_required = m->enabled;
		vc.diag = diag;
		for (k = 0; k < p->nkeys && p->keys != NULL; k++) {
			if (p->keys[k].name == NULL || p->keys[k].name[0] == '\0') {
				mm_diag_add(diag, m->file, m->line,
				            "plugin '%s' declares a key without a name", p->name);
				errors++;
			} else if (is_reserved(p->keys[k].name, module_reserved)) {
				mm_diag_add(
				        diag, m->file, m->line,
				        "plugin '%s' declares key '%s', which the host reserves",
				        p->name, p->keys[k].name);
				errors++;
			}
		}
		rc = validate(&m->values, m->group, p->keys, p->nkeys, module_reserved, &vc);
		if (rc != MM_OK) {
			if (rc == MM_ERR_INVAL) {
				mm_diag_add(diag, m->file, m->line,
				            "plugin '%s' declares %zu keys, more than %d", p->name,
				            p->nkeys, KEYS_MAX);
				errors++;
				continue;
			}
			return rc;
		}
		errors += vc.errors;
		free(m->digest);
		m->digest = module_digest(m);
		if (m->digest == NULL)
			return MM_ERR_NOMEM;
	}
	return errors ? MM_ERR_CONFIG : MM_OK;
}

const struct mm_module_conf *
mm_config_module(const struct mm_config *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->nmodules; i++)
		if (strcmp(cfg->modules[i].name, name) == 0)
			return &cfg->modules[i];
	return NULL;
}

void
mm_config_free(struct mm_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nmodules; i++)
		module_conf_free(&cfg->modules[i]);
	free(cfg->modules);
	for (i = 0; i < cfg->nfiles; i++) {
		config_destroy(&cfg->files[i]);
		free(cfg->file_names[i]);
	}
	free(cfg->files);
	free(cfg->file_names);
	free(cfg->dir);
	free(cfg->sensor_id);
	free(cfg->sensor_host);
	free(cfg->sensor_site);
	free(cfg->role_text);
	free(cfg->state_dir);
	free(cfg->run_dir);
	free(cfg->log_level);
	free(cfg->user);
	free(cfg);
}
