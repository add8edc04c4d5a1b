/*
 * YARA rule sets for the attach plugin: compiles rule files and directories
 * once into a shared, reference-counted YR_RULES, and scans buffers with
 * scanners taken from a small pool kept with the rules (creating a scanner
 * costs as much as scanning a small attachment, and a scanner serves one
 * thread at a time, so several threads can scan at once) with per-file
 * timeouts and the external variables our rules and the public sets use.
 * Runs in the attach worker.
 *
 * Every file is first compiled alone: YARA's compiler cannot continue after
 * an error, and this way a broken file is named with its line and the rest
 * still loads (lenient paths) or the whole load is refused and the caller
 * keeps its previous rules (strict paths).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mimamori/error.h>
#include <yara.h>

#include "attach_core.h"

#define MAX_RULE_FILES 4096
#define MAX_IDLE_SCANNERS 16

struct mm_rules {
	YR_RULES *rules;
	atomic_int refs;
	size_t nrules;
	size_t nfiles;
	/* Idle scanners, reused across scans. */
	pthread_mutex_t pool_lock;
	YR_SCANNER *idle[MAX_IDLE_SCANNERS];
	size_t nidle;
};

static pthread_mutex_t yr_lock = PTHREAD_MUTEX_INITIALIZER;
static int yr_users;

static int
yara_up(void)
{
	int rc = MM_OK;
	pthread_mutex_lock(&yr_lock);
	if (yr_users == 0 && yr_initialize() != ERROR_SUCCESS)
		rc = MM_ERR_NOMEM;
	if (rc == MM_OK)
		yr_users++;
	pthread_mutex_unlock(&yr_lock);
	return rc;
}

static void
yara_down(void)
{
	pthread_mutex_lock(&yr_lock);
	if (yr_users > 0 && --yr_users == 0)
		yr_finalize();
	pthread_mutex_unlock(&yr_lock);
}

struct report_ctx {
	mm_rules_report_cb cb;
	void *user;
	const char *file;
	int errors;
};

static void
compiler_cb(int level, const char *file, int line, const YR_RULE *rule, const char *msg, void *user)
{
	struct report_ctx *r = user;
	if (level != YARA_ERROR_LEVEL_ERROR)
		return;
	r->errors++;
	if (r->cb != NULL)
		r->cb(r->user, file ? file : r->file, line, msg);
}

static int
define_vars(YR_COMPILER *c)
{
	/* Ours, plus the names signature-base and Yara-Rules expect from
	 * their own scanners (THOR, LOKI). */
	static const char *names[] = {"filename",       "filepath",     "extension",
	                              "filetype",       "owner",        "mime",
	                              "container_path", "mail_subject", NULL};
	for (int i = 0; names[i]; i++)
		if (yr_compiler_define_string_variable(c, names[i], "") != ERROR_SUCCESS)
			return MM_ERR_NOMEM;
	return MM_OK;
}

static int
is_rule_file(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot && (strcmp(dot, ".yar") == 0 || strcmp(dot, ".yara") == 0);
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects rule files under path (a file or a directory tree), sorted so
 * the load order is stable. */
static void
collect(char ***files, size_t *n, const char *path, int depth)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	size_t first = *n;

	if (stat(path, &st) != 0 || depth > 8)
		return;
	if (!S_ISDIR(st.st_mode)) {
		char **nf;
		if (*n >= MAX_RULE_FILES)
			return;
		nf = realloc(*files, (*n + 1) * sizeof(*nf));
		if (nf == NULL)
			return;
		*files = nf;
		(*files)[*n] = strdup(path);
		if ((*files)[*n] != NULL)
			(*n)++;
		return;
	}
	d = opendir(path);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char sub[4096];
		struct stat st2;
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (stat(sub, &st2) != 0)
			continue;
		if (S_ISDIR(st2.st_mode) || is_rule_file(de->d_name))
			collect(files, n, sub, depth + 1);
	}
	closedir(d);
	if (*n > first)
		qsort(*files + first, *n - first, sizeof(char *), cmpstr);
}

