/*
 * The host side of a loaded module: its context (what plugins see as
 * struct mm_ctx), the host API table, and the outlet events leave through.
 * Shared by the worker, the in-process mode, replay and scan-mail.
 */
#ifndef MM_CORE_HOST_H
#define MM_CORE_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "config.h"
#include "event.h"
struct mm_i18n;
#include "loop.h"
#include "plugin_info.h"

struct mm_host;
struct mm_module;

/* Where emitted events go. put takes ownership of ev (stamped). */
struct mm_outlet {
	int (*put)(struct mm_outlet *o, struct mm_module *m, struct mm_event *ev);
	void *user;
};

/* A counter or gauge of a module. */
struct mm_counter {
	char name[48];
	int64_t value;
	int gauge;
};

/* One capture a module opened. In replay, cap is NULL and packets come
 * from the replayed file (filtered by bpf). */
struct mm_module_capture {
	int id;
	int active;
	struct mm_capture *cap;
	struct mm_bpf *bpf;
	int watch_id;
	mm_packet_cb cb;
	void *user;
	struct mm_module *module;
};

struct mm_module {
	struct mm_ctx pub; /* first: plugins get &pub */
	char name[32];
	struct mm_host *host;
	void *dl;
	const struct mm_plugin *plugin;
	struct mm_plugin_info *info;
	struct mm_cfg_values values;
	int values_owned;
	uint64_t seq;
	uint64_t events;
	uint64_t emit_errors;
	struct mm_counter *counters;
	size_t ncounters;
	struct mm_module_capture *captures;
	size_t ncaptures;
	int next_capture_id;
	char state_dir[4096];
	int initialized;
	int started;
};

struct mm_host {
	struct mm_loop *loop;
	struct mm_outlet *outlet;
	const struct mm_config *cfg; /* sensor fields; may be NULL in tests */
	struct mm_i18n *i18n;
	char data_dir[4096];
	char state_dir[4096];
	int role;
	/* Replay: captures bind to this file's packets, time is packet time. */
	int replay;
	int replay_linktype;
	uint64_t replay_now_ns;
};

extern const struct mm_host_api mm_host_api_v1;

/* Load a plugin file into a module (dlopen + checks). reason on failure. */
int mm_module_load(struct mm_module **out, struct mm_host *host, const char *path, char *reason,
                   size_t n);
/* Use these validated values (takes ownership when own is set). */
void mm_module_set_values(struct mm_module *m, struct mm_cfg_values *values, int own);
int mm_module_init(struct mm_module *m);
int mm_module_start(struct mm_module *m);
void mm_module_stop(struct mm_module *m);
void mm_module_free(struct mm_module *m); /* fini (if initialized), dlclose */

/* Deliver a packet to every replay-bound capture of m. */
void mm_module_replay_packet(struct mm_module *m, const struct mm_packet *pkt);

/* Emit a host-made event (health, stat) as if from module m (or as the host
 * when m is NULL: plugin fields say "mimamori"). Takes ownership. */
int mm_host_emit(struct mm_host *h, struct mm_module *m, struct mm_event *ev);

/* The catalogue event_set_msg uses (borrowed; set once at start-up). */
void mm_host_set_catalogue(const struct mm_i18n *cat);
const struct mm_i18n *mm_host_catalogue(void);

/* Time as the host sees it: packet time in replay, the wall clock otherwise. */
uint64_t mm_host_now_ns(const struct mm_host *h);

/* Outlet printing JSON lines to a FILE (replay, scan-mail, no aggregator). */
struct mm_outlet *mm_outlet_json_new(void *stream);
void mm_outlet_json_free(struct mm_outlet *o);

#endif
