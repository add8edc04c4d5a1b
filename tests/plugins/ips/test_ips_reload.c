/*
 * Check suite for rule reload and rate_filter of the ips core library,
 * driven with a real capture (http_google.pcapng): swapping the rule set in
 * the middle of a capture (what SIGHUP does) keeps the flow table, so a
 * flow:established rule of the new set matches the connection that was
 * opened under the old one; a rate_filter from a threshold.config file
 * changes the action to drop once its rate is exceeded, and in inline mode
 * those packets get a drop verdict.
 */
#include <check.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ips_engine.h"
#include "ips_rule.h"
#include "mimamori/error.h"

struct got {
	int n;
	uint32_t sid[256];
	int action[256];
};

static void
on_alert(void *user, const struct ips_alert *a)
{
	struct got *g = user;

	if (a->kind != IPS_AK_RULE || g->n >= 256)
		return;
	g->sid[g->n] = a->rule->sid;
	g->action[g->n] = a->action;
	g->n++;
}

static const char *
capture(void)
{
	static char buf[1024];
	const char *d = getenv("MM_TEST_DATA");

	snprintf(buf, sizeof(buf), "%s/chrissanders-packets/http_google.pcapng",
	         d ? d : "tests/data");
	return buf;
}

static struct ips_ruleset *
ruleset(const char *text)
{
	struct ips_ruleset *rs = NULL;
	struct ips_vars v;
	char *copy = strdup(text), *line, *save = NULL;

	ck_assert_int_eq(ips_vars_init(&v), MM_OK);
	ck_assert_int_eq(ips_ruleset_new(&rs), MM_OK);
	ips_ruleset_default_classes(rs);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		ck_assert_int_eq(ips_ruleset_add_line(rs, &v, line, "test", 1), MM_OK);
	ck_assert_uint_eq(rs->skipped, 0);
	free(copy);
	ips_vars_free(&v);
	return rs;
}

/* Feed the capture; before packet number swap_at (1-based), install
 * next (if any). Returns the packets with a drop verdict; *ntcp counts
 * TCP packets. */
static int
feed(struct ips_engine *e, int swap_at, struct ips_ruleset *next, int *ntcp)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(capture(), err);
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t ts = 0;
	int n = 0, drops = 0;

	ck_assert_msg(pc != NULL, "%s", err);
	*ntcp = 0;
	while (pcap_next_ex(pc, &h, &d) == 1) {
		struct mm_packet p;
		if (++n == swap_at && next)
			ck_assert_int_eq(ips_engine_set_rules(e, next), MM_OK);
		ts = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec * 1000ull;
		mm_packet_decode(&p, pcap_datalink(pc), ts, d, h->caplen, h->len);
		if (p.layers & MM_L_TCP)
			(*ntcp)++;
		drops += ips_engine_packet(e, &p, ts);
	}
	ips_engine_tick(e, ts, 1);
	pcap_close(pc);
	return drops;
}

START_TEST(reload_keeps_flows)
{
	struct got g;
	struct ips_engine *e = NULL;
	struct ips_engine_opts o;
	int ntcp, i, n100 = 0, n200 = 0;

	memset(&g, 0, sizeof(g));
	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(ips_engine_new(&e, &o, on_alert, &g), MM_OK);
	/* The old set never matches: "yahoo" is not in the capture. */
	ck_assert_int_eq(ips_engine_set_rules(e, ruleset("alert tcp any any -> any 80 "
	                                                 "(flow:established,to_server; "
	                                                 "content:\"yahoo\"; sid:100;)\n")),
	                 MM_OK);
	/* Swap after the handshake (packets 1-3 are SYN, SYN-ACK, ACK), as
	 * a SIGHUP in the middle of the connection would. */
	feed(e, 4,
	     ruleset("alert tcp any any -> any 80 (flow:established,to_server; content:\"GET\"; "
	             "depth:3; sid:200; rev:2;)\n"),
	     &ntcp);
	for (i = 0; i < g.n; i++) {
		n100 += g.sid[i] == 100;
		n200 += g.sid[i] == 200;
	}
	ck_assert_int_eq(n100, 0);
	ck_assert_int_eq(n200, 1);
	ck_assert_uint_eq(ips_engine_rules(e)->rules[0]->rev, 2);
	ips_engine_free(e);
}
END_TEST