/* Compiles one file alone: 0 if it is fine. */
static int
try_file(const char *file, struct report_ctx *r)
{
	YR_COMPILER *c = NULL;
	FILE *f;
	int errs;

	if (yr_compiler_create(&c) != ERROR_SUCCESS)
		return -1;
	define_vars(c);
	r->file = file;
	r->errors = 0;
	yr_compiler_set_callback(c, compiler_cb, r);
	f = fopen(file, "r");
	if (f == NULL) {
		if (r->cb)
			r->cb(r->user, file, 0, "cannot open file");
		yr_compiler_destroy(c);
		return -1;
	}
	errs = yr_compiler_add_file(c, f, NULL, file);
	fclose(f);
	yr_compiler_destroy(c);
	return errs > 0 || r->errors > 0 ? -1 : 0;
}

int
mm_rules_load(struct mm_rules **out, const char *const *strict, size_t nstrict,
              const char *const *lenient, size_t nlenient, mm_rules_report_cb report, void *user)
{
	char **files = NULL;
	size_t nfiles = 0, nstrict_files, used = 0;
	YR_COMPILER *c = NULL;
	struct report_ctx r = {report, user, NULL, 0};
	struct mm_rules *rs = NULL;
	int rc = MM_ERR_CONFIG, failed = 0;
	uint8_t *bad = NULL;

	*out = NULL;
	if (yara_up() != MM_OK)
		return MM_ERR_NOMEM;
	for (size_t i = 0; i < nstrict; i++)
		collect(&files, &nfiles, strict[i], 0);
	nstrict_files = nfiles;
	for (size_t i = 0; i < nlenient; i++)
		collect(&files, &nfiles, lenient[i], 0);

	bad = calloc(nfiles ? nfiles : 1, 1);
	if (bad == NULL) {
		rc = MM_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < nfiles; i++) {
		if (try_file(files[i], &r) != 0) {
			bad[i] = 1;
			if (i < nstrict_files)
				failed = 1;
		}
	}
	/* Files that compile alone can still clash when combined (an include
	 * defining a rule twice): the compiler is then unusable, so the
	 * offending lenient file is dropped and the set compiled again, at
	 * most once per file. */
	for (size_t attempt = 0; !failed && attempt <= nfiles; attempt++) {
		size_t clash = SIZE_MAX;
		if (c != NULL)
			yr_compiler_destroy(c);
		c = NULL;
		used = 0;
		if (yr_compiler_create(&c) != ERROR_SUCCESS || define_vars(c) != MM_OK) {
			rc = MM_ERR_NOMEM;
			goto out;
		}
		yr_compiler_set_callback(c, compiler_cb, &r);
		for (size_t i = 0; i < nfiles && clash == SIZE_MAX; i++) {
			char ns[256];
			const char *base = strrchr(files[i], '/');
			FILE *f;
			if (bad[i])
				continue;
			f = fopen(files[i], "r");
			if (f == NULL)
				continue;
			/* One namespace per file: public sets reuse rule names. */
			snprintf(ns, sizeof(ns), "%s", base ? base + 1 : files[i]);
			if (strrchr(ns, '.') != NULL)
				*strrchr(ns, '.') = 0;
			r.file = files[i];
			r.errors = 0;
			if (yr_compiler_add_file(c, f, ns, files[i]) > 0)
				clash = i;
			else
				used++;
			fclose(f);
		}
		if (clash == SIZE_MAX)
			break;
		bad[clash] = 1;
		if (clash < nstrict_files)
			failed = 1;
	}
	if (failed)
		goto out;
	rs = calloc(1, sizeof(*rs));
	if (rs == NULL) {
		rc = MM_ERR_NOMEM;
		goto out;
	}
	if (yr_compiler_get_rules(c, &rs->rules) != ERROR_SUCCESS) {
		free(rs);
		rs = NULL;
		rc = MM_ERR_NOMEM;
		goto out;
	}
	atomic_init(&rs->refs, 1);
	pthread_mutex_init(&rs->pool_lock, NULL);
	rs->nfiles = used;
	{
		const YR_RULE *rule;
		yr_rules_foreach(rs->rules, rule)
		{
			rs->nrules++;
		}
	}
	*out = rs;
	rc = MM_OK;
out:
	if (c != NULL)
		yr_compiler_destroy(c);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	free(bad);
	if (rc != MM_OK)
		yara_down();
	return rc;
}

