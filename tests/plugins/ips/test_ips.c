/*
 * Check suite for the ips core library driven with real captures: rule
 * loading (ET Open and Snort 3 community summaries), the SYN scan, a C&C
 * reputation hit, DNS/TLS/HTTP names in alerts, content modifiers and
 * thresholds. Packets are read with libpcap and decoded by the SDK.
 */
#include <check.h>
#include <pcap/pcap.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ips_engine.h"
#include "ips_rep.h"
#include "ips_rule.h"
#include "mimamori/error.h"

#define MAXA 64

struct got {
	int n, nscan, nrep, nrule;
	struct ips_alert a[MAXA];
	char scan_src[MM_ADDR_STRLEN];
	uint32_t scan_ports;
	char scan_type[32];
	char rep_cat[32], rep_ind[64];
	char names[MAXA][128];
	uint32_t sids[MAXA];
	int per_sid[128]; /* alerts of rules with sid < 128, all of them */
};

static void
on_alert(void *user, const struct ips_alert *a)
{
	struct got *g = user;

	if (g->n < MAXA) {
		g->a[g->n] = *a;
		g->names[g->n][0] = 0;
		if (a->dns_query)
			snprintf(g->names[g->n], 128, "dns:%s", a->dns_query);
		else if (a->sni)
			snprintf(g->names[g->n], 128, "sni:%s", a->sni);
		else if (a->host)
			snprintf(g->names[g->n], 128, "host:%s", a->host);
		g->sids[g->n] = a->rule ? a->rule->sid : 0;
	}
	if (a->rule && a->rule->sid < 128)
		g->per_sid[a->rule->sid]++;
	g->n++;
	if (a->kind == IPS_AK_SCAN) {
		g->nscan++;
		mm_addr_format(g->scan_src, &a->src);
		g->scan_ports = a->scan_ports;
		snprintf(g->scan_type, sizeof(g->scan_type), "%s", a->scan_type);
	} else if (a->kind == IPS_AK_REP) {
		g->nrep++;
		snprintf(g->rep_cat, sizeof(g->rep_cat), "%s", a->cat);
		snprintf(g->rep_ind, sizeof(g->rep_ind), "%s", a->rep_indicator);
	} else {
		g->nrule++;
	}
}

static char *
data_path(const char *rel)
{
	static char buf[4][1024];
	static int i;
	const char *d = getenv("MM_TEST_DATA");

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", d ? d : "tests/data", rel);
	return buf[i];
}

/* Decode every packet of a capture and hand it to fn; returns the time
 * of the last one. */
static uint64_t
each_packet(const char *path, void (*fn)(void *, const struct mm_packet *, uint64_t), void *user)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(path, err);
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t ts = 0;

	ck_assert_msg(pc != NULL, "%s: %s", path, err);
	while (pcap_next_ex(pc, &h, &d) == 1) {
		struct mm_packet p;
		ts = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec * 1000ull;
		mm_packet_decode(&p, pcap_datalink(pc), ts, d, h->caplen, h->len);
		fn(user, &p, ts);
	}
	pcap_close(pc);
	return ts;
}

static void
to_engine(void *e, const struct mm_packet *p, uint64_t ts)
{
	ips_engine_packet(e, p, ts);
}

static void
replay(struct ips_engine *e, const char *path)
{
	ips_engine_tick(e, each_packet(path, to_engine, e), 1);
}

static struct ips_engine *
engine(struct got *g, const char *rules, int scan)
{
	struct ips_engine *e = NULL;
	struct ips_engine_opts o;
	struct ips_ruleset *rs = NULL;
	struct ips_vars v;
	char *copy, *line, *save = NULL;

	memset(&o, 0, sizeof(o));
	o.scan_enabled = scan;
	ck_assert_int_eq(ips_engine_new(&e, &o, on_alert, g), MM_OK);
	if (rules) {
		ck_assert_int_eq(ips_vars_init(&v), MM_OK);
		ck_assert_int_eq(ips_ruleset_new(&rs), MM_OK);
		ips_ruleset_default_classes(rs);
		copy = strdup(rules);
		for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			ips_ruleset_add_line(rs, &v, line, "test", 1);
		free(copy);
		ck_assert_uint_eq(rs->skipped, 0);
		ck_assert_int_eq(ips_engine_set_rules(e, rs), MM_OK);
		ips_vars_free(&v);
	}
	return e;
}

