/*
 * Tests of the host's packet sources (core/capture.c): capture files (pcap
 * and pcapng) with their statistics, open errors, BPF filters on the handle
 * and stand-alone (mm_bpf_*), and, when run as root, a live capture on a
 * veth pair between two network namespaces the test creates itself.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "mimamori/error.h"

static void
data_path(char *out, size_t len, const char *rel)
{
	const char *d = getenv("MM_TEST_DATA");

	snprintf(out, len, "%s/%s", d != NULL ? d : "tests/data", rel);
}

static int
open_file(struct mm_capture **out, const char *rel, const char *bpf, char *err, size_t errlen)
{
	struct mm_capture_opts o;
	char path[1024];

	data_path(path, sizeof(path), rel);
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.file = path;
	o.bpf = bpf;
	return mm_capture_open(out, &o, err, errlen);
}

/* Read to the end; returns the number of packets. */
static unsigned long
drain(struct mm_capture *c)
{
	struct mm_packet p;
	unsigned long n = 0;
	int rc;

	while ((rc = mm_capture_next(c, &p)) == 1)
		n++;
	ck_assert_int_eq(rc, MM_ERR_CLOSED);
	/* The end stays the end. */
	ck_assert_int_eq(mm_capture_next(c, &p), MM_ERR_CLOSED);
	return n;
}

static long
tcpdump_count(const char *rel, const char *filter)
{
	char path[1024], cmd[2048], line[4096];
	long n = 0;
	FILE *f;

	if (system("command -v tcpdump >/dev/null 2>&1") != 0)
		return -1;
	data_path(path, sizeof(path), rel);
	snprintf(cmd, sizeof(cmd), "tcpdump -nn -tt -r '%s' '%s' 2>/dev/null", path, filter);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (line[0] >= '0' && line[0] <= '9')
			n++;
	pclose(f);
	return n;
}

START_TEST(test_file_pcapng_stats)
{
	struct mm_capture *c = NULL;
	struct mm_packet p;
	const struct mm_capture_stats *s;
	char err[256] = "", path[1024], ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t bytes = 0;
	pcap_t *pc;

	ck_assert_int_eq(
	        open_file(&c, "chrissanders-packets/synscan.pcapng", NULL, err, sizeof(err)),
	        MM_OK);
	ck_assert_int_eq(mm_capture_fd(c), -1);
	ck_assert_int_eq(mm_capture_linktype(c), MM_LINK_ETHERNET);
	/* tcpdump -tt --nano: 1278275056.274870000 ... 36050 > 443 [S] */
	ck_assert_int_eq(mm_capture_next(c, &p), 1);
	ck_assert_uint_eq(p.ts_ns, 1278275056274870000ull);
	ck_assert_uint_eq(p.sport, 36050);
	ck_assert_uint_eq(p.dport, 443);
	ck_assert_uint_eq(drain(c), 2010);
	s = mm_capture_stats(c);
	ck_assert_uint_eq(s->packets, 2011);
	ck_assert_uint_eq(s->ipv4, 2011);
	ck_assert_uint_eq(s->tcp, 2011);
	ck_assert_uint_eq(s->udp, 0);
	ck_assert_uint_eq(s->other, 0);
	ck_assert_uint_eq(s->decode_errors, 0);
	ck_assert_uint_eq(s->kernel_drops, 0);
	/* Wire bytes as libpcap reports them directly. */
	data_path(path, sizeof(path), "chrissanders-packets/synscan.pcapng");
	pc = pcap_open_offline(path, ebuf);
	ck_assert_ptr_nonnull(pc);
	while (pcap_next_ex(pc, &h, &d) == 1)
		bytes += h->len;
	pcap_close(pc);
	ck_assert_uint_eq(s->bytes, bytes);
	mm_capture_close(c);
}
END_TEST

