/*
 * `mimamori status`: one view of the whole sensor, from the supervisor's
 * status file (<run_dir>/supervisor.json: modules, restarts, worker-side
 * transport counters) and the aggregator's (<run_dir>/aggregator.json:
 * events in per module, out per sink, spool depth, drop counters). Both are
 * parsed by the small bounded JSON reader below; --json prints both merged.
 *
 * Runs in the CLI process.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "aggconf.h"
#include "aggregator.h"
#include "mimamori/error.h"

#define JSON_MAX_FILE (4u << 20)
#define JSON_MAX_DEPTH 16
#define JSON_MAX_NODES 100000

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jnode {
	int type;
	double num;
	char *str;         /* J_STR value */
	char *key;         /* member name inside an object */
	struct jnode *kid; /* first child */
	struct jnode *next;
};

struct jparser {
	const char *p, *end;
	size_t nodes;
};

static void
jfree(struct jnode *n)
{
	while (n != NULL) {
		struct jnode *next = n->next;
		jfree(n->kid);
		free(n->str);
		free(n->key);
		free(n);
		n = next;
	}
}

static void
jskip(struct jparser *jp)
{
	while (jp->p < jp->end &&
	       (*jp->p == ' ' || *jp->p == '\n' || *jp->p == '\r' || *jp->p == '\t'))
		jp->p++;
}

static char *
jstring(struct jparser *jp)
{
	struct mm_buf b = MM_BUF_INIT;

	if (jp->p >= jp->end || *jp->p != '"')
		return NULL;
	jp->p++;
	while (jp->p < jp->end && *jp->p != '"') {
		char c = *jp->p++;
		if (c == '\\') {
			if (jp->p >= jp->end)
				break;
			c = *jp->p++;
			if (c == 'u') {
				/* Only what our writers emit (control characters)
				 * matters here; anything else becomes '?'. */
				unsigned v = 0;
				int k;
				for (k = 0; k < 4 && jp->p < jp->end; k++, jp->p++) {
					char h = *jp->p;
					v = v * 16 + (unsigned)(h >= 'a'   ? h - 'a' + 10
					                        : h >= 'A' ? h - 'A' + 10
					                                   : h - '0');
				}
				c = v < 0x80 ? (char)v : '?';
			} else if (c == 'n') {
				c = '\n';
			} else if (c == 't') {
				c = '\t';
			}
		}
		mm_buf_putc(&b, c);
	}
	if (jp->p >= jp->end) {
		mm_buf_free(&b);
		return NULL;
	}
	jp->p++;
	mm_buf_cstr(&b);
	if (b.data == NULL)
		return strdup("");
	return (char *)b.data;
}

static struct jnode *
jvalue(struct jparser *jp, int depth)
{
	struct jnode *n, **tail;

	jskip(jp);
	if (jp->p >= jp->end || depth > JSON_MAX_DEPTH || ++jp->nodes > JSON_MAX_NODES)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	tail = &n->kid;
	if (*jp->p == '{' || *jp->p == '[') {
		int obj = *jp->p == '{';
		char close = obj ? '}' : ']';

		n->type = obj ? J_OBJ : J_ARR;
		jp->p++;
		jskip(jp);
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			return n;
		}
		for (;;) {
			char *key = NULL;
			struct jnode *k;

			jskip(jp);
			if (obj) {
				if ((key = jstring(jp)) == NULL)
					goto bad;
				jskip(jp);
				if (jp->p >= jp->end || *jp->p++ != ':') {
					free(key);
					goto bad;
				}
			}
			k = jvalue(jp, depth + 1);
			if (k == NULL) {
				free(key);
				goto bad;
			}
			k->key = key;
			*tail = k;
			tail = &k->next;
			jskip(jp);
			if (jp->p < jp->end && *jp->p == ',') {
				jp->p++;
				continue;
			}
			if (jp->p < jp->end && *jp->p == close) {
				jp->p++;
				return n;
			}
			goto bad;
		}
	}
	if (*jp->p == '"') {
		n->type = J_STR;
		if ((n->str = jstring(jp)) == NULL)
			goto bad;
		return n;
	}
	if ((size_t)(jp->end - jp->p) >= 4 && strncmp(jp->p, "true", 4) == 0) {
		n->type = J_BOOL;
		n->num = 1;
		jp->p += 4;
		return n;
	}
	if ((size_t)(jp->end - jp->p) >= 5 && strncmp(jp->p, "false", 5) == 0) {
		n->type = J_BOOL;
		jp->p += 5;
		return n;
	}
	if ((size_t)(jp->end - jp->p) >= 4 && strncmp(jp->p, "null", 4) == 0) {
		n->type = J_NULL;
		jp->p += 4;
		return n;
	}
	{
		char num[64];
		size_t k = 0;
		char *e;

		while (jp->p < jp->end && k + 1 < sizeof(num) && strchr("+-0123456789.eE", *jp->p))
			num[k++] = *jp->p++;
		num[k] = '\0';
		n->type = J_NUM;
		n->num = strtod(num, &e);
		if (k == 0 || *e != '\0')
			goto bad;
		return n;
	}
