/*
 * Test plugins for the host's integration tests, one source built several
 * ways (see tests/integration/host.cmake):
 *   counter_a, counter_b  emit count events numbered 1..count (attrs.n) at
 *                         rate_per_sec, labelled with label
 *   crasher               like counter, but raises SIGSEGV after every
 *                         crash_every events of its own life
 *   hanger                emits, then blocks its thread forever after
 *                         hang_after_ms
 *   bad_abi, too_small, no_entry, null_entry   descriptors the host refuses
 * They run in worker processes like any vendor plugin.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mimamori/plugin.h>

#ifndef TP_NAME
#define TP_NAME "counter_a"
#endif

struct tp {
	int64_t next;
	int64_t count;
	int64_t per_tick;
	int64_t crash_every;
	int64_t hang_after_ms;
	int64_t emitted_life;
	uint64_t started_ns;
	const char *label;
	int timer;
};

static const struct mm_cfg_key tp_config[] = {
        {"count", MM_CFG_INT, "1000", 0, 100000000, 0, "Events to emit (0: forever)."},
        {"rate_per_sec", MM_CFG_INT, "1000", 1, 10000000, 0, "Events per second."},
        {"label", MM_CFG_STRING, "one", 0, -1, 0, "Copied into every event (attrs.label)."},
        {"crash_every", MM_CFG_INT, "0", 0, 100000000, 0, "crasher: SIGSEGV after this many."},
        {"hang_after_ms", MM_CFG_INT, "0", 0, 100000000, 0, "hanger: block after this long."},
        {"start_at", MM_CFG_INT, "1", 1, 100000000, 0, "First number."},
        {NULL, 0, NULL, 0, 0, 0, NULL}};

static void
emit_one(struct mm_ctx *ctx, struct tp *t)
{
	struct mm_event *ev = mm_ev_new(ctx, MM_KIND_ALERT);

	if (ev == NULL)
		return;
	mm_ev_int(ctx, ev, "ocsf", MM_OCSF_DETECTION_FINDING);
	mm_ev_str(ctx, ev, "cat", "test");
	mm_ev_int(ctx, ev, "sev", MM_SEV_LOW);
	mm_ev_int(ctx, ev, "attrs.n", t->next);
	mm_ev_str(ctx, ev, "attrs.label", t->label);
	mm_ev_str(ctx, ev, "msg", "test event");
	mm_emit(ctx, ev);
	t->next++;
	t->emitted_life++;
	mm_counter_add(ctx, "emitted", 1);
}

static void
on_tick(struct mm_ctx *ctx, void *user)
{
	struct tp *t = ctx->data;
	int64_t i;

	(void)user;
	if (t->hang_after_ms &&
	    ctx->api->now_ns(ctx) - t->started_ns > (uint64_t)t->hang_after_ms * 1000000ull) {
		for (;;)
			pause(); /* a plugin stuck in a callback: only the watchdog helps */
	}
	for (i = 0; i < t->per_tick; i++) {
		if (t->count && t->next >= t->count + 1)
			return;
		if (t->crash_every && t->emitted_life >= t->crash_every)
			raise(SIGSEGV);
		emit_one(ctx, t);
	}
}

static int
tp_init(struct mm_ctx *ctx)
{
	struct tp *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return MM_ERR_NOMEM;
	t->count = mm_cfg_int(ctx, "count");
	t->per_tick = mm_cfg_int(ctx, "rate_per_sec") / 100;
	if (t->per_tick < 1)
		t->per_tick = 1;
	t->crash_every = mm_cfg_int(ctx, "crash_every");
	t->hang_after_ms = mm_cfg_int(ctx, "hang_after_ms");
	t->label = mm_cfg_str(ctx, "label");
	t->next = mm_cfg_int(ctx, "start_at");
	ctx->data = t;
	return MM_OK;
}

static int
tp_start(struct mm_ctx *ctx)
{
	struct tp *t = ctx->data;

	t->started_ns = ctx->api->now_ns(ctx);
	t->timer = ctx->api->timer_add(ctx, 10, 1, on_tick, NULL);
	return t->timer >= 0 ? MM_OK : t->timer;
}

static void
tp_stop(struct mm_ctx *ctx)
{
	struct tp *t = ctx->data;

	ctx->api->timer_cancel(ctx, t->timer);
}

static void
tp_fini(struct mm_ctx *ctx)
{
	free(ctx->data);
}

#ifdef TP_TOO_SMALL_SIZE
#define TP_SIZE 24
#else
#define TP_SIZE sizeof(struct mm_plugin)
#endif
#ifdef TP_BAD_ABI
#define TP_ABI ((uint32_t)((MM_ABI_MAJOR + 1) << 16))
#else
#define TP_ABI MM_ABI_VERSION
#endif

static const struct mm_plugin tp_plugin = {
        .abi_version = TP_ABI,
        .size = TP_SIZE,
        .name = TP_NAME,
        .version = "0.0.1",
        .vendor = "mimamori-tests",
        .description = "Emits numbered test events.",
        .roles = MM_ROLE_UTM | MM_ROLE_PC,
        .caps = 0,
        .config = tp_config,
        .init = tp_init,
        .start = tp_start,
        .stop = tp_stop,
        .fini = tp_fini,
};

#ifndef TP_NO_ENTRY
MM_PLUGIN_EXPORT const struct mm_plugin *
mm_plugin_entry(void)
{
#ifdef TP_NULL_ENTRY
	(void)tp_plugin;
	return NULL;
#else
	return &tp_plugin;
#endif
}
#else
/* Exported under another name: the host must not find an entry point. */
MM_PLUGIN_EXPORT const struct mm_plugin *mm_plugin_entry_v0(void);

MM_PLUGIN_EXPORT const struct mm_plugin *
mm_plugin_entry_v0(void)
{
	return &tp_plugin;
}
#endif
