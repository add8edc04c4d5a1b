/*
 * The supervisor: `mimamori run`. It validates the whole configuration
 * against every plugin's declared keys (plugins are probed in child
 * processes; the supervisor itself never loads vendor code), then starts
 * the aggregator and one worker process per enabled module, and keeps them
 * running: a worker that exits or crashes is restarted with capped
 * exponential back-off, one whose heartbeats stop is killed and restarted,
 * and each time a health event says which module, why and how often.
 *
 * SIGHUP re-validates the configuration and starts, stops or restarts only
 * the modules whose settings changed (an invalid configuration leaves the
 * running one untouched); SIGTERM/SIGINT stop the workers first, so that
 * their pending events reach the aggregator, then the aggregator.
 *
 * With --inproc every module runs in this process instead (debugging).
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <msgpack.h>

#include "aggregator.h"
#include "host.h"
#include "i18n.h"
#include "loader.h"
#include "transport.h"
#include "util.h"
#include "worker.h"

#define TICK_MS 200
#define STOP_GRACE_MS 10000
#define STABLE_MS 30000
#define STATUS_EVERY_MS 1000
#define MAX_STAT_KEYS 64

enum child_state {
	CHILD_STOPPED = 0,
	CHILD_RUNNING,
	CHILD_RESTARTING,
	CHILD_REFUSED,
	CHILD_FAILED
};

static const char *const state_names[] = {"stopped", "running", "restarting", "refused", "failed"};

struct stat_kv {
	char name[48];
	int64_t value;
};

struct child {
	char name[32];
	char path[MM_PATH_MAX];
	int is_aggregator;
	enum child_state state;
	pid_t pid;
	int ctl_fd;
	int ctl_watch;
	int stopping;           /* asked to stop: do not restart */
	int restart_after_stop; /* reconfigured: start again when it has exited */
	uint64_t stop_deadline_ms;
	uint64_t started_ms;
	uint64_t last_hb_ms;
	uint64_t restart_at_ms;
	unsigned restarts;
	unsigned failures; /* consecutive, for the back-off */
	int64_t watchdog_sec;
	int64_t restart_max_sec;
	char last_exit[64];
	char reason[256];
	char *digest;
	struct mm_buf values; /* encoded mm_cfg_values for the worker */
	struct stat_kv counters[MAX_STAT_KEYS];
	size_t ncounters;
	struct stat_kv transport[16];
	size_t ntransport;
	uint64_t hb_seq;
};

struct supervisor {
	struct mm_config *cfg;
	struct mm_plugin_info **plugins;
	size_t nplugins;
	struct child *children;
	size_t nchildren;
	struct mm_host host; /* for the supervisor's own health events */
	struct mm_transport *t;
	struct mm_outlet *outlet;
	char exe[MM_PATH_MAX];
	char conf_dir[MM_PATH_MAX];
	uint64_t started_ns;
	uint64_t status_at_ms;
	int status_dirty;
	int shutting_down;
	uint64_t run_until_ms; /* --for: stop by itself (demos, tests) */
};

static volatile sig_atomic_t sig_term, sig_hup, sig_chld;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		sig_hup = 1;
	else if (sig == SIGCHLD)
		sig_chld = 1;
	else
		sig_term = 1;
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Health events: what happened to a module, in words and in numbers. */
static void
health(struct supervisor *s, const struct child *c, const char *cat, int sev, const char *msg_id)
{
	struct mm_event *ev = mm_event_create(MM_KIND_HEALTH);
	char count[32];

	if (ev == NULL)
		return;
	snprintf(count, sizeof(count), "%u", c->restarts);
	mm_event_set_str(ev, "cat", cat);
	mm_event_set_int(ev, "sev", sev);
	mm_event_set_str(ev, "attrs.module", c->name);
	mm_event_set_str(ev, "attrs.state", state_names[c->state]);
	mm_event_set_int(ev, "attrs.restarts", c->restarts);
	if (c->last_exit[0])
		mm_event_set_str(ev, "attrs.exit", c->last_exit);
	if (c->reason[0])
		mm_event_set_str(ev, "attrs.reason", c->reason);
	mm_event_set_msg(ev, mm_host_catalogue(), msg_id,
	                 (const char *const[]){"module", c->name, "reason",
	                                       c->reason[0] ? c->reason : c->last_exit, "count",
	                                       count, NULL});
	if (mm_host_emit(&s->host, NULL, ev) != MM_OK)
		mm_log_host(MM_LOG_WARN, "supervisor", "could not queue a health event for %s",
		            c->name);
}

