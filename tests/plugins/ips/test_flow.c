/*
 * Check suite for the SDK flow table (sdk/src/flow.c): TCP outcomes
 * (completed, refused by RST or ICMP, unanswered), the flow cap, and
 * in-order stream reassembly with retransmissions, reordering and gaps.
 * Packets are built field by field as the decoder would fill them.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mimamori/error.h"
#include "mimamori/flow.h"

#define S 1000000000ull

struct rec {
	char data[2][256];
	size_t len[2];
	size_t gaps[2];
	int ends;
	int last_outcome;
	int last_reason;
};

static void
on_data(void *user, struct mm_flow *f, int dir, const uint8_t *d, size_t len)
{
	struct rec *r = user;
	size_t i;

	if (d == NULL) {
		r->gaps[dir] += len;
		for (i = 0; i < len && r->len[dir] < sizeof(r->data[0]) - 1; i++)
			r->data[dir][r->len[dir]++] = '?';
		return;
	}
	for (i = 0; i < len && r->len[dir] < sizeof(r->data[0]) - 1; i++)
		r->data[dir][r->len[dir]++] = (char)d[i];
}

static void
on_end(void *user, struct mm_flow *f, int reason)
{
	struct rec *r = user;

	r->ends++;
	r->last_outcome = f->outcome;
	r->last_reason = reason;
}

static struct mm_packet
tcp(const char *src, uint16_t sp, const char *dst, uint16_t dp, uint8_t flags, uint32_t seq,
    const char *payload)
{
	struct mm_packet p;

	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.layers = MM_L_ETH | MM_L_IPV4 | MM_L_TCP;
	p.ip_version = 4;
	p.ip_proto = 6;
	ck_assert_int_eq(mm_addr_parse(&p.src, src), MM_OK);
	ck_assert_int_eq(mm_addr_parse(&p.dst, dst), MM_OK);
	p.sport = sp;
	p.dport = dp;
	p.tcp_flags = flags;
	p.tcp_seq = seq;
	if (payload) {
		p.payload = (const uint8_t *)payload;
		p.payload_len = (uint32_t)strlen(payload);
	}
	return p;
}

static struct mm_flow_table *
table(struct rec *r, uint32_t max, int reasm, uint32_t window)
{
	struct mm_flow_table *t = NULL;
	struct mm_flow_table_opts o;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.max_flows = max;
	o.reassemble = reasm;
	o.stream_window = window;
	o.on_data = on_data;
	o.on_end = on_end;
	o.user = r;
	ck_assert_int_eq(mm_flow_table_new(&t, &o), MM_OK);
	return t;
}

START_TEST(handshake_completed)
{
	struct rec r = {0};
	struct mm_flow_table *t = table(&r, 0, 0, 0);
	struct mm_flow *f = NULL, *f2 = NULL;
	int dir = -1;
	struct mm_packet p;

	p = tcp("10.0.0.1", 40000, "10.0.0.2", 80, MM_TCP_SYN, 100, NULL);
	ck_assert_int_eq(mm_flow_table_update(&f, &dir, t, &p, 1 * S), MM_OK);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(dir, MM_FLOW_TO_SERVER);
	ck_assert_int_eq(f->state, MM_FLOW_NEW);
	ck_assert_int_eq(f->srv_port, 80);
	p = tcp("10.0.0.2", 80, "10.0.0.1", 40000, MM_TCP_SYN | MM_TCP_ACK, 5000, NULL);
	ck_assert_int_eq(mm_flow_table_update(&f2, &dir, t, &p, 1 * S + 10), MM_OK);
	ck_assert_ptr_eq(f, f2);
	ck_assert_int_eq(dir, MM_FLOW_TO_CLIENT);
	ck_assert_int_eq(f->state, MM_FLOW_SYN_ACKED);
	ck_assert_int_eq(f->outcome, MM_FLOW_COMPLETED);
	p = tcp("10.0.0.1", 40000, "10.0.0.2", 80, MM_TCP_ACK, 101, NULL);
	mm_flow_table_update(&f2, &dir, t, &p, 1 * S + 20);
	ck_assert_int_eq(f->state, MM_FLOW_ESTABLISHED);
	ck_assert_uint_eq(mm_flow_table_stats(t)->flows_created, 1);
	mm_flow_table_free(t);
	ck_assert_int_eq(r.ends, 1);
	ck_assert_int_eq(r.last_reason, MM_FLOW_END_FLUSH);
}
END_TEST

START_TEST(refused_rst_and_icmp)
{
	struct rec r = {0};
	struct mm_flow_table *t = table(&r, 0, 0, 0);
	struct mm_flow *f = NULL, *g = NULL;
	struct mm_packet p;

	p = tcp("10.0.0.1", 40001, "10.0.0.2", 23, MM_TCP_SYN, 1, NULL);
	mm_flow_table_update(&f, NULL, t, &p, 1 * S);
	p = tcp("10.0.0.2", 23, "10.0.0.1", 40001, MM_TCP_RST | MM_TCP_ACK, 0, NULL);
	mm_flow_table_process(t, &p, 1 * S);
	ck_assert_int_eq(f->outcome, MM_FLOW_REFUSED_RST);
	ck_assert_int_eq(f->state, MM_FLOW_REFUSED);

	p = tcp("10.0.0.1", 40002, "10.0.0.3", 25, MM_TCP_SYN, 1, NULL);
	mm_flow_table_update(&g, NULL, t, &p, 2 * S);
	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.layers = MM_L_IPV4 | MM_L_ICMP | MM_L_ICMP_INNER;
	p.ip_proto = 1;
	mm_addr_parse(&p.src, "10.0.0.254");
	mm_addr_parse(&p.dst, "10.0.0.1");
	p.icmp_type = 3;
	p.icmp_code = 1;
	p.icmp_inner.ip_proto = 6;
	mm_addr_parse(&p.icmp_inner.src, "10.0.0.1");
	mm_addr_parse(&p.icmp_inner.dst, "10.0.0.3");
	p.icmp_inner.sport = 40002;
	p.icmp_inner.dport = 25;
	mm_flow_table_process(t, &p, 2 * S + 5);
	ck_assert_int_eq(g->outcome, MM_FLOW_REFUSED_ICMP);
	ck_assert_uint_eq(mm_flow_table_stats(t)->icmp_matched, 1);
	ck_assert_uint_eq(mm_flow_table_stats(t)->flows_created, 2);
	mm_flow_table_free(t);
}
END_TEST

START_TEST(unanswered_expires)
{
	struct rec r = {0};
	struct mm_flow_table *t = table(&r, 0, 0, 0);
	struct mm_packet p;

	p = tcp("10.0.0.1", 40003, "10.0.0.9", 445, MM_TCP_SYN, 1, NULL);
	mm_flow_table_process(t, &p, 100 * S);
	ck_assert_uint_eq(mm_flow_table_expire(t, 110 * S), 0);
	ck_assert_uint_eq(mm_flow_table_expire(t, 131 * S), 1);
	ck_assert_int_eq(r.ends, 1);
	ck_assert_int_eq(r.last_outcome, MM_FLOW_UNANSWERED);
	ck_assert_int_eq(r.last_reason, MM_FLOW_END_TIMEOUT);
	ck_assert_uint_eq(mm_flow_table_stats(t)->flows_active, 0);
	mm_flow_table_free(t);
	ck_assert_int_eq(r.ends, 1);
}
END_TEST

START_TEST(cap_evicts_and_counts)
{
	struct rec r = {0};
	struct mm_flow_table *t = table(&r, 4, 0, 0);
	struct mm_packet p;
	uint16_t i;

	for (i = 0; i < 10; i++) {
		p = tcp("10.0.0.1", (uint16_t)(1000 + i), "10.0.0.2", 80, MM_TCP_SYN, 1, NULL);
		mm_flow_table_process(t, &p, 1 * S + i);
	}
	ck_assert_uint_eq(mm_flow_table_stats(t)->flows_active, 4);
	ck_assert_uint_eq(mm_flow_table_stats(t)->flows_evicted, 6);
	ck_assert_int_eq(r.ends, 6);
	ck_assert_int_eq(r.last_reason, MM_FLOW_END_EVICTED);
	mm_flow_table_free(t);
	ck_assert_int_eq(r.ends, 10);
}
END_TEST

/* The bucket array starts small and doubles as flows arrive: every flow
 * must still be found by the packets of both directions afterwards. */
