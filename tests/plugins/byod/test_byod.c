/*
 * Check suite for the byod detector core, driven with real captures
 * decoded by the SDK: DHCP inventory (class, vendor, randomized MACs,
 * re-randomization), BYOD policy, arpwatch findings and the access point
 * table compared with what `tcpdump -en` printed for the same files.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mimamori/error.h>
#include <mimamori/packet.h>

#include "byod.h"
#include "pcap_walk.h"
#include "tcpdump_ap.h"

#define MAX_FINDINGS 512

struct found {
	int kind;
	uint8_t mac[6];
	struct mm_addr ip;
	int confidence;
	double score;
	char how[BYOD_LONG];
	char detail[BYOD_LONG];
};

static struct found fnd[MAX_FINDINGS];
static int n_fnd;

static void
record(void *user, const struct byod_finding *f)
{
	if (n_fnd >= MAX_FINDINGS)
		return;
	fnd[n_fnd].kind = f->kind;
	memcpy(fnd[n_fnd].mac, f->mac, 6);
	fnd[n_fnd].ip = f->ip;
	fnd[n_fnd].confidence = f->confidence;
	fnd[n_fnd].score = f->score;
	snprintf(fnd[n_fnd].how, sizeof(fnd[n_fnd].how), "%s", f->how);
	snprintf(fnd[n_fnd].detail, sizeof(fnd[n_fnd].detail), "%s", f->detail);
	n_fnd++;
}

static int
count_kind(int kind)
{
	int n = 0;
	for (int i = 0; i < n_fnd; i++)
		n += fnd[i].kind == kind;
	return n;
}

static const struct found *
find_kind(int kind, const char *mac)
{
	char m[MM_MAC_STRLEN];
	for (int i = 0; i < n_fnd; i++)
		if (fnd[i].kind == kind &&
		    (mac == NULL || strcmp(mm_mac_format(m, fnd[i].mac), mac) == 0))
			return &fnd[i];
	return NULL;
}

static const char *
src_path(const char *rel)
{
	static char buf[4096];
	const char *d = getenv("MM_SOURCE_DIR");
	snprintf(buf, sizeof(buf), "%s/%s", d ? d : ".", rel);
	return buf;
}

static struct byod *
make(struct byod_config *cfg, const char *extra_fp)
{
	struct byod_oui *oui = NULL;
	struct byod_fptab *fp = NULL;
	struct byod *b = NULL;

	n_fnd = 0;
	ck_assert_int_eq(byod_oui_load(&oui, src_path("data/byod/oui-subset.txt"), 100000), MM_OK);
	if (extra_fp != NULL)
		ck_assert_int_eq(byod_fp_load(&fp, extra_fp, 1000), MM_OK);
	ck_assert_int_eq(byod_fp_load(&fp, src_path("data/byod/dhcp-fingerprints.tsv"), 1000),
	                 MM_OK);
	ck_assert_int_gt(byod_fp_count(fp), 50);
	ck_assert_int_eq(byod_new(&b, cfg, oui, fp, record, NULL), MM_OK);
	return b;
}

struct feed {
	struct byod *b;
	uint64_t ts_shift;
	int decoded;
	/* optional rewrite of a frame before decoding */
	void (*rewrite)(uint8_t *frame, uint32_t len, unsigned n);
};

static void
feed_cb(void *user, unsigned frame, int linktype, uint64_t ts, const uint8_t *data, uint32_t caplen,
        uint32_t wirelen)
{
	struct feed *f = user;
	struct mm_packet pkt;
	static uint8_t copy[65536];

	if (f->rewrite != NULL && caplen <= sizeof(copy)) {
		memcpy(copy, data, caplen);
		f->rewrite(copy, caplen, frame);
		data = copy;
	}
	mm_packet_decode(&pkt, linktype, ts + f->ts_shift, data, caplen, wirelen);
	f->decoded++;
	byod_packet(f->b, &pkt);
}

static void
feed_file(struct byod *b, const char *rel, uint64_t shift,
          void (*rewrite)(uint8_t *, uint32_t, unsigned))
{
	struct feed f = {b, shift, 0, rewrite};
	ck_assert_int_gt(walk_pcap(test_data(rel), feed_cb, &f), 0);
}

static const struct byod_dev *
dev(const struct byod *b, const char *mac)
{
	uint8_t m[6];
	unsigned v[6];
	ck_assert_int_eq(sscanf(mac, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]),
	                 6);
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)v[i];
	return byod_dev_find(b, m);
}