bad:
	jfree(n);
	return NULL;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = malloc(JSON_MAX_FILE + 1);
	if (buf == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, JSON_MAX_FILE, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static struct jnode *
jload(const char *path, char **raw)
{
	struct jparser jp;
	size_t len = 0;
	char *text = slurp(path, &len);
	struct jnode *n;

	*raw = NULL;
	if (text == NULL)
		return NULL;
	jp.p = text;
	jp.end = text + len;
	jp.nodes = 0;
	n = jvalue(&jp, 0);
	if (n == NULL)
		free(text);
	else
		*raw = text;
	return n;
}

static const struct jnode *
jget(const struct jnode *n, const char *key)
{
	const struct jnode *k;

	if (n == NULL || n->type != J_OBJ)
		return NULL;
	for (k = n->kid; k != NULL; k = k->next)
		if (k->key != NULL && strcmp(k->key, key) == 0)
			return k;
	return NULL;
}

static double
jnum(const struct jnode *n, const char *key)
{
	const struct jnode *k = jget(n, key);
	return k != NULL && (k->type == J_NUM || k->type == J_BOOL) ? k->num : 0;
}

static const char *
jstr(const struct jnode *n, const char *key, const char *def)
{
	const struct jnode *k = jget(n, key);
	return k != NULL && k->type == J_STR ? k->str : def;
}

static int
status_usage(FILE *out)
{
	fprintf(out, "usage: mimamori status [--json]\n"
	             "\n"
	             "Show each module (running, restarting, refused; restarts; events and\n"
	             "transport counters), the aggregator's spool and sinks, and every drop\n"
	             "counter. --json prints the supervisor's and the aggregator's status\n"
	             "files as one JSON object.\n");
	return out == stdout ? 0 : 2;
}

/* Whether the process that wrote a status file is still there. */
static int
alive(const struct jnode *root)
{
	double pid = jnum(root, "pid");

	if (pid <= 0)
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static void
print_modules(const struct jnode *sup, const struct jnode *agg)
{
	const struct jnode *mods = jget(sup, "modules"), *m, *am = jget(agg, "modules");

	printf("Modules (supervisor %s):\n", sup == NULL  ? "not running, no status file"
	                                     : alive(sup) ? "running"
	                                                  : "not running");
	if (mods != NULL && mods->type == J_ARR && mods->kid != NULL) {
		printf("  %-16s %-11s %7s %8s %-14s %9s %9s %8s %8s %8s\n", "MODULE", "STATE",
		       "PID", "RESTARTS", "LAST EXIT", "STORED", "QUEUED", "ACKED", "DROPPED",
		       "BUFFERED");
		for (m = mods->kid; m != NULL; m = m->next) {
			const struct jnode *tr = jget(m, "transport"), *x;
			const char *name = jstr(m, "name", "?");
			double stored = 0;

			for (x = am ? am->kid : NULL; x != NULL; x = x->next)
				if (strcmp(jstr(x, "name", ""), name) == 0)
					stored = jnum(x, "events");
			printf("  %-16s %-11s %7.0f %8.0f %-14s %9.0f %9.0f %8.0f %8.0f %8.0f\n",
			       name, jstr(m, "state", "?"), jnum(m, "pid"), jnum(m, "restarts"),
			       jstr(m, "last_exit", "-"), stored, jnum(tr, "queued"),
			       jnum(tr, "acked"), jnum(tr, "dropped_full"), jnum(tr, "buffered"));
			if (jstr(m, "reason", NULL) != NULL && jstr(m, "reason", "")[0])
				printf("  %-16s reason: %s\n", "", jstr(m, "reason", ""));
			if (jnum(tr, "rejected") > 0 || jnum(tr, "resent") > 0)
				printf("  %-16s transport: %.0f rejected by the aggregator, %.0f "
				       "resent\n",
				       "", jnum(tr, "rejected"), jnum(tr, "resent"));
		}
	} else {
		printf("  (none)\n");
	}
	/* Senders the supervisor does not know (tests, replay) still count. */
	for (m = am ? am->kid : NULL; m != NULL; m = m->next) {
		const char *name = jstr(m, "name", "?");
		int known = 0;

		for (const struct jnode *x = mods ? mods->kid : NULL; x != NULL; x = x->next)
			known |= strcmp(jstr(x, "name", ""), name) == 0;
		if (!known)
			printf("  %-16s %-11s events stored %.0f, duplicates %.0f, rejected %.0f\n",
			       name, "(sender)", jnum(m, "events"), jnum(m, "duplicates"),
			       jnum(m, "rejected"));
	}
}

static void
print_aggregator(const struct jnode *agg, const char *path)
{
	const struct jnode *sp = jget(agg, "spool"), *sinks = jget(agg, "sinks"), *d, *k;

	if (agg == NULL) {
		printf("Aggregator: no status file (%s)\n", path);
		return;
	}
	printf("Aggregator: %s (pid %.0f), endpoint %s\n", alive(agg) ? "running" : "not running",
	       jnum(agg, "pid"), jstr(agg, "endpoint", "?"));
	printf("  spool: %.0f events, %.1f of %.1f MiB (when full: %s)\n", jnum(sp, "events"),
	       jnum(sp, "bytes") / 1048576.0, jnum(sp, "max_bytes") / 1048576.0,
	       jstr(sp, "policy", "?"));
	printf("  undelivered: %.0f events, oldest %.1f s old\n", jnum(sp, "undelivered"),
	       jnum(sp, "oldest_undelivered_age_s"));
	d = jget(agg, "in");
	printf("  in: %.0f events in %.0f batches, %.0f duplicates ignored\n", jnum(d, "events"),
	       jnum(d, "batches"), jnum(d, "duplicates"));
	for (k = sinks ? sinks->kid : NULL; k != NULL; k = k->next) {
		printf("  sink %-8s out %.0f, pending %.0f, failures %.0f, skipped %.0f",
		       jstr(k, "name", "?"), jnum(k, "events"), jnum(k, "pending"),
		       jnum(k, "failures"), jnum(k, "skipped"));
		if (jnum(k, "retry_in_ms") > 0)
			printf(", retry in %.1f s (%s)", jnum(k, "retry_in_ms") / 1000.0,
			       jstr(k, "last_error", ""));
		printf("\n");
	}
	d = jget(agg, "drops");
	printf("  drops:");
	for (k = d ? d->kid : NULL; k != NULL; k = k->next)
		printf(" %s=%.0f", k->key ? k->key : "?", k->num);
	printf("\n");
}

int
mm_status_main(const struct mm_config *cfg, int argc, char **argv)
{
	struct mm_agg_conf conf;
	char sup_path[MM_PATH_MAX + 32];
	char *sup_raw = NULL, *agg_raw = NULL;
	struct jnode *sup, *agg;
	int i, json = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return status_usage(stdout);
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else {
			fprintf(stderr, "mimamori status: unknown option '%s'\n", argv[i]);
			return status_usage(stderr);
		}
	}
	mm_agg_conf_load(&conf, cfg, NULL);
	snprintf(sup_path, sizeof(sup_path), "%s/supervisor.json",
	         cfg->run_dir ? cfg->run_dir : ".");
	sup = jload(sup_path, &sup_raw);
	agg = jload(conf.stats_path, &agg_raw);
	if (json) {
		size_t n;
		printf("{\"supervisor\":");
		if (sup_raw != NULL) {
			n = strlen(sup_raw);
			while (n > 0 && (sup_raw[n - 1] == '\n' || sup_raw[n - 1] == ' '))
				n--;
			printf("%.*s", (int)n, sup_raw);
		} else
			printf("null");
		printf(",\"supervisor_running\":%s,\"aggregator\":", alive(sup) ? "true" : "false");
		if (agg_raw != NULL) {
			n = strlen(agg_raw);
			while (n > 0 && (agg_raw[n - 1] == '\n' || agg_raw[n - 1] == ' '))
				n--;
			printf("%.*s", (int)n, agg_raw);
		} else
			printf("null");
		printf(",\"aggregator_running\":%s}\n", alive(agg) ? "true" : "false");
	} else {
		print_modules(sup, agg);
		print_aggregator(agg, conf.stats_path);
	}
	jfree(sup);
	jfree(agg);
	free(sup_raw);
	free(agg_raw);
	mm_agg_conf_free(&conf);
	return 0;
}
