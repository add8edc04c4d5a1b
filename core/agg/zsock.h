/*
 * One place where every event-path ZeroMQ socket gets its options, so that
 * CURVE keys (tcp:// from LAN PCs) slot in for both ends at once.
 */
#ifndef MM_CORE_AGG_ZSOCK_H
#define MM_CORE_AGG_ZSOCK_H

#include <stdint.h>

#include "util.h"

enum mm_zsock_role { MM_ZSOCK_WORKER = 0, MM_ZSOCK_AGGREGATOR = 1 };

/* Set the options of a DEALER (worker) or ROUTER (aggregator) socket before
 * connect/bind. Returns MM_OK or MM_ERR_IO. */
int mm_zsock_setup(void *sock, int role);

/* Milliseconds of CLOCK_MONOTONIC (mm_monotonic_ms), signed: the event path
 * computes deadlines and differences with it. */
static inline int64_t
mm_agg_now_ms(void)
{
	return (int64_t)mm_monotonic_ms();
}

#endif
