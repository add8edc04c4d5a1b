/*
 * Check suite for the byod detector under crafted traffic: radiotap
 * 802.11 frames and Ethernet ARP frames are built in memory, decoded by the
 * SDK (mm_packet_decode) and fed to the core. Covers the deauthentication
 * flood and strong unknown access point alerts, and floods of 100 000
 * fake BSSIDs and spoofed MACs that must leave the tables at their bounds
 * (LRU eviction, authorized APs kept, index consistent, memory flat).
 * Also checks that what the packet path keeps from one frame to the next
 * (the last beacon body of each access point, the DHCP parameter list a
 * fingerprint was made from) never hides a change.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <mimamori/error.h>
#include <mimamori/packet.h>

#include "byod.h"

#define DLT_RADIOTAP 127
#define DLT_ETHERNET 1
#define MS 1000000ull
#define SEC 1000000000ull
#define T0 (1700000000ull * SEC)

#define MAX_FOUND 4096

static struct {
	int kind;
	uint8_t mac[6];
	double score;
	char detail[BYOD_LONG];
} fnd[MAX_FOUND];
static int n_fnd;

static void
record(void *user, const struct byod_finding *f)
{
	(void)user;
	if (n_fnd >= MAX_FOUND)
		return;
	fnd[n_fnd].kind = f->kind;
	memcpy(fnd[n_fnd].mac, f->mac, 6);
	fnd[n_fnd].score = f->score;
	snprintf(fnd[n_fnd].detail, sizeof(fnd[n_fnd].detail), "%s", f->detail);
	n_fnd++;
}

static unsigned bad_frames;

static int
count_kind(int kind, const uint8_t *mac)
{
	int n = 0;
	for (int i = 0; i < n_fnd; i++)
		n += fnd[i].kind == kind && (mac == NULL || memcmp(fnd[i].mac, mac, 6) == 0);
	return n;
}

static struct byod *
make(const struct byod_config *cfg)
{
	struct byod *b = NULL;

	n_fnd = 0;
	ck_assert_int_eq(byod_new(&b, cfg, NULL, NULL, record, NULL), MM_OK);
	return b;
}

/* Radiotap header with a channel (frequency) and an antenna signal in dBm,
 * as a monitor-mode Wi-Fi card writes it. */
static size_t
radiotap(uint8_t *f, uint16_t freq, int8_t dbm)
{
	const uint32_t present = 1u << 3 | 1u << 5; /* channel, dBm antenna signal */

	memset(f, 0, 13);
	f[2] = 13; /* it_len */
	f[4] = (uint8_t)present;
	f[8] = (uint8_t)freq;
	f[9] = (uint8_t)(freq >> 8);
	f[10] = 0xa0; /* 2 GHz, CCK */
	f[12] = (uint8_t)dbm;
	return 13;
}

static size_t
wlan_hdr(uint8_t *f, uint8_t fc0, const uint8_t *a1, const uint8_t *bssid)
{
	memset(f, 0, 24);
	f[0] = fc0;
	memcpy(f + 4, a1, 6);
	memcpy(f + 10, bssid, 6);
	memcpy(f + 16, bssid, 6);
	return 24;
}

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* A WPA2 beacon for ssid from bssid on channel ch, decoded. */
static void
beacon(struct mm_packet *pkt, uint8_t *buf, const uint8_t *bssid, const char *ssid, int ch,
       int8_t dbm, uint64_t ts)
{
	static const uint8_t rsn[] = {48,   20,   1, 0, 0x00, 0x0f, 0xac, 4,    1, 0, 0x00,
	                              0x0f, 0xac, 4, 1, 0,    0x00, 0x0f, 0xac, 2, 0, 0};
	size_t n = radiotap(buf, (uint16_t)(2407 + 5 * ch), dbm), sl = strlen(ssid);

	n += wlan_hdr(buf + n, 0x80, bcast, bssid);
	memset(buf + n, 0, 8); /* TSF */
	n += 8;
	buf[n++] = 100; /* beacon interval */
	buf[n++] = 0;
	buf[n++] = 0x11; /* ESS, privacy */
	buf[n++] = 0x04;
	buf[n++] = 0;
	buf[n++] = (uint8_t)sl;
	memcpy(buf + n, ssid, sl);
	n += sl;
	buf[n++] = 3;
	buf[n++] = 1;
	buf[n++] = (uint8_t)ch;
	memcpy(buf + n, rsn, sizeof(rsn));
	n += sizeof(rsn);
	mm_packet_decode(pkt, DLT_RADIOTAP, ts, buf, (uint32_t)n, (uint32_t)n);
}

