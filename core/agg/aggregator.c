/*
 * `mimamori aggregator`: receives batches of events from workers on a
 * ZeroMQ ROUTER socket, stores the valid events of every batch received in
 * one go in a single spool transaction (deduplicated by event id), and only
 * after that commit acknowledges each batch. Between receives it feeds each
 * sink from its own spool cursor, stores the cursors, prunes what every
 * sink has, writes health events about refused, dropped and damaged data
 * into its own spool, and keeps <run_dir>/aggregator.json up to date for
 * `mimamori status`.
 *
 * Runs in the aggregator process.
 */
#include "aggregator.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "aggconf.h"
#include "event.h"
#include "i18n.h"
#include "mimamori/error.h"
#include "mimamori/plugin.h"
#include "sink.h"
#include "spool.h"
#include "util.h"
#include "wire.h"
#include "zsock.h"

#define MAX_GROUP 32 /* batches received before one commit */
#define NGROUPS 3    /* groups under way at once: checked, committing, fed */
#define MAX_GROUP_BYTES (64u << 20)
#define INGEST_ROUNDS 16     /* groups stored in one go before sinks and timers */
#define SINK_BATCH 1024      /* events handed to a sink at once */
#define PERSIST_MS 200       /* cursor store interval */
#define PERSIST_BUSY_MS 1000 /* the same while a burst keeps arriving */
#define BUSY_MS 50           /* received this recently: a burst goes on */
#define PRUNE_MS 1000
#define CKPT_IDLE_MS 500            /* nothing received this long: between bursts */
#define CKPT_IDLE_BYTES 1           /* between bursts: checkpoint whatever is there */
#define CKPT_BUSY_BYTES (64u << 20) /* during a burst: only past 64 MiB of WAL */
#define STATS_MS 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define MAX_MODULES 64
#define MAX_IDENTITY 256
#define HOT_MAX_BYTES (64u << 20)    /* raw bytes of a group handed to sinks at once */
#define SPLIT_MIN_BYTES (256u << 10) /* a group this large is checked on two threads */

struct module_stat {
	char name[MM_WIRE_MAX_MODULE + 1];
	uint64_t batches, events, duplicates, rejected;
};

struct sink_rt {
	const struct mm_sink_ops *ops;
	void *h;
	uint64_t cursor, persisted;
	int64_t pos;
	uint64_t out, failures, skipped;
	int fails;
	int64_t retry_at;
	int dirty;
	char last_error[128];
};

struct pending {
	uint8_t identity[MAX_IDENTITY];
	size_t idlen;
	uint64_t batch_id;
	int status;
	uint32_t *rej;
	uint32_t nrej;
	const char *reason;
	struct module_stat *mod;
	char module[MM_WIRE_MAX_MODULE + 1]; /* until mod is looked up */
	uint64_t stored, dups;
	int part;        /* which part of the group checked it */
	size_t first, n; /* its checked events in that part's items */
	uint64_t count;  /* events in the batch */
	size_t bytes;    /* their encoded size */
};

/*
 * The checked events of some of a group's batches: the events (pointing
 * into the messages), their JSON lines, rendered while checking when a
 * sink wants them, and their spool records, made while checking too: the
 * previous group's commit runs meanwhile, and storing needs the spool to
 * itself. A large group is checked in two parts on two threads.
 */
struct part {
	struct mm_spool_item *items;
	struct mm_event_view *views;
	size_t *json_off; /* where items[i]'s JSON line starts in json */
	size_t *rec_off;  /* where items[i]'s spool record starts in recs */
	size_t nitems, cap;
	struct mm_buf json, recs;
	int lines_off;                 /* lines stopped: too large to keep for sinks */
	uint64_t malformed, oversized; /* messages, added to the counters after */
	int rc;
};

/*
 * Batches received together and stored in one commit: their messages (the
 * events point into them until the group is finished), the checked events
 * in one or two parts, then the stored ones for sinks that are caught up
 * (hot path: no spool read, no second rendering).
 */
struct group {
	zmq_msg_t msgs[MAX_GROUP];
	struct pending pend[MAX_GROUP];
	size_t n;
	size_t bytes; /* of the messages */
	struct part parts[2];
	struct mm_sink_event *hot;
	size_t nhot, hotcap, hot_bytes;
	int hot_off;
	/* The commit, then the hand-over to the sinks, each on a thread of
	 * its own. */
	struct agg *agg;
	pthread_t th, feed_th;
	int committing, feeding, commit_rc;
};

struct counters {
	uint64_t batches, events_in, duplicates;
	uint64_t malformed_msgs, oversized_msgs, rejected_events;
	uint64_t refused_batches, refused_events, dropped_oldest;
	uint64_t corrupt_skipped, unreadable_ranges, unreadable_events;
	uint64_t spool_errors, health_events;
};

struct agg {
	const struct mm_config *cfg;
	struct mm_agg_conf conf;
	struct mm_spool *spool;
	void *zctx, *router;
	int lock_fd;
	struct sink_rt sinks[MM_AGG_MAX_SINKS];
	size_t nsinks;
	struct module_stat mods[MAX_MODULES + 1];
	size_t nmods;
	/* One handed to the sinks while the next commits and the one after
	 * is checked. */
	struct group groups[NGROUPS];
	uint8_t *dupf; /* per event of the batch being stored */
	int want_json; /* a sink writes JSON lines: render them while checking */
	struct counters c;
	uint64_t health_seen; /* sum of the drop counters at the last health event */
	int64_t health_at, persisted_at, prune_at, stats_at, last_rx;
	struct mm_i18n *cat;
	struct mm_buf buf;
	/* A batch read back from the spool for a sink that is behind: the
	 * events (their bytes copied to buf), and their JSON lines rendered
	 * while checking them, for sinks with json_lines. */
	struct mm_sink_event *cold;
	size_t *cold_raw, *cold_json;
	struct mm_buf cold_lines;
	int64_t started;
};

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static struct module_stat *
module_get(struct agg *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->nmods; i++)
		if (strcmp(a->mods[i].name, name) == 0)
			return &a->mods[i];
	if (a->nmods < MAX_MODULES) {
		mm_strlcpy(a->mods[a->nmods].name, name, sizeof(a->mods[0].name));
		return &a->mods[a->nmods++];
	}
	/* The table is bounded: everyone past it is counted together. */
	if (a->mods[MAX_MODULES].name[0] == '\0')
		mm_strlcpy(a->mods[MAX_MODULES].name, "(other)", sizeof(a->mods[0].name));
	return &a->mods[MAX_MODULES];
}

static void
drop_hot(struct group *g)
{
	g->nhot = 0;
	g->hot_bytes = 0;
}

/* Keep a stored event for the hot path, unless the group grew too large to
 * hand over at once (sinks then read the spool). */
