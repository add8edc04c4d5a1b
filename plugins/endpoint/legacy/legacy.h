/*
 * Internal interface of the legacy-OS watcher: the end-of-life table, the
 * PC-side checks behind a small platform interface, the p0f v3 signature
 * parser and matcher, the passive signal extractors (TCP SYN, DHCP, SMB,
 * HTTP) and the per-host table that combines them. Everything here is pure
 * C with no host API calls, so the Check suites and the fuzzers drive it
 * directly; legacy.c is the thin layer that talks to the host.
 */
#ifndef MM_LEGACY_H
#define MM_LEGACY_H

#include <stddef.h>
#include <stdint.h>

#include <mimamori/packet.h>

/* ------------------------------------------------------------------ */
/* Dates. */

/* Days since 1970-01-01 for a proleptic Gregorian date. */
int64_t legacy_days_from_civil(int y, unsigned m, unsigned d);
/* Parse "YYYY-MM-DD" into days since the epoch. MM_OK or MM_ERR_PARSE. */
int legacy_parse_date(int64_t *out, const char *text);
/* Format days since the epoch as "YYYY-MM-DD" (11 bytes). */
void legacy_format_date(char *out, size_t outlen, int64_t days);

/* ------------------------------------------------------------------ */
/* Helpers shared by the parsers (util.c). */

/* Read a whole file of at most maxlen bytes into a NUL-terminated buffer the
 * caller frees. MM_ERR_NOTFOUND, MM_ERR_IO or MM_ERR_TOOBIG otherwise. */
int legacy_read_file(char **out, size_t *out_len, const char *path, size_t maxlen);
/* Next line of text[*pos..len) without its line ending, copied into line
 * (cut at linelen - 1). Returns 0 at the end of the text. */
int legacy_next_line(char *line, size_t linelen, const char *text, size_t len, size_t *pos);
/* Split line in place at tabs into at most max fields; returns the count. */
int legacy_split_tabs(char **fields, int max, char *line);
/* Trim spaces at both ends in place; returns s. */
char *legacy_trim(char *s);
/* Copy src into dst of dstlen bytes, always NUL-terminated. */
void legacy_strlcpy(char *dst, const char *src, size_t dstlen);
/* Join root and path ("/" + "etc/os-release"); absolute path wins unless
 * root is not "/". */
void legacy_path(char *out, size_t outlen, const char *root, const char *path);

/* ------------------------------------------------------------------ */
/* End-of-life table (data/legacy/eol.tsv). */

#define LEGACY_EOL_MAX 1024

struct legacy_eol_entry {
	char product[32]; /* os-release ID, "windows", "macos" */
	char version[32]; /* VERSION_ID prefix, "xp", "8.1" */
	int64_t eol_day;  /* days since the epoch */
	char source[128];
};

struct legacy_eol {
	struct legacy_eol_entry *v;
	size_t n;
	char updated[16]; /* from the "# updated: YYYY-MM-DD" line, or "" */
	size_t bad_lines; /* lines skipped as malformed */
};

/* Parse a table from memory (also the fuzz entry). Malformed lines are
 * skipped and counted; more than LEGACY_EOL_MAX rows is MM_ERR_FULL. */
int legacy_eol_parse(struct legacy_eol **out, const char *text, size_t len);
int legacy_eol_load(struct legacy_eol **out, const char *path);
void legacy_eol_free(struct legacy_eol *t);
/* The row for product whose version is the longest prefix of version at a
 * '.' or end boundary ("8" matches "8.10"), or NULL. Case-insensitive. */
const struct legacy_eol_entry *legacy_eol_find(const struct legacy_eol *t, const char *product,
                                               const char *version);

/* ------------------------------------------------------------------ */
/* PC side. */

/* What the platform layer reports about the running OS. */
struct legacy_os_info {
	char id[32];         /* os-release ID ("debian"), "windows" */
	char id_like[96];    /* os-release ID_LIKE, space-separated */
	char version_id[32]; /* os-release VERSION_ID ("8", "24.04") */
	char pretty[128];    /* PRETTY_NAME */
	char kernel[96];     /* uname release */
	char machine[32];    /* uname machine */
};

/*
 * The platform interface: one function per fact, all reading below root so
 * that tests point them at fixture trees. On Linux the OS comes from
 * <root>/etc/os-release (or <root>/usr/lib/os-release) and the kernel from
 * <root>/proc/sys/kernel/osrelease, falling back to uname() only when root
 * is "/". A Windows build implements the same function with the version API.
 */
int legacy_platform_os(struct legacy_os_info *out, const char *root);