static void
deauth(struct byod *b, const uint8_t *bssid, uint64_t ts, int disassoc)
{
	uint8_t buf[64];
	struct mm_packet pkt;
	size_t n = radiotap(buf, 2437, -60);

	n += wlan_hdr(buf + n, disassoc ? 0xa0 : 0xc0, bcast, bssid);
	buf[n++] = 7; /* class 3 frame from nonassociated station */
	buf[n++] = 0;
	ck_assert_int_eq(mm_packet_decode(&pkt, DLT_RADIOTAP, ts, buf, (uint32_t)n, (uint32_t)n),
	                 MM_OK);
	ck_assert_int_eq(pkt.wlan_subtype, disassoc ? MM_WLAN_DISASSOC : MM_WLAN_DEAUTH);
	byod_packet(b, &pkt);
}

static void
arp_reply(struct byod *b, const uint8_t *mac, const uint8_t *ip, uint64_t ts)
{
	uint8_t f[42];
	struct mm_packet pkt;

	memcpy(f, bcast, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	memcpy(f + 14, "\x00\x01\x08\x00\x06\x04\x00\x02", 8);
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, ip, 4);
	memset(f + 32, 0, 10);
	/* Counted rather than asserted per frame: Check records every passing
	 * assertion, which would dominate a 100 000-frame loop. */
	if (mm_packet_decode(&pkt, DLT_ETHERNET, ts, f, 42, 42) != MM_OK ||
	    !(pkt.layers & MM_L_ARP))
		bad_frames++;
	byod_packet(b, &pkt);
}

START_TEST(test_deauth_flood)
{
	static const uint8_t ap1[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
	static const uint8_t ap2[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x66};
	struct byod_config cfg;
	struct byod *b;
	int i;

	byod_config_init(&cfg);
	b = make(&cfg);
	/* Ten in half a second: the limit itself, not a flood. */
	for (i = 0; i < 10; i++)
		deauth(b, ap1, T0 + (uint64_t)i * 50 * MS, 0);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_DEAUTH_FLOOD, NULL), 0);
	/* The eleventh within the same second is. */
	deauth(b, ap1, T0 + 600 * MS, 0);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_DEAUTH_FLOOD, ap1), 1);
	ck_assert(fnd[n_fnd - 1].score == 11.0);
	/* Two more seconds at 100/s, disassociations too: one alert still. */
	for (i = 0; i < 200; i++)
		deauth(b, ap1, T0 + 1 * SEC + (uint64_t)i * 10 * MS, i & 1);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_DEAUTH_FLOOD, ap1), 1);
	ck_assert_uint_gt(byod_counter(b, "alerts_suppressed"), 0);
	ck_assert_uint_eq(byod_counter(b, "deauth"), 211);
	/* Another AP at 5 per second for 20 s: never a flood. */
	for (i = 0; i < 100; i++)
		deauth(b, ap2, T0 + (uint64_t)i * 200 * MS, 0);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_DEAUTH_FLOOD, ap2), 0);
	/* After the alert interval (300 s) a new burst is reported again. */
	for (i = 0; i < 20; i++)
		deauth(b, ap1, T0 + 400 * SEC + (uint64_t)i * 10 * MS, 0);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_DEAUTH_FLOOD, ap1), 2);
	byod_free(b);

	/* A configured threshold of 50/s: 20 a second is fine. */
	byod_config_init(&cfg);
	cfg.deauth_per_s = 50;
	b = make(&cfg);
	for (i = 0; i < 100; i++)
		deauth(b, ap1, T0 + (uint64_t)i * 50 * MS, 0);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_DEAUTH_FLOOD, NULL), 0);
	byod_free(b);
}
END_TEST