struct mm_rules *
mm_rules_ref(struct mm_rules *rules)
{
	if (rules != NULL)
		atomic_fetch_add(&rules->refs, 1);
	return rules;
}

void
mm_rules_free(struct mm_rules *rules)
{
	if (rules == NULL)
		return;
	if (atomic_fetch_sub(&rules->refs, 1) != 1)
		return;
	for (size_t i = 0; i < rules->nidle; i++)
		yr_scanner_destroy(rules->idle[i]);
	pthread_mutex_destroy(&rules->pool_lock);
	yr_rules_destroy(rules->rules);
	free(rules);
	yara_down();
}

size_t
mm_rules_count(const struct mm_rules *rules)
{
	return rules ? rules->nrules : 0;
}

size_t
mm_rules_files(const struct mm_rules *rules)
{
	return rules ? rules->nfiles : 0;
}

struct scan_ctx {
	mm_rules_match_cb cb;
	void *user;
};

static int
scan_cb(YR_SCAN_CONTEXT *sc, int msg, void *data, void *user)
{
	struct scan_ctx *s = user;
	if (msg == CALLBACK_MSG_RULE_MATCHING) {
		YR_RULE *rule = data;
		const char *tag;
		const YR_META *meta;
		char tags[256] = "";
		const char *desc = NULL;
		size_t o = 0;
		yr_rule_tags_foreach(rule, tag)
		{
			int w = snprintf(tags + o, sizeof(tags) - o, "%s%s", o ? "," : "", tag);
			if (w < 0 || (size_t)w >= sizeof(tags) - o)
				break;
			o += (size_t)w;
		}
		yr_rule_metas_foreach(rule, meta)
		{
			if (meta->type == META_TYPE_STRING &&
			    strcmp(meta->identifier, "description") == 0)
				desc = meta->string;
		}
		s->cb(s->user, rule->ns->name, rule->identifier, tags, desc);
	}
	return CALLBACK_CONTINUE;
}

int
mm_rules_scan(struct mm_rules *rules, const uint8_t *data, size_t len,
              const struct mm_rules_vars *vars, int timeout_s, mm_rules_match_cb cb, void *user)
{
	YR_SCANNER *sc = NULL;
	struct scan_ctx s = {cb, user};
	const char *ext = "";
	int rc;

	if (rules == NULL)
		return MM_OK;
	pthread_mutex_lock(&rules->pool_lock);
	if (rules->nidle > 0)
		sc = rules->idle[--rules->nidle];
	pthread_mutex_unlock(&rules->pool_lock);
	if (sc == NULL && yr_scanner_create(rules->rules, &sc) != ERROR_SUCCESS)
		return MM_ERR_NOMEM;
	if (vars->filename != NULL) {
		const char *dot = strrchr(vars->filename, '.');
		ext = dot ? dot : "";
	}
	yr_scanner_define_string_variable(sc, "filename", vars->filename ? vars->filename : "");
	yr_scanner_define_string_variable(sc, "filepath", vars->path ? vars->path : "");
	yr_scanner_define_string_variable(sc, "extension", ext);
	yr_scanner_define_string_variable(sc, "mime", vars->mime ? vars->mime : "");
	yr_scanner_define_string_variable(sc, "container_path", vars->path ? vars->path : "");
	yr_scanner_define_string_variable(sc, "mail_subject", vars->subject ? vars->subject : "");
	yr_scanner_set_callback(sc, scan_cb, &s);
	yr_scanner_set_timeout(sc, timeout_s > 0 ? timeout_s : 10);
	rc = yr_scanner_scan_mem(sc, data, len);
	pthread_mutex_lock(&rules->pool_lock);
	if (rules->nidle < MAX_IDLE_SCANNERS) {
		rules->idle[rules->nidle++] = sc;
		sc = NULL;
	}
	pthread_mutex_unlock(&rules->pool_lock);
	if (sc != NULL)
		yr_scanner_destroy(sc);
	if (rc == ERROR_SCAN_TIMEOUT)
		return MM_ERR_TIMEOUT;
	return rc == ERROR_SUCCESS ? MM_OK : MM_ERR_IO;
}
