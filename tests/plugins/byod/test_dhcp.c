/*
 * Check suite for the SDK DHCPv4 parser (sdk/src/dhcp.c). Every DHCP
 * message of the bundled captures is parsed and compared field by field
 * with what `tcpdump -#nv` printed for the same frame (the *.tcpdump-v.txt
 * files next to the captures), plus hand-made malformed messages for the
 * bounds: overload, lying lengths, missing end, truncation.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimamori/dhcp.h>
#include <mimamori/error.h>

#include "pcap_walk.h"

#define MAX_FRAMES 256

/* What tcpdump printed for one frame. */
struct expect {
	int is_dhcp;
	int has_cookie;
	unsigned xid;
	char type[32];
	char chaddr[32];
	unsigned prl[256];
	int n_prl;
	int has_prl;
	char hostname[300];
	char vendor[300];
	char reqip[32];
	char server_id[32];
	char client_id_ether[32];
};

static struct expect exp_tab[MAX_FRAMES + 1];

static void
quoted(char *out, size_t outsz, const char *line)
{
	const char *q = strchr(line, '"');
	const char *e = q ? strrchr(q + 1, '"') : NULL;
	size_t n;

	out[0] = '\0';
	if (q == NULL || e == NULL)
		return;
	n = (size_t)(e - q - 1);
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, q + 1, n);
	out[n] = '\0';
}

static void
after_colon(char *out, size_t outsz, const char *line, const char *skip)
{
	const char *c = strstr(line, "length");
	const char *p;

	out[0] = '\0';
	if (c == NULL || (p = strchr(c, ':')) == NULL)
		return;
	p++;
	while (*p == ' ')
		p++;
	if (skip != NULL && strncmp(p, skip, strlen(skip)) == 0)
		p += strlen(skip);
	snprintf(out, outsz, "%s", p);
	out[strcspn(out, "\r\n ")] = '\0';
}

static void
load_tcpdump(const char *path)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	struct expect *cur = NULL;
	int in_prl = 0;

	memset(exp_tab, 0, sizeof(exp_tab));
	ck_assert_msg(f != NULL, "cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		unsigned frame;
		char *s = line;
		char *m;

		while (*s == ' ')
			s++;
		if (line[0] == ' ' && sscanf(s, "%u  %*d:%*d", &frame) == 1 &&
		    strstr(s, "  ") != NULL && s[strspn(s, "0123456789")] == ' ' &&
		    s[strspn(s, "0123456789") + 1] == ' ') {
			cur = frame <= MAX_FRAMES ? &exp_tab[frame] : NULL;
			in_prl = 0;
			continue;
		}
		if (cur == NULL)
			continue;
		if ((m = strstr(line, "BOOTP/DHCP")) != NULL) {
			char *x = strstr(line, "xid 0x");
			cur->is_dhcp = 1;
			if (x)
				cur->xid = (unsigned)strtoul(x + 6, NULL, 16);
		}
		if (in_prl && strstr(line, "), length") == NULL) {
			char *p = line;
			while ((p = strchr(p, '(')) != NULL) {
				if (cur->n_prl < 256)
					cur->prl[cur->n_prl++] = (unsigned)strtoul(p + 1, NULL, 10);
				p++;
			}
			continue;
		}
		in_prl = 0;
		if (strstr(line, "Magic Cookie 0x63825363") != NULL)
			cur->has_cookie = 1;
		if ((m = strstr(line, "Client-Ethernet-Address ")) != NULL) {
			snprintf(cur->chaddr, sizeof(cur->chaddr), "%s", m + 24);
			cur->chaddr[strcspn(cur->chaddr, "\r\n ")] = '\0';
		} else if (strstr(line, "DHCP-Message (53)")) {
			after_colon(cur->type, sizeof(cur->type), line, NULL);
		} else if (strstr(line, "Parameter-Request (55)")) {
			cur->has_prl = 1;
			in_prl = 1;
		} else if (strstr(line, "Hostname (12)")) {
			quoted(cur->hostname, sizeof(cur->hostname), line);
		} else if (strstr(line, "Vendor-Class (60)")) {
			quoted(cur->vendor, sizeof(cur->vendor), line);
		} else if (strstr(line, "Requested-IP (50)")) {
			after_colon(cur->reqip, sizeof(cur->reqip), line, NULL);
		} else if (strstr(line, "Server-ID (54)")) {
			after_colon(cur->server_id, sizeof(cur->server_id), line, NULL);
		} else if (strstr(line, "Client-ID (61)") && strstr(line, "ether ")) {
			after_colon(cur->client_id_ether, sizeof(cur->client_id_ether), line,
			            "ether ");
		}
	}
	fclose(f);
}

