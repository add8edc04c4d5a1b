/*
 * mimamori SDK: the normalized event.
 *
 * A plugin builds an event with the host API (ctx->api->event_new and the
 * setters) and hands it to mm_emit(). The host stamps v, id, seq, ts (unless
 * set), sensor and plugin, encodes it as a msgpack map and delivers it
 * at-least-once to the aggregator. The schema is in docs/event-schema.md.
 *
 * Fields are named by dotted paths: "msg", "src.ip", "rule.id",
 * "file.sha256", "attrs.ssid". Top-level keys and their sub-keys are
 * checked against the schema (a wrong type is MM_ERR_INVAL); anything under
 * "attrs." is free-form. Array fields ("mail.to", "attrs.ports") grow with
 * the add functions.
 */
#ifndef MIMAMORI_EVENT_H
#define MIMAMORI_EVENT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Schema version written as key "v". */
#define MM_EVENT_SCHEMA_VERSION 1

/** Event kinds ("kind" key). */
enum mm_event_kind { MM_KIND_ALERT = 1, MM_KIND_ASSET = 2, MM_KIND_HEALTH = 3, MM_KIND_STAT = 4 };

/** OCSF severity_id ("sev" key). */
enum mm_severity {
	MM_SEV_INFO = 1,
	MM_SEV_LOW = 2,
	MM_SEV_MEDIUM = 3,
	MM_SEV_HIGH = 4,
	MM_SEV_CRITICAL = 5
};

/** OCSF class_uid values ("ocsf" key). */
enum mm_ocsf_class {
	MM_OCSF_DETECTION_FINDING = 2004,
	MM_OCSF_NETWORK_ACTIVITY = 4001,
	MM_OCSF_EMAIL_ACTIVITY = 4009,
	MM_OCSF_DEVICE_INVENTORY = 5001
};

/** An event under construction; owned by whoever called event_new until
 * it is passed to emit or event_free. */
struct mm_event;

#ifdef __cplusplus
}
#endif

#endif
