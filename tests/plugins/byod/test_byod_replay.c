/*
 * End-to-end Check suite of the byod plugin through the real host: runs
 * `$MIMAMORI -c CONFDIR replay --pcap FILE --module byod` over bundled
 * captures and reads the JSON lines it prints: DHCP inventory as asset
 * events (class, vendor), the access point table against what tcpdump
 * printed, the evil-twin alert, the ARP poisoning finding, the event
 * schema of DESIGN.md and the inventory kept in the state directory
 * across two runs. Runs as a test process that starts the host.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_flat.h"
#include "pcap_walk.h"
#include "tcpdump_ap.h"

#define MAX_EV 512

static char tmpdir[] = "/tmp/byod-e2e-XXXXXX";
static char confdir[4200];

struct run {
	struct jflat *ev;
	size_t n;
	const struct jflat *stat;
};

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[4300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* A conf dir of our own: the state directory under the temp dir, so runs
 * never see another test's (or the machine's) inventory. */
static void
write_conf(const char *byod_body)
{
	char text[8192];

	snprintf(text, sizeof(text),
	         "sensor = { id = \"e2e\"; site = \"test\"; role = \"utm\"; };\n"
	         "host = { state_dir = \"%s/state\"; run_dir = \"%s/run\"; log_level = \"warn\"; "
	         "};\n"
	         "aggregator = { enabled = false; };\n",
	         tmpdir, tmpdir);
	write_file(confdir, "00-sensor.conf", text);
	snprintf(text, sizeof(text), "modules = { byod = { enabled = true; %s }; };\n",
	         byod_body ? byod_body : "");
	write_file(confdir, "40-byod.conf", text);
}

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(confdir, sizeof(confdir), "%s/conf", tmpdir);
	ck_assert_int_eq(mkdir(confdir, 0700), 0);
	write_conf(NULL);
}

static void
teardown(void)
{
	char cmd[4300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmpdir, "/tmp/byod-e2e-XXXXXX");
}

/* Runs the replay; extra is appended to the command line (--set ...). */
static void
replay(struct run *out, const char *pcap_rel, const char *extra)
{
	const char *bin = getenv("MIMAMORI");
	char cmd[8192], line[65536];
	FILE *p;

	ck_assert_ptr_nonnull(bin);
	memset(out, 0, sizeof(*out));
	out->ev = calloc(MAX_EV, sizeof(*out->ev));
	ck_assert_ptr_nonnull(out->ev);
	snprintf(cmd, sizeof(cmd), "'%s' -c '%s' replay --pcap '%s' --module byod %s", bin, confdir,
	         test_data(pcap_rel), extra ? extra : "");
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p) != NULL) {
		if (line[0] != '{')
			continue;
		ck_assert_uint_lt(out->n, MAX_EV);
		ck_assert_msg(jf_parse(&out->ev[out->n], line) == 0, "bad JSON: %s", line);
		if (strcmp(jf_get(&out->ev[out->n], "kind"), "stat") == 0)
			out->stat = &out->ev[out->n];
		out->n++;
	}
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_ptr_nonnull(out->stat);
}

static void
run_free(struct run *r)
{
	free(r->ev);
	r->ev = NULL;
}

static int
is(const struct jflat *e, const char *path, const char *want)
{
	const char *v = jf_get(e, path);
	return v != NULL && strcmp(v, want) == 0;
}

/* The n-th event (from 0) with this rule name and, when given, this value
 * at path; NULL when there are fewer. */
static const struct jflat *
find(const struct run *r, const char *rule, const char *path, const char *value, int nth)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct jflat *e = &r->ev[i];
		if (!is(e, "plugin.name", "byod") || !is(e, "rule.name", rule))
			continue;
		if (path != NULL && !is(e, path, value))
			continue;
		if (nth-- == 0)
			return e;
	}
	return NULL;
}

static int
count(const struct run *r, const char *rule)
{
	int n = 0;
	while (find(r, rule, NULL, NULL, n) != NULL)
		n++;
	return n;
}

static long
stat_int(const struct run *r, const char *name)
{
	char path[128];
	const char *v;

	snprintf(path, sizeof(path), "attrs.modules.byod.%s", name);
	v = jf_get(r->stat, path);
	return v ? atol(v) : -1;
}

/* Every byod event uses only the keys of DESIGN.md's normalized event,
 * and dev only its six fields. */
