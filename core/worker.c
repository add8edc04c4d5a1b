/*
 * The worker process: `mimamori worker` runs one module. The supervisor
 * forks and execs it with the module's validated configuration on a pipe
 * and a control socket for heartbeats; the worker loads the plugin, opens
 * its sources, drops privileges, and sends every event through the
 * acknowledged transport to the aggregator (or, when the aggregator is
 * disabled, as JSON lines on stdout).
 *
 * A vendor plugin that crashes or hangs takes only this process with it;
 * the supervisor notices (exit status, or heartbeats that stop) and starts
 * a new one.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <msgpack.h>

#include "aggregator.h"
#include "host.h"
#include "i18n.h"
#include "loader.h"
#include "transport.h"
#include "util.h"

#define HEARTBEAT_MS 1000
#define STOP_FLUSH_MS 5000

static volatile sig_atomic_t got_term, got_hup;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

/* Signals interrupt blocking waits (no SA_RESTART) so that a worker stuck
 * on a full queue still stops when told to. */
void
mm_worker_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int
mm_worker_stop_requested(void)
{
	return got_term;
}

int
mm_worker_take_hup(void)
{
	int v = got_hup;

	got_hup = 0;
	return v;
}

/* Transport outlet: events leave encoded, and are kept until acked. */
struct transport_outlet {
	struct mm_outlet pub;
	struct mm_transport *t;
	struct mm_buf buf;
	uint64_t encode_errors;
};

static int
transport_put(struct mm_outlet *o, struct mm_module *m, struct mm_event *ev)
{
	struct transport_outlet *to = (struct transport_outlet *)o;
	int rc;

	mm_buf_reset(&to->buf);
	rc = mm_event_encode(ev, &to->buf);
	mm_event_free(ev);
	if (rc != MM_OK) {
		to->encode_errors++;
		return rc;
	}
	return mm_transport_send(to->t, to->buf.data, to->buf.len);
}

struct mm_outlet *
mm_outlet_transport_new(struct mm_transport *t)
{
	struct transport_outlet *to = calloc(1, sizeof(*to));

	if (to == NULL)
		return NULL;
	to->pub.put = transport_put;
	to->pub.user = to;
	to->t = t;
	return &to->pub;
}

void
mm_outlet_transport_free(struct mm_outlet *o)
{
	struct transport_outlet *to = (struct transport_outlet *)o;

	if (to == NULL)
		return;
	mm_buf_free(&to->buf);
	free(to);
}

/* Keeps the transport moving from the loop: its fd and its own deadlines. */
struct pump_state {
	struct mm_loop *loop;
	struct mm_transport *t;
	int timer_id;
};

static void pump_rearm(struct pump_state *ps);

static void
pump_timer(struct mm_ctx *ctx, void *user)
{
	struct pump_state *ps = user;

	ps->timer_id = -1;
	mm_transport_pump(ps->t);
	pump_rearm(ps);
}

static void
pump_rearm(struct pump_state *ps)
{
	int ms = mm_transport_next_timeout_ms(ps->t);

	if (ps->timer_id >= 0)
		mm_loop_timer_cancel(ps->loop, ps->timer_id);
	ps->timer_id = -1;
	/* Poll at least every 100 ms: ZMQ_FD is edge-triggered and an edge can
	 * be consumed inside a send. */
	if (ms < 0 || ms > 100)
		ms = 100;
	ps->timer_id = mm_loop_timer_add(ps->loop, NULL, (uint64_t)ms, 0, pump_timer, ps);
}

static void
pump_fd(struct mm_ctx *ctx, int fd, unsigned revents, void *user)
{
	struct pump_state *ps = user;

	mm_transport_pump(ps->t);
	pump_rearm(ps);
}

/* Heartbeat to the supervisor: a msgpack map of the module's counters and
 * the transport's, which `mimamori status` shows. */
struct heartbeat {
	struct mm_module *m;
	struct mm_transport *t;
	int fd;
	uint64_t seq;
	uint64_t dropped_reported;
	uint64_t rejected_reported;
	uint64_t last_ms;
	uint64_t interval_ms;
};