static void
keep_hot(struct group *g, uint64_t seq, const struct mm_spool_item *it, const uint8_t *json,
         size_t jlen)
{
	if (!g->hot_off && g->hot_bytes + it->len > HOT_MAX_BYTES) {
		drop_hot(g);
		g->hot_off = 1;
	}
	if (!g->hot_off && g->nhot == g->hotcap) {
		size_t cap = g->hotcap ? g->hotcap * 2 : 4096;
		struct mm_sink_event *grown = realloc(g->hot, cap * sizeof(*grown));

		if (grown == NULL) {
			drop_hot(g);
			g->hot_off = 1;
		} else {
			g->hot = grown;
			g->hotcap = cap;
		}
	}
	if (g->hot_off)
		return;
	g->hot[g->nhot].seq = seq;
	g->hot[g->nhot].raw = it->data;
	g->hot[g->nhot].len = it->len;
	g->hot[g->nhot].json = jlen > 0 ? json : NULL;
	g->hot[g->nhot].json_len = jlen;
	g->nhot++;
	g->hot_bytes += it->len;
}

static int64_t backoff_ms(int fails);

static void
sink_failed(struct sink_rt *s, int rc, int64_t now)
{
	s->fails++;
	s->failures++;
	s->retry_at = now + backoff_ms(s->fails);
	snprintf(s->last_error, sizeof(s->last_error), "%s", mm_strerror(rc));
	if (s->fails == 1 || s->fails % 10 == 0)
		mm_log_host(MM_LOG_WARN, "aggregator", "sink %s failed (%s), retrying in %lld ms",
		            s->ops->name, mm_strerror(rc), (long long)(s->retry_at - now));
}

static int
hot_usable(const struct group *g)
{
	return !g->hot_off && g->nhot > 0 && g->hot[g->nhot - 1].seq - g->hot[0].seq + 1 == g->nhot;
}

/* A sink that takes the group from the hot path: its cursor is right
 * before it. */
static int
hot_takes(const struct group *g, const struct sink_rt *s, int64_t now)
{
	return s->h != NULL && now >= s->retry_at && s->cursor + 1 == g->hot[0].seq;
}

/* Hand a committed group to every sink that is caught up; the others
 * catch up from the spool in run_sink. */
static void *
feed_hot(void *arg)
{
	struct group *g = arg;
	struct agg *a = g->agg;
	int64_t now = mm_agg_now_ms();
	size_t k;

	for (k = 0; k < a->nsinks; k++) {
		struct sink_rt *s = &a->sinks[k];
		int64_t pos = s->pos;
		int rc;

		if (!hot_takes(g, s, now))
			continue;
		rc = s->ops->write(s->h, g->hot, g->nhot, &pos);
		if (rc != MM_OK) {
			sink_failed(s, rc, now);
			continue;
		}
		s->out += g->nhot;
		s->pos = pos;
		s->fails = 0;
		s->cursor = g->hot[g->nhot - 1].seq;
		s->dirty = 1;
	}
	return NULL;
}

static void
feed_wait(struct group *g)
{
	if (g == NULL || !g->feeding)
		return;
	pthread_join(g->feed_th, NULL);
	g->feeding = 0;
}

/*
 * Once its commit is done, hand the group, with the JSON lines rendered
 * while checking, to the sinks that are caught up, on a thread of its own:
 * nothing reaches a sink before its events are durable, and the next
 * commit need not wait for the sinks. Groups reach the sinks in order:
 * the previous group's hand-over (before) ends first. The sinks are used
 * by one thread at a time: this one does not touch them until the
 * hand-over is waited for.
 */
static void
feed_start(struct agg *a, struct group *g, struct group *before)
{
	feed_wait(before);
	if (!hot_usable(g))
		return;
	g->agg = a;
	g->feeding = pthread_create(&g->feed_th, NULL, feed_hot, g) == 0;
	if (!g->feeding)
		feed_hot(g);
}

static void *
commit_thread(void *arg)
{
	struct group *g = arg;

	g->commit_rc = mm_spool_commit(g->agg->spool);
	return NULL;
}

/*
 * Start committing the group (WAL writes and fsync) on a short-lived
 * thread of its own. Meanwhile this thread receives and checks the next
 * group, which needs no spool: the spool is used by one thread at a time,
 * and this one does not touch it until commit_wait().
 */
static void
commit_start(struct agg *a, struct group *g)
{
	g->agg = a;
	g->commit_rc = MM_OK;
	g->committing = pthread_create(&g->th, NULL, commit_thread, g) == 0;
	if (!g->committing)
		commit_thread(g);
}

static int
commit_wait(struct group *g)
{
	if (g->committing)
		pthread_join(g->th, NULL);
	g->committing = 0;
	return g->commit_rc;
}

/* Room for n more checked events in the part. */
static int
part_reserve(struct part *pt, size_t n)
{
	size_t cap = pt->cap ? pt->cap : 4096;
	struct mm_spool_item *items;
	struct mm_event_view *views;
	size_t *offs, *roffs;

	if (pt->nitems + n <= pt->cap)
		return MM_OK;
	while (cap < pt->nitems + n)
		cap *= 2;
	if ((items = realloc(pt->items, cap * sizeof(*items))) != NULL)
		pt->items = items;
	if ((views = realloc(pt->views, cap * sizeof(*views))) != NULL)
		pt->views = views;
	if ((offs = realloc(pt->json_off, cap * sizeof(*offs))) != NULL)
		pt->json_off = offs;
	if ((roffs = realloc(pt->rec_off, cap * sizeof(*roffs))) != NULL)
		pt->rec_off = roffs;
	if (items == NULL || views == NULL || offs == NULL || roffs == NULL)
		return MM_ERR_NOMEM;
	pt->cap = cap;
	return MM_OK;
}

/*
 * Check one batch (no spool yet): parse it, check each event as the decoder
 * would and render its JSON line when a sink wants it. The good events go
 * to the part's items; the rejected ones are noted by index for the ack.
 * Touches only the batch, the part and the read-only want_json: two parts
 * are checked at once.
 */
