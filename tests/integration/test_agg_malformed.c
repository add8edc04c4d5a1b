/*
 * Malformed and oversized messages on the aggregator's socket are answered
 * with a refusal, counted, and the aggregator keeps serving: good events of
 * a batch with one bad event are stored, and a normal producer afterwards
 * gets everything acknowledged.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "agg_testlib.h"
#include "event.h"
#include "mimamori/error.h"
#include "wire.h"

static void *zctx, *sock;

static void
good_event(struct mm_buf *out, int i)
{
	struct mm_event *ev = mm_event_create(MM_KIND_ALERT);
	struct mm_event_stamp st;
	char msg[32];

	memset(&st, 0, sizeof(st));
	st.ts_ns = 1700000000000000000ull + (uint64_t)i;
	st.seq = (uint64_t)i;
	st.plugin_name = "raw";
	snprintf(msg, sizeof(msg), "raw %d", i);
	mm_event_set_str(ev, "msg", msg);
	mm_buf_reset(out);
	ck_assert_int_eq(mm_event_stamp(ev, &st), MM_OK);
	ck_assert_int_eq(mm_event_encode(ev, out), MM_OK);
	mm_event_free(ev);
}

/* Send one frame (or two with more), return the ack status (-1: none). */
static int
exchange(const void *data, size_t len, const void *more, size_t morelen, uint32_t *nrej)
{
	zmq_msg_t m;
	struct mm_wire_ack a;
	zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
	int status = -1;

	ck_assert_int_ge(zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0), 0);
	if (more)
		ck_assert_int_ge(zmq_send(sock, more, morelen, 0), 0);
	if (zmq_poll(&it, 1, 10000) != 1)
		return -1;
	zmq_msg_init(&m);
	ck_assert_int_ge(zmq_msg_recv(&m, sock, 0), 0);
	if (mm_wire_parse_ack(&a, zmq_msg_data(&m), zmq_msg_size(&m)) == MM_OK) {
		status = a.status;
		if (nrej)
			*nrej = a.nrej;
	}
	zmq_msg_close(&m);
	return status;
}

START_TEST(test_malformed_and_oversized)
{
	struct agg_env e;
	struct mm_buf b = MM_BUF_INIT, ev = MM_BUF_INIT;
	uint8_t *big;
	uint32_t nrej = 99;
	pid_t agg;
	char ids[400], prog[400];
	int i;

	agg_env_init(&e, "sinks = { file = { enabled = false; }; };");
	agg = agg_start_aggregator(&e);
	zctx = zmq_ctx_new();
	sock = zmq_socket(zctx, ZMQ_DEALER);
	ck_assert_int_eq(zmq_connect(sock, e.endpoint), 0);

	/* 1: garbage. 2: wrong magic. 3: truncated batch. 4: two frames. */
	ck_assert_int_eq(exchange("hello", 5, NULL, 0, NULL), MM_WIRE_MALFORMED);
	good_event(&ev, 1);
	mm_wire_batch_begin(&b, 7, "raw");
	mm_wire_put_event(&b, ev.data, ev.len);
	mm_wire_batch_end(&b, 1);
	b.data[0] = 'X';
	ck_assert_int_eq(exchange(b.data, b.len, NULL, 0, NULL), MM_WIRE_MALFORMED);
	b.data[0] = 'M';
	ck_assert_int_eq(exchange(b.data, b.len - 3, NULL, 0, NULL), MM_WIRE_MALFORMED);
	ck_assert_int_eq(exchange(b.data, b.len, "x", 1, NULL), MM_WIRE_MALFORMED);
	/* 5: a frame over the batch limit, 6: an event length over the event
	 * limit. */
	big = calloc(1, MM_WIRE_MAX_BATCH_BYTES + 100);
	memcpy(big, b.data, b.len);
	ck_assert_int_eq(exchange(big, MM_WIRE_MAX_BATCH_BYTES + 100, NULL, 0, NULL),
	                 MM_WIRE_MALFORMED);
	{
		uint8_t hdr[64];
		size_t hl = mm_wire_batch_header_len("raw");
		uint32_t huge = MM_EVENT_MAX_BYTES + 1;
		memcpy(hdr, b.data, hl);
		memcpy(hdr + hl, &huge, 4); /* little-endian host */
		ck_assert_int_eq(exchange(hdr, hl + 4, NULL, 0, NULL), MM_WIRE_MALFORMED);
	}
	free(big);
	/* 7: three events, the middle one not an event: two stored, one
	 * rejected by index. */
	mm_wire_batch_begin(&b, 8, "raw");
	good_event(&ev, 2);
	mm_wire_put_event(&b, ev.data, ev.len);
	mm_wire_put_event(&b, (const uint8_t *)"\x81\xa1v\x09", 4);
	good_event(&ev, 3);
	mm_wire_put_event(&b, ev.data, ev.len);
	mm_wire_batch_end(&b, 3);
	ck_assert_int_eq(exchange(b.data, b.len, NULL, 0, &nrej), MM_WIRE_OK);
	ck_assert_uint_eq(nrej, 1);
	/* The same batch again: all duplicates, still OK. */
	ck_assert_int_eq(exchange(b.data, b.len, NULL, 0, &nrej), MM_WIRE_OK);

	/* Still serving: a real producer gets everything acked. */
	snprintf(ids, sizeof(ids), "%s/ids", e.root);
	snprintf(prog, sizeof(prog), "%s/prog", e.root);
	{
		const char *a[] = {"produce", e.endpoint, "after", "1000", ids, prog, NULL};
		ck_assert_int_eq(agg_wait(agg_spawn(&e, "prod.log", a), 60000), 0);
	}
	ck_assert_int_eq(agg_wait_stat(&e, "in.events", 1002, 5000), 1002);
	ck_assert_int_eq(agg_stat(&e, "drops.malformed_msgs"), 4);
	ck_assert_int_eq(agg_stat(&e, "drops.oversized_msgs"), 2);
	ck_assert_int_eq(agg_stat(&e, "drops.rejected_events"), 2);
	ck_assert_int_eq(agg_stat(&e, "in.duplicates"), 2);
	/* A health event reports the rejections. */
	ck_assert_int_ge(agg_wait_stat(&e, "health_events", 1, 5000), 1);
	zmq_close(sock);
	zmq_ctx_term(zctx);
	ck_assert_int_eq(agg_stop(agg), 0);
	for (i = 0; i < 1; i++) {
		const char *a[] = {"events", e.conf, "tail", "--kind", "health", NULL};
		struct agg_lines l;
		char path[400];
		memset(&l, 0, sizeof(l));
		ck_assert_int_eq(agg_wait(agg_spawn(&e, "tail.out", a), 20000), 0);
		snprintf(path, sizeof(path), "%s/tail.out", e.root);
		agg_read_lines(&l, path);
		ck_assert_int_ge((long)l.n, 1);
		ck_assert_ptr_nonnull(strstr(l.v[l.n - 1], "\"malformed_msgs\":4"));
		ck_assert_ptr_nonnull(strstr(l.v[l.n - 1], "\"kind\":\"health\""));
		agg_lines_free(&l);
	}
	mm_buf_free(&b);
	mm_buf_free(&ev);
	agg_env_cleanup(&e);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("agg_malformed");
	TCase *tc = tcase_create("malformed");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_malformed_and_oversized);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