START_TEST(test_strong_unknown_ap)
{
	static const uint8_t hotspot[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01};
	static const uint8_t far[6] = {0x00, 0x22, 0x33, 0x44, 0x55, 0x02};
	static const uint8_t ours[6] = {0x00, 0x22, 0x33, 0x44, 0x55, 0x03};
	struct byod_config cfg;
	struct mm_packet pkt;
	uint8_t buf[256];
	struct byod *b;
	const struct byod_ap *ap = NULL;

	byod_config_init(&cfg);
	ck_assert_int_eq(byod_config_add(&cfg, "company_ssids", "Office"), MM_OK);
	ck_assert_int_eq(byod_config_add(&cfg, "authorized_bssids", "00:22:33:44:55:03"), MM_OK);
	b = make(&cfg);
	byod_config_clear(&cfg);

	/* An employee's phone hotspot right next to the sensor. */
	beacon(&pkt, buf, hotspot, "Pixel_7421", 6, -30, T0);
	ck_assert_int_eq(pkt.has_signal, 1);
	ck_assert_int_eq(pkt.signal_dbm, -30);
	ck_assert_int_eq(pkt.channel, 6);
	byod_packet(b, &pkt);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_STRONG, hotspot), 1);
	ck_assert(fnd[n_fnd - 1].score == -30.0);
	/* Beacons every 100 ms for a minute: still one alert. */
	for (int i = 1; i < 600; i++) {
		beacon(&pkt, buf, hotspot, "Pixel_7421", 6, -31, T0 + (uint64_t)i * 100 * MS);
		byod_packet(b, &pkt);
	}
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_STRONG, hotspot), 1);
	for (size_t i = 0; i < byod_ap_count(b); i++)
		if (memcmp(byod_ap_at(b, i)->bssid, hotspot, 6) == 0)
			ap = byod_ap_at(b, i);
	ck_assert_ptr_nonnull(ap);
	ck_assert_str_eq(ap->ssid, "Pixel_7421");
	ck_assert_int_eq(ap->channel, 6);
	ck_assert_int_eq(ap->signal, -31);
	ck_assert_int_eq(ap->beacons, 600);
	ck_assert_int_eq(ap->randomized, 1);
	ck_assert_str_eq(byod_enc_name(ap->enc), "WPA2");

	/* The neighbour's AP far away, and our own AP close by: quiet. */
	beacon(&pkt, buf, far, "Neighbour", 11, -75, T0);
	byod_packet(b, &pkt);
	beacon(&pkt, buf, ours, "Office", 1, -20, T0);
	byod_packet(b, &pkt);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_STRONG, NULL), 1);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_EVIL_TWIN, NULL), 0);
	/* Each AP was reported once as a new access point. */
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_AP_NEW, NULL), 3);
	/* Our SSID from the hotspot's BSSID is an evil twin. */
	beacon(&pkt, buf, hotspot, "Office", 6, -30, T0 + 61 * SEC);
	byod_packet(b, &pkt);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_EVIL_TWIN, hotspot), 1);
	byod_free(b);
}
END_TEST

/* A beacon from bssid with a chosen timestamp, channel element, RSN
 * element (or none: WEP, as the privacy bit stays set) and pad bytes of
 * vendor elements, to make long bodies. */