START_TEST(test_dhcp_inventory)
{
	struct byod_config cfg;
	struct byod *b;
	const struct byod_dev *d;
	static const char *const files[] = {
	        "chrissanders-packets/dhcp_nolease_initialization.pcapng",
	        "tcpdump-tests/dhcp-mud.pcap",
	        "tcpdump-tests/dhcp-option-108.pcapng",
	        "zeek-traces/dhcp_dhcp.pcap",
	        "zeek-traces/dhcp_dhcp_time_and_nameserver.pcap",
	        "tcpdump-tests/dhcp-rfc3004.pcap",
	};

	byod_config_init(&cfg);
	b = make(&cfg, NULL);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		feed_file(b, files[i], 0, NULL);
	ck_assert_uint_gt(byod_counter(b, "dhcp"), 10);

	/* Ubuntu with ISC dhclient in a VMware guest. */
	d = dev(b, "00:0c:29:59:fd:21");
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->hostname, "ubuntu2");
	ck_assert_str_eq(d->vendor, "VMware, Inc.");
	ck_assert_str_eq(d->dev_class, "linux");
	ck_assert_str_eq(d->class_how, "dhcp-fingerprint");
	ck_assert_str_eq(d->dhcp_fp, "1,28,2,3,15,6,119,12,44,47,26,121,42");
	ck_assert_str_eq(mm_addr_format((char[MM_ADDR_STRLEN]){0}, &d->ip), "192.168.1.10");
	ck_assert_int_eq(d->randomized, 0);

	/* Raspberry Pi: dhcpcd. */
	d = dev(b, "b8:27:eb:b8:53:c8");
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->vendor, "Raspberry Pi Foundation");
	ck_assert_str_eq(d->dev_class, "linux");
	ck_assert_str_eq(d->hostname, "raspberrypi");
	ck_assert(strncmp(d->vendor_class, "dhcpcd-6.11.5", 13) == 0);

	/* A Mac with a private (randomized) address: flagged, never looked
	 * up, classified by its option-55 list. */
	d = dev(b, "42:b4:44:b4:f0:ee");
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->randomized, 1);
	ck_assert_str_eq(d->vendor, "");
	ck_assert_str_eq(d->dev_class, "macos");
	ck_assert_str_eq(d->hostname, "MacBookPro");
	/* Only offered, never acknowledged in the capture: no address yet. */
	ck_assert_int_eq(d->ip.family, 0);

	/* A Dell client that sends neither option 55 nor 60 (the "ArubaAP"
	 * vendor class in this capture comes from the server's replies, which
	 * must not be taken for the client's). */
	d = dev(b, "90:b1:1c:99:49:29");
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->vendor, "Dell Inc.");
	ck_assert_str_eq(d->dev_class, "unknown");
	ck_assert_str_eq(d->vendor_class, "");

	/* First sight and changes are reported, once per device. */
	ck_assert_ptr_nonnull(find_kind(BYOD_F_ASSET_NEW, "00:0c:29:59:fd:21"));
	ck_assert_int_eq(count_kind(BYOD_F_ASSET_NEW), (int)byod_dev_count(b));
	/* The Mac is not a phone: no BYOD alert. */
	ck_assert_int_eq(count_kind(BYOD_F_BYOD_UNKNOWN), 0);
	byod_free(b);
}
END_TEST

#define TABLET_LINE "prl\t1,121,3,6,15,108,114,119,252,95,44,46\ttablet\tTest tablet\n"

static void
rerandomize(uint8_t *frame, uint32_t len, unsigned n)
{
	/* A new private address for the same Mac: Ethernet source, chaddr
	 * (14 + 20 + 8 + 28) and the client id (ether type 1). */
	static const uint8_t fresh[6] = {0x6e, 0x01, 0x02, 0x03, 0x04, 0x05};
	uint8_t old[6];
	if (len < 14 + 28 + 34)
		return;
	memcpy(old, frame + 6, 6);
	for (uint32_t i = 0; i + 6 <= len; i++)
		if (memcmp(frame + i, old, 6) == 0 ||
		    memcmp(frame + i, "\x42\xb4\x44\xb4\xf0\xee", 6) == 0)
			memcpy(frame + i, fresh, 6);
}

