/*
 * Rules of the ips plugin: the parsed form of Suricata/Snort rules, rule
 * variables, classification.config, and the load summary. Private to the
 * plugin (its core library and tests).
 */
#ifndef MM_IPS_RULE_H
#define MM_IPS_RULE_H

#include <stddef.h>
#include <stdint.h>

#include "mimamori/packet.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Buffers a content or pcre can inspect. */
enum ips_buf {
	IPS_BUF_PKT = 0,
	IPS_BUF_DNS_QUERY,
	IPS_BUF_TLS_SNI,
	IPS_BUF_HTTP_HOST,
	IPS_BUF_HTTP_URI,
	IPS_BUF_HTTP_UA,
	IPS_BUF_HTTP_METHOD,
	IPS_BUF_HTTP_URI_RAW,
	IPS_BUF_HTTP_HEADER,
	IPS_BUF__COUNT
};

enum ips_action { IPS_ALERT = 0, IPS_DROP = 1, IPS_PASS = 2 };
enum ips_app { IPS_APP_NONE = 0, IPS_APP_DNS, IPS_APP_TLS, IPS_APP_HTTP };

/* Flow keyword bits. */
enum {
	IPS_FLOW_ESTABLISHED = 1u << 0,
	IPS_FLOW_NOT_ESTABLISHED = 1u << 1,
	IPS_FLOW_TO_SERVER = 1u << 2,
	IPS_FLOW_TO_CLIENT = 1u << 3,
	IPS_FLOW_STATELESS = 1u << 4
};

enum ips_track {
	IPS_TRACK_SRC = 0,
	IPS_TRACK_DST,
	IPS_TRACK_RULE,
	IPS_TRACK_BOTH,
	IPS_TRACK_FLOW,
	IPS_TRACK_EITHER
};
enum ips_thr_type { IPS_THR_NONE = 0, IPS_THR_LIMIT, IPS_THR_THRESHOLD, IPS_THR_BOTH, IPS_THR_DF };

/* unique_on of detection_filter: count distinct ports, not packets. */
enum { IPS_UNIQUE_NONE = 0, IPS_UNIQUE_SRC_PORT, IPS_UNIQUE_DST_PORT };

struct ips_thr {
	int type; /* enum ips_thr_type */
	int track;
	int unique_on;
	uint32_t count;
	uint32_t seconds;
};

struct ips_cidr {
	struct mm_addr net;
	uint8_t bits;
};

/* An address set: any, or (in any inc) and (in no exc). */
struct ips_addrset {
	int any;
	struct ips_cidr *inc;
	size_t ninc;
	struct ips_cidr *exc;
	size_t nexc;
};

struct ips_prange {
	uint16_t lo, hi;
};

struct ips_portset {
	int any;
	struct ips_prange *inc;
	size_t ninc;
	struct ips_prange *exc;
	size_t nexc;
};

enum ips_opt_type { IPS_OPT_CONTENT = 1, IPS_OPT_PCRE = 2, IPS_OPT_BSIZE = 3 };

/* A numeric test as dsize, itype, urilen and bsize write it: op '=', '<',
 * '>', '!', '-' (lo < n < hi) or 'T' (always true). */
struct ips_num {
	int op;
	uint32_t lo, hi;
};

int ips_num_parse(struct ips_num *out, const char *text);
int ips_num_match(const struct ips_num *n, uint32_t v);

/* A content or pcre, in rule order (relative modifiers follow it). */
struct ips_opt {
	int type;
	int buf; /* enum ips_buf */
	int negated;
	int nocase;
	int relative; /* distance or within given, or pcre /R */
	int has_offset, has_depth, has_distance, has_within;
	int32_t offset, depth, distance, within;
	int startswith, endswith;
	int fast_pattern;
	uint8_t *pat;
	uint32_t len;
	pcre2_code *re;
	pcre2_match_data *md;
	struct ips_num bsize; /* IPS_OPT_BSIZE: length of the buffer */
};