START_TEST(synscan_one_alert)
{
	struct got g;
	struct ips_engine *e;

	memset(&g, 0, sizeof(g));
	e = engine(&g, NULL, 1);
	replay(e, data_path("chrissanders-packets/synscan.pcapng"));
	ck_assert_int_eq(g.nscan, 1);
	ck_assert_str_eq(g.scan_src, "172.16.0.8");
	/* tcpdump: 1000 distinct destination ports in the SYNs. */
	ck_assert_uint_eq(g.scan_ports, 1000);
	ck_assert_str_eq(g.scan_type, "portscan");
	ck_assert_uint_eq(g.a[0].scan_hosts, 1);
	ck_assert_uint_ge(g.a[0].scan_rejects, 990);
	ips_engine_free(e);
}
END_TEST

/* The port list of a scan alert (kept as a bitmap past 64 ports) lists
 * the SYNs' distinct destination ports in ascending order. */
START_TEST(synscan_port_list_in_order)
{
	struct got g;
	struct ips_engine *e;
	char err[PCAP_ERRBUF_SIZE], want[IPS_SCAN_PORTS_TEXT];
	static uint8_t seen[65536];
	pcap_t *pc;
	struct pcap_pkthdr *h;
	const u_char *d;
	size_t off = 0;
	unsigned n = 0;

	memset(seen, 0, sizeof(seen));
	pc = pcap_open_offline(data_path("chrissanders-packets/synscan.pcapng"), err);
	ck_assert_msg(pc != NULL, "%s", err);
	while (pcap_next_ex(pc, &h, &d) == 1) {
		struct mm_packet p;
		char src[MM_ADDR_STRLEN];
		mm_packet_decode(&p, pcap_datalink(pc), 0, d, h->caplen, h->len);
		if ((p.layers & MM_L_TCP) &&
		    (p.tcp_flags & (MM_TCP_SYN | MM_TCP_ACK)) == MM_TCP_SYN &&
		    strcmp(mm_addr_format(src, &p.src), "172.16.0.8") == 0)
			seen[p.dport] = 1;
	}
	pcap_close(pc);
	/* The alert's text holds as many ports as fit before ",...". */
	want[0] = 0;
	for (unsigned port = 0; port < 65536; port++) {
		if (!seen[port])
			continue;
		n++;
		if (off < 64)
			off += (size_t)snprintf(want + off, sizeof(want) - off, "%s%u",
			                        off ? "," : "", port);
	}
	ck_assert_uint_eq(n, 1000);
	memset(&g, 0, sizeof(g));
	e = engine(&g, NULL, 1);
	replay(e, data_path("chrissanders-packets/synscan.pcapng"));
	ck_assert_int_eq(g.nscan, 1);
	ck_assert_uint_eq(g.a[0].scan_ports, n);
	ck_assert_msg(strncmp(g.a[0].scan_port_list, want, off) == 0, "%s vs %s",
	              g.a[0].scan_port_list, want);
	ck_assert_ptr_nonnull(strstr(g.a[0].scan_port_list, ",..."));
	ips_engine_free(e);
}
END_TEST

START_TEST(cryptowall_c2_reputation)
{
	struct got g;
	struct ips_engine *e;
	struct ips_rep *rep = NULL;
	char path[] = "/tmp/mm-ips-rep-XXXXXX";
	int fd = mkstemp(path);
	size_t bad = 0;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_gt(write(fd, "# test list\n203.0.113.0/24,1,50\n184.170.149.44,1,100\n", 53),
	                 0);
	close(fd);
	memset(&g, 0, sizeof(g));
	e = engine(&g, NULL, 0);
	ck_assert_int_eq(ips_rep_new(&rep), MM_OK);
	ck_assert_int_eq(ips_rep_load_file(rep, path, "CnC", &bad), MM_OK);
	unlink(path);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(ips_rep_count(rep), 2);
	ips_engine_set_rep(e, rep);
	replay(e, data_path("chrissanders-packets/cryptowall4_c2.pcapng"));
	ck_assert_int_gt(g.nrep, 0);
	ck_assert_str_eq(g.rep_cat, "c2");
	ck_assert_str_eq(g.rep_ind, "184.170.149.44");
	ips_engine_free(e);
}
END_TEST

