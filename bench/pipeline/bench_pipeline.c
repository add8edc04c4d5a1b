/*
 * Pipeline benchmark: events/s and peak RSS from one producer through the
 * transport and the aggregator (durable SQLite spool, ack after commit) to
 * the JSON-lines file sink, and the same msgpack payloads over a bare
 * ZeroMQ PUSH/PULL pair measured in the same run, with the ratio between
 * the two. Prints where the time goes (CPU of producer and aggregator
 * against wall time) so that the limit is visible.
 *
 * The run is made of rounds: a bare pass, then a pipeline pass through a
 * fresh aggregator (new spool, new sink file). Each round's ratio compares
 * two passes made seconds apart, so a slow moment of a shared machine
 * affects both sides of it; the ratio printed is the median of the rounds'
 * ratios, with each round's figures listed above it.
 *
 *   bench_pipeline [EVENTS [ROUNDS]]     (default 200000, 3 rounds)
 *   MM_BENCH_DIR=/dev/shm bench_pipeline    (spool and sink on tmpfs)
 */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_util.h"
#include "aggregator.h"
#include "config.h"
#include "event.h"
#include "mimamori/error.h"
#include "transport.h"
#include "util.h"

#define MAX_ROUNDS 15

static struct mm_buf *payloads;
static long nev;

static void
build_payloads(void)
{
	long i;

	payloads = calloc((size_t)nev, sizeof(*payloads));
	for (i = 0; i < nev; i++) {
		struct mm_event *ev = mm_event_create(MM_KIND_ALERT);
		struct mm_event_stamp st;

		memset(&st, 0, sizeof(st));
		st.ts_ns = mm_now_ns();
		st.seq = (uint64_t)i;
		st.sensor_id = "bench";
		st.sensor_host = "bench-host";
		st.sensor_role = "utm";
		st.plugin_name = "ips";
		st.plugin_version = "1.0";
		st.plugin_vendor = "mimamori";
		mm_event_set_str(ev, "cat", "scan");
		mm_event_set_int(ev, "sev", 3);
		mm_event_set_str(ev, "src.ip", "192.0.2.10");
		mm_event_set_int(ev, "src.port", 40000 + i % 1000);
		mm_event_set_str(ev, "dst.ip", "198.51.100.7");
		mm_event_set_int(ev, "dst.port", 445);
		mm_event_set_str(ev, "proto", "tcp");
		mm_event_set_str(ev, "msg", "A port scan from 192.0.2.10 was detected.");
		mm_event_stamp(ev, &st);
		mm_event_encode(ev, &payloads[i]);
		mm_event_free(ev);
	}
}

static void *
pull_thread(void *arg)
{
	void *s = arg;
	char buf[8192];
	long i;

	for (i = 0; i < nev; i++)
		zmq_recv(s, buf, sizeof(buf), 0);
	return NULL;
}

static double
bare_push_pull(const char *dir)
{
	char ep[512];
	void *ctx = zmq_ctx_new(), *push, *pull;
	pthread_t th;
	double t0, t1;
	long i;

	snprintf(ep, sizeof(ep), "ipc://%s/bare.sock", dir);
	pull = zmq_socket(ctx, ZMQ_PULL);
	push = zmq_socket(ctx, ZMQ_PUSH);
	zmq_bind(pull, ep);
	zmq_connect(push, ep);
	t0 = mm_bench_now();
	pthread_create(&th, NULL, pull_thread, pull);
	for (i = 0; i < nev; i++)
		zmq_send(push, payloads[i].data, payloads[i].len, 0);
	pthread_join(th, NULL);
	t1 = mm_bench_now();
	zmq_close(push);
	zmq_close(pull);
	zmq_ctx_term(ctx);
	return (double)nev / (t1 - t0);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Lines the file sink has written so far: new bytes since the last call
 * are read and their newlines counted (cheap enough to poll every ms). */
struct sink_count {
	int fd;
	long lines;
};

static long
sink_lines(struct sink_count *sc, const char *path)
{
	char buf[1 << 16];
	ssize_t n;

	if (sc->fd < 0 && (sc->fd = open(path, O_RDONLY)) < 0)
		return 0;
	while ((n = read(sc->fd, buf, sizeof(buf))) > 0) {
		const char *p = buf, *end = buf + n;
		while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			sc->lines++;
			p++;
		}
	}
	return sc->lines;
}

/* The start of a small /proc file as a string; 0 on success. */
static int
read_proc(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* A number from /proc/PID/status ("VmHWM:" in KiB). */
static long
proc_status_kib(pid_t pid, const char *key)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if (read_proc(path, buf, sizeof(buf)) != 0)
		return -1;
	p = strstr(buf, key);
	return p ? atol(p + strlen(key)) : -1;
}

/* CPU seconds (user + system) a process (or, with tid, one of its threads)
 * has used so far. */