static void
parse_stats(struct stat_kv *out, size_t *n, size_t max, const msgpack_object *map)
{
	uint32_t i;

	*n = 0;
	if (map->type != MSGPACK_OBJECT_MAP)
		return;
	for (i = 0; i < map->via.map.size && *n < max; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key, *v = &map->via.map.ptr[i].val;
		if (k->type != MSGPACK_OBJECT_STR || k->via.str.size >= sizeof(out->name))
			continue;
		memcpy(out[*n].name, k->via.str.ptr, k->via.str.size);
		out[*n].name[k->via.str.size] = '\0';
		if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			out[*n].value = (int64_t)v->via.u64;
		else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			out[*n].value = v->via.i64;
		else
			continue;
		(*n)++;
	}
}

static void
ctl_readable(struct mm_ctx *ctx, int fd, unsigned revents, void *user)
{
	struct child *c = user;
	char buf[65536];
	ssize_t r;

	for (;;) {
		msgpack_unpacked u;
		size_t off = 0;
		uint32_t i;

		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r <= 0)
			return; /* EOF is handled when the child is reaped */
		msgpack_unpacked_init(&u);
		if (msgpack_unpack_next(&u, buf, (size_t)r, &off) == MSGPACK_UNPACK_SUCCESS &&
		    u.data.type == MSGPACK_OBJECT_MAP) {
			c->last_hb_ms = mm_monotonic_ms();
			c->hb_seq++;
			for (i = 0; i < u.data.via.map.size; i++) {
				const msgpack_object *k = &u.data.via.map.ptr[i].key;
				const msgpack_object *v = &u.data.via.map.ptr[i].val;
				if (k->type != MSGPACK_OBJECT_STR)
					continue;
				if (k->via.str.size == 8 && !memcmp(k->via.str.ptr, "counters", 8))
					parse_stats(c->counters, &c->ncounters, MAX_STAT_KEYS, v);
				else if (k->via.str.size == 9 &&
				         !memcmp(k->via.str.ptr, "transport", 9))
					parse_stats(c->transport, &c->ntransport, 16, v);
			}
		}
		msgpack_unpacked_destroy(&u);
	}
}

static void
set_fd(int from, int to)
{
	if (from == to) {
		int fl = fcntl(to, F_GETFD);
		fcntl(to, F_SETFD, fl & ~FD_CLOEXEC);
	} else {
		dup2(from, to);
	}
}

