/*
 * The worker side of the event path: a bounded FIFO of msgpack events,
 * cut into numbered batches sent over a ZeroMQ DEALER socket and kept until
 * the aggregator acknowledges them (after its spool commit). Batches not
 * acknowledged in time, refused because the spool is full, or not sendable
 * because the aggregator is away, are sent again later; the aggregator
 * deduplicates by event id, so resending is always safe.
 *
 * Runs in worker processes, and in test and benchmark producers.
 */
#include "transport.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "event.h"
#include "mimamori/error.h"
#include "wire.h"
#include "zsock.h"

#define MAX_INFLIGHT 128       /* batches sent and not acked */
#define RETRY_DISCONNECTED 100 /* ms between sends while no aggregator is there */
#define RETRY_FULL 250         /* ms before offering a refused batch again */

struct ent {
	uint8_t *data;
	uint32_t len;
	uint8_t acked;
	int64_t t_ms; /* when it was queued, for batch_ms */
};

struct batch {
	uint64_t id;
	uint64_t start;      /* first sequence number of the batch */
	uint32_t n;          /* events at creation */
	uint64_t sent_first; /* first sequence number in the last frame sent */
	int64_t due_ms;      /* (re)send at */
	int sent;            /* sent at least once */
};

struct mm_transport {
	void *zctx, *sock;
	char *module;
	size_t cap, batch_max;
	int policy, batch_ms, ack_timeout_ms;
	int (*wait_hook)(void *user);
	void *wait_user;
	struct ent *ring;
	size_t head, count;
	uint64_t head_seq, next_unsent;
	struct batch batches[MAX_INFLIGHT];
	size_t nbatches;
	uint64_t next_batch_id;
	int flushing;
	struct mm_buf msg;
	struct mm_transport_counters c;
};

static struct ent *
ent_at(struct mm_transport *t, uint64_t seq)
{
	return &t->ring[(t->head + (size_t)(seq - t->head_seq)) % t->cap];
}

static uint64_t
tail_seq(const struct mm_transport *t)
{
	return t->head_seq + t->count;
}

/* Release acked events at the head: they are the aggregator's now. */
static void
pop_acked(struct mm_transport *t)
{
	while (t->count > 0 && t->ring[t->head].acked) {
		free(t->ring[t->head].data);
		t->ring[t->head].data = NULL;
		t->head = (t->head + 1) % t->cap;
		t->count--;
		t->head_seq++;
	}
	if (t->next_unsent < t->head_seq)
		t->next_unsent = t->head_seq;
}

static void
drop_oldest(struct mm_transport *t)
{
	free(t->ring[t->head].data);
	t->ring[t->head].data = NULL;
	t->head = (t->head + 1) % t->cap;
	t->count--;
	t->head_seq++;
	t->c.dropped_full++;
	pop_acked(t);
}

static void
remove_batch(struct mm_transport *t, size_t i)
{
	memmove(&t->batches[i], &t->batches[i + 1], (t->nbatches - i - 1) * sizeof(t->batches[0]));
	t->nbatches--;
}

static struct batch *
find_batch(struct mm_transport *t, uint64_t id, size_t *idx)
{
	size_t i;

	for (i = 0; i < t->nbatches; i++)
		if (t->batches[i].id == id) {
			*idx = i;
			return &t->batches[i];
		}
	return NULL;
}

/* Mark one event of a batch settled (acked or rejected) unless drop_oldest
 * already took it. */
static void
settle(struct mm_transport *t, uint64_t seq, int rejected)
{
	struct ent *e;

	if (seq < t->head_seq || seq >= tail_seq(t))
		return;
	e = ent_at(t, seq);
	if (e->acked)
		return;
	e->acked = 1;
	if (rejected)
		t->c.rejected++;
	else
		t->c.acked++;
}