START_TEST(domain_suffix_match)
{
	struct ips_rep *rep = NULL;
	size_t off = 99;

	ck_assert_int_eq(ips_rep_new(&rep), MM_OK);
	ck_assert_int_eq(ips_rep_add_domain(rep, "wireshark.org", "sns"), MM_OK);
	ck_assert_str_eq(ips_rep_domain(rep, "www.WireShark.org", 17, &off), "sns");
	ck_assert_uint_eq(off, 4);
	ck_assert_ptr_null(ips_rep_domain(rep, "notwireshark.org", 16, NULL));
	ck_assert_str_eq(ips_rep_domain(rep, "wireshark.org:8080", 18, NULL), "sns");
	ips_rep_free(rep);
}
END_TEST

START_TEST(dns_query_name_and_domain_rep)
{
	struct got g;
	struct ips_engine *e;
	struct ips_rep *rep = NULL;

	memset(&g, 0, sizeof(g));
	e = engine(&g,
	           "alert dns any any -> any any (msg:\"q\"; dns.query; content:\"shark.or\"; "
	           "sid:10; rev:1;)\n"
	           "alert dns any any -> any any (msg:\"old\"; dns_query; content:\"WIRESHARK\"; "
	           "nocase; sid:11;)\n"
	           "alert dns any any -> any any (msg:\"neg\"; dns.query; content:\"google\"; "
	           "sid:12;)\n",
	           0);
	ck_assert_int_eq(ips_rep_new(&rep), MM_OK);
	ck_assert_int_eq(ips_rep_add_domain(rep, "wireshark.org", "phishing"), MM_OK);
	ips_engine_set_rep(e, rep);
	replay(e, data_path("chrissanders-packets/dns_query_response.pcapng"));
	/* dns.query inspects the request only (as in Suricata), though the
	 * response repeats the question: 10 and 11 once; reputation sees the
	 * name in both messages. */
	ck_assert_int_eq(g.nrule, 2);
	ck_assert_int_eq(g.nrep, 2);
	ck_assert_str_eq(g.names[0], "dns:wireshark.org");
	ck_assert_str_eq(g.rep_cat, "phishing");
	ips_engine_free(e);
}
END_TEST

START_TEST(http_host_and_uri)
{
	struct got g;
	struct ips_engine *e;
	int i, found = 0;

	memset(&g, 0, sizeof(g));
	e = engine(&g,
	           "alert http $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (msg:\"host\"; "
	           "flow:established,to_server; http.host; content:\"www.google.com\"; "
	           "startswith; endswith; http.uri; content:\"/\"; sid:20; rev:2; "
	           "classtype:policy-violation;)\n"
	           "alert tcp any any -> any 80 (msg:\"mod\"; content:\"GET\"; http_method; "
	           "content:\"google\"; http_host; sid:21;)\n"
	           "alert tcp any any -> any 80 (msg:\"no\"; content:\"GET\"; http_method; "
	           "content:\"yahoo\"; http_host; sid:22;)\n",
	           0);
	replay(e, data_path("chrissanders-packets/http_google.pcapng"));
	ck_assert_int_eq(g.nrule, 2);
	for (i = 0; i < g.n && i < MAXA; i++)
		if (g.sids[i] == 20) {
			found = 1;
			ck_assert_str_eq(g.names[i], "host:www.google.com");
			ck_assert_str_eq(g.a[i].cat, "policy");
			ck_assert_int_eq(g.a[i].sev, 4);
		}
	ck_assert(found);
	ips_engine_free(e);
}
END_TEST

START_TEST(tls_sni)
{
	struct got g;
	struct ips_engine *e;

	memset(&g, 0, sizeof(g));
	e = engine(&g,
	           "alert tls any any -> any any (tls.sni; content:\"ftp.nluug.nl\"; sid:1;)\n"
	           "alert tls any any -> any any (tls.sni; content:\"ftp.nluug.com\"; sid:2;)\n",
	           0);
	replay(e, data_path("suricata-verify/tests/bug-5758/input.pcap"));
	ck_assert_int_eq(g.nrule, 1);
	ck_assert_str_eq(g.names[0], "sni:ftp.nluug.nl");
	ips_engine_free(e);
}
END_TEST