START_TEST(test_file_pcap_wlan_stats)
{
	struct mm_capture *c = NULL;
	const struct mm_capture_stats *s;
	char err[256];

	ck_assert_int_eq(
	        open_file(&c, "aircrack-ng-tests/wpa2-psk-linksys.cap", NULL, err, sizeof(err)),
	        MM_OK);
	ck_assert_int_eq(mm_capture_linktype(c), MM_LINK_IEEE802_11);
	ck_assert_uint_eq(drain(c), 499);
	s = mm_capture_stats(c);
	/* tcpdump 'type mgt' / 'type ctl' / 'type data' */
	ck_assert_uint_eq(s->wlan_mgmt, 128);
	ck_assert_uint_eq(s->wlan_ctrl, 163);
	ck_assert_uint_eq(s->wlan_data, 208);
	ck_assert_uint_eq(s->other, 499);
	mm_capture_close(c);

	/* A malformed capture: counted per error kind, nothing crashes. */
	ck_assert_int_eq(
	        open_file(&c, "tcpdump-tests/ieee802.11_tim_ie_oobr.pcap", NULL, err, sizeof(err)),
	        MM_OK);
	ck_assert_uint_eq(drain(c), 4);
	s = mm_capture_stats(c);
	ck_assert_uint_eq(s->wlan_mgmt, 3);
	ck_assert_uint_eq(s->decode_errors, 1);
	ck_assert_uint_eq(s->decode_error[MM_DEC_TRUNCATED_WLAN], 1);
	mm_capture_close(c);

	ck_assert_int_eq(
	        open_file(&c, "tcpdump-tests/radiotap-heapoverflow.pcap", NULL, err, sizeof(err)),
	        MM_OK);
	ck_assert_int_eq(mm_capture_linktype(c), MM_LINK_IEEE802_11_RADIOTAP);
	ck_assert_uint_eq(drain(c), 1);
	s = mm_capture_stats(c);
	ck_assert_uint_eq(s->decode_error[MM_DEC_BAD_RADIOTAP], 1);
	ck_assert_uint_eq(s->decode_errors, 1);
	mm_capture_close(c);

	/* Raw IP files report MM_LINK_RAW, not libpcap's DLT_RAW. */
	ck_assert_int_eq(open_file(&c, "suricata-verify/tests/dns/dns-udp-eve-log-srv/input.pcap",
	                           NULL, err, sizeof(err)),
	                 MM_OK);
	ck_assert_int_eq(mm_capture_linktype(c), MM_LINK_RAW);
	ck_assert_uint_eq(drain(c), 2);
	ck_assert_uint_eq(mm_capture_stats(c)->udp, 2);
	mm_capture_close(c);
}
END_TEST

START_TEST(test_file_filter)
{
	struct mm_capture *c = NULL;
	char err[256];
	unsigned long n;
	long t;

	ck_assert_int_eq(open_file(&c, "chrissanders-packets/synscan.pcapng", "tcp dst port 443",
	                           err, sizeof(err)),
	                 MM_OK);
	n = drain(c);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(mm_capture_stats(c)->packets, 2);
	mm_capture_close(c);
	t = tcpdump_count("chrissanders-packets/synscan.pcapng", "tcp dst port 443");
	if (t >= 0)
		ck_assert_int_eq(t, (long)n);

	ck_assert_int_eq(open_file(&c, "chrissanders-packets/icmp_traceroute.pcapng",
	                           "icmp[icmptype] == icmp-timxceed", err, sizeof(err)),
	                 MM_OK);
	n = drain(c);
	ck_assert_uint_eq(n, 24);
	ck_assert_uint_eq(mm_capture_stats(c)->icmp, 24);
	mm_capture_close(c);
}
END_TEST