START_TEST(test_rerandomized_phone_is_one_device)
{
	struct byod_config cfg;
	struct byod *b;
	const struct byod_dev *d;
	char path[] = "/tmp/byod-fp-XXXXXX";
	int fd = mkstemp(path);
	size_t before;

	/* A user extension of the table: this option-55 list is declared a
	 * tablet's, so the Mac in the capture stands in for a tablet. */
	ck_assert_int_ge(fd, 0);
	ck_assert_int_gt(write(fd, TABLET_LINE, strlen(TABLET_LINE)), 0);
	close(fd);
	byod_config_init(&cfg);
	b = make(&cfg, path);
	unlink(path);
	feed_file(b, "tcpdump-tests/dhcp-option-108.pcapng", 0, NULL);
	before = byod_dev_count(b);
	d = dev(b, "42:b4:44:b4:f0:ee");
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->dev_class, "tablet");
	ck_assert_str_eq(d->class_how, "dhcp-fingerprint");
	/* Unknown tablet with a random MAC: alert, how and confidence. */
	ck_assert_int_eq(count_kind(BYOD_F_BYOD_UNKNOWN), 1);
	ck_assert_int_eq(find_kind(BYOD_F_BYOD_UNKNOWN, NULL)->confidence, 70);
	ck_assert_ptr_nonnull(strstr(find_kind(BYOD_F_BYOD_UNKNOWN, NULL)->how, "randomized-mac"));

	/* The same capture an hour later under a new random MAC. */
	feed_file(b, "tcpdump-tests/dhcp-option-108.pcapng", 3600ull * 1000000000ull, rerandomize);
	ck_assert_uint_eq(byod_dev_count(b), before);
	ck_assert_ptr_null(dev(b, "42:b4:44:b4:f0:ee"));
	d = dev(b, "6e:01:02:03:04:05");
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->mac_changes, 1);
	ck_assert_int_eq(d->has_prev, 1);
	ck_assert_uint_eq(byod_counter(b, "mac_rerandomized_merged"), 1);
	ck_assert_ptr_nonnull(find_kind(BYOD_F_ASSET_CHANGE, "6e:01:02:03:04:05"));
	/* Still one alert: the device is the same. */
	ck_assert_int_eq(count_kind(BYOD_F_BYOD_UNKNOWN), 1);
	byod_free(b);

	/* On the allow-list by host name: no alert. */
	strcpy(path, "/tmp/byod-fp-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_gt(write(fd, TABLET_LINE, strlen(TABLET_LINE)), 0);
	close(fd);
	byod_config_init(&cfg);
	ck_assert_int_eq(byod_config_add(&cfg, "allow_hostname", "macbookpro"), MM_OK);
	b = make(&cfg, path);
	byod_config_clear(&cfg);
	unlink(path);
	feed_file(b, "tcpdump-tests/dhcp-option-108.pcapng", 0, NULL);
	ck_assert_int_eq(count_kind(BYOD_F_BYOD_UNKNOWN), 0);
	byod_free(b);

	/* Outside the company-only segment: no alert either. */
	strcpy(path, "/tmp/byod-fp-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_gt(write(fd, TABLET_LINE, strlen(TABLET_LINE)), 0);
	close(fd);
	byod_config_init(&cfg);
	ck_assert_int_eq(byod_config_add(&cfg, "company_segments", "192.168.0.0/16"), MM_OK);
	b = make(&cfg, path);
	unlink(path);
	feed_file(b, "tcpdump-tests/dhcp-option-108.pcapng", 0, NULL);
	ck_assert_int_eq(count_kind(BYOD_F_BYOD_UNKNOWN), 0);
	byod_free(b);
}
END_TEST

START_TEST(test_arp_poison)
{
	struct byod_config cfg;
	struct byod *b;
	const struct found *f;
	char ip[MM_ADDR_STRLEN];

	byod_config_init(&cfg);
	b = make(&cfg, NULL);
	feed_file(b, "chrissanders-packets/arppoison.pcapng", 0, NULL);
	f = find_kind(BYOD_F_ARP_MULTI_IP, "00:25:b3:bf:91:ee");
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(mm_addr_format(ip, &f->ip), "172.16.0.105");
	ck_assert_str_eq(f->detail, "172.16.0.1");
	ck_assert_int_eq(count_kind(BYOD_F_ARP_MULTI_IP), 1);
	ck_assert_int_eq(count_kind(BYOD_F_ARP_NEW), 3);
	byod_free(b);

	/* A plain resolution: two new stations, nothing else. */
	b = make(&cfg, NULL);
	feed_file(b, "chrissanders-packets/arp_resolution.pcapng", 0, NULL);
	ck_assert_int_eq(count_kind(BYOD_F_ARP_NEW), 2);
	ck_assert_int_eq(n_fnd - count_kind(BYOD_F_ARP_NEW) - count_kind(BYOD_F_ASSET_NEW) -
	                         count_kind(BYOD_F_ASSET_CHANGE),
	                 0);
	byod_free(b);
}
END_TEST

static void
other_gateway(uint8_t *frame, uint32_t len, unsigned n)
{
	/* Frame 2 is "192.168.0.1 is-at 00:13:46:0b:22:ba": someone else
	 * answers for the gateway (sender hardware address at 14 + 8). */
	static const uint8_t evil[6] = {0x00, 0x25, 0xb3, 0xbf, 0x91, 0xee};
	if (n == 2 && len >= 42) {
		memcpy(frame + 6, evil, 6);
		memcpy(frame + 22, evil, 6);
	}
}

START_TEST(test_arp_changed_flipflop_suppress)
{
	struct byod_config cfg;
	struct byod *b;
	const uint64_t min = 60ull * 1000000000ull;

	byod_config_init(&cfg);
	cfg.arp_suppress_ns = 0;
	b = make(&cfg, NULL);
	feed_file(b, "chrissanders-packets/arp_resolution.pcapng", 0, NULL);
	feed_file(b, "chrissanders-packets/arp_resolution.pcapng", 1 * min, other_gateway);
	ck_assert_ptr_nonnull(find_kind(BYOD_F_ARP_CHANGED, "00:25:b3:bf:91:ee"));
	feed_file(b, "chrissanders-packets/arp_resolution.pcapng", 2 * min, NULL);
	ck_assert_ptr_nonnull(find_kind(BYOD_F_ARP_FLIPFLOP, "00:13:46:0b:22:ba"));
	byod_free(b);

	/* With the default suppression window the flip back is counted, not
	 * reported. */
	byod_config_init(&cfg);
	b = make(&cfg, NULL);
	feed_file(b, "chrissanders-packets/arp_resolution.pcapng", 0, NULL);
	feed_file(b, "chrissanders-packets/arp_resolution.pcapng", 1 * min, other_gateway);
	feed_file(b, "chrissanders-packets/arp_resolution.pcapng", 2 * min, NULL);
	ck_assert_int_eq(count_kind(BYOD_F_ARP_CHANGED), 1);
	ck_assert_int_eq(count_kind(BYOD_F_ARP_FLIPFLOP), 0);
	ck_assert_uint_eq(byod_counter(b, "alerts_suppressed"), 1);
	byod_free(b);
}
END_TEST

/* The AP table must match tcpdump -en: for every BSSID that tcpdump
 * printed a beacon or probe response with an SSID for, the same SSID,
 * channel (CH:) and privacy bit. */
static const char *const wifi_files[] = {
        "chrissanders-packets/80211beacon.pcapng",
        "aircrack-ng-tests/wep.open.system.authentication.cap",
        "aircrack-ng-tests/wpa-psk-linksys.cap",
        "aircrack-ng-tests/wpa2-psk-linksys.cap",
        "aircrack-ng-tests/n-02.cap",
        "aircrack-ng-tests/capture_wds-01.cap",
        "aircrack-ng-tests/Chinese-SSID-Name.pcap",
        "aircrack-ng-tests/test1.pcap",
        "aircrack-ng-tests/wpa3-psk.pcap",
        "aircrack-ng-tests/wps2.0.pcap",
        "aircrack-ng-tests/zn2i.pcap",
        "tcpdump-tests/ieee802.11_meshid.pcap",
        "tcpdump-tests/ieee802.11_exthdr.pcap",
        "tcpdump-tests/ieee802.11_parse_elements_oobr.pcap",
        "tcpdump-tests/ieee802.11_rates_oobr.pcap",
        "tcpdump-tests/ieee802.11_tim_ie_oobr.pcap",
};

START_TEST(test_ap_table_matches_tcpdump)
{
	struct byod_config cfg;
	struct byod *b;
	struct exp_ap ex[64];
	int n_ex = 0, matched = 0;

	n_ex = read_tcpdump_aps(ex, 64, wifi_files[_i]);
	ck_assert_int_ge(n_ex, 0);

	byod_config_init(&cfg);
	b = make(&cfg, NULL);
	feed_file(b, wifi_files[_i], 0, NULL);
	for (int i = 0; i < n_ex; i++) {
		char m[MM_MAC_STRLEN];
		int hit = 0;
		for (size_t j = 0; j < byod_ap_count(b); j++) {
			const struct byod_ap *ap = byod_ap_at(b, j);
			if (strcmp(mm_mac_format(m, ap->bssid), ex[i].bssid) != 0)
				continue;
			hit = 1;
			ck_assert_str_eq(ap->ssid, ex[i].ssid);
			if (ex[i].channel)
				ck_assert_int_eq(ap->channel, ex[i].channel);
			ck_assert_int_eq(ap->privacy, ex[i].privacy);
			ck_assert_int_eq(ap->enc != BYOD_ENC_OPEN, ex[i].privacy);
		}
		ck_assert_msg(hit, "%s: AP %s missing", wifi_files[_i], ex[i].bssid);
		matched++;
	}
	ck_assert_int_eq(matched, n_ex);
	byod_free(b);
}
END_TEST

START_TEST(test_encryption_names)
{
	struct byod_config cfg;
	struct byod *b;

	byod_config_init(&cfg);
	b = make(&cfg, NULL);
	feed_file(b, "aircrack-ng-tests/wpa3-psk.pcap", 0, NULL);
	feed_file(b, "aircrack-ng-tests/wpa2-psk-linksys.cap", 0, NULL);
	feed_file(b, "aircrack-ng-tests/wep.open.system.authentication.cap", 0, NULL);
	for (size_t j = 0; j < byod_ap_count(b); j++) {
		const struct byod_ap *ap = byod_ap_at(b, j);
		if (strcmp(ap->ssid, "WPA3-Network") == 0)
			ck_assert_str_eq(byod_enc_name(ap->enc), "WPA3");
		if (strcmp(ap->ssid, "linksys") == 0)
			ck_assert_str_eq(byod_enc_name(ap->enc), "WPA2");
		if (strcmp(ap->ssid, "teddy") == 0)
			ck_assert_str_eq(byod_enc_name(ap->enc), "WEP");
	}
	byod_free(b);
}
END_TEST

START_TEST(test_evil_twin)
{
	struct byod_config cfg;
	struct byod *b;
	const struct found *f;

	/* Our SSID, but the BSSID in the capture is not the authorized one. */
	byod_config_init(&cfg);
	ck_assert_int_eq(byod_config_add(&cfg, "company_ssids", "linksys"), MM_OK);
	ck_assert_int_eq(byod_config_add(&cfg, "authorized_bssids", "00:0b:86:00:00:01"), MM_OK);
	b = make(&cfg, NULL);
	byod_config_clear(&cfg);
	feed_file(b, "aircrack-ng-tests/wpa2-psk-linksys.cap", 0, NULL);
	f = find_kind(BYOD_F_WIFI_EVIL_TWIN, "00:0b:86:c2:a4:85");
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->detail, "linksys");
	/* 91 beacons in about 9 s: rate-limited to one alert. */
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_EVIL_TWIN), 1);
	ck_assert_uint_gt(byod_counter(b, "alerts_suppressed"), 50);
	byod_free(b);

	/* Authorized: no evil twin. */
	byod_config_init(&cfg);
	ck_assert_int_eq(byod_config_add(&cfg, "company_ssids", "linksys"), MM_OK);
	ck_assert_int_eq(byod_config_add(&cfg, "authorized_bssids", "00:0b:86:c2:a4:85"), MM_OK);
	b = make(&cfg, NULL);
	byod_config_clear(&cfg);
	feed_file(b, "aircrack-ng-tests/wpa2-psk-linksys.cap", 0, NULL);
	ck_assert_int_eq(count_kind(BYOD_F_WIFI_EVIL_TWIN), 0);
	/* The same SSID as WPA (older capture) after WPA2: downgrade. */
	feed_file(b, "aircrack-ng-tests/wpa-psk-linksys.cap", 0, NULL);
	ck_assert_ptr_nonnull(find_kind(BYOD_F_WIFI_DOWNGRADE, "00:0b:86:c2:a4:85"));
	byod_free(b);

	/* A look-alike name of ours. */
	byod_config_init(&cfg);
	ck_assert_int_eq(byod_config_add(&cfg, "company_ssids", "Linksys-1"), MM_OK);
	b = make(&cfg, NULL);
	byod_config_clear(&cfg);
	feed_file(b, "aircrack-ng-tests/wpa2-psk-linksys.cap", 0, NULL);
	f = find_kind(BYOD_F_WIFI_LOOKALIKE, "00:0b:86:c2:a4:85");
	ck_assert_ptr_nonnull(f);
	ck_assert(f->score >= 0.75 && f->score < 1.0);
	byod_free(b);
}
END_TEST

