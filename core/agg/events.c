/*
 * `mimamori events tail`: prints the events held in the aggregator's spool
 * (undelivered ones and those still inside the dedup window), as JSON lines
 * or in the one-line human form, optionally following new ones. Opens the
 * spool read-only next to a running aggregator (SQLite WAL readers never
 * block the writer).
 *
 * Runs in the CLI process.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "aggconf.h"
#include "aggregator.h"
#include "event.h"
#include "mimamori/error.h"
#include "spool.h"

struct tail {
	int kind, min_sev, pretty;
	size_t last_n; /* 0: all */
	char **ring;   /* the last_n newest matches, when limited */
	size_t nring, ringpos;
	uint64_t last;
	uint64_t skipped;
	struct mm_buf out;
};

static volatile sig_atomic_t tail_stop;

static void
on_tail_signal(int sig)
{
	(void)sig;
	tail_stop = 1;
}

static int
tail_usage(FILE *out)
{
	fprintf(out, "usage: mimamori events tail [--follow] [--kind K] [--min-sev N] [-n N]\n"
	             "                            [--pretty | --json]\n"
	             "\n"
	             "Print the events held in the aggregator's spool, oldest first.\n"
	             "\n"
	             "  -f, --follow     keep printing new events as they arrive (Ctrl-C stops)\n"
	             "  --kind K         only events of kind K (alert, asset, health, stat)\n"
	             "  --min-sev N      only events with severity N or higher (1-5)\n"
	             "  -n N             only the last N matching events (then follow)\n"
	             "  --pretty         one line per event for people\n"
	             "  --json           JSON lines (the default)\n");
	return out == stdout ? 0 : 2;
}

static int
tail_row(void *arg, const struct mm_spool_row *row)
{
	struct tail *t = arg;
	struct mm_event *ev = NULL;

	t->last = row->seq;
	if (row->skip)
		return 0; /* damaged, counted by the aggregator at start-up */
	if (t->kind && row->kind != t->kind)
		return 0;
	if (t->min_sev && row->sev < t->min_sev)
		return 0;
	if (row->corrupt || mm_event_decode(&ev, row->data, row->len) != MM_OK) {
		t->skipped++;
		return 0;
	}
	mm_buf_reset(&t->out);
	if ((t->pretty ? mm_event_to_pretty(ev, &t->out) : mm_event_to_json(ev, &t->out)) ==
	    MM_OK) {
		if (t->ring != NULL) {
			free(t->ring[t->ringpos]);
			t->ring[t->ringpos] = strdup(mm_buf_cstr(&t->out));
			t->ringpos = (t->ringpos + 1) % t->last_n;
			if (t->nring < t->last_n)
				t->nring++;
		} else {
			fwrite(t->out.data, 1, t->out.len, stdout);
			fputc('\n', stdout);
		}
	}
	mm_event_free(ev);
	return 0;
}

static int
drain(struct mm_spool *s, struct tail *t)
{
	int n;

	do {
		n = mm_spool_read(s, t->last, 4096, tail_row, t);
	} while (n > 0 && !tail_stop);
	return n < 0 ? n : MM_OK;
}

int
mm_events_main(const struct mm_config *cfg, int argc, char **argv)
{
	struct mm_agg_conf conf;
	struct mm_spool_opts so;
	struct mm_spool *s = NULL;
	struct tail t;
	int i, follow = 0, status = 1, rc;
	char *end;

	memset(&t, 0, sizeof(t));
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return tail_usage(argc < 2 ? stderr : stdout);
	if (strcmp(argv[1], "tail") != 0) {
		fprintf(stderr, "mimamori events: unknown command '%s'\n", argv[1]);
		return tail_usage(stderr);
	}
	for (i = 2; i < argc; i++) {
		const char *o = argv[i];

		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0)
			return tail_usage(stdout);
		if (strcmp(o, "--follow") == 0 || strcmp(o, "-f") == 0) {
			follow = 1;
		} else if (strcmp(o, "--pretty") == 0) {
			t.pretty = 1;
		} else if (strcmp(o, "--json") == 0) {
			t.pretty = 0;
		} else if (strcmp(o, "--kind") == 0 && i + 1 < argc) {
			t.kind = mm_event_kind_parse(argv[++i]);
			if (t.kind == 0) {
				fprintf(stderr, "mimamori events tail: unknown kind '%s'\n",
				        argv[i]);
				return 2;
			}
		} else if (strcmp(o, "--min-sev") == 0 && i + 1 < argc) {
			long v = strtol(argv[++i], &end, 10);
			if (*end != '\0' || v < 1 || v > 5) {
				fprintf(stderr, "mimamori events tail: --min-sev takes 1 to 5\n");
				return 2;
			}
			t.min_sev = (int)v;
		} else if (strcmp(o, "-n") == 0 && i + 1 < argc) {
			long v = strtol(argv[++i], &end, 10);
			if (*end != '\0' || v < 1 || v > 1000000) {
				fprintf(stderr, "mimamori events tail: -n takes 1 to 1000000\n");
				return 2;
			}
			t.last_n = (size_t)v;
		} else {
			fprintf(stderr, "mimamori events tail: unknown option '%s'\n", o);
			return tail_usage(stderr);
		}
	}
	if (mm_agg_conf_load(&conf, cfg, NULL) != MM_OK && conf.spool_dir[0] == '\0') {
		fprintf(stderr, "mimamori events tail: the aggregator configuration is invalid\n");
		return 2;
	}
	memset(&so, 0, sizeof(so));
	so.dir = conf.spool_dir;
	so.readonly = 1;
	if ((rc = mm_spool_open(&s, &so, NULL)) != MM_OK) {
		fprintf(stderr, "mimamori events tail: no readable spool in %s (%s)\n",
		        conf.spool_dir, mm_strerror(rc));
		goto out;
	}
	if (t.last_n > 0 && (t.ring = calloc(t.last_n, sizeof(char *))) == NULL)
		goto out;
	tail_stop = 0;
	if (follow) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_tail_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	if ((rc = drain(s, &t)) != MM_OK) {
		fprintf(stderr, "mimamori events tail: reading the spool failed: %s\n",
		        mm_strerror(rc));
		goto out;
	}
	if (t.ring != NULL) {
		size_t k, first = (t.ringpos + t.last_n - t.nring) % t.last_n;
		for (k = 0; k < t.nring; k++)
			puts(t.ring[(first + k) % t.last_n]);
		for (k = 0; k < t.last_n; k++)
			free(t.ring[k]);
		free(t.ring);
		t.ring = NULL;
	}
	fflush(stdout);
	while (follow && !tail_stop) {
		poll(NULL, 0, 250);
		if (drain(s, &t) != MM_OK)
			break;
		fflush(stdout);
	}
	if (t.skipped)
		fprintf(stderr, "mimamori events tail: %llu damaged events skipped\n",
		        (unsigned long long)t.skipped);
	status = 0;
out:
	if (t.ring != NULL) {
		size_t k;
		for (k = 0; k < t.last_n; k++)
			free(t.ring[k]);
		free(t.ring);
	}
	mm_buf_free(&t.out);
	mm_spool_close(s);
	mm_agg_conf_free(&conf);
	return status;
}