START_TEST(many_flows_grow_and_stay_found)
{
	enum { N = 5000 };
	struct rec r = {0};
	struct mm_flow_table *t = table(&r, 0, 0, 0);
	static struct mm_flow *seen[N];
	struct mm_packet p;
	char src[32];
	int i, dir;

	for (i = 0; i < N; i++) {
		snprintf(src, sizeof(src), "10.1.%d.%d", i / 250, i % 250 + 1);
		p = tcp(src, (uint16_t)(20000 + i), "10.0.0.9", 445, MM_TCP_SYN, 1, NULL);
		ck_assert_int_eq(mm_flow_table_update(&seen[i], &dir, t, &p, 1 * S + (uint64_t)i),
		                 MM_OK);
		ck_assert_ptr_nonnull(seen[i]);
		ck_assert_int_eq(dir, MM_FLOW_TO_SERVER);
	}
	for (i = N - 1; i >= 0; i--) {
		struct mm_flow *f = NULL;
		snprintf(src, sizeof(src), "10.1.%d.%d", i / 250, i % 250 + 1);
		p = tcp("10.0.0.9", 445, src, (uint16_t)(20000 + i), MM_TCP_SYN | MM_TCP_ACK, 7,
		        NULL);
		ck_assert_int_eq(mm_flow_table_update(&f, &dir, t, &p, 2 * S + (uint64_t)i), MM_OK);
		ck_assert_ptr_eq(f, seen[i]);
		ck_assert_int_eq(dir, MM_FLOW_TO_CLIENT);
		ck_assert_uint_eq(f->pkts[MM_FLOW_TO_CLIENT], 1);
	}
	ck_assert_uint_eq(mm_flow_table_stats(t)->flows_created, N);
	ck_assert_uint_eq(mm_flow_table_stats(t)->flows_active, N);
	mm_flow_table_free(t);
	ck_assert_int_eq(r.ends, N);
}
END_TEST