struct ips_rule {
	int action;
	uint8_t proto; /* 0 any ip, else IPPROTO_* */
	int app;       /* enum ips_app from the header or service */
	int bidir;
	struct ips_addrset src, dst;
	struct ips_portset sp, dp;
	char *msg;
	char *classtype;
	uint32_t gid, sid, rev;
	int priority; /* 0: from the classtype */
	uint32_t flow;
	int has_flags;
	uint8_t flags_set;  /* bits that must be set */
	uint8_t flags_mask; /* bits ignored (the ",mask" part) */
	int flags_mode;     /* 0 exact, '+' all of, '*' any of, '!' none of */
	int has_dsize;
	int dsize_op; /* '=', '<', '>', '-' (range), '!' */
	uint32_t dsize_lo, dsize_hi;
	int has_itype, has_icode, has_urilen;
	struct ips_num itype, icode, urilen;
	struct ips_thr threshold;
	struct ips_thr detection_filter;
	struct ips_opt *opts;
	size_t nopts;
	int fp;     /* index of the fast pattern content in opts, -1 when none */
	char *text; /* the rule as written, for messages */
	char *file;
	int line;
	uint32_t index; /* position in the ruleset */
	/* Flowbits (set/isset/isnotset/unset/toggle/noalert). */
	struct ips_flowbit {
		int op;
		uint32_t bit;
		uint32_t nalt; /* isset/isnotset "a|b|c": the other names */
		uint32_t alt[7];
	} * fb;
	size_t nfb;
	int noalert;
};

/* One "skipped because of X" counter of the load summary. */
struct ips_skip {
	char *what;
	uint64_t count;
};

struct ips_class {
	char *name;
	char *desc;
	int priority;
};

struct ips_vars {
	char **names;
	char **values;
	size_t n;
};

/* The result of loading rule files. */
struct ips_ruleset {
	struct ips_rule **rules;
	size_t n, cap;
	uint64_t lines, loaded, skipped, failed, duplicates;
	struct ips_skip *skips;
	size_t nskips;
	struct ips_class *classes;
	size_t nclasses;
	char **flowbit_names;
	size_t nflowbits;
};

/* Variables: defaults (Suricata's shipped values) overridden by set. */
int ips_vars_init(struct ips_vars *v);
int ips_vars_set(struct ips_vars *v, const char *name, const char *value);
void ips_vars_free(struct ips_vars *v);

int ips_ruleset_new(struct ips_ruleset **out);
void ips_ruleset_free(struct ips_ruleset *rs);
/* Load classification.config (missing file: MM_ERR_NOTFOUND). */
int ips_ruleset_load_classes(struct ips_ruleset *rs, const char *path);
/* Add the built-in classification table (used when no file is given). */
void ips_ruleset_default_classes(struct ips_ruleset *rs);
/* Parse one rule line; a skipped rule is counted, not an error. Returns
 * MM_OK (loaded, skipped or blank) or MM_ERR_NOMEM. */
int ips_ruleset_add_line(struct ips_ruleset *rs, const struct ips_vars *vars, const char *line,
                         const char *file, int lineno);
/* Load a rule file; MM_ERR_NOTFOUND/IO when it cannot be read. */
int ips_ruleset_load_file(struct ips_ruleset *rs, const struct ips_vars *vars, const char *path);
/* Write the summary: loaded, skipped per reason, failed. */
void ips_ruleset_summary(const struct ips_ruleset *rs, char *out, size_t outlen);
/* Severity (OCSF 1..5) and event category for a rule. */
int ips_rule_severity(const struct ips_ruleset *rs, const struct ips_rule *r);
const char *ips_rule_category(const struct ips_rule *r);

/* Parse an address list ("[1.2.3.0/24,!1.2.3.4]", "$HOME_NET", "any"). */
int ips_addrset_parse(struct ips_addrset *out, const char *text, const struct ips_vars *vars);
void ips_addrset_clear(struct ips_addrset *s);
int ips_addrset_match(const struct ips_addrset *s, const struct mm_addr *a);
int ips_portset_match(const struct ips_portset *s, uint16_t port);
int ips_cidr_parse(struct ips_cidr *out, const char *text);
int ips_cidr_match(const struct ips_cidr *c, const struct mm_addr *a);

#endif