static void
beacon_ex(struct mm_packet *pkt, uint8_t *buf, const uint8_t *bssid, uint64_t tsf, int ch,
          int8_t dbm, int rsn, size_t pad, uint64_t ts)
{
	static const uint8_t rsn_ie[] = {48,   20,   1, 0, 0x00, 0x0f, 0xac, 4,    1, 0, 0x00,
	                                 0x0f, 0xac, 4, 1, 0,    0x00, 0x0f, 0xac, 2, 0, 0};
	size_t n = radiotap(buf, 2437, dbm);

	n += wlan_hdr(buf + n, 0x80, bcast, bssid);
	for (int i = 0; i < 8; i++)
		buf[n++] = (uint8_t)(tsf >> (8 * i));
	buf[n++] = 100;
	buf[n++] = 0;
	buf[n++] = 0x11;
	buf[n++] = 0x04;
	buf[n++] = 0;
	buf[n++] = 6;
	memcpy(buf + n, "Office", 6);
	n += 6;
	buf[n++] = 3;
	buf[n++] = 1;
	buf[n++] = (uint8_t)ch;
	if (rsn) {
		memcpy(buf + n, rsn_ie, sizeof(rsn_ie));
		n += sizeof(rsn_ie);
	}
	while (pad >= 6) {
		size_t l = pad - 2 > 200 ? 200 : pad - 2;
		buf[n++] = 221;
		buf[n++] = (uint8_t)l;
		memset(buf + n, 0x5a, l);
		n += l;
		pad -= l + 2;
	}
	ck_assert_int_eq(mm_packet_decode(pkt, DLT_RADIOTAP, ts, buf, (uint32_t)n, (uint32_t)n),
	                 MM_OK);
}

static const struct byod_ap *
ap_find(const struct byod *b, const uint8_t *bssid)
{
	for (size_t i = 0; i < byod_ap_count(b); i++)
		if (memcmp(byod_ap_at(b, i)->bssid, bssid, 6) == 0)
			return byod_ap_at(b, i);
	return NULL;
}

START_TEST(test_repeated_beacons_still_show_changes)
{
	static const uint8_t ap[6] = {0x00, 0x22, 0x33, 0x44, 0x55, 0x10};
	static const uint8_t big[6] = {0x00, 0x22, 0x33, 0x44, 0x55, 0x11};
	struct byod_config cfg;
	struct mm_packet pkt;
	uint8_t buf[1024];
	struct byod *b;
	uint64_t ts = T0;

	byod_config_init(&cfg);
	cfg.alert_interval_ns = 1 * SEC;
	b = make(&cfg);
	/* The same body under a running timestamp, at a changing signal:
	 * the signal is the radio's, not the body's, and follows. */
	for (int i = 0; i < 50; i++) {
		beacon_ex(&pkt, buf, ap, 102400ull * (uint64_t)i, 6, (int8_t)(-60 - i % 5), 1, 0,
		          ts += 100 * MS);
		byod_packet(b, &pkt);
	}
	ck_assert_int_eq(ap_find(b, ap)->beacons, 50);
	ck_assert_int_eq(ap_find(b, ap)->signal, -64);
	ck_assert_str_eq(byod_enc_name(ap_find(b, ap)->enc), "WPA2");
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_DOWNGRADE, NULL), 0);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_CHANNEL, NULL), 0);

	/* One byte of the body differs (the channel element): seen. */
	beacon_ex(&pkt, buf, ap, 0, 11, -60, 1, 0, ts += 2 * SEC);
	byod_packet(b, &pkt);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_CHANNEL, ap), 1);
	ck_assert_str_eq(fnd[n_fnd - 1].detail, "6>11");
	/* The RSN element dropped: a downgrade to WEP. */
	beacon_ex(&pkt, buf, ap, 0, 11, -60, 0, 0, ts += 2 * SEC);
	byod_packet(b, &pkt);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_DOWNGRADE, ap), 1);
	ck_assert_str_eq(fnd[n_fnd - 1].detail, "WPA2>WEP");
	/* Back to the first body: the channel change shows again. */
	beacon_ex(&pkt, buf, ap, 0, 6, -60, 1, 0, ts += 2 * SEC);
	byod_packet(b, &pkt);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_CHANNEL, ap), 2);
	ck_assert_str_eq(fnd[n_fnd - 1].detail, "11>6");

	/* A body longer than what is kept per access point (700 bytes of
	 * vendor elements) is parsed every time: changes still show. */
	for (int i = 0; i < 5; i++) {
		beacon_ex(&pkt, buf, big, (uint64_t)i, 1, -70, 1, 700, ts += 100 * MS);
		ck_assert_uint_gt(pkt.wlan_body_len, 700);
		byod_packet(b, &pkt);
	}
	beacon_ex(&pkt, buf, big, 9, 1, -70, 0, 700, ts += 2 * SEC);
	byod_packet(b, &pkt);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_DOWNGRADE, big), 1);
	beacon_ex(&pkt, buf, big, 10, 13, -70, 0, 700, ts += 2 * SEC);
	byod_packet(b, &pkt);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_CHANNEL, big), 1);
	ck_assert_int_eq(ap_find(b, big)->channel, 13);
	ck_assert_int_eq(ap_find(b, big)->beacons, 7);
	byod_free(b);
}
END_TEST

