/*
 * poll()-based event loop with timers, used by workers, the supervisor, the
 * in-process mode and replay. Timers are few (a handful per module), so a
 * linear scan is simpler and as fast as a heap here. Callbacks may add or
 * remove timers and watches, including their own, while being dispatched.
 */
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "mimamori/error.h"
#include "util.h"

struct timer {
	int id;
	int active;
	int repeat;
	struct mm_ctx *owner;
	uint64_t interval_ms;
	uint64_t due_ms;
	mm_timer_cb cb;
	void *user;
};

struct watch {
	int id;
	int active;
	int fd;
	unsigned events;
	struct mm_ctx *owner;
	mm_fd_cb cb;
	void *user;
};

struct mm_loop {
	struct timer *timers;
	size_t ntimers, timers_cap;
	struct watch *watches;
	size_t nwatches, watches_cap;
	int next_id;
	int virtual_clock;
	uint64_t vnow_ms;
};

struct mm_loop *
mm_loop_new(void)
{
	struct mm_loop *l = calloc(1, sizeof(*l));

	if (l)
		l->next_id = 1;
	return l;
}

void
mm_loop_free(struct mm_loop *l)
{
	if (l == NULL)
		return;
	free(l->timers);
	free(l->watches);
	free(l);
}

uint64_t
mm_loop_now_ms(const struct mm_loop *l)
{
	return l->virtual_clock ? l->vnow_ms : mm_monotonic_ms();
}

static int
new_id(struct mm_loop *l)
{
	int id = l->next_id++;

	if (l->next_id <= 0)
		l->next_id = 1;
	return id;
}

static void
compact(struct mm_loop *l)
{
	size_t i, j;

	for (i = j = 0; i < l->ntimers; i++)
		if (l->timers[i].active)
			l->timers[j++] = l->timers[i];
	l->ntimers = j;
	for (i = j = 0; i < l->nwatches; i++)
		if (l->watches[i].active)
			l->watches[j++] = l->watches[i];
	l->nwatches = j;
}

int
mm_loop_timer_add(struct mm_loop *l, struct mm_ctx *owner, uint64_t interval_ms, int repeat,
                  mm_timer_cb cb, void *user)
{
	struct timer *t;

	if (cb == NULL || (repeat && interval_ms == 0))
		return MM_ERR_INVAL;
	if (l->ntimers == l->timers_cap) {
		size_t cap = l->timers_cap ? l->timers_cap * 2 : 16;
		struct timer *p;
		if (cap > 65536)
			return MM_ERR_FULL;
		p = realloc(l->timers, cap * sizeof(*p));
		if (p == NULL)
			return MM_ERR_NOMEM;
		l->timers = p;
		l->timers_cap = cap;
	}
	t = &l->timers[l->ntimers++];
	memset(t, 0, sizeof(*t));
	t->id = new_id(l);
	t->active = 1;
	t->repeat = repeat;
	t->owner = owner;
	t->interval_ms = interval_ms;
	t->due_ms = mm_loop_now_ms(l) + interval_ms;
	t->cb = cb;
	t->user = user;
	return t->id;
}

int
mm_loop_timer_cancel(struct mm_loop *l, int id)
{
	size_t i;

	for (i = 0; i < l->ntimers; i++)
		if (l->timers[i].id == id && l->timers[i].active) {
			l->timers[i].active = 0;
			return MM_OK;
		}
	return MM_ERR_NOTFOUND;
}

int
mm_loop_fd_add(struct mm_loop *l, struct mm_ctx *owner, int fd, unsigned events, mm_fd_cb cb,
               void *user)
{
	struct watch *w;

	if (fd < 0 || cb == NULL || events == 0)
		return MM_ERR_INVAL;
	if (l->nwatches == l->watches_cap) {
		size_t cap = l->watches_cap ? l->watches_cap * 2 : 16;
		struct watch *p;
		if (cap > 65536)
			return MM_ERR_FULL;
		p = realloc(l->watches, cap * sizeof(*p));
		if (p == NULL)
			return MM_ERR_NOMEM;
		l->watches = p;
		l->watches_cap = cap;
	}
	w = &l->watches[l->nwatches++];
	memset(w, 0, sizeof(*w));
	w->id = new_id(l);
	w->active = 1;
	w->fd = fd;
	w->events = events;
	w->owner = owner;
	w->cb = cb;
	w->user = user;
	return w->id;
}

int
mm_loop_fd_remove(struct mm_loop *l, int id)
{
	size_t i;

	for (i = 0; i < l->nwatches; i++)
		if (l->watches[i].id == id && l->watches[i].active) {
			l->watches[i].active = 0;
			return MM_OK;
		}
	return MM_ERR_NOTFOUND;
}

