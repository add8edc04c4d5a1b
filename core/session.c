/*
 * In-process sessions for replay, scan-mail and `run --inproc`: the same
 * configuration checks as the supervisor, then the selected plugins loaded
 * into this process and configured with their validated values.
 */
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "loader.h"
#include "util.h"

static int
wanted(const char *name, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

static int
add_module(struct mm_session *s, const struct mm_plugin_info *info, const struct mm_module_conf *mc)
{
	struct mm_module *m, **grown;
	struct mm_cfg_values vals = {0};
	char reason[512];
	int rc;

	rc = mm_module_load(&m, &s->host, info->path, reason, sizeof(reason));
	if (rc != MM_OK) {
		fprintf(stderr, "%s: refused: %s\n", info->path, reason);
		return rc;
	}
	grown = realloc(s->modules, (s->nmodules + 1) * sizeof(*grown));
	if (grown == NULL) {
		mm_module_free(m);
		return MM_ERR_NOMEM;
	}
	s->modules = grown;
	s->modules[s->nmodules++] = m;
	/* Each module gets its own copy so that overrides touch only it. */
	if (mc) {
		struct mm_buf b = MM_BUF_INIT;
		rc = mm_cfg_values_encode(&mc->values, &b);
		if (rc == MM_OK)
			rc = mm_cfg_values_decode(&vals, m->info->keys, m->info->nkeys, b.data,
			                          b.len);
		mm_buf_free(&b);
	} else {
		rc = mm_cfg_defaults(&vals, m->info->keys, m->info->nkeys);
	}
	if (rc != MM_OK) {
		fprintf(stderr, "%s: cannot prepare configuration: %s\n", m->name, mm_strerror(rc));
		return rc;
	}
	mm_module_set_values(m, &vals, 1);
	return MM_OK;
}

int
mm_session_open(struct mm_session *s, const char *const *names, size_t n, unsigned caps)
{
	struct mm_diag diag = {0};
	char catdir[MM_PATH_MAX];
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = mm_config_load(&s->cfg, mm_paths()->conf_dir, mm_paths()->state_dir,
	                    mm_paths()->run_dir, &diag);
	if (rc == MM_OK) {
		mm_loader_set_service_user(s->cfg->user);
		rc = mm_plugins_scan(&s->plugins, &s->nplugins, mm_paths()->plugin_dir, NULL);
		if (rc != MM_OK)
			mm_diag_add(&diag, mm_paths()->plugin_dir, 0,
			            "cannot read plugin directory: %s", strerror(errno));
	}
	if (rc == MM_OK)
		rc = mm_config_validate(s->cfg, s->plugins, s->nplugins, &diag);
	if (rc != MM_OK || diag.n) {
		mm_diag_print(&diag, stderr);
		mm_diag_free(&diag);
		return MM_ERR_CONFIG;
	}
	mm_diag_free(&diag);
	if (s->cfg->log_level && mm_log_level_parse(s->cfg->log_level) >= 0)
		mm_log_set_level(mm_log_level_parse(s->cfg->log_level));
	s->host.loop = mm_loop_new();
	s->host.cfg = s->cfg;
	s->host.role = s->cfg->role;
	mm_strlcpy(s->host.data_dir, mm_paths()->data_dir, sizeof(s->host.data_dir));
	mm_strlcpy(s->host.state_dir, s->cfg->state_dir, sizeof(s->host.state_dir));
	snprintf(catdir, sizeof(catdir), "%.4000s/i18n", s->host.data_dir);
	if (mm_i18n_load(&s->cat, catdir) == MM_OK)
		mm_host_set_catalogue(s->cat);
	else
		mm_log_host(MM_LOG_WARN, "host", "no message catalogue in %s", catdir);
	if (s->host.loop == NULL)
		return MM_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		struct mm_plugin_info *info = mm_plugins_find(s->plugins, s->nplugins, names[i]);
		if (info == NULL) {
			fprintf(stderr,
			        "no usable plugin named '%s' in %s (see mimamori plugins)\n",
			        names[i], mm_paths()->plugin_dir);
			return MM_ERR_NOTFOUND;
		}
	}
	for (i = 0; i < s->nplugins; i++) {
		const struct mm_plugin_info *info = s->plugins[i];
		const struct mm_module_conf *mc;

		if (info->refused)
			continue;
		mc = mm_config_module(s->cfg, info->name);
		if (n ? !wanted(info->name, names, n)
		      : (mc == NULL || !mc->enabled || (caps && !(info->caps & caps))))
			continue;
		rc = add_module(s, info, mc && mc->plugin ? mc : NULL);
		if (rc != MM_OK)
			return rc;
	}
	return MM_OK;
}

static struct mm_cfg_value *
find_value(struct mm_module *m, const char *key)
{
	return (struct mm_cfg_value *)mm_cfg_values_find(&m->values, key);
}

static void
clear_value(struct mm_cfg_value *v)
{
	size_t i;

	free(v->s);
	v->s = NULL;
	for (i = 0; i < v->nlist; i++)
		free(v->list[i]);
	free(v->list);
	v->list = NULL;
	v->nlist = 0;
}