struct run {
	int checked;
	int with_prl;
	int with_hostname;
	int no_cookie;
};

static void
check_frame(void *user, unsigned frame, int linktype, uint64_t ts, const uint8_t *data,
            uint32_t caplen, uint32_t wirelen)
{
	struct run *r = user;
	const struct expect *e;
	struct mm_dhcp_msg m;
	const uint8_t *pl;
	size_t plen;
	uint16_t sp, dp;
	char buf[MM_DHCP_FINGERPRINT_MAX];
	char mac[MM_MAC_STRLEN];
	char a[MM_ADDR_STRLEN];
	int i, rc;

	if (frame > MAX_FRAMES || !udp4_payload(&pl, &plen, &sp, &dp, linktype, data, caplen))
		return;
	if (!(sp == 67 || sp == 68 || dp == 67 || dp == 68))
		return;
	e = &exp_tab[frame];
	ck_assert_msg(e->is_dhcp, "frame %u: tcpdump did not see DHCP", frame);
	rc = mm_dhcp_parse(&m, pl, plen);
	/* Without the magic cookie (tcpdump prints a vendor area instead)
	 * the header is still read but the options are refused. */
	ck_assert_msg(rc == (e->has_cookie ? MM_OK : MM_ERR_PARSE), "frame %u: parse %d", frame,
	              rc);
	r->checked++;
	ck_assert_msg(m.xid == e->xid, "frame %u xid %x != %x", frame, m.xid, e->xid);
	ck_assert_str_eq(mm_mac_format(mac, m.chaddr), e->chaddr);
	if (!e->has_cookie) {
		r->no_cookie++;
		ck_assert_int_eq(m.n_options, 0);
		return;
	}
	if (e->type[0]) {
		/* tcpdump spells NAK "NACK". */
		ck_assert_msg(strcasecmp(mm_dhcp_msg_type_name(m.msg_type), e->type) == 0 ||
		                      (m.msg_type == MM_DHCP_NAK && strcmp(e->type, "NACK") == 0),
		              "frame %u type %s != %s", frame, mm_dhcp_msg_type_name(m.msg_type),
		              e->type);
	} else {
		ck_assert_int_eq(m.msg_type, 0);
	}
	ck_assert_int_eq(m.param_list.p != NULL, e->has_prl);
	if (e->has_prl) {
		r->with_prl++;
		ck_assert_int_eq(m.param_list.len, e->n_prl);
		for (i = 0; i < e->n_prl; i++)
			ck_assert_uint_eq(m.param_list.p[i], e->prl[i]);
		rc = mm_dhcp_fingerprint(buf, sizeof(buf), &m);
		ck_assert_int_eq(rc, (int)strlen(buf));
		ck_assert_int_gt(rc, 0);
	}
	ck_assert_str_eq(mm_dhcp_text(buf, sizeof(buf), &m.hostname), e->hostname);
	if (e->hostname[0])
		r->with_hostname++;
	ck_assert_str_eq(mm_dhcp_text(buf, sizeof(buf), &m.vendor_class), e->vendor);
	ck_assert_str_eq(mm_addr_format(a, &m.requested_ip), e->reqip);
	ck_assert_str_eq(mm_addr_format(a, &m.server_id), e->server_id);
	if (e->client_id_ether[0]) {
		ck_assert_int_eq(m.client_id.len, 7);
		ck_assert_int_eq(m.client_id.p[0], 1);
		ck_assert_str_eq(mm_mac_format(mac, m.client_id.p + 1), e->client_id_ether);
	}
	ck_assert_int_eq(m.flags_parse & (MM_DHCP_F_BAD_OPTION | MM_DHCP_F_TOO_MANY), 0);
}