static void
handle_ack(struct mm_transport *t, const uint8_t *data, size_t len, int64_t now)
{
	struct mm_wire_ack a;
	struct batch *b;
	uint64_t seq, end;
	size_t idx;
	uint32_t i;

	if (mm_wire_parse_ack(&a, data, len) != MM_OK)
		return; /* not from an aggregator of ours: ignore */
	b = find_batch(t, a.id, &idx);
	if (b == NULL || !b->sent)
		return; /* a late ack of a batch already settled */
	end = b->start + b->n;
	switch (a.status) {
	case MM_WIRE_OK:
		for (i = 0; i < a.nrej; i++) {
			uint32_t k = mm_wire_ack_rej(&a, i);
			if (k < b->n)
				settle(t, b->sent_first + k, 1);
		}
		for (seq = b->sent_first; seq < end; seq++)
			settle(t, seq, 0);
		remove_batch(t, idx);
		break;
	case MM_WIRE_MALFORMED:
		for (seq = b->sent_first; seq < end; seq++)
			settle(t, seq, 1);
		remove_batch(t, idx);
		break;
	default: /* FULL, BUSY: hold the events and offer them again */
		b->due_ms = now + RETRY_FULL;
		break;
	}
	pop_acked(t);
}

static void
read_acks(struct mm_transport *t, int64_t now)
{
	int guard;

	/* Bounded so that a flood of frames cannot keep pump from returning. */
	for (guard = 0; guard < 4 * MAX_INFLIGHT + 16; guard++) {
		zmq_msg_t m;
		int more = 0;
		size_t ml = sizeof(more);

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, t->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		handle_ack(t, zmq_msg_data(&m), zmq_msg_size(&m), now);
		zmq_msg_close(&m);
		/* Acks are one frame; skip the rest of anything else. */
		while (zmq_getsockopt(t->sock, ZMQ_RCVMORE, &more, &ml) == 0 && more) {
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, t->sock, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&m);
				break;
			}
			zmq_msg_close(&m);
		}
	}
}

/* 1: sent, 0: not now (no aggregator connected or its queue is full). */
static int
send_batch(struct mm_transport *t, struct batch *b, int64_t now)
{
	uint64_t seq, first = b->start < t->head_seq ? t->head_seq : b->start;
	uint64_t end = b->start + b->n;
	uint32_t n = 0;

	if (mm_wire_batch_begin(&t->msg, b->id, t->module) != MM_OK)
		return 0;
	for (seq = first; seq < end; seq++) {
		struct ent *e = ent_at(t, seq);
		if (mm_wire_put_event(&t->msg, e->data, e->len) != MM_OK)
			return 0;
		n++;
	}
	mm_wire_batch_end(&t->msg, n);
	if (zmq_send(t->sock, t->msg.data, t->msg.len, ZMQ_DONTWAIT) < 0) {
		b->due_ms = now + RETRY_DISCONNECTED;
		return 0;
	}
	if (b->sent)
		t->c.resent += n;
	else
		t->c.sent += n;
	b->sent = 1;
	b->sent_first = first;
	b->due_ms = now + t->ack_timeout_ms;
	return 1;
}

static int
batch_due(const struct mm_transport *t, int64_t now)
{
	uint64_t unsent = tail_seq(t) - t->next_unsent;
	const struct ent *e;

	if (unsent == 0 || t->nbatches >= MAX_INFLIGHT)
		return 0;
	if (unsent >= t->batch_max || t->flushing)
		return 1;
	e = &t->ring[(t->head + (size_t)(t->next_unsent - t->head_seq)) % t->cap];
	return e->t_ms + t->batch_ms <= now;
}

static void
send_due(struct mm_transport *t, int64_t now)
{
	size_t i;

	/* Drop batches whose every event drop_oldest has taken. */
	for (i = 0; i < t->nbatches;) {
		if (t->batches[i].start + t->batches[i].n <= t->head_seq)
			remove_batch(t, i);
		else
			i++;
	}
	while (batch_due(t, now)) {
		struct batch *b = &t->batches[t->nbatches++];
		uint64_t unsent = tail_seq(t) - t->next_unsent;

		memset(b, 0, sizeof(*b));
		b->id = t->next_batch_id++;
		b->start = t->next_unsent;
		b->n = (uint32_t)(unsent < t->batch_max ? unsent : t->batch_max);
		b->due_ms = now;
		t->next_unsent += b->n;
	}
	for (i = 0; i < t->nbatches; i++) {
		if (t->batches[i].due_ms > now)
			continue;
		if (!send_batch(t, &t->batches[i], now))
			break; /* the rest would fail the same way */
	}
}

