/*
 * The host API table plugins call, and the lifecycle of a loaded module.
 * Runs in a worker process (one module), or in the in-process modes
 * (--inproc, replay, scan-mail) where several modules share one loop.
 *
 * Everything a plugin hands the host is copied; everything the host hands a
 * plugin is borrowed for the duration of the call, as plugin.h says.
 */
#include "host.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "i18n.h"
#include "loader.h"
#include "util.h"

#define MAX_COUNTERS 256
#define MAX_CAPTURES 16
#define LIVE_BATCH 512

static struct mm_module *
mod(struct mm_ctx *ctx)
{
	/* pub is the first member, so the context is the module. */
	return (struct mm_module *)ctx;
}

static void
api_log(struct mm_ctx *ctx, int level, const char *fmt, va_list ap)
{
	char line[1024];

	if (!mm_log_enabled(level))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	mm_log_host(level, mod(ctx)->name, "%s", line);
}

static const struct mm_cfg_value *
value(struct mm_ctx *ctx, const char *key, int type)
{
	struct mm_module *m = mod(ctx);
	const struct mm_cfg_value *v = mm_cfg_values_find(&m->values, key);

	if (v == NULL) {
		mm_log_host(MM_LOG_ERROR, m->name,
		            "plugin asked for configuration key '%s' it did not declare", key);
		return NULL;
	}
	if (v->key && v->key->type != type) {
		mm_log_host(MM_LOG_ERROR, m->name,
		            "plugin read configuration key '%s' with the wrong type", key);
		return NULL;
	}
	return v;
}

static int64_t
api_cfg_int(struct mm_ctx *ctx, const char *key)
{
	const struct mm_cfg_value *v = value(ctx, key, MM_CFG_INT);
	return v ? v->i : 0;
}

static double
api_cfg_double(struct mm_ctx *ctx, const char *key)
{
	const struct mm_cfg_value *v = value(ctx, key, MM_CFG_DOUBLE);
	return v ? v->d : 0.0;
}

static int
api_cfg_bool(struct mm_ctx *ctx, const char *key)
{
	const struct mm_cfg_value *v = value(ctx, key, MM_CFG_BOOL);
	return v ? (int)v->i : 0;
}

static const char *
api_cfg_str(struct mm_ctx *ctx, const char *key)
{
	const struct mm_cfg_value *v = value(ctx, key, MM_CFG_STRING);
	return v ? v->s : NULL;
}

static size_t
api_cfg_list_count(struct mm_ctx *ctx, const char *key)
{
	const struct mm_cfg_value *v = value(ctx, key, MM_CFG_STRING_LIST);
	return v ? v->nlist : 0;
}

static const char *
api_cfg_list_at(struct mm_ctx *ctx, const char *key, size_t i)
{
	const struct mm_cfg_value *v = value(ctx, key, MM_CFG_STRING_LIST);
	return v && i < v->nlist ? v->list[i] : NULL;
}

static struct mm_event *
api_event_new(struct mm_ctx *ctx, int kind)
{
	return mm_event_create(kind);
}

/* The message catalogue is process-wide: event_set_msg has no context. */
static const struct mm_i18n *host_catalogue;

void
mm_host_set_catalogue(const struct mm_i18n *cat)
{
	host_catalogue = cat;
}

const struct mm_i18n *
mm_host_catalogue(void)
{
	return host_catalogue;
}

static int
api_event_set_msg(struct mm_event *ev, const char *id, const char *const *args)
{
	return mm_event_set_msg(ev, host_catalogue, id, args);
}

uint64_t
mm_host_now_ns(const struct mm_host *h)
{
	if (h->replay)
		return h->replay_now_ns;
	return mm_now_ns();
}

