/*
 * Unit tests of core/config.c: loading the configuration directories under
 * tests/data/config (one per class of error), validating modules against
 * plugin descriptions built here, defaults, digests, the msgpack hand-over
 * to workers and role detection over fixture /proc and /sys trees.
 */
#include <check.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "mimamori/error.h"

/* ------------------------------------------------------------------------ */
/* Helpers */

static const char *
data_dir(char *buf, size_t len, const char *name)
{
	const char *root = getenv("MM_TEST_DATA");

	ck_assert_msg(root != NULL, "MM_TEST_DATA is not set");
	snprintf(buf, len, "%s/config/%s", root, name);
	return buf;
}

static void
dump(const struct mm_diag *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		fprintf(stderr, "  diag[%zu] %s\n", i, d->msgs[i]);
}

/* Expect exactly the lines given (each a format with %1$s = the dir). */
static void
expect_lines(const struct mm_diag *d, const char *dir, const char *const *lines)
{
	char want[2048];
	size_t i, n = 0;

	while (lines[n] != NULL)
		n++;
	if (d->n != n)
		dump(d);
	ck_assert_uint_eq(d->n, n);
	for (i = 0; i < n; i++) {
		/* The expected lines name files relative to dir. */
		snprintf(want, sizeof(want), "%s/%s", dir, lines[i]);
		if (strcmp(d->msgs[i], want) != 0)
			dump(d);
		ck_assert_str_eq(d->msgs[i], want);
	}
}