START_TEST(test_similarity)
{
	ck_assert(byod_ssid_similarity("Company-WiFi", "C0mpany-WiFi") > 0.99);
	ck_assert(byod_ssid_similarity("Company-WiFi", "Company-WiFi-Guest") > 0.6);
	ck_assert(byod_ssid_similarity("Company-WiFi", "linksys") < 0.3);
}
END_TEST

START_TEST(test_mdns_names_and_persistence)
{
	struct byod_config cfg;
	struct byod *b, *b2;
	const struct byod_dev *d;
	char path[] = "/tmp/byod-inv-XXXXXX";
	int fd = mkstemp(path);
	size_t n;

	close(fd);
	byod_config_init(&cfg);
	b = make(&cfg, NULL);
	feed_file(b, "zeek-traces/dns_mdns.pcap", 0, NULL);
	feed_file(b, "zeek-traces/http_get.pcap", 0, NULL);
	ck_assert_uint_gt(byod_counter(b, "names"), 0);
	n = byod_dev_count(b);
	ck_assert_uint_gt(n, 0);
	d = NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(byod_dev_at(b, i)->mdns_name, "johanna-QEMU-Virtual-Machine") == 0)
			d = byod_dev_at(b, i);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(mm_addr_format((char[MM_ADDR_STRLEN]){0}, &d->ip), "10.0.2.7");
	ck_assert_uint_gt(byod_counter(b, "http_ua"), 0);

	ck_assert_int_eq(byod_save(b, path), MM_OK);
	b2 = make(&cfg, NULL);
	ck_assert_int_eq(byod_load(b2, path), (int)n);
	for (size_t i = 0; i < n; i++) {
		const struct byod_dev *x = byod_dev_at(b, i), *y = byod_dev_find(b2, x->mac);
		ck_assert_ptr_nonnull(y);
		ck_assert_str_eq(x->hostname, y->hostname);
		ck_assert_str_eq(x->user_agent, y->user_agent);
		ck_assert_str_eq(x->dev_class, y->dev_class);
	}
	unlink(path);
	byod_free(b);
	byod_free(b2);
}
END_TEST

