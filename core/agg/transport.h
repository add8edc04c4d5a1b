/*
 * Worker-to-aggregator transport: a ZeroMQ DEALER socket that sends
 * msgpack events in numbered batches and keeps every event in a bounded
 * buffer until the aggregator acknowledges the batch holding it, which it
 * does only once the batch is durable in its spool. Unacknowledged batches
 * are resent after ack_timeout_ms (the aggregator deduplicates by event id),
 * so a restarted aggregator loses nothing a worker still holds.
 *
 * Runs in worker processes (and in the benchmark and test producers). Not
 * thread-safe: one transport belongs to one thread.
 *
 * Event loop use: poll mm_transport_fd() for POLLIN with a timeout of
 * mm_transport_next_timeout_ms(), then call mm_transport_pump(). The fd is
 * ZMQ_FD, which is edge-triggered: pump drains everything readable, and
 * mm_transport_send() pumps itself, so calling pump after every wake-up (fd
 * or timeout) is all a caller has to do.
 */
#ifndef MM_CORE_AGG_TRANSPORT_H
#define MM_CORE_AGG_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

/* What mm_transport_send does when queue_max events are buffered. */
enum mm_queue_policy {
	MM_QUEUE_BLOCK = 0,      /* wait, pumping acks, until there is room */
	MM_QUEUE_DROP_OLDEST = 1 /* drop the oldest buffered event, counted */
};

struct mm_transport_opts {
	const char *endpoint; /* "ipc:///run/mimamori/events.sock" or "tcp://host:port" */
	const char *module;   /* sender name the aggregator counts events under */
	size_t queue_max;     /* events buffered, sent or not, until acked; 0: 65536 */
	int policy;           /* enum mm_queue_policy */
	size_t batch_max;     /* events per batch; 0: 256 */
	int batch_ms;         /* flush a partial batch after this long; 0: 50 */
	int ack_timeout_ms;   /* resend a batch not acked after this long; 0: 2000 */
};

struct mm_transport_counters {
	uint64_t queued;       /* events accepted by mm_transport_send */
	uint64_t sent;         /* events sent for the first time */
	uint64_t acked;        /* events the aggregator stored (or already had) */
	uint64_t resent;       /* events sent again after a timeout or refusal */
	uint64_t dropped_full; /* events dropped by drop_oldest */
	uint64_t rejected;     /* events the aggregator said were malformed */
	uint64_t in_flight;    /* now: events sent and not yet acked */
	uint64_t buffered;     /* now: events held (in_flight included) */
	uint64_t settled;      /* now: mm_transport_settled_prefix() */
};
/* At every moment: queued == acked + dropped_full + rejected + buffered. */

struct mm_transport;

/* Create the socket and connect (ZeroMQ connects in the background; the
 * aggregator need not be running yet). */
int mm_transport_open(struct mm_transport **out, const struct mm_transport_opts *opts);

/* Copy one msgpack-encoded event into the buffer (MM_ERR_TOOBIG above
 * MM_EVENT_MAX_BYTES). When the buffer is full, drop_oldest drops and counts
 * the oldest event; block pumps until an ack makes room and returns
 * MM_ERR_AGAIN if a signal interrupted the wait (the event is not queued). */
int mm_transport_send(struct mm_transport *t, const uint8_t *event, size_t len);

/* Called about every 100 ms while mm_transport_send blocks on a full
 * buffer: the worker sends its heartbeats from it, so that waiting for the
 * aggregator by policy is not mistaken for a hang. A non-zero return ends
 * the wait with MM_ERR_AGAIN. */
void mm_transport_set_wait_hook(struct mm_transport *t, int (*hook)(void *user), void *user);

/* ZMQ_FD of the socket: poll it for POLLIN, then call mm_transport_pump. */
int mm_transport_fd(const struct mm_transport *t);

/* Milliseconds until mm_transport_pump must run again (batch flush or
 * resend), 0 if now, -1 if nothing is pending. */
int mm_transport_next_timeout_ms(const struct mm_transport *t);

/* Non-blocking: read acks, send due batches, resend timed-out ones. */
int mm_transport_pump(struct mm_transport *t);

/* Pump until every buffered event is acked or timeout_ms passes (< 0:
 * forever). Returns the number of events still unacked (>= 0) or an error. */
int mm_transport_flush(struct mm_transport *t, int timeout_ms);

void mm_transport_get_counters(const struct mm_transport *t, struct mm_transport_counters *out);

/* How many of the events queued so far, counted from the first, are all
 * settled (acked, rejected or dropped): with policy block and nothing
 * rejected, the first that many events sent are known to be stored. */
uint64_t mm_transport_settled_prefix(const struct mm_transport *t);

/* Close without waiting (call mm_transport_flush first to deliver what is
 * buffered). NULL is a no-op. */
void mm_transport_close(struct mm_transport *t);

#endif