static int
pack_write(void *data, const char *buf, size_t len)
{
	return mm_buf_append(data, buf, len) == MM_OK ? 0 : -1;
}

static void
pack_kv(msgpack_packer *pk, const char *k, int64_t v)
{
	msgpack_pack_str(pk, strlen(k));
	msgpack_pack_str_body(pk, k, strlen(k));
	msgpack_pack_int64(pk, v);
}

int
mm_heartbeat_encode(struct mm_buf *out, uint64_t seq, const struct mm_module *m,
                    const struct mm_transport_counters *tc)
{
	msgpack_packer pk;
	size_t i;

	msgpack_packer_init(&pk, out, pack_write);
	msgpack_pack_map(&pk, 3);
	pack_kv(&pk, "hb", (int64_t)seq);
	msgpack_pack_str(&pk, 8);
	msgpack_pack_str_body(&pk, "counters", 8);
	msgpack_pack_map(&pk, (uint32_t)(m->ncounters + 2));
	pack_kv(&pk, "events", (int64_t)m->events);
	pack_kv(&pk, "emit_errors", (int64_t)m->emit_errors);
	for (i = 0; i < m->ncounters; i++)
		pack_kv(&pk, m->counters[i].name, m->counters[i].value);
	msgpack_pack_str(&pk, 9);
	msgpack_pack_str_body(&pk, "transport", 9);
	msgpack_pack_map(&pk, 9);
	pack_kv(&pk, "queued", (int64_t)tc->queued);
	pack_kv(&pk, "sent", (int64_t)tc->sent);
	pack_kv(&pk, "acked", (int64_t)tc->acked);
	pack_kv(&pk, "resent", (int64_t)tc->resent);
	pack_kv(&pk, "dropped_full", (int64_t)tc->dropped_full);
	pack_kv(&pk, "rejected", (int64_t)tc->rejected);
	pack_kv(&pk, "in_flight", (int64_t)tc->in_flight);
	pack_kv(&pk, "buffered", (int64_t)tc->buffered);
	pack_kv(&pk, "settled", (int64_t)tc->settled);
	return MM_OK;
}

/* Tell the provider, through the same path as every event, that events
 * were lost here: a drop is never silent. */
static void
report_losses(struct heartbeat *hb, const struct mm_transport_counters *tc)
{
	struct mm_event *ev;
	char n[32], total[32];

	if (tc->dropped_full == hb->dropped_reported && tc->rejected == hb->rejected_reported)
		return;
	ev = mm_event_create(MM_KIND_HEALTH);
	if (ev == NULL)
		return;
	snprintf(n, sizeof(n), "%llu",
	         (unsigned long long)(tc->dropped_full - hb->dropped_reported + tc->rejected -
	                              hb->rejected_reported));
	snprintf(total, sizeof(total), "%llu", (unsigned long long)tc->dropped_full);
	mm_event_set_int(ev, "sev", MM_SEV_HIGH);
	mm_event_set_str(ev, "cat", "events_dropped");
	mm_event_set_str(ev, "attrs.module", hb->m->name);
	mm_event_set_int(ev, "attrs.dropped_full", (int64_t)tc->dropped_full);
	mm_event_set_int(ev, "attrs.rejected", (int64_t)tc->rejected);
	mm_event_set_int(ev, "attrs.queue_policy_drops_new",
	                 (int64_t)(tc->dropped_full - hb->dropped_reported));
	mm_event_set_msg(
	        ev, NULL, "host.events_dropped",
	        (const char *const[]){"module", hb->m->name, "count", n, "total", total, NULL});
	hb->dropped_reported = tc->dropped_full;
	hb->rejected_reported = tc->rejected;
	mm_host_emit(hb->m->host, NULL, ev);
}