static int
readable(const struct mm_transport *t)
{
	int ev = 0;
	size_t l = sizeof(ev);

	if (zmq_getsockopt(t->sock, ZMQ_EVENTS, &ev, &l) != 0)
		return 0;
	return (ev & ZMQ_POLLIN) != 0;
}

int
mm_transport_pump(struct mm_transport *t)
{
	int round;

	for (round = 0; round < 4; round++) {
		int64_t now = mm_agg_now_ms();

		read_acks(t, now);
		send_due(t, now);
		/* ZMQ_FD is edge-triggered: a send may have consumed the edge
		 * of an ack that is already waiting, so look again. */
		if (!readable(t))
			break;
	}
	return MM_OK;
}

int
mm_transport_next_timeout_ms(const struct mm_transport *t)
{
	int64_t now = mm_agg_now_ms(), best = -1;
	uint64_t unsent = tail_seq(t) - t->next_unsent;
	size_t i;

	if (readable(t))
		return 0;
	for (i = 0; i < t->nbatches; i++)
		if (best < 0 || t->batches[i].due_ms < best)
			best = t->batches[i].due_ms;
	if (unsent > 0 && t->nbatches < MAX_INFLIGHT) {
		const struct ent *e =
		        &t->ring[(t->head + (size_t)(t->next_unsent - t->head_seq)) % t->cap];
		int64_t due = (unsent >= t->batch_max || t->flushing) ? now : e->t_ms + t->batch_ms;
		if (best < 0 || due < best)
			best = due;
	}
	if (best < 0)
		return -1;
	return best <= now ? 0 : (int)(best - now > 60000 ? 60000 : best - now);
}

/* Wait for an ack or the next deadline, at most cap_ms. -1 on EINTR. */
static int
wait_once(struct mm_transport *t, int cap_ms)
{
	struct pollfd pfd;
	int to = mm_transport_next_timeout_ms(t);

	if (to < 0 || to > cap_ms)
		to = cap_ms;
	pfd.fd = mm_transport_fd(t);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (to > 0 && poll(&pfd, 1, to) < 0 && errno == EINTR)
		return -1;
	return 0;
}

int
mm_transport_send(struct mm_transport *t, const uint8_t *event, size_t len)
{
	struct ent *e;
	uint8_t *copy;

	if (event == NULL || len == 0)
		return MM_ERR_INVAL;
	if (len > MM_EVENT_MAX_BYTES)
		return MM_ERR_TOOBIG;
	while (t->count >= t->cap) {
		if (t->policy == MM_QUEUE_DROP_OLDEST) {
			drop_oldest(t);
			break;
		}
		mm_transport_pump(t);
		if (t->count < t->cap)
			break;
		/* The owner keeps its heartbeat going while it waits, and may
		 * give up (it was told to stop). */
		if (t->wait_hook && t->wait_hook(t->wait_user) != 0)
			return MM_ERR_AGAIN;
		if (wait_once(t, 100) < 0)
			return MM_ERR_AGAIN;
	}
	copy = malloc(len);
	if (copy == NULL)
		return MM_ERR_NOMEM;
	memcpy(copy, event, len);
	e = &t->ring[(t->head + t->count) % t->cap];
	e->data = copy;
	e->len = (uint32_t)len;
	e->acked = 0;
	e->t_ms = mm_agg_now_ms();
	t->count++;
	t->c.queued++;
	/* Once per batch's worth of new events: with every batch in flight
	 * the unsent tail keeps growing, and pumping for each event (reading
	 * the socket, walking the batches) cost more than the event itself. */
	if ((tail_seq(t) - t->next_unsent) % t->batch_max == 0)
		mm_transport_pump(t);
	return MM_OK;
}

int
mm_transport_flush(struct mm_transport *t, int timeout_ms)
{
	int64_t deadline = mm_agg_now_ms() + timeout_ms;

	t->flushing = 1;
	for (;;) {
		int64_t left;

		mm_transport_pump(t);
		if (t->count == 0)
			break;
		left = deadline - mm_agg_now_ms();
		if (timeout_ms >= 0 && left <= 0)
			break;
		if (wait_once(t, timeout_ms < 0 || left > 100 ? 100 : (int)left) < 0)
			break;
	}
	t->flushing = 0;
	return (int)(t->count > INT32_MAX ? INT32_MAX : t->count);
}