static struct mm_config *
load(const char *name, struct mm_diag *d, int want_rc, char *dir, size_t dlen)
{
	struct mm_config *cfg = NULL;
	int rc;

	data_dir(dir, dlen, name);
	rc = mm_config_load(&cfg, dir, "/default/state", "/default/run", d);
	if (rc != want_rc)
		dump(d);
	ck_assert_int_eq(rc, want_rc);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

/* Fake plugin descriptions, as the probe child would report them. */
static struct mm_cfg_key ips_keys[] = {
        {"rules", MM_CFG_STRING_LIST, "", 0, -1, 0, "Rule files."},
        {"home_net", MM_CFG_STRING, NULL, 0, -1, MM_CFG_REQUIRED, "Local networks."},
        {"threshold", MM_CFG_DOUBLE, "0.5", 0, 1, 0, "Alert threshold."},
        {"max_flows", MM_CFG_INT, "10000", 1, 1000000, 0, "Flow table size."},
        {"block", MM_CFG_BOOL, "false", 0, -1, 0, "Block inline."},
};
static struct mm_cfg_key dns_keys[] = {
        {"servers", MM_CFG_STRING_LIST, "192.0.2.1, 192.0.2.2", 0, -1, 0, "Resolvers."},
        {"ratio", MM_CFG_DOUBLE, "2", 1, 10, 0, "Ratio."},
};
static struct mm_cfg_key idle_keys[] = {
        {"token", MM_CFG_STRING, NULL, 0, -1, MM_CFG_REQUIRED, "Access token."},
};

static struct mm_plugin_info p_ips = {.name = "ips",
                                      .path = "/plugins/ips.so",
                                      .roles = MM_ROLE_UTM,
                                      .keys = ips_keys,
                                      .nkeys = 5};
static struct mm_plugin_info p_dns = {.name = "dnswatch",
                                      .path = "/plugins/dnswatch.so",
                                      .roles = MM_ROLE_UTM | MM_ROLE_PC,
                                      .keys = dns_keys,
                                      .nkeys = 2};
static struct mm_plugin_info p_mail = {
        .name = "mail", .path = "/plugins/mail.so", .roles = MM_ROLE_UTM | MM_ROLE_PC};
static struct mm_plugin_info p_broken = {.name = "broken",
                                         .path = "/plugins/broken.so",
                                         .roles = MM_ROLE_UTM,
                                         .refused = "ABI major 2, host supports 1"};
static struct mm_plugin_info p_oldabi = {
        .name = "oldabi", .path = "/plugins/oldabi.so", .refused = "ABI major 0, host supports 1"};
static struct mm_plugin_info p_pconly = {
        .name = "pconly", .path = "/plugins/pconly.so", .roles = MM_ROLE_PC};
static struct mm_plugin_info p_idle = {.name = "idle",
                                       .path = "/plugins/idle.so",
                                       .roles = MM_ROLE_UTM,
                                       .keys = idle_keys,
                                       .nkeys = 1};

static struct mm_plugin_info *const all_plugins[] = {&p_ips,    &p_dns,    &p_mail, &p_broken,
                                                     &p_oldabi, &p_pconly, &p_idle};
#define NPLUGINS (sizeof(all_plugins) / sizeof(all_plugins[0]))

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static char *
temp_dir(void)
{
	char tmpl[] = "/tmp/mm-config-test-XXXXXX";
	char *dir = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(dir);
	return strdup(dir);
}

static void
remove_dir(char *dir, const char *const *names)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; names[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	free(dir);
}

/* ------------------------------------------------------------------------ */
/* Loading */

START_TEST(test_valid_load)
{
	struct mm_diag d = {0};
	char dir[PATH_MAX];
	struct mm_config *cfg = load("valid", &d, MM_OK, dir, sizeof(dir));
	const struct mm_module_conf *ips, *mail, *dns;
	char path[PATH_MAX + 32];

	ck_assert_uint_eq(d.n, 0);
	ck_assert_str_eq(cfg->sensor_id, "shop-utm-01");
	ck_assert_str_eq(cfg->sensor_site, "本社");
	ck_assert_str_eq(cfg->sensor_host, "gw1");
	ck_assert_str_eq(cfg->role_text, "utm");
	ck_assert_int_eq(cfg->role, MM_ROLE_UTM);
	ck_assert_str_eq(cfg->state_dir, "/var/tmp/mm-state");
	ck_assert_str_eq(cfg->run_dir, "/var/tmp/mm-run");
	ck_assert_str_eq(cfg->log_level, "debug");
	ck_assert_str_eq(cfg->user, "mimamori");
	/* Hidden files, other suffixes and directories are not read. */
	ck_assert_uint_eq(cfg->nfiles, 5);
	ck_assert_ptr_nonnull(cfg->aggregator);
	snprintf(path, sizeof(path), "%s/10-aggregator.conf", dir);
	ck_assert_str_eq(cfg->aggregator_file, path);
	ck_assert_int_eq(config_setting_length(cfg->aggregator), 2);

	ck_assert_uint_eq(cfg->nmodules, 3);
	ips = mm_config_module(cfg, "ips");
	ck_assert_ptr_nonnull(ips);
	snprintf(path, sizeof(path), "%s/20-ips.conf", dir);
	ck_assert_str_eq(ips->file, path);
	ck_assert_int_eq(ips->line, 2);
	ck_assert_int_eq(ips->enabled, 1);
	ck_assert_int_eq(ips->watchdog_sec, 5);
	ck_assert_int_eq(ips->restart_max_sec, 120);
	ck_assert_int_eq(ips->queue_max, 5000);
	ck_assert_str_eq(ips->queue_policy, "drop_oldest");
	mail = mm_config_module(cfg, "mail");
	ck_assert_ptr_nonnull(mail);
	ck_assert_int_eq(mail->enabled, 0);
	/* The included file's module, located in the included file. */
	dns = mm_config_module(cfg, "dnswatch");
	ck_assert_ptr_nonnull(dns);
	snprintf(path, sizeof(path), "%s/extra.inc", dir);
	ck_assert_str_eq(dns->file, path);
	ck_assert_int_eq(dns->line, 2);
	ck_assert_ptr_null(mm_config_module(cfg, "nothere"));

	ck_assert_int_eq(mm_config_validate(cfg, all_plugins, NPLUGINS, &d), MM_OK);
	if (d.n)
		dump(&d);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_ptr_eq(ips->plugin, &p_ips);
	ck_assert_uint_eq(ips->values.n, 5);
	{
		const struct mm_cfg_value *v = mm_cfg_values_find(&ips->values, "rules");

		ck_assert_uint_eq(v->nlist, 2);
		ck_assert_str_eq(v->list[0], "rules/local.rules");
		ck_assert_str_eq(v->list[1], "rules/et.rules");
		ck_assert_int_eq(v->set, 1);
		ck_assert_int_eq(v->line, 8);
		v = mm_cfg_values_find(&ips->values, "home_net");
		ck_assert_str_eq(v->s, "192.168.0.0/16");
		v = mm_cfg_values_find(&ips->values, "threshold");
		ck_assert(v->d == 0.75);
		v = mm_cfg_values_find(&ips->values, "max_flows");
		ck_assert_int_eq(v->i, 5000);
		v = mm_cfg_values_find(&ips->values, "block");
		ck_assert_int_eq(v->i, 0);
		ck_assert_int_eq(v->set, 1);
		/* A list (not only an array) of strings, and an int for a DOUBLE. */
		v = mm_cfg_values_find(&dns->values, "servers");
		ck_assert_uint_eq(v->nlist, 2);
		ck_assert_str_eq(v->list[1], "192.0.2.54");
		v = mm_cfg_values_find(&dns->values, "ratio");
		ck_assert(v->d == 3.0);
	}
	mm_config_free(cfg);
	mm_diag_free(&d);
}
END_TEST

START_TEST(test_missing_dir)
{
	struct mm_diag d = {0};
	struct mm_config *cfg = NULL;
	char dir[PATH_MAX], want[PATH_MAX + 128];

	data_dir(dir, sizeof(dir), "does-not-exist");
	ck_assert_int_eq(mm_config_load(&cfg, dir, "/s", "/r", &d), MM_ERR_CONFIG);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(d.n, 1);
	snprintf(want, sizeof(want),
	         "%s: cannot read the configuration directory: No such file or directory", dir);
	ck_assert_str_eq(d.msgs[0], want);
	mm_config_free(cfg);
	mm_diag_free(&d);
}
END_TEST

START_TEST(test_syntax_errors)
{
	struct mm_diag d = {0};
	char dir[PATH_MAX];
	struct mm_config *cfg = load("syntax", &d, MM_ERR_CONFIG, dir, sizeof(dir));
	static const char *const want[] = {"10-bad.conf:3: mismatched element type in array",
	                                   "20-bad.conf:3: syntax error", NULL};

	/* Both broken files are reported; the good one still loads. */
	expect_lines(&d, dir, want);
	ck_assert_str_eq(cfg->sensor_id, "s1");
	ck_assert_int_eq(cfg->role, MM_ROLE_PC);
	mm_config_free(cfg);
	mm_diag_free(&d);
}
END_TEST

START_TEST(test_top_level)
{
	struct mm_diag d = {0};
	char dir[PATH_MAX];
	struct mm_config *cfg = load("toplevel", &d, MM_ERR_CONFIG, dir, sizeof(dir));
	static const char *const want[] = {
	        "00-top.conf:2: unknown top-level setting 'module' (did you mean 'modules'?)",
	        "00-top.conf:5: unknown top-level setting 'logging' (expected sensor, host, "
	        "aggregator or modules)",
	        "00-top.conf:6: 'host' must be a group, not a string",
	        "00-top.conf:7: 'modules' must be a group, not an integer", NULL};

	expect_lines(&d, dir, want);
	ck_assert_uint_eq(cfg->nmodules, 0);
	ck_assert_str_eq(cfg->log_level, "info");
	mm_config_free(cfg);
	mm_diag_free(&d);
}
END_TEST

START_TEST(test_duplicates)
{
	struct mm_diag d = {0};
	char dir[PATH_MAX], w[4][PATH_MAX * 2 + 128];
	struct mm_config *cfg = load("dup", &d, MM_ERR_CONFIG, dir, sizeof(dir));
	const char *want[5];

	/* Both places are named: the duplicate's and the first one's. */
	snprintf(w[0], sizeof(w[0]),
	         "10-b.conf:2: duplicate 'sensor' group (first in %s/00-a.conf:1)", dir);
	snprintf(w[1], sizeof(w[1]),
	         "10-b.conf:4: duplicate 'aggregator' group (first in %s/00-a.conf:3)", dir);
	snprintf(w[2], sizeof(w[2]),
	         "10-b.conf:7: module 'ips' is also configured in %s/00-a.conf:5", dir);
	snprintf(w[3], sizeof(w[3]), "10-b.conf:8: module 'ids' must be a group, not an integer");
	want[0] = w[0];
	want[1] = w[1];
	want[2] = w[2];
	want[3] = w[3];
	want[4] = NULL;
	expect_lines(&d, dir, want);
	/* The first of each wins. */
	ck_assert_str_eq(cfg->sensor_id, "s1");
	ck_assert_uint_eq(cfg->nmodules, 2);
	ck_assert_int_eq(mm_config_module(cfg, "ips")->enabled, 1);
	ck_assert_int_eq(mm_config_module(cfg, "mail")->enabled, 1);
	mm_config_free(cfg);
	mm_diag_free(&d);
}
END_TEST

START_TEST(test_host_keys)
{
	struct mm_diag d = {0};
	char dir[PATH_MAX];
	struct mm_config *cfg = load("keys", &d, MM_ERR_CONFIG, dir, sizeof(dir));
	static const char *const want[] = {
	        "00-sensor.conf:2: sensor: key 'id' must be a string, not an integer",
	        "00-sensor.conf:3: sensor: unknown key 'sit' (did you mean 'site'?)",
	        "00-sensor.conf:4: sensor: role 'router' is not one of utm, pc, auto",
	        "00-sensor.conf:7: host: log_level 'verbose' is not one of error, warn, info, "
	        "debug",
	        "00-sensor.conf:8: host: unknown key 'usr' (did you mean 'user'?)",
	        "00-sensor.conf:9: host: state_dir must not be empty",
	        "20-ips.conf:3: module 'ips': key 'enabled' must be a boolean, not a string",
	        "20-ips.conf:4: module 'ips': key 'watchdog_sec' is 99999, outside [0, 3600]",
	        "20-ips.conf:5: module 'ips': key 'restart_max_sec' is 0, outside [1, 3600]",
	        "20-ips.conf:6: module 'ips': key 'queue_max' must be an integer, not a float",
	        "20-ips.conf:7: module 'ips': queue_policy 'fifo' is not one of block, drop_oldest",
	        NULL};
	char host[256] = {0};
	const struct mm_module_conf *ips;

	/* All errors of both files, sorted by file and line although the
	 * module errors were found first. */
	expect_lines(&d, dir, want);
	/* Bad values fall back to their defaults. */
	gethostname(host, sizeof(host) - 1);
	ck_assert_str_eq(cfg->sensor_id, host);
	ck_assert_int_eq(cfg->role, 0);
	ips = mm_config_module(cfg, "ips");
	ck_assert_int_eq(ips->enabled, 0);
	ck_assert_int_eq(ips->watchdog_sec, 10);
	ck_assert_int_eq(ips->queue_max, 100000);
	mm_config_free(cfg);
	mm_diag_free(&d);
}
END_TEST

START_TEST(test_module_validation)
{
	struct mm_diag d = {0};
	char dir[PATH_MAX];
	struct mm_config *cfg = load("modules", &d, MM_OK, dir, sizeof(dir));
	static const char *const want[] = {
	        "10-modules.conf:2: module 'ips': missing required key 'home_net'",
	        "10-modules.conf:4: module 'ips': unknown key 'home_nett' (did you mean "
	        "'home_net'?)",
	        "10-modules.conf:5: module 'ips': key 'rules' must be a list of strings, not a "
	        "string",
	        "10-modules.conf:6: module 'ips': key 'threshold' is 2.5, outside [0, 1]",
	        "10-modules.conf:7: module 'ips': key 'max_flows' must be an integer, not a float",
	        "10-modules.conf:8: module 'ips': key 'block' must be a boolean, not an integer",
	        "10-modules.conf:9: module 'ips': unknown key 'colour'",
	        "10-modules.conf:11: no plugin named 'ghost' (see mimamori plugins)",
	        "10-modules.conf:12: module 'broken' is enabled but its plugin /plugins/broken.so "
	        "was refused: ABI major 2, host supports 1",
	        "10-modules.conf:13: module 'pconly' does not support role 'utm' (supports: pc)",
	        "20-more.conf:4: module 'dnswatch': key 'servers' must be a list of strings, but "
	        "item 2 is an integer",
	        "20-more.conf:5: module 'dnswatch': key 'ratio' is 0.5, outside [1, 10]",
	        NULL};
	const struct mm_module_conf *m;

	ck_assert_uint_eq(d.n, 0);
	ck_assert_int_eq(mm_config_validate(cfg, all_plugins, NPLUGINS, &d), MM_ERR_CONFIG);
	expect_lines(&d, dir, want);
	/* A disabled module misses its required key without complaint. */
	m = mm_config_module(cfg, "idle");
	ck_assert_ptr_eq(m->plugin, &p_idle);
	ck_assert_ptr_null(mm_cfg_values_find(&m->values, "token")->s);
	ck_assert_ptr_eq(mm_config_module(cfg, "oldabi")->plugin, &p_oldabi);
	ck_assert_ptr_null(mm_config_module(cfg, "ghost")->plugin);
	/* Bad values keep their defaults. */
	m = mm_config_module(cfg, "ips");
	ck_assert(mm_cfg_values_find(&m->values, "threshold")->d == 0.5);
	ck_assert_int_eq(mm_cfg_values_find(&m->values, "max_flows")->i, 10000);
	m = mm_config_module(cfg, "dnswatch");
	ck_assert_uint_eq(mm_cfg_values_find(&m->values, "servers")->nlist, 2);
	ck_assert_str_eq(mm_cfg_values_find(&m->values, "servers")->list[0], "192.0.2.1");
	mm_config_free(cfg);
	mm_diag_free(&d);
}
END_TEST

START_TEST(test_role_against_pc)
{
	struct mm_diag d = {0};
	char *dir = temp_dir();
	static const char *const names[] = {"00.conf", NULL};
	struct mm_config *cfg = NULL;
	char want[PATH_MAX + 128];

	/* ips supports utm only; on a pc it is an error only when enabled. */
	write_file(dir, "00.conf",
	           "sensor = { role = \"pc\"; };\n"
	           "modules = {\n"
	           "  ips = { enabled = true; home_net = \"10.0.0.0/8\"; };\n"
	           "  pconly = { enabled = true; };\n"
	           "};\n");
	ck_assert_int_eq(mm_config_load(&cfg, dir, "/s", "/r", &d), MM_OK);
	ck_assert_int_eq(cfg->role, MM_ROLE_PC);
	ck_assert_int_eq(mm_config_validate(cfg, all_plugins, NPLUGINS, &d), MM_ERR_CONFIG);
	ck_assert_uint_eq(d.n, 1);
	snprintf(want, sizeof(want),
	         "%s/00.conf:3: module 'ips' does not support role 'pc' (supports: utm)", dir);
	ck_assert_str_eq(d.msgs[0], want);
	mm_config_free(cfg);
	mm_diag_free(&d);

	write_file(dir, "00.conf",
	           "sensor = { role = \"pc\"; };\n"
	           "modules = { ips = { enabled = false; }; };\n");
	ck_assert_int_eq(mm_config_load(&cfg, dir, "/s", "/r", &d), MM_OK);
	ck_assert_int_eq(mm_config_validate(cfg, all_plugins, NPLUGINS, &d), MM_OK);
	ck_assert_uint_eq(d.n, 0);
	mm_config_free(cfg);
	remove_dir(dir, names);
}
END_TEST

START_TEST(test_lexical_order)
{
	struct mm_diag d = {0};
	char dir[PATH_MAX];
	struct mm_config *cfg = load("order", &d, MM_OK, dir, sizeof(dir));
	char path[PATH_MAX + 32];

	/* "01-c" < "10-a" < "2-b": byte order, not numeric. */
	ck_assert_uint_eq(cfg->nfiles, 3);
	snprintf(path, sizeof(path), "%s/01-c.conf", dir);
	ck_assert_str_eq(cfg->file_names[0], path);
	ck_assert_uint_eq(cfg->nmodules, 3);
	ck_assert_str_eq(cfg->modules[0].name, "m_c");
	ck_assert_str_eq(cfg->modules[1].name, "m_a");
	ck_assert_str_eq(cfg->modules[2].name, "m_b");
	ck_assert_int_eq(cfg->modules[1].enabled, 1);
	mm_config_free(cfg);
	mm_diag_free(&d);
}
END_TEST

START_TEST(test_defaults)
{
	struct mm_diag d = {0};
	char dir[PATH_MAX], host[256] = {0}, fixture[PATH_MAX];
	struct mm_config *cfg;
	const struct mm_module_conf *m;
	static struct mm_cfg_key keys[] = {
	        {"b", MM_CFG_BOOL, "true", 0, -1, 0, ""},
	        {"i", MM_CFG_INT, "-42", -100, 100, 0, ""},
	        {"x", MM_CFG_INT, "0x10", 0, -1, 0, ""},
	        {"d", MM_CFG_DOUBLE, "0.25", 0, 1, 0, ""},
	        {"s", MM_CFG_STRING, "eth0", 0, -1, 0, ""},
	        {"l", MM_CFG_STRING_LIST, " a, b ,c ", 0, -1, 0, ""},
	        {"e", MM_CFG_STRING_LIST, "", 0, -1, 0, ""},
	        {"n", MM_CFG_STRING, NULL, 0, -1, 0, ""},
	};
	struct mm_plugin_info plain = {
	        .name = "plain", .roles = MM_ROLE_UTM | MM_ROLE_PC, .keys = keys, .nkeys = 8};
	struct mm_plugin_info *const plugins[] = {&plain};
	const struct mm_cfg_value *v;

	/* role "auto" resolves through the fixture tree. */
	setenv("MM_ROLE_PROC_ROOT", data_dir(fixture, sizeof(fixture), "roles/utm"), 1);
	cfg = load("defaults", &d, MM_OK, dir, sizeof(dir));
	gethostname(host, sizeof(host) - 1);
	ck_assert_str_eq(cfg->sensor_id, host);
	ck_assert_str_eq(cfg->sensor_host, host);
	ck_assert_str_eq(cfg->sensor_site, "");
	ck_assert_str_eq(cfg->role_text, "auto");
	ck_assert_int_eq(cfg->role, MM_ROLE_UTM);
	ck_assert_str_eq(cfg->state_dir, "/default/state");
	ck_assert_str_eq(cfg->run_dir, "/default/run");
	ck_assert_str_eq(cfg->log_level, "info");
	ck_assert_str_eq(cfg->user, "");
	ck_assert_ptr_null(cfg->aggregator);
	m = mm_config_module(cfg, "plain");
	ck_assert_int_eq(m->enabled, 0);
	ck_assert_int_eq(m->watchdog_sec, 10);
	ck_assert_int_eq(m->restart_max_sec, 60);
	ck_assert_int_eq(m->queue_max, 100000);
	ck_assert_str_eq(m->queue_policy, "block");

	ck_assert_int_eq(mm_config_validate(cfg, plugins, 1, &d), MM_OK);
	ck_assert_uint_eq(m->values.n, 8);
	ck_assert_int_eq(mm_cfg_values_find(&m->values, "b")->i, 1);
	ck_assert_int_eq(mm_cfg_values_find(&m->values, "i")->i, -42);
	ck_assert_int_eq(mm_cfg_values_find(&m->values, "x")->i, 16);
	ck_assert(mm_cfg_values_find(&m->values, "d")->d == 0.25);
	ck_assert_str_eq(mm_cfg_values_find(&m->values, "s")->s, "eth0");
	v = mm_cfg_values_find(&m->values, "l");
	ck_assert_uint_eq(v->nlist, 3);
	ck_assert_str_eq(v->list[0], "a");
	ck_assert_str_eq(v->list[1], "b");
	ck_assert_str_eq(v->list[2], "c");
	ck_assert_int_eq(v->set, 0);
	ck_assert_ptr_null(v->file);
	ck_assert_uint_eq(mm_cfg_values_find(&m->values, "e")->nlist, 0);
	ck_assert_ptr_null(mm_cfg_values_find(&m->values, "n")->s);
	mm_config_free(cfg);
	mm_diag_free(&d);
}
END_TEST

START_TEST(test_bad_default)
{
	struct mm_diag d = {0};
	char dir[PATH_MAX];
	struct mm_config *cfg = load("defaults", &d, MM_OK, dir, sizeof(dir));
	static struct mm_cfg_key keys[] = {
	        {"limit", MM_CFG_INT, "ten", 0, -1, 0, ""},
	        {"ratio", MM_CFG_DOUBLE, "5", 0, 1, 0, ""},
	        {"on", MM_CFG_BOOL, "yes", 0, -1, 0, ""},
	};
	struct mm_plugin_info plain = {
	        .name = "plain", .roles = MM_ROLE_UTM | MM_ROLE_PC, .keys = keys, .nkeys = 3};
	struct mm_plugin_info *const plugins[] = {&plain};
	static const char *const want[] = {
	        "00-empty.conf:3: module 'plain': plugin 'plain' declares an invalid default 'ten' "
	        "for key 'limit' (expected an integer)",
	        "00-empty.conf:3: module 'plain': plugin 'plain' declares an invalid default '5' "
	        "for key 'ratio' (expected a number within its range)",
	        "00-empty.conf:3: module 'plain': plugin 'plain' declares an invalid default 'yes' "
	        "for key 'on' (expected a boolean)",
	        NULL};
	struct mm_cfg_values vals;

	ck_assert_int_eq(mm_config_validate(cfg, plugins, 1, &d), MM_ERR_CONFIG);
	expect_lines(&d, dir, want);
	ck_assert_int_eq(mm_cfg_defaults(&vals, keys, 3), MM_ERR_CONFIG);
	mm_cfg_values_free(&vals);
	mm_config_free(cfg);
	mm_diag_free(&d);
}
END_TEST

START_TEST(test_validate_group_api)
{
	config_t c;
	struct mm_cfg_values vals;
	struct mm_diag d = {0};
	static const struct mm_cfg_key keys[] = {
	        {"port", MM_CFG_INT, "8080", 1, 65535, 0, ""},
	        {"names", MM_CFG_STRING_LIST, NULL, 0, -1, MM_CFG_REQUIRED, ""},
	};
	static const char *const reserved[] = {"enabled", NULL};

	/* The aggregator validates its own group the same way. */
	config_init(&c);
	ck_assert_int_eq(config_read_string(&c, "aggregator = {\n enabled = true;\n port = "
	                                        "70000;\n prot = 1;\n};\n"),
	                 CONFIG_TRUE);
	ck_assert_int_eq(mm_cfg_validate_group(&vals, config_lookup(&c, "aggregator"), keys, 2,
	                                       reserved, &d),
	                 MM_ERR_CONFIG);
	if (d.n != 3)
		dump(&d);
	ck_assert_uint_eq(d.n, 3);
	/* Parsed from a string, so no file name: lines only. */
	ck_assert_str_eq(d.msgs[0], "aggregator: key 'port' is 70000, outside [1, 65535]");
	ck_assert_str_eq(d.msgs[1], "aggregator: unknown key 'prot' (did you mean 'port'?)");
	ck_assert_str_eq(d.msgs[2], "aggregator: missing required key 'names'");
	ck_assert_int_eq(mm_cfg_values_find(&vals, "port")->i, 8080);
	mm_cfg_values_free(&vals);
	mm_cfg_values_free(&vals); /* a second free is harmless */
	mm_diag_free(&d);
	config_destroy(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Diagnostics */

START_TEST(test_diag_order)
{
	struct mm_diag d = {0};
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	mm_diag_add(&d, "b.conf", 2, "second of b");
	mm_diag_add(&d, NULL, 0, "no file");
	mm_diag_add(&d, "a.conf", 10, "ten");
	mm_diag_add(&d, "a.conf", 9, "nine");
	mm_diag_add(&d, "b.conf", 1, "first of b");
	mm_diag_add(&d, "a.conf", 9, "nine again");
	mm_diag_add(&d, "a.conf", 0, "whole file: %d", 7);
	mm_diag_add(&d, "c.conf", 1, "bad\nvalue");
	f = open_memstream(&text, &len);
	mm_diag_print(&d, f);
	fclose(f);
	ck_assert_str_eq(text, "a.conf: whole file: 7\n"
	                       "a.conf:9: nine\n"
	                       "a.conf:9: nine again\n"
	                       "a.conf:10: ten\n"
	                       "b.conf:1: first of b\n"
	                       "b.conf:2: second of b\n"
	                       "c.conf:1: bad?value\n"
	                       "no file\n");
	free(text);
	mm_diag_free(&d);
	ck_assert_uint_eq(d.n, 0);
	mm_diag_free(&d);
	mm_diag_free(NULL);
}
END_TEST

START_TEST(test_diag_bounded)
{
	struct mm_diag d = {0};
	int i;

	for (i = 0; i < 5000; i++)
		mm_diag_add(&d, "x.conf", i + 1, "problem %d", i);
	ck_assert_uint_lt(d.n, 5000);
	ck_assert_str_eq(d.msgs[d.n - 1], "too many problems: the rest are not shown");
	ck_assert_str_eq(d.msgs[0], "x.conf:1: problem 0");
	mm_diag_free(&d);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Digests */

static char *
digest_of(const char *dir, const char *module)
{
	struct mm_diag d = {0};
	struct mm_config *cfg = NULL;
	char *out;

	ck_assert_int_eq(mm_config_load(&cfg, dir, "/s", "/r", &d), MM_OK);
	if (mm_config_validate(cfg, all_plugins, NPLUGINS, &d) != MM_OK)
		dump(&d);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_ptr_nonnull(mm_config_module(cfg, module));
	out = strdup(mm_config_module(cfg, module)->digest);
	mm_config_free(cfg);
	mm_diag_free(&d);
	return out;
}

START_TEST(test_digest)
{
	char dir[PATH_MAX];
	char *a, *b, *c;
	char *tmp = temp_dir();
	static const char *const names[] = {"00.conf", "10.conf", "50.conf", NULL};
	static const char *const base = "modules = {\n"
	                                "  ips = { enabled = true; home_net = \"10.0.0.0/8\";\n"
	                                "          rules = [\"a\", \"b\"]; threshold = 0.5; };\n"
	                                "};\n";

	data_dir(dir, sizeof(dir), "valid");
	a = digest_of(dir, "ips");
	b = digest_of(dir, "ips");
	ck_assert_str_eq(a, b);
	free(a);
	free(b);

	write_file(tmp, "10.conf", "sensor = { role = \"utm\"; };\n");
	write_file(tmp, "50.conf", base);
	a = digest_of(tmp, "ips");
	/* Same settings elsewhere (another file and line): same digest. */
	write_file(tmp, "50.conf", "");
	write_file(tmp, "00.conf",
	           "\n\nmodules = { ips = { rules = [\"a\", \"b\"]; threshold = 0.5;\n"
	           "  home_net = \"10.0.0.0/8\"; enabled = true; }; };\n");
	b = digest_of(tmp, "ips");
	ck_assert_str_eq(a, b);
	free(b);
	/* Writing a default explicitly changes nothing either. */
	write_file(tmp, "00.conf",
	           "modules = { ips = { enabled = true; home_net = \"10.0.0.0/8\"; watchdog_sec = "
	           "10; rules = [\"a\", \"b\"]; threshold = 0.5; max_flows = 10000; }; };\n");
	b = digest_of(tmp, "ips");
	ck_assert_str_eq(a, b);
	free(b);

	/* Any value change differs: a plugin key, a host key, list items. */
	write_file(tmp, "00.conf",
	           "modules = { ips = { enabled = true; home_net = \"10.0.0.0/8\"; "
	           "rules = [\"a\", \"b\"]; threshold = 0.51; }; };\n");
	c = digest_of(tmp, "ips");
	ck_assert_str_ne(a, c);
	free(c);
	write_file(tmp, "00.conf",
	           "modules = { ips = { enabled = true; home_net = \"10.0.0.0/8\"; watchdog_sec = "
	           "11; rules = [\"a\", \"b\"]; threshold = 0.5; }; };\n");
	c = digest_of(tmp, "ips");
	ck_assert_str_ne(a, c);
	free(c);
	write_file(tmp, "00.conf",
	           "modules = { ips = { enabled = true; home_net = \"10.0.0.0/8\"; "
	           "rules = [\"a,b\"]; threshold = 0.5; }; };\n");
	c = digest_of(tmp, "ips");
	ck_assert_str_ne(a, c);
	free(c);
	write_file(tmp, "00.conf",
	           "modules = { ips = { enabled = true; home_net = \"10.0.0.0/8\"; "
	           "rules = [\"b\", \"a\"]; threshold = 0.5; }; };\n");
	c = digest_of(tmp, "ips");
	ck_assert_str_ne(a, c);
	free(c);
	free(a);
	remove_dir(tmp, names);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Worker hand-over */

START_TEST(test_encode_decode)
{
	struct mm_diag d = {0};
	char dir[PATH_MAX];
	struct mm_config *cfg = load("valid", &d, MM_OK, dir, sizeof(dir));
	const struct mm_module_conf *ips;
	struct mm_buf b = MM_BUF_INIT;
	struct mm_cfg_values out;
	size_t i, j;

	ck_assert_int_eq(mm_config_validate(cfg, all_plugins, NPLUGINS, &d), MM_OK);
	ips = mm_config_module(cfg, "ips");
	ck_assert_int_eq(mm_cfg_values_encode(&ips->values, &b), MM_OK);
	ck_assert_uint_gt(b.len, 40);
	ck_assert_int_eq(mm_cfg_values_decode(&out, ips_keys, 5, b.data, b.len), MM_OK);
	ck_assert_uint_eq(out.n, ips->values.n);
	for (i = 0; i < out.n; i++) {
		const struct mm_cfg_value *x = &ips->values.v[i], *y = &out.v[i];

		ck_assert_ptr_eq(y->key, &ips_keys[i]);
		ck_assert_int_eq(x->i, y->i);
		ck_assert(x->d == y->d);
		if (x->s)
			ck_assert_str_eq(x->s, y->s);
		ck_assert_uint_eq(x->nlist, y->nlist);
		for (j = 0; j < x->nlist; j++)
			ck_assert_str_eq(x->list[j], y->list[j]);
	}
	ck_assert_str_eq(mm_cfg_values_find(&out, "home_net")->s, "192.168.0.0/16");
	ck_assert_str_eq(mm_cfg_values_find(&out, "rules")->list[1], "rules/et.rules");
	ck_assert(mm_cfg_values_find(&out, "threshold")->d == 0.75);
	mm_cfg_values_free(&out);

	/* Every truncation is refused, none reads past the end. */
	for (i = 0; i < b.len; i++) {
		uint8_t *copy = malloc(i ? i : 1);

		memcpy(copy, b.data, i);
		ck_assert_int_ne(mm_cfg_values_decode(&out, ips_keys, 5, copy, i), MM_OK);
		ck_assert_ptr_null(out.v);
		free(copy);
	}
	/* Trailing bytes. */
	mm_buf_putc(&b, 0);
	ck_assert_int_eq(mm_cfg_values_decode(&out, ips_keys, 5, b.data, b.len), MM_ERR_PARSE);
	mm_buf_free(&b);
	mm_config_free(cfg);
	mm_diag_free(&d);
}
END_TEST

START_TEST(test_decode_tampered)
{
	struct mm_cfg_values out;
	/* {"max_flows": 7} is fine; the rest break one rule each. */
	static const uint8_t ok[] = {0x81, 0xa9, 'm', 'a', 'x', '_', 'f', 'l', 'o', 'w', 's', 7};
	static const uint8_t range[] = {0x81, 0xa9, 'm',  'a',  'x',  '_',  'f', 'l', 'o',
	                                'w',  's',  0xce, 0x00, 0x98, 0x96, 0x81}; /* 10000001 */
	static const uint8_t type[] = {0x81, 0xa9, 'm', 'a', 'x',  '_', 'f',
	                               'l',  'o',  'w', 's', 0xa1, '7'};
	static const uint8_t unknown[] = {0x81, 0xa3, 'f', 'o', 'o', 7};
	static const uint8_t dup[] = {0x82, 0xa5, 'b', 'l', 'o', 'c', 'k', 0xc3,
	                              0xa5, 'b',  'l', 'o', 'c', 'k', 0xc2};
	static const uint8_t notmap[] = {0x91, 0x07};
	static const uint8_t huge[] = {0x81, 0xa5, 'r',  'u',  'l',  'e',
	                               's',  0xdd, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t nul[] = {0x81, 0xa8, 'h', 'o',  'm', 'e', '_',
	                              'n',  'e',  't', 0xa3, 'a', 0,   'b'};
	static const uint8_t listint[] = {0x81, 0xa5, 'r', 'u', 'l', 'e', 's', 0x92, 0xa1, 'a', 1};
	static const uint8_t nan[] = {0x81, 0xa9, 't',  'h',  'r', 'e', 's', 'h', 'o', 'l',
	                              'd',  0xcb, 0x7f, 0xf8, 0,   0,   0,   0,   0,   0};
	static const uint8_t boolint[] = {0x81, 0xa5, 'b', 'l', 'o', 'c', 'k', 1};
	static const uint8_t ext[] = {0x81, 0xa5, 'b', 'l', 'o', 'c', 'k', 0xd4, 0, 0};

	ck_assert_int_eq(mm_cfg_values_decode(&out, ips_keys, 5, ok, sizeof(ok)), MM_OK);
	ck_assert_int_eq(mm_cfg_values_find(&out, "max_flows")->i, 7);
	/* Keys not sent keep their defaults. */
	ck_assert(mm_cfg_values_find(&out, "threshold")->d == 0.5);
	mm_cfg_values_free(&out);
#define REJECT(buf) ck_assert_int_lt(mm_cfg_values_decode(&out, ips_keys, 5, buf, sizeof(buf)), 0)
	REJECT(range);
	REJECT(type);
	REJECT(unknown);
	REJECT(dup);
	REJECT(notmap);
	REJECT(huge);
	REJECT(nul);
	REJECT(listint);
	REJECT(nan);
	REJECT(boolint);
	REJECT(ext);
#undef REJECT
	ck_assert_ptr_null(out.v);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Roles */

static int
role_with(const char *fixture)
{
	char root[PATH_MAX];

	setenv("MM_ROLE_PROC_ROOT", data_dir(root, sizeof(root), fixture), 1);
	return mm_role_resolve("auto");
}

START_TEST(test_roles)
{
	ck_assert_int_eq(mm_role_resolve("utm"), MM_ROLE_UTM);
	ck_assert_int_eq(mm_role_resolve("pc"), MM_ROLE_PC);
	ck_assert_int_eq(mm_role_resolve("UTM"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_role_resolve(""), MM_ERR_INVAL);
	ck_assert_int_eq(mm_role_resolve(NULL), MM_ERR_INVAL);
	ck_assert_str_eq(mm_role_name(MM_ROLE_UTM), "utm");
	ck_assert_str_eq(mm_role_name(MM_ROLE_PC), "pc");
	ck_assert_str_eq(mm_role_name(0), "unknown");

	ck_assert_int_eq(role_with("roles/utm"), MM_ROLE_UTM);
	ck_assert_int_eq(role_with("roles/operstate"), MM_ROLE_UTM);
	/* No forwarding: a pc however many interfaces it has. */
	ck_assert_int_eq(role_with("roles/noforward"), MM_ROLE_PC);
	/* Forwarding from Docker with one physical interface up. */
	ck_assert_int_eq(role_with("roles/docker"), MM_ROLE_PC);
	ck_assert_int_eq(role_with("roles/empty"), MM_ROLE_PC);
	ck_assert_int_eq(role_with("roles/does-not-exist"), MM_ROLE_PC);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, test_valid_load);
	tcase_add_test(tc, test_missing_dir);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_top_level);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_host_keys);
	tcase_add_test(tc, test_module_validation);
	tcase_add_test(tc, test_role_against_pc);
	tcase_add_test(tc, test_lexical_order);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_bad_default);
	tcase_add_test(tc, test_validate_group_api);
	tcase_add_test(tc, test_diag_order);
	tcase_add_test(tc, test_diag_bounded);
	tcase_add_test(tc, test_digest);
	tcase_add_test(tc, test_encode_decode);
	tcase_add_test(tc, test_decode_tampered);
	tcase_add_test(tc, test_roles);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
