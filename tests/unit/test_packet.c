/*
 * Tests of the SDK's frame decoder (sdk/src/packet.c), address formatting
 * (addr.c) and error strings (error.c). Real captures from tests/data are
 * read with libpcap and decoded; the per-protocol counts were checked
 * against tcpdump and are asserted as numbers, and when tcpdump is on PATH
 * the test also runs it with the same filter and compares. Hand-built frames
 * are decoded at every truncated length from a buffer of exactly that size,
 * so AddressSanitizer (MM_SANITIZE=ON) catches any read past the end.
 */
#include <check.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mimamori/error.h"
#include "mimamori/packet.h"

/* ------------------------------------------------------------------ */
/* Helpers: files, tcpdump, counters.                                 */

static const char *
data_dir(void)
{
	const char *d = getenv("MM_TEST_DATA");

	return d != NULL ? d : "tests/data";
}

static void
data_path(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", data_dir(), rel);
}

/* Counters over one capture, in the order of struct expect below. */
enum counter {
	C_PACKETS,
	C_IPV4,
	C_IPV6,
	C_ARP,
	C_TCP,
	C_UDP,
	C_ICMP,
	C_FRAG,
	C_INNER,
	C_VLAN,
	C_WLAN_MGMT,
	C_WLAN_CTRL,
	C_WLAN_DATA,
	C_RADIOTAP,
	C_LLC,
	C_ERRORS,
	C__COUNT
};

static const char *const counter_names[C__COUNT] = {
        "packets", "ipv4", "ipv6",      "arp",       "tcp",       "udp",      "icmp", "frag",
        "inner",   "vlan", "wlan_mgmt", "wlan_ctrl", "wlan_data", "radiotap", "llc",  "errors",
};

struct counts {
	unsigned long c[C__COUNT];
	unsigned long err[MM_DEC__COUNT];
};

static void
count_packet(struct counts *n, const struct mm_packet *p)
{
	uint32_t l = p->layers;

	n->c[C_PACKETS]++;
	n->c[C_IPV4] += (l & MM_L_IPV4) != 0;
	n->c[C_IPV6] += (l & MM_L_IPV6) != 0;
	n->c[C_ARP] += (l & MM_L_ARP) != 0;
	n->c[C_TCP] += (l & MM_L_TCP) != 0;
	n->c[C_UDP] += (l & MM_L_UDP) != 0;
	n->c[C_ICMP] += (l & (MM_L_ICMP | MM_L_ICMP6)) != 0;
	n->c[C_FRAG] += (l & MM_L_FRAG) != 0;
	n->c[C_INNER] += (l & MM_L_ICMP_INNER) != 0;
	n->c[C_VLAN] += (l & MM_L_VLAN) != 0;
	n->c[C_RADIOTAP] += (l & MM_L_RADIOTAP) != 0;
	n->c[C_LLC] += (l & MM_L_LLC) != 0;
	if (l & MM_L_WLAN) {
		n->c[C_WLAN_MGMT] += p->wlan_type == MM_WLAN_MGMT;
		n->c[C_WLAN_CTRL] += p->wlan_type == MM_WLAN_CTRL;
		n->c[C_WLAN_DATA] += p->wlan_type == MM_WLAN_DATA;
	}
	if (p->decode_error != MM_DEC_OK) {
		ck_assert_uint_lt(p->decode_error, MM_DEC__COUNT);
		n->c[C_ERRORS]++;
		n->err[p->decode_error]++;
	}
}

/* The invariants every decoded packet keeps, whatever the input. */
static void
check_invariants(const struct mm_packet *p)
{
	const uint8_t *end = p->data + p->caplen;

	ck_assert_uint_eq(p->size, sizeof(*p));
	if (p->payload != NULL)
		ck_assert(p->payload >= p->data && p->payload + p->payload_len <= end);
	if (p->wlan_body != NULL)
		ck_assert(p->wlan_body >= p->data && p->wlan_body + p->wlan_body_len <= end);
	if (p->l3 != NULL)
		ck_assert(p->l3 >= p->data && p->l3 < end);
	if (p->l4 != NULL)
		ck_assert(p->l4 >= p->data && p->l4 < end);
	if (p->tcp_options != NULL)
		ck_assert(p->tcp_options + p->tcp_options_len <= end);
	if (p->layers & MM_L_FRAG)
		ck_assert(!(p->layers & (MM_L_TCP | MM_L_UDP | MM_L_ICMP | MM_L_ICMP6)));
	/* Payload is clipped to the IP length: padding is not payload. */
	if ((p->layers & MM_L_TCP) && (p->layers & MM_L_IPV4) && p->ip_total_len <= p->caplen)
		ck_assert_uint_le(p->payload_len, p->ip_total_len - p->ip_hdr_len - p->tcp_hdr_len);
	if (p->layers & MM_L_RADIOTAP) {
		if (p->freq_mhz != 0 && p->freq_mhz >= 2412 && p->freq_mhz <= 2472)
			ck_assert_uint_eq(p->channel, (p->freq_mhz - 2407) / 5);
	}
}

typedef void (*packet_fn)(const struct mm_packet *p, unsigned long index, void *user);

/* Decode every frame of a capture; returns the pcap link type. */
static int
decode_file(const char *rel, struct counts *n, packet_fn fn, void *user)
{
	char path[1024], ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	struct mm_packet p;
	pcap_t *pc;
	int lt;

	data_path(path, sizeof(path), rel);
	pc = pcap_open_offline(path, ebuf);
	ck_assert_msg(pc != NULL, "%s: %s", path, ebuf);
	lt = pcap_datalink(pc);
	memset(n, 0, sizeof(*n));
	while (pcap_next_ex(pc, &h, &d) == 1) {
		/* A private copy of exactly caplen bytes, so that a read past
		 * the end is an AddressSanitizer report. */
		uint8_t *copy = malloc(h->caplen ? h->caplen : 1);

		ck_assert_ptr_nonnull(copy);
		memcpy(copy, d, h->caplen);
		mm_packet_decode(&p, lt, 0, copy, h->caplen, h->len);
		check_invariants(&p);
		count_packet(n, &p);
		if (fn != NULL)
			fn(&p, n->c[C_PACKETS] - 1, user);
		free(copy);
	}
	pcap_close(pc);
	return lt;
}

static int
have_tcpdump(void)
{
	return system("command -v tcpdump >/dev/null 2>&1") == 0;
}

/* Packets tcpdump selects with filter; one per line starting with -tt's
 * epoch timestamp (continuation lines are indented). */