static int
check_batch(const struct agg *a, struct part *pt, struct pending *p, const uint8_t *data,
            size_t len, int extra_frames)
{
	struct mm_wire_batch b;
	struct mm_wire_iter it;
	const uint8_t *ev;
	size_t evlen;
	uint32_t idx = 0;
	int rc;

	p->status = MM_WIRE_MALFORMED;
	p->nrej = 0;
	p->reason = NULL;
	p->mod = NULL;
	p->module[0] = '\0';
	p->stored = p->dups = 0;
	p->first = pt->nitems;
	p->n = 0;
	p->batch_id = len >= 12 ? (uint64_t)data[4] | (uint64_t)data[5] << 8 |
	                                  (uint64_t)data[6] << 16 | (uint64_t)data[7] << 24 |
	                                  (uint64_t)data[8] << 32 | (uint64_t)data[9] << 40 |
	                                  (uint64_t)data[10] << 48 | (uint64_t)data[11] << 56
	                        : 0;
	if (extra_frames) {
		pt->malformed++;
		p->reason = "one frame per batch expected";
		return MM_OK;
	}
	if (len > MM_WIRE_MAX_BATCH_BYTES) {
		pt->oversized++;
		p->reason = "batch larger than the limit";
		return MM_OK;
	}
	rc = mm_wire_parse_batch(&b, data, len);
	if (rc != MM_OK) {
		if (rc == MM_ERR_TOOBIG)
			pt->oversized++;
		else
			pt->malformed++;
		p->reason = rc == MM_ERR_TOOBIG ? "event larger than the limit" : "malformed batch";
		return MM_OK;
	}
	if ((rc = part_reserve(pt, b.count)) != MM_OK)
		return rc;
	memcpy(p->module, b.module, sizeof(p->module));
	p->count = b.count;
	p->bytes = b.events_len;
	mm_wire_iter_init(&it, &b);
	while (mm_wire_iter_next(&it, &ev, &evlen)) {
		size_t k = pt->nitems;
		struct mm_event_view *v = &pt->views[k];
		int json = a->want_json && !pt->lines_off;

		/* The decoder's checks in one pass, without building the
		 * event, rendering its JSON line on the way. */
		pt->json_off[k] = pt->json.len;
		if (mm_event_check(v, ev, evlen, json ? &pt->json : NULL) != MM_OK ||
		    (json && mm_buf_putc(&pt->json, '\n') != MM_OK)) {
			pt->json.len = pt->json_off[k];
			p->rej[p->nrej++] = idx++;
			continue;
		}
		/* Past half the limit (a part is half a group), sinks will
		 * read this group from the spool. */
		if (pt->json.len > HOT_MAX_BYTES / 2)
			pt->lines_off = 1;
		pt->rec_off[k] = pt->recs.len;
		if (mm_buf_reserve(&pt->recs, MM_SPOOL_REC_SIZE(evlen)) != MM_OK)
			return MM_ERR_NOMEM;
		mm_spool_record(pt->recs.data + pt->recs.len, v->kind, v->sev, ev, evlen);
		pt->recs.len += MM_SPOOL_REC_SIZE(evlen);
		pt->items[k].kind = v->kind;
		pt->items[k].sev = v->sev;
		pt->items[k].data = ev;
		pt->items[k].len = evlen;
		pt->nitems++;
		p->n++;
		idx++;
	}
	p->status = MM_WIRE_OK;
	return MM_OK;
}

/* Store the checked events of one batch (inside the transaction). */
static int
store_batch(struct agg *a, struct group *g, struct pending *p)
{
	struct part *pt = &g->parts[p->part];
	struct mm_spool_item *items = pt->items + p->first;
	uint64_t dropped = 0, first = 0;
	size_t i, stored = 0;
	int rc;

	if (p->status != MM_WIRE_OK)
		return MM_OK;
	rc = mm_spool_make_room(a->spool, p->bytes + (size_t)p->count * MM_SPOOL_ROW_OVERHEAD,
	                        &dropped);
	a->c.dropped_oldest += dropped;
	if (rc == MM_ERR_FULL) {
		a->c.refused_batches++;
		a->c.refused_events += p->count;
		p->status = MM_WIRE_FULL;
		p->nrej = 0;
		p->reason = "spool full";
		return MM_OK;
	}
	if (rc != MM_OK)
		return rc;
	/* The views, records and lines do not move any more: point at
	 * them. */
	for (i = 0; i < p->n; i++) {
		items[i].id = pt->views[p->first + i].id;
		items[i].idb = pt->views[p->first + i].idb;
		items[i].rec = pt->recs.data + pt->rec_off[p->first + i];
	}
	rc = mm_spool_put_batch(a->spool, items, p->n, a->dupf, &first, &stored);
	if (rc != MM_OK)
		return rc;
	for (i = 0; i < p->n; i++) {
		size_t k = p->first + i;

		if (a->dupf[i]) {
			p->dups++;
			continue;
		}
		p->stored++;
		/* A line ends where the next one starts. */
		keep_hot(g, first++, &items[i], pt->json.data + pt->json_off[k],
		         (k + 1 < pt->nitems ? pt->json_off[k + 1] : pt->json.len) -
		                 pt->json_off[k]);
	}
	return MM_OK;
}