/* Options of the PC checks; paths are relative to root unless absolute. */
struct legacy_pc_opts {
	const char *root;        /* "/" in production */
	const char *clamav_dir;  /* "var/lib/clamav" */
	int av_max_age_days;     /* signatures older than this are stale */
	const char *apt_file;    /* saved `apt-get -s upgrade` output, or NULL */
	const char *apt_command; /* run when root is "/" and apt_file is unset */
	const char *fw_file;     /* saved `nft list ruleset` / iptables-save, or NULL */
	const char *fw_command;  /* run when root is "/" and fw_file is unset */
};

enum legacy_tri { LEGACY_UNKNOWN = -1, LEGACY_NO = 0, LEGACY_YES = 1 };

struct legacy_pc_report {
	struct legacy_os_info os;
	int eol_known; /* a row matched */
	int eol_past;  /* now is after the row's date */
	char eol_product[32];
	char eol_version[32];
	char eol_date[16];
	char eol_source[128];
	int av_present;      /* enum legacy_tri */
	char av_name[16];    /* "clamav" */
	int64_t av_sig_day;  /* signature build day, -1 unknown */
	int64_t av_age_days; /* -1 unknown */
	int av_stale;        /* 1 when older than av_max_age_days */
	int updates_known;   /* 1 when a source could be read */
	int updates_total;
	int updates_security;
	int fw_active;    /* enum legacy_tri */
	char fw_kind[16]; /* "nftables", "iptables" */
};

/* Run every PC check. now_s is the wall clock in seconds. */
int legacy_pc_check(struct legacy_pc_report *out, const struct legacy_pc_opts *opts,
                    const struct legacy_eol *eol, int64_t now_s);

/* The pieces of legacy_pc_check, exposed for tests and fuzzing. */
int legacy_os_release_parse(struct legacy_os_info *out, const char *text, size_t len);
/* The signature build time of a ClamAV .cvd/.cld header, in seconds. */
int legacy_clamav_header_time(int64_t *out, const char *hdr, size_t len);
/* Count `Inst` lines of `apt-get -s upgrade` output, and those from a
 * security suite. */
void legacy_apt_count(int *out_total, int *out_security, const char *text, size_t len);
/* 1 when a ruleset dump filters inbound traffic, 0 when empty or accept-all. */
int legacy_fw_parse(char *out_kind, size_t kindlen, const char *text, size_t len);

/* ------------------------------------------------------------------ */
/* p0f v3 TCP signatures. */

#define LEGACY_P0F_MAX_SIGS 4096
#define LEGACY_P0F_MAX_OPTS 40

enum legacy_p0f_wtype { P0F_W_ANY, P0F_W_FIXED, P0F_W_MSS, P0F_W_MTU, P0F_W_MOD };

/* Quirk bits, as p0f names them. */
enum legacy_quirk {
	Q_DF = 1u << 0,
	Q_NZ_ID = 1u << 1,   /* id+ */
	Q_ZERO_ID = 1u << 2, /* id- */
	Q_ECN = 1u << 3,
	Q_NZ_MBZ = 1u << 4, /* 0+ */
	Q_FLOW = 1u << 5,
	Q_ZERO_SEQ = 1u << 6,      /* seq- */
	Q_NZ_ACK = 1u << 7,        /* ack+ */
	Q_ZERO_ACK = 1u << 8,      /* ack- */
	Q_NZ_URG = 1u << 9,        /* uptr+ */
	Q_URG = 1u << 10,          /* urgf+ */
	Q_PUSH = 1u << 11,         /* pushf+ */
	Q_OPT_ZERO_TS1 = 1u << 12, /* ts1- */
	Q_OPT_NZ_TS2 = 1u << 13,   /* ts2+ */
	Q_OPT_EOL_NZ = 1u << 14,   /* opt+ */
	Q_OPT_EXWS = 1u << 15,     /* exws */
	Q_OPT_BAD = 1u << 16       /* bad */
};

/* TCP option kinds in a layout; EOL carries its padding length. */
enum legacy_tcpopt { O_EOL = 0, O_NOP = 1, O_MSS = 2, O_WS = 3, O_SOK = 4, O_SACK = 5, O_TS = 8 };