static const char *const captures[] = {
        "zeek-traces/dhcp_dhcp.pcap",
        "zeek-traces/dhcp_dhcp_ack_subscriber_id_and_agent_remote_id.pcap",
        "zeek-traces/dhcp_dhcp_discover_param_req_and_client_id.pcap",
        "zeek-traces/dhcp_dhcp_inform.pcap",
        "zeek-traces/dhcp_dhcp_time_and_nameserver.pcap",
        "tcpdump-tests/dhcp-mud.pcap",
        "tcpdump-tests/dhcp-option-108.pcapng",
        "tcpdump-tests/dhcp-option-33.pcap",
        "tcpdump-tests/dhcp-rfc3004.pcap",
        "tcpdump-tests/dhcp-rfc4388.pcap",
        "tcpdump-tests/dhcp-rfc5859.pcap",
        "chrissanders-packets/dhcp_inlease_renewal.pcapng",
        "chrissanders-packets/dhcp_nolease_initialization.pcapng",
};

START_TEST(test_matches_tcpdump)
{
	struct run r = {0};
	char txt[4200];
	char cap[4096];
	int n;

	snprintf(cap, sizeof(cap), "%s", test_data(captures[_i]));
	snprintf(txt, sizeof(txt), "%s.tcpdump-v.txt", cap);
	load_tcpdump(txt);
	n = walk_pcap(cap, check_frame, &r);
	ck_assert_int_gt(n, 0);
	ck_assert_msg(r.checked > 0, "%s: no DHCP message checked", captures[_i]);
}
END_TEST

/* A valid header with the given options appended after the cookie. */
static size_t
make_msg(uint8_t *buf, size_t bufsz, const uint8_t *opts, size_t optlen)
{
	static const uint8_t cookie[4] = {99, 130, 83, 99};

	memset(buf, 0, bufsz);
	buf[0] = 1;
	buf[1] = 1;
	buf[2] = 6;
	buf[4] = 0xde;
	buf[5] = 0xad;
	buf[6] = 0xbe;
	buf[7] = 0xef;
	memcpy(buf + 28, "\x02\x11\x22\x33\x44\x55", 6);
	memcpy(buf + 236, cookie, 4);
	memcpy(buf + 240, opts, optlen);
	return 240 + optlen;
}

START_TEST(test_overload)
{
	uint8_t buf[600];
	/* 52=3: both file and sname hold options. */
	static const uint8_t opts[] = {53, 1, 1, 52, 1, 3, 255};
	struct mm_dhcp_msg m;
	struct mm_dhcp_iter it;
	struct mm_dhcp_opt o;
	size_t len = make_msg(buf, sizeof(buf), opts, sizeof(opts));
	char t[64];
	int codes[16], n = 0, r;

	/* file (offset 108): host name; sname (offset 44): vendor class. */
	memcpy(buf + 108, "\x0c\x05phone\xff", 8);
	memcpy(buf + 44, "\x3c\x04test\x37\x03\x01\x03\x06\xff", 12);
	ck_assert_int_eq(mm_dhcp_parse(&m, buf, len), MM_OK);
	ck_assert_int_eq(m.overload, 3);
	ck_assert(m.flags_parse & MM_DHCP_F_OVERLOAD);
	ck_assert_str_eq(mm_dhcp_text(t, sizeof(t), &m.hostname), "phone");
	ck_assert_str_eq(mm_dhcp_text(t, sizeof(t), &m.vendor_class), "test");
	ck_assert_int_eq(mm_dhcp_fingerprint(t, sizeof(t), &m), 5);
	ck_assert_str_eq(t, "1,3,6");
	for (r = mm_dhcp_opt_first(&o, &it, &m); r == 1 && n < 16; r = mm_dhcp_opt_next(&o, &it))
		codes[n++] = o.code;
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(codes[0], 53);
	ck_assert_int_eq(codes[1], 52);
	ck_assert_int_eq(codes[2], 12);
	ck_assert_int_eq(codes[3], 60);
	ck_assert_int_eq(codes[4], 55);

	/* A bad overload value is refused: file and sname stay unread. */
	buf[245] = 7;
	ck_assert_int_eq(mm_dhcp_parse(&m, buf, len), MM_OK);
	ck_assert(m.flags_parse & MM_DHCP_F_BAD_OVERLOAD);
	ck_assert_ptr_null(m.hostname.p);
}
END_TEST