void
mm_loop_remove_owner(struct mm_loop *l, struct mm_ctx *owner)
{
	size_t i;

	for (i = 0; i < l->ntimers; i++)
		if (l->timers[i].owner == owner)
			l->timers[i].active = 0;
	for (i = 0; i < l->nwatches; i++)
		if (l->watches[i].owner == owner)
			l->watches[i].active = 0;
}

int
mm_loop_next_timer_ms(const struct mm_loop *l)
{
	uint64_t now = mm_loop_now_ms(l), best = UINT64_MAX;
	size_t i;

	for (i = 0; i < l->ntimers; i++)
		if (l->timers[i].active && l->timers[i].due_ms < best)
			best = l->timers[i].due_ms;
	if (best == UINT64_MAX)
		return -1;
	if (best <= now)
		return 0;
	return best - now > 60000 ? 60000 : (int)(best - now);
}

/* Fire the earliest due timer; returns 0 when none is due at now. */
static int
fire_one(struct mm_loop *l, uint64_t now)
{
	size_t i, best = SIZE_MAX;
	struct timer t;

	for (i = 0; i < l->ntimers; i++)
		if (l->timers[i].active && l->timers[i].due_ms <= now &&
		    (best == SIZE_MAX || l->timers[i].due_ms < l->timers[best].due_ms))
			best = i;
	if (best == SIZE_MAX)
		return 0;
	if (l->timers[best].repeat) {
		/* Keep the phase, but never queue a burst of missed ticks. */
		l->timers[best].due_ms += l->timers[best].interval_ms;
		if (l->timers[best].due_ms <= now && !l->virtual_clock)
			l->timers[best].due_ms = now + l->timers[best].interval_ms;
	} else {
		l->timers[best].active = 0;
	}
	t = l->timers[best]; /* the array may move during the callback */
	t.cb(t.owner, t.user);
	return 1;
}

static void
fire_due(struct mm_loop *l, uint64_t now)
{
	/* Bounded so that a timer re-arming itself at 0 ms cannot spin forever. */
	int n = 0;

	while (n++ < 100000 && fire_one(l, now)) {
		if (l->virtual_clock)
			l->vnow_ms = now;
	}
}

void
mm_loop_set_virtual(struct mm_loop *l, uint64_t now_ms)
{
	size_t i;

	l->virtual_clock = 1;
	/* Timers added before the switch were scheduled on the real clock. */
	for (i = 0; i < l->ntimers; i++)
		if (l->timers[i].active)
			l->timers[i].due_ms = now_ms + l->timers[i].interval_ms;
	l->vnow_ms = now_ms;
}

void
mm_loop_advance(struct mm_loop *l, uint64_t now_ms)
{
	if (now_ms < l->vnow_ms)
		return; /* capture time going backwards does not rewind timers */
	/* Fire in time order, with the clock at each timer's due time. */
	for (;;) {
		size_t i;
		uint64_t best = UINT64_MAX;
		for (i = 0; i < l->ntimers; i++)
			if (l->timers[i].active && l->timers[i].due_ms < best)
				best = l->timers[i].due_ms;
		if (best > now_ms)
			break;
		if (best > l->vnow_ms)
			l->vnow_ms = best;
		if (!fire_one(l, best))
			break;
	}
	l->vnow_ms = now_ms;
	compact(l);
}

int
mm_loop_run_once(struct mm_loop *l, int max_wait_ms)
{
	struct pollfd pfds[256];
	int ids[256];
	size_t n = 0, i;
	int wait, rc;

	compact(l);
	for (i = 0; i < l->nwatches && n < 256; i++) {
		pfds[n].fd = l->watches[i].fd;
		pfds[n].events = (short)(((l->watches[i].events & MM_FD_READ) ? POLLIN : 0) |
		                         ((l->watches[i].events & MM_FD_WRITE) ? POLLOUT : 0));
		pfds[n].revents = 0;
		ids[n] = l->watches[i].id;
		n++;
	}
	wait = mm_loop_next_timer_ms(l);
	if (wait < 0 || (max_wait_ms >= 0 && max_wait_ms < wait))
		wait = max_wait_ms;
	rc = poll(pfds, n, wait);
	if (rc < 0 && errno != EINTR)
		return MM_ERR_IO;
	for (i = 0; rc > 0 && i < n; i++) {
		size_t k;
		unsigned rev = 0;
		if (pfds[i].revents == 0)
			continue;
		if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR))
			rev |= MM_FD_READ;
		if (pfds[i].revents & POLLOUT)
			rev |= MM_FD_WRITE;
		/* Look the watch up again: an earlier callback may have removed it. */
		for (k = 0; k < l->nwatches; k++)
			if (l->watches[k].id == ids[i] && l->watches[k].active) {
				struct watch w = l->watches[k];
				w.cb(w.owner, w.fd, rev, w.user);
				break;
			}
	}
	if (!l->virtual_clock)
		fire_due(l, mm_monotonic_ms());
	compact(l);
	return MM_OK;
}
