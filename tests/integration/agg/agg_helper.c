/*
 * Test helper for the aggregator integration tests and the pipeline
 * benchmark: runs the aggregator and the operator commands against a
 * configuration directory (until the CLI wires them into `mimamori`), and
 * acts as an event producer over the real transport.
 *
 *   agg_helper aggregator|events|status|check CONFDIR [args...]
 *   agg_helper produce ENDPOINT MODULE COUNT IDLOG PROGRESS [--drop-oldest]
 *              [--queue N] [--pad BYTES] [--flush-ms MS]
 *
 * produce appends the id of every event it queues to IDLOG and keeps
 * PROGRESS (one line, rewritten in place) at "prefix queued acked dropped
 * rejected buffered": the first `prefix` ids of IDLOG are acknowledged.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator.h"
#include "config.h"
#include "event.h"
#include "mimamori/error.h"
#include "transport.h"
#include "util.h"

static int
run_cli(const char *what, const char *dir, int argc, char **argv)
{
	struct mm_config *cfg = NULL;
	struct mm_diag diag = {NULL, 0};
	char state[MM_PATH_MAX], run[MM_PATH_MAX];
	int rc;

	snprintf(state, sizeof(state), "%s/../state", dir);
	snprintf(run, sizeof(run), "%s/../run", dir);
	rc = mm_config_load(&cfg, dir, state, run, &diag);
	if (rc != MM_OK) {
		mm_diag_print(&diag, stderr);
		mm_diag_free(&diag);
		mm_config_free(cfg);
		return 2;
	}
	if (strcmp(what, "aggregator") == 0)
		rc = mm_aggregator_main(cfg, argc, argv);
	else if (strcmp(what, "events") == 0)
		rc = mm_events_main(cfg, argc, argv);
	else if (strcmp(what, "status") == 0)
		rc = mm_status_main(cfg, argc, argv);
	else {
		rc = mm_aggregator_check_config(cfg, &diag) == MM_OK ? 0 : 1;
		mm_diag_print(&diag, stdout);
		printf("endpoint %s enabled %d\n", mm_aggregator_endpoint(cfg),
		       mm_aggregator_enabled(cfg));
	}
	mm_diag_free(&diag);
	mm_config_free(cfg);
	return rc;
}

static void
progress(int fd, struct mm_transport *t, uint64_t prefix)
{
	struct mm_transport_counters c;
	char line[256];
	int n;

	mm_transport_get_counters(t, &c);
	n = snprintf(line, sizeof(line), "%llu %llu %llu %llu %llu %llu\n",
	             (unsigned long long)prefix, (unsigned long long)c.queued,
	             (unsigned long long)c.acked, (unsigned long long)c.dropped_full,
	             (unsigned long long)c.rejected, (unsigned long long)c.buffered);
	memset(line + n, ' ', 80 - (size_t)n);
	line[80] = '\n';
	if (pwrite(fd, line, 81, 0) != 81)
		perror("progress");
}

static int
produce(int argc, char **argv)
{
	struct mm_transport_opts o;
	struct mm_transport *t = NULL;
	struct mm_buf enc = MM_BUF_INIT, ids = MM_BUF_INIT;
	struct mm_transport_counters c;
	long count, i, pad = 0, flush_ms = 60000, dup_every = 0;
	int idfd, pfd, a, rc, left;
	char *padding = NULL;

	memset(&o, 0, sizeof(o));
	o.endpoint = argv[2];
	o.module = argv[3];
	count = atol(argv[4]);
	for (a = 7; a < argc; a++) {
		if (strcmp(argv[a], "--drop-oldest") == 0)
			o.policy = MM_QUEUE_DROP_OLDEST;
		else if (strcmp(argv[a], "--queue") == 0 && a + 1 < argc)
			o.queue_max = (size_t)atol(argv[++a]);
		else if (strcmp(argv[a], "--pad") == 0 && a + 1 < argc)
			pad = atol(argv[++a]);
		else if (strcmp(argv[a], "--flush-ms") == 0 && a + 1 < argc)
			flush_ms = atol(argv[++a]);
		else if (strcmp(argv[a], "--dup-every") == 0 && a + 1 < argc)
			dup_every = atol(argv[++a]);
	}
	o.ack_timeout_ms = 1000;
	idfd = open(argv[5], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	pfd = open(argv[6], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (idfd < 0 || pfd < 0 || (rc = mm_transport_open(&t, &o)) != MM_OK) {
		fprintf(stderr, "produce: cannot start\n");
		return 1;
	}
	if (pad > 0) {
		padding = malloc((size_t)pad + 1);
		memset(padding, 'x', (size_t)pad);
		padding[pad] = '\0';
	}
	for (i = 0; i < count; i++) {
		struct mm_event *ev = mm_event_create(MM_KIND_ALERT);
		struct mm_event_stamp st;
		char msg[64];

		memset(&st, 0, sizeof(st));
		st.ts_ns = mm_now_ns();
		st.seq = (uint64_t)i + 1;
		st.sensor_id = "test-sensor";
		st.sensor_host = "test-host";
		st.sensor_role = "utm";
		st.plugin_name = o.module;
		st.plugin_version = "1.0";
		st.plugin_vendor = "test";
		snprintf(msg, sizeof(msg), "MARK-%s-%08ld", o.module, i);
		mm_event_set_str(ev, "cat", "scan");
		mm_event_set_int(ev, "sev", 1 + i % 5);
		mm_event_set_str(ev, "src.ip", "192.0.2.10");
		mm_event_set_int(ev, "src.port", 40000 + i % 1000);
		mm_event_set_str(ev, "dst.ip", "198.51.100.7");
		mm_event_set_int(ev, "dst.port", 443);
		mm_event_set_str(ev, "proto", "tcp");
		mm_event_set_str(ev, "msg", msg);
		if (padding)
			mm_event_set_str(ev, "attrs.pad", padding);
		mm_buf_reset(&enc);
		if (mm_event_stamp(ev, &st) != MM_OK || mm_event_encode(ev, &enc) != MM_OK) {
			fprintf(stderr, "produce: cannot build event\n");
			return 1;
		}
		/* The id is on disk before the event can leave: whatever the
		 * aggregator stores, the log names. */
		mm_buf_reset(&ids);
		mm_buf_printf(&ids, "%s\n", mm_event_id(ev));
		mm_event_free(ev);
		if (write(idfd, ids.data, ids.len) != (ssize_t)ids.len)
			return 1;
		while ((rc = mm_transport_send(t, enc.data, enc.len)) == MM_ERR_AGAIN)
			;
		/* --dup-every K: every K-th event goes out twice, for the
		 * aggregator to drop the copy from the middle of its group. */
		if (rc == MM_OK && dup_every > 0 && i % dup_every == 0)
			while ((rc = mm_transport_send(t, enc.data, enc.len)) == MM_ERR_AGAIN)
				;
		if (rc != MM_OK) {
			fprintf(stderr, "produce: send: %s\n", mm_strerror(rc));
			return 1;
		}
		if (i % 500 == 499 || i == count - 1) {
			progress(pfd, t, mm_transport_settled_prefix(t));
		}
	}
	left = mm_transport_flush(t, (int)flush_ms);
	progress(pfd, t, mm_transport_settled_prefix(t));
	mm_transport_get_counters(t, &c);
	printf("queued %llu sent %llu acked %llu resent %llu dropped %llu rejected %llu "
	       "buffered %llu left %d\n",
	       (unsigned long long)c.queued, (unsigned long long)c.sent,
	       (unsigned long long)c.acked, (unsigned long long)c.resent,
	       (unsigned long long)c.dropped_full, (unsigned long long)c.rejected,
	       (unsigned long long)c.buffered, left);
	mm_transport_close(t);
	mm_buf_free(&enc);
	mm_buf_free(&ids);
	free(padding);
	close(idfd);
	close(pfd);
	return left == 0 ? 0 : 3;
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && (strcmp(argv[1], "aggregator") == 0 || strcmp(argv[1], "events") == 0 ||
	                  strcmp(argv[1], "status") == 0 || strcmp(argv[1], "check") == 0)) {
		/* The commands see argv[0] == their own name, as from the CLI. */
		const char *dir = argv[2];
		argv[2] = argv[1];
		return run_cli(argv[1], dir, argc - 2, argv + 2);
	}
	if (argc >= 7 && strcmp(argv[1], "produce") == 0)
		return produce(argc, argv);
	fprintf(stderr, "usage: see the comment at the top of agg_helper.c\n");
	return 2;
}