static void
send_ack(struct agg *a, const struct pending *p)
{
	if (mm_wire_encode_ack(&a->buf, p->batch_id, p->status, p->rej, p->nrej, p->reason) !=
	    MM_OK)
		return;
	/* A peer that went away loses its ack; it resends and dedup answers. */
	if (zmq_send(a->router, p->identity, p->idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return;
	zmq_send(a->router, a->buf.data, a->buf.len, ZMQ_DONTWAIT);
}

/* Receive what is waiting (bounded) into the group. Returns batches. */
static size_t
receive_group(struct agg *a, struct group *g)
{
	g->n = 0;
	g->bytes = 0;
	while (g->n < MAX_GROUP && g->bytes < MAX_GROUP_BYTES) {
		struct pending *p = &g->pend[g->n];
		zmq_msg_t id;
		int more = 0, extra = 0;
		size_t ml = sizeof(more);

		zmq_msg_init(&id);
		if (zmq_msg_recv(&id, a->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&id);
			break;
		}
		p->idlen = zmq_msg_size(&id) <= MAX_IDENTITY ? zmq_msg_size(&id) : 0;
		memcpy(p->identity, zmq_msg_data(&id), p->idlen);
		zmq_msg_close(&id);
		zmq_msg_init(&g->msgs[g->n]);
		if (zmq_getsockopt(a->router, ZMQ_RCVMORE, &more, &ml) != 0 || !more ||
		    zmq_msg_recv(&g->msgs[g->n], a->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&g->msgs[g->n]);
			a->c.malformed_msgs++;
			continue;
		}
		while (zmq_getsockopt(a->router, ZMQ_RCVMORE, &more, &ml) == 0 && more) {
			zmq_msg_t x;
			zmq_msg_init(&x);
			if (zmq_msg_recv(&x, a->router, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&x);
				break;
			}
			zmq_msg_close(&x);
			extra = 1;
		}
		p->status = extra; /* remembered until check_batch */
		g->bytes += zmq_msg_size(&g->msgs[g->n]);
		g->n++;
	}
	return g->n;
}

struct check_job {
	const struct agg *a;
	struct group *g;
	int part;
	size_t from, to; /* batches */
};

/* Check the batches [from, to) into one part of the group. */
static void *
check_part(void *arg)
{
	struct check_job *j = arg;
	struct part *pt = &j->g->parts[j->part];
	size_t i;

	pt->nitems = 0;
	pt->lines_off = 0;
	pt->malformed = pt->oversized = 0;
	pt->rc = MM_OK;
	mm_buf_reset(&pt->json);
	mm_buf_reset(&pt->recs);
	for (i = j->from; i < j->to && pt->rc == MM_OK; i++) {
		struct pending *p = &j->g->pend[i];

		p->part = j->part;
		pt->rc = check_batch(j->a, pt, p, zmq_msg_data(&j->g->msgs[i]),
		                     zmq_msg_size(&j->g->msgs[i]), p->status);
	}
	return NULL;
}

/*
 * Check every batch of a received group. A large one is cut in two by
 * bytes, and the second half is checked on a thread of its own meanwhile:
 * checking is most of this thread's work per event, and it needs nothing
 * but the batches.
 */
static int
check_group(struct agg *a, struct group *g)
{
	struct check_job jobs[2] = {{a, g, 0, 0, g->n}, {a, g, 1, g->n, g->n}};
	size_t i, bytes = 0;
	pthread_t th;
	int helper = 0, rc = MM_OK, k;

	g->hot_off = 0;
	drop_hot(g);
	if (g->n >= 2 && g->bytes >= SPLIT_MIN_BYTES) {
		for (i = 0; i < g->n - 1 && bytes < g->bytes / 2; i++)
			bytes += zmq_msg_size(&g->msgs[i]);
		jobs[0].to = jobs[1].from = i;
		helper = pthread_create(&th, NULL, check_part, &jobs[1]) == 0;
	}
	check_part(&jobs[0]);
	if (helper)
		pthread_join(th, NULL);
	else
		check_part(&jobs[1]);
	for (k = 0; k < 2; k++) {
		struct part *pt = &g->parts[k];

		a->c.malformed_msgs += pt->malformed;
		a->c.oversized_msgs += pt->oversized;
		g->hot_off |= pt->lines_off;
		if (pt->rc != MM_OK)
			rc = pt->rc;
	}
	/* The module table is this thread's. */
	for (i = 0; i < g->n; i++)
		if (g->pend[i].status == MM_WIRE_OK)
			g->pend[i].mod = module_get(a, g->pend[i].module);
	return rc;
}

/* Store a checked group in one transaction and start its commit. */
static int
store_group(struct agg *a, struct group *g)
{
	size_t i;
	int rc;

	if ((rc = mm_spool_begin(a->spool)) != MM_OK)
		return rc;
	for (i = 0; i < g->n && rc == MM_OK; i++)
		rc = store_batch(a, g, &g->pend[i]);
	if (rc != MM_OK) {
		mm_spool_rollback(a->spool);
		return rc;
	}
	commit_start(a, g);
	return MM_OK;
}

/* After the commit or a failure (rc): ack every batch. */
static void
finish_group(struct agg *a, struct group *g, int rc)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		struct pending *p = &g->pend[i];

		if (rc != MM_OK && p->status != MM_WIRE_MALFORMED) {
			/* Nothing of this group is durable: say so, they resend. */
			p->status = MM_WIRE_BUSY;
			p->nrej = 0;
			p->reason = "spool error";
		}
		if (p->status == MM_WIRE_OK) {
			a->c.batches++;
			a->c.events_in += p->stored;
			a->c.duplicates += p->dups;
			a->c.rejected_events += p->nrej;
			if (p->mod) {
				p->mod->batches++;
				p->mod->events += p->stored;
				p->mod->duplicates += p->dups;
				p->mod->rejected += p->nrej;
			}
		}
		send_ack(a, p);
	}
	if (rc != MM_OK) {
		a->c.spool_errors++;
		mm_log_host(MM_LOG_ERROR, "aggregator", "spool write failed: %s", mm_strerror(rc));
	}
}

/* Once the sinks have the group (or will read it from the spool), its
 * messages go. */
static void
release_group(struct group *g)
{
	size_t i;

	feed_wait(g);
	drop_hot(g);
	for (i = 0; i < g->n; i++)
		zmq_msg_close(&g->msgs[i]);
	g->n = 0;
}

/*
 * Receive what is waiting and store it, a group (up to MAX_GROUP batches)
 * per commit, acknowledging each group after its commit. During a burst
 * three groups are under way at once: one is received and checked here
 * (on two threads when large), the one before commits, and the one before
 * that is handed to the sinks. Returns with no commit or hand-over
 * running, so that the caller may use the spool and the sinks; a burst is
 * bounded so that sinks and timers get their turn.
 */
static void
ingest(struct agg *a)
{
	struct group *prev = NULL, *fed = NULL, *cur;
	size_t at = 0, k;
	int round, rc;

	for (round = 0; round < INGEST_ROUNDS; round++) {
		size_t n;

		cur = &a->groups[at];
		release_group(cur);
		n = receive_group(a, cur);
		rc = n > 0 ? check_group(a, cur) : MM_OK;
		if (prev != NULL) {
			int prc = commit_wait(prev);

			finish_group(a, prev, prc);
			if (prc == MM_OK) {
				feed_start(a, prev, fed);
				fed = prev;
			}
			prev = NULL;
		}
		if (n == 0)
			break;
		if (rc == MM_OK)
			rc = store_group(a, cur);
		if (rc != MM_OK) {
			finish_group(a, cur, rc);
			continue;
		}
		prev = cur;
		at = (at + 1) % NGROUPS;
	}
	if (prev != NULL) {
		rc = commit_wait(prev);
		finish_group(a, prev, rc);
		if (rc == MM_OK)
			feed_start(a, prev, fed);
	}
	for (k = 0; k < NGROUPS; k++)
		release_group(&a->groups[k]);
}

struct read_ctx {
	struct sink_rt *s;
	struct agg *a;
	size_t n;
	struct mm_buf raw;
	uint64_t last;
};

static int
collect(void *arg, const struct mm_spool_row *row)
{
	struct read_ctx *r = arg;
	struct agg *a = r->a;
	struct mm_buf *lines = r->s->ops->json_lines ? &a->cold_lines : NULL;
	struct mm_event_view v;
	size_t at = a->cold_lines.len;

	r->last = row->seq;
	if (row->skip)
		return 0; /* counted when the spool was opened */
	/* Checked again (the file may have been damaged since), and rendered
	 * on the way for a sink that writes JSON lines. */
	if (row->corrupt || mm_event_check(&v, row->data, row->len, lines) != MM_OK ||
	    (lines != NULL && mm_buf_putc(lines, '\n') != MM_OK)) {
		a->cold_lines.len = at;
		r->s->skipped++;
		a->c.corrupt_skipped++;
		return 0;
	}
	a->cold_raw[r->n] = r->raw.len;
	a->cold_json[r->n] = at;
	if (mm_buf_append(&r->raw, row->data, row->len) != MM_OK) {
		a->cold_lines.len = at;
		return 1;
	}
	a->cold[r->n].seq = row->seq;
	a->cold[r->n].len = row->len;
	r->n++;
	return 0;
}

