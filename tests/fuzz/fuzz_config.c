/*
 * Fuzz target for the configuration loader: each input becomes the only
 * .conf file of a private temporary directory, which is loaded with
 * mm_config_load() and validated against a fixed table of fake plugins; the
 * values of every validated module then go through the msgpack hand-over
 * to a worker and back. Runs in the fuzzing process only.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "mimamori/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct mm_cfg_key ips_keys[] = {
        {"rules", MM_CFG_STRING_LIST, "a.rules, b.rules", 0, -1, 0, "Rule files."},
        {"home_net", MM_CFG_STRING, NULL, 0, -1, MM_CFG_REQUIRED, "Local networks."},
        {"threshold", MM_CFG_DOUBLE, "0.5", 0, 1, 0, "Alert threshold."},
        {"max_flows", MM_CFG_INT, "10000", 1, 1000000, 0, "Flow table size."},
        {"block", MM_CFG_BOOL, "false", 0, -1, 0, "Block inline."},
};
static const struct mm_cfg_key mail_keys[] = {
        {"limit", MM_CFG_INT, "ten", 0, -1, 0, "A broken default."},
        {"servers", MM_CFG_STRING_LIST, NULL, 0, -1, 0, "Servers."},
};

static struct mm_plugin_info p_ips = {.name = "ips",
                                      .path = "/p/ips.so",
                                      .roles = MM_ROLE_UTM,
                                      .keys = (struct mm_cfg_key *)ips_keys,
                                      .nkeys = 5};
static struct mm_plugin_info p_mail = {.name = "mail",
                                       .path = "/p/mail.so",
                                       .roles = MM_ROLE_UTM | MM_ROLE_PC,
                                       .keys = (struct mm_cfg_key *)mail_keys,
                                       .nkeys = 2};
static struct mm_plugin_info p_old = {.name = "old", .path = "/p/old.so", .refused = "ABI"};
static struct mm_plugin_info *const plugins[] = {&p_ips, &p_mail, &p_old};

static char dir[64];
static char path[96];

static void
cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_config *cfg = NULL;
	struct mm_diag d = {0};
	struct mm_buf b = MM_BUF_INIT;
	struct mm_cfg_values back;
	FILE *f;
	size_t i;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/mm-fuzz-config-XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof(path), "%s/00-fuzz.conf", dir);
		atexit(cleanup);
	}
	/* An @include could name any file on the machine (a device, a FIFO):
	 * that is the operator's choice, not something to fuzz. */
	if (size > 0 && memmem(data, size, "@", 1) != NULL)
		return 0;
	f = fopen(path, "wb");
	if (f == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);

	/* The role is fixed so the result does not depend on the machine. */
	setenv("MM_ROLE_PROC_ROOT", "/nonexistent", 1);
	if (mm_config_load(&cfg, dir, "/s", "/r", &d) != MM_ERR_NOMEM && cfg != NULL) {
		mm_config_validate(cfg, plugins, 3, &d);
		for (i = 0; i < cfg->nmodules; i++) {
			const struct mm_module_conf *m = &cfg->modules[i];

			if (m->plugin == NULL || m->plugin->refused != NULL)
				continue;
			mm_buf_reset(&b);
			if (mm_cfg_values_encode(&m->values, &b) != MM_OK)
				continue;
			/* What the supervisor encodes, the worker must accept. */
			if (mm_cfg_values_decode(&back, m->plugin->keys, m->plugin->nkeys, b.data,
			                         b.len) != MM_OK &&
			    m->plugin == &p_ips)
				abort();
			mm_cfg_values_free(&back);
			/* And damaged input is refused without harm. */
			if (b.len > 1)
				mm_cfg_values_decode(&back, m->plugin->keys, m->plugin->nkeys,
				                     b.data, b.len / 2);
			mm_cfg_values_free(&back);
		}
	}
	mm_buf_free(&b);
	mm_config_free(cfg);
	mm_diag_free(&d);
	return 0;
}