/* A DHCP request from mac asking for the options in prl, decoded. */
static void
dhcp_request(struct mm_packet *pkt, uint8_t *f, const uint8_t *mac, const uint8_t *prl, size_t nprl,
             uint64_t ts)
{
	size_t n = 14 + 20 + 8, o;

	memset(f, 0, 400);
	memcpy(f, bcast, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[22] = 64;
	f[23] = 17;
	memset(f + 30, 0xff, 4);
	f[35] = 68; /* UDP 68 -> 67 */
	f[37] = 67;
	o = n;
	f[o] = 1; /* BOOTREQUEST, Ethernet */
	f[o + 1] = 1;
	f[o + 2] = 6;
	memcpy(f + o + 28, mac, 6);
	memcpy(f + o + 236, "\x63\x82\x53\x63", 4);
	n = o + 240;
	memcpy(f + n, "\x35\x01\x03", 3); /* DHCPREQUEST */
	n += 3;
	f[n++] = 55;
	f[n++] = (uint8_t)nprl;
	memcpy(f + n, prl, nprl);
	n += nprl;
	f[n++] = 255;
	f[16] = (uint8_t)((n - 14) >> 8);
	f[17] = (uint8_t)(n - 14);
	f[38] = (uint8_t)((n - 34) >> 8);
	f[39] = (uint8_t)(n - 34);
	ck_assert_int_eq(mm_packet_decode(pkt, DLT_ETHERNET, ts, f, (uint32_t)n, (uint32_t)n),
	                 MM_OK);
	ck_assert_int_eq(pkt->dport, 67);
}

START_TEST(test_repeated_dhcp_lists_still_show_changes)
{
	static const uint8_t mac[6] = {0x00, 0x1b, 0x63, 0x01, 0x02, 0x03};
	static const uint8_t win[] = {1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252};
	/* Same length as win: only the bytes tell them apart. */
	static const uint8_t lin[] = {1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42, 252};
	uint8_t empty[1], f[400], many[200];
	struct byod_config cfg;
	struct mm_packet pkt;
	struct byod *b;
	uint64_t ts = T0;

	byod_config_init(&cfg);
	cfg.findings_per_min = 0;
	b = make(&cfg);
	for (int i = 0; i < 3; i++) {
		dhcp_request(&pkt, f, mac, win, sizeof(win), ts += SEC);
		byod_packet(b, &pkt);
	}
	ck_assert_str_eq(byod_dev_find(b, mac)->dhcp_fp,
	                 "1,3,6,15,31,33,43,44,46,47,119,121,249,252");
	ck_assert_int_eq(count_kind(BYOD_F_ASSET_CHANGE, mac), 0);
	/* Another list from the same MAC: a changed fingerprint, and the
	 * first one again is a change back. */
	dhcp_request(&pkt, f, mac, lin, sizeof(lin), ts += SEC);
	byod_packet(b, &pkt);
	ck_assert_str_eq(byod_dev_find(b, mac)->dhcp_fp,
	                 "1,28,2,3,15,6,119,12,44,47,26,121,42,252");
	ck_assert_int_eq(count_kind(BYOD_F_ASSET_CHANGE, mac), 1);
	ck_assert_str_eq(fnd[n_fnd - 1].detail, "dhcp_fingerprint");
	dhcp_request(&pkt, f, mac, win, sizeof(win), ts += SEC);
	byod_packet(b, &pkt);
	ck_assert_int_eq(count_kind(BYOD_F_ASSET_CHANGE, mac), 2);
	ck_assert_str_eq(byod_dev_find(b, mac)->dhcp_fp,
	                 "1,3,6,15,31,33,43,44,46,47,119,121,249,252");
	/* An empty list makes no fingerprint: the last one stays, twice. */
	for (int i = 0; i < 2; i++) {
		dhcp_request(&pkt, f, mac, empty, 0, ts += SEC);
		byod_packet(b, &pkt);
	}
	ck_assert_int_eq(count_kind(BYOD_F_ASSET_CHANGE, mac), 2);
	ck_assert_str_eq(byod_dev_find(b, mac)->dhcp_fp,
	                 "1,3,6,15,31,33,43,44,46,47,119,121,249,252");
	/* A list longer than what is kept per device (70 codes) is turned
	 * into a fingerprint every time; one code changed is seen. */
	memset(many, 7, sizeof(many));
	for (int i = 0; i < 2; i++) {
		dhcp_request(&pkt, f, mac, many, 70, ts += SEC);
		byod_packet(b, &pkt);
	}
	ck_assert_int_eq(count_kind(BYOD_F_ASSET_CHANGE, mac), 3);
	ck_assert_uint_eq(strlen(byod_dev_find(b, mac)->dhcp_fp), 139);
	many[69] = 8;
	dhcp_request(&pkt, f, mac, many, 70, ts += SEC);
	byod_packet(b, &pkt);
	ck_assert_int_eq(count_kind(BYOD_F_ASSET_CHANGE, mac), 4);
	ck_assert_str_eq(byod_dev_find(b, mac)->dhcp_fp + 134, "7,7,8");
	/* 100 codes do not fit a fingerprint: none, and no change. */
	for (int i = 0; i < 2; i++) {
		dhcp_request(&pkt, f, mac, many, 100, ts += SEC);
		byod_packet(b, &pkt);
	}
	ck_assert_int_eq(count_kind(BYOD_F_ASSET_CHANGE, mac), 4);
	/* A short list after those: changed, then the same again is not. */
	many[3] = 200;
	for (int i = 0; i < 2; i++) {
		dhcp_request(&pkt, f, mac, many, 5, ts += SEC);
		byod_packet(b, &pkt);
	}
	ck_assert_int_eq(count_kind(BYOD_F_ASSET_CHANGE, mac), 5);
	ck_assert_str_eq(byod_dev_find(b, mac)->dhcp_fp, "7,7,7,200,7");
	many[3] = 201;
	dhcp_request(&pkt, f, mac, many, 5, ts += SEC);
	byod_packet(b, &pkt);
	ck_assert_int_eq(count_kind(BYOD_F_ASSET_CHANGE, mac), 6);
	ck_assert_str_eq(byod_dev_find(b, mac)->dhcp_fp, "7,7,7,201,7");
	ck_assert_uint_eq(byod_counter(b, "dhcp"), 15);
	byod_free(b);
}
END_TEST

/* Distinct addresses from a counter: multiplying by an odd constant is a
 * bijection on 32 bits, so 100 000 frames give 100 000 BSSIDs. */
static void
addr_from(uint8_t *mac, uint32_t i, uint8_t first)
{
	uint32_t x = i * 2654435761u;
	mac[0] = first;
	mac[1] = 0x5e;
	mac[2] = (uint8_t)(x >> 24);
	mac[3] = (uint8_t)(x >> 16);
	mac[4] = (uint8_t)(x >> 8);
	mac[5] = (uint8_t)x;
}

static long
maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

#define FLOOD 100000u

START_TEST(test_fake_beacon_flood_is_bounded)
{
	static const uint8_t ours[6] = {0x00, 0x22, 0x33, 0x44, 0x55, 0x03};
	struct byod_config cfg;
	struct mm_packet pkt;
	uint8_t buf[256], mac[6];
	struct byod *b;
	size_t mem;
	long rss;
	int ours_kept = 0;
	clock_t c0;

	byod_config_init(&cfg);
	ck_assert_int_eq(byod_config_add(&cfg, "company_ssids", "Office"), MM_OK);
	ck_assert_int_eq(byod_config_add(&cfg, "authorized_bssids", "00:22:33:44:55:03"), MM_OK);
	b = make(&cfg);
	byod_config_clear(&cfg);
	mem = byod_mem_bytes(b);
	beacon(&pkt, buf, ours, "Office", 1, -50, T0);
	byod_packet(b, &pkt);
	c0 = clock();
	/* 100 000 fake APs in 10 s, half of them with our SSID (evil twins)
	 * and strong. Once the tables are full (after the first tenth), the
	 * process must not grow any more. */
	rss = 0;
	for (uint32_t i = 0; i < FLOOD; i++) {
		if (i == FLOOD / 10)
			rss = maxrss_kb();
		addr_from(mac, i, 0x02);
		beacon(&pkt, buf, mac, i & 1 ? "Office" : "FreeWiFi", 6, -40,
		       T0 + 1 * SEC + (uint64_t)i * 100000ull);
		byod_packet(b, &pkt);
	}
	fprintf(stderr, "beacon flood: %u frames in %.2f s CPU, %zu table bytes\n", FLOOD,
	        (double)(clock() - c0) / CLOCKS_PER_SEC, byod_mem_bytes(b));
	ck_assert_uint_eq(byod_ap_count(b), cfg.max_aps);
	ck_assert_uint_eq(byod_counter(b, "ap_evicted"), FLOOD + 1 - cfg.max_aps);
	ck_assert_uint_eq(byod_mem_bytes(b), mem);
	/* Nothing grows with the flood (1 MB of slack for the runtime). */
	ck_assert_int_lt(maxrss_kb() - rss, 1024);
	/* The authorized AP was never pushed out. */
	for (size_t i = 0; i < byod_ap_count(b); i++)
		ours_kept += memcmp(byod_ap_at(b, i)->bssid, ours, 6) == 0;
	ck_assert_int_eq(ours_kept, 1);
	/* The table holds exactly the most recent fake APs. */
	for (uint32_t i = FLOOD - (uint32_t)cfg.max_aps + 1; i < FLOOD; i++) {
		int hit = 0;
		addr_from(mac, i, 0x02);
		for (size_t j = 0; j < byod_ap_count(b) && !hit; j++)
			hit = memcmp(byod_ap_at(b, j)->bssid, mac, 6) == 0;
		ck_assert_msg(hit, "recent AP %u evicted", i);
	}
	/* Events stay within the per-kind budget: 120 a minute, 10 s of flood
	 * -> at most 120 + 20 of each kind. */
	ck_assert_int_le(count_kind(BYOD_F_WIFI_EVIL_TWIN, NULL), 140);
	ck_assert_int_ge(count_kind(BYOD_F_WIFI_EVIL_TWIN, NULL), 120);
	ck_assert_int_le(count_kind(BYOD_F_WIFI_AP_NEW, NULL), 140);
	ck_assert_int_le(count_kind(BYOD_F_WIFI_STRONG, NULL), 140);
	ck_assert_uint_gt(byod_counter(b, "findings_rate_limited"), 3 * (FLOOD / 2) - 500);
	byod_free(b);
}
END_TEST

START_TEST(test_spoofed_mac_flood_is_bounded)
{
	static const uint8_t gw_mac[6] = {0x00, 0x13, 0x46, 0x0b, 0x22, 0xba};
	static const uint8_t gw_ip[4] = {192, 168, 0, 1};
	struct byod_config cfg;
	struct byod *b;
	uint8_t mac[6], ip[4];
	size_t mem;
	long rss;
	const struct byod_dev *d;

	byod_config_init(&cfg);
	b = make(&cfg);
	mem = byod_mem_bytes(b);
	rss = 0;
	arp_reply(b, gw_mac, gw_ip, T0);
	for (uint32_t i = 0; i < FLOOD; i++) {
		uint64_t ts = T0 + 1 * SEC + (uint64_t)i * 100000ull;
		/* The tables are full after 4096 stations; from then on the
		 * process must not grow. */
		if (i == FLOOD / 10)
			rss = maxrss_kb();
		addr_from(mac, i, 0x00);
		ip[0] = 10;
		ip[1] = mac[3];
		ip[2] = mac[4];
		ip[3] = mac[5];
		arp_reply(b, mac, ip, ts);
		/* The gateway keeps talking: it must survive the flood. */
		if (i % 1000 == 0)
			arp_reply(b, gw_mac, gw_ip, ts);
	}
	ck_assert_uint_eq(bad_frames, 0);
	ck_assert_uint_eq(byod_counter(b, "arp"), FLOOD + 1 + FLOOD / 1000);
	ck_assert_uint_eq(byod_dev_count(b), cfg.max_devices);
	ck_assert_uint_eq(byod_arp_count(b), cfg.max_arp);
	ck_assert_uint_eq(byod_counter(b, "dev_evicted"), FLOOD + 1 - cfg.max_devices);
	ck_assert_uint_eq(byod_counter(b, "arp_evicted"), FLOOD + 1 - cfg.max_arp);
	ck_assert_uint_eq(byod_mem_bytes(b), mem);
	ck_assert_int_lt(maxrss_kb() - rss, 1024);
	/* Least recently seen goes first: the gateway stays, the first
	 * spoofed MACs are gone, the last ones are there. */
	ck_assert_ptr_nonnull(byod_dev_find(b, gw_mac));
	addr_from(mac, 0, 0x00);
	ck_assert_ptr_null(byod_dev_find(b, mac));
	addr_from(mac, FLOOD - 1, 0x00);
	d = byod_dev_find(b, mac);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->ip.addr[3], mac[5]);
	/* After 96 000 evictions the index still finds every entry. */
	for (size_t i = 0; i < byod_dev_count(b); i++)
		ck_assert_ptr_eq(byod_dev_find(b, byod_dev_at(b, i)->mac), byod_dev_at(b, i));
	/* No ARP finding but new stations, and those within the budget. */
	ck_assert_int_le(count_kind(BYOD_F_ARP_NEW, NULL), 140);
	ck_assert_int_le(count_kind(BYOD_F_ASSET_NEW, NULL), 140);
	ck_assert_int_eq(
	        count_kind(BYOD_F_ARP_CHANGED, NULL) + count_kind(BYOD_F_ARP_MULTI_IP, NULL), 0);
	byod_free(b);
}
END_TEST