START_TEST(content_modifiers_and_threshold)
{
	struct got g;
	struct ips_engine *e;

	/* The HTTP request is one packet: "GET / HTTP/1.1\r\nHost: www.google.com". */
	memset(&g, 0, sizeof(g));
	e = engine(&g,
	           "alert tcp any any -> any 80 (content:\"GET\"; depth:3; content:\"HTTP/1.1\"; "
	           "distance:3; within:8; sid:30;)\n"
	           "alert tcp any any -> any 80 (content:\"GET\"; depth:3; content:\"HTTP/1.1\"; "
	           "distance:0; within:5; sid:31;)\n"
	           "alert tcp any any -> any 80 (content:\"GET\"; offset:1; sid:32;)\n"
	           "alert tcp any any -> any 80 (content:\"|48 6f 73 74 3a|\"; "
	           "pcre:\"/^ www\\.google\\.com\\r$/mR\"; sid:33;)\n"
	           "alert tcp any any -> any 80 (content:\"Host\"; content:!\"yahoo\"; sid:34;)\n"
	           "alert tcp any 80 -> any any (flow:to_client; dsize:>100; "
	           "threshold:type limit, track by_rule, count 2, seconds 60; sid:35;)\n"
	           "alert tcp any any -> any 80 (flags:S; sid:36;)\n",
	           0);
	replay(e, data_path("chrissanders-packets/http_google.pcapng"));
	{
		int c[8] = {0}, i;
		for (i = 0; i < g.n && i < MAXA; i++)
			if (g.sids[i] >= 30 && g.sids[i] <= 37)
				c[g.sids[i] - 30]++;
		ck_assert_int_eq(c[0], 1);
		ck_assert_int_eq(c[1], 0);
		ck_assert_int_eq(c[2], 0);
		ck_assert_int_eq(c[3], 1);
		ck_assert_int_eq(c[4], 1);
		ck_assert_int_eq(c[5], 2);
		ck_assert_int_eq(c[6], 1);
	}
	ips_engine_free(e);
}
END_TEST

/* Rules whose fast pattern is one or two bytes are found through their
 * ports or a longer content instead of the pattern matcher: each must
 * alert exactly like its twin with a long pattern. */
START_TEST(short_patterns_match_like_long_ones)
{
	struct got g;
	struct ips_engine *e;
	int c[10] = {0}, i;

	memset(&g, 0, sizeof(g));
	e = engine(
	        &g,
	        /* destination port list: 40 like 41 */
	        "alert tcp any any -> any 80 (content:\"GE\"; depth:2; sid:40;)\n"
	        "alert tcp any any -> any 80 (content:\"GET /\"; depth:5; sid:41;)\n"
	        /* source port list: 42 like 43 */
	        "alert tcp any 80 -> any any (flow:to_client; content:\"HT\"; depth:2; sid:42;)\n"
	        "alert tcp any 80 -> any any (flow:to_client; content:\"HTTP/1.\"; depth:7; "
	        "sid:43;)\n"
	        /* any port, a longer content: 44 like 45 */
	        "alert tcp any any -> any any (content:\"Ho\"; fast_pattern; "
	        "content:\"www.google.com\"; sid:44;)\n"
	        "alert tcp any any -> any any (content:\"Host: www.google.com\"; sid:45;)\n"
	        /* a short pattern on a port the capture does not use */
	        "alert tcp any any -> any 81 (content:\"GE\"; depth:2; sid:46;)\n",
	        0);
	replay(e, data_path("chrissanders-packets/http_google.pcapng"));
	for (i = 0; i < g.n && i < MAXA; i++)
		if (g.sids[i] >= 40 && g.sids[i] < 50)
			c[g.sids[i] - 40]++;
	ck_assert_int_ge(c[1], 1);
	ck_assert_int_eq(c[0], c[1]);
	ck_assert_int_ge(c[3], 1);
	ck_assert_int_eq(c[2], c[3]);
	ck_assert_int_ge(c[5], 1);
	ck_assert_int_eq(c[4], c[5]);
	ck_assert_int_eq(c[6], 0);
	ips_engine_free(e);
}
END_TEST

/* What the index of weak patterns must find, counted here straight from
 * the decoded packets: TCP payloads to port 445 of length len (0: any)
 * holding pat at offset off (-1: anywhere), bytes compared as given or,
 * with fold, ignoring ASCII case. */
struct smb_count {
	uint32_t len;
	const char *pat;
	size_t plen;
	int off, fold, n;
};