int
mm_host_emit(struct mm_host *h, struct mm_module *m, struct mm_event *ev)
{
	const struct mm_config *cfg = h->cfg;
	struct mm_event_stamp s;
	int rc;

	memset(&s, 0, sizeof(s));
	s.ts_ns = mm_host_now_ns(h);
	if (m) {
		s.seq = ++m->seq;
		s.plugin_name = m->name;
		s.plugin_version = m->info ? m->info->version : NULL;
		s.plugin_vendor = m->info ? m->info->vendor : NULL;
	} else {
		static uint64_t host_seq;
		s.seq = ++host_seq;
		s.plugin_name = "mimamori";
		s.plugin_version = MM_VERSION;
		s.plugin_vendor = "mimamori";
	}
	s.sensor_role = mm_role_name(h->role);
	if (cfg) {
		s.sensor_id = cfg->sensor_id;
		s.sensor_host = cfg->sensor_host;
		s.sensor_site = cfg->sensor_site;
	}
	rc = mm_event_stamp(ev, &s);
	if (rc != MM_OK) {
		mm_event_free(ev);
		return rc;
	}
	return h->outlet->put(h->outlet, m, ev);
}

static int
api_emit(struct mm_ctx *ctx, struct mm_event *ev)
{
	struct mm_module *m = mod(ctx);
	int rc;

	if (ev == NULL)
		return MM_ERR_INVAL;
	rc = mm_host_emit(m->host, m, ev);
	if (rc == MM_OK)
		m->events++;
	else
		m->emit_errors++;
	return rc;
}

static uint64_t
api_now_ns(struct mm_ctx *ctx)
{
	return mm_host_now_ns(mod(ctx)->host);
}

static int
api_timer_add(struct mm_ctx *ctx, uint64_t interval_ms, int repeat, mm_timer_cb cb, void *user)
{
	return mm_loop_timer_add(mod(ctx)->host->loop, ctx, interval_ms, repeat, cb, user);
}

static int
api_timer_cancel(struct mm_ctx *ctx, int id)
{
	return mm_loop_timer_cancel(mod(ctx)->host->loop, id);
}

static int
api_fd_watch(struct mm_ctx *ctx, int fd, unsigned events, mm_fd_cb cb, void *user)
{
	return mm_loop_fd_add(mod(ctx)->host->loop, ctx, fd, events, cb, user);
}

static int
api_fd_unwatch(struct mm_ctx *ctx, int id)
{
	return mm_loop_fd_remove(mod(ctx)->host->loop, id);
}

static void
deliver(struct mm_module_capture *c, const struct mm_packet *pkt)
{
	c->cb(&c->module->pub, pkt, c->user);
}

/* Live and file sources outside replay: read a bounded batch per wake-up so
 * one busy source cannot starve timers and other watches. */
static void
capture_readable(struct mm_ctx *ctx, int fd, unsigned revents, void *user)
{
	struct mm_module *m = mod(ctx);
	int id = (int)(intptr_t)user, i, rc;
	size_t k;

	for (k = 0; k < m->ncaptures; k++) {
		struct mm_module_capture *c = &m->captures[k];
		if (c->id != id || !c->active)
			continue;
		for (i = 0; i < LIVE_BATCH; i++) {
			struct mm_packet pkt;
			rc = mm_capture_next(c->cap, &pkt);
			if (rc == 1) {
				deliver(c, &pkt);
				/* The callback may have closed this capture. */
				if (!c->active)
					return;
				continue;
			}
			if (rc == MM_ERR_CLOSED) {
				mm_log_host(MM_LOG_INFO, m->name,
				            "capture %d reached the end of its file", id);
				mm_loop_fd_remove(m->host->loop, c->watch_id);
				c->watch_id = -1;
			} else if (rc < 0) {
				mm_log_host(MM_LOG_ERROR, m->name, "capture %d failed: %s", id,
				            mm_strerror(rc));
			}
			break;
		}
		return;
	}
}

static void
capture_file_tick(struct mm_ctx *ctx, void *user)
{
	capture_readable(ctx, -1, MM_FD_READ, user);
}

/* The first interface that is up, not loopback and has an address. */
static int
default_device(char *out, size_t n)
{
	pcap_if_t *all = NULL, *d;
	char err[PCAP_ERRBUF_SIZE];
	int rc = MM_ERR_NOTFOUND;

	if (pcap_findalldevs(&all, err) != 0)
		return MM_ERR_IO;
	for (d = all; d; d = d->next) {
		if ((d->flags & PCAP_IF_LOOPBACK) || !(d->flags & PCAP_IF_UP) ||
		    d->addresses == NULL || strcmp(d->name, "any") == 0)
			continue;
		mm_strlcpy(out, d->name, n);
		rc = MM_OK;
		break;
	}
	pcap_freealldevs(all);
	return rc;
}