static int64_t
backoff_ms(int fails)
{
	int64_t d = BACKOFF_MIN_MS;
	int i;

	for (i = 1; i < fails && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	/* Jitter in [d/2, d] so that sinks failing together do not retry
	 * together. */
	return d / 2 + (int64_t)(random() % (d / 2 + 1));
}

/* Feed one batch to one sink. Returns 1 if it did work. */
static int
run_sink(struct agg *a, struct sink_rt *s)
{
	struct mm_sink_event *evs = a->cold;
	struct read_ctx r;
	int64_t now = mm_agg_now_ms(), pos = s->pos;
	size_t i;
	int rc, did = 0;

	if (s->h == NULL || now < s->retry_at || s->cursor >= mm_spool_last_seq(a->spool))
		return 0;
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.a = a;
	r.raw = a->buf;
	a->buf = (struct mm_buf)MM_BUF_INIT;
	mm_buf_reset(&a->cold_lines);
	rc = mm_spool_read(a->spool, s->cursor, SINK_BATCH, collect, &r);
	/* The buffers are complete: point at them. A line ends where the next
	 * one starts. */
	for (i = 0; i < r.n; i++) {
		size_t end = i + 1 < r.n ? a->cold_json[i + 1] : a->cold_lines.len;

		evs[i].raw = r.raw.data + a->cold_raw[i];
		evs[i].json = end > a->cold_json[i] ? a->cold_lines.data + a->cold_json[i] : NULL;
		evs[i].json_len = end - a->cold_json[i];
	}
	if (rc < 0) {
		snprintf(s->last_error, sizeof(s->last_error), "spool read: %s", mm_strerror(rc));
		goto out;
	}
	if (r.n > 0) {
		rc = s->ops->write(s->h, evs, r.n, &pos);
		if (rc != MM_OK) {
			sink_failed(s, rc, now);
			goto out;
		}
		s->out += r.n;
		s->pos = pos;
	}
	s->fails = 0;
	if (r.last > s->cursor) {
		s->cursor = r.last;
		s->dirty = 1;
		did = 1;
	}
out:
	mm_buf_reset(&r.raw);
	mm_buf_free(&a->buf);
	a->buf = r.raw;
	return did;
}

static void
update_delivered(struct agg *a)
{
	uint64_t min = UINT64_MAX;
	size_t i;

	for (i = 0; i < a->nsinks; i++)
		if (a->sinks[i].persisted < min)
			min = a->sinks[i].persisted;
	mm_spool_set_delivered(a->spool, a->nsinks == 0 ? 0 : min);
}

static int
store_cursors(struct agg *a, const int *which)
{
	size_t i;
	int rc;

	if ((rc = mm_spool_begin(a->spool)) != MM_OK)
		return rc;
	for (i = 0; i < a->nsinks; i++)
		if (which[i] &&
		    (rc = mm_spool_cursor_set(a->spool, a->sinks[i].ops->name, a->sinks[i].cursor,
		                              a->sinks[i].pos)) != MM_OK) {
			mm_spool_rollback(a->spool);
			return rc;
		}
	return mm_spool_commit(a->spool);
}

/* Make sink output durable, then its cursor; then let sinks rotate. */
static void
persist(struct agg *a)
{
	int which[MM_AGG_MAX_SINKS] = {0}, moved[MM_AGG_MAX_SINKS] = {0}, any = 0, anymoved = 0;
	size_t i;

	for (i = 0; i < a->nsinks; i++) {
		struct sink_rt *s = &a->sinks[i];
		if (!s->dirty)
			continue;
		if (s->ops->sync != NULL && s->ops->sync(s->h) != MM_OK) {
			snprintf(s->last_error, sizeof(s->last_error), "sync failed");
			continue;
		}
		which[i] = 1;
		any = 1;
	}
	if (!any || store_cursors(a, which) != MM_OK)
		return;
	for (i = 0; i < a->nsinks; i++) {
		struct sink_rt *s = &a->sinks[i];
		int64_t pos;

		if (!which[i])
			continue;
		s->dirty = 0;
		s->persisted = s->cursor;
		pos = s->pos;
		if (s->ops->checkpoint != NULL && s->ops->checkpoint(s->h, &pos) == MM_OK &&
		    pos != s->pos) {
			s->pos = pos;
			moved[i] = 1;
			anymoved = 1;
		}
	}
	if (anymoved)
		store_cursors(a, moved);
	update_delivered(a);
}

static uint64_t
drop_sum(const struct counters *c)
{
	return c->malformed_msgs + c->oversized_msgs + c->rejected_events + c->refused_events +
	       c->dropped_oldest + c->corrupt_skipped + c->unreadable_ranges + c->spool_errors;
}

/* The aggregator reports its own losses the same way plugins report
 * findings: as an event in the spool, delivered by every sink. */
static void
write_health(struct agg *a)
{
	struct mm_event *ev = mm_event_create(MM_KIND_HEALTH);
	struct mm_event_stamp st;
	char n1[32], n2[32];
	const char *id;
	int rc = MM_ERR_NOMEM, dup = 0, sev = MM_SEV_LOW;
	const struct counters *c = &a->c;

	if (ev == NULL)
		return;
	if (c->dropped_oldest) {
		snprintf(n1, sizeof(n1), "%llu", (unsigned long long)c->dropped_oldest);
		mm_event_set_msg(ev, a->cat, "agg.spool_dropped",
		                 (const char *[]){"dropped", n1, NULL});
		sev = MM_SEV_HIGH;
	} else if (c->refused_events) {
		snprintf(n1, sizeof(n1), "%llu", (unsigned long long)c->refused_events);
		mm_event_set_msg(ev, a->cat, "agg.spool_refused",
		                 (const char *[]){"refused", n1, NULL});
		sev = MM_SEV_MEDIUM;
	} else if (c->corrupt_skipped || c->unreadable_ranges) {
		snprintf(n1, sizeof(n1), "%llu", (unsigned long long)c->corrupt_skipped);
		snprintf(n2, sizeof(n2), "%llu", (unsigned long long)c->unreadable_events);
		mm_event_set_msg(ev, a->cat, "agg.spool_corrupt",
		                 (const char *[]){"skipped", n1, "lost", n2, NULL});
		sev = MM_SEV_MEDIUM;
	} else {
		snprintf(n1, sizeof(n1), "%llu",
		         (unsigned long long)(c->malformed_msgs + c->oversized_msgs +
		                              c->rejected_events));
		mm_event_set_msg(ev, a->cat, "agg.rejected",
		                 (const char *[]){"rejected", n1, NULL});
	}
	mm_event_set_int(ev, "sev", sev);
	mm_event_set_str(ev, "cat", "health");
	mm_event_set_int(ev, "attrs.refused_batches", (int64_t)c->refused_batches);
	mm_event_set_int(ev, "attrs.refused_events", (int64_t)c->refused_events);
	mm_event_set_int(ev, "attrs.dropped_oldest", (int64_t)c->dropped_oldest);
	mm_event_set_int(ev, "attrs.malformed_msgs", (int64_t)c->malformed_msgs);
	mm_event_set_int(ev, "attrs.oversized_msgs", (int64_t)c->oversized_msgs);
	mm_event_set_int(ev, "attrs.rejected_events", (int64_t)c->rejected_events);
	mm_event_set_int(ev, "attrs.corrupt_skipped", (int64_t)c->corrupt_skipped);
	mm_event_set_int(ev, "attrs.unreadable_ranges", (int64_t)c->unreadable_ranges);
	mm_event_set_int(ev, "attrs.unreadable_events", (int64_t)c->unreadable_events);
	mm_event_set_int(ev, "attrs.spool_errors", (int64_t)c->spool_errors);
	memset(&st, 0, sizeof(st));
	st.ts_ns = mm_now_ns();
	st.seq = ++a->c.health_events;
	st.sensor_id = a->cfg->sensor_id;
	st.sensor_host = a->cfg->sensor_host;
	st.sensor_role = mm_role_name(a->cfg->role);
	st.sensor_site = a->cfg->sensor_site;
	st.plugin_name = "aggregator";
	st.plugin_version = "1";
	st.plugin_vendor = "mimamori";
	mm_buf_reset(&a->buf);
	if ((rc = mm_event_stamp(ev, &st)) != MM_OK || (rc = mm_event_encode(ev, &a->buf)) != MM_OK)
		goto out;
	id = mm_event_id(ev);
	/* A health event may exceed the size limit by its own few hundred
	 * bytes: losing the report of a loss would be worse. */
	if ((rc = mm_spool_begin(a->spool)) != MM_OK)
		goto out;
	rc = mm_spool_put(a->spool, id, MM_KIND_HEALTH, sev, a->buf.data, a->buf.len, &dup);
	if (rc == MM_OK)
		rc = mm_spool_commit(a->spool);
	else
		mm_spool_rollback(a->spool);
out:
	if (rc != MM_OK)
		mm_log_host(MM_LOG_WARN, "aggregator", "health event not stored: %s",
		            mm_strerror(rc));
	mm_event_free(ev);
}

static void
json_str(struct mm_buf *b, const char *s)
{
	mm_buf_putc(b, '"');
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			mm_buf_printf(b, "\\%c", ch);
		else if (ch < 0x20)
			mm_buf_printf(b, "\\u%04x", ch);
		else
			mm_buf_putc(b, (char)ch);
	}
	mm_buf_putc(b, '"');
}