static void
count_one(void *user, const struct mm_packet *p, uint64_t ts)
{
	struct smb_count *q = user;

	(void)ts;
	if (p->ip_proto != 6 || p->dport != 445 || p->payload_len < q->plen ||
	    (q->len && p->payload_len != q->len))
		return;
	for (size_t at = q->off < 0 ? 0 : (size_t)q->off;
	     at + q->plen <= p->payload_len && (q->off < 0 || at == (size_t)q->off); at++) {
		size_t k;
		for (k = 0; k < q->plen; k++) {
			int a = p->payload[at + k], b = (unsigned char)q->pat[k];
			if (q->fold ? tolower(a) != tolower(b) : a != b)
				break;
		}
		if (k == q->plen) {
			q->n++;
			return;
		}
	}
}

static int
count_smb(const char *path, uint32_t len, const char *pat, size_t plen, int off, int fold)
{
	struct smb_count q = {len, pat, plen, off, fold, 0};

	each_packet(path, count_one, &q);
	return q.n;
}

/* Weak fast patterns ("|00 00|", "|fe|SMB" at a fixed offset) are found by
 * the payload length or by the bytes at their place (and the length, when
 * the rule has both) instead of the pattern matcher: each rule alerts
 * exactly where the packets say it must, and a rule whose length or place
 * no packet has is not even a candidate (in the matcher it would be one
 * for every SMB packet). */
START_TEST(weak_patterns_by_size_and_place)
{
	const char *cap = data_path("legacy-os/sv_smb2-07_20171220_smb_psexec_add_user.pcap");
	struct got g;
	struct ips_engine *e;
	int want_len, want_place;

	want_len = count_smb(cap, 108, "\0\0", 2, -1, 0);
	want_place = count_smb(cap, 0, "\xfeSMB", 4, 4, 1);
	ck_assert_int_ge(want_len, 1);
	ck_assert_int_ge(want_place, 1);
	memset(&g, 0, sizeof(g));
	e = engine(&g,
	           "alert tcp any any -> any 445 (dsize:108; content:\"|00 00|\"; sid:50;)\n"
	           "alert tcp any any -> any 445 (dsize:3<>6; content:\"|00 00|\"; sid:51;)\n"
	           "alert tcp any any -> any 445 (content:\"|FE|smb\"; offset:4; depth:4; "
	           "nocase; sid:52;)\n"
	           "alert tcp any any -> any 445 (content:\"|fe|smb\"; offset:4; depth:4; "
	           "sid:53;)\n"
	           "alert tcp any any -> any 445 (content:\"SMB\"; offset:5; depth:3; sid:54;)\n"
	           "alert tcp any any -> any 445 (dsize:108; content:\"|fe|SMB\"; offset:4; "
	           "depth:4; sid:57;)\n",
	           0);
	replay(e, cap);
	ck_assert_int_eq(g.per_sid[50], want_len);
	ck_assert_int_eq(g.per_sid[51], 0);
	ck_assert_int_eq(g.per_sid[52], want_place);
	ck_assert_int_eq(g.per_sid[53], 0);
	ck_assert_int_eq(g.per_sid[54], count_smb(cap, 0, "SMB", 3, 5, 0));
	ck_assert_int_ge(count_smb(cap, 108, "\xfeSMB", 4, 4, 0), 1);
	ck_assert_int_eq(g.per_sid[57], count_smb(cap, 108, "\xfeSMB", 4, 4, 0));
	ips_engine_free(e);

	memset(&g, 0, sizeof(g));
	e = engine(&g,
	           "alert tcp any any -> any 445 (dsize:3<>6; content:\"|00 00|\"; sid:51;)\n"
	           "alert tcp any any -> any 445 (content:\"|fe|SMB\"; depth:4; sid:55;)\n"
	           /* the right place, but no payload that short has room */
	           "alert tcp any any -> any 445 (dsize:3<>6; content:\"|fe|SMB\"; offset:4; "
	           "depth:4; sid:56;)\n",
	           0);
	replay(e, cap);
	ck_assert_int_eq(g.n, 0);
	ck_assert_uint_eq(ips_engine_stats(e)->candidates, 0);
	ips_engine_free(e);
}
END_TEST