START_TEST(reload_failure_keeps_old_rules)
{
	struct ips_ruleset *rs = NULL;
	struct ips_vars v;

	/* A rules file that cannot be read is an error for the loader; the
	 * plugin keeps its engine's rules (ips.c load_all returns before
	 * ips_engine_set_rules). */
	ck_assert_int_eq(ips_vars_init(&v), MM_OK);
	ck_assert_int_eq(ips_ruleset_new(&rs), MM_OK);
	ck_assert_int_eq(ips_ruleset_load_file(rs, &v, "/nonexistent/mimamori.rules"),
	                 MM_ERR_NOTFOUND);
	ips_ruleset_free(rs);
	ips_vars_free(&v);
}
END_TEST

static void
rate_filter_run(int inline_mode)
{
	struct got g;
	struct ips_engine *e = NULL;
	struct ips_engine_opts o;
	char path[] = "/tmp/mm-ips-thr-XXXXXX", err[256];
	int fd, ntcp, drops, i, nalert = 0, ndrop = 0;
	FILE *f;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fprintf(f, "# after 3 alerts within 60 s the rule drops\n"
	           "rate_filter gen_id 1, sig_id 500, track by_rule, count 3, seconds 60, "
	           "new_action drop, timeout 10\n");
	fclose(f);
	memset(&g, 0, sizeof(g));
	memset(&o, 0, sizeof(o));
	o.inline_mode = inline_mode;
	ck_assert_int_eq(ips_engine_new(&e, &o, on_alert, &g), MM_OK);
	ck_assert_int_eq(ips_engine_load_thresholds(e, path, err, sizeof(err)), MM_OK);
	unlink(path);
	ck_assert_int_eq(
	        ips_engine_set_rules(e, ruleset("alert tcp any any -> any any (sid:500;)\n")),
	        MM_OK);
	drops = feed(e, 0, NULL, &ntcp);
	ck_assert_int_gt(ntcp, 3);
	ck_assert_int_eq(g.n, ntcp);
	for (i = 0; i < g.n; i++) {
		ck_assert_uint_eq(g.sid[i], 500);
		if (g.action[i] == IPS_DROP)
			ndrop++;
		else if (g.action[i] == IPS_ALERT)
			nalert++;
		/* The first three are plain alerts, every later one drops. */
		ck_assert_int_eq(g.action[i], i < 3 ? IPS_ALERT : IPS_DROP);
	}
	ck_assert_int_eq(nalert, 3);
	ck_assert_int_eq(ndrop, ntcp - 3);
	ck_assert_int_eq(drops, inline_mode ? ntcp - 3 : 0);
	ck_assert_uint_eq(ips_engine_stats(e)->drops, (uint64_t)(inline_mode ? ntcp - 3 : 0));
	ips_engine_free(e);
}

START_TEST(rate_filter_inline)
{
	rate_filter_run(1);
}
END_TEST

START_TEST(rate_filter_passive)
{
	rate_filter_run(0);
}
END_TEST

START_TEST(threshold_file_errors)
{
	struct ips_engine *e = NULL;
	char path[] = "/tmp/mm-ips-thr-XXXXXX", err[256];
	int fd;
	FILE *f;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fprintf(f, "rate_filter gen_id 1, sig_id 500, track by_rule, count 0, new_action drop\n");
	fclose(f);
	ck_assert_int_eq(ips_engine_new(&e, NULL, on_alert, NULL), MM_OK);
	ck_assert_int_eq(ips_engine_load_thresholds(e, path, err, sizeof(err)), MM_ERR_PARSE);
	ck_assert_ptr_nonnull(strstr(err, ":1: bad threshold line"));
	unlink(path);
	ips_engine_free(e);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("ips_reload");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, reload_keeps_flows);
	tcase_add_test(tc, reload_failure_keeps_old_rules);
	tcase_add_test(tc, rate_filter_inline);
	tcase_add_test(tc, rate_filter_passive);
	tcase_add_test(tc, threshold_file_errors);
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