static int
set_list(struct mm_cfg_value *v, const char *const *items, size_t n)
{
	size_t i;

	clear_value(v);
	v->list = calloc(n ? n : 1, sizeof(*v->list));
	if (v->list == NULL)
		return MM_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		v->list[i] = strdup(items[i]);
		if (v->list[i] == NULL)
			return MM_ERR_NOMEM;
		v->nlist = i + 1;
	}
	v->set = 1;
	return MM_OK;
}

int
mm_session_override_list(struct mm_session *s, const char *key, const char *const *items, size_t n)
{
	size_t i;
	int hit = 0;

	for (i = 0; i < s->nmodules; i++) {
		struct mm_cfg_value *v = find_value(s->modules[i], key);
		if (v && v->key && v->key->type == MM_CFG_STRING_LIST) {
			int rc = set_list(v, items, n);
			if (rc != MM_OK)
				return rc;
			hit = 1;
		}
	}
	return hit ? MM_OK : MM_ERR_NOTFOUND;
}

int
mm_session_override_str(struct mm_session *s, const char *key, const char *value)
{
	size_t i;
	int hit = 0;

	for (i = 0; i < s->nmodules; i++) {
		struct mm_cfg_value *v = find_value(s->modules[i], key);
		if (v && v->key && v->key->type == MM_CFG_STRING) {
			clear_value(v);
			v->s = strdup(value);
			if (v->s == NULL)
				return MM_ERR_NOMEM;
			v->set = 1;
			hit = 1;
		}
	}
	return hit ? MM_OK : MM_ERR_NOTFOUND;
}

int
mm_session_set(struct mm_session *s, const char *assignment)
{
	char buf[1024], *dot, *eq, *end;
	struct mm_cfg_value *v = NULL;
	size_t i;

	if (mm_strlcpy(buf, assignment, sizeof(buf)) != MM_OK)
		return MM_ERR_TOOBIG;
	dot = strchr(buf, '.');
	eq = strchr(buf, '=');
	if (dot == NULL || eq == NULL || eq < dot) {
		fprintf(stderr, "--set %s: expected MODULE.KEY=VALUE\n", assignment);
		return MM_ERR_INVAL;
	}
	*dot = '\0';
	*eq = '\0';
	for (i = 0; i < s->nmodules; i++)
		if (strcmp(s->modules[i]->name, buf) == 0)
			v = find_value(s->modules[i], dot + 1);
	if (v == NULL || v->key == NULL) {
		fprintf(stderr, "--set %s: module '%s' is not loaded or has no key '%s'\n",
		        assignment, buf, dot + 1);
		return MM_ERR_NOTFOUND;
	}
	errno = 0;
	switch (v->key->type) {
	case MM_CFG_BOOL:
		if (strcmp(eq + 1, "true") != 0 && strcmp(eq + 1, "false") != 0)
			goto bad;
		v->i = strcmp(eq + 1, "true") == 0;
		break;
	case MM_CFG_INT:
		v->i = strtoll(eq + 1, &end, 0);
		if (errno || *end || end == eq + 1 ||
		    (v->key->min <= v->key->max &&
		     ((double)v->i < v->key->min || (double)v->i > v->key->max)))
			goto bad;
		break;
	case MM_CFG_DOUBLE:
		v->d = strtod(eq + 1, &end);
		if (errno || *end || end == eq + 1 ||
		    (v->key->min <= v->key->max && (v->d < v->key->min || v->d > v->key->max)))
			goto bad;
		break;
	case MM_CFG_STRING:
		clear_value(v);
		v->s = strdup(eq + 1);
		if (v->s == NULL)
			return MM_ERR_NOMEM;
		break;
	case MM_CFG_STRING_LIST: {
		const char *items[256];
		size_t n = 0;
		char *save = NULL, *tok;
		for (tok = strtok_r(eq + 1, ",", &save); tok && n < 256;
		     tok = strtok_r(NULL, ",", &save))
			items[n++] = tok;
		return set_list(v, items, n);
	}
	default:
		goto bad;
	}
	v->set = 1;
	return MM_OK;
bad:
	fprintf(stderr, "--set %s: not a valid value for this key\n", assignment);
	return MM_ERR_INVAL;
}

int
mm_session_init(struct mm_session *s)
{
	size_t i;
	int rc;

	for (i = 0; i < s->nmodules; i++) {
		rc = mm_module_init(s->modules[i]);
		if (rc != MM_OK)
			return rc;
	}
	return MM_OK;
}

int
mm_session_start(struct mm_session *s)
{
	size_t i;
	int rc;

	rc = mm_session_init(s);
	if (rc != MM_OK)
		return rc;
	for (i = 0; i < s->nmodules; i++) {
		rc = mm_module_start(s->modules[i]);
		if (rc != MM_OK)
			return rc;
	}
	return MM_OK;
}

void
mm_session_close(struct mm_session *s)
{
	size_t i;

	for (i = 0; i < s->nmodules; i++)
		mm_module_stop(s->modules[i]);
	for (i = 0; i < s->nmodules; i++)
		mm_module_free(s->modules[i]);
	free(s->modules);
	s->modules = NULL;
	s->nmodules = 0;
	mm_loop_free(s->host.loop);
	mm_host_set_catalogue(NULL);
	mm_i18n_free(s->cat);
	mm_plugins_free(s->plugins, s->nplugins);
	mm_config_free(s->cfg);
	memset(s, 0, sizeof(*s));
}