static void
check_schema(const struct run *r)
{
	static const char *const top[] = {
	        "v",      "id",     "seq",  "ts",  "sensor", "plugin", "kind",     "ocsf", "cat",
	        "sev",    "action", "rule", "src", "dst",    "proto",  "app",      "msg",  "msg_ja",
	        "msg_id", "mail",   "file", "dev", "attrs",  "count",  "first_ts", NULL};
	static const char *const dev[] = {"mac", "ip", "vendor", "os", "hostname", "randomized_mac",
	                                  NULL};

	for (size_t i = 0; i < r->n; i++) {
		const struct jflat *e = &r->ev[i];
		if (!is(e, "plugin.name", "byod"))
			continue;
		ck_assert(is(e, "v", "1"));
		ck_assert_ptr_nonnull(jf_get(e, "id"));
		ck_assert_ptr_nonnull(jf_get(e, "msg"));
		ck_assert_ptr_nonnull(jf_get(e, "msg_ja"));
		ck_assert_int_gt(strlen(jf_get(e, "msg")), 10);
		/* The Japanese sentence is not the English one. */
		ck_assert_str_ne(jf_get(e, "msg"), jf_get(e, "msg_ja"));
		ck_assert(is(e, "rule.ns", "byod"));
		for (size_t k = 0; k < e->n; k++) {
			const char *p = e->v[k].path;
			size_t tl = strcspn(p, ".");
			int ok = 0;
			for (size_t t = 0; top[t] && !ok; t++)
				ok = strlen(top[t]) == tl && strncmp(top[t], p, tl) == 0;
			ck_assert_msg(ok, "key %s is not in the event schema", p);
			if (strncmp(p, "dev.", 4) == 0) {
				ok = 0;
				for (size_t t = 0; dev[t] && !ok; t++)
					ok = strcmp(dev[t], p + 4) == 0;
				ck_assert_msg(ok, "dev key %s is not in the schema", p);
			}
		}
		if (is(e, "kind", "asset")) {
			ck_assert(is(e, "ocsf", "5001"));
			ck_assert(is(e, "cat", "inventory"));
			ck_assert_ptr_nonnull(jf_get(e, "dev.mac"));
			ck_assert_ptr_nonnull(jf_get(e, "dev.randomized_mac"));
		} else {
			ck_assert(is(e, "kind", "alert"));
			ck_assert(is(e, "ocsf", "2004"));
		}
	}
}

START_TEST(test_e2e_dhcp_assets)
{
	struct run r;
	const struct jflat *e;

	replay(&r, "tcpdump-tests/dhcp-mud.pcap", NULL);
	check_schema(&r);
	e = find(&r, "asset_new", "dev.mac", "b8:27:eb:b8:53:c8", 0);
	ck_assert_ptr_nonnull(e);
	ck_assert(is(e, "kind", "asset"));
	ck_assert(is(e, "dev.vendor", "Raspberry Pi Foundation"));
	ck_assert(is(e, "dev.hostname", "raspberrypi"));
	ck_assert(is(e, "dev.randomized_mac", "false"));
	ck_assert(is(e, "attrs.class", "linux"));
	ck_assert(is(e, "attrs.class_source", "dhcp-fingerprint"));
	ck_assert(is(e, "dev.os", "Linux (dhcpcd)"));
	ck_assert(is(e, "attrs.dhcp_client_id", "01b827ebb853c8"));
	ck_assert_ptr_nonnull(strstr(jf_get(e, "msg"), "b8:27:eb:b8:53:c8"));
	ck_assert_ptr_nonnull(strstr(jf_get(e, "msg_ja"), "新しい機器"));
	ck_assert_int_eq(stat_int(&r, "devices"), 1);
	run_free(&r);

	/* A Mac under a private address: flagged, no vendor looked up. */
	replay(&r, "tcpdump-tests/dhcp-option-108.pcapng", NULL);
	check_schema(&r);
	e = find(&r, "asset_new", "dev.mac", "42:b4:44:b4:f0:ee", 0);
	ck_assert_ptr_nonnull(e);
	ck_assert(is(e, "dev.randomized_mac", "true"));
	ck_assert_ptr_null(jf_get(e, "dev.vendor"));
	ck_assert(is(e, "attrs.class", "macos"));
	ck_assert(is(e, "dev.hostname", "MacBookPro"));
	run_free(&r);

	/* Ubuntu in a VMware guest, which gets its address acknowledged. */
	replay(&r, "chrissanders-packets/dhcp_nolease_initialization.pcapng", NULL);
	check_schema(&r);
	ck_assert_ptr_nonnull(find(&r, "asset_new", "dev.mac", "00:0c:29:59:fd:21", 0));
	e = find(&r, "asset_change", "dev.mac", "00:0c:29:59:fd:21", 0);
	ck_assert_ptr_nonnull(e);
	ck_assert(is(e, "dev.vendor", "VMware, Inc."));
	ck_assert(is(e, "attrs.class", "linux"));
	ck_assert(is(e, "dev.ip", "192.168.1.10"));
	ck_assert(is(e, "dev.hostname", "ubuntu2"));
	ck_assert_ptr_nonnull(strstr(jf_get(e, "attrs.detail"), "ip"));
	run_free(&r);
}
END_TEST