struct legacy_p0f_sig {
	uint16_t label;   /* index into labels */
	uint8_t response; /* 0 [tcp:request] (SYN), 1 [tcp:response] (SYN+ACK) */
	uint8_t ver;      /* 0 any, 4, 6 */
	uint8_t ttl;
	uint8_t bad_ttl; /* "64-": the observed TTL may be anything up to ttl */
	int16_t olen;
	int32_t mss;   /* -1 any */
	uint8_t wtype; /* enum legacy_p0f_wtype */
	int32_t wsize; /* value or multiplier */
	int16_t scale; /* -1 any */
	uint8_t nopt;
	uint8_t opt[LEGACY_P0F_MAX_OPTS];
	uint8_t eol_pad;
	uint32_t quirks;
	int8_t pclass; /* -1 any, 0 zero, 1 non-zero */
};

struct legacy_p0f_label {
	char generic; /* 1 for "g:" labels */
	char cls[8];  /* "win", "unix", "other", "!" */
	char name[40];
	char flavor[48];
};

struct legacy_p0f {
	struct legacy_p0f_sig *sig;
	size_t nsig;
	struct legacy_p0f_label *label;
	size_t nlabel;
	size_t bad_lines;
};

/* Parse p0f.fp text, keeping [tcp:request] and [tcp:response]. The same
 * db may be extended by parsing more text into it (our supplement file). */
int legacy_p0f_parse(struct legacy_p0f *db, const char *text, size_t len);
int legacy_p0f_load(struct legacy_p0f *db, const char *path);
void legacy_p0f_clear(struct legacy_p0f *db);

/* What a SYN or SYN+ACK looks like, in p0f's terms. */
struct legacy_tcp_obs {
	uint8_t ver;
	uint8_t ttl;
	int16_t olen;
	int32_t mss; /* -1 when absent */
	uint16_t win;
	int16_t scale; /* 0 when absent */
	uint8_t nopt;
	uint8_t opt[LEGACY_P0F_MAX_OPTS];
	uint8_t eol_pad;
	uint32_t quirks;
	uint8_t has_payload;
	uint8_t response;
};

/* Fill obs from a decoded SYN or SYN+ACK. MM_ERR_INVAL for anything else. */
int legacy_tcp_observe(struct legacy_tcp_obs *out, const struct mm_packet *pkt);
/* Parse TCP options into obs (shared with the fuzzer). */
void legacy_tcp_parse_options(struct legacy_tcp_obs *obs, const uint8_t *p, size_t len,
                              uint32_t ack_flag_set);
/* Best label for obs, or NULL. *out_fuzzy is set when only a match that
 * ignores the TTL distance or the DF/ID quirks was found. */
const struct legacy_p0f_label *legacy_p0f_match(const struct legacy_p0f *db,
                                                const struct legacy_tcp_obs *obs, int *out_fuzzy);
/* "s:win:Windows:XP" into out. */
void legacy_p0f_label_format(char *out, size_t outlen, const struct legacy_p0f_label *l);

/* ------------------------------------------------------------------ */
/* Signal table (data/legacy/signals.tsv) and extractors. */

enum legacy_family { LF_TCP, LF_DHCP, LF_SMB, LF_HTTP, LF__COUNT };
enum legacy_verdict { LV_NEUTRAL = 0, LV_LEGACY = 1, LV_CURRENT = 2 };

const char *legacy_family_name(int family);

#define LEGACY_SIGTAB_MAX 512

struct legacy_sigrow {
	char kind[12]; /* p0f, port, dhcp, smb, nativeos, ua */
	char pattern[96];
	char os[48];
	char product[32]; /* EOL key, "-" for no claim, "other" for a non-Windows OS */
	char version[32];
	int weight; /* 0..100 */
};

struct legacy_sigtab {
	struct legacy_sigrow *v;
	size_t n;
	size_t bad_lines;
};

int legacy_sigtab_parse(struct legacy_sigtab *out, const char *text, size_t len);
int legacy_sigtab_load(struct legacy_sigtab *out, const char *path);
void legacy_sigtab_clear(struct legacy_sigtab *t);
/* First row of kind whose pattern matches text: p0f patterns compare with
 * "name:flavor" exactly or as a prefix when they end in '*'; the other
 * kinds are substrings. */
const struct legacy_sigrow *legacy_sigtab_find(const struct legacy_sigtab *t, const char *kind,
                                               const char *text);

/* One piece of evidence about a host. */
struct legacy_signal {
	uint8_t family;  /* enum legacy_family */
	uint8_t verdict; /* enum legacy_verdict */
	uint8_t weight;
	char kind[12];
	char os[48];
	char evidence[128];
};

/* What the SMB extractor found in one message. */
struct legacy_smb_info {
	int is_smb1;
	int is_smb2;
	int is_reply;
	int negotiate_req; /* SMB1 negotiate request with its dialects */
	int offers_smb2;
	int offers_nt_lm;
	int offers_samba;
	int ndialects;
	char native_os[96];
	char native_lanman[96];
};