int
mm_transport_fd(const struct mm_transport *t)
{
	int fd = -1;
	size_t l = sizeof(fd);

	if (zmq_getsockopt(t->sock, ZMQ_FD, &fd, &l) != 0)
		return -1;
	return fd;
}

void
mm_transport_get_counters(const struct mm_transport *t, struct mm_transport_counters *out)
{
	uint64_t inflight = 0;
	size_t i;

	*out = t->c;
	for (i = 0; i < t->nbatches; i++) {
		const struct batch *b = &t->batches[i];
		uint64_t first = b->start < t->head_seq ? t->head_seq : b->start;
		uint64_t seq;

		if (!b->sent)
			continue;
		for (seq = first; seq < b->start + b->n; seq++)
			if (!t->ring[(t->head + (size_t)(seq - t->head_seq)) % t->cap].acked)
				inflight++;
	}
	out->in_flight = inflight;
	out->settled = t->head_seq;
	out->buffered = 0;
	for (i = 0; i < t->count; i++)
		if (!t->ring[(t->head + i) % t->cap].acked)
			out->buffered++;
}

void
mm_transport_set_wait_hook(struct mm_transport *t, int (*hook)(void *user), void *user)
{
	t->wait_hook = hook;
	t->wait_user = user;
}

uint64_t
mm_transport_settled_prefix(const struct mm_transport *t)
{
	return t->head_seq;
}

int
mm_transport_open(struct mm_transport **out, const struct mm_transport_opts *opts)
{
	struct mm_transport *t;
	int rc = MM_ERR_NOMEM;

	*out = NULL;
	if (opts == NULL || opts->endpoint == NULL || opts->module == NULL)
		return MM_ERR_INVAL;
	if (strlen(opts->module) == 0 || strlen(opts->module) > MM_WIRE_MAX_MODULE)
		return MM_ERR_INVAL;
	if (opts->policy != MM_QUEUE_BLOCK && opts->policy != MM_QUEUE_DROP_OLDEST)
		return MM_ERR_INVAL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return MM_ERR_NOMEM;
	t->cap = opts->queue_max ? opts->queue_max : 65536;
	t->batch_max = opts->batch_max ? opts->batch_max : 256;
	if (t->batch_max > MM_WIRE_MAX_BATCH_EVENTS)
		t->batch_max = MM_WIRE_MAX_BATCH_EVENTS;
	t->batch_ms = opts->batch_ms > 0 ? opts->batch_ms : 50;
	t->ack_timeout_ms = opts->ack_timeout_ms > 0 ? opts->ack_timeout_ms : 2000;
	t->policy = opts->policy;
	t->next_batch_id = 1;
	t->ring = calloc(t->cap, sizeof(*t->ring));
	t->module = strdup(opts->module);
	if (t->ring == NULL || t->module == NULL)
		goto out;
	rc = MM_ERR_IO;
	t->zctx = zmq_ctx_new();
	if (t->zctx == NULL)
		goto out;
	t->sock = zmq_socket(t->zctx, ZMQ_DEALER);
	if (t->sock == NULL)
		goto out;
	if ((rc = mm_zsock_setup(t->sock, MM_ZSOCK_WORKER)) != MM_OK)
		goto out;
	if (zmq_connect(t->sock, opts->endpoint) != 0) {
		rc = MM_ERR_INVAL;
		goto out;
	}
	*out = t;
	return MM_OK;
out:
	mm_transport_close(t);
	return rc;
}

void
mm_transport_close(struct mm_transport *t)
{
	size_t i;

	if (t == NULL)
		return;
	if (t->ring != NULL)
		for (i = 0; i < t->count; i++)
			free(t->ring[(t->head + i) % t->cap].data);
	if (t->sock != NULL)
		zmq_close(t->sock);
	if (t->zctx != NULL)
		zmq_ctx_term(t->zctx);
	mm_buf_free(&t->msg);
	free(t->ring);
	free(t->module);
	free(t);
}
