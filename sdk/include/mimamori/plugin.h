/*
 * mimamori SDK v1: the plugin ABI and the host API.
 *
 * A plugin is a shared object that exports one function:
 *
 *     MM_PLUGIN_EXPORT const struct mm_plugin *mm_plugin_entry(void);
 *
 * The host loads it with dlopen(RTLD_NOW | RTLD_LOCAL) in a worker process,
 * checks abi_version and size, validates the module's configuration against
 * the plugin's key table and then calls init, start, (reload,) stop and fini.
 * Everything the plugin needs from the host (emitting events, logging,
 * configuration, timers, file descriptor watches, packet capture, counters,
 * its state directory) reaches it through the function table in
 * struct mm_host_api, so a plugin links against nothing of the host's and
 * never sees msgpack or ZeroMQ.
 *
 * Compatibility rules: structs here only ever grow at the end; a member is
 * never inserted, removed or retyped within a major version. The host never
 * reads a plugin's struct past the size the plugin declares, and the plugin
 * must check api->size (or mm_host_has()) before calling a function added
 * after v1.0.
 */
#ifndef MIMAMORI_PLUGIN_H
#define MIMAMORI_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "event.h"
#include "packet.h"

#ifdef __cplusplus
extern "C" {
#endif

/** ABI major: a plugin built for another major is refused. */
#define MM_ABI_MAJOR 1
/** ABI minor: grows when members are appended. */
#define MM_ABI_MINOR 0
/** The packed version stored in mm_plugin.abi_version. */
#define MM_ABI_VERSION ((uint32_t)(MM_ABI_MAJOR << 16 | MM_ABI_MINOR))
#define MM_ABI_VERSION_MAJOR(v) ((uint32_t)(v) >> 16)
#define MM_ABI_VERSION_MINOR(v) ((uint32_t)(v)&0xffffu)

#if defined(_WIN32)
#define MM_PLUGIN_EXPORT __declspec(dllexport)
#else
#define MM_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/** Roles a sensor runs in (mm_plugin.roles is a set of these bits). */
enum mm_role { MM_ROLE_UTM = 1u << 0, MM_ROLE_PC = 1u << 1 };

/** Capabilities a plugin declares (informational, and used by replay). */
enum mm_capability {
	MM_CAP_PACKETS = 1u << 0, /**< consumes packets via mm_packets_open() */
	MM_CAP_WIFI = 1u << 1,    /**< consumes 802.11 monitor-mode frames */
	MM_CAP_MAIL = 1u << 2,    /**< scans mail (feed kind "mail") */
	MM_CAP_HOST = 1u << 3,    /**< inspects the local host */
	MM_CAP_INLINE = 1u << 4,  /**< can block traffic inline */
	MM_CAP_FILES = 1u << 5    /**< accepts files through feed() */
};

/** Types of configuration values. */
enum mm_cfg_type {
	MM_CFG_BOOL = 1,
	MM_CFG_INT = 2,    /**< 64-bit integer, checked against [min, max] */
	MM_CFG_DOUBLE = 3, /**< checked against [min, max] */
	MM_CFG_STRING = 4,
	MM_CFG_STRING_LIST = 5 /**< libconfig array or list of strings */
};

/** Flags of a configuration key. */
enum mm_cfg_flag {
	MM_CFG_REQUIRED = 1u << 0 /**< the module does not start without it */
};

/**
 * One configuration key a plugin accepts. A plugin declares a table of them,
 * terminated by an entry whose name is NULL. The host rejects unknown keys,
 * wrong types and out-of-range values with FILE:LINE before anything
 * starts, and prints the table as the module's documentation.
 *
 * def is the default written as text in the key's type ("true", "42",
 * "0.5", "eth0", and for lists comma-separated items, "" for an empty list);
 * NULL means no default (the getter returns 0 / NULL / an empty list).
 * min and max bound INT and DOUBLE values when min <= max.
 */
struct mm_cfg_key {
	const char *name;
	int type; /**< enum mm_cfg_type */
	const char *def;
	double min;
	double max;
	uint32_t flags;   /**< enum mm_cfg_flag */
	const char *help; /**< one sentence for `mimamori plugins --doc` */
};

/** Log levels. */
enum mm_log_level { MM_LOG_ERROR = 0, MM_LOG_WARN = 1, MM_LOG_INFO = 2, MM_LOG_DEBUG = 3 };

/** fd watch event bits. */
enum mm_fd_event { MM_FD_READ = 1u << 0, MM_FD_WRITE = 1u << 1 };

/**
 * What to capture. Zero-initialize, set size = sizeof(struct
 * mm_capture_opts) and fill what matters. Exactly one of interface and
 * file is normally set; in `mimamori replay` the host binds every capture a
 * plugin opens to the replayed file instead (the bpf filter still applies).
 */
struct mm_capture_opts {
	uint32_t size;
	const char *interface; /**< live interface name, or NULL */
	const char *file;      /**< pcap or pcapng file, or NULL */
	const char *bpf;       /**< BPF filter expression, or NULL for all */
	int snaplen;           /**< 0: 65535 */
	int buffer_mb;         /**< kernel buffer, 0: libpcap's default */
	int promisc;           /**< non-zero: promiscuous mode */
	int monitor;           /**< non-zero: 802.11 monitor mode (rfmon) */
};

struct mm_ctx;
struct mm_host_api;

/**
 * The per-module context the host passes to every callback. The first two
 * members are public; the host keeps private state after them, so never copy
 * or allocate one.
 */
struct mm_ctx {
	const struct mm_host_api *api; /**< the host's function table */
	void *data;                    /**< free for the plugin (set it in init) */
};

/** Callback types. */
typedef void (*mm_timer_cb)(struct mm_ctx *ctx, void *user);
typedef void (*mm_fd_cb)(struct mm_ctx *ctx, int fd, unsigned revents, void *user);
typedef void (*mm_packet_cb)(struct mm_ctx *ctx, const struct mm_packet *pkt, void *user);

/**
 * The host's services, version MM_ABI_VERSION. The host owns the table; a
 * plugin keeps the pointer from ctx->api. Unless stated otherwise a
 * function may only be called from the thread that called the plugin's
 * callback.
 */
struct mm_host_api {
	uint32_t version; /**< MM_ABI_VERSION of the host */
	uint32_t size;    /**< sizeof(struct mm_host_api) in the host */

	/* Logging: one line, no trailing newline needed. */
	void (*log)(struct mm_ctx *ctx, int level, const char *fmt, va_list ap);

	/* Validated configuration (defaults applied). Asking for a key the
	 * plugin did not declare logs an error and returns 0 / NULL. Strings are
	 * borrowed until fini. */
	int64_t (*cfg_int)(struct mm_ctx *ctx, const char *key);
	double (*cfg_double)(struct mm_ctx *ctx, const char *key);
	int (*cfg_bool)(struct mm_ctx *ctx, const char *key);
	const char *(*cfg_str)(struct mm_ctx *ctx, const char *key);
	size_t (*cfg_list_count)(struct mm_ctx *ctx, const char *key);
	const char *(*cfg_list_at)(struct mm_ctx *ctx, const char *key, size_t i);

	/* Events: see event.h for the fields. event_new returns NULL only when
	 * out of memory. Setters copy what they are given. emit takes ownership
	 * of the event whatever it returns. */
	struct mm_event *(*event_new)(struct mm_ctx *ctx, int kind);
	int (*event_set_str)(struct mm_event *ev, const char *path, const char *value);
	int (*event_set_int)(struct mm_event *ev, const char *path, int64_t value);
	int (*event_set_double)(struct mm_event *ev, const char *path, double value);
	int (*event_set_bool)(struct mm_event *ev, const char *path, int value);
	int (*event_add_str)(struct mm_event *ev, const char *path, const char *value);
	int (*event_add_int)(struct mm_event *ev, const char *path, int64_t value);
	/* Set "msg" (English), "msg_ja" (Japanese) and "msg_id" from the
	 * message catalogue (every .tsv file in data/i18n): id names the entry, args is a
	 * NULL-terminated list of name, value pairs filling its {name}
	 * placeholders. An unknown id is MM_ERR_NOTFOUND and msg is set to
	 * the id, so nothing is lost. */
	int (*event_set_msg)(struct mm_event *ev, const char *id, const char *const *args);
	void (*event_free)(struct mm_event *ev);
	int (*emit)(struct mm_ctx *ctx, struct mm_event *ev);

	/* Time: wall clock in ns. During replay this is the capture's clock
	 * (the time of the packet being delivered), so windows and timers
	 * behave as they did when the capture was taken. */
	uint64_t (*now_ns)(struct mm_ctx *ctx);

	/* Timers fire on the plugin's thread. Returns an id >= 0 or an error. */
	int (*timer_add)(struct mm_ctx *ctx, uint64_t interval_ms, int repeat, mm_timer_cb cb,
	                 void *user);
	int (*timer_cancel)(struct mm_ctx *ctx, int id);

	/* File descriptor watches (enum mm_fd_event). Returns an id >= 0. */
	int (*fd_watch)(struct mm_ctx *ctx, int fd, unsigned events, mm_fd_cb cb, void *user);
	int (*fd_unwatch)(struct mm_ctx *ctx, int id);

	/* Packet capture: see struct mm_capture_opts. Returns an id >= 0. */
	int (*capture_open)(struct mm_ctx *ctx, const struct mm_capture_opts *opts, mm_packet_cb cb,
	                    void *user);
	int (*capture_close)(struct mm_ctx *ctx, int id);

	/* Counters (monotonic) and gauges, by name ([a-z0-9_.]+). They appear
	 * in `mimamori status` and in the module's periodic stat event. */
	void (*counter_add)(struct mm_ctx *ctx, const char *name, int64_t delta);
	void (*gauge_set)(struct mm_ctx *ctx, const char *name, int64_t value);

	/* Directories: the module's private, persistent state directory
	 * (created 0700), and the read-only data directory that holds shipped
	 * tables (rules, fingerprints, end-of-life dates). */
	const char *(*state_dir)(struct mm_ctx *ctx);
	const char *(*data_dir)(struct mm_ctx *ctx);

	/* The role this sensor runs in (enum mm_role, one bit). */
	int (*role)(struct mm_ctx *ctx);
};

/**
 * The plugin descriptor. Return a pointer to a static const instance from
 * mm_plugin_entry(); the host never writes to it and never copies it by its
 * own sizeof.
 *
 * Callbacks return MM_OK or a negative enum mm_error. A non-zero return from
 * init or start stops the module (the host reports it and does not restart
 * it until the configuration changes).
 */
struct mm_plugin {
	uint32_t abi_version; /**< MM_ABI_VERSION */
	uint32_t size;        /**< sizeof(struct mm_plugin) */
	const char *name;     /**< module name, [a-z0-9_]{1,31}, unique */
	const char *version;  /**< the plugin's own version, free text */
	const char *vendor;
	const char *description;         /**< one sentence */
	uint32_t roles;                  /**< enum mm_role bits it supports */
	uint32_t caps;                   /**< enum mm_capability bits */
	const struct mm_cfg_key *config; /**< NULL-terminated key table, may be NULL */

	int (*init)(struct mm_ctx *ctx);  /**< parse config, allocate */
	int (*start)(struct mm_ctx *ctx); /**< open sources, add timers */
	void (*stop)(struct mm_ctx *ctx); /**< close sources; pending events may be emitted */
	void (*fini)(struct mm_ctx *ctx); /**< free everything init allocated */

	/** Optional: re-read files the configuration points at (rules, lists)
	 * on SIGHUP without restarting. Return an error to keep the old ones. */
	int (*reload)(struct mm_ctx *ctx);
	/** Optional: process one input file given by an operator command
	 * (`mimamori scan-mail FILE` passes kind "mail"). Called after init
	 * and without start: the module opens no sources for it. */
	int (*feed)(struct mm_ctx *ctx, const char *kind, const char *path);
};

/** The one symbol a plugin exports (declared here so that every plugin's
 * definition matches it and is exported whatever the visibility default). */
MM_PLUGIN_EXPORT const struct mm_plugin *mm_plugin_entry(void);
typedef const struct mm_plugin *(*mm_plugin_entry_fn)(void);
#define MM_PLUGIN_ENTRY_SYMBOL "mm_plugin_entry"

/**
 * Resolve a configured path: absolute and empty paths are copied as they
 * are, a relative one is taken below the data directory
 * (ctx->api->data_dir). Returns MM_OK, or MM_ERR_TOOBIG when out (n bytes)
 * is too small (out then holds a truncated path).
 */
int mm_data_path(struct mm_ctx *ctx, char *out, size_t n, const char *path);

/* Convenience wrappers over ctx->api. */

/** True if the host's table is large enough to contain member m. */
#define mm_host_has(ctx, m)                                                                        \
	((ctx)->api->size >= offsetof(struct mm_host_api, m) + sizeof((ctx)->api->m))

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline void
mm_log(struct mm_ctx *ctx, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ctx->api->log(ctx, level, fmt, ap);
	va_end(ap);
}

static inline int
mm_emit(struct mm_ctx *ctx, struct mm_event *ev)
{
	return ctx->api->emit(ctx, ev);
}

static inline int
mm_packets_open(struct mm_ctx *ctx, const struct mm_capture_opts *opts, mm_packet_cb cb, void *user)
{
	return ctx->api->capture_open(ctx, opts, cb, user);
}

/* Event helpers: thin wrappers so plugin code reads as one call per field. */

static inline struct mm_event *
mm_ev_new(struct mm_ctx *ctx, int kind)
{
	return ctx->api->event_new(ctx, kind);
}

static inline int
mm_ev_str(struct mm_ctx *ctx, struct mm_event *ev, const char *path, const char *value)
{
	return ctx->api->event_set_str(ev, path, value);
}

static inline int
mm_ev_int(struct mm_ctx *ctx, struct mm_event *ev, const char *path, int64_t value)
{
	return ctx->api->event_set_int(ev, path, value);
}

static inline int
mm_ev_double(struct mm_ctx *ctx, struct mm_event *ev, const char *path, double value)
{
	return ctx->api->event_set_double(ev, path, value);
}

static inline int
mm_ev_bool(struct mm_ctx *ctx, struct mm_event *ev, const char *path, int value)
{
	return ctx->api->event_set_bool(ev, path, value);
}

static inline int
mm_ev_add_str(struct mm_ctx *ctx, struct mm_event *ev, const char *path, const char *value)
{
	return ctx->api->event_add_str(ev, path, value);
}

static inline int
mm_ev_add_int(struct mm_ctx *ctx, struct mm_event *ev, const char *path, int64_t value)
{
	return ctx->api->event_add_int(ev, path, value);
}

/** Set the event's sentence from the catalogue; args as for event_set_msg. */
static inline int
mm_ev_msg(struct mm_ctx *ctx, struct mm_event *ev, const char *id, const char *const *args)
{
	return ctx->api->event_set_msg(ev, id, args);
}

/** Set path to the text form of an address (no-op when addr->family is 0). */
static inline int
mm_ev_addr(struct mm_ctx *ctx, struct mm_event *ev, const char *path, const struct mm_addr *addr)
{
	char buf[MM_ADDR_STRLEN];
	if (addr->family == 0)
		return MM_OK;
	return ctx->api->event_set_str(ev, path, mm_addr_format(buf, addr));
}

/** Set path to the text form of a MAC address (no-op for NULL). */
static inline int
mm_ev_mac(struct mm_ctx *ctx, struct mm_event *ev, const char *path, const uint8_t *mac)
{
	char buf[MM_MAC_STRLEN];
	if (mac == NULL)
		return MM_OK;
	return ctx->api->event_set_str(ev, path, mm_mac_format(buf, mac));
}

static inline int64_t
mm_cfg_int(struct mm_ctx *ctx, const char *key)
{
	return ctx->api->cfg_int(ctx, key);
}

static inline const char *
mm_cfg_str(struct mm_ctx *ctx, const char *key)
{
	return ctx->api->cfg_str(ctx, key);
}

static inline int
mm_cfg_bool(struct mm_ctx *ctx, const char *key)
{
	return ctx->api->cfg_bool(ctx, key);
}

static inline double
mm_cfg_double(struct mm_ctx *ctx, const char *key)
{
	return ctx->api->cfg_double(ctx, key);
}

static inline void
mm_counter_add(struct mm_ctx *ctx, const char *name, int64_t delta)
{
	ctx->api->counter_add(ctx, name, delta);
}

#ifdef __cplusplus
}
#endif

#endif