START_TEST(test_lying_lengths)
{
	uint8_t buf[600];
	static const uint8_t opts[] = {53, 1, 3, 12, 4, 'a', 'b', 'c', 'd', 55, 200, 1, 3};
	struct mm_dhcp_msg m;
	size_t len = make_msg(buf, sizeof(buf), opts, sizeof(opts));
	char t[64];

	ck_assert_int_eq(mm_dhcp_parse(&m, buf, len), MM_OK);
	ck_assert_int_eq(m.msg_type, MM_DHCP_REQUEST);
	ck_assert_str_eq(mm_dhcp_text(t, sizeof(t), &m.hostname), "abcd");
	ck_assert_ptr_null(m.param_list.p);
	ck_assert(m.flags_parse & MM_DHCP_F_BAD_OPTION);
	ck_assert_int_eq(mm_dhcp_fingerprint(t, sizeof(t), &m), 0);

	/* A code byte alone at the very end. */
	len = make_msg(buf, sizeof(buf), (const uint8_t *)"\x35\x01\x01\x0c", 4);
	ck_assert_int_eq(mm_dhcp_parse(&m, buf, len), MM_OK);
	ck_assert_int_eq(m.msg_type, 1);
	ck_assert(m.flags_parse & MM_DHCP_F_BAD_OPTION);

	/* No end option. */
	len = make_msg(buf, sizeof(buf), (const uint8_t *)"\x35\x01\x02", 3);
	ck_assert_int_eq(mm_dhcp_parse(&m, buf, len), MM_OK);
	ck_assert(m.flags_parse & MM_DHCP_F_NO_END);
}
END_TEST

START_TEST(test_truncated_and_cookie)
{
	uint8_t buf[600];
	struct mm_dhcp_msg m;
	size_t len = make_msg(buf, sizeof(buf), (const uint8_t *)"\xff", 1);
	char t[8];

	ck_assert_int_eq(mm_dhcp_parse(&m, buf, 100), MM_ERR_TRUNCATED);
	ck_assert_int_eq(mm_dhcp_parse(&m, buf, 239), MM_ERR_TRUNCATED);
	ck_assert_uint_eq(m.xid, 0xdeadbeef);
	ck_assert_int_eq(mm_dhcp_parse(&m, buf, len), MM_OK);
	buf[236] = 0;
	ck_assert_int_eq(mm_dhcp_parse(&m, buf, len), MM_ERR_PARSE);
	ck_assert_int_eq(m.msg_type, 0);
	ck_assert_int_eq(mm_dhcp_parse(&m, NULL, 10), MM_ERR_INVAL);
	buf[2] = 200;
	buf[236] = 99;
	ck_assert_int_eq(mm_dhcp_parse(&m, buf, len), MM_OK);
	ck_assert_int_eq(m.chaddr_len, 16);
	ck_assert(m.flags_parse & MM_DHCP_F_BAD_HLEN);

	/* Fingerprint that does not fit the buffer. */
	len = make_msg(buf, sizeof(buf), (const uint8_t *)"\x37\x04\x01\x03\x06\x0f\xff", 7);
	ck_assert_int_eq(mm_dhcp_parse(&m, buf, len), MM_OK);
	ck_assert_int_eq(mm_dhcp_fingerprint(t, sizeof(t), &m), MM_ERR_FULL);
	ck_assert_str_eq(t, "1,3,6");
	ck_assert_str_eq(mm_dhcp_msg_type_name(99), "UNKNOWN");
}
END_TEST

START_TEST(test_many_options_bounded)
{
	static uint8_t buf[70000];
	struct mm_dhcp_msg m;
	size_t i;

	/* 2-byte empty options until the buffer ends: the count is capped. */
	make_msg(buf, sizeof(buf), (const uint8_t *)"", 0);
	for (i = 240; i + 1 < sizeof(buf); i += 2) {
		buf[i] = 77;
		buf[i + 1] = 0;
	}
	ck_assert_int_eq(mm_dhcp_parse(&m, buf, sizeof(buf)), MM_OK);
	ck_assert_int_eq(m.n_options, MM_DHCP_MAX_OPTIONS);
	ck_assert(m.flags_parse & MM_DHCP_F_TOO_MANY);
}
END_TEST

static Suite *
dhcp_suite(void)
{
	Suite *s = suite_create("sdk_dhcp");
	TCase *tc = tcase_create("dhcp");

	tcase_add_loop_test(tc, test_matches_tcpdump, 0,
	                    (int)(sizeof(captures) / sizeof(captures[0])));
	tcase_add_test(tc, test_overload);
	tcase_add_test(tc, test_lying_lengths);
	tcase_add_test(tc, test_truncated_and_cookie);
	tcase_add_test(tc, test_many_options_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dhcp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