START_TEST(test_bounded_tables)
{
	struct byod_config cfg;
	struct byod *b;

	byod_config_init(&cfg);
	cfg.max_aps = 1;
	cfg.max_devices = 2;
	b = make(&cfg, NULL);
	feed_file(b, "aircrack-ng-tests/n-02.cap", 0, NULL);
	feed_file(b, "aircrack-ng-tests/wpa2-psk-linksys.cap", 0, NULL);
	ck_assert_uint_eq(byod_ap_count(b), 1);
	ck_assert_uint_gt(byod_counter(b, "ap_evicted"), 0);
	feed_file(b, "zeek-traces/dhcp_dhcp.pcap", 0, NULL);
	feed_file(b, "tcpdump-tests/dhcp-mud.pcap", 0, NULL);
	feed_file(b, "tcpdump-tests/dhcp-option-108.pcapng", 0, NULL);
	ck_assert_uint_eq(byod_dev_count(b), 2);
	ck_assert_uint_gt(byod_counter(b, "dev_evicted"), 0);
	byod_free(b);
}
END_TEST

static Suite *
byod_suite(void)
{
	Suite *s = suite_create("byod");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_dhcp_inventory);
	tcase_add_test(tc, test_rerandomized_phone_is_one_device);
	tcase_add_test(tc, test_arp_poison);
	tcase_add_test(tc, test_arp_changed_flipflop_suppress);
	tcase_add_loop_test(tc, test_ap_table_matches_tcpdump, 0,
	                    (int)(sizeof(wifi_files) / sizeof(wifi_files[0])));
	tcase_add_test(tc, test_encryption_names);
	tcase_add_test(tc, test_evil_twin);
	tcase_add_test(tc, test_similarity);
	tcase_add_test(tc, test_mdns_names_and_persistence);
	tcase_add_test(tc, test_bounded_tables);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(byod_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