START_TEST(reassembly_in_order)
{
	struct rec r = {0};
	struct mm_flow_table *t = table(&r, 0, 1, 64);
	struct mm_packet p;

	p = tcp("10.0.0.1", 5000, "10.0.0.2", 25, MM_TCP_SYN, 999, NULL);
	mm_flow_table_process(t, &p, S);
	p = tcp("10.0.0.2", 25, "10.0.0.1", 5000, MM_TCP_SYN | MM_TCP_ACK, 49, NULL);
	mm_flow_table_process(t, &p, S);
	p = tcp("10.0.0.2", 25, "10.0.0.1", 5000, MM_TCP_ACK | MM_TCP_PSH, 50, "220 hi\r\n");
	mm_flow_table_process(t, &p, S);
	/* Client: "HELO a\r\nMAIL x\r\n" sent as three segments out of order
	 * with an overlapping retransmission. */
	p = tcp("10.0.0.1", 5000, "10.0.0.2", 25, MM_TCP_ACK, 1008, "MAIL x\r\n");
	mm_flow_table_process(t, &p, S);
	ck_assert_uint_eq(r.len[0], 0);
	p = tcp("10.0.0.1", 5000, "10.0.0.2", 25, MM_TCP_ACK, 1000, "HELO");
	mm_flow_table_process(t, &p, S);
	p = tcp("10.0.0.1", 5000, "10.0.0.2", 25, MM_TCP_ACK, 1002, "LO a\r\n");
	mm_flow_table_process(t, &p, S);
	p = tcp("10.0.0.1", 5000, "10.0.0.2", 25, MM_TCP_ACK, 1000, "HELO");
	mm_flow_table_process(t, &p, S);
	ck_assert_str_eq(r.data[0], "HELO a\r\nMAIL x\r\n");
	ck_assert_str_eq(r.data[1], "220 hi\r\n");
	ck_assert_uint_eq(r.gaps[0], 0);
	mm_flow_table_free(t);
}
END_TEST

START_TEST(reassembly_gap_beyond_window)
{
	struct rec r = {0};
	struct mm_flow_table *t = table(&r, 0, 1, 16);
	struct mm_flow *f = NULL;
	struct mm_packet p;

	p = tcp("10.0.0.1", 5001, "10.0.0.2", 110, MM_TCP_SYN, 0, NULL);
	mm_flow_table_process(t, &p, S);
	p = tcp("10.0.0.1", 5001, "10.0.0.2", 110, MM_TCP_ACK, 1, "ab");
	mm_flow_table_process(t, &p, S);
	/* 100 bytes missing: more than the window, so the stream skips. */
	p = tcp("10.0.0.1", 5001, "10.0.0.2", 110, MM_TCP_ACK, 103, "cd");
	mm_flow_table_update(&f, NULL, t, &p, S);
	ck_assert_uint_eq(r.gaps[0], 100);
	ck_assert_uint_eq(r.len[0], 104);
	ck_assert_uint_eq(f->stream_gaps[0], 1);
	ck_assert_uint_eq(mm_flow_table_stats(t)->stream_window_hits, 1);
	ck_assert_int_eq(memcmp(r.data[0] + 102, "cd", 2), 0);
	/* Buffered data is delivered with its gap when the flow ends. */
	p = tcp("10.0.0.1", 5001, "10.0.0.2", 110, MM_TCP_ACK, 110, "zz");
	mm_flow_table_process(t, &p, S);
	ck_assert_uint_eq(mm_flow_table_stats(t)->stream_buffered, 2);
	mm_flow_table_free(t);
	ck_assert_uint_eq(r.len[0], 111);
	ck_assert_uint_eq(r.gaps[0], 105);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("flow");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, handshake_completed);
	tcase_add_test(tc, refused_rst_and_icmp);
	tcase_add_test(tc, unanswered_expires);
	tcase_add_test(tc, cap_evicts_and_counts);
	tcase_add_test(tc, many_flows_grow_and_stay_found);
	tcase_add_test(tc, reassembly_in_order);
	tcase_add_test(tc, reassembly_gap_beyond_window);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