static void
heartbeat_tick(struct mm_ctx *ctx, void *user)
{
	struct heartbeat *hb = user;
	struct mm_transport_counters tc;
	struct mm_buf b = MM_BUF_INIT;

	memset(&tc, 0, sizeof(tc));
	hb->last_ms = mm_monotonic_ms();
	if (hb->t)
		mm_transport_get_counters(hb->t, &tc);
	report_losses(hb, &tc);
	if (hb->fd < 0)
		return;
	mm_heartbeat_encode(&b, ++hb->seq, hb->m, &tc);
	if (send(hb->fd, b.data, b.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EPIPE)
		got_term = 1; /* the supervisor is gone: stop cleanly */
	mm_buf_free(&b);
}

/* While a full queue blocks the plugin (queue_policy block), keep telling
 * the supervisor that this worker is alive; stop waiting when told to stop. */
static int
blocked_wait(void *user)
{
	struct heartbeat *hb = user;
	uint64_t now = mm_monotonic_ms();

	if (now - hb->last_ms >= hb->interval_ms)
		heartbeat_tick(NULL, hb);
	return got_term;
}

static void
ctl_readable(struct mm_ctx *ctx, int fd, unsigned revents, void *user)
{
	char buf[256];
	ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
		got_term = 1; /* supervisor closed its end */
}

static int
read_all(int fd, struct mm_buf *out, size_t max)
{
	char chunk[4096];

	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return MM_ERR_IO;
		if (r == 0)
			return MM_OK;
		if (out->len + (size_t)r > max)
			return MM_ERR_TOOBIG;
		if (mm_buf_append(out, chunk, (size_t)r) != MM_OK)
			return MM_ERR_NOMEM;
	}
}

