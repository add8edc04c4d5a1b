/*
 * The interface every aggregator sink implements (the JSON-lines file and
 * stdout here; forwarders to providers later). A sink is fed batches read
 * from the spool past its own cursor; a failing write leaves the cursor
 * where it was and is retried with back-off.
 *
 * pos is an opaque 64-bit resume position a sink may use for exactly-once
 * output: the aggregator stores it with the cursor and hands it back to
 * open() after a restart (the file sink truncates back to it).
 *
 * Runs in the aggregator process.
 */
#ifndef MM_CORE_AGG_SINK_H
#define MM_CORE_AGG_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"

/* An event as stored: its msgpack bytes, already checked as the decoder
 * checks them. A sink renders them with mm_event_check() (JSON in one
 * pass) or builds the event with mm_event_decode(). */
struct mm_sink_event {
	uint64_t seq;
	const uint8_t *raw;
	size_t len;
	/* For sinks with json_lines set, on the hot path: the event already
	 * rendered by mm_event_check() while it was checked, one line with
	 * its '\n'. NULL when it was not (read back from the spool). */
	const uint8_t *json;
	size_t json_len;
};

struct mm_sink_ops {
	const char *name;              /* group name under aggregator.sinks */
	const struct mm_cfg_key *keys; /* its configuration keys */
	size_t nkeys;
	/* Open; pos is what the last persisted cursor recorded (0 at first). */
	int (*open)(void **out, const struct mm_cfg_values *vals, const struct mm_config *cfg,
	            int64_t pos);
	/* Write a batch in order; *pos gets the resume position after it. */
	int (*write)(void *sink, const struct mm_sink_event *evs, size_t n, int64_t *pos);
	/* Make everything written durable (may be NULL). */
	int (*sync)(void *sink);
	/* Called once the cursor with *pos is durable: the sink may move on
	 * (rotate) and change *pos, which the aggregator then persists. May be
	 * NULL. */
	int (*checkpoint)(void *sink, int64_t *pos);
	void (*close)(void *sink);
	/* The sink writes JSON lines: the aggregator renders them once for
	 * all such sinks (mm_sink_event.json) on the hot path. */
	int json_lines;
};

extern const struct mm_sink_ops mm_sink_file_ops;
extern const struct mm_sink_ops mm_sink_stdout_ops;

#endif