/* Parse the first SMB message of a TCP payload to port 139/445 (NBSS
 * framing). MM_OK when something was found, MM_ERR_NOTFOUND otherwise. */
int legacy_smb_extract(struct legacy_smb_info *out, const uint8_t *p, size_t len);
/* The User-Agent of an HTTP request in a TCP payload (copied, NUL-ended,
 * cut to outlen - 1). MM_OK or MM_ERR_NOTFOUND. */
int legacy_http_user_agent(char *out, size_t outlen, const uint8_t *p, size_t len);

struct legacy_dhcp_info {
	uint8_t chaddr[6];
	int has_55, has_60;
	uint8_t prl[64]; /* option 55 */
	size_t nprl;
	char vendor[64];          /* option 60 */
	char hostname[64];        /* option 12 */
	struct mm_addr requested; /* option 50 or ciaddr */
};

/* Parse a BOOTREQUEST (UDP payload from port 68). */
int legacy_dhcp_extract(struct legacy_dhcp_info *out, const uint8_t *p, size_t len);

/* ------------------------------------------------------------------ */
/* Hosts. */

#define LEGACY_HOST_SIGNALS 16

struct legacy_host {
	struct mm_addr ip; /* family 0 while only known by MAC (DHCP) */
	uint8_t mac[6];
	uint8_t has_mac;
	uint8_t in_use;
	char hostname[64];
	struct legacy_signal sig[LEGACY_HOST_SIGNALS];
	uint8_t nsig;
	uint64_t first_ns, last_ns;
	/* The latest peer outside private address space this host sent to:
	 * the "talking to the internet" evidence. */
	struct mm_addr ext_peer;
	uint16_t ext_port;
	uint8_t ext_proto;
	uint64_t ext_ns;
	uint64_t ext_packets;
	/* What has been reported already. */
	uint8_t reported_os_sig; /* nsig at the last inventory event */
	uint8_t alerted;         /* 0 none, 1 legacy alert, 2 internet alert */
	uint32_t hash_next;      /* chain in the IP hash, index + 1 */
};

struct legacy_assess {
	int legacy_families;
	int current_families;
	int is_legacy;
	int confidence; /* percent */
	const char *os; /* best label, borrowed from the host */
	const char *families[LF__COUNT];
};

/* Combine a host's signals: a family counts as legacy when it has a legacy
 * signal and no current one; the host is legacy when at least min_families
 * families say so and none says current. */
void legacy_assess_host(struct legacy_assess *out, const struct legacy_host *h, int min_families);

enum legacy_change { LEGACY_CH_INVENTORY = 1, LEGACY_CH_LEGACY = 2, LEGACY_CH_INTERNET = 3 };

typedef void (*legacy_change_cb)(void *user, struct legacy_host *h, int change,
                                 const struct legacy_assess *a);

struct legacy_utm_opts {
	size_t max_hosts;
	int min_families;
	int64_t now_day; /* for EOL verdicts; refreshed by the caller */
};

struct legacy_utm;

/* The UTM engine: owns the host table; borrows db, tab and eol. */
int legacy_utm_new(struct legacy_utm **out, const struct legacy_utm_opts *opts,
                   const struct legacy_p0f *db, const struct legacy_sigtab *tab,
                   const struct legacy_eol *eol, legacy_change_cb cb, void *user);
void legacy_utm_free(struct legacy_utm *u);
void legacy_utm_set_day(struct legacy_utm *u, int64_t now_day);
/* Feed one decoded packet. */
void legacy_utm_packet(struct legacy_utm *u, const struct mm_packet *pkt);

struct legacy_utm_stats {
	uint64_t packets, syn, dhcp, smb, http, signals, hosts, hosts_dropped, tcp_unmatched;
};
const struct legacy_utm_stats *legacy_utm_stats(const struct legacy_utm *u);
/* Iterate over hosts: i from 0 while the return is non-NULL (skips unused). */
struct legacy_host *legacy_utm_host_at(struct legacy_utm *u, size_t *iter);
struct legacy_host *legacy_utm_find(struct legacy_utm *u, const struct mm_addr *ip);

/* Add a signal to a host (deduplicated by kind and evidence). Returns 1 when
 * added, 0 when already there or the host's list is full. */
int legacy_host_add_signal(struct legacy_host *h, const struct legacy_signal *s);

/* True for addresses that are not routed on the internet (RFC 1918, CGNAT,
 * loopback, link-local, multicast, broadcast, ULA, documentation). */
int legacy_addr_is_private(const struct mm_addr *a);

#endif
