/*
 * Internal interface of the byod detector core (libmm_byod_core): device
 * inventory, BYOD policy, arpwatch findings and the rogue Wi-Fi monitor.
 * The core sees decoded packets (struct mm_packet) and reports findings
 * through a callback; it never calls the host API, so the tests drive it
 * directly and the plugin layer (byod.c) turns findings into events.
 */
#ifndef MM_BYOD_H
#define MM_BYOD_H

#include <stddef.h>
#include <stdint.h>

#include <mimamori/packet.h>

#define BYOD_STR 64
#define BYOD_LONG 160
#define BYOD_MAX_LIST 64
/* Hard ceiling of every table, whatever the configuration says. */
#define BYOD_MAX_ENTRIES 1000000

/* What a finding is about (also the rule id suffix and catalogue id). */
enum byod_kind {
	BYOD_F_ASSET_NEW = 1,
	BYOD_F_ASSET_CHANGE,
	BYOD_F_BYOD_UNKNOWN,
	BYOD_F_ARP_NEW,
	BYOD_F_ARP_CHANGED,
	BYOD_F_ARP_FLIPFLOP,
	BYOD_F_ARP_MULTI_IP,
	BYOD_F_WIFI_EVIL_TWIN,
	BYOD_F_WIFI_DOWNGRADE,
	BYOD_F_WIFI_CHANNEL,
	BYOD_F_WIFI_BEACON_INT,
	BYOD_F_WIFI_LOOKALIKE,
	BYOD_F_WIFI_STRONG,
	BYOD_F_WIFI_DEAUTH_FLOOD,
	BYOD_F_WIFI_AP_NEW, /* an access point seen for the first time (asset) */
	BYOD_F__COUNT
};

/* Where a device was seen (byod_dev.sources bits). */
enum byod_source {
	BYOD_SRC_ARP = 1u << 0,
	BYOD_SRC_DHCP = 1u << 1,
	BYOD_SRC_MDNS = 1u << 2,
	BYOD_SRC_LLMNR = 1u << 3,
	BYOD_SRC_NBNS = 1u << 4,
	BYOD_SRC_HTTP = 1u << 5,
	BYOD_SRC_IP = 1u << 6,
	BYOD_SRC_PUSH = 1u << 7 /* mobile push traffic (5223, 5228-5230/TCP) */
};

/* Wi-Fi encryption, weakest first so that "lower" means a downgrade. */
enum byod_enc { BYOD_ENC_OPEN = 0, BYOD_ENC_WEP, BYOD_ENC_WPA, BYOD_ENC_WPA2, BYOD_ENC_WPA3 };

struct byod_dev {
	uint8_t mac[6];
	uint8_t prev_mac[6]; /* the MAC before the last re-randomization */
	uint8_t randomized;  /* locally administered MAC */
	uint8_t has_prev;
	uint8_t allowed;      /* on the allow-list */
	uint8_t alerted;      /* BYOD alert already raised */
	uint32_t sources;     /* enum byod_source */
	uint32_t mac_changes; /* re-randomizations merged into this device */
	struct mm_addr ip;
	char vendor[BYOD_STR];
	char hostname[BYOD_STR];
	char dev_class[24]; /* phone, tablet, windows, macos, linux, printer, ... */
	char os[BYOD_STR];
	char class_how[BYOD_STR]; /* what decided the class: "dhcp-fingerprint" ... */
	char dhcp_fp[BYOD_LONG];
	char vendor_class[BYOD_STR];
	char client_id[BYOD_STR]; /* hex */
	char mdns_name[BYOD_STR];
	char user_agent[BYOD_LONG];
	uint64_t first_ts;
	uint64_t last_ts;
};

/* byod_wlan_parse() fills the members before vendor; keep what a frame
 * says first and what only the table knows from vendor on. */
struct byod_ap {
	uint8_t bssid[6];
	char ssid[33]; /* printable copy, escaped as tcpdump -e prints it */
	uint8_t ssid_raw[32];
	uint8_t ssid_len;
	uint8_t enc;        /* enum byod_enc */
	uint8_t privacy;    /* capability privacy bit */
	uint8_t company;    /* SSID is one of ours */
	uint8_t authorized; /* BSSID is authorized for it */
	uint16_t channel;
	uint16_t beacon_int;
	int8_t signal;         /* dBm, 0 when unknown */
	uint8_t randomized;    /* locally administered BSSID (hotspots often are) */
	char vendor[BYOD_STR]; /* OUI vendor of the BSSID, "" when randomized */
	uint32_t beacons;
	uint64_t first_ts;
	uint64_t last_ts;
	/* deauth flood window */
	uint64_t deauth_win;
	uint32_t deauth_count;
};

/* One finding handed to the report callback; pointers are borrowed. */
struct byod_finding {
	int kind; /* enum byod_kind */
	uint64_t ts_ns;
	const struct byod_dev *dev;
	const struct byod_ap *ap;
	uint8_t mac[6];
	uint8_t old_mac[6];
	struct mm_addr ip;
	int confidence; /* 0-100 for BYOD alerts */
	double score;   /* similarity for look-alike SSIDs, frames/s for floods */
	char how[BYOD_LONG];
	char detail[BYOD_LONG]; /* changed fields, the similar SSID, ... */
};

typedef void (*byod_report_fn)(void *user, const struct byod_finding *f);

struct byod_cidr {
	struct mm_addr net;
	uint8_t bits;
};