static void
write_stats(struct agg *a)
{
	struct mm_spool_stats ss;
	struct mm_buf b = MM_BUF_INIT;
	char tmp[MM_PATH_MAX + 8];
	const struct counters *c = &a->c;
	int64_t wall = mm_spool_wall_ms();
	size_t i;
	FILE *f;

	mm_spool_stats(a->spool, &ss);
	mm_buf_printf(&b, "{\"pid\":%ld,\"started\":%lld,\"updated\":%lld,\"endpoint\":",
	              (long)getpid(), (long long)a->started, (long long)wall / 1000);
	json_str(&b, a->conf.endpoint);
	mm_buf_puts(&b, ",\"spool\":{\"dir\":");
	json_str(&b, a->conf.spool_dir);
	mm_buf_printf(&b,
	              ",\"events\":%llu,\"bytes\":%llu,\"max_bytes\":%llu,\"policy\":\"%s\","
	              "\"undelivered\":%llu,\"oldest_undelivered_age_s\":%.3f,\"last_seq\":%llu}",
	              (unsigned long long)ss.events, (unsigned long long)ss.bytes,
	              (unsigned long long)ss.max_bytes,
	              a->conf.spool_policy == MM_SPOOL_DROP_OLDEST ? "drop_oldest" : "refuse",
	              (unsigned long long)ss.undelivered,
	              ss.oldest_undelivered_rx_ms
	                      ? (double)(wall - ss.oldest_undelivered_rx_ms) / 1e3
	                      : 0.0,
	              (unsigned long long)ss.last_seq);
	mm_buf_printf(&b, ",\"in\":{\"batches\":%llu,\"events\":%llu,\"duplicates\":%llu}",
	              (unsigned long long)c->batches, (unsigned long long)c->events_in,
	              (unsigned long long)c->duplicates);
	mm_buf_puts(&b, ",\"modules\":[");
	for (i = 0; i <= MAX_MODULES; i++) {
		const struct module_stat *m = &a->mods[i];
		if (m->name[0] == '\0')
			continue;
		if (b.data[b.len - 1] != '[')
			mm_buf_putc(&b, ',');
		mm_buf_puts(&b, "{\"name\":");
		json_str(&b, m->name);
		mm_buf_printf(&b,
		              ",\"batches\":%llu,\"events\":%llu,\"duplicates\":%llu,"
		              "\"rejected\":%llu}",
		              (unsigned long long)m->batches, (unsigned long long)m->events,
		              (unsigned long long)m->duplicates, (unsigned long long)m->rejected);
	}
	mm_buf_puts(&b, "],\"sinks\":[");
	for (i = 0; i < a->nsinks; i++) {
		const struct sink_rt *s = &a->sinks[i];
		int64_t now = mm_agg_now_ms();
		if (i)
			mm_buf_putc(&b, ',');
		mm_buf_puts(&b, "{\"name\":");
		json_str(&b, s->ops->name);
		mm_buf_printf(
		        &b,
		        ",\"events\":%llu,\"cursor\":%llu,\"pending\":%llu,\"failures\":%llu,"
		        "\"skipped\":%llu,\"retry_in_ms\":%lld,\"last_error\":",
		        (unsigned long long)s->out, (unsigned long long)s->cursor,
		        (unsigned long long)(ss.last_seq > s->cursor ? ss.last_seq - s->cursor : 0),
		        (unsigned long long)s->failures, (unsigned long long)s->skipped,
		        (long long)(s->retry_at > now ? s->retry_at - now : 0));
		json_str(&b, s->last_error);
		mm_buf_putc(&b, '}');
	}
	mm_buf_printf(&b,
	              "],\"drops\":{\"malformed_msgs\":%llu,\"oversized_msgs\":%llu,"
	              "\"rejected_events\":%llu,\"refused_batches\":%llu,\"refused_events\":%llu,"
	              "\"dropped_oldest\":%llu,\"corrupt_skipped\":%llu,\"unreadable_ranges\":%llu,"
	              "\"unreadable_events\":%llu,\"spool_errors\":%llu},\"health_events\":%llu}\n",
	              (unsigned long long)c->malformed_msgs, (unsigned long long)c->oversized_msgs,
	              (unsigned long long)c->rejected_events,
	              (unsigned long long)c->refused_batches, (unsigned long long)c->refused_events,
	              (unsigned long long)c->dropped_oldest, (unsigned long long)c->corrupt_skipped,
	              (unsigned long long)c->unreadable_ranges,
	              (unsigned long long)c->unreadable_events, (unsigned long long)c->spool_errors,
	              (unsigned long long)c->health_events);
	snprintf(tmp, sizeof(tmp), "%s.tmp", a->conf.stats_path);
	f = fopen(tmp, "w");
	if (f != NULL) {
		int ok = fwrite(b.data, 1, b.len, f) == b.len;
		if (fclose(f) != 0)
			ok = 0;
		if (!ok || rename(tmp, a->conf.stats_path) != 0)
			unlink(tmp);
	}
	mm_buf_free(&b);
}

