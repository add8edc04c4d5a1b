/*
 * The command line of the one `mimamori` executable: subcommand dispatch,
 * global options, and the small commands that need no process of their
 * own (plugins, check-config). Runs in whatever process was started.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator.h"
#include "config.h"
#include "loader.h"
#include "replay.h"
#include "supervisor.h"
#include "util.h"
#include "worker.h"

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: mimamori [-c DIR] [--plugin-dir DIR] COMMAND [ARGS]\n"
	        "Sensor host for サイバーセキュリティお助け隊 services.\n\n"
	        "Commands:\n"
	        "  run            start the supervisor, the aggregator and the enabled modules\n"
	        "  check-config   validate the configuration and exit (status 2 when invalid)\n"
	        "  plugins        list the plugins found, and why any were refused\n"
	        "  replay         run the packet modules over a capture, print events\n"
	        "  scan-mail      scan mail files with the mail modules, print events\n"
	        "  events         show events from the spool (events tail --help)\n"
	        "  status         show modules, sinks, spool and drop counters\n"
	        "  aggregator     run the aggregator alone\n"
	        "  worker         run one module (started by run)\n\n"
	        "Options:\n"
	        "  -c, --config DIR     configuration directory (default: %s)\n"
	        "  --plugin-dir DIR     plugin directory (default: %s)\n"
	        "  --data-dir DIR       shipped data: rules, tables, messages (default: %s)\n"
	        "  --version            print the version\n"
	        "  -h, --help           this text; COMMAND --help for each command\n",
	        mm_paths()->conf_dir, mm_paths()->plugin_dir, mm_paths()->data_dir);
}

static void
caps_text(char *out, size_t n, uint32_t caps)
{
	static const char *const names[] = {"packets", "wifi", "mail", "host", "inline", "files"};
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (caps & (1u << i))
			len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s",
			                        len ? "," : "", names[i]);
	if (len == 0)
		snprintf(out, n, "-");
}

static void
roles_text(char *out, size_t n, uint32_t roles)
{
	snprintf(out, n, "%s%s%s", (roles & MM_ROLE_UTM) ? "utm" : "",
	         (roles & MM_ROLE_UTM) && (roles & MM_ROLE_PC) ? "," : "",
	         (roles & MM_ROLE_PC)    ? "pc"
	         : (roles & MM_ROLE_UTM) ? ""
	                                 : "-");
}

static const char *
type_name(int type)
{
	switch (type) {
	case MM_CFG_BOOL:
		return "bool";
	case MM_CFG_INT:
		return "int";
	case MM_CFG_DOUBLE:
		return "double";
	case MM_CFG_STRING:
		return "string";
	case MM_CFG_STRING_LIST:
		return "string list";
	default:
		return "?";
	}
}

static void
print_doc(const struct mm_plugin_info *p)
{
	size_t i;

	printf("%s %s (%s): %s\n", p->name, p->version, p->vendor, p->description);
	printf("Configuration keys (in modules = { %s = { ... }; };):\n", p->name);
	printf("  enabled (bool, default false), watchdog_sec (int, default 10),\n"
	       "  restart_max_sec (int, default 60), queue_max (int, default 100000),\n"
	       "  queue_policy (\"block\" | \"drop_oldest\", default \"block\")\n");
	for (i = 0; i < p->nkeys; i++) {
		const struct mm_cfg_key *k = &p->keys[i];
		printf("  %s (%s", k->name, type_name(k->type));
		if ((k->type == MM_CFG_INT || k->type == MM_CFG_DOUBLE) && k->min <= k->max)
			printf(", %g..%g", k->min, k->max);
		if (k->def)
			printf(", default \"%s\"", k->def);
		if (k->flags & MM_CFG_REQUIRED)
			printf(", required");
		printf(")\n      %s\n", k->help ? k->help : "");
	}
}

static int
cmd_plugins(int argc, char **argv)
{
	static const struct option opts[] = {{"doc", required_argument, NULL, 'd'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	struct mm_plugin_info **plugins = NULL;
	struct mm_config *cfg = NULL;
	struct mm_diag diag = {0};
	const char *doc = NULL;
	size_t n = 0, i, refused = 0;
	int c, status = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			doc = optarg;
			break;
		case 'h':
			printf("usage: mimamori plugins [--doc NAME]\n"
			       "List every plugin in the plugin directory: name, version, vendor, "
			       "ABI,\n"
			       "roles, capabilities, enabled or not; and every refused file with "
			       "the\n"
			       "reason. --doc NAME prints a plugin's configuration keys.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (mm_plugins_scan(&plugins, &n, mm_paths()->plugin_dir, mm_paths()->exe) != MM_OK)
		return 1;
	/* Enabled or not comes from the configuration; a broken configuration
	 * does not stop the listing. */
	if (mm_config_load(&cfg, mm_paths()->conf_dir, mm_paths()->state_dir, mm_paths()->run_dir,
	                   &diag) != MM_OK) {
		fprintf(stderr, "(configuration has errors; run mimamori check-config)\n");
	}
	if (doc) {
		struct mm_plugin_info *p = mm_plugins_find(plugins, n, doc);
		if (p == NULL) {
			fprintf(stderr, "no usable plugin named '%s'\n", doc);
			status = 1;
		} else {
			print_doc(p);
		}
		goto out;
	}
	printf("%-12s %-10s %-14s %-5s %-7s %-20s %-8s %s\n", "NAME", "VERSION", "VENDOR", "ABI",
	       "ROLES", "CAPABILITIES", "ENABLED", "FILE");
	for (i = 0; i < n; i++) {
		const struct mm_plugin_info *p = plugins[i];
		const struct mm_module_conf *mc;
		char caps[64], roles[16], abi[16];
		if (p->refused) {
			refused++;
			continue;
		}
		mc = cfg ? mm_config_module(cfg, p->name) : NULL;
		caps_text(caps, sizeof(caps), p->caps);
		roles_text(roles, sizeof(roles), p->roles);
		snprintf(abi, sizeof(abi), "%u.%u", MM_ABI_VERSION_MAJOR(p->abi_version),
		         MM_ABI_VERSION_MINOR(p->abi_version));
		printf("%-12s %-10s %-14s %-5s %-7s %-20s %-8s %s\n", p->name, p->version,
		       p->vendor, abi, roles, caps, mc && mc->enabled ? "yes" : "no", p->path);
	}
	if (refused) {
		printf("\nRefused:\n");
		for (i = 0; i < n; i++)
			if (plugins[i]->refused)
				printf("  %s: %s\n", plugins[i]->path, plugins[i]->refused);
	}