static double
proc_cpu_s(pid_t pid, pid_t tid)
{
	char path[64], buf[2048], *p;
	unsigned long ut = 0, st = 0;

	if (tid > 0)
		snprintf(path, sizeof(path), "/proc/%ld/task/%ld/stat", (long)pid, (long)tid);
	else
		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (read_proc(path, buf, sizeof(buf)) != 0)
		return -1;
	/* Fields after the command name (which may hold spaces). */
	p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Busy CPU seconds of the whole machine so far (all cores, all processes),
 * from /proc/stat: what else ran during the measurement. */
static double
machine_busy_s(void)
{
	unsigned long long v[8] = {0};
	char buf[512];

	if (read_proc("/proc/stat", buf, sizeof(buf)) != 0)
		return -1;
	/* cpu user nice system idle iowait irq softirq steal */
	if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
	           &v[4], &v[5], &v[6], &v[7]) != 8)
		return -1;
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

/* One pipeline pass's figures. */
struct pass {
	double evs, secs, acked, cpu_prod, cpu_agg, cpu_main, others;
	long hwm, prod_rss;
	int ok;
};

/* Every event from a fresh aggregator's start to its file sink: a new
 * directory, configuration, spool and sink file each time. */
static int
pipeline_pass(const char *base, struct pass *r)
{
	char dir[400], conf[600], path[700], out[700], ep[700], sock[700];
	struct mm_config *cfg = NULL;
	struct mm_diag diag = {NULL, 0};
	struct mm_transport *t = NULL;
	struct mm_transport_opts o;
	struct rusage ru_self0, ru_self1;
	struct sink_count sc = {-1, 0};
	struct stat stt;
	double t0, t1, cpu_agg0, cpu_main0, busy0;
	pid_t agg;
	FILE *f;
	long i;
	int st, k;

	memset(r, 0, sizeof(*r));
	snprintf(dir, sizeof(dir), "%s/mm-bench-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/conf", dir);
	mkdir(conf, 0700);
	snprintf(path, sizeof(path), "%s/00.conf", conf);
	snprintf(out, sizeof(out), "%s/out/events.jsonl", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fprintf(f,
	        "host = { state_dir = \"%s/state\"; run_dir = \"%s/run\"; };\n"
	        "aggregator = { sinks = { file = { path = \"%s\"; rotate_kb = "
	        "1048576; }; }; };\n",
	        dir, dir, out);
	fclose(f);
	if (mm_config_load(&cfg, conf, dir, dir, &diag) != MM_OK) {
		mm_diag_print(&diag, stderr);
		return -1;
	}
	snprintf(ep, sizeof(ep), "%s", mm_aggregator_endpoint(cfg));
	snprintf(sock, sizeof(sock), "%s", ep + 6);
	/* The real aggregator process (exec: its memory is its own). */
	agg = fork();
	if (agg == 0) {
		execl(MM_MIMAMORI_BIN, MM_MIMAMORI_BIN, "-c", conf, "aggregator", (char *)NULL);
		_exit(127);
	}
	for (k = 0; k < 500 && stat(sock, &stt) != 0; k++)
		usleep(10000);

	memset(&o, 0, sizeof(o));
	o.endpoint = ep;
	o.module = "bench";
	o.queue_max = 65536;
	if (mm_transport_open(&t, &o) != MM_OK) {
		kill(agg, SIGKILL);
		waitpid(agg, &st, 0);
		mm_config_free(cfg);
		return -1;
	}
	usleep(300000);
	getrusage(RUSAGE_SELF, &ru_self0);
	cpu_agg0 = proc_cpu_s(agg, 0);
	cpu_main0 = proc_cpu_s(agg, agg);
	busy0 = machine_busy_s();
	t0 = mm_bench_now();
	for (i = 0; i < nev; i++)
		mm_transport_send(t, payloads[i].data, payloads[i].len);
	mm_transport_flush(t, 120000);
	r->acked = mm_bench_now() - t0;
	while (sink_lines(&sc, out) < nev && mm_bench_now() - t0 < 300)
		usleep(1000);
	t1 = mm_bench_now();
	getrusage(RUSAGE_SELF, &ru_self1);
	r->cpu_agg = proc_cpu_s(agg, 0) - cpu_agg0;
	r->cpu_main = proc_cpu_s(agg, agg) - cpu_main0;
	r->others = machine_busy_s() - busy0;
	r->hwm = proc_status_kib(agg, "VmHWM:");
	kill(agg, SIGTERM);
	waitpid(agg, &st, 0);
	if (sc.fd >= 0)
		close(sc.fd);
	r->secs = t1 - t0;
	r->evs = sc.lines >= nev ? (double)nev / r->secs : 0;
	r->cpu_prod = (double)(ru_self1.ru_utime.tv_sec - ru_self0.ru_utime.tv_sec +
	                       ru_self1.ru_stime.tv_sec - ru_self0.ru_stime.tv_sec) +
	              (double)(ru_self1.ru_utime.tv_usec - ru_self0.ru_utime.tv_usec +
	                       ru_self1.ru_stime.tv_usec - ru_self0.ru_stime.tv_usec) /
	                      1e6;
	r->others -= r->cpu_prod + r->cpu_agg;
	if (r->others < 0)
		r->others = 0;
	r->prod_rss = ru_self1.ru_maxrss;
	r->ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && sc.lines >= nev;
	mm_transport_close(t);
	mm_config_free(cfg);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	return system(path) == 0 && r->ok ? 0 : -1;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
	char dir[400], sock[450];
	const char *base = getenv("MM_BENCH_DIR");
	double bare[MAX_ROUNDS], pipe[MAX_ROUNDS], ratio[MAX_ROUNDS];
	struct pass p[MAX_ROUNDS], *m;
	double mb, mp, mr;
	long hwm = 0, i;
	int rounds, k, failed = 0;

	nev = argc > 1 ? atol(argv[1]) : 200000;
	rounds = argc > 2 ? atoi(argv[2]) : 3;
	if (nev <= 0 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: bench_pipeline [EVENTS [ROUNDS (1-%d)]]\n", MAX_ROUNDS);
		return 2;
	}
	/* MM_BENCH_DIR puts the spool and the sink elsewhere (another disk,
	 * or tmpfs to see the CPU-only ceiling). */
	base = base && *base ? base : "/tmp";
	snprintf(dir, sizeof(dir), "%s/mm-bench-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		return 1;
	build_payloads();
	printf("events: %ld, payload %zu bytes each, %d rounds (bare pass, then pipeline "
	       "pass)\n",
	       nev, payloads[0].len, rounds);
	for (k = 0; k < rounds; k++) {
		bare[k] = bare_push_pull(dir);
		if (pipeline_pass(base, &p[k]) != 0) {
			fprintf(stderr, "round %d: the pipeline pass failed\n", k + 1);
			failed = 1;
		}
		pipe[k] = p[k].evs;
		ratio[k] = p[k].evs / bare[k];
		if (p[k].hwm > hwm)
			hwm = p[k].hwm;
		printf("round %d: bare %8.0f events/s, pipeline %8.0f events/s (%.2f s; acked "
		       "after %.2f s), ratio %.3f\n",
		       k + 1, bare[k], p[k].evs, p[k].secs, p[k].acked, ratio[k]);
	}
	mb = median(bare, rounds);
	mp = median(pipe, rounds);
	mr = median(ratio, rounds);
	/* The pass whose throughput is the median, for the CPU breakdown. */
	m = &p[0];
	for (k = 1; k < rounds; k++)
		if (fabs(p[k].evs - mp) < fabs(m->evs - mp))
			m = &p[k];
	printf("bare ZeroMQ PUSH/PULL (ipc):        %10.0f events/s  (median of the rounds)\n", mb);
	printf("pipeline (durable, to file sink):   %10.0f events/s  (median of the rounds)\n", mp);
	printf("ratio pipeline / bare:              %10.3f  (median of the rounds' ratios)\n", mr);
	printf("peak RSS (VmHWM): aggregator %ld KiB (largest of the rounds), producer (with "
	       "all payloads) %ld KiB\n",
	       hwm, p[rounds - 1].prod_rss);
	printf("CPU over the median pipeline pass: producer %.2f s, aggregator %.2f s (main "
	       "thread %.2f s), wall %.2f s\n",
	       m->cpu_prod, m->cpu_agg, m->cpu_main, m->secs);
	printf("other processes on the machine meanwhile: %.2f CPU s of %.2f available (%ld "
	       "cores)\n",
	       m->others, m->secs * (double)sysconf(_SC_NPROCESSORS_ONLN),
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("limit: %s\n",
	       m->others > 0.25 * m->secs
	               ? "other processes took CPU time during the run: measure again on an "
	                 "idle machine"
	       : m->cpu_main > 0.8 * m->secs
	               ? "the aggregator's main thread is CPU-bound (checking events, JSON for "
	                 "the sink, storing)"
	       : m->cpu_agg + m->cpu_prod > 1.6 * m->secs
	               ? "the two cores are busy (producer and aggregator together)"
	       : m->cpu_prod > 0.8 * m->secs
	               ? "the producer is CPU-bound"
	               : "neither process is CPU-bound: waiting on fsync of spool "
	                 "commits (ack after persist) or on each other");
	for (i = 0; i < nev; i++)
		mm_buf_free(&payloads[i]);
	free(payloads);
	snprintf(sock, sizeof(sock), "%s/bare.sock", dir);
	unlink(sock);
	rmdir(dir);
	return failed;
}
