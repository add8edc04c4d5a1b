/*
 * The single-threaded event loop every host process runs: timers and file
 * descriptor watches over poll(). In replay the loop runs on a virtual
 * clock advanced by packet time, so plugin timers fire as they would have
 * when the capture was taken.
 */
#ifndef MM_CORE_LOOP_H
#define MM_CORE_LOOP_H

#include <stdint.h>

#include "mimamori/plugin.h"

struct mm_loop;

struct mm_loop *mm_loop_new(void);
void mm_loop_free(struct mm_loop *l);

/* Timers and watches belong to an owner (a module's ctx, or NULL for the
 * host) so that stopping a module removes everything it left behind. */
int mm_loop_timer_add(struct mm_loop *l, struct mm_ctx *owner, uint64_t interval_ms, int repeat,
                      mm_timer_cb cb, void *user);
int mm_loop_timer_cancel(struct mm_loop *l, int id);
int mm_loop_fd_add(struct mm_loop *l, struct mm_ctx *owner, int fd, unsigned events, mm_fd_cb cb,
                   void *user);
int mm_loop_fd_remove(struct mm_loop *l, int id);
void mm_loop_remove_owner(struct mm_loop *l, struct mm_ctx *owner);

/* Wait at most max_wait_ms (-1: until something happens) and dispatch. */
int mm_loop_run_once(struct mm_loop *l, int max_wait_ms);

/* Virtual clock (replay): from now on time only moves by mm_loop_advance,
 * which fires every timer due up to now_ms in order. */
void mm_loop_set_virtual(struct mm_loop *l, uint64_t now_ms);
void mm_loop_advance(struct mm_loop *l, uint64_t now_ms);
uint64_t mm_loop_now_ms(const struct mm_loop *l);
/* Milliseconds until the next timer, -1 when none. */
int mm_loop_next_timer_ms(const struct mm_loop *l);

#endif