/* Same list of captures and the same reading of tcpdump -en as the core
 * test, but through the host: the AP table arrives as asset events. */
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
};

START_TEST(test_e2e_ap_table_matches_tcpdump)
{
	struct exp_ap ex[64];
	struct run r;
	int n_ex = read_tcpdump_aps(ex, 64, wifi_files[_i]);

	ck_assert_int_gt(n_ex, 0);
	replay(&r, wifi_files[_i], NULL);
	check_schema(&r);
	for (int i = 0; i < n_ex; i++) {
		const struct jflat *e = NULL, *x;
		char ch[16];
		/* The last report about this BSSID (a hidden network's name
		 * may come later in a probe response). */
		for (int k = 0; (x = find(&r, "wifi_ap_new", "attrs.bssid", ex[i].bssid, k)); k++)
			e = x;
		ck_assert_msg(e != NULL, "%s: no event for AP %s", wifi_files[_i], ex[i].bssid);
		ck_assert(is(e, "kind", "asset"));
		ck_assert(is(e, "dev.mac", ex[i].bssid));
		ck_assert(is(e, "attrs.class", "access_point"));
		ck_assert_msg(is(e, "attrs.ssid", ex[i].ssid), "%s: SSID %s, tcpdump says %s",
		              ex[i].bssid, jf_get(e, "attrs.ssid"), ex[i].ssid);
		snprintf(ch, sizeof(ch), "%d", ex[i].channel);
		if (ex[i].channel)
			ck_assert_msg(is(e, "attrs.channel", ch), "%s: channel %s, tcpdump says %s",
			              ex[i].bssid, jf_get(e, "attrs.channel"), ch);
		ck_assert_int_eq(!is(e, "attrs.encryption", "OPEN"), ex[i].privacy);
	}
	ck_assert_int_ge(stat_int(&r, "access_points"), n_ex);
	ck_assert_int_ge(stat_int(&r, "wifi_ap_new"), n_ex);
	run_free(&r);
}
END_TEST

START_TEST(test_e2e_evil_twin)
{
	struct run r;
	const struct jflat *e;

	/* --set on the command line: our SSID, another BSSID authorized. */
	replay(&r, "aircrack-ng-tests/wpa2-psk-linksys.cap",
	       "--set byod.company_ssids=linksys --set byod.authorized_bssids=00:0b:86:00:00:01");
	check_schema(&r);
	ck_assert_int_eq(count(&r, "wifi_evil_twin"), 1);
	e = find(&r, "wifi_evil_twin", NULL, NULL, 0);
	ck_assert(is(e, "kind", "alert"));
	ck_assert(is(e, "cat", "rogue_ap"));
	ck_assert(is(e, "sev", "4"));
	ck_assert(is(e, "rule.id", "6008"));
	ck_assert(is(e, "attrs.bssid", "00:0b:86:c2:a4:85"));
	ck_assert(is(e, "attrs.ssid", "linksys"));
	ck_assert(is(e, "attrs.encryption", "WPA2"));
	ck_assert_ptr_nonnull(strstr(jf_get(e, "msg_ja"), "linksys"));
	ck_assert_int_eq(stat_int(&r, "wifi_evil_twin"), 1);
	run_free(&r);

	/* The same from the conf dir, with the real BSSID authorized: quiet. */
	write_conf(
	        "company_ssids = [ \"linksys\" ]; authorized_bssids = [ \"00:0B:86:C2:A4:85\" ];");
	replay(&r, "aircrack-ng-tests/wpa2-psk-linksys.cap", NULL);
	ck_assert_int_eq(count(&r, "wifi_evil_twin"), 0);
	e = find(&r, "wifi_ap_new", NULL, NULL, 0);
	ck_assert_ptr_nonnull(e);
	ck_assert(is(e, "attrs.authorized", "true"));
	ck_assert(is(e, "attrs.company", "true"));
	run_free(&r);

	/* Conf dir, wrong BSSID: the alert again. */
	write_conf(
	        "company_ssids = [ \"linksys\" ]; authorized_bssids = [ \"00:0b:86:00:00:01\" ];");
	replay(&r, "aircrack-ng-tests/wpa2-psk-linksys.cap", NULL);
	ck_assert_int_eq(count(&r, "wifi_evil_twin"), 1);
	run_free(&r);
}
END_TEST