START_TEST(test_findings_budget_off)
{
	struct byod_config cfg;
	struct byod *b;
	uint8_t mac[6], ip[4] = {10, 0, 0, 0};

	/* findings_per_min = 0 turns the budget off: every station reported. */
	byod_config_init(&cfg);
	cfg.findings_per_min = 0;
	b = make(&cfg);
	for (uint32_t i = 0; i < 1000; i++) {
		addr_from(mac, i, 0x00);
		ip[3] = (uint8_t)i;
		ip[2] = (uint8_t)(i >> 8);
		arp_reply(b, mac, ip, T0 + i * MS);
	}
	ck_assert_int_eq(count_kind(BYOD_F_ARP_NEW, NULL), 1000);
	ck_assert_uint_eq(byod_counter(b, "findings_rate_limited"), 0);
	byod_free(b);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("byod_flood");
	TCase *tc = tcase_create("crafted");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_deauth_flood);
	tcase_add_test(tc, test_strong_unknown_ap);
	tcase_add_test(tc, test_fake_beacon_flood_is_bounded);
	tcase_add_test(tc, test_spoofed_mac_flood_is_bounded);
	tcase_add_test(tc, test_findings_budget_off);
	tcase_add_test(tc, test_repeated_beacons_still_show_changes);
	tcase_add_test(tc, test_repeated_dhcp_lists_still_show_changes);
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