static int
api_capture_open(struct mm_ctx *ctx, const struct mm_capture_opts *opts, mm_packet_cb cb,
                 void *user)
{
	struct mm_module *m = mod(ctx);
	struct mm_module_capture *c, *grown;
	struct mm_capture_opts o;
	char err[512] = "";
	int rc;

	if (opts == NULL || cb == NULL || opts->size < offsetof(struct mm_capture_opts, monitor))
		return MM_ERR_INVAL;
	memset(&o, 0, sizeof(o));
	memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
	o.size = sizeof(o);
	if (m->ncaptures >= MAX_CAPTURES)
		return MM_ERR_FULL;
	grown = realloc(m->captures, (m->ncaptures + 1) * sizeof(*grown));
	if (grown == NULL)
		return MM_ERR_NOMEM;
	m->captures = grown;
	c = &m->captures[m->ncaptures];
	memset(c, 0, sizeof(*c));
	c->id = ++m->next_capture_id;
	c->cb = cb;
	c->user = user;
	c->module = m;
	c->watch_id = -1;
	if (m->host->replay) {
		if (o.bpf && *o.bpf) {
			rc = mm_bpf_compile(&c->bpf, m->host->replay_linktype,
			                    o.snaplen ? o.snaplen : 65535, o.bpf, err, sizeof(err));
			if (rc != MM_OK) {
				mm_log_host(MM_LOG_ERROR, m->name, "bad capture filter '%s': %s",
				            o.bpf, err);
				return rc;
			}
		}
	} else {
		char path[4096], dev[256];
		if (o.interface && o.interface[0] == '\0')
			o.interface = NULL;
		if (o.file && o.file[0] == '\0')
			o.file = NULL;
		/* "file:PATH" reads a capture file in place of an interface, so any
		 * packet module can be demonstrated or tested without a network;
		 * a relative PATH is below the data directory. */
		if (o.interface && strncmp(o.interface, "file:", 5) == 0) {
			mm_data_path(ctx, path, sizeof(path), o.interface + 5);
			o.file = path;
			o.interface = NULL;
		} else if (o.interface == NULL && o.file == NULL) {
			if (default_device(dev, sizeof(dev)) != MM_OK) {
				mm_log_host(
				        MM_LOG_ERROR, m->name,
				        "no interface configured and no usable default interface");
				return MM_ERR_NOTFOUND;
			}
			mm_log_host(MM_LOG_INFO, m->name, "no interface configured: using %s", dev);
			o.interface = dev;
		}
		rc = mm_capture_open(&c->cap, &o, err, sizeof(err));
		if (rc != MM_OK) {
			mm_log_host(MM_LOG_ERROR, m->name, "cannot open capture %s: %s",
			            o.interface ? o.interface : (o.file ? o.file : "(none)"), err);
			return rc;
		}
		if (mm_capture_fd(c->cap) >= 0)
			c->watch_id = mm_loop_fd_add(m->host->loop, ctx, mm_capture_fd(c->cap),
			                             MM_FD_READ, capture_readable,
			                             (void *)(intptr_t)c->id);
		else
			c->watch_id = mm_loop_timer_add(m->host->loop, ctx, 1, 1, capture_file_tick,
			                                (void *)(intptr_t)c->id);
	}
	c->active = 1;
	m->ncaptures++;
	return c->id;
}

static void
capture_release(struct mm_module *m, struct mm_module_capture *c)
{
	if (!c->active)
		return;
	c->active = 0;
	if (c->watch_id >= 0) {
		if (mm_loop_fd_remove(m->host->loop, c->watch_id) != MM_OK)
			mm_loop_timer_cancel(m->host->loop, c->watch_id);
	}
	mm_capture_close(c->cap);
	c->cap = NULL;
	mm_bpf_free(c->bpf);
	c->bpf = NULL;
}