static long
tcpdump_count(const char *rel, const char *filter)
{
	char path[1024], cmd[2048], line[4096];
	long n = 0;
	FILE *f;

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

/* ------------------------------------------------------------------ */
/* Real captures: counts checked against tcpdump.                     */

struct xcheck {
	enum counter c;
	const char *filter; /* tcpdump filter selecting the same packets */
};

struct expect {
	const char *file;
	int linktype;             /* what pcap_datalink reports */
	long n[C__COUNT];         /* -1: not asserted */
	struct xcheck tcpdump[6]; /* filter NULL ends */
	uint32_t err_kind;        /* the one decode error kind expected, if any */
};

#define NA -1
/* packets ipv4 ipv6 arp tcp udp icmp frag inner vlan mgmt ctrl data rt llc errors */
static const struct expect expects[] = {
        {"chrissanders-packets/synscan.pcapng",
         1,
         {2011, 2011, 0, 0, 2011, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         {{C_TCP, "tcp"}, {C_IPV4, "ip"}, {C_PACKETS, ""}},
         0},
        {"chrissanders-packets/tcp_handshake.pcapng",
         1,
         {3, 3, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         {{C_TCP, "tcp"}},
         0},
        {"chrissanders-packets/dns_query_response.pcapng",
         1,
         {2, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         {{C_UDP, "udp port 53"}},
         0},
        {"chrissanders-packets/arp_resolution.pcapng",
         1,
         {2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         {{C_ARP, "arp"}},
         0},
        {"chrissanders-packets/icmp_traceroute.pcapng",
         1,
         {54, 54, 0, 0, 0, 0, 54, 0, 24, 0, 0, 0, 0, 0, 0, 0},
         {{C_ICMP, "icmp"},
          {C_INNER, "icmp[icmptype] == icmp-timxceed or icmp[icmptype] == icmp-unreach"}},
         0},
        {"chrissanders-packets/dhcp6_outlease_acquisition.pcapng",
         1,
         {4, 0, 4, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         {{C_IPV6, "ip6"}, {C_UDP, "ip6 and udp port 546 or udp port 547"}},
         0},
        /* MLD reports behind a hop-by-hop header: tcpdump's "icmp6" does not
         * look behind it, so the filter spells the chain out. */
        {"zeek-traces/dns_mdns.pcap",
         1,
         {24, 12, 12, 0, 0, 18, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         {{C_IPV4, "ip"},
          {C_IPV6, "ip6"},
          {C_UDP, "udp"},
          {C_ICMP, "ip6[6] == 0 and ip6[40] == 58"}},
         0},
        /* One, two and three VLAN tags: the third is refused. */
        {"suricata-verify/tests/arp/detect-arp-03-vlan/input.pcap",
         1,
         {3, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 1},
         {{C_VLAN, "vlan"}, {C_ERRORS, "vlan and vlan and vlan"}},
         MM_DEC_TOO_MANY_HEADERS},
        {"legacy-os/zeek_erspan.pcap",
         1,
         {287, 287, 0, 0, 0, 0, 0, 39, 0, 0, 0, 0, 0, 0, 0, 0},
         {{C_IPV4, "ip"}, {C_FRAG, "ip[6:2] & 0x1fff != 0"}},
         0},
        {"suricata-verify/tests/detect-ipopts/input.pcap",
         228,
         {8, 8, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         {{C_TCP, "tcp"}},
         0},
        {"suricata-verify/tests/smtp-pipelining/input.pcap",
         0,
         {18, 18, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         {{C_TCP, "tcp port 25"}},
         0},
        {"suricata-verify/tests/detect-pcre/detect-pcre-02/input.pcap",
         113,
         {10, 10, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         {{C_TCP, "tcp"}},
         0},
        {"suricata-verify/tests/dns/dns-udp-eve-log-srv/input.pcap",
         12,
         {2, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         {{C_UDP, "udp port 53"}},
         0},
        {"zeek-traces/radiotap.pcap",
         127,
         {3, 2, 1, 0, 0, 3, 0, 0, 0, 0, 0, 0, 3, 3, 3, 0},
         {{C_IPV4, "ip"}, {C_IPV6, "ip6"}, {C_UDP, "udp"}, {C_WLAN_DATA, "type data"}},
         0},
        {"zeek-traces/arp-who-has-radiotap.pcap",
         127,
         {2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 0},
         {{C_ARP, "arp"}},
         0},
        {"aircrack-ng-tests/test1.pcap",
         127,
         {192, 0, 0, 0, 0, 0, 0, 0, 0, 0, 147, 0, 45, 192, 45, 0},
         {{C_WLAN_MGMT, "type mgt"}, {C_WLAN_CTRL, "type ctl"}, {C_WLAN_DATA, "type data"}},
         0},
        {"aircrack-ng-tests/wpa2-psk-linksys.cap",
         105,
         {499, 0, 0, 0, 0, 0, 0, 0, 0, 0, 128, 163, 208, 0, 12, 0},
         {{C_WLAN_MGMT, "type mgt"}, {C_WLAN_CTRL, "type ctl"}, {C_WLAN_DATA, "type data"}},
         0},
        {"aircrack-ng-tests/capture_wds-01.cap",
         105,
         {139, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11, 77, 51, 0, 4, 0},
         {{C_WLAN_MGMT, "type mgt"}, {C_WLAN_CTRL, "type ctl"}, {C_WLAN_DATA, "type data"}},
         0},
        {"chrissanders-packets/3e80211_wpaauth.pcapng",
         127,
         {12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 5, 12, 4, 0},
         {{C_WLAN_MGMT, "type mgt"}, {C_WLAN_DATA, "type data"}},
         0},
        /* Extended present bitmaps (tcpdump prints "[bit 32]"). */
        {"tcpdump-tests/ieee802.11_exthdr.pcap",
         127,
         {26, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 8, 2, 26, 0, 0},
         {{C_WLAN_MGMT, "type mgt"}, {C_WLAN_CTRL, "type ctl"}, {C_WLAN_DATA, "type data"}},
         0},
        {"tcpdump-tests/ieee802.11_htc.pcap",
         127,
         {1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0},
         {{0, NULL}},
         0},
        /* Deliberately malformed captures from tcpdump's regression tests. */
        {"tcpdump-tests/radiotap-heapoverflow.pcap",
         127,
         {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
         {{0, NULL}},
         MM_DEC_BAD_RADIOTAP},
        {"tcpdump-tests/ieee802.11_rates_oobr.pcap",
         127,
         {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
         {{0, NULL}},
         MM_DEC_BAD_RADIOTAP},
        {"tcpdump-tests/ieee802.11_tim_ie_oobr.pcap",
         105,
         {4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1},
         {{0, NULL}},
         MM_DEC_TRUNCATED_WLAN},
        {"tcpdump-tests/ieee802.11_parse_elements_oobr.pcap",
         105,
         {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0},
         {{0, NULL}},
         0},
        {"tcpdump-tests/ieee802.11_meshid.pcap",
         127,
         {3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 3, 0, 0},
         {{C_WLAN_MGMT, "type mgt"}},
         0},
        {"tcpdump-tests/ieee802.11_rx-stbc.pcap",
         127,
         {3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0},
         {{C_WLAN_DATA, "type data"}},
         0},
        {"tcpdump-tests/arp-too-long-tha.pcap",
         1,
         {1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
         {{C_PACKETS, ""}},
         0},
        {"aircrack-ng-tests/80211ad_beacon.pcap",
         127,
         {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
         {{0, NULL}},
         0},
};

/*
 * The decoder promises that out is cleared first; it clears it with its
 * own fixed stores rather than memset(), so check that nothing of what
 * was in the struct before survives: decoding into a struct full of
 * garbage must give exactly the bytes of decoding into a zeroed one, for
 * every frame of every link type and at cut lengths that stop decoding
 * in each layer.
 */
START_TEST(test_cleared_first)
{
	static const char *const files[] = {
	        "chrissanders-packets/tcp_handshake.pcapng",
	        "chrissanders-packets/icmp_traceroute.pcapng",
	        "chrissanders-packets/dhcp6_outlease_acquisition.pcapng",
	        "suricata-verify/tests/arp/detect-arp-03-vlan/input.pcap",
	        "zeek-traces/radiotap.pcap",
	        "zeek-traces/arp-who-has-radiotap.pcap",
	        "aircrack-ng-tests/capture_wds-01.cap",
	        "tcpdump-tests/ieee802.11_htc.pcap",
	        "aircrack-ng-tests/80211ad_beacon.pcap",
	};
	char path[1024], ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	struct mm_packet clean, dirty;
	unsigned long frames = 0;
	int lt, ra, rb;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		pcap_t *pc;

		data_path(path, sizeof(path), files[i]);
		pc = pcap_open_offline(path, ebuf);
		ck_assert_msg(pc != NULL, "%s", ebuf);
		lt = pcap_datalink(pc);
		while (pcap_next_ex(pc, &h, &d) == 1) {
			for (uint32_t cut = 0; cut <= h->caplen; cut += cut < 80 ? 1 : 64) {
				uint32_t n = cut < h->caplen ? cut : h->caplen;

				memset(&clean, 0, sizeof(clean));
				memset(&dirty, 0xa5, sizeof(dirty));
				ra = mm_packet_decode(&clean, lt, 1, d, n, h->len);
				rb = mm_packet_decode(&dirty, lt, 1, d, n, h->len);
				ck_assert_int_eq(ra, rb);
				ck_assert_msg(memcmp(&clean, &dirty, sizeof(clean)) == 0,
				              "%s frame %lu cut %u: old contents survive", files[i],
				              frames, n);
			}
			frames++;
		}
		pcap_close(pc);
	}
	ck_assert_uint_gt(frames, 100);
	/* An unsupported link type decodes nothing and still clears. */
	memset(&dirty, 0xa5, sizeof(dirty));
	ck_assert_int_eq(mm_packet_decode(&dirty, 9999, 5, (const uint8_t *)path, 10, 10),
	                 MM_ERR_UNSUPPORTED);
	ck_assert_uint_eq(dirty.layers, 0);
	ck_assert_ptr_null(dirty.wlan_body);
	ck_assert_uint_eq(dirty.icmp_inner.src.family, 0);
	ck_assert_uint_eq(dirty.wlan_body_len, 0);
	ck_assert_uint_eq(dirty.size, sizeof(dirty));
}
END_TEST

START_TEST(test_capture_counts)
{
	const struct expect *e = &expects[_i];
	struct counts n;
	int lt, k, tcpdump = have_tcpdump();

	lt = decode_file(e->file, &n, NULL, NULL);
	ck_assert_int_eq(lt, e->linktype);
	for (k = 0; k < C__COUNT; k++) {
		if (e->n[k] == NA)
			continue;
		ck_assert_msg(n.c[k] == (unsigned long)e->n[k], "%s: %s is %lu, expected %ld",
		              e->file, counter_names[k], n.c[k], e->n[k]);
	}
	if (e->err_kind != 0)
		ck_assert_uint_eq(n.err[e->err_kind], (unsigned long)e->n[C_ERRORS]);
	if (!tcpdump) {
		fprintf(stderr, "tcpdump not on PATH: cross-check of %s skipped\n", e->file);
		return;
	}
	for (k = 0; k < 6 && e->tcpdump[k].filter != NULL; k++) {
		long t = tcpdump_count(e->file, e->tcpdump[k].filter);

		ck_assert_msg(t == e->n[e->tcpdump[k].c], "%s: tcpdump '%s' gives %ld, %s is %ld",
		              e->file, e->tcpdump[k].filter, t, counter_names[e->tcpdump[k].c],
		              e->n[e->tcpdump[k].c]);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* Real captures: fields of specific packets.                         */

static const struct mm_packet *
nth(const char *rel, unsigned long index, struct mm_packet *out, uint8_t *buf, size_t buflen)
{
	char path[1024], ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	unsigned long i = 0;
	pcap_t *pc;
	int found = 0;

	data_path(path, sizeof(path), rel);
	pc = pcap_open_offline(path, ebuf);
	ck_assert_msg(pc != NULL, "%s", ebuf);
	while (pcap_next_ex(pc, &h, &d) == 1) {
		if (i++ != index)
			continue;
		ck_assert_uint_le(h->caplen, buflen);
		memcpy(buf, d, h->caplen);
		mm_packet_decode(out, pcap_datalink(pc), 0, buf, h->caplen, h->len);
		found = 1;
		break;
	}
	pcap_close(pc);
	ck_assert_msg(found, "%s has no packet %lu", rel, index);
	return out;
}

static void
assert_addr(const struct mm_addr *a, const char *text)
{
	char s[MM_ADDR_STRLEN];

	ck_assert_str_eq(mm_addr_format(s, a), text);
}

static void
assert_mac(const uint8_t *mac, const char *text)
{
	char s[MM_MAC_STRLEN];

	ck_assert_ptr_nonnull(mac);
	ck_assert_str_eq(mm_mac_format(s, mac), text);
}

static uint8_t frame[65536];

START_TEST(test_first_syn)
{
	struct mm_packet p;

	/* tcpdump: 172.16.0.8.36050 > 64.13.134.52.443: Flags [S], seq
	 * 3713172248, win 3072, options [mss 1460], length 0 */
	nth("chrissanders-packets/synscan.pcapng", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.decode_error, MM_DEC_OK);
	ck_assert_uint_eq(p.layers, MM_L_ETH | MM_L_IPV4 | MM_L_TCP);
	assert_addr(&p.src, "172.16.0.8");
	assert_addr(&p.dst, "64.13.134.52");
	ck_assert_uint_eq(p.sport, 36050);
	ck_assert_uint_eq(p.dport, 443);
	ck_assert_uint_eq(p.tcp_seq, 3713172248u);
	ck_assert_uint_eq(p.tcp_window, 3072);
	ck_assert_uint_eq(p.tcp_flags, MM_TCP_SYN);
	ck_assert_uint_eq(p.tcp_options_len, 4);
	ck_assert_uint_eq(p.tcp_options[0], 2); /* MSS */
	ck_assert_uint_eq((p.tcp_options[2] << 8) | p.tcp_options[3], 1460);
	ck_assert_uint_eq(p.ip_ttl, 54);
	ck_assert_uint_eq(p.ip_id, 59144);
	ck_assert_uint_eq(p.payload_len, 0);
	ck_assert_uint_eq(p.ethertype, 0x0800);
	ck_assert_int_eq(p.caplen, 58);
}
END_TEST

START_TEST(test_handshake_fields)
{
	struct mm_packet p;

	/* 212.58.226.142.80 > 172.16.16.128.2826: Flags [S.], seq 233779340,
	 * ack 3691127925, win 5840, options [mss 1406,nop,nop,sackOK,nop,
	 * wscale 7] */
	nth("chrissanders-packets/tcp_handshake.pcapng", 1, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.tcp_flags, MM_TCP_SYN | MM_TCP_ACK);
	ck_assert_uint_eq(p.tcp_seq, 233779340u);
	ck_assert_uint_eq(p.tcp_ack, 3691127925u);
	ck_assert_uint_eq(p.tcp_window, 5840);
	ck_assert_uint_eq(p.tcp_hdr_len, 32);
	ck_assert_uint_eq(p.tcp_options_len, 12);
	assert_mac(p.src_mac, "00:05:5d:21:99:4c");
	assert_mac(p.dst_mac, "00:21:6a:5b:7d:4a");
	ck_assert_uint_eq(p.ip_df, 0);
	nth("chrissanders-packets/tcp_handshake.pcapng", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.ip_df, 1);
	ck_assert_uint_eq(p.ip_ttl, 128);
}
END_TEST

/* Frames of 60 bytes carrying 40- or 44-byte IP packets: the Ethernet
 * padding must not show up as payload. */
static void
padding_cb(const struct mm_packet *p, unsigned long index, void *user)
{
	unsigned long *padded = user;

	if (p->caplen == 60 && p->ip_total_len < 46) {
		ck_assert_uint_eq(p->payload_len, 0);
		(*padded)++;
	}
	if (p->layers & MM_L_TCP)
		ck_assert_uint_eq(p->payload_len, p->ip_total_len - p->ip_hdr_len - p->tcp_hdr_len);
}

START_TEST(test_padding_not_payload)
{
	struct counts n;
	unsigned long padded = 0;

	decode_file("chrissanders-packets/synscan.pcapng", &n, padding_cb, &padded);
	/* tcpdump -nne: 17 frames have "length 60". */
	ck_assert_uint_eq(padded, 17);
}
END_TEST

START_TEST(test_dns_udp)
{
	struct mm_packet p;

	/* 192.168.0.114.1060 > 205.152.37.23.53: A? wireshark.org. (31) */
	nth("chrissanders-packets/dns_query_response.pcapng", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.sport, 1060);
	ck_assert_uint_eq(p.dport, 53);
	ck_assert_uint_eq(p.payload_len, 31);
	ck_assert_uint_eq(p.ip_total_len, 59);
	/* The question's first label. */
	ck_assert_uint_eq(p.payload[12], 9);
	ck_assert(memcmp(p.payload + 13, "wireshark", 9) == 0);
	nth("chrissanders-packets/dns_query_response.pcapng", 1, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.payload_len, 47);
	ck_assert_uint_eq(p.ip_df, 1);
	ck_assert_uint_eq(p.ip_ttl, 50);
}
END_TEST

START_TEST(test_arp)
{
	struct mm_packet p;

	nth("chrissanders-packets/arp_resolution.pcapng", 0, &p, frame, sizeof(frame));
	ck_assert(p.layers & MM_L_ARP);
	ck_assert_uint_eq(p.arp_op, 1);
	ck_assert_uint_eq(p.ethertype, 0x0806);
	ck_assert(memcmp(p.arp_sha, p.src_mac, 6) == 0);
	assert_addr(&p.arp_spa, "192.168.0.114");
	assert_addr(&p.arp_tpa, "192.168.0.1");
	nth("chrissanders-packets/arp_resolution.pcapng", 1, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.arp_op, 2);
	ck_assert_uint_eq(p.arp_spa.family, 4);
	/* Hardware length 14: the operation is kept, the addresses are not. */
	nth("tcpdump-tests/arp-too-long-tha.pcap", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.arp_op, 1);
	ck_assert_ptr_null(p.arp_sha);
	ck_assert_uint_eq(p.arp_spa.family, 0);
}
END_TEST

START_TEST(test_beacon)
{
	struct mm_packet p;
	const uint8_t *ie;
	uint8_t len = 0;

	/* tcpdump -e: BSSID:00:13:46:0b:22:ba DA:ff:ff:ff:ff:ff:ff Beacon
	 * (TESLA) ... ESS CH: 11, PRIVACY */
	nth("chrissanders-packets/80211beacon.pcapng", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.decode_error, MM_DEC_OK);
	ck_assert_uint_eq(p.layers, MM_L_WLAN);
	ck_assert_uint_eq(p.wlan_type, MM_WLAN_MGMT);
	ck_assert_uint_eq(p.wlan_subtype, MM_WLAN_BEACON);
	assert_mac(p.wlan_bssid, "00:13:46:0b:22:ba");
	assert_mac(p.wlan_sa, "00:13:46:0b:22:ba");
	assert_mac(p.wlan_da, "ff:ff:ff:ff:ff:ff");
	ie = mm_wlan_find_ie(p.wlan_body, p.wlan_body_len, 12, 0, &len);
	ck_assert_ptr_nonnull(ie);
	ck_assert_uint_eq(len, 5);
	ck_assert(memcmp(ie, "TESLA", 5) == 0);
	ie = mm_wlan_find_ie(p.wlan_body, p.wlan_body_len, 12, 3, &len);
	ck_assert_ptr_nonnull(ie);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(ie[0], 11);
	/* Capability: privacy bit. */
	ck_assert(p.wlan_body[10] & 0x10);

	/* Radiotap: 2412 MHz 11b -16dBm signal ... Beacon (DENVEROFFICE). */
	nth("chrissanders-packets/3e80211_wpaauth.pcapng", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.layers, MM_L_RADIOTAP | MM_L_WLAN);
	ck_assert_uint_eq(p.freq_mhz, 2412);
	ck_assert_uint_eq(p.channel, 1);
	ck_assert_uint_eq(p.has_signal, 1);
	ck_assert_int_eq(p.signal_dbm, -16);
	assert_mac(p.wlan_bssid, "28:c6:8e:ab:96:16");
	ie = mm_wlan_find_ie(p.wlan_body, p.wlan_body_len, 12, 0, &len);
	ck_assert_ptr_nonnull(ie);
	ck_assert_uint_eq(len, 12);
	ck_assert(memcmp(ie, "DENVEROFFICE", 12) == 0);
	/* Probe request: elements start at 0. */
	nth("chrissanders-packets/3e80211_wpaauth.pcapng", 1, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.wlan_subtype, MM_WLAN_PROBE_REQ);
	ie = mm_wlan_find_ie(p.wlan_body, p.wlan_body_len, 0, 0, &len);
	ck_assert_ptr_nonnull(ie);
	ck_assert(len == 12 && memcmp(ie, "DENVEROFFICE", 12) == 0);
	assert_mac(p.wlan_sa, "ac:cf:5c:78:6c:9c");
	ck_assert_int_eq(p.signal_dbm, -38);
	/* EAPOL in a QoS data frame from the AP (FromDS). */
	nth("chrissanders-packets/3e80211_wpaauth.pcapng", 7, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.wlan_type, MM_WLAN_DATA);
	ck_assert_uint_eq(p.wlan_flags & 3, 2);
	ck_assert(p.layers & MM_L_LLC);
	ck_assert_uint_eq(p.ethertype, 0x888e);
	assert_mac(p.wlan_bssid, "28:c6:8e:ab:96:16");
	assert_mac(p.wlan_da, "ac:cf:5c:78:6c:9c");
	/* "EAPOL key (3) v2, len 95" after an 8-byte LLC/SNAP header. */
	ck_assert_uint_eq(p.wlan_body_len, 8 + 4 + 95);
	/* Protected data frame: no LLC decoding. */
	nth("chrissanders-packets/3e80211_wpaauth.pcapng", 11, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.wlan_flags & 0x40, 0x40);
	ck_assert(!(p.layers & MM_L_LLC));
}
END_TEST

START_TEST(test_radiotap_fields)
{
	struct mm_packet p;

	/* test1.pcap: tsft 1.0 Mb/s 2437 MHz 11b -86dBm signal -91dBm signal
	 * antenna 0 -87dBm signal antenna 1: the per-antenna values sit in
	 * further namespaces and must not replace the combined one. */
	nth("aircrack-ng-tests/test1.pcap", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.freq_mhz, 2437);
	ck_assert_uint_eq(p.channel, 6);
	ck_assert_int_eq(p.signal_dbm, -86);
	ck_assert_uint_eq(p.wlan_subtype, MM_WLAN_PROBE_RESP);
	assert_mac(p.wlan_bssid, "f8:1a:67:e5:05:62");
	/* 5 GHz, UDP through LLC: 5540 MHz -74dBm, 61738 > 53 */
	nth("zeek-traces/radiotap.pcap", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.freq_mhz, 5540);
	ck_assert_uint_eq(p.channel, 108);
	ck_assert_int_eq(p.signal_dbm, -74);
	ck_assert_uint_eq(p.sport, 61738);
	ck_assert_uint_eq(p.dport, 53);
	assert_addr(&p.src, "172.17.156.76");
	assert_addr(&p.dst, "208.67.220.220");
	/* ToDS: addr1 is the BSSID. */
	ck_assert_ptr_eq(p.wlan_bssid, p.wlan_addr1);
	ck_assert_ptr_eq(p.wlan_sa, p.wlan_addr2);
	nth("zeek-traces/radiotap.pcap", 2, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.ip_version, 6);
	assert_addr(&p.dst, "ff02::fb");
	ck_assert_uint_eq(p.dport, 5353);
	/* QoS data with the order bit: 4 bytes of HT control before LLC.
	 * tcpdump: 0.0.0.0.68 > 255.255.255.255.67, length 300. */
	nth("tcpdump-tests/ieee802.11_htc.pcap", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.wlan_flags & 0x80, 0x80);
	ck_assert_uint_eq(p.sport, 68);
	ck_assert_uint_eq(p.dport, 67);
	ck_assert_uint_eq(p.payload_len, 300);
	ck_assert_uint_eq(p.freq_mhz, 5180);
	ck_assert_uint_eq(p.channel, 36);
	/* Extended bitmap: tcpdump "2412 MHz 11b -22dBm signal ... [bit 32]". */
	nth("tcpdump-tests/ieee802.11_exthdr.pcap", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.freq_mhz, 2412);
	ck_assert_int_eq(p.signal_dbm, -22);
	ck_assert_uint_eq(p.wlan_subtype, MM_WLAN_PROBE_REQ);
	/* No channel field in this one ("-86dBm noise 27dBm tx power"). */
	nth("tcpdump-tests/ieee802.11_exthdr.pcap", 2, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.freq_mhz, 0);
	ck_assert_uint_eq(p.has_signal, 0);
	ck_assert_uint_eq(p.wlan_subtype, MM_WLAN_PROBE_RESP);
	/* 5745 MHz is channel 149. */
	nth("tcpdump-tests/ieee802.11_meshid.pcap", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.channel, 149);
	ck_assert_int_eq(p.signal_dbm, -34);
}
END_TEST

START_TEST(test_wds_four_addresses)
{
	char path[1024], ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	struct mm_packet p;
	pcap_t *pc;
	int wds = 0;

	/* Frames with both ToDS and FromDS carry four addresses. */
	data_path(path, sizeof(path), "aircrack-ng-tests/capture_wds-01.cap");
	pc = pcap_open_offline(path, ebuf);
	ck_assert_ptr_nonnull(pc);
	while (pcap_next_ex(pc, &h, &d) == 1) {
		mm_packet_decode(&p, pcap_datalink(pc), 0, d, h->caplen, h->len);
		if ((p.layers & MM_L_WLAN) && p.wlan_type == MM_WLAN_DATA &&
		    (p.wlan_flags & 3) == 3) {
			ck_assert_ptr_nonnull(p.wlan_addr4);
			ck_assert_ptr_eq(p.wlan_sa, p.wlan_addr4);
			ck_assert_ptr_null(p.wlan_bssid);
			wds++;
		}
	}
	pcap_close(pc);
	/* tcpdump -r capture_wds-01.cap 'type data and wlan[1] & 3 == 3' */
	ck_assert_int_eq(wds, 47);
	if (have_tcpdump())
		ck_assert_int_eq(tcpdump_count("aircrack-ng-tests/capture_wds-01.cap",
		                               "type data and wlan[1] & 3 == 3"),
		                 wds);
}
END_TEST

START_TEST(test_icmp_inner)
{
	struct mm_packet p;

	/* 192.168.100.1 > 192.168.100.138: ICMP time exceeded in-transit,
	 * quoting 192.168.100.138 > 4.2.2.1: ICMP echo request */
	nth("chrissanders-packets/icmp_traceroute.pcapng", 1, &p, frame, sizeof(frame));
	ck_assert(p.layers & MM_L_ICMP);
	ck_assert(p.layers & MM_L_ICMP_INNER);
	ck_assert_uint_eq(p.icmp_type, 11);
	ck_assert_uint_eq(p.icmp_code, 0);
	ck_assert_uint_eq(p.icmp_inner.ip_proto, 1);
	assert_addr(&p.icmp_inner.src, "192.168.100.138");
	assert_addr(&p.icmp_inner.dst, "4.2.2.1");
	ck_assert_uint_eq(p.ip_tos, 0xc0);
	/* The echo request itself has no inner header. */
	nth("chrissanders-packets/icmp_traceroute.pcapng", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.icmp_type, 8);
	ck_assert(!(p.layers & MM_L_ICMP_INNER));
	ck_assert_uint_eq(p.payload_len, 64);
}
END_TEST

START_TEST(test_ipv6_ext)
{
	struct mm_packet p;
	char path[1024], ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *pc;
	int mld = 0;

	/* fe80::883c:d6ff:fee1:4dc4 > ff02::16: HBH (rtalert) ICMP6,
	 * multicast listener report v2 (type 143). */
	data_path(path, sizeof(path), "zeek-traces/dns_mdns.pcap");
	pc = pcap_open_offline(path, ebuf);
	ck_assert_ptr_nonnull(pc);
	while (pcap_next_ex(pc, &h, &d) == 1) {
		mm_packet_decode(&p, pcap_datalink(pc), 0, d, h->caplen, h->len);
		if (!(p.layers & MM_L_ICMP6))
			continue;
		ck_assert_uint_eq(p.ip_proto, 58);
		ck_assert_uint_eq(p.icmp_type, 143);
		ck_assert_uint_eq(p.ip_ttl, 1);
		ck_assert_uint_eq(p.ip_total_len, 40 + 36);
		assert_addr(&p.src, "fe80::883c:d6ff:fee1:4dc4");
		assert_addr(&p.dst, "ff02::16");
		/* 8 bytes of hop-by-hop before the ICMPv6 header. */
		ck_assert_ptr_eq(p.l4, p.l3 + 48);
		mld++;
	}
	pcap_close(pc);
	ck_assert_int_eq(mld, 3);
	nth("chrissanders-packets/dhcp6_outlease_acquisition.pcapng", 0, &p, frame, sizeof(frame));
	assert_addr(&p.src, "fe80::20c:29ff:fe5e:7744");
	assert_addr(&p.dst, "ff02::1:2");
	ck_assert_uint_eq(p.sport, 546);
	ck_assert_uint_eq(p.dport, 547);
}
END_TEST

START_TEST(test_fragments_and_links)
{
	struct mm_packet p;
	char path[1024], ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *pc;
	int seen = 0;

	/* zeek_erspan: id 57625, offset 1480, proto GRE: no transport. */
	data_path(path, sizeof(path), "legacy-os/zeek_erspan.pcap");
	pc = pcap_open_offline(path, ebuf);
	ck_assert_ptr_nonnull(pc);
	while (pcap_next_ex(pc, &h, &d) == 1) {
		mm_packet_decode(&p, pcap_datalink(pc), 0, d, h->caplen, h->len);
		if (p.ip_id == 57625 && (p.layers & MM_L_FRAG)) {
			ck_assert_uint_eq(p.ip_proto, 47);
			ck_assert_ptr_null(p.l4);
			ck_assert_ptr_null(p.payload);
			seen++;
		}
	}
	pcap_close(pc);
	ck_assert_int_eq(seen, 2);
	/* VLAN ids, outer first. */
	nth("suricata-verify/tests/arp/detect-arp-03-vlan/input.pcap", 1, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.vlan_count, 2);
	ck_assert_uint_eq(p.vlan_id[0], 1);
	ck_assert_uint_eq(p.vlan_id[1], 10);
	ck_assert_uint_eq(p.ethertype, 0x0806);
	assert_addr(&p.arp_spa, "10.204.1.5");
	nth("suricata-verify/tests/arp/detect-arp-03-vlan/input.pcap", 2, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.decode_error, MM_DEC_TOO_MANY_HEADERS);
	ck_assert(p.layers & MM_L_ETH);
	/* IP options: 9.10.11.12.20 > 13.14.15.16.80, header 24 bytes. */
	nth("suricata-verify/tests/detect-ipopts/input.pcap", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.ip_hdr_len, 24);
	ck_assert_uint_eq(p.sport, 20);
	ck_assert_uint_eq(p.dport, 80);
	ck_assert_ptr_eq(p.l4, p.l3 + 24);
	/* BSD loopback. */
	nth("suricata-verify/tests/smtp-pipelining/input.pcap", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.sport, 50287);
	ck_assert_uint_eq(p.dport, 25);
	ck_assert_uint_eq(p.tcp_seq, 201142222u);
	/* Linux cooked. */
	nth("suricata-verify/tests/detect-pcre/detect-pcre-02/input.pcap", 3, &p, frame,
	    sizeof(frame));
	ck_assert_uint_eq(p.dport, 8080);
	ck_assert_uint_eq(p.payload_len, 230);
	ck_assert(memcmp(p.payload, "GET ", 4) == 0 || memcmp(p.payload, "POST", 4) == 0);
	/* Raw IP. */
	nth("suricata-verify/tests/dns/dns-udp-eve-log-srv/input.pcap", 0, &p, frame,
	    sizeof(frame));
	assert_addr(&p.src, "172.30.2.70");
	ck_assert_uint_eq(p.sport, 36441);
	ck_assert_uint_eq(p.dport, 53);
}
END_TEST

START_TEST(test_malformed_wlan)
{
	struct mm_packet p;
	const uint8_t *ie;
	uint8_t len;

	/* tcpdump: "Beacon IBSS, PRIVACY [|802.11]": an element runs past the
	 * end; the walk must stop instead of reading on. */
	nth("tcpdump-tests/ieee802.11_parse_elements_oobr.pcap", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.wlan_subtype, MM_WLAN_BEACON);
	for (int id = 0; id < 256; id++) {
		ie = mm_wlan_find_ie(p.wlan_body, p.wlan_body_len, 12, (uint8_t)id, &len);
		if (ie != NULL)
			ck_assert(ie + len <= p.wlan_body + p.wlan_body_len);
	}
	nth("tcpdump-tests/radiotap-heapoverflow.pcap", 0, &p, frame, sizeof(frame));
	ck_assert_uint_eq(p.decode_error, MM_DEC_BAD_RADIOTAP);
	ck_assert_uint_eq(p.layers, 0);
	ck_assert_int_eq(
	        mm_packet_decode(&p, MM_LINK_IEEE802_11_RADIOTAP, 0, p.data, p.caplen, p.wirelen),
	        MM_ERR_PARSE);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Hand-built frames, decoded at every length.                        */

struct builder {
	uint8_t b[512];
	size_t n;
};

static void
put(struct builder *w, const void *p, size_t n)
{
	ck_assert_uint_le(w->n + n, sizeof(w->b));
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void
put8(struct builder *w, unsigned v)
{
	uint8_t b = (uint8_t)v;

	put(w, &b, 1);
}

static void
put16(struct builder *w, unsigned v)
{
	put8(w, v >> 8);
	put8(w, v);
}

static void
put16le(struct builder *w, unsigned v)
{
	put8(w, v);
	put8(w, v >> 8);
}

static void
put32(struct builder *w, uint32_t v)
{
	put16(w, v >> 16);
	put16(w, v & 0xffff);
}

static void
put32le(struct builder *w, uint32_t v)
{
	put16le(w, v & 0xffff);
	put16le(w, v >> 16);
}

static void
put_zero(struct builder *w, size_t n)
{
	while (n--)
		put8(w, 0);
}

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0x0b};
static const uint8_t mac_c[6] = {0x02, 0, 0, 0, 0, 0x0c};

static void
put_eth(struct builder *w, unsigned type)
{
	put(w, mac_b, 6);
	put(w, mac_a, 6);
	put16(w, type);
}

/* IPv4 header with hl_words 32-bit words; total is the whole datagram. */
static void
put_ipv4(struct builder *w, unsigned hl_words, unsigned total, unsigned proto, uint32_t src,
         uint32_t dst)
{
	put8(w, 0x40 | hl_words);
	put8(w, 0);
	put16(w, total);
	put16(w, 0x1234);
	put16(w, 0x4000);
	put8(w, 64);
	put8(w, proto);
	put16(w, 0);
	put32(w, src);
	put32(w, dst);
	/* Options: NOPs then end of list. */
	for (unsigned i = 5; i < hl_words; i++)
		put32(w, 0x01010100);
}

static void
put_ipv6(struct builder *w, unsigned plen, unsigned nh, uint8_t last)
{
	put32(w, 0x60012345); /* traffic class 0, flow label 0x12345 */
	put16(w, plen);
	put8(w, nh);
	put8(w, 64);
	put16(w, 0x2001);
	put16(w, 0x0db8);
	put_zero(w, 11);
	put8(w, 1);
	put16(w, 0x2001);
	put16(w, 0x0db8);
	put_zero(w, 11);
	put8(w, last);
}

struct built {
	const char *name;
	int linktype;
	struct builder w;
};

/* Ethernet, IPv4 with options, TCP with options, 5 bytes of payload. */
static void
build_eth_tcp(struct built *f)
{
	struct builder *w = &f->w;

	f->name = "eth/ipv4+opts/tcp+opts";
	f->linktype = MM_LINK_ETHERNET;
	put_eth(w, 0x0800);
	put_ipv4(w, 6, 24 + 32 + 5, 6, 0xc0000201, 0xc0000202);
	put16(w, 40000);
	put16(w, 80);
	put32(w, 1000);
	put32(w, 2000);
	put8(w, 8 << 4);
	put8(w, MM_TCP_PSH | MM_TCP_ACK);
	put16(w, 512);
	put16(w, 0);
	put16(w, 0);
	put32(w, 0x01010101); /* NOPs */
	put32(w, 0x0101080a); /* NOP NOP timestamp... */
	put32(w, 0x00000001);
	put(w, "hello", 5);
}

/* 802.1ad + 802.1Q, IPv6, hop-by-hop, fragment (offset 0), UDP. */
static void
build_qinq_v6_udp(struct built *f)
{
	struct builder *w = &f->w;

	f->name = "eth/qinq/ipv6/hbh/frag/udp";
	f->linktype = MM_LINK_ETHERNET;
	put_eth(w, 0x88a8);
	put16(w, 100);
	put16(w, 0x8100);
	put16(w, 200);
	put16(w, 0x86dd);
	put_ipv6(w, 8 + 8 + 8 + 4, 0, 1);
	put8(w, 44); /* hop-by-hop: next fragment, 8 bytes of PadN */
	put8(w, 0);
	put8(w, 1);
	put8(w, 4);
	put32(w, 0);
	put8(w, 17); /* fragment: next UDP, offset 0, no more fragments */
	put8(w, 0);
	put16(w, 0);
	put32(w, 0xabcd);
	put16(w, 5353);
	put16(w, 53);
	put16(w, 12);
	put16(w, 0);
	put(w, "ping", 4);
}

static void
build_arp(struct built *f)
{
	struct builder *w = &f->w;

	f->name = "eth/vlan/arp";
	f->linktype = MM_LINK_ETHERNET;
	put_eth(w, 0x8100);
	put16(w, 42);
	put16(w, 0x0806);
	put16(w, 1);
	put16(w, 0x0800);
	put8(w, 6);
	put8(w, 4);
	put16(w, 2);
	put(w, mac_a, 6);
	put32(w, 0xc0a80001);
	put(w, mac_b, 6);
	put32(w, 0xc0a80002);
}

/*
 * Radiotap with a vendor namespace between the fields: word 0 has TSFT,
 * flags (FCS at end), vendor namespace next, extension; word 1 (vendor)
 * has two vendor bits, radiotap namespace next, extension; word 2 has
 * channel and antenna signal. Offsets: 16 TSFT, 24 flags, 26 vendor
 * header (skip 5), 32..36 vendor data, 38 channel (aligned from 37), 42
 * signal; header length 43. Then a QoS data frame to the AP carrying
 * LLC/SNAP, IPv4 and an ICMP port unreachable quoting IPv4/UDP, then 4
 * bytes of FCS.
 */
static void
build_radiotap_icmp(struct built *f)
{
	struct builder *w = &f->w;

	f->name = "radiotap+vendor/wlan qos/llc/ipv4/icmp unreach";
	f->linktype = MM_LINK_IEEE802_11_RADIOTAP;
	put8(w, 0);
	put8(w, 0);
	put16le(w, 43);
	put32le(w, 0x1u | 0x2u | (1u << 30) | (1u << 31));
	put32le(w, 0x3u | (1u << 29) | (1u << 31));
	put32le(w, (1u << 3) | (1u << 5));
	put32le(w, 0x11111111); /* TSFT */
	put32le(w, 0x22222222);
	put8(w, 0x10); /* flags: FCS at end */
	put8(w, 0);    /* alignment */
	put8(w, 0x00); /* OUI 00:11:22, sub-namespace 0, skip_length 5 */
	put8(w, 0x11);
	put8(w, 0x22);
	put8(w, 0);
	put16le(w, 5);
	put_zero(w, 5); /* vendor data */
	put8(w, 0);     /* alignment of the channel */
	put16le(w, 2437);
	put16le(w, 0x00a0);
	put8(w, (uint8_t)-60);
	ck_assert_uint_eq(w->n, 43);
	put8(w, 0x88); /* QoS data */
	put8(w, 0x01); /* ToDS */
	put16(w, 0);
	put(w, mac_c, 6); /* BSSID */
	put(w, mac_a, 6); /* SA */
	put(w, mac_b, 6); /* DA */
	put16le(w, 100 << 4);
	put16le(w, 0);
	put8(w, 0xaa);
	put8(w, 0xaa);
	put8(w, 0x03);
	put_zero(w, 3);
	put16(w, 0x0800);
	put_ipv4(w, 5, 20 + 8 + 28, 1, 0xc0000202, 0xc0000201);
	put8(w, 3);
	put8(w, 3);
	put16(w, 0);
	put32(w, 0);
	put_ipv4(w, 5, 20 + 8 + 10, 17, 0xc0000201, 0xc0000202);
	put16(w, 40001);
	put16(w, 9999);
	put16(w, 18);
	put16(w, 0);
	put32(w, 0xdeadbeef); /* FCS */
}

/* Linux cooked header, IPv4, UDP. */
static void
build_sll_udp(struct built *f)
{
	struct builder *w = &f->w;

	f->name = "sll/ipv4/udp";
	f->linktype = MM_LINK_LINUX_SLL;
	put16(w, 0);
	put16(w, 1);
	put16(w, 6);
	put(w, mac_a, 6);
	put16(w, 0);
	put16(w, 0x0800);
	put_ipv4(w, 5, 20 + 8 + 3, 17, 0x0a000001, 0x0a000002);
	put16(w, 123);
	put16(w, 123);
	put16(w, 11);
	put16(w, 0);
	put(w, "ntp", 3);
}

/* BSD loopback (macOS AF_INET6 = 30), IPv6, ICMPv6 time exceeded quoting
 * IPv6/TCP. */
static void
build_null_icmp6(struct built *f)
{
	struct builder *w = &f->w;

	f->name = "null/ipv6/icmp6 time exceeded";
	f->linktype = MM_LINK_NULL;
	put32le(w, 30);
	put_ipv6(w, 8 + 40 + 8, 58, 1);
	put8(w, 3);
	put8(w, 0);
	put16(w, 0);
	put32(w, 0);
	put_ipv6(w, 20, 6, 2);
	put16(w, 51000);
	put16(w, 443);
	put32(w, 7);
}

static void (*const builders[])(struct built *) = {
        build_eth_tcp,       build_qinq_v6_udp, build_arp,
        build_radiotap_icmp, build_sll_udp,     build_null_icmp6,
};

static int
is_truncation(uint32_t err)
{
	return err == MM_DEC_TRUNCATED_LINK || err == MM_DEC_TRUNCATED_IP ||
	       err == MM_DEC_TRUNCATED_L4 || err == MM_DEC_TRUNCATED_RADIOTAP ||
	       err == MM_DEC_TRUNCATED_WLAN || err == MM_DEC_TRUNCATED_ARP;
}

START_TEST(test_every_length)
{
	struct built f;
	struct mm_packet full, p;
	size_t cut, hdr_end;

	memset(&f, 0, sizeof(f));
	builders[_i](&f);
	ck_assert_int_eq(
	        mm_packet_decode(&full, f.linktype, 0, f.w.b, (uint32_t)f.w.n, (uint32_t)f.w.n),
	        MM_OK);
	/* Where the headers end: the payload, or the last header's end. */
	if (full.payload != NULL)
		hdr_end = (size_t)(full.payload - f.w.b);
	else
		hdr_end = f.w.n;
	for (cut = 0; cut < f.w.n; cut++) {
		uint8_t *buf = malloc(cut ? cut : 1);

		ck_assert_ptr_nonnull(buf);
		memcpy(buf, f.w.b, cut);
		/* Cut by the snap length: the wire had the whole frame. */
		mm_packet_decode(&p, f.linktype, 0, buf, (uint32_t)cut, (uint32_t)f.w.n);
		check_invariants(&p);
		ck_assert_msg((p.layers & ~full.layers) == 0, "%s at %zu: extra layers %x", f.name,
		              cut, p.layers & ~full.layers);
		if (cut >= hdr_end) {
			ck_assert_msg(p.decode_error == MM_DEC_OK, "%s at %zu: %s", f.name, cut,
			              mm_decode_error_name(p.decode_error));
			/* Only the quote inside an ICMP error may be cut off. */
			ck_assert_uint_eq(p.layers | MM_L_ICMP_INNER,
			                  full.layers | MM_L_ICMP_INNER);
		} else {
			ck_assert_msg(is_truncation(p.decode_error), "%s at %zu: %s", f.name, cut,
			              mm_decode_error_name(p.decode_error));
		}
		/* The frame really was this short: the headers now lie. */
		mm_packet_decode(&p, f.linktype, 0, buf, (uint32_t)cut, (uint32_t)cut);
		check_invariants(&p);
		/* A shorter frame may be complete on its own (an empty data
		 * frame), but never decodes to all the layers without an
		 * error. */
		ck_assert_msg(p.decode_error != MM_DEC_OK || p.layers != full.layers,
		              "%s at %zu decoded", f.name, cut);
		ck_assert_msg((p.layers & ~full.layers) == 0, "%s at %zu: extra layers", f.name,
		              cut);
		free(buf);
	}
}
END_TEST

START_TEST(test_built_fields)
{
	struct built f;
	struct mm_packet p;

	memset(&f, 0, sizeof(f));
	build_eth_tcp(&f);
	ck_assert_int_eq(mm_packet_decode(&p, f.linktype, 42, f.w.b, f.w.n, f.w.n), MM_OK);
	ck_assert_uint_eq(p.ts_ns, 42);
	ck_assert_uint_eq(p.ip_hdr_len, 24);
	ck_assert_uint_eq(p.tcp_hdr_len, 32);
	ck_assert_uint_eq(p.tcp_options_len, 12);
	ck_assert_uint_eq(p.payload_len, 5);
	ck_assert(memcmp(p.payload, "hello", 5) == 0);
	ck_assert_uint_eq(p.ip_df, 1);
	ck_assert_uint_eq(p.ip_id, 0x1234);

	memset(&f, 0, sizeof(f));
	build_qinq_v6_udp(&f);
	ck_assert_int_eq(mm_packet_decode(&p, f.linktype, 0, f.w.b, f.w.n, f.w.n), MM_OK);
	ck_assert_uint_eq(p.vlan_count, 2);
	ck_assert_uint_eq(p.vlan_id[0], 100);
	ck_assert_uint_eq(p.vlan_id[1], 200);
	ck_assert_uint_eq(p.ip_proto, 17);
	ck_assert_uint_eq(p.ip_flow_label, 0x12345);
	ck_assert_uint_eq(p.sport, 5353);
	ck_assert_uint_eq(p.payload_len, 4);
	assert_addr(&p.dst, "2001:db8::1");
	/* A non-first fragment: no transport layer. */
	f.w.b[14 + 8 + 40 + 8 + 3] = 0x08;
	ck_assert_int_eq(mm_packet_decode(&p, f.linktype, 0, f.w.b, f.w.n, f.w.n), MM_OK);
	ck_assert(p.layers & MM_L_FRAG);
	ck_assert(!(p.layers & MM_L_UDP));
	/* A third tag is refused. */
	f.w.b[14 + 6] = 0x81;
	f.w.b[14 + 7] = 0x00;
	ck_assert_int_eq(mm_packet_decode(&p, f.linktype, 0, f.w.b, f.w.n, f.w.n), MM_ERR_RANGE);
	ck_assert_uint_eq(p.decode_error, MM_DEC_TOO_MANY_HEADERS);

	memset(&f, 0, sizeof(f));
	build_radiotap_icmp(&f);
	ck_assert_int_eq(mm_packet_decode(&p, f.linktype, 0, f.w.b, f.w.n, f.w.n), MM_OK);
	ck_assert_uint_eq(p.freq_mhz, 2437);
	ck_assert_uint_eq(p.channel, 6);
	ck_assert_int_eq(p.signal_dbm, -60);
	ck_assert_uint_eq(p.wlan_seq, 100);
	ck_assert_ptr_eq(p.wlan_bssid, p.data + 43 + 4);
	ck_assert_ptr_eq(p.wlan_sa, p.data + 43 + 10);
	ck_assert_ptr_eq(p.wlan_da, p.data + 43 + 16);
	ck_assert(p.layers & MM_L_ICMP_INNER);
	ck_assert_uint_eq(p.icmp_inner.ip_proto, 17);
	ck_assert_uint_eq(p.icmp_inner.sport, 40001);
	ck_assert_uint_eq(p.icmp_inner.dport, 9999);
	/* The FCS is neither body nor payload. */
	ck_assert_uint_eq(p.wlan_body_len, 8 + 56);
	ck_assert_uint_eq(p.payload_len, 28);
	/* Without the FCS flag the 4 bytes are part of the frame body. */
	f.w.b[24] = 0;
	ck_assert_int_eq(mm_packet_decode(&p, f.linktype, 0, f.w.b, f.w.n, f.w.n), MM_OK);
	ck_assert_uint_eq(p.wlan_body_len, 8 + 56 + 4);
	/* A skip_length running past the header is a lie. */
	f.w.b[30] = 0xff;
	ck_assert_int_eq(mm_packet_decode(&p, f.linktype, 0, f.w.b, f.w.n, f.w.n), MM_ERR_PARSE);
	ck_assert_uint_eq(p.decode_error, MM_DEC_BAD_RADIOTAP);

	memset(&f, 0, sizeof(f));
	build_null_icmp6(&f);
	ck_assert_int_eq(mm_packet_decode(&p, f.linktype, 0, f.w.b, f.w.n, f.w.n), MM_OK);
	ck_assert(p.layers & MM_L_ICMP6);
	ck_assert_uint_eq(p.icmp_type, 3);
	ck_assert_uint_eq(p.icmp_inner.ip_proto, 6);
	ck_assert_uint_eq(p.icmp_inner.sport, 51000);
	ck_assert_uint_eq(p.icmp_inner.dport, 443);
	assert_addr(&p.icmp_inner.dst, "2001:db8::2");
	/* Big-endian family word works too. */
	f.w.b[0] = 0;
	f.w.b[3] = 30;
	ck_assert_int_eq(mm_packet_decode(&p, f.linktype, 0, f.w.b, f.w.n, f.w.n), MM_OK);
	ck_assert(p.layers & MM_L_IPV6);

	memset(&f, 0, sizeof(f));
	build_sll_udp(&f);
	ck_assert_int_eq(mm_packet_decode(&p, f.linktype, 0, f.w.b, f.w.n, f.w.n), MM_OK);
	ck_assert_ptr_eq(p.src_mac, p.data + 6);
	ck_assert_uint_eq(p.payload_len, 3);
	/* UDP length larger than the IP payload. */
	f.w.b[16 + 20 + 5] = 200;
	ck_assert_int_eq(mm_packet_decode(&p, f.linktype, 0, f.w.b, f.w.n, f.w.n), MM_ERR_PARSE);
	ck_assert_uint_eq(p.decode_error, MM_DEC_BAD_L4);
	ck_assert(p.layers & MM_L_IPV4);

	ck_assert_int_eq(mm_packet_decode(&p, 9999, 0, f.w.b, f.w.n, f.w.n), MM_ERR_UNSUPPORTED);
	ck_assert_uint_eq(p.decode_error, MM_DEC_UNSUPPORTED_LINK);
	ck_assert_int_eq(mm_packet_decode(NULL, 1, 0, f.w.b, f.w.n, f.w.n), MM_ERR_INVAL);
	ck_assert_int_eq(mm_packet_decode(&p, 1, 0, NULL, 100, 100), MM_ERR_TRUNCATED);
}
END_TEST

START_TEST(test_long_ipv6_chain)
{
	struct builder w;
	struct mm_packet p;
	int i;

	/* Nine destination-options headers: one more than the bound. */
	memset(&w, 0, sizeof(w));
	put_ipv6(&w, 9 * 8 + 8, 60, 1);
	for (i = 0; i < 9; i++) {
		put8(&w, i == 8 ? 17 : 60);
		put8(&w, 0);
		put16(&w, 0x0104);
		put32(&w, 0);
	}
	put16(&w, 1);
	put16(&w, 2);
	put16(&w, 8);
	put16(&w, 0);
	ck_assert_int_eq(mm_packet_decode(&p, MM_LINK_RAW, 0, w.b, w.n, w.n), MM_ERR_RANGE);
	ck_assert_uint_eq(p.decode_error, MM_DEC_TOO_MANY_HEADERS);
	ck_assert(p.layers & MM_L_IPV6);
	/* Eight is fine. */
	w.b[6] = 60;
	memmove(w.b + 40, w.b + 48, w.n - 48);
	w.n -= 8;
	w.b[5] -= 8;
	ck_assert_int_eq(mm_packet_decode(&p, MM_LINK_RAW, 0, w.b, w.n, w.n), MM_OK);
	ck_assert(p.layers & MM_L_UDP);
	ck_assert_uint_eq(p.dport, 2);
}
END_TEST

START_TEST(test_freq_channel)
{
	static const struct {
		uint16_t freq, chan;
	} t[] = {{2412, 1}, {2437, 6},  {2472, 13},  {2484, 14},  {5180, 36}, {5825, 165},
	         {5955, 1}, {6415, 93}, {7115, 233}, {4920, 184}, {1000, 0}};
	struct builder w;
	struct mm_packet p;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&w, 0, sizeof(w));
		put8(&w, 0);
		put8(&w, 0);
		put16le(&w, 12);
		put32le(&w, 1u << 3);
		put16le(&w, t[i].freq);
		put16le(&w, 0);
		put8(&w, 0xd4); /* ACK */
		put8(&w, 0);
		put16(&w, 0);
		put(&w, mac_a, 6);
		ck_assert_int_eq(
		        mm_packet_decode(&p, MM_LINK_IEEE802_11_RADIOTAP, 0, w.b, w.n, w.n), MM_OK);
		ck_assert_uint_eq(p.freq_mhz, t[i].freq);
		ck_assert_msg(p.channel == t[i].chan, "%u MHz: %u", t[i].freq, p.channel);
		ck_assert_uint_eq(p.wlan_type, MM_WLAN_CTRL);
		ck_assert_ptr_null(p.wlan_addr2);
	}
}
END_TEST

START_TEST(test_find_ie)
{
	static const uint8_t body[] = {0, 3, 'a', 'b', 'c', 1, 2, 0x82, 0x84, 221, 10, 1, 2};
	const uint8_t *ie;
	uint8_t len = 0;

	ie = mm_wlan_find_ie(body, sizeof(body), 0, 0, &len);
	ck_assert_ptr_eq(ie, body + 2);
	ck_assert_uint_eq(len, 3);
	ie = mm_wlan_find_ie(body, sizeof(body), 0, 1, &len);
	ck_assert_ptr_eq(ie, body + 7);
	ck_assert_uint_eq(len, 2);
	/* The vendor element claims 10 bytes, only 2 are there. */
	ck_assert_ptr_null(mm_wlan_find_ie(body, sizeof(body), 0, 221, &len));
	ck_assert_ptr_null(mm_wlan_find_ie(body, sizeof(body), 0, 48, &len));
	ck_assert_ptr_null(mm_wlan_find_ie(body, sizeof(body), 100, 0, &len));
	ck_assert_ptr_null(mm_wlan_find_ie(NULL, 10, 0, 0, &len));
	ck_assert_ptr_null(mm_wlan_find_ie(body, 1, 0, 0, &len));
	ck_assert_ptr_nonnull(mm_wlan_find_ie(body, 5, 0, 0, NULL));
	ck_assert_ptr_null(mm_wlan_find_ie(body, 4, 0, 0, &len));
}
END_TEST

/* ------------------------------------------------------------------ */
/* Names, strings, addresses.                                         */

START_TEST(test_names)
{
	ck_assert_str_eq(mm_decode_error_name(MM_DEC_OK), "ok");
	ck_assert_str_eq(mm_decode_error_name(MM_DEC_TRUNCATED_IP), "truncated_ip");
	ck_assert_str_eq(mm_decode_error_name(MM_DEC_TOO_MANY_HEADERS), "too_many_headers");
	ck_assert_str_eq(mm_decode_error_name(MM_DEC__COUNT), "unknown");
	for (uint32_t e = 0; e < MM_DEC__COUNT; e++)
		ck_assert_str_ne(mm_decode_error_name(e), "unknown");
	ck_assert_str_eq(mm_strerror(MM_OK), "success");
	ck_assert_str_eq(mm_strerror(MM_ERR_NOMEM), "out of memory");
	ck_assert_str_eq(mm_strerror(MM_ERR_CONFIG), "invalid configuration");
	ck_assert_str_eq(mm_strerror(-19), "unknown error");
	ck_assert_str_eq(mm_strerror(5), "unknown error");
	ck_assert_str_eq(mm_strerror(-2147483647 - 1), "unknown error");
	for (int e = MM_OK; e >= MM_ERR_CONFIG; e--)
		ck_assert_str_ne(mm_strerror(e), "unknown error");
}
END_TEST

START_TEST(test_addr)
{
	struct mm_addr a;
	char s[MM_ADDR_STRLEN];
	static const uint8_t mac[6] = {0, 0x1b, 0x2c, 0xa0, 0xff, 9};
	char m[MM_MAC_STRLEN];

	ck_assert_int_eq(mm_addr_parse(&a, "192.0.2.1"), MM_OK);
	ck_assert_uint_eq(a.family, 4);
	ck_assert_uint_eq(a.addr[3], 1);
	ck_assert_str_eq(mm_addr_format(s, &a), "192.0.2.1");
	ck_assert_int_eq(mm_addr_parse(&a, "2001:DB8:0:0::1"), MM_OK);
	ck_assert_uint_eq(a.family, 6);
	ck_assert_str_eq(mm_addr_format(s, &a), "2001:db8::1");
	ck_assert_int_eq(mm_addr_parse(&a, "::ffff:192.0.2.1"), MM_OK);
	ck_assert_str_eq(mm_addr_format(s, &a), "::ffff:192.0.2.1");
	ck_assert_int_eq(mm_addr_parse(&a, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"), MM_OK);
	ck_assert_str_eq(mm_addr_format(s, &a), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	ck_assert_uint_lt(strlen(s), MM_ADDR_STRLEN);
	ck_assert_int_eq(mm_addr_parse(&a, "192.0.2"), MM_ERR_PARSE);
	ck_assert_int_eq(mm_addr_parse(&a, "256.0.0.1"), MM_ERR_PARSE);
	ck_assert_int_eq(mm_addr_parse(&a, ""), MM_ERR_PARSE);
	ck_assert_int_eq(mm_addr_parse(&a, "1.2.3.4 "), MM_ERR_PARSE);
	ck_assert_int_eq(mm_addr_parse(&a, NULL), MM_ERR_PARSE);
	/* A failed parse keeps the previous value. */
	ck_assert_str_eq(mm_addr_format(s, &a), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	memset(&a, 0, sizeof(a));
	ck_assert_str_eq(mm_addr_format(s, &a), "");
	ck_assert_str_eq(mm_addr_format(s, NULL), "");
	ck_assert_str_eq(mm_mac_format(m, mac), "00:1b:2c:a0:ff:09");
	ck_assert_str_eq(mm_mac_format(m, NULL), "");
}
END_TEST

static Suite *
packet_suite(void)
{
	Suite *s = suite_create("packet");
	TCase *tc = tcase_create("captures");

	tcase_add_loop_test(tc, test_capture_counts, 0, sizeof(expects) / sizeof(expects[0]));
	tcase_add_test(tc, test_first_syn);
	tcase_add_test(tc, test_handshake_fields);
	tcase_add_test(tc, test_padding_not_payload);
	tcase_add_test(tc, test_dns_udp);
	tcase_add_test(tc, test_arp);
	tcase_add_test(tc, test_beacon);
	tcase_add_test(tc, test_radiotap_fields);
	tcase_add_test(tc, test_wds_four_addresses);
	tcase_add_test(tc, test_icmp_inner);
	tcase_add_test(tc, test_ipv6_ext);
	tcase_add_test(tc, test_fragments_and_links);
	tcase_add_test(tc, test_malformed_wlan);
	tcase_add_test(tc, test_cleared_first);
	suite_add_tcase(s, tc);
	tc = tcase_create("built");
	tcase_add_loop_test(tc, test_every_length, 0, sizeof(builders) / sizeof(builders[0]));
	tcase_add_test(tc, test_built_fields);
	tcase_add_test(tc, test_long_ipv6_chain);
	tcase_add_test(tc, test_freq_channel);
	tcase_add_test(tc, test_find_ie);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_addr);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(packet_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