START_TEST(et_open_and_snort3_load)
{
	const char *shared = getenv("MM_SHARED_DATA");
	char path[1024], sum[4096];
	struct ips_ruleset *rs = NULL;
	struct ips_vars v;
	struct ips_engine *e = NULL;
	struct got g;

	if (shared == NULL || access(shared, R_OK) != 0)
		return; /* ../shared/data is absent on a fresh clone */
	ips_vars_init(&v);
	ck_assert_int_eq(ips_ruleset_new(&rs), MM_OK);
	snprintf(path, sizeof(path), "%s/et-open-2019-mirror/emerging-trojan.rules", shared);
	ck_assert_int_eq(ips_ruleset_load_file(rs, &v, path), MM_OK);
	snprintf(path, sizeof(path), "%s/snort3-community-rules/snort3-community.rules", shared);
	ips_ruleset_load_file(rs, &v, path);
	ips_ruleset_summary(rs, sum, sizeof(sum));
	fprintf(stderr, "%s\n", sum);
	ck_assert_uint_gt(rs->loaded, 1000);
	ck_assert_uint_eq(rs->loaded + rs->skipped + rs->duplicates, rs->lines);
	ck_assert_ptr_nonnull(strstr(sum, "skipped ("));
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(ips_engine_new(&e, NULL, on_alert, &g), MM_OK);
	ck_assert_int_eq(ips_engine_set_rules(e, rs), MM_OK);
	ips_vars_free(&v);
	ips_engine_free(e);
}
END_TEST

START_TEST(bad_rules_are_counted)
{
	struct ips_ruleset *rs = NULL;
	struct ips_vars v;
	char sum[1024];

	ips_vars_init(&v);
	ips_ruleset_new(&rs);
	ips_ruleset_add_line(
	        rs, &v, "alert tcp any any -> any any (content:\"a\"; isdataat:1; sid:1;)", "t", 1);
	ips_ruleset_add_line(rs, &v, "alert tcp any any -> any any (content:\"a\"; sid:2", "t", 2);
	ips_ruleset_add_line(rs, &v, "alert tcp $NOPE any -> any any (sid:3;)", "t", 3);
	ips_ruleset_add_line(
	        rs, &v, "alert tcp [1.2.3.0/24,!1.2.3.4] ![1:1023] <> any any (sid:4;)", "t", 4);
	ips_ruleset_summary(rs, sum, sizeof(sum));
	ck_assert_str_eq(sum, "rules: 1 loaded, 3 skipped ( isdataat=1, syntax=1, "
	                      "unknown_variable=1)");
	ck_assert(rs->rules[0]->bidir);
	ck_assert_uint_eq(rs->rules[0]->src.nexc, 1);
	ck_assert_uint_eq(rs->rules[0]->sp.nexc, 1);
	ips_ruleset_free(rs);
	ips_vars_free(&v);
}
END_TEST

/* A rule's pcre runs as machine code where the library can make it. */
START_TEST(pcre_is_jit_compiled)
{
	struct ips_ruleset *rs = NULL;
	struct ips_vars v;
	uint32_t jit = 0;
	size_t size = 0, i;
	const struct ips_opt *re = NULL;

	ips_vars_init(&v);
	ips_ruleset_new(&rs);
	ck_assert_int_eq(ips_ruleset_add_line(rs, &v,
	                                      "alert tcp any any -> any 80 (content:\"GET\"; "
	                                      "pcre:\"/^GET \\/[a-z]{3,}\\.php/\"; sid:60;)",
	                                      "t", 1),
	                 MM_OK);
	ck_assert_uint_eq(rs->n, 1);
	for (i = 0; i < rs->rules[0]->nopts; i++)
		if (rs->rules[0]->opts[i].type == IPS_OPT_PCRE)
			re = &rs->rules[0]->opts[i];
	ck_assert_ptr_nonnull(re);
	ck_assert_int_ge(pcre2_config(PCRE2_CONFIG_JIT, &jit), 0);
	ck_assert_int_eq(pcre2_pattern_info(re->re, PCRE2_INFO_JITSIZE, &size), 0);
	if (jit)
		ck_assert_uint_gt(size, 0);
	ips_ruleset_free(rs);
	ips_vars_free(&v);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("ips");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, synscan_one_alert);
	tcase_add_test(tc, synscan_port_list_in_order);
	tcase_add_test(tc, short_patterns_match_like_long_ones);
	tcase_add_test(tc, weak_patterns_by_size_and_place);
	tcase_add_test(tc, cryptowall_c2_reputation);
	tcase_add_test(tc, domain_suffix_match);
	tcase_add_test(tc, dns_query_name_and_domain_rep);
	tcase_add_test(tc, http_host_and_uri);
	tcase_add_test(tc, tls_sni);
	tcase_add_test(tc, content_modifiers_and_threshold);
	tcase_add_test(tc, et_open_and_snort3_load);
	tcase_add_test(tc, bad_rules_are_counted);
	tcase_add_test(tc, pcre_is_jit_compiled);
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
