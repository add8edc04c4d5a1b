/*
 * The worker-to-aggregator wire format (docs/aggregator.md, "Wire
 * protocol"): one ZeroMQ frame per batch, one per ack, little-endian.
 * Shared by the transport (workers) and the aggregator; the parsers are
 * what the fuzz_wire target exercises.
 */
#ifndef MM_CORE_AGG_WIRE_H
#define MM_CORE_AGG_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MM_WIRE_BATCH_MAGIC "MMB1"
#define MM_WIRE_ACK_MAGIC "MMA1"
#define MM_WIRE_MAX_MODULE 64
#define MM_WIRE_MAX_BATCH_EVENTS 4096
#define MM_WIRE_MAX_BATCH_BYTES (16u * 1024 * 1024)
#define MM_WIRE_MAX_REASON 200

enum mm_wire_status {
	MM_WIRE_OK = 0,        /* stored (minus the rejected indices) */
	MM_WIRE_FULL = 1,      /* spool full: nothing stored, hold and retry */
	MM_WIRE_MALFORMED = 2, /* the frame itself is broken: nothing stored */
	MM_WIRE_BUSY = 3       /* could not store now (spool error): retry */
};

struct mm_wire_batch {
	uint64_t id;
	uint32_t count;
	char module[MM_WIRE_MAX_MODULE + 1];
	const uint8_t *events; /* count records of u32 length + bytes */
	size_t events_len;
};

/* Iterate the records of a parsed batch. */
struct mm_wire_iter {
	const uint8_t *p, *end;
};

struct mm_wire_ack {
	uint64_t id;
	int status;
	uint32_t nrej;
	const uint8_t *rej; /* nrej u32 indices, read with mm_wire_ack_rej */
	char reason[MM_WIRE_MAX_REASON + 1];
};

/* Batch header; then mm_wire_put_event per event, then mm_wire_batch_end. */
int mm_wire_batch_begin(struct mm_buf *out, uint64_t id, const char *module);
int mm_wire_put_event(struct mm_buf *out, const uint8_t *ev, size_t len);
void mm_wire_batch_end(struct mm_buf *out, uint32_t count);
/* Offset of the count field, for mm_wire_batch_end. */
size_t mm_wire_batch_header_len(const char *module);

/* Validate a whole batch frame (MM_ERR_PARSE, MM_ERR_TOOBIG, MM_ERR_TRUNCATED);
 * out points into data. */
int mm_wire_parse_batch(struct mm_wire_batch *out, const uint8_t *data, size_t len);
void mm_wire_iter_init(struct mm_wire_iter *it, const struct mm_wire_batch *b);
/* 1 and the next record, or 0 at the end. Only valid on a parsed batch. */
int mm_wire_iter_next(struct mm_wire_iter *it, const uint8_t **ev, size_t *len);

int mm_wire_encode_ack(struct mm_buf *out, uint64_t id, int status, const uint32_t *rej,
                       uint32_t nrej, const char *reason);
int mm_wire_parse_ack(struct mm_wire_ack *out, const uint8_t *data, size_t len);
uint32_t mm_wire_ack_rej(const struct mm_wire_ack *a, uint32_t i);

#endif