out:
	mm_config_free(cfg);
	mm_diag_free(&diag);
	mm_plugins_free(plugins, n);
	return status;
}

static int
cmd_check_config(int argc, char **argv)
{
	struct mm_plugin_info **plugins = NULL;
	struct mm_config *cfg = NULL;
	struct mm_diag diag = {0};
	size_t n = 0, i, enabled = 0;
	int rc;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: mimamori check-config\n"
		       "Validate every *.conf of the configuration directory against the host's\n"
		       "and each plugin's declared keys. Prints one FILE:LINE: line per problem "
		       "and\n"
		       "exits with status 2 when there is any; starts nothing.\n");
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "check-config: unexpected argument %s\n", argv[1]);
		return 2;
	}
	rc = mm_config_load(&cfg, mm_paths()->conf_dir, mm_paths()->state_dir, mm_paths()->run_dir,
	                    &diag);
	if (rc == MM_OK || cfg) {
		if (cfg)
			mm_loader_set_service_user(cfg->user);
		if (mm_plugins_scan(&plugins, &n, mm_paths()->plugin_dir, mm_paths()->exe) != MM_OK)
			mm_diag_add(&diag, mm_paths()->plugin_dir, 0,
			            "cannot read plugin directory");
	}
	if (rc == MM_OK)
		rc = mm_config_validate(cfg, plugins, n, &diag);
	if (rc == MM_OK)
		rc = mm_aggregator_check_config(cfg, &diag);
	if (rc != MM_OK || diag.n) {
		mm_diag_print(&diag, stderr);
		rc = 2;
	} else {
		printf("configuration OK: %s (role %s)\n", mm_paths()->conf_dir,
		       mm_role_name(cfg->role));
		for (i = 0; i < cfg->nmodules; i++)
			if (cfg->modules[i].enabled) {
				printf("  module %s enabled (%s)\n", cfg->modules[i].name,
				       cfg->modules[i].plugin ? cfg->modules[i].plugin->path : "?");
				enabled++;
			}
		printf("%zu module(s) enabled\n", enabled);
		rc = 0;
	}
	mm_diag_free(&diag);
	mm_plugins_free(plugins, n);
	mm_config_free(cfg);
	return rc;
}

/* Commands that read the configuration but run no module. */
static int
with_config(int (*fn)(const struct mm_config *, int, char **), int argc, char **argv)
{
	struct mm_config *cfg = NULL;
	struct mm_diag diag = {0};
	int rc;

	if (mm_config_load(&cfg, mm_paths()->conf_dir, mm_paths()->state_dir, mm_paths()->run_dir,
	                   &diag) != MM_OK) {
		mm_diag_print(&diag, stderr);
		mm_diag_free(&diag);
		mm_config_free(cfg);
		return 2;
	}
	if (cfg->log_level && mm_log_level_parse(cfg->log_level) >= 0)
		mm_log_set_level(mm_log_level_parse(cfg->log_level));
	optind = 1;
	rc = fn(cfg, argc, argv);
	mm_diag_free(&diag);
	mm_config_free(cfg);
	return rc;
}

int
mm_cli_main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"plugin-dir", required_argument, NULL, 'P'},
	                                     {"data-dir", required_argument, NULL, 'D'},
	                                     {"version", no_argument, NULL, 'V'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *cmd;
	int c;

	/* Global options stop at the first word that is not one (the command). */
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			mm_paths_set(optarg, NULL, NULL);
			break;
		case 'P':
			mm_paths_set(NULL, optarg, NULL);
			break;
		case 'D':
			mm_paths_set(NULL, NULL, optarg);
			break;
		case 'V':
			printf("mimamori %s (plugin ABI %u.%u)\n", MM_VERSION, MM_ABI_MAJOR,
			       MM_ABI_MINOR);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 1;
	if (strcmp(cmd, "run") == 0)
		return mm_run_main(argc, argv);
	if (strcmp(cmd, "worker") == 0)
		return mm_worker_main(argc, argv);
	if (strcmp(cmd, "probe") == 0)
		return mm_probe_main(argc, argv);
	if (strcmp(cmd, "plugins") == 0)
		return cmd_plugins(argc, argv);
	if (strcmp(cmd, "check-config") == 0)
		return cmd_check_config(argc, argv);
	if (strcmp(cmd, "replay") == 0)
		return mm_replay_main(argc, argv);
	if (strcmp(cmd, "scan-mail") == 0)
		return mm_scan_mail_main(argc, argv);
	if (strcmp(cmd, "aggregator") == 0)
		return with_config(mm_aggregator_main, argc, argv);
	if (strcmp(cmd, "events") == 0)
		return with_config(mm_events_main, argc, argv);
	if (strcmp(cmd, "status") == 0)
		return with_config(mm_status_main, argc, argv);
	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "mimamori: unknown command '%s' (mimamori --help lists them)\n", cmd);
	return 2;
}