static int
api_capture_close(struct mm_ctx *ctx, int id)
{
	struct mm_module *m = mod(ctx);
	size_t k;

	for (k = 0; k < m->ncaptures; k++)
		if (m->captures[k].id == id && m->captures[k].active) {
			capture_release(m, &m->captures[k]);
			return MM_OK;
		}
	return MM_ERR_NOTFOUND;
}

static struct mm_counter *
counter(struct mm_module *m, const char *name)
{
	struct mm_counter *grown;
	size_t i;

	for (i = 0; i < m->ncounters; i++)
		if (strcmp(m->counters[i].name, name) == 0)
			return &m->counters[i];
	if (m->ncounters >= MAX_COUNTERS || strlen(name) >= sizeof(m->counters[0].name))
		return NULL;
	grown = realloc(m->counters, (m->ncounters + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	m->counters = grown;
	memset(&m->counters[m->ncounters], 0, sizeof(*grown));
	mm_strlcpy(m->counters[m->ncounters].name, name, sizeof(grown->name));
	return &m->counters[m->ncounters++];
}

static void
api_counter_add(struct mm_ctx *ctx, const char *name, int64_t delta)
{
	struct mm_counter *c = counter(mod(ctx), name);

	if (c)
		c->value += delta;
}

static void
api_gauge_set(struct mm_ctx *ctx, const char *name, int64_t v)
{
	struct mm_counter *c = counter(mod(ctx), name);

	if (c) {
		c->value = v;
		c->gauge = 1;
	}
}

static const char *
api_state_dir(struct mm_ctx *ctx)
{
	struct mm_module *m = mod(ctx);

	if (m->state_dir[0] == '\0') {
		if (snprintf(m->state_dir, sizeof(m->state_dir), "%.4000s/%s", m->host->state_dir,
		             m->name) >= (int)sizeof(m->state_dir))
			mm_log_host(MM_LOG_ERROR, m->name, "state directory path too long");
		else if (mm_mkdir_p(m->state_dir, 0700) != MM_OK)
			mm_log_host(MM_LOG_ERROR, m->name, "cannot create state directory %s: %s",
			            m->state_dir, strerror(errno));
	}
	return m->state_dir;
}

static const char *
api_data_dir(struct mm_ctx *ctx)
{
	return mod(ctx)->host->data_dir;
}

static int
api_role(struct mm_ctx *ctx)
{
	return mod(ctx)->host->role;
}

const struct mm_host_api mm_host_api_v1 = {
        .version = MM_ABI_VERSION,
        .size = sizeof(struct mm_host_api),
        .log = api_log,
        .cfg_int = api_cfg_int,
        .cfg_double = api_cfg_double,
        .cfg_bool = api_cfg_bool,
        .cfg_str = api_cfg_str,
        .cfg_list_count = api_cfg_list_count,
        .cfg_list_at = api_cfg_list_at,
        .event_new = api_event_new,
        .event_set_str = mm_event_set_str,
        .event_set_int = mm_event_set_int,
        .event_set_double = mm_event_set_double,
        .event_set_bool = mm_event_set_bool,
        .event_add_str = mm_event_add_str,
        .event_add_int = mm_event_add_int,
        .event_set_msg = api_event_set_msg,
        .event_free = mm_event_free,
        .emit = api_emit,
        .now_ns = api_now_ns,
        .timer_add = api_timer_add,
        .timer_cancel = api_timer_cancel,
        .fd_watch = api_fd_watch,
        .fd_unwatch = api_fd_unwatch,
        .capture_open = api_capture_open,
        .capture_close = api_capture_close,
        .counter_add = api_counter_add,
        .gauge_set = api_gauge_set,
        .state_dir = api_state_dir,
        .data_dir = api_data_dir,
        .role = api_role,
};

int
mm_module_load(struct mm_module **out, struct mm_host *host, const char *path, char *reason,
               size_t n)
{
	struct mm_module *m;
	int rc;

	*out = NULL;
	rc = mm_plugin_check_file(path, (unsigned)-1, reason, n);
	if (rc != MM_OK)
		return rc;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return MM_ERR_NOMEM;
	m->pub.api = &mm_host_api_v1;
	m->host = host;
	rc = mm_plugin_open(path, &m->dl, &m->plugin, reason, n);
	if (rc == MM_OK)
		rc = mm_plugin_describe(&m->info, path, m->plugin);
	if (rc != MM_OK) {
		mm_module_free(m);
		return rc;
	}
	mm_strlcpy(m->name, m->plugin->name, sizeof(m->name));
	*out = m;
	return MM_OK;
}

void
mm_module_set_values(struct mm_module *m, struct mm_cfg_values *values, int own)
{
	if (m->values_owned)
		mm_cfg_values_free(&m->values);
	m->values = *values;
	m->values_owned = own;
}

int
mm_module_init(struct mm_module *m)
{
	int rc = m->plugin->init(&m->pub);

	if (rc != MM_OK) {
		mm_log_host(MM_LOG_ERROR, m->name, "init failed: %s", mm_strerror(rc));
		mm_loop_remove_owner(m->host->loop, &m->pub);
		return rc;
	}
	m->initialized = 1;
	return MM_OK;
}

int
mm_module_start(struct mm_module *m)
{
	int rc = m->plugin->start(&m->pub);

	if (rc != MM_OK) {
		mm_log_host(MM_LOG_ERROR, m->name, "start failed: %s", mm_strerror(rc));
		return rc;
	}
	m->started = 1;
	return MM_OK;
}

void
mm_module_stop(struct mm_module *m)
{
	size_t k;

	if (!m->started)
		return;
	m->plugin->stop(&m->pub);
	m->started = 0;
	for (k = 0; k < m->ncaptures; k++)
		capture_release(m, &m->captures[k]);
}

void
mm_module_free(struct mm_module *m)
{
	size_t k;

	if (m == NULL)
		return;
	mm_module_stop(m);
	if (m->initialized)
		m->plugin->fini(&m->pub);
	if (m->host)
		mm_loop_remove_owner(m->host->loop, &m->pub);
	for (k = 0; k < m->ncaptures; k++)
		capture_release(m, &m->captures[k]);
	free(m->captures);
	free(m->counters);
	if (m->values_owned)
		mm_cfg_values_free(&m->values);
	mm_plugin_info_free(m->info);
	/* Plugins are not unloaded: a plugin that left a thread or an atexit
	 * handler behind would crash the process at dlclose. The process that
	 * loaded it is a worker or a short-lived command anyway. */
	free(m);
}

void
mm_module_replay_packet(struct mm_module *m, const struct mm_packet *pkt)
{
	size_t k;

	for (k = 0; k < m->ncaptures; k++) {
		struct mm_module_capture *c = &m->captures[k];
		if (!c->active || c->cap != NULL)
			continue;
		if (c->bpf && !mm_bpf_match(c->bpf, pkt))
			continue;
		c->cb(&m->pub, pkt, c->user);
	}
}

/* JSON-lines outlet. */

struct json_outlet {
	struct mm_outlet pub;
	FILE *stream;
	struct mm_buf buf;
};

static int
json_put(struct mm_outlet *o, struct mm_module *m, struct mm_event *ev)
{
	struct json_outlet *j = (struct json_outlet *)o;
	size_t off;
	int rc;

	mm_buf_reset(&j->buf);
	rc = mm_event_to_json(ev, &j->buf);
	mm_event_free(ev);
	if (rc != MM_OK)
		return rc;
	mm_buf_putc(&j->buf, '\n');
	/* One write() per line: several workers may share this pipe, and a
	 * line written whole is never interleaved with another's. */
	fflush(j->stream);
	off = 0;
	while (off < j->buf.len) {
		ssize_t w = write(fileno(j->stream), j->buf.data + off, j->buf.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return MM_ERR_IO;
		off += (size_t)w;
	}
	return MM_OK;
}

struct mm_outlet *
mm_outlet_json_new(void *stream)
{
	struct json_outlet *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->pub.put = json_put;
	j->pub.user = j;
	j->stream = stream;
	return &j->pub;
}

void
mm_outlet_json_free(struct mm_outlet *o)
{
	struct json_outlet *j = (struct json_outlet *)o;

	if (j == NULL)
		return;
	fflush(j->stream);
	mm_buf_free(&j->buf);
	free(j);
}