struct byod_config {
	size_t max_devices;
	size_t max_aps;
	size_t max_arp;
	/* BYOD policy */
	char *allow_mac[BYOD_MAX_LIST];
	size_t n_allow_mac;
	char *allow_host[BYOD_MAX_LIST];
	size_t n_allow_host;
	char *allow_client_id[BYOD_MAX_LIST];
	size_t n_allow_client_id;
	struct byod_cidr company_nets[BYOD_MAX_LIST];
	size_t n_company_nets;
	int byod_min_confidence;
	/* arpwatch */
	uint64_t arp_suppress_ns;
	uint64_t arp_flipflop_ns;
	int arp_report_new;
	/* rogue Wi-Fi */
	char *company_ssid[BYOD_MAX_LIST];
	size_t n_company_ssid;
	uint8_t auth_bssid[BYOD_MAX_LIST][6];
	size_t n_auth_bssid;
	double lookalike_min;
	int strong_dbm;
	uint32_t deauth_per_s;
	uint64_t alert_interval_ns; /* per (kind, subject) rate limit */
	/* Findings of one kind per minute of capture time (token bucket);
	 * the rest are counted as findings_rate_limited. 0: no limit. */
	uint32_t findings_per_min;
	int ap_events; /* report each new access point (BYOD_F_WIFI_AP_NEW) */
};

struct byod_oui;
struct byod_fptab;
struct byod;

/* The OUI table: Debian ieee-data oui.txt ("XX-XX-XX   (hex)\tVendor"). */
int byod_oui_load(struct byod_oui **out, const char *path, size_t max_entries);
const char *byod_oui_lookup(const struct byod_oui *t, const uint8_t *mac);
size_t byod_oui_count(const struct byod_oui *t);
void byod_oui_free(struct byod_oui *t);

/* The DHCP fingerprint table (data/byod/dhcp-fingerprints.tsv); load
 * appends, so several files may be loaded into one table. *out is created
 * when NULL. */
int byod_fp_load(struct byod_fptab **out, const char *path, size_t max_entries);
/* prads dhcp.fp lines (optional extra source, read at run time only). */
int byod_fp_load_prads(struct byod_fptab **out, const char *path, size_t max_entries);
size_t byod_fp_count(const struct byod_fptab *t);
void byod_fp_free(struct byod_fptab *t);
/* Classify: fills dev_class, os and class_how; returns 1 when matched. */
int byod_fp_classify(const struct byod_fptab *t, struct byod_dev *dev);

/* Configuration helpers. */
int byod_config_init(struct byod_config *out);
void byod_config_clear(struct byod_config *cfg);
int byod_config_add(struct byod_config *cfg, const char *list, const char *value);

/* The detector. Takes ownership of oui and fp (either may be NULL). */
int byod_new(struct byod **out, const struct byod_config *cfg, struct byod_oui *oui,
             struct byod_fptab *fp, byod_report_fn report, void *user);
void byod_free(struct byod *b);
void byod_packet(struct byod *b, const struct mm_packet *pkt);

/* Inventory persistence (TSV, one device a line). */
int byod_save(const struct byod *b, const char *path);
int byod_load(struct byod *b, const char *path);

/* Introspection for tests and gauges. */
size_t byod_dev_count(const struct byod *b);
const struct byod_dev *byod_dev_at(const struct byod *b, size_t i);
const struct byod_dev *byod_dev_find(const struct byod *b, const uint8_t *mac);
size_t byod_ap_count(const struct byod *b);
size_t byod_arp_count(const struct byod *b);
/* Bytes held by the detector's tables: fixed at byod_new(). */
size_t byod_mem_bytes(const struct byod *b);
const struct byod_ap *byod_ap_at(const struct byod *b, size_t i);
uint64_t byod_counter(const struct byod *b, const char *name);

/* Helpers shared with the tests and fuzzers. */
const char *byod_enc_name(int enc);
const char *byod_kind_name(int kind);
double byod_ssid_similarity(const char *a, const char *b);
int byod_wlan_parse(struct byod_ap *out, const struct mm_packet *pkt);
/* What the body of a beacon or probe response says by itself, without
 * the radio's view (radiotap channel and signal): the packet path keeps
 * it per access point and parses again only when the body changes. */
struct byod_beacon {
	uint16_t beacon_int;
	uint16_t ds_channel; /* from the DS element, when has_ds */
	uint8_t has_ds;
	uint8_t privacy;
	uint8_t enc; /* enum byod_enc */
	uint8_t has_ssid;
	uint8_t ssid_len;
	uint8_t ssid_raw[32];
};
/* A beacon or probe response with the fixed fields and a BSSID: what
 * byod_wlan_parse() and byod_beacon_parse() need. */
static inline int
byod_beacon_frame(const struct mm_packet *pkt)
{
	return (pkt->layers & MM_L_WLAN) && pkt->wlan_type == MM_WLAN_MGMT &&
	       (pkt->wlan_subtype == MM_WLAN_BEACON || pkt->wlan_subtype == MM_WLAN_PROBE_RESP) &&
	       pkt->wlan_body != NULL && pkt->wlan_body_len >= 12 && pkt->wlan_bssid != NULL;
}
/* body: len >= 12 bytes (timestamp, beacon interval, capabilities, then
 * the elements). */
void byod_beacon_parse(struct byod_beacon *out, const uint8_t *body, uint32_t len);
/* The SSID as tcpdump -e prints it, into out (outsz bytes, terminated). */
void byod_ssid_text(char *out, size_t outsz, const uint8_t *s, size_t len);
/* Names from an mDNS / LLMNR / NBNS message: calls cb for each (name, ipv4)
 * pair found (ip may be NULL). Returns the number of names or -1. */
typedef void (*byod_name_cb)(void *user, const char *name, const uint8_t *ip4);
int byod_dns_names(const uint8_t *msg, size_t len, int nbns, byod_name_cb cb, void *user);

#endif
