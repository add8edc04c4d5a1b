/*
 * Host-side event model: the implementation behind struct mm_event, its
 * msgpack encoding (the wire and spool format) and its JSON rendering.
 * Used by workers (building events), the aggregator (decoding, dedup) and
 * the CLI (printing). Private to core/; plugins reach it through the host
 * API table.
 *
 * The event is a tree of values rooted in a map. Setters take dotted paths
 * ("src.ip") and create intermediate maps. Known top-level keys and their
 * sub-keys are type-checked against the schema of docs/event-schema.md;
 * anything under "attrs" is free-form.
 */
#ifndef MM_CORE_EVENT_H
#define MM_CORE_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mimamori/event.h"

/** Hard limits used by the decoder (and by the builder where they apply). */
#define MM_EVENT_MAX_BYTES (1024 * 1024) /* one encoded event */
#define MM_EVENT_MAX_DEPTH 8
#define MM_EVENT_MAX_ITEMS 4096 /* entries of one map or array */
#define MM_EVENT_ID_LEN 36      /* UUIDv7 text form */

struct mm_event *mm_event_create(int kind);
void mm_event_free(struct mm_event *ev);
struct mm_event *mm_event_clone(const struct mm_event *ev);

int mm_event_set_str(struct mm_event *ev, const char *path, const char *value);
int mm_event_set_int(struct mm_event *ev, const char *path, int64_t value);
int mm_event_set_double(struct mm_event *ev, const char *path, double value);
int mm_event_set_bool(struct mm_event *ev, const char *path, int value);
int mm_event_add_str(struct mm_event *ev, const char *path, const char *value);
int mm_event_add_int(struct mm_event *ev, const char *path, int64_t value);
/** Remove a key (no error when absent). */
int mm_event_unset(struct mm_event *ev, const char *path);

/** Getters: NULL / MM_ERR_NOTFOUND when absent or of another type. */
const char *mm_event_get_str(const struct mm_event *ev, const char *path);
int mm_event_get_int(const struct mm_event *ev, const char *path, int64_t *out);
int mm_event_kind(const struct mm_event *ev);       /* enum mm_event_kind */
const char *mm_event_kind_name(int kind);           /* "alert"... or NULL */
int mm_event_kind_parse(const char *name);          /* 0 when unknown */
const char *mm_event_id(const struct mm_event *ev); /* NULL until stamped */
int64_t mm_event_ts(const struct mm_event *ev);     /* ns, 0 when unset */
int mm_event_sev(const struct mm_event *ev);        /* 0 when unset */

/** What the host stamps on every event a plugin emits. */
struct mm_event_stamp {
	uint64_t ts_ns; /* used when the plugin did not set ts */
	uint64_t seq;
	const char *sensor_id, *sensor_host, *sensor_role, *sensor_site;
	const char *plugin_name, *plugin_version, *plugin_vendor;
};

/** Set v, id (a fresh UUIDv7 unless already set), seq, ts (unless set),
 * sensor.* and plugin.*. */
int mm_event_stamp(struct mm_event *ev, const struct mm_event_stamp *s);

/** Write a new UUIDv7 for time ts_ns into out (MM_EVENT_ID_LEN + 1 bytes). */
void mm_uuid7(char *out, uint64_t ts_ns);

/** Append the msgpack encoding (a map, "v" first) to out. */
int mm_event_encode(const struct mm_event *ev, struct mm_buf *out);

/**
 * Decode one msgpack event. Rejects (MM_ERR_PARSE / MM_ERR_TOOBIG) anything
 * that is not a map with "v" == 1 first, a 36-character id, a known kind and
 * an integer ts, or that breaks the limits above or the schema's types.
 */
int mm_event_decode(struct mm_event **out, const void *data, size_t len);

/** Append the event as one line of JSON (no newline) to out: keys in
 * encoding order, ts and first_ts as RFC 3339 UTC with microseconds,
 * strings escaped as JSON requires (invalid UTF-8 replaced by U+FFFD). */
int mm_event_to_json(const struct mm_event *ev, struct mm_buf *out);

/** What the aggregator needs to know of an event without building it. */
struct mm_event_view {
	char id[MM_EVENT_ID_LEN + 1];
	uint8_t idb[16]; /* the id's 16 bytes */
	int kind;        /* enum mm_event_kind */
	int sev;         /* 0 when unset */
};

/**
 * Check encoded bytes exactly as mm_event_decode() would, without building
 * the event, and fill out. With json non-NULL, also append to it exactly
 * what mm_event_to_json() would append for the decoded event. On error
 * json is left as it was.
 */
int mm_event_check(struct mm_event_view *out, const void *data, size_t len, struct mm_buf *json);

/** Append a one-line human form: "2026-11-27 17:11:36 HIGH scan 10.0.0.1 -> ... msg". */
int mm_event_to_pretty(const struct mm_event *ev, struct mm_buf *out);

#endif