START_TEST(test_e2e_arp_poison)
{
	struct run r;
	const struct jflat *e;

	replay(&r, "chrissanders-packets/arppoison.pcapng", NULL);
	check_schema(&r);
	ck_assert_int_eq(count(&r, "arp_mac_multiple_ips"), 1);
	e = find(&r, "arp_mac_multiple_ips", NULL, NULL, 0);
	ck_assert(is(e, "kind", "alert"));
	ck_assert(is(e, "cat", "intrusion"));
	ck_assert(is(e, "sev", "4"));
	ck_assert(is(e, "proto", "arp"));
	ck_assert(is(e, "src.mac", "00:25:b3:bf:91:ee"));
	ck_assert(is(e, "src.ip", "172.16.0.105"));
	ck_assert(is(e, "attrs.detail", "172.16.0.1"));
	ck_assert_ptr_nonnull(strstr(jf_get(e, "msg"), "ARP spoofing"));
	ck_assert_int_eq(count(&r, "arp_new_station"), 3);
	ck_assert_ptr_nonnull(find(&r, "arp_new_station", "src.ip", "172.16.0.1", 0));
	ck_assert_int_eq(stat_int(&r, "devices"), 2);
	run_free(&r);

	/* A plain resolution raises nothing but the two new stations. */
	replay(&r, "chrissanders-packets/arp_resolution.pcapng", NULL);
	ck_assert_int_eq(count(&r, "arp_new_station"), 2);
	ck_assert_int_eq(count(&r, "arp_mac_multiple_ips") + count(&r, "arp_changed_mac") +
	                         count(&r, "arp_flip_flop"),
	                 0);
	run_free(&r);
}
END_TEST

START_TEST(test_e2e_inventory_persists)
{
	struct run r;
	char path[4300], *text;
	FILE *f;
	long n;

	replay(&r, "tcpdump-tests/dhcp-mud.pcap", NULL);
	ck_assert_int_eq(count(&r, "asset_new"), 1);
	run_free(&r);

	snprintf(path, sizeof(path), "%s/state/byod/inventory.tsv", tmpdir);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "no inventory at %s", path);
	text = calloc(1, 65536);
	ck_assert_ptr_nonnull(text);
	n = (long)fread(text, 1, 65535, f);
	fclose(f);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_nonnull(strstr(text, "b8:27:eb:b8:53:c8\t-\t0\t62.12.173.123\t"
	                                   "Raspberry Pi Foundation\traspberrypi\tlinux"));
	free(text);

	/* The second run knows the device: no new asset. */
	replay(&r, "tcpdump-tests/dhcp-mud.pcap", NULL);
	ck_assert_int_eq(count(&r, "asset_new"), 0);
	ck_assert_int_eq(stat_int(&r, "devices"), 1);
	run_free(&r);

	/* Another capture adds to the same inventory. */
	replay(&r, "tcpdump-tests/dhcp-option-108.pcapng", NULL);
	ck_assert_int_ge(count(&r, "asset_new"), 1);
	ck_assert_int_eq(stat_int(&r, "devices"), 1 + count(&r, "asset_new"));
	run_free(&r);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("byod_replay");
	TCase *tc = tcase_create("e2e");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_e2e_dhcp_assets);
	tcase_add_loop_test(tc, test_e2e_ap_table_matches_tcpdump, 0,
	                    (int)(sizeof(wifi_files) / sizeof(wifi_files[0])));
	tcase_add_test(tc, test_e2e_evil_twin);
	tcase_add_test(tc, test_e2e_arp_poison);
	tcase_add_test(tc, test_e2e_inventory_persists);
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