/* Drop to the service user after the sources are open. */
static int
drop_privileges(const char *user, struct mm_module *m)
{
	const char *who = m->name, *state;
	struct passwd *pw;

	if (user == NULL || user[0] == '\0' || geteuid() != 0)
		return MM_OK;
	pw = getpwnam(user);
	if (pw == NULL) {
		mm_log_host(MM_LOG_ERROR, who, "service user '%s' does not exist", user);
		return MM_ERR_NOTFOUND;
	}
	/* The module keeps writing its state directory after the drop. */
	state = m->pub.api->state_dir(&m->pub);
	if (state == NULL || chown(state, pw->pw_uid, pw->pw_gid) != 0) {
		mm_log_host(MM_LOG_ERROR, who, "cannot hand the state directory to %s: %s", user,
		            strerror(errno));
		return MM_ERR_PERM;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		mm_log_host(MM_LOG_ERROR, who, "cannot drop privileges to %s: %s", user,
		            strerror(errno));
		return MM_ERR_PERM;
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	mm_log_host(MM_LOG_DEBUG, who, "running as %s", user);
	return MM_OK;
}

static void
worker_usage(FILE *out)
{
	fprintf(out,
	        "usage: mimamori worker --module NAME --plugin FILE [options]\n"
	        "Run one module (started by `mimamori run`; useful by hand for debugging).\n"
	        "  -c, --config DIR     configuration directory\n"
	        "  --endpoint URL       aggregator endpoint (default: from the configuration;\n"
	        "                       without an aggregator, events print as JSON lines)\n"
	        "  --ctl-fd N           heartbeat socket from the supervisor\n"
	        "  --cfg-fd N           the module's validated values (msgpack) from the\n"
	        "                       supervisor; without it the worker validates itself\n");
}

int
mm_worker_main(int argc, char **argv)
{
	static const struct option opts[] = {{"module", required_argument, NULL, 'm'},
	                                     {"plugin", required_argument, NULL, 'p'},
	                                     {"config", required_argument, NULL, 'c'},
	                                     {"endpoint", required_argument, NULL, 'e'},
	                                     {"ctl-fd", required_argument, NULL, 'C'},
	                                     {"cfg-fd", required_argument, NULL, 'F'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *name = NULL, *plugin = NULL, *endpoint = NULL;
	struct mm_config *cfg = NULL;
	struct mm_diag diag = {0};
	struct mm_host host;
	struct mm_module *m = NULL;
	struct mm_transport *t = NULL;
	struct mm_outlet *outlet = NULL;
	struct mm_i18n *cat = NULL;
	struct heartbeat hb;
	struct pump_state ps;
	const struct mm_module_conf *mc;
	char reason[512], catdir[MM_PATH_MAX];
	int ctl_fd = -1, cfg_fd = -1, c, rc, status = 1, hb_timer;

	memset(&host, 0, sizeof(host));
	memset(&hb, 0, sizeof(hb));
	memset(&ps, 0, sizeof(ps));
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:p:c:e:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			name = optarg;
			break;
		case 'p':
			plugin = optarg;
			break;
		case 'c':
			mm_paths_set(optarg, NULL, NULL);
			break;
		case 'e':
			endpoint = optarg;
			break;
		case 'C':
			ctl_fd = atoi(optarg);
			break;
		case 'F':
			cfg_fd = atoi(optarg);
			break;
		case 'h':
			worker_usage(stdout);
			return 0;
		default:
			worker_usage(stderr);
			return 2;
		}
	}
	if (name == NULL || plugin == NULL) {
		worker_usage(stderr);
		return 2;
	}
	mm_worker_signals();
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);

	if (mm_config_load(&cfg, mm_paths()->conf_dir, mm_paths()->state_dir, mm_paths()->run_dir,
	                   &diag) != MM_OK) {
		mm_diag_print(&diag, stderr);
		status = 2;
		goto out;
	}
	if (cfg->log_level && mm_log_level_parse(cfg->log_level) >= 0)
		mm_log_set_level(mm_log_level_parse(cfg->log_level));
	host.loop = mm_loop_new();
	host.cfg = cfg;
	host.role = cfg->role;
	mm_strlcpy(host.data_dir, mm_paths()->data_dir, sizeof(host.data_dir));
	mm_strlcpy(host.state_dir, cfg->state_dir, sizeof(host.state_dir));
	snprintf(catdir, sizeof(catdir), "%.4000s/i18n", host.data_dir);
	if (mm_i18n_load(&cat, catdir) == MM_OK)
		mm_host_set_catalogue(cat);

	rc = mm_module_load(&m, &host, plugin, reason, sizeof(reason));
	if (rc != MM_OK) {
		mm_log_host(MM_LOG_ERROR, name, "%s: refused: %s", plugin, reason);
		status = 3;
		goto out;
	}
	if (strcmp(m->name, name) != 0) {
		mm_log_host(MM_LOG_ERROR, name, "%s holds plugin '%s', not '%s'", plugin, m->name,
		            name);
		status = 3;
		goto out;
	}
	if (cfg_fd >= 0) {
		struct mm_buf b = MM_BUF_INIT;
		struct mm_cfg_values vals = {0};
		rc = read_all(cfg_fd, &b, 16 * 1024 * 1024);
		close(cfg_fd);
		if (rc == MM_OK)
			rc = mm_cfg_values_decode(&vals, m->info->keys, m->info->nkeys, b.data,
			                          b.len);
		mm_buf_free(&b);
		if (rc != MM_OK) {
			mm_log_host(MM_LOG_ERROR, name,
			            "cannot read configuration from supervisor: %s",
			            mm_strerror(rc));
			status = 2;
			goto out;
		}
		mm_module_set_values(m, &vals, 1);
	} else {
		struct mm_plugin_info *one = m->info;
		if (mm_config_validate(cfg, &one, 1, &diag) != MM_OK) {
			mm_diag_print(&diag, stderr);
			status = 2;
			goto out;
		}
		mc = mm_config_module(cfg, name);
		if (mc)
			mm_module_set_values(m, (struct mm_cfg_values *)&mc->values, 0);
		else {
			struct mm_cfg_values vals = {0};
			mm_cfg_defaults(&vals, m->info->keys, m->info->nkeys);
			mm_module_set_values(m, &vals, 1);
		}
	}

	mc = mm_config_module(cfg, name);
	if (endpoint == NULL && mm_aggregator_enabled(cfg))
		endpoint = mm_aggregator_endpoint(cfg);
	if (endpoint) {
		struct mm_transport_opts to;
		memset(&to, 0, sizeof(to));
		to.endpoint = endpoint;
		to.module = name;
		to.queue_max = mc ? (size_t)mc->queue_max : 100000;
		to.policy = (mc && mc->queue_policy && strcmp(mc->queue_policy, "drop_oldest") == 0)
		                    ? MM_QUEUE_DROP_OLDEST
		                    : MM_QUEUE_BLOCK;
		rc = mm_transport_open(&t, &to);
		if (rc != MM_OK) {
			mm_log_host(MM_LOG_ERROR, name, "cannot connect to aggregator %s: %s",
			            endpoint, mm_strerror(rc));
			goto out;
		}
		outlet = mm_outlet_transport_new(t);
		ps.loop = host.loop;
		ps.t = t;
		ps.timer_id = -1;
		mm_loop_fd_add(host.loop, NULL, mm_transport_fd(t), MM_FD_READ, pump_fd, &ps);
		pump_rearm(&ps);
	} else {
		outlet = mm_outlet_json_new(stdout);
	}
	host.outlet = outlet;

	hb.m = m;
	hb.t = t;
	hb.fd = ctl_fd;
	if (t)
		mm_transport_set_wait_hook(t, blocked_wait, &hb);
	if (ctl_fd >= 0)
		mm_loop_fd_add(host.loop, NULL, ctl_fd, MM_FD_READ, ctl_readable, &hb);
	/* Beat several times per watchdog period, so that ordinary scheduling
	 * delays never look like a hang. */
	hb.interval_ms = HEARTBEAT_MS;
	if (mc && mc->watchdog_sec > 0 && (uint64_t)mc->watchdog_sec * 1000 / 4 < hb.interval_ms)
		hb.interval_ms = (uint64_t)mc->watchdog_sec * 1000 / 4;
	hb_timer = mm_loop_timer_add(host.loop, NULL, hb.interval_ms, 1, heartbeat_tick, &hb);
	(void)hb_timer;

	if (mm_module_init(m) != MM_OK || mm_module_start(m) != MM_OK) {
		status = 4;
		goto out;
	}
	if (drop_privileges(cfg->user, m) != MM_OK) {
		status = 4;
		goto out;
	}
	heartbeat_tick(NULL, &hb); /* first heartbeat: started */
	mm_log_host(MM_LOG_INFO, name, "started (plugin %s %s)", m->info->version, plugin);
	while (!got_term) {
		mm_loop_run_once(host.loop, 1000);
		if (mm_worker_take_hup()) {
			if (m->plugin->reload) {
				rc = m->plugin->reload(&m->pub);
				mm_log_host(rc == MM_OK ? MM_LOG_INFO : MM_LOG_ERROR, name,
				            "reload %s%s", rc == MM_OK ? "done" : "failed: ",
				            rc == MM_OK ? "" : mm_strerror(rc));
			}
		}
	}
	mm_log_host(MM_LOG_INFO, name, "stopping");
	status = 0;
out:
	if (m) {
		mm_module_stop(m);
		/* Pending events the plugin emitted while stopping go out too. */
		if (t) {
			int left = mm_transport_flush(t, STOP_FLUSH_MS);
			if (left > 0)
				mm_log_host(MM_LOG_WARN, name,
				            "%d events not acknowledged by the aggregator at exit",
				            left);
		}
		if (hb.fd >= 0)
			heartbeat_tick(NULL, &hb);
		mm_module_free(m);
	}
	if (t)
		mm_transport_close(t);
	if (outlet && t)
		mm_outlet_transport_free(outlet);
	else
		mm_outlet_json_free(outlet);
	mm_loop_free(host.loop);
	mm_i18n_free(cat);
	mm_config_free(cfg);
	mm_diag_free(&diag);
	return status;
}
