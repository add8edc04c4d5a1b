/*
 * The aggregator's durable spool: an SQLite database in WAL mode with
 * synchronous=FULL, one row per received batch holding its events, each
 * event numbered by an ever-increasing sequence number (a row covers the
 * contiguous range seq .. seq + n - 1), deduplicated by event id through
 * an in-memory set rebuilt from the rows at start-up, with one cursor per
 * sink. See docs/aggregator.md for why SQLite, why FULL and why batches.
 *
 * Writes run in the aggregator; `events tail` and `status` open it read-only.
 */
#ifndef MM_CORE_AGG_SPOOL_H
#define MM_CORE_AGG_SPOOL_H

#include <stddef.h>
#include <stdint.h>

enum mm_spool_policy { MM_SPOOL_REFUSE = 0, MM_SPOOL_DROP_OLDEST = 1 };

/* Bytes one event is counted for beyond its payload (id, record header,
 * dedup set entry), for the size bound. */
#define MM_SPOOL_ROW_OVERHEAD 96
/* Most events in one row (one wire batch). */
#define MM_SPOOL_MAX_ROW_EVENTS 4096

struct mm_spool_opts {
	const char *dir;         /* created if missing; spool.db lives in it */
	uint64_t max_bytes;      /* payload + MM_SPOOL_ROW_OVERHEAD per row */
	int policy;              /* enum mm_spool_policy */
	int64_t dedup_window_ms; /* delivered events stay this long for dedup */
	int readonly;            /* events tail / status */
	uint32_t page_size;      /* bytes, for a new file (0: MM_SPOOL_PAGE_SIZE) */
};

/* 16 KiB: a row holds a batch (tens of kilobytes), and SQLite writes each
 * WAL frame with its own pwrite(), so 4 KiB pages made a burst's commits
 * twice as slow; but every commit rewrites at least a few whole pages, so
 * a commit of one event writes about 13 KB of WAL with 4 KiB pages, 50 KB
 * with 16 KiB and 198 KB with 64 KiB: flash wear on a sensor that commits
 * a few events at a time. */
#define MM_SPOOL_PAGE_SIZE 16384

/* What opening found and set aside. */
struct mm_spool_recovery {
	uint64_t corrupt_records;   /* rows whose checksum or id did not match */
	uint64_t unreadable_ranges; /* damaged regions of the file skipped */
	uint64_t unreadable_events; /* estimated events lost in those regions */
	int rebuilt;                /* the file was salvaged into a new one */
	char moved_to[512];         /* where the damaged file was kept */
};

struct mm_spool_row {
	uint64_t seq;
	int64_t rx_ms; /* wall-clock ms when stored */
	int kind, sev;
	const uint8_t *data; /* valid until the next read call */
	size_t len;
	int corrupt; /* checksum mismatch: skip and count */
	int skip;    /* found damaged and counted at start-up: skip silently */
};

/* One event for mm_spool_put_batch. */
struct mm_spool_item {
	const char *id; /* MM_EVENT_ID_LEN characters, UUID text */
	int kind, sev;
	const uint8_t *data;
	size_t len;
	const uint8_t *idb; /* id's 16 bytes, when the caller parsed it; or NULL */
	const uint8_t *rec; /* its record by mm_spool_record(), or NULL */
};

/* Bytes an event of len bytes takes in a row: a header with its checksum,
 * then the event. */
#define MM_SPOOL_REC_HDR 12
#define MM_SPOOL_REC_SIZE(len) (MM_SPOOL_REC_HDR + (len))

/*
 * Write an event's record to out (MM_SPOOL_REC_SIZE(len) bytes). Needs no
 * spool and may run on any thread: the aggregator prepares a group's
 * records while the previous group commits, so that storing them is little
 * more than the dedup lookup. Records of consecutive items that lie back
 * to back in memory are stored without another copy. len < 2^32 - 12.
 */
void mm_spool_record(uint8_t *out, int kind, int sev, const uint8_t *data, size_t len);

struct mm_spool;

int mm_spool_open(struct mm_spool **out, const struct mm_spool_opts *opts,
                  struct mm_spool_recovery *rec);
void mm_spool_close(struct mm_spool *s);

/* One write transaction around a group of batches. */
int mm_spool_begin(struct mm_spool *s);
int mm_spool_commit(struct mm_spool *s);
void mm_spool_rollback(struct mm_spool *s);

/* Inside a transaction: make room for bytes more payload (prunes delivered
 * rows, then refuses or drops the oldest by policy). MM_ERR_FULL when
 * refused; *dropped gets the undelivered events dropped. */
int mm_spool_make_room(struct mm_spool *s, size_t bytes, uint64_t *dropped);
/* Inside a transaction: store one event. *dup = 1 when the id was there. */
int mm_spool_put(struct mm_spool *s, const char *id, int kind, int sev, const uint8_t *data,
                 size_t len, int *dup);
/* Inside a transaction: store the events of one batch (at most
 * MM_SPOOL_MAX_ROW_EVENTS) as one row, leaving out ids already stored or
 * repeated in the batch. dup (may be NULL) gets 1 per left-out item; the
 * stored ones get the sequence numbers *first_seq .. *first_seq +
 * *stored - 1 in item order. MM_ERR_PARSE if an id is not a UUID. */
int mm_spool_put_batch(struct mm_spool *s, const struct mm_spool_item *items, size_t n,
                       uint8_t *dup, uint64_t *first_seq, size_t *stored);

/* Call fn for up to max rows with seq > after, in order. fn returning
 * non-zero stops early. Returns rows visited or an error. */
int mm_spool_read(struct mm_spool *s, uint64_t after, size_t max,
                  int (*fn)(void *arg, const struct mm_spool_row *row), void *arg);

/* Sink cursors: last delivered seq and the sink's own resume position. */
int mm_spool_cursor_get(struct mm_spool *s, const char *sink, uint64_t *seq, int64_t *pos);
int mm_spool_cursor_set(struct mm_spool *s, const char *sink, uint64_t seq, int64_t pos);

/* Delete rows delivered to every sink (seq <= upto) and older than the
 * dedup window. Outside a transaction. Returns rows deleted or an error. */
int mm_spool_prune(struct mm_spool *s, uint64_t upto);
/* The delivery horizon prune and make_room use (min of the sink cursors). */
void mm_spool_set_delivered(struct mm_spool *s, uint64_t upto);

struct mm_spool_stats {
	uint64_t events, bytes, max_bytes, last_seq;
	uint64_t undelivered;
	int64_t oldest_undelivered_rx_ms; /* 0 when none */
};
int mm_spool_stats(struct mm_spool *s, struct mm_spool_stats *out);
uint64_t mm_spool_last_seq(const struct mm_spool *s);

/* Copy the WAL into the database file when it holds at least min_bytes
 * of pages (outside a transaction; never waits for readers). */
int mm_spool_checkpoint(struct mm_spool *s, uint64_t min_bytes);

/* Wall-clock milliseconds. */
int64_t mm_spool_wall_ms(void);

#endif