START_TEST(test_open_errors)
{
	struct mm_capture *c = (struct mm_capture *)1;
	struct mm_capture_opts o;
	char err[256] = "";
	int rc;

	rc = open_file(&c, "no/such/file.pcap", NULL, err, sizeof(err));
	ck_assert_int_eq(rc, MM_ERR_NOTFOUND);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "No such file") != NULL && strstr(err, "file.pcap") != NULL, "%s",
	              err);

	err[0] = '\0';
	rc = open_file(&c, "chrissanders-packets/PROVENANCE.md", NULL, err, sizeof(err));
	ck_assert_int_eq(rc, MM_ERR_PARSE);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "PROVENANCE.md: ") != NULL && strlen(err) > 20, "%s", err);

	err[0] = '\0';
	rc = open_file(&c, "chrissanders-packets/synscan.pcapng", "tcp and and port 80", err,
	               sizeof(err));
	ck_assert_int_eq(rc, MM_ERR_PARSE);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "bad filter \"tcp and and port 80\"") != NULL &&
	                      strstr(err, "syntax error") != NULL,
	              "%s", err);

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	ck_assert_int_eq(mm_capture_open(&c, &o, err, sizeof(err)), MM_ERR_INVAL);
	o.file = "x.pcap";
	o.interface = "lo";
	ck_assert_int_eq(mm_capture_open(&c, &o, err, sizeof(err)), MM_ERR_INVAL);
	ck_assert_int_eq(mm_capture_open(&c, NULL, err, sizeof(err)), MM_ERR_INVAL);
	o.interface = NULL;
	o.size = 4;
	ck_assert_int_eq(mm_capture_open(&c, &o, err, sizeof(err)), MM_ERR_INVAL);
	ck_assert_int_eq(mm_capture_open(NULL, &o, err, sizeof(err)), MM_ERR_INVAL);
	o.size = sizeof(o);
	o.snaplen = -1;
	ck_assert_int_eq(mm_capture_open(&c, &o, NULL, 0), MM_ERR_RANGE);

	/* A missing interface: libpcap's reason names it. */
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.interface = "mmnosuchif0";
	err[0] = '\0';
	rc = mm_capture_open(&c, &o, err, sizeof(err));
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "mmnosuchif0") != NULL, "%s", err);
	if (geteuid() == 0)
		ck_assert_int_eq(rc, MM_ERR_NOTFOUND);

	mm_capture_close(NULL);
	ck_assert_ptr_null(mm_capture_stats(NULL));
	ck_assert_int_eq(mm_capture_fd(NULL), -1);
}
END_TEST