static int
usage(FILE *out)
{
	fprintf(out, "usage: mimamori aggregator [--foreground]\n"
	             "\n"
	             "Receive events from the workers, store them durably in the spool\n"
	             "(<state_dir>/spool), deduplicated by id, and forward them to the sinks\n"
	             "configured under aggregator.sinks. Runs until SIGTERM or SIGINT.\n"
	             "\n"
	             "  --foreground   stay attached to the terminal (the default)\n"
	             "  --help         show this text\n");
	return out == stdout ? 0 : 2;
}

/* Workers drop privileges to host.user after connecting, and reconnect
 * to every new aggregator as that user: the ipc socket (and the directory
 * it lives in) must let that user's group in. Others stay out. */
static void
share_socket(struct agg *a, const char *sock)
{
	const char *user = a->cfg->user;
	char dir[MM_PATH_MAX], *slash;
	struct passwd *pw;
	struct stat st;

	if (user == NULL || user[0] == '\0' || geteuid() != 0)
		return;
	pw = getpwnam(user);
	if (pw == NULL) {
		mm_log_host(MM_LOG_WARN, "aggregator", "service user '%s' does not exist", user);
		return;
	}
	if (chown(sock, (uid_t)-1, pw->pw_gid) != 0 || chmod(sock, 0660) != 0)
		mm_log_host(MM_LOG_WARN, "aggregator", "cannot give %s to group of %s: %s", sock,
		            user, strerror(errno));
	mm_strlcpy(dir, sock, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	/* A directory others may already enter is left alone. */
	if (stat(dir, &st) != 0 || (st.st_mode & S_IXOTH) ||
	    (st.st_gid == pw->pw_gid && (st.st_mode & S_IXGRP)))
		return;
	if (st.st_uid != geteuid() || chown(dir, (uid_t)-1, pw->pw_gid) != 0 ||
	    chmod(dir, (st.st_mode & 07777) | S_IXGRP) != 0)
		mm_log_host(MM_LOG_WARN, "aggregator", "cannot let group of %s into %s: %s", user,
		            dir, strerror(errno));
}

static int
open_everything(struct agg *a)
{
	struct mm_spool_opts so;
	struct mm_spool_recovery rec;
	struct mm_diag diag = {NULL, 0};
	char path[MM_PATH_MAX + 16];
	size_t i;
	int rc;

	if (mm_agg_conf_load(&a->conf, a->cfg, &diag) != MM_OK) {
		mm_diag_print(&diag, stderr);
		mm_diag_free(&diag);
		return MM_ERR_CONFIG;
	}
	mm_diag_free(&diag);
	if ((rc = mm_mkdir_p(a->conf.spool_dir, 0700)) != MM_OK)
		return rc;
	snprintf(path, sizeof(path), "%s/lock", a->conf.spool_dir);
	a->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (a->lock_fd < 0 || flock(a->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		mm_log_host(MM_LOG_ERROR, "aggregator", "another aggregator holds %s", path);
		return MM_ERR_EXISTS;
	}
	memset(&so, 0, sizeof(so));
	so.dir = a->conf.spool_dir;
	so.max_bytes = a->conf.spool_max_bytes;
	so.policy = a->conf.spool_policy;
	so.dedup_window_ms = a->conf.dedup_window_ms;
	so.page_size = a->conf.spool_page_size;
	if ((rc = mm_spool_open(&a->spool, &so, &rec)) != MM_OK) {
		mm_log_host(MM_LOG_ERROR, "aggregator", "cannot open the spool in %s: %s",
		            a->conf.spool_dir, mm_strerror(rc));
		return rc;
	}
	a->c.corrupt_skipped = rec.corrupt_records;
	a->c.unreadable_ranges = rec.unreadable_ranges;
	a->c.unreadable_events = rec.unreadable_events;
	if (rec.rebuilt || rec.corrupt_records)
		mm_log_host(MM_LOG_WARN, "aggregator",
		            "spool damaged: %llu corrupt records skipped, %llu unreadable regions "
		            "(about %llu events)%s%s",
		            (unsigned long long)rec.corrupt_records,
		            (unsigned long long)rec.unreadable_ranges,
		            (unsigned long long)rec.unreadable_events,
		            rec.rebuilt ? "; damaged file kept as " : "",
		            rec.rebuilt ? rec.moved_to : "");
	for (i = 0; i < a->conf.nsinks; i++) {
		const struct mm_agg_sink_conf *sc = &a->conf.sinks[i];
		struct sink_rt *s;

		if (!sc->enabled)
			continue;
		s = &a->sinks[a->nsinks++];
		s->ops = sc->ops;
		a->want_json |= s->ops->json_lines;
		mm_spool_cursor_get(a->spool, s->ops->name, &s->cursor, &s->pos);
		s->persisted = s->cursor;
		if ((rc = s->ops->open(&s->h, &sc->vals, a->cfg, s->pos)) != MM_OK) {
			mm_log_host(MM_LOG_ERROR, "aggregator", "sink %s cannot open: %s",
			            s->ops->name, mm_strerror(rc));
			return rc;
		}
	}
	update_delivered(a);
	if (strncmp(a->conf.endpoint, "ipc://", 6) == 0) {
		char dir[MM_PATH_MAX], *slash;

		mm_strlcpy(dir, a->conf.endpoint + 6, sizeof(dir));
		slash = strrchr(dir, '/');
		if (slash != NULL && slash != dir) {
			*slash = '\0';
			mm_mkdir_p(dir, 0750);
		}
		/* We hold the spool lock, so a socket file left here belongs to
		 * an aggregator that died. */
		unlink(a->conf.endpoint + 6);
	}
	a->zctx = zmq_ctx_new();
	a->router = a->zctx ? zmq_socket(a->zctx, ZMQ_ROUTER) : NULL;
	if (a->router == NULL || mm_zsock_setup(a->router, MM_ZSOCK_AGGREGATOR) != MM_OK)
		return MM_ERR_IO;
	if (zmq_bind(a->router, a->conf.endpoint) != 0) {
		mm_log_host(MM_LOG_ERROR, "aggregator", "cannot bind %s: %s", a->conf.endpoint,
		            zmq_strerror(zmq_errno()));
		return MM_ERR_IO;
	}
	if (strncmp(a->conf.endpoint, "ipc://", 6) == 0)
		share_socket(a, a->conf.endpoint + 6);
	for (i = 0; i < NGROUPS * MAX_GROUP; i++) {
		struct pending *p = &a->groups[i / MAX_GROUP].pend[i % MAX_GROUP];

		p->rej = calloc(MM_WIRE_MAX_BATCH_EVENTS, sizeof(uint32_t));
		if (p->rej == NULL)
			return MM_ERR_NOMEM;
	}
	a->dupf = calloc(MM_WIRE_MAX_BATCH_EVENTS, 1);
	if (a->dupf == NULL)
		return MM_ERR_NOMEM;
	snprintf(path, sizeof(path), "%s/i18n", mm_paths()->data_dir);
	if (mm_i18n_load(&a->cat, path) != MM_OK)
		a->cat = NULL;
	return MM_OK;
}

static void
close_everything(struct agg *a)
{
	size_t i;

	for (i = 0; i < a->nsinks; i++)
		if (a->sinks[i].h != NULL)
			a->sinks[i].ops->close(a->sinks[i].h);
	if (a->router != NULL)
		zmq_close(a->router);
	if (a->zctx != NULL)
		zmq_ctx_term(a->zctx);
	if (a->conf.endpoint[0] && strncmp(a->conf.endpoint, "ipc://", 6) == 0 && a->spool)
		unlink(a->conf.endpoint + 6);
	mm_spool_close(a->spool);
	for (i = 0; i < NGROUPS; i++) {
		struct group *g = &a->groups[i];
		size_t k;

		for (k = 0; k < MAX_GROUP; k++)
			free(g->pend[k].rej);
		free(g->hot);
		for (k = 0; k < 2; k++) {
			struct part *pt = &g->parts[k];

			free(pt->items);
			free(pt->views);
			free(pt->json_off);
			free(pt->rec_off);
			mm_buf_free(&pt->json);
			mm_buf_free(&pt->recs);
		}
	}
	free(a->dupf);
	if (a->lock_fd > 0)
		close(a->lock_fd);
	mm_i18n_free(a->cat);
	mm_buf_free(&a->buf);
	mm_agg_conf_free(&a->conf);
}

/*
 * When the sinks' cursors are stored next: PERSIST_MS after the last time.
 * Storing them syncs the sink files first, on this thread (tens of ms for
 * a second of output), and in a burst that stalls receiving: while one
 * keeps arriving (something received in the last BUSY_MS) it waits up to
 * PERSIST_BUSY_MS, and happens as soon as the burst is over. A crash then
 * re-writes at most that much output.
 */
static int64_t
persist_due(const struct agg *a, int64_t now)
{
	int64_t due = a->persisted_at + PERSIST_MS, calm = a->last_rx + BUSY_MS;
	int64_t late = a->persisted_at + PERSIST_BUSY_MS;

	if (now < calm && due < calm)
		due = calm < late ? calm : late;
	return due;
}

static int
next_timeout(struct agg *a, int backlog)
{
	int64_t now = mm_agg_now_ms(), due = a->stats_at;
	size_t i;

	if (backlog)
		return 0;
	for (i = 0; i < a->nsinks; i++) {
		if (a->sinks[i].dirty && persist_due(a, now) < due)
			due = persist_due(a, now);
		if (a->sinks[i].retry_at > now && a->sinks[i].retry_at < due)
			due = a->sinks[i].retry_at;
	}
	if (drop_sum(&a->c) != a->health_seen && a->health_at < due)
		due = a->health_at;
	return due <= now ? 0 : (int)(due - now);
}

int
mm_aggregator_main(const struct mm_config *cfg, int argc, char **argv)
{
	struct agg *a;
	struct sigaction sa;
	int i, rc, status = 1, backlog = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return usage(stdout);
		if (strcmp(argv[i], "--foreground") != 0) {
			fprintf(stderr, "mimamori aggregator: unknown option '%s'\n", argv[i]);
			return usage(stderr);
		}
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		goto out;
	a->cold = calloc(SINK_BATCH, sizeof(*a->cold));
	a->cold_raw = calloc(SINK_BATCH, sizeof(*a->cold_raw));
	a->cold_json = calloc(SINK_BATCH, sizeof(*a->cold_json));
	if (a->cold == NULL || a->cold_raw == NULL || a->cold_json == NULL)
		goto out;
	a->cfg = cfg;
	a->lock_fd = -1;
	a->started = mm_spool_wall_ms() / 1000;
	srandom((unsigned)(getpid() ^ a->started));
	stop_flag = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if ((rc = open_everything(a)) != MM_OK) {
		status = rc == MM_ERR_CONFIG ? 2 : 1;
		goto out;
	}
	mm_log_host(MM_LOG_INFO, "aggregator", "listening on %s, spool %s", a->conf.endpoint,
	            a->conf.spool_dir);
	a->health_seen = 0;
	a->health_at = a->persisted_at = a->prune_at = a->stats_at = mm_agg_now_ms();
	while (!stop_flag) {
		zmq_pollitem_t item = {a->router, 0, ZMQ_POLLIN, 0};
		int64_t now;
		size_t k;

		rc = zmq_poll(&item, 1, next_timeout(a, backlog));
		if (rc < 0 && zmq_errno() != EINTR)
			break;
		if (rc > 0 && (item.revents & ZMQ_POLLIN)) {
			ingest(a);
			a->last_rx = mm_agg_now_ms();
		}
		/* Copying the WAL into the file doubles the writes: between
		 * bursts it costs nobody anything. */
		mm_spool_checkpoint(a->spool, mm_agg_now_ms() - a->last_rx >= CKPT_IDLE_MS
		                                      ? CKPT_IDLE_BYTES
		                                      : CKPT_BUSY_BYTES);
		backlog = 0;
		for (k = 0; k < a->nsinks; k++)
			backlog |= run_sink(a, &a->sinks[k]);
		now = mm_agg_now_ms();
		if (now >= persist_due(a, now)) {
			persist(a);
			a->persisted_at = now;
		}
		if (now >= a->prune_at) {
			uint64_t upto = 0;
			for (k = 0; k < a->nsinks; k++)
				upto = k == 0 || a->sinks[k].persisted < upto
				               ? a->sinks[k].persisted
				               : upto;
			if (a->nsinks > 0)
				mm_spool_prune(a->spool, upto);
			a->prune_at = now + PRUNE_MS;
		}
		if (drop_sum(&a->c) != a->health_seen && now >= a->health_at) {
			a->health_seen = drop_sum(&a->c);
			write_health(a);
			a->health_at = now + a->conf.health_interval_ms;
		}
		if (now >= a->stats_at) {
			write_stats(a);
			a->stats_at = now + STATS_MS;
		}
	}
	/* Deliver what is already stored before leaving, within reason. */
	for (i = 0; i < 100; i++) {
		size_t k;
		backlog = 0;
		for (k = 0; k < a->nsinks; k++)
			backlog |= run_sink(a, &a->sinks[k]);
		if (!backlog)
			break;
	}
	/* The last word on losses must not be lost to the rate limit. */
	if (drop_sum(&a->c) != a->health_seen) {
		a->health_seen = drop_sum(&a->c);
		write_health(a);
	}
	persist(a);
	write_stats(a);
	status = 0;
	mm_log_host(MM_LOG_INFO, "aggregator", "stopped: %llu events stored",
	            (unsigned long long)a->c.events_in);
out:
	if (a != NULL) {
		close_everything(a);
		free(a->cold);
		free(a->cold_raw);
		free(a->cold_json);
		mm_buf_free(&a->cold_lines);
	}
	free(a);
	return status;
}
