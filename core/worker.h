/*
 * The worker process and the pieces of it the in-process mode reuses.
 */
#ifndef MM_CORE_WORKER_H
#define MM_CORE_WORKER_H

#include "buf.h"
#include "host.h"

struct mm_transport;
struct mm_transport_counters;

int mm_worker_main(int argc, char **argv);

/* SIGTERM/SIGINT/SIGHUP handlers without SA_RESTART, and their flags. */
void mm_worker_signals(void);
int mm_worker_stop_requested(void);
int mm_worker_take_hup(void);

/* Outlet sending encoded events through an acknowledged transport. */
struct mm_outlet *mm_outlet_transport_new(struct mm_transport *t);
void mm_outlet_transport_free(struct mm_outlet *o);

/* Heartbeat message: {"hb": seq, "counters": {...}, "transport": {...}}. */
int mm_heartbeat_encode(struct mm_buf *out, uint64_t seq, const struct mm_module *m,
                        const struct mm_transport_counters *tc);

#endif