START_TEST(test_bpf)
{
	struct mm_capture *c = NULL;
	struct mm_bpf *dns = NULL, *tcp = NULL, *all = NULL, *raw = NULL, *bad = NULL;
	struct mm_packet p;
	char err[256] = "";
	int n_dns = 0, n_tcp = 0, n_all = 0;

	ck_assert_int_eq(mm_bpf_compile(&dns, MM_LINK_ETHERNET, 0, "udp port 53", err, sizeof(err)),
	                 MM_OK);
	ck_assert_int_eq(mm_bpf_compile(&tcp, MM_LINK_ETHERNET, 65535, "tcp", err, sizeof(err)),
	                 MM_OK);
	ck_assert_int_eq(mm_bpf_compile(&all, MM_LINK_ETHERNET, 0, NULL, err, sizeof(err)), MM_OK);
	ck_assert_int_eq(mm_bpf_compile(&bad, MM_LINK_ETHERNET, 0, "udp port", err, sizeof(err)),
	                 MM_ERR_PARSE);
	ck_assert_ptr_null(bad);
	ck_assert_msg(strstr(err, "bad filter \"udp port\"") != NULL, "%s", err);
	/* "wlan" keywords need an 802.11 link type. */
	ck_assert_int_eq(mm_bpf_compile(&bad, MM_LINK_ETHERNET, 0, "type mgt", err, sizeof(err)),
	                 MM_ERR_PARSE);

	ck_assert_int_eq(open_file(&c, "chrissanders-packets/dns_query_response.pcapng", NULL, err,
	                           sizeof(err)),
	                 MM_OK);
	while (mm_capture_next(c, &p) == 1) {
		n_dns += mm_bpf_match(dns, &p);
		n_tcp += mm_bpf_match(tcp, &p);
		n_all += mm_bpf_match(all, &p);
		ck_assert_int_eq(mm_bpf_match(NULL, &p), 1);
	}
	mm_capture_close(c);
	ck_assert_int_eq(n_dns, 2);
	ck_assert_int_eq(n_tcp, 0);
	ck_assert_int_eq(n_all, 2);

	/* Raw IP, and a packet of another link type never matches. */
	ck_assert_int_eq(mm_bpf_compile(&raw, MM_LINK_RAW, 0, "udp port 53", err, sizeof(err)),
	                 MM_OK);
	ck_assert_int_eq(open_file(&c, "suricata-verify/tests/dns/dns-udp-eve-log-srv/input.pcap",
	                           NULL, err, sizeof(err)),
	                 MM_OK);
	n_dns = n_all = 0;
	while (mm_capture_next(c, &p) == 1) {
		n_dns += mm_bpf_match(raw, &p);
		n_all += mm_bpf_match(dns, &p);
	}
	mm_capture_close(c);
	ck_assert_int_eq(n_dns, 2);
	ck_assert_int_eq(n_all, 0);

	mm_bpf_free(dns);
	mm_bpf_free(tcp);
	mm_bpf_free(all);
	mm_bpf_free(raw);
	mm_bpf_free(NULL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Live capture between two network namespaces.                       */

static char ns_a[32], ns_b[32], veth_a[16], veth_b[16];
static char skip_reason[128] = "not root";
static int netns_ready;

#define ADDR_A "10.199.0.1"
#define ADDR_B "10.199.0.2"
#define UDP_PORT 9999

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void
netns_teardown(void)
{
	/* Deleting the namespaces deletes the veth pair with them. */
	if (ns_a[0] != '\0')
		run("ip netns del %s >/dev/null 2>&1", ns_a);
	if (ns_b[0] != '\0')
		run("ip netns del %s >/dev/null 2>&1", ns_b);
}

static void
netns_setup(void)
{
	int id = (int)(getpid() % 100000);

	if (geteuid() != 0)
		return;
	if (run("command -v ip >/dev/null 2>&1") != 0) {
		snprintf(skip_reason, sizeof(skip_reason), "the ip command is missing");
		return;
	}
	snprintf(ns_a, sizeof(ns_a), "mmcapA%d", id);
	snprintf(ns_b, sizeof(ns_b), "mmcapB%d", id);
	snprintf(veth_a, sizeof(veth_a), "mmva%d", id);
	snprintf(veth_b, sizeof(veth_b), "mmvb%d", id);
	if (run("ip netns add %s", ns_a) != 0 || run("ip netns add %s", ns_b) != 0 ||
	    run("ip link add %s netns %s type veth peer name %s netns %s", veth_a, ns_a, veth_b,
	        ns_b) != 0 ||
	    run("ip -n %s addr add " ADDR_A "/24 dev %s", ns_a, veth_a) != 0 ||
	    run("ip -n %s addr add " ADDR_B "/24 dev %s", ns_b, veth_b) != 0 ||
	    run("ip -n %s link set %s up", ns_a, veth_a) != 0 ||
	    run("ip -n %s link set %s up", ns_b, veth_b) != 0) {
		snprintf(skip_reason, sizeof(skip_reason),
		         "cannot create network namespaces and a veth pair");
		netns_teardown();
		return;
	}
	netns_ready = 1;
}

static uint16_t
inet_csum(const uint8_t *b, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void
send_traffic(int count)
{
	struct sockaddr_in to;
	uint8_t echo[16];
	int icmp, udp;

	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	inet_pton(AF_INET, ADDR_B, &to.sin_addr);
	icmp = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(icmp, 0);
	ck_assert_int_ge(udp, 0);
	for (int i = 0; i < count; i++) {
		uint16_t sum;

		memset(echo, 0, sizeof(echo));
		echo[0] = 8; /* echo request */
		echo[4] = 0x4d;
		echo[5] = 0x4d;
		echo[7] = (uint8_t)(i + 1);
		memcpy(echo + 8, "mimamori", 8);
		sum = inet_csum(echo, sizeof(echo));
		echo[2] = (uint8_t)(sum >> 8);
		echo[3] = (uint8_t)sum;
		to.sin_port = 0;
		ck_assert_int_eq(
		        sendto(icmp, echo, sizeof(echo), 0, (struct sockaddr *)&to, sizeof(to)),
		        (ssize_t)sizeof(echo));
		to.sin_port = htons(UDP_PORT);
		ck_assert_int_eq(sendto(udp, "hello", 5, 0, (struct sockaddr *)&to, sizeof(to)), 5);
	}
	close(icmp);
	close(udp);
}

START_TEST(test_live_veth)
{
	struct mm_capture *c = NULL;
	struct mm_capture_opts o;
	const struct mm_capture_stats *s;
	struct mm_packet p;
	char err[256] = "", path[128];
	int fd, rc, req = 0, rep = 0, udp = 0, unreach = 0, other = 0;
	struct timespec t0, t1;

	if (!netns_ready) {
		fprintf(stderr, "test_live_veth skipped: %s\n", skip_reason);
		return;
	}
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns_a);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setns(fd, CLONE_NEWNET), 0);
	close(fd);

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.interface = veth_a;
	o.bpf = "icmp or udp port 9999";
	o.promisc = 1;
	o.buffer_mb = 4;
	rc = mm_capture_open(&c, &o, err, sizeof(err));
	ck_assert_msg(rc == MM_OK, "%s", err);
	ck_assert_int_eq(mm_capture_linktype(c), MM_LINK_ETHERNET);
	fd = mm_capture_fd(c);
	ck_assert_int_ge(fd, 0);
	/* Non-blocking: nothing there yet. */
	ck_assert_int_eq(mm_capture_next(c, &p), 0);

	send_traffic(3);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		poll(&pfd, 1, 100);
		while ((rc = mm_capture_next(c, &p)) == 1) {
			ck_assert_uint_eq(p.decode_error, MM_DEC_OK);
			if ((p.layers & MM_L_ICMP) && p.icmp_type == 8)
				req++;
			else if ((p.layers & MM_L_ICMP) && p.icmp_type == 0)
				rep++;
			else if ((p.layers & MM_L_UDP) && p.dport == UDP_PORT)
				udp++;
			else if ((p.layers & MM_L_ICMP_INNER) && p.icmp_type == 3 &&
			         p.icmp_inner.dport == UDP_PORT)
				unreach++;
			else
				other++;
		}
		ck_assert_int_eq(rc, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((req < 3 || rep < 3 || udp < 3 || unreach < 1) && t1.tv_sec - t0.tv_sec < 5);
	ck_assert_int_eq(req, 3);
	ck_assert_int_eq(rep, 3);
	ck_assert_int_eq(udp, 3);
	ck_assert_int_ge(unreach, 1);
	ck_assert_int_eq(other, 0);
	s = mm_capture_stats(c);
	ck_assert_uint_eq(s->packets, (uint64_t)(req + rep + udp + unreach));
	ck_assert_uint_eq(s->udp, 3);
	ck_assert_uint_eq(s->icmp, (uint64_t)(req + rep + unreach));
	/* The filter kept ARP out. */
	ck_assert_uint_eq(s->arp, 0);
	ck_assert_uint_eq(s->kernel_drops, 0);
	mm_capture_close(c);
}
END_TEST

static Suite *
capture_suite(void)
{
	Suite *s = suite_create("capture");
	TCase *tc = tcase_create("file");

	tcase_add_test(tc, test_file_pcapng_stats);
	tcase_add_test(tc, test_file_pcap_wlan_stats);
	tcase_add_test(tc, test_file_filter);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_bpf);
	suite_add_tcase(s, tc);
	tc = tcase_create("live");
	tcase_add_unchecked_fixture(tc, netns_setup, netns_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_live_veth);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(capture_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