static int
spawn(struct supervisor *s, struct child *c)
{
	int sv[2] = {-1, -1}, cfgp[2] = {-1, -1};
	const char *ep = NULL;
	pid_t pid;

	c->last_exit[0] = '\0';
	if (!c->is_aggregator) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
		    pipe2(cfgp, O_CLOEXEC) != 0) {
			mm_log_host(MM_LOG_ERROR, "supervisor", "cannot start %s: %s", c->name,
			            strerror(errno));
			goto fail;
		}
		if (mm_aggregator_enabled(s->cfg))
			ep = mm_aggregator_endpoint(s->cfg);
	}
	pid = fork();
	if (pid < 0) {
		mm_log_host(MM_LOG_ERROR, "supervisor", "cannot fork for %s: %s", c->name,
		            strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		char *argv[16];
		int a = 0;
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		argv[a++] = s->exe;
		if (c->is_aggregator) {
			argv[a++] = "-c";
			argv[a++] = s->conf_dir;
			argv[a++] = "aggregator";
		} else {
			/* The exec'd worker finds its control socket at 3, values at 4. */
			int ctl = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
			int cfg = fcntl(cfgp[0], F_DUPFD_CLOEXEC, 10);
			set_fd(ctl, 3);
			set_fd(cfg, 4);
			argv[a++] = "worker";
			argv[a++] = "--module";
			argv[a++] = c->name;
			argv[a++] = "--plugin";
			argv[a++] = c->path;
			argv[a++] = "-c";
			argv[a++] = s->conf_dir;
			argv[a++] = "--ctl-fd";
			argv[a++] = "3";
			argv[a++] = "--cfg-fd";
			argv[a++] = "4";
			if (ep) {
				argv[a++] = "--endpoint";
				argv[a++] = (char *)ep;
			}
		}
		argv[a] = NULL;
		execv(s->exe, argv);
		_exit(127);
	}
	c->pid = pid;
	c->state = CHILD_RUNNING;
	c->started_ms = mm_monotonic_ms();
	c->last_hb_ms = 0;
	c->stopping = 0;
	if (!c->is_aggregator) {
		size_t off = 0;
		close(sv[1]);
		close(cfgp[0]);
		c->ctl_fd = sv[0];
		c->ctl_watch =
		        mm_loop_fd_add(s->host.loop, NULL, c->ctl_fd, MM_FD_READ, ctl_readable, c);
		while (off < c->values.len) {
			ssize_t w = write(cfgp[1], c->values.data + off, c->values.len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		close(cfgp[1]);
	}
	mm_log_host(MM_LOG_INFO, "supervisor", "started %s (pid %ld)", c->name, (long)pid);
	s->status_dirty = 1;
	return MM_OK;
fail:
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	if (cfgp[0] >= 0) {
		close(cfgp[0]);
		close(cfgp[1]);
	}
	c->state = CHILD_RESTARTING;
	c->restart_at_ms = mm_monotonic_ms() + 1000;
	return MM_ERR_IO;
}

static void
close_ctl(struct supervisor *s, struct child *c)
{
	if (c->ctl_fd >= 0) {
		mm_loop_fd_remove(s->host.loop, c->ctl_watch);
		/* Drain the last heartbeat: it has the final counters. */
		ctl_readable(NULL, c->ctl_fd, MM_FD_READ, c);
		close(c->ctl_fd);
		c->ctl_fd = -1;
	}
}

static uint64_t
backoff_ms(const struct child *c)
{
	uint64_t ms = 1000;
	unsigned i;

	for (i = 1; i < c->failures && ms < (uint64_t)c->restart_max_sec * 1000; i++)
		ms *= 2;
	if (ms > (uint64_t)c->restart_max_sec * 1000)
		ms = (uint64_t)c->restart_max_sec * 1000;
	return ms;
}

static void
child_exited(struct supervisor *s, struct child *c, int status)
{
	uint64_t now = mm_monotonic_ms();
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	close_ctl(s, c);
	c->pid = 0;
	s->status_dirty = 1;
	if (WIFSIGNALED(status))
		snprintf(c->last_exit, sizeof(c->last_exit), "signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(c->last_exit, sizeof(c->last_exit), "exit status %d", code);
	if (c->stopping || s->shutting_down) {
		c->state = CHILD_STOPPED;
		c->stopping = 0;
		mm_log_host(MM_LOG_INFO, "supervisor", "%s stopped (%s)", c->name, c->last_exit);
		if (c->restart_after_stop && !s->shutting_down) {
			c->restart_after_stop = 0;
			c->failures = 0;
			spawn(s, c);
		}
		return;
	}
	/* Exit codes 2-4 mean the configuration or the plugin itself is
	 * wrong: restarting would fail the same way, so wait for SIGHUP. */
	if (!c->is_aggregator && code >= 2 && code <= 4) {
		c->state = code == 3 ? CHILD_REFUSED : CHILD_FAILED;
		snprintf(c->reason, sizeof(c->reason), "%s",
		         code == 2   ? "configuration rejected by the worker"
		         : code == 3 ? "plugin refused by the worker"
		                     : "plugin init or start failed");
		mm_log_host(MM_LOG_ERROR, "supervisor",
		            "%s %s (%s); not restarting until the "
		            "configuration changes",
		            c->name, c->reason, c->last_exit);
		health(s, c, "module_failed", MM_SEV_HIGH, "host.module_failed");
		return;
	}
	if (now - c->started_ms > STABLE_MS)
		c->failures = 0;
	c->failures++;
	c->restarts++;
	c->state = CHILD_RESTARTING;
	c->restart_at_ms = now + backoff_ms(c);
	if (c->reason[0] == '\0' || strncmp(c->reason, "hung", 4) != 0)
		snprintf(c->reason, sizeof(c->reason), "exited unexpectedly: %s", c->last_exit);
	mm_log_host(MM_LOG_WARN, "supervisor", "%s %s; restart %u in %llu ms", c->name, c->reason,
	            c->restarts, (unsigned long long)(c->restart_at_ms - now));
	health(s, c, strncmp(c->reason, "hung", 4) == 0 ? "module_hung" : "module_crashed",
	       MM_SEV_MEDIUM,
	       strncmp(c->reason, "hung", 4) == 0 ? "host.module_hung" : "host.module_crashed");
	c->reason[0] = '\0';
}

static void
reap(struct supervisor *s)
{
	for (;;) {
		int status;
		size_t i;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			return;
		for (i = 0; i < s->nchildren; i++)
			if (s->children[i].pid == pid) {
				child_exited(s, &s->children[i], status);
				break;
			}
	}
}

static void
stop_child(struct child *c, int restart_after)
{
	if (c->pid <= 0) {
		c->state = CHILD_STOPPED;
		return;
	}
	c->stopping = 1;
	c->restart_after_stop = restart_after;
	c->stop_deadline_ms = mm_monotonic_ms() + STOP_GRACE_MS;
	kill(c->pid, SIGTERM);
}

static void
watchdog(struct supervisor *s)
{
	uint64_t now = mm_monotonic_ms();
	size_t i;

	for (i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];
		if (c->state == CHILD_RESTARTING && c->pid == 0 && now >= c->restart_at_ms &&
		    !s->shutting_down) {
			spawn(s, c);
			continue;
		}
		if (c->pid <= 0)
			continue;
		if (c->stopping && now > c->stop_deadline_ms) {
			mm_log_host(MM_LOG_WARN, "supervisor",
			            "%s did not stop in time; killing it", c->name);
			kill(c->pid, SIGKILL);
			c->stop_deadline_ms = UINT64_MAX;
			continue;
		}
		if (c->is_aggregator || c->stopping || c->watchdog_sec <= 0)
			continue;
		/* Before its first heartbeat a module may still be loading rules:
		 * give start-up three times the watchdog period. */
		if ((c->last_hb_ms == 0 &&
		     now - c->started_ms > (uint64_t)c->watchdog_sec * 3000) ||
		    (c->last_hb_ms && now - c->last_hb_ms > (uint64_t)c->watchdog_sec * 1000)) {
			snprintf(c->reason, sizeof(c->reason), "hung: no heartbeat for %lld s",
			         (long long)c->watchdog_sec);
			mm_log_host(MM_LOG_WARN, "supervisor", "%s %s; killing it", c->name,
			            c->reason);
			kill(c->pid, SIGKILL);
			c->last_hb_ms = now; /* one kill per episode */
		}
	}
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void
json_stats(FILE *f, const struct stat_kv *kv, size_t n)
{
	size_t i;

	fputc('{', f);
	for (i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_str(f, kv[i].name);
		fprintf(f, ":%lld", (long long)kv[i].value);
	}
	fputc('}', f);
}

/* <run_dir>/supervisor.json, replaced atomically; `mimamori status` reads it. */
static void
write_status(struct supervisor *s)
{
	char path[MM_PATH_MAX], tmp[MM_PATH_MAX + 8];
	size_t i;
	FILE *f;

	snprintf(path, sizeof(path), "%.4000s/supervisor.json", s->cfg->run_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	fprintf(f, "{\"pid\":%ld,\"started\":%llu,\"updated\":%llu,\"role\":", (long)getpid(),
	        (unsigned long long)s->started_ns, (unsigned long long)mm_now_ns());
	json_str(f, mm_role_name(s->cfg->role));
	fprintf(f, ",\"modules\":[");
	for (i = 0; i < s->nchildren; i++) {
		const struct child *c = &s->children[i];
		if (i)
			fputc(',', f);
		fprintf(f, "{\"name\":");
		json_str(f, c->name);
		fprintf(f, ",\"kind\":\"%s\",\"state\":\"%s\",\"pid\":%ld,\"restarts\":%u,",
		        c->is_aggregator ? "aggregator" : "module", state_names[c->state],
		        (long)c->pid, c->restarts);
		fprintf(f, "\"last_exit\":");
		json_str(f, c->last_exit);
		fprintf(f, ",\"reason\":");
		json_str(f, c->reason);
		fprintf(f, ",\"plugin\":");
		json_str(f, c->path);
		fprintf(f, ",\"counters\":");
		json_stats(f, c->counters, c->ncounters);
		fprintf(f, ",\"transport\":");
		json_stats(f, c->transport, c->ntransport);
		fputc('}', f);
	}
	/* Refused plugin files are part of the picture too. */
	fprintf(f, "],\"refused\":[");
	{
		int first = 1;
		for (i = 0; i < s->nplugins; i++) {
			if (!s->plugins[i]->refused)
				continue;
			if (!first)
				fputc(',', f);
			first = 0;
			fprintf(f, "{\"file\":");
			json_str(f, s->plugins[i]->path);
			fprintf(f, ",\"reason\":");
			json_str(f, s->plugins[i]->refused);
			fputc('}', f);
		}
	}
	fprintf(f, "]}\n");
	if (fclose(f) == 0)
		rename(tmp, path);
	s->status_dirty = 0;
	s->status_at_ms = mm_monotonic_ms();
}

/* Load, probe and validate; on success *out_cfg / plugins are the new set. */
static int
load_all(struct supervisor *s, struct mm_config **out_cfg, struct mm_plugin_info ***out_plugins,
         size_t *out_n, int print_ok)
{
	struct mm_diag diag = {0};
	struct mm_config *cfg = NULL;
	struct mm_plugin_info **plugins = NULL;
	size_t n = 0;
	int rc;

	rc = mm_config_load(&cfg, s->conf_dir, mm_paths()->state_dir, mm_paths()->run_dir, &diag);
	if (rc == MM_OK) {
		mm_loader_set_service_user(cfg->user);
		rc = mm_plugins_scan(&plugins, &n, mm_paths()->plugin_dir, s->exe);
		if (rc != MM_OK)
			mm_diag_add(&diag, mm_paths()->plugin_dir, 0,
			            "cannot read plugin directory");
	}
	if (rc == MM_OK)
		rc = mm_config_validate(cfg, plugins, n, &diag);
	if (rc == MM_OK)
		rc = mm_aggregator_check_config(cfg, &diag);
	if (rc != MM_OK || diag.n) {
		mm_diag_print(&diag, stderr);
		mm_diag_free(&diag);
		mm_config_free(cfg);
		mm_plugins_free(plugins, n);
		return MM_ERR_CONFIG;
	}
	(void)print_ok;
	mm_diag_free(&diag);
	*out_cfg = cfg;
	*out_plugins = plugins;
	*out_n = n;
	return MM_OK;
}

static struct child *
find_child(struct supervisor *s, const char *name, int aggregator)
{
	size_t i;

	for (i = 0; i < s->nchildren; i++)
		if (s->children[i].is_aggregator == aggregator &&
		    strcmp(s->children[i].name, name) == 0)
			return &s->children[i];
	return NULL;
}

static struct child *
add_child(struct supervisor *s, const char *name)
{
	struct child *grown = realloc(s->children, (s->nchildren + 1) * sizeof(*grown));
	struct child *c;
	size_t i;

	if (grown == NULL)
		return NULL;
	/* ctl_readable holds pointers to children: re-point live watches. */
	if (grown != s->children)
		for (i = 0; i < s->nchildren; i++)
			if (grown[i].ctl_fd >= 0) {
				mm_loop_fd_remove(s->host.loop, grown[i].ctl_watch);
				grown[i].ctl_watch =
				        mm_loop_fd_add(s->host.loop, NULL, grown[i].ctl_fd,
				                       MM_FD_READ, ctl_readable, &grown[i]);
			}
	s->children = grown;
	c = &s->children[s->nchildren++];
	memset(c, 0, sizeof(*c));
	mm_strlcpy(c->name, name, sizeof(c->name));
	c->ctl_fd = -1;
	c->ctl_watch = -1;
	c->restart_max_sec = 60;
	return c;
}

/* Make the set of running children match cfg: start, stop, restart, or
 * pass SIGHUP on to a module whose settings did not change. */
static void
apply(struct supervisor *s, int initial)
{
	size_t i;
	struct child *agg = find_child(s, "aggregator", 1);

	if (mm_aggregator_enabled(s->cfg)) {
		if (agg == NULL) {
			agg = add_child(s, "aggregator");
			if (agg) {
				agg->is_aggregator = 1;
				agg->restart_max_sec = 10;
			}
		}
		if (agg && agg->pid == 0 && agg->state != CHILD_RESTARTING)
			spawn(s, agg);
		else if (agg && agg->pid > 0 && !initial)
			kill(agg->pid, SIGHUP);
	} else if (agg && agg->pid > 0) {
		stop_child(agg, 0);
	}
	/* Modules no longer enabled stop. */
	for (i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];
		const struct mm_module_conf *mc = mm_config_module(s->cfg, c->name);
		if (c->is_aggregator)
			continue;
		if (mc == NULL || !mc->enabled) {
			if (c->pid > 0) {
				mm_log_host(MM_LOG_INFO, "supervisor", "%s disabled: stopping it",
				            c->name);
				stop_child(c, 0);
			} else {
				c->state = CHILD_STOPPED;
			}
		}
	}
	for (i = 0; i < s->cfg->nmodules; i++) {
		const struct mm_module_conf *mc = &s->cfg->modules[i];
		struct child *c;
		int changed;

		if (!mc->enabled || mc->plugin == NULL)
			continue;
		c = find_child(s, mc->name, 0);
		if (c == NULL && (c = add_child(s, mc->name)) == NULL)
			continue;
		changed = c->digest == NULL || strcmp(c->digest, mc->digest) != 0 ||
		          strcmp(c->path, mc->plugin->path) != 0;
		mm_strlcpy(c->path, mc->plugin->path, sizeof(c->path));
		c->watchdog_sec = mc->watchdog_sec;
		c->restart_max_sec = mc->restart_max_sec > 0 ? mc->restart_max_sec : 60;
		free(c->digest);
		c->digest = strdup(mc->digest);
		mm_buf_reset(&c->values);
		mm_cfg_values_encode(&mc->values, &c->values);
		if (c->pid > 0 && changed) {
			mm_log_host(MM_LOG_INFO, "supervisor", "%s reconfigured: restarting it",
			            c->name);
			c->reason[0] = '\0';
			stop_child(c, 1);
		} else if (c->pid > 0) {
			kill(c->pid, SIGHUP);
		} else if (changed || c->state != CHILD_RESTARTING) {
			c->failures = 0;
			c->reason[0] = '\0';
			spawn(s, c);
		}
	}
	s->status_dirty = 1;
}

static void
reload(struct supervisor *s)
{
	struct mm_config *cfg;
	struct mm_plugin_info **plugins;
	size_t n;

	mm_log_host(MM_LOG_INFO, "supervisor", "SIGHUP: re-reading %s", s->conf_dir);
	if (load_all(s, &cfg, &plugins, &n, 0) != MM_OK) {
		mm_log_host(MM_LOG_ERROR, "supervisor",
		            "new configuration is invalid (above); the running one stays");
		return;
	}
	/* Children keep pointers to nothing in the old config: swap freely. */
	mm_config_free(s->cfg);
	mm_plugins_free(s->plugins, s->nplugins);
	s->cfg = cfg;
	s->plugins = plugins;
	s->nplugins = n;
	s->host.cfg = cfg;
	apply(s, 0);
}

static int
any_running(struct supervisor *s, int aggregator)
{
	size_t i;

	for (i = 0; i < s->nchildren; i++)
		if (s->children[i].pid > 0 && s->children[i].is_aggregator == aggregator)
			return 1;
	return 0;
}

static void
shutdown_all(struct supervisor *s)
{
	size_t i;
	int phase;

	s->shutting_down = 1;
	mm_log_host(MM_LOG_INFO, "supervisor", "stopping");
	/* Workers first, so their last events still find the aggregator. */
	for (phase = 0; phase < 2; phase++) {
		for (i = 0; i < s->nchildren; i++)
			if (s->children[i].is_aggregator == phase)
				stop_child(&s->children[i], 0);
		while (any_running(s, phase)) {
			mm_loop_run_once(s->host.loop, TICK_MS);
			reap(s);
			watchdog(s);
		}
		if (phase == 0 && s->t) {
			/* The supervisor's own health events, before the aggregator goes. */
			mm_transport_flush(s->t, 3000);
		}
	}
	write_status(s);
}

static void
tick(struct mm_ctx *ctx, void *user)
{
	(void)ctx;
	(void)user;
}

static void
run_usage(FILE *out)
{
	fprintf(out,
	        "usage: mimamori run [options]\n"
	        "Validate the configuration, start the aggregator and one worker per enabled\n"
	        "module, and keep them running.\n"
	        "  -c, --config DIR      configuration directory (default: %s)\n"
	        "  --plugin-dir DIR      plugin directory (default: %s)\n"
	        "  --inproc              run every module in this process (debugging)\n"
	        "  --for SECONDS         stop by itself after this long (demos, tests)\n"
	        "Signals: SIGHUP reloads the configuration, SIGTERM/SIGINT stop.\n",
	        mm_paths()->conf_dir, mm_paths()->plugin_dir);
}

int
mm_run_main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"plugin-dir", required_argument, NULL, 'P'},
	                                     {"inproc", no_argument, NULL, 'i'},
	                                     {"for", required_argument, NULL, 'f'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	struct supervisor s;
	struct mm_i18n *cat = NULL;
	char catdir[MM_PATH_MAX];
	int c, inproc = 0, status = 0;
	double run_for = 0;
	size_t i;

	memset(&s, 0, sizeof(s));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			mm_paths_set(optarg, NULL, NULL);
			break;
		case 'P':
			mm_paths_set(NULL, optarg, NULL);
			break;
		case 'i':
			inproc = 1;
			break;
		case 'f':
			run_for = atof(optarg);
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			run_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		run_usage(stderr);
		return 2;
	}
	if (inproc)
		return mm_inproc_main(run_for);
	mm_strlcpy(s.exe, mm_paths()->exe, sizeof(s.exe));
	if (realpath(mm_paths()->conf_dir, s.conf_dir) == NULL)
		mm_strlcpy(s.conf_dir, mm_paths()->conf_dir, sizeof(s.conf_dir));
	install_signals();
	if (load_all(&s, &s.cfg, &s.plugins, &s.nplugins, 1) != MM_OK)
		return 2;
	if (s.cfg->log_level && mm_log_level_parse(s.cfg->log_level) >= 0)
		mm_log_set_level(mm_log_level_parse(s.cfg->log_level));
	if (mm_mkdir_p(s.cfg->run_dir, 0755) != MM_OK ||
	    mm_mkdir_p(s.cfg->state_dir, 0755) != MM_OK) {
		mm_log_host(MM_LOG_ERROR, "supervisor", "cannot create %s or %s: %s",
		            s.cfg->run_dir, s.cfg->state_dir, strerror(errno));
		status = 1;
		goto out;
	}
	s.started_ns = mm_now_ns();
	s.host.loop = mm_loop_new();
	s.host.cfg = s.cfg;
	s.host.role = s.cfg->role;
	snprintf(catdir, sizeof(catdir), "%.4000s/i18n", mm_paths()->data_dir);
	if (mm_i18n_load(&cat, catdir) == MM_OK)
		mm_host_set_catalogue(cat);
	if (mm_aggregator_enabled(s.cfg)) {
		struct mm_transport_opts to;
		memset(&to, 0, sizeof(to));
		to.endpoint = mm_aggregator_endpoint(s.cfg);
		to.module = "supervisor";
		to.queue_max = 10000;
		to.policy = MM_QUEUE_DROP_OLDEST;
		if (mm_transport_open(&s.t, &to) == MM_OK)
			s.outlet = mm_outlet_transport_new(s.t);
	}
	if (s.outlet == NULL)
		s.outlet = mm_outlet_json_new(stdout);
	s.host.outlet = s.outlet;
	mm_loop_timer_add(s.host.loop, NULL, TICK_MS, 1, tick, NULL);
	if (run_for > 0)
		s.run_until_ms = mm_monotonic_ms() + (uint64_t)(run_for * 1000);
	apply(&s, 1);
	mm_log_host(MM_LOG_INFO, "supervisor", "running as %s with %zu module(s); config %s",
	            mm_role_name(s.cfg->role),
	            s.nchildren - (find_child(&s, "aggregator", 1) != NULL), s.conf_dir);
	while (!sig_term && !(s.run_until_ms && mm_monotonic_ms() >= s.run_until_ms)) {
		mm_loop_run_once(s.host.loop, TICK_MS);
		if (s.t)
			mm_transport_pump(s.t);
		if (sig_chld) {
			sig_chld = 0;
			reap(&s);
		}
		if (sig_hup) {
			sig_hup = 0;
			reload(&s);
		}
		watchdog(&s);
		if (s.status_dirty || mm_monotonic_ms() - s.status_at_ms > STATUS_EVERY_MS)
			write_status(&s);
	}
	shutdown_all(&s);
out:
	if (s.t) {
		mm_transport_close(s.t);
		mm_outlet_transport_free(s.outlet);
	} else {
		mm_outlet_json_free(s.outlet);
	}
	for (i = 0; i < s.nchildren; i++) {
		free(s.children[i].digest);
		mm_buf_free(&s.children[i].values);
	}
	free(s.children);
	mm_loop_free(s.host.loop);
	mm_i18n_free(cat);
	mm_plugins_free(s.plugins, s.nplugins);
	mm_config_free(s.cfg);
	return status;
}
