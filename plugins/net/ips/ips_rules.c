/*
 * Rule parser of the ips plugin (runs in the ips worker, in replay and in
 * tests): Suricata/Snort rule text to struct ips_rule, with variables,
 * address and port lists, classification.config and a load summary that
 * counts every skipped rule under the keyword that made it unsupported.
 * Every parse is bounded (rule length, list and nesting depth), and any
 * malformed rule is skipped with a reason, never a crash.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mimamori/error.h"
#include "ips_rule.h"

#define MAX_RULE_LEN 65536
#define MAX_DEPTH 8
#define MAX_LIST 4096
#define MAX_OPTS 256

/* ---- small helpers ------------------------------------------------- */

static char *
xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

static char *
trim(char *s)
{
	char *e;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int
parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || *end || v > 0xffffffffull)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int
parse_i32(const char *s, int32_t *out)
{
	char *end;
	long long v;

	while (isspace((unsigned char)*s))
		s++;
	errno = 0;
	v = strtoll(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (end == s || errno || *end || v > 0x7fffffffll || v < -0x7fffffffll)
		return -1;
	*out = (int32_t)v;
	return 0;
}

/* ---- variables ----------------------------------------------------- */

static const char *const default_vars[][2] = {
        {"HOME_NET", "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"},
        {"EXTERNAL_NET", "!$HOME_NET"},
        {"HTTP_SERVERS", "$HOME_NET"},
        {"SMTP_SERVERS", "$HOME_NET"},
        {"SQL_SERVERS", "$HOME_NET"},
        {"DNS_SERVERS", "$HOME_NET"},
        {"TELNET_SERVERS", "$HOME_NET"},
        {"AIM_SERVERS", "$EXTERNAL_NET"},
        {"DC_SERVERS", "$HOME_NET"},
        {"DNP3_SERVER", "$HOME_NET"},
        {"DNP3_CLIENT", "$HOME_NET"},
        {"MODBUS_CLIENT", "$HOME_NET"},
        {"MODBUS_SERVER", "$HOME_NET"},
        {"ENIP_CLIENT", "$HOME_NET"},
        {"ENIP_SERVER", "$HOME_NET"},
        {"SIP_SERVERS", "$HOME_NET"},
        {"SSH_SERVERS", "$HOME_NET"},
        {"FTP_SERVERS", "$HOME_NET"},
        {"HTTP_PORTS", "[80,81,311,383,591,593,901,1220,1414,1741,1830,2301,2381,2809,3037,3128,"
                       "3702,4343,4848,5250,6988,7000,7001,7144,7145,7510,7777,7779,8000,8008,8014,"
                       "8028,8080,8085,8088,8090,8118,8123,8180,8181,8243,8280,8300,8800,8888,8899,"
                       "9000,9060,9080,9090,9091,9443,9999,11371,34443,34444,41080,50002,55555]"},
        {"SHELLCODE_PORTS", "!80"},
        {"ORACLE_PORTS", "1521"},
        {"SSH_PORTS", "22"},
        {"DNP3_PORTS", "20000"},
        {"MODBUS_PORTS", "502"},
        {"FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"},
        {"FTP_PORTS", "21"},
        {"GENEVE_PORTS", "6081"},
        {"VXLAN_PORTS", "4789"},
        {"TEREDO_PORTS", "3544"},
        {"SIP_PORTS", "[5060,5061,5600]"},
        {"MAIL_PORTS", "[25,465,587,691]"},
};

int
ips_vars_set(struct ips_vars *v, const char *name, const char *value)
{
	size_t i;
	char **nn, **nv, *val;

	if (*name == '$')
		name++;
	val = strdup(value);
	if (val == NULL)
		return MM_ERR_NOMEM;
	for (i = 0; i < v->n; i++)
		if (strcmp(v->names[i], name) == 0) {
			free(v->values[i]);
			v->values[i] = val;
			return MM_OK;
		}
	nn = realloc(v->names, (v->n + 1) * sizeof(*nn));
	if (nn == NULL)
		goto nomem;
	v->names = nn;
	nv = realloc(v->values, (v->n + 1) * sizeof(*nv));
	if (nv == NULL)
		goto nomem;
	v->values = nv;
	v->names[v->n] = strdup(name);
	if (v->names[v->n] == NULL)
		goto nomem;
	v->values[v->n++] = val;
	return MM_OK;
nomem:
	free(val);
	return MM_ERR_NOMEM;
}

int
ips_vars_init(struct ips_vars *v)
{
	size_t i;
	int rc;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < sizeof(default_vars) / sizeof(default_vars[0]); i++)
		if ((rc = ips_vars_set(v, default_vars[i][0], default_vars[i][1])) != MM_OK)
			return rc;
	return MM_OK;
}

void
ips_vars_free(struct ips_vars *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++) {
		free(v->names[i]);
		free(v->values[i]);
	}
	free(v->names);
	free(v->values);
	memset(v, 0, sizeof(*v));
}

static const char *
var_get(const struct ips_vars *v, const char *name, size_t len)
{
	size_t i;

	for (i = 0; v && i < v->n; i++)
		if (strlen(v->names[i]) == len && memcmp(v->names[i], name, len) == 0)
			return v->values[i];
	return NULL;
}

/* ---- addresses and ports -------------------------------------------- */

int
ips_cidr_parse(struct ips_cidr *out, const char *text)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	uint32_t bits;

	if (n == 0 || n >= sizeof(buf))
		return MM_ERR_PARSE;
	memcpy(buf, text, n);
	buf[n] = 0;
	memset(out, 0, sizeof(*out));
	if (mm_addr_parse(&out->net, buf) != MM_OK)
		return MM_ERR_PARSE;
	bits = out->net.family == 4 ? 32 : 128;
	if (slash) {
		uint32_t b;
		if (parse_u32(slash + 1, &b) != 0 || b > bits) {
			/* A dotted netmask (a.b.c.d/255.255.255.0) counts its bits. */
			struct mm_addr m;
			uint32_t i;
			if (out->net.family != 4 || mm_addr_parse(&m, slash + 1) != MM_OK ||
			    m.family != 4)
				return MM_ERR_PARSE;
			for (b = 0, i = 0; i < 32; i++)
				if (m.addr[i / 8] & (0x80 >> (i % 8)))
					b++;
		}
		bits = b;
	}
	out->bits = (uint8_t)bits;
	return MM_OK;
}

int
ips_cidr_match(const struct ips_cidr *c, const struct mm_addr *a)
{
	uint32_t full, rem;

	if (c->net.family != a->family)
		return 0;
	full = c->bits / 8u;
	rem = c->bits % 8u;
	if (memcmp(c->net.addr, a->addr, full) != 0)
		return 0;
	if (rem) {
		uint8_t m = (uint8_t)(0xff << (8 - rem));
		if ((c->net.addr[full] & m) != (a->addr[full] & m))
			return 0;
	}
	return 1;
}

int
ips_addrset_match(const struct ips_addrset *s, const struct mm_addr *a)
{
	size_t i;
	int in = s->any || s->ninc == 0;

	for (i = 0; !in && i < s->ninc; i++)
		if (ips_cidr_match(&s->inc[i], a))
			in = 1;
	if (!in)
		return 0;
	for (i = 0; i < s->nexc; i++)
		if (ips_cidr_match(&s->exc[i], a))
			return 0;
	return 1;
}

int
ips_portset_match(const struct ips_portset *s, uint16_t p)
{
	size_t i;
	int in = s->any || s->ninc == 0;

	for (i = 0; !in && i < s->ninc; i++)
		if (p >= s->inc[i].lo && p <= s->inc[i].hi)
			in = 1;
	if (!in)
		return 0;
	for (i = 0; i < s->nexc; i++)
		if (p >= s->exc[i].lo && p <= s->exc[i].hi)
			return 0;
	return 1;
}

/* Split a list body "a,[b,c],!d" at top-level commas. Calls fn for each. */
typedef int (*item_fn)(void *set, const char *item, int neg, const struct ips_vars *vars, int depth,
                       const char **why);

static int parse_list(void *set, const char *text, int neg, const struct ips_vars *vars, int depth,
                      item_fn fn, const char **why);

static int
parse_elem(void *set, const char *text, int neg, const struct ips_vars *vars, int depth, item_fn fn,
           const char **why)
{
	char *tmp, *s;
	int rc;

	if (depth > MAX_DEPTH) {
		*why = "list_nesting";
		return -1;
	}
	tmp = strdup(text);
	if (tmp == NULL)
		return -1;
	s = trim(tmp);
	while (*s == '!') {
		neg = !neg;
		s = trim(s + 1);
	}
	if (*s == '[') {
		size_t n = strlen(s);
		if (n < 2 || s[n - 1] != ']') {
			*why = "bad_list";
			free(tmp);
			return -1;
		}
		s[n - 1] = 0;
		rc = parse_list(set, s + 1, neg, vars, depth + 1, fn, why);
	} else if (*s == '$') {
		const char *val = var_get(vars, s + 1, strlen(s + 1));
		if (val == NULL) {
			*why = "unknown_variable";
			rc = -1;
		} else {
			rc = parse_elem(set, val, neg, vars, depth + 1, fn, why);
		}
	} else {
		rc = fn(set, s, neg, vars, depth, why);
	}
	free(tmp);
	return rc;
}

static int
parse_list(void *set, const char *text, int neg, const struct ips_vars *vars, int depth, item_fn fn,
           const char **why)
{
	const char *p = text, *start = text;
	int lvl = 0;
	char *item;
	int rc;

	for (;; p++) {
		if (*p == '[')
			lvl++;
		else if (*p == ']')
			lvl--;
		if ((*p == ',' && lvl == 0) || *p == 0) {
			item = xstrndup(start, (size_t)(p - start));
			if (item == NULL)
				return -1;
			rc = parse_elem(set, item, neg, vars, depth, fn, why);
			free(item);
			if (rc != 0)
				return rc;
			if (*p == 0)
				break;
			start = p + 1;
		}
	}
	return 0;
}

static int
addr_item(void *vset, const char *item, int neg, const struct ips_vars *vars, int depth,
          const char **why)
{
	struct ips_addrset *s = vset;
	struct ips_cidr c, **arr;
	size_t *n;

	if (strcmp(item, "any") == 0) {
		if (neg) {
			*why = "negated_any";
			return -1;
		}
		s->any = 1;
		return 0;
	}
	if (ips_cidr_parse(&c, item) != MM_OK) {
		*why = "bad_address";
		return -1;
	}
	arr = neg ? &s->exc : &s->inc;
	n = neg ? &s->nexc : &s->ninc;
	if (*n >= MAX_LIST) {
		*why = "list_too_long";
		return -1;
	}
	{
		struct ips_cidr *na = realloc(*arr, (*n + 1) * sizeof(**arr));
		if (na == NULL)
			return -1;
		*arr = na;
	}
	(*arr)[(*n)++] = c;
	return 0;
}

static int
port_item(void *vset, const char *item, int neg, const struct ips_vars *vars, int depth,
          const char **why)
{
	struct ips_portset *s = vset;
	struct ips_prange r, **arr;
	size_t *n;
	const char *colon = strchr(item, ':');
	uint32_t lo = 0, hi = 65535;

	if (strcmp(item, "any") == 0) {
		if (neg) {
			*why = "negated_any";
			return -1;
		}
		s->any = 1;
		return 0;
	}
	if (colon) {
		char *a = xstrndup(item, (size_t)(colon - item));
		int bad = 0;
		if (a == NULL)
			return -1;
		if (*trim(a) && parse_u32(a, &lo) != 0)
			bad = 1;
		if (*(colon + 1) && parse_u32(colon + 1, &hi) != 0)
			bad = 1;
		free(a);
		if (bad) {
			*why = "bad_port";
			return -1;
		}
	} else {
		if (parse_u32(item, &lo) != 0) {
			*why = "bad_port";
			return -1;
		}
		hi = lo;
	}
	if (lo > 65535 || hi > 65535 || lo > hi) {
		*why = "bad_port";
		return -1;
	}
	r.lo = (uint16_t)lo;
	r.hi = (uint16_t)hi;
	arr = neg ? &s->exc : &s->inc;
	n = neg ? &s->nexc : &s->ninc;
	if (*n >= MAX_LIST) {
		*why = "list_too_long";
		return -1;
	}
	{
		struct ips_prange *na = realloc(*arr, (*n + 1) * sizeof(**arr));
		if (na == NULL)
			return -1;
		*arr = na;
	}
	(*arr)[(*n)++] = r;
	return 0;
}

/* ---- ruleset --------------------------------------------------------- */

int
ips_addrset_parse(struct ips_addrset *out, const char *text, const struct ips_vars *vars)
{
	const char *why = NULL;

	memset(out, 0, sizeof(*out));
	if (parse_elem(out, text, 0, vars, 0, addr_item, &why) != 0) {
		ips_addrset_clear(out);
		return MM_ERR_PARSE;
	}
	return MM_OK;
}

void
ips_addrset_clear(struct ips_addrset *s)
{
	free(s->inc);
	free(s->exc);
	memset(s, 0, sizeof(*s));
}

int
ips_ruleset_new(struct ips_ruleset **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? MM_OK : MM_ERR_NOMEM;
}

static void
rule_free(struct ips_rule *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->src.inc);
	free(r->src.exc);
	free(r->dst.inc);
	free(r->dst.exc);
	free(r->sp.inc);
	free(r->sp.exc);
	free(r->dp.inc);
	free(r->dp.exc);
	free(r->msg);
	free(r->classtype);
	for (i = 0; i < r->nopts; i++) {
		free(r->opts[i].pat);
		if (r->opts[i].md)
			pcre2_match_data_free(r->opts[i].md);
		if (r->opts[i].re)
			pcre2_code_free(r->opts[i].re);
	}
	free(r->opts);
	free(r->fb);
	free(r->text);
	free(r->file);
	free(r);
}

void
ips_ruleset_free(struct ips_ruleset *rs)
{
	size_t i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++)
		rule_free(rs->rules[i]);
	free(rs->rules);
	for (i = 0; i < rs->nskips; i++)
		free(rs->skips[i].what);
	free(rs->skips);
	for (i = 0; i < rs->nclasses; i++) {
		free(rs->classes[i].name);
		free(rs->classes[i].desc);
	}
	free(rs->classes);
	for (i = 0; i < rs->nflowbits; i++)
		free(rs->flowbit_names[i]);
	free(rs->flowbit_names);
	free(rs);
}

static void
count_skip(struct ips_ruleset *rs, const char *what)
{
	size_t i;
	struct ips_skip *ns;

	rs->skipped++;
	for (i = 0; i < rs->nskips; i++)
		if (strcmp(rs->skips[i].what, what) == 0) {
			rs->skips[i].count++;
			return;
		}
	if (rs->nskips >= 1024)
		return; /* the total still counts it */
	ns = realloc(rs->skips, (rs->nskips + 1) * sizeof(*ns));
	if (ns == NULL)
		return;
	rs->skips = ns;
	rs->skips[rs->nskips].what = strdup(what);
	if (rs->skips[rs->nskips].what == NULL)
		return;
	rs->skips[rs->nskips++].count = 1;
}

static int
add_class(struct ips_ruleset *rs, const char *name, const char *desc, int prio)
{
	size_t i;
	struct ips_class *nc;

	for (i = 0; i < rs->nclasses; i++)
		if (strcmp(rs->classes[i].name, name) == 0) {
			rs->classes[i].priority = prio;
			return MM_OK;
		}
	nc = realloc(rs->classes, (rs->nclasses + 1) * sizeof(*nc));
	if (nc == NULL)
		return MM_ERR_NOMEM;
	rs->classes = nc;
	nc[rs->nclasses].name = strdup(name);
	nc[rs->nclasses].desc = strdup(desc);
	nc[rs->nclasses].priority = prio;
	if (nc[rs->nclasses].name == NULL || nc[rs->nclasses].desc == NULL) {
		free(nc[rs->nclasses].name);
		free(nc[rs->nclasses].desc);
		return MM_ERR_NOMEM;
	}
	rs->nclasses++;
	return MM_OK;
}

static int
class_line(struct ips_ruleset *rs, char *line)
{
	char *p = strstr(line, "classification:");
	char *name, *desc, *prio;
	uint32_t pr;

	if (p == NULL)
		return MM_OK;
	p += strlen("classification:");
	name = strtok(p, ",");
	desc = strtok(NULL, ",");
	prio = strtok(NULL, ",");
	if (!name || !desc || !prio || parse_u32(prio, &pr) != 0)
		return MM_OK;
	return add_class(rs, trim(name), trim(desc), (int)pr);
}

void
ips_ruleset_default_classes(struct ips_ruleset *rs)
{
	static const char *const def[] = {
	        "config classification: not-suspicious,Not Suspicious Traffic,3",
	        "config classification: unknown,Unknown Traffic,3",
	        "config classification: bad-unknown,Potentially Bad Traffic, 2",
	        "config classification: attempted-recon,Attempted Information Leak,2",
	        "config classification: successful-recon-limited,Information Leak,2",
	        "config classification: attempted-dos,Attempted Denial of Service,2",
	        "config classification: attempted-user,Attempted User Privilege Gain,1",
	        "config classification: attempted-admin,Attempted Administrator Privilege Gain,1",
	        "config classification: successful-admin,Successful Administrator Privilege Gain,1",
	        "config classification: trojan-activity,A Network Trojan was detected, 1",
	        "config classification: command-and-control,Malware Command and Control Activity "
	        "Detected,1",
	        "config classification: policy-violation,Potential Corporate Privacy Violation,1",
	        "config classification: web-application-attack,Web Application Attack,1",
	        "config classification: misc-activity,Misc activity,3",
	        "config classification: misc-attack,Misc Attack,2",
	        "config classification: protocol-command-decode,Generic Protocol Command Decode,3",
	        "config classification: network-scan,Detection of a Network Scan,3",
	        "config classification: shellcode-detect,Executable code was detected,1",
	        "config classification: string-detect,A suspicious string was detected,3",
	        "config classification: suspicious-login,An attempted login using a suspicious "
	        "username was detected,2",
	        "config classification: inappropriate-content,Inappropriate Content was Detected,1",
	        "config classification: exploit-kit,Exploit Kit Activity Detected,1",
	        "config classification: social-engineering,Possible Social Engineering Attempted,2",
	        "config classification: coin-mining,Crypto Currency Mining Activity Detected,2",
	        "config classification: domain-c2,Domain Observed Used for C2 Detected,1",
	        "config classification: targeted-activity,Targeted Malicious Activity was "
	        "Detected,1",
	        NULL};
	size_t i;
	char buf[256];

	for (i = 0; def[i]; i++) {
		snprintf(buf, sizeof(buf), "%s", def[i]);
		class_line(rs, buf);
	}
}

int
ips_ruleset_load_classes(struct ips_ruleset *rs, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int rc = MM_OK;

	if (f == NULL)
		return errno == ENOENT ? MM_ERR_NOTFOUND : MM_ERR_IO;
	while (rc == MM_OK && fgets(line, sizeof(line), f))
		if (line[0] != '#')
			rc = class_line(rs, line);
	fclose(f);
	return rc;
}

static const struct ips_class *
find_class(const struct ips_ruleset *rs, const char *name)
{
	size_t i;

	for (i = 0; name && i < rs->nclasses; i++)
		if (strcmp(rs->classes[i].name, name) == 0)
			return &rs->classes[i];
	return NULL;
}

int
ips_rule_severity(const struct ips_ruleset *rs, const struct ips_rule *r)
{
	int prio = r->priority;
	const struct ips_class *c;

	if (prio == 0 && (c = find_class(rs, r->classtype)) != NULL)
		prio = c->priority;
	switch (prio) {
	case 1:
		return 4;
	case 2:
		return 3;
	case 3:
		return 2;
	case 0:
		return 3;
	default:
		return 1;
	}
}

static int
contains_word(const char *s, const char *w)
{
	return s != NULL && strstr(s, w) != NULL;
}

const char *
ips_rule_category(const struct ips_rule *r)
{
	const char *ct = r->classtype ? r->classtype : "";

	if (strcmp(ct, "command-and-control") == 0 || strcmp(ct, "domain-c2") == 0 ||
	    contains_word(r->msg, "CnC") || contains_word(r->msg, "C2 ") ||
	    contains_word(r->msg, "C&C") || contains_word(r->msg, "Botnet"))
		return "c2";
	if (strcmp(ct, "network-scan") == 0 || strcmp(ct, "attempted-recon") == 0 ||
	    contains_word(r->msg, " SCAN "))
		return "scan";
	if (strcmp(ct, "policy-violation") == 0 || strcmp(ct, "inappropriate-content") == 0 ||
	    strcmp(ct, "not-suspicious") == 0 || strcmp(ct, "coin-mining") == 0 ||
	    contains_word(r->msg, " POLICY ") || contains_word(r->msg, "PUA"))
		return "policy";
	return "intrusion";
}

/* ---- option parsing ---------------------------------------------------- */

/* Decode a content string ("abc|41 42|\"") into bytes. */
static int
decode_content(const char *s, uint8_t **out, uint32_t *outlen)
{
	size_t n = strlen(s), i, o = 0;
	uint8_t *b;
	int hex = 0, nib = -1;

	b = malloc(n + 1);
	if (b == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '|') {
			if (hex && nib >= 0)
				goto bad;
			hex = !hex;
			continue;
		}
		if (hex) {
			int v;
			if (c == ' ' || c == '\t')
				continue;
			if (!isxdigit((unsigned char)c))
				goto bad;
			v = isdigit((unsigned char)c) ? c - '0'
			                              : (tolower((unsigned char)c) - 'a' + 10);
			if (nib < 0) {
				nib = v;
			} else {
				b[o++] = (uint8_t)(nib << 4 | v);
				nib = -1;
			}
			continue;
		}
		if (c == '\\') {
			if (i + 1 >= n)
				goto bad;
			c = s[++i];
		}
		b[o++] = (uint8_t)c;
	}
	if (hex || o == 0)
		goto bad;
	*out = b;
	*outlen = (uint32_t)o;
	return 0;
bad:
	free(b);
	return -1;
}

/* Strip the quotes (and a leading '!') of a content/pcre value. */
static char *
unquote(char *v, int *neg)
{
	size_t n;

	v = trim(v);
	*neg = 0;
	if (*v == '!') {
		*neg = 1;
		v = trim(v + 1);
	}
	n = strlen(v);
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = 0;
		v++;
	}
	return v;
}

static struct ips_opt *
last_opt(struct ips_rule *r, int type)
{
	size_t i = r->nopts;

	while (i > 0) {
		i--;
		if (type == 0 || r->opts[i].type == type)
			return &r->opts[i];
	}
	return NULL;
}

static int
buf_of(const char *kw)
{
	static const struct {
		const char *name;
		int buf;
	} map[] = {
	        {"dns.query", IPS_BUF_DNS_QUERY},
	        {"dns_query", IPS_BUF_DNS_QUERY},
	        {"tls.sni", IPS_BUF_TLS_SNI},
	        {"tls_sni", IPS_BUF_TLS_SNI},
	        {"http.host", IPS_BUF_HTTP_HOST},
	        {"http_host", IPS_BUF_HTTP_HOST},
	        {"http.uri", IPS_BUF_HTTP_URI},
	        {"http_uri", IPS_BUF_HTTP_URI},
	        {"http.uri.raw", IPS_BUF_HTTP_URI_RAW},
	        {"http_raw_uri", IPS_BUF_HTTP_URI_RAW},
	        {"http.header", IPS_BUF_HTTP_HEADER},
	        {"http_header", IPS_BUF_HTTP_HEADER},
	        {"http.header.raw", IPS_BUF_HTTP_HEADER},
	        {"http_raw_header", IPS_BUF_HTTP_HEADER},
	        {"http.user_agent", IPS_BUF_HTTP_UA},
	        {"http_user_agent", IPS_BUF_HTTP_UA},
	        {"http.method", IPS_BUF_HTTP_METHOD},
	        {"http_method", IPS_BUF_HTTP_METHOD},
	        {"pkt_data", IPS_BUF_PKT},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, kw) == 0)
			return map[i].buf;
	return -1;
}

static int
app_of(const char *name)
{
	if (strcmp(name, "dns") == 0)
		return IPS_APP_DNS;
	if (strcmp(name, "tls") == 0 || strcmp(name, "ssl") == 0)
		return IPS_APP_TLS;
	if (strcmp(name, "http") == 0)
		return IPS_APP_HTTP;
	return -1;
}

static int
parse_thr(struct ips_thr *t, char *v, int df, const char **why)
{
	char *tok, *save = NULL;

	memset(t, 0, sizeof(*t));
	t->type = df ? IPS_THR_DF : IPS_THR_NONE;
	for (tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *k = trim(tok), *val = k;
		while (*val && !isspace((unsigned char)*val))
			val++;
		if (*val)
			*val++ = 0;
		val = trim(val);
		if (strcmp(k, "type") == 0) {
			if (strcmp(val, "limit") == 0)
				t->type = IPS_THR_LIMIT;
			else if (strcmp(val, "threshold") == 0)
				t->type = IPS_THR_THRESHOLD;
			else if (strcmp(val, "both") == 0)
				t->type = IPS_THR_BOTH;
			else
				goto bad;
		} else if (strcmp(k, "track") == 0) {
			if (strcmp(val, "by_src") == 0)
				t->track = IPS_TRACK_SRC;
			else if (strcmp(val, "by_dst") == 0)
				t->track = IPS_TRACK_DST;
			else if (strcmp(val, "by_rule") == 0)
				t->track = IPS_TRACK_RULE;
			else if (strcmp(val, "by_both") == 0)
				t->track = IPS_TRACK_BOTH;
			else if (strcmp(val, "by_flow") == 0)
				t->track = IPS_TRACK_FLOW;
			else
				goto bad;
		} else if (strcmp(k, "unique_on") == 0 && df) {
			if (strcmp(val, "dst_port") == 0)
				t->unique_on = IPS_UNIQUE_DST_PORT;
			else if (strcmp(val, "src_port") == 0)
				t->unique_on = IPS_UNIQUE_SRC_PORT;
			else
				goto bad;
		} else if (strcmp(k, "count") == 0) {
			if (parse_u32(val, &t->count) != 0)
				goto bad;
		} else if (strcmp(k, "seconds") == 0) {
			if (parse_u32(val, &t->seconds) != 0)
				goto bad;
		} else {
			goto bad;
		}
	}
	if (t->type == IPS_THR_NONE || t->count == 0)
		goto bad;
	return 0;
bad:
	*why = df ? "detection_filter_syntax" : "threshold_syntax";
	return -1;
}

static int
parse_flags(struct ips_rule *r, char *v)
{
	char *comma = strchr(v, ',');
	const char *p;
	uint8_t set = 0, mask = 0;

	if (comma) {
		*comma = 0;
		for (p = trim(comma + 1); *p; p++) {
			switch (*p) {
			case 'F':
				mask |= MM_TCP_FIN;
				break;
			case 'S':
				mask |= MM_TCP_SYN;
				break;
			case 'R':
				mask |= MM_TCP_RST;
				break;
			case 'P':
				mask |= MM_TCP_PSH;
				break;
			case 'A':
				mask |= MM_TCP_ACK;
				break;
			case 'U':
				mask |= MM_TCP_URG;
				break;
			case 'E':
			case '2':
				mask |= MM_TCP_ECE;
				break;
			case 'C':
			case '1':
				mask |= MM_TCP_CWR;
				break;
			default:
				return -1;
			}
		}
	}
	r->flags_mode = 0;
	for (p = trim(v); *p; p++) {
		switch (*p) {
		case '!':
		case '+':
		case '*':
			r->flags_mode = *p;
			break;
		case 'F':
			set |= MM_TCP_FIN;
			break;
		case 'S':
			set |= MM_TCP_SYN;
			break;
		case 'R':
			set |= MM_TCP_RST;
			break;
		case 'P':
			set |= MM_TCP_PSH;
			break;
		case 'A':
			set |= MM_TCP_ACK;
			break;
		case 'U':
			set |= MM_TCP_URG;
			break;
		case 'E':
		case '2':
			set |= MM_TCP_ECE;
			break;
		case 'C':
		case '1':
			set |= MM_TCP_CWR;
			break;
		case '0':
			break;
		default:
			return -1;
		}
	}
	r->has_flags = 1;
	r->flags_set = set;
	r->flags_mask = mask;
	return 0;
}

int
ips_num_parse(struct ips_num *out, const char *text)
{
	char buf[64], *p, *dash;

	snprintf(buf, sizeof(buf), "%s", text);
	p = trim(buf);
	memset(out, 0, sizeof(*out));
	if (*p == '<' || *p == '>' || *p == '!' || *p == '=') {
		out->op = *p;
		p++;
		if (*p == '=') {
			/* <= and >= become < n+1 and > n-1. */
			uint32_t n;
			if (parse_u32(p + 1, &n) != 0 || n == UINT32_MAX)
				return -1;
			if (out->op == '<')
				out->lo = n + 1;
			else if (out->op == '>' && n > 0)
				out->lo = n - 1;
			else if (out->op == '>')
				out->op = 'T';
			else
				return -1;
			return 0;
		}
		return parse_u32(p, &out->lo);
	}
	dash = strstr(p, "<>");
	if (dash) {
		*dash = 0;
		out->op = '-';
		if (parse_u32(p, &out->lo) != 0 || parse_u32(dash + 2, &out->hi) != 0)
			return -1;
		return 0;
	}
	out->op = '=';
	return parse_u32(p, &out->lo);
}

int
ips_num_match(const struct ips_num *n, uint32_t v)
{
	switch (n->op) {
	case '=':
		return v == n->lo;
	case '<':
		return v < n->lo;
	case '>':
		return v > n->lo;
	case '!':
		return v != n->lo;
	case '-':
		return v > n->lo && v < n->hi;
	default:
		return 1;
	}
}

static int
parse_dsize(struct ips_rule *r, char *v)
{
	struct ips_num n;

	if (ips_num_parse(&n, v) != 0)
		return -1;
	r->has_dsize = 1;
	r->dsize_op = n.op;
	r->dsize_lo = n.lo;
	r->dsize_hi = n.hi;
	return 0;
}

static uint32_t
flowbit_id(struct ips_ruleset *rs, const char *name)
{
	size_t i;
	char **nn;

	for (i = 0; i < rs->nflowbits; i++)
		if (strcmp(rs->flowbit_names[i], name) == 0)
			return (uint32_t)i;
	if (rs->nflowbits >= 4096)
		return UINT32_MAX;
	nn = realloc(rs->flowbit_names, (rs->nflowbits + 1) * sizeof(*nn));
	if (nn == NULL)
		return UINT32_MAX;
	rs->flowbit_names = nn;
	nn[rs->nflowbits] = strdup(name);
	if (nn[rs->nflowbits] == NULL)
		return UINT32_MAX;
	return (uint32_t)rs->nflowbits++;
}

enum { FB_SET = 1, FB_UNSET, FB_TOGGLE, FB_ISSET, FB_ISNOTSET };

static int
parse_flowbits(struct ips_ruleset *rs, struct ips_rule *r, char *v, const char **why)
{
	char *comma = strchr(v, ','), *name, *op = trim(v);
	int o;
	struct ips_flowbit *nf;

	if (comma)
		*comma = 0;
	op = trim(op);
	if (strcmp(op, "noalert") == 0) {
		r->noalert = 1;
		return 0;
	}
	if (strcmp(op, "set") == 0)
		o = FB_SET;
	else if (strcmp(op, "unset") == 0)
		o = FB_UNSET;
	else if (strcmp(op, "toggle") == 0)
		o = FB_TOGGLE;
	else if (strcmp(op, "isset") == 0)
		o = FB_ISSET;
	else if (strcmp(op, "isnotset") == 0)
		o = FB_ISNOTSET;
	else
		goto bad;
	if (comma == NULL)
		goto bad;
	name = trim(comma + 1);
	/* "a|b" (any of) only for the checks; "a&b" is not supported. */
	if (*name == 0 || strchr(name, '&') != NULL ||
	    (strchr(name, '|') != NULL && o != FB_ISSET && o != FB_ISNOTSET))
		goto bad;
	nf = realloc(r->fb, (r->nfb + 1) * sizeof(*nf));
	if (nf == NULL)
		return -1;
	r->fb = nf;
	memset(&nf[r->nfb], 0, sizeof(nf[r->nfb]));
	nf[r->nfb].op = o;
	{
		char *save = NULL, *part;
		int first = 1;
		for (part = strtok_r(name, "|", &save); part; part = strtok_r(NULL, "|", &save)) {
			uint32_t id;
			part = trim(part);
			if (*part == 0)
				goto bad;
			id = flowbit_id(rs, part);
			if (id == UINT32_MAX)
				goto bad;
			if (first) {
				nf[r->nfb].bit = id;
				first = 0;
			} else if (nf[r->nfb].nalt < sizeof(nf[r->nfb].alt) / sizeof(uint32_t)) {
				nf[r->nfb].alt[nf[r->nfb].nalt++] = id;
			} else {
				goto bad;
			}
		}
		if (first)
			goto bad;
	}
	r->nfb++;
	return 0;
bad:
	*why = "flowbits_syntax";
	return -1;
}

static int
parse_pcre(struct ips_opt *o, char *v, int *sticky_buf, const char **why)
{
	int neg;
	char *s = unquote(v, &neg), *end;
	uint32_t opts = 0;
	int err;
	PCRE2_SIZE erroff;
	const char *f;

	o->type = IPS_OPT_PCRE;
	o->negated = neg;
	o->buf = *sticky_buf;
	if (*s != '/')
		goto bad;
	end = strrchr(s + 1, '/');
	if (end == NULL)
		goto bad;
	*end = 0;
	for (f = end + 1; *f; f++) {
		switch (*f) {
		case 'i':
			opts |= PCRE2_CASELESS;
			break;
		case 's':
			opts |= PCRE2_DOTALL;
			break;
		case 'm':
			opts |= PCRE2_MULTILINE;
			break;
		case 'x':
			opts |= PCRE2_EXTENDED;
			break;
		case 'A':
			opts |= PCRE2_ANCHORED;
			break;
		case 'E':
			opts |= PCRE2_DOLLAR_ENDONLY;
			break;
		case 'G':
			opts |= PCRE2_UNGREEDY;
			break;
		case 'R':
			o->relative = 1;
			break;
		case 'U':
			o->buf = IPS_BUF_HTTP_URI;
			break;
		case 'W':
			o->buf = IPS_BUF_HTTP_HOST;
			break;
		case 'V':
			o->buf = IPS_BUF_HTTP_UA;
			break;
		case 'M':
			o->buf = IPS_BUF_HTTP_METHOD;
			break;
		case 'I':
			o->buf = IPS_BUF_HTTP_URI_RAW;
			break;
		case 'H':
		case 'D':
			o->buf = IPS_BUF_HTTP_HEADER;
			break;
		case 'B':
		case 'O':
			break;
		default:
			*why = "pcre_modifier";
			return -1;
		}
	}
	o->re = pcre2_compile((PCRE2_SPTR)(s + 1), PCRE2_ZERO_TERMINATED, opts, &err, &erroff,
	                      NULL);
	if (o->re == NULL)
		goto bad;
	/* Machine code for the match, as Suricata does: pcre2_match() then
	 * runs it, with the same results. Where it cannot be made (no JIT in
	 * the library, no executable memory) the interpreter runs instead. */
	(void)pcre2_jit_compile(o->re, PCRE2_JIT_COMPLETE);
	o->md = pcre2_match_data_create_from_pattern(o->re, NULL);
	if (o->md == NULL)
		return -1;
	return 0;
bad:
	*why = "pcre_syntax";
	return -1;
}

/* Split "( opts )" into "key[:value]" options at unquoted ';'. */
static int
split_opts(char *body, char **keys, char **vals, size_t *n)
{
	char *p = body, *start = body;
	int inq = 0;

	*n = 0;
	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '"')
			inq = !inq;
		if (*p == ';' && !inq) {
			char *kv, *colon;
			*p = 0;
			kv = trim(start);
			start = p + 1;
			if (*kv == 0)
				continue;
			if (*n >= MAX_OPTS)
				return -1;
			colon = strchr(kv, ':');
			if (colon && (strchr(kv, '"') == NULL || colon < strchr(kv, '"'))) {
				*colon = 0;
				vals[*n] = trim(colon + 1);
			} else {
				vals[*n] = NULL;
			}
			keys[*n] = trim(kv);
			(*n)++;
		}
	}
	if (*trim(start) != 0 || inq)
		return -1;
	return 0;
}

/* Tokenize the header into 7 fields, keeping [..] lists together. */
static int
split_header(char *h, char **tok)
{
	int n = 0, lvl;
	char *p = h;

	while (*p && n < 7) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		tok[n++] = p;
		lvl = 0;
		while (*p && (lvl > 0 || !isspace((unsigned char)*p))) {
			if (*p == '[')
				lvl++;
			else if (*p == ']')
				lvl--;
			p++;
		}
		if (*p)
			*p++ = 0;
	}
	while (isspace((unsigned char)*p))
		p++;
	return n == 7 && *p == 0 ? 0 : -1;
}

static int
add_opt(struct ips_rule *r, struct ips_opt **out)
{
	struct ips_opt *no;

	if (r->nopts >= MAX_OPTS)
		return -1;
	no = realloc(r->opts, (r->nopts + 1) * sizeof(*no));
	if (no == NULL)
		return -1;
	r->opts = no;
	memset(&no[r->nopts], 0, sizeof(*no));
	*out = &no[r->nopts++];
	return 0;
}

/* Parse the text of one rule into r; on failure *why names the reason. */
static int
parse_rule(struct ips_ruleset *rs, const struct ips_vars *vars, struct ips_rule *r, char *text,
           const char **why)
{
	char *open, *close, *tok[7], *keys[MAX_OPTS], *vals[MAX_OPTS];
	size_t nk, i;
	int sticky = IPS_BUF_PKT, snort3 = 0, fp_set = -1;
	struct ips_opt *o;

	*why = "syntax";
	open = strchr(text, '(');
	close = strrchr(text, ')');
	if (open == NULL || close == NULL || close < open)
		return -1;
	*open = 0;
	*close = 0;
	if (*trim(close + 1) != 0)
		return -1;
	if (split_header(text, tok) != 0) {
		*why = "header_syntax";
		return -1;
	}
	if (strcmp(tok[0], "alert") == 0)
		r->action = IPS_ALERT;
	else if (strcmp(tok[0], "drop") == 0 || strcmp(tok[0], "reject") == 0 ||
	         strcmp(tok[0], "rejectsrc") == 0 || strcmp(tok[0], "rejectdst") == 0 ||
	         strcmp(tok[0], "rejectboth") == 0 || strcmp(tok[0], "block") == 0)
		r->action = IPS_DROP;
	else if (strcmp(tok[0], "pass") == 0)
		r->action = IPS_PASS;
	else {
		*why = "action";
		return -1;
	}
	if (strcmp(tok[1], "tcp") == 0)
		r->proto = 6;
	else if (strcmp(tok[1], "udp") == 0)
		r->proto = 17;
	else if (strcmp(tok[1], "icmp") == 0)
		r->proto = 1;
	else if (strcmp(tok[1], "ip") == 0)
		r->proto = 0;
	else if (strcmp(tok[1], "http") == 0 || strcmp(tok[1], "tls") == 0) {
		r->proto = 6;
		r->app = app_of(tok[1]);
	} else if (strcmp(tok[1], "dns") == 0) {
		r->proto = 0;
		r->app = IPS_APP_DNS;
	} else {
		static char buf[48];
		snprintf(buf, sizeof(buf), "proto:%.32s", tok[1]);
		*why = buf;
		return -1;
	}
	if (parse_elem(&r->src, tok[2], 0, vars, 0, addr_item, why) != 0 ||
	    parse_elem(&r->sp, tok[3], 0, vars, 0, port_item, why) != 0 ||
	    parse_elem(&r->dst, tok[5], 0, vars, 0, addr_item, why) != 0 ||
	    parse_elem(&r->dp, tok[6], 0, vars, 0, port_item, why) != 0)
		return -1;
	if (strcmp(tok[4], "<>") == 0)
		r->bidir = 1;
	else if (strcmp(tok[4], "->") != 0) {
		*why = "direction";
		return -1;
	}
	if (split_opts(open + 1, keys, vals, &nk) != 0) {
		*why = "options_syntax";
		return -1;
	}
	/* Snort 3 writes sticky buffers before their contents; Suricata 4 and
	 * ET 2019 write http_* as modifiers after a content. */
	for (i = 0; i < nk; i++) {
		if (strcmp(keys[i], "service") == 0)
			snort3 = 1;
		if (strcmp(keys[i], "content") == 0 || strcmp(keys[i], "pcre") == 0)
			break;
		if (strncmp(keys[i], "http_", 5) == 0)
			snort3 = 1;
	}
	r->gid = 1;
	r->fp = -1;
	for (i = 0; i < nk; i++) {
		const char *k = keys[i];
		char *v = vals[i];
		int b, neg;

		if (strcmp(k, "msg") == 0 && v) {
			v = unquote(v, &neg);
			free(r->msg);
			r->msg = strdup(v);
		} else if (strcmp(k, "sid") == 0) {
			if (!v || parse_u32(v, &r->sid) != 0)
				goto bad_val;
		} else if (strcmp(k, "rev") == 0) {
			if (!v || parse_u32(v, &r->rev) != 0)
				goto bad_val;
		} else if (strcmp(k, "gid") == 0) {
			if (!v || parse_u32(v, &r->gid) != 0)
				goto bad_val;
		} else if (strcmp(k, "classtype") == 0 && v) {
			free(r->classtype);
			r->classtype = strdup(trim(v));
		} else if (strcmp(k, "priority") == 0) {
			uint32_t p;
			if (!v || parse_u32(v, &p) != 0 || p > 255)
				goto bad_val;
			r->priority = (int)p;
		} else if (strcmp(k, "metadata") == 0 || strcmp(k, "reference") == 0 ||
		           strcmp(k, "target") == 0 || strcmp(k, "rawbytes") == 0) {
			continue;
		} else if (strcmp(k, "service") == 0 && v) {
			int a = app_of(trim(v));
			if (a > 0 && r->app == 0 && strchr(v, ',') == NULL)
				r->app = a;
		} else if (strcmp(k, "content") == 0 || strcmp(k, "uricontent") == 0) {
			char *s;
			if (!v)
				goto bad_val;
			if (add_opt(r, &o) != 0)
				goto nomem;
			s = unquote(v, &neg);
			o->type = IPS_OPT_CONTENT;
			o->negated = neg;
			o->buf = strcmp(k, "uricontent") == 0 ? IPS_BUF_HTTP_URI : sticky;
			if (decode_content(s, &o->pat, &o->len) != 0) {
				*why = "content_syntax";
				return -1;
			}
		} else if (strcmp(k, "pcre") == 0) {
			if (!v)
				goto bad_val;
			if (add_opt(r, &o) != 0)
				goto nomem;
			if (parse_pcre(o, v, &sticky, why) != 0)
				return -1;
		} else if (strcmp(k, "nocase") == 0 || strcmp(k, "fast_pattern") == 0 ||
		           strcmp(k, "startswith") == 0 || strcmp(k, "endswith") == 0) {
			o = last_opt(r, IPS_OPT_CONTENT);
			if (o == NULL) {
				*why = "modifier_without_content";
				return -1;
			}
			if (k[0] == 'n')
				o->nocase = 1;
			else if (k[0] == 'f')
				fp_set = (int)(o - r->opts);
			else if (k[0] == 's')
				o->startswith = 1;
			else
				o->endswith = 1;
		} else if (strcmp(k, "depth") == 0 || strcmp(k, "offset") == 0 ||
		           strcmp(k, "distance") == 0 || strcmp(k, "within") == 0) {
			int32_t val;
			o = last_opt(r, IPS_OPT_CONTENT);
			if (o == NULL || !v) {
				*why = "modifier_without_content";
				return -1;
			}
			if (parse_i32(v, &val) != 0) {
				/* byte_extract variables are not supported. */
				*why = "modifier_variable";
				return -1;
			}
			if (k[0] == 'd' && k[1] == 'e') {
				o->has_depth = 1;
				o->depth = val;
			} else if (k[0] == 'o') {
				o->has_offset = 1;
				o->offset = val;
			} else if (k[0] == 'd') {
				o->has_distance = 1;
				o->distance = val;
				o->relative = 1;
			} else {
				o->has_within = 1;
				o->within = val;
				o->relative = 1;
			}
		} else if ((b = buf_of(k)) >= 0) {
			o = last_opt(r, 0);
			if (!snort3 && b != IPS_BUF_PKT && strchr(k, '.') == NULL && o != NULL &&
			    o->type == IPS_OPT_CONTENT && o->buf == IPS_BUF_PKT &&
			    b != IPS_BUF_DNS_QUERY && strcmp(k, "tls_sni") != 0) {
				/* Suricata 4 modifier: applies to the content before it. */
				o->buf = b;
			} else {
				sticky = b;
			}
			if (strncmp(k, "dns", 3) == 0 && r->app == 0)
				r->app = IPS_APP_DNS;
			else if (strncmp(k, "tls", 3) == 0 && r->app == 0)
				r->app = IPS_APP_TLS;
			else if (strncmp(k, "http", 4) == 0 && r->app == 0)
				r->app = IPS_APP_HTTP;
		} else if (strcmp(k, "flow") == 0) {
			char *tokn, *save = NULL;
			if (!v)
				goto bad_val;
			for (tokn = strtok_r(v, ",", &save); tokn;
			     tokn = strtok_r(NULL, ",", &save)) {
				char *t = trim(tokn);
				if (strcmp(t, "established") == 0)
					r->flow |= IPS_FLOW_ESTABLISHED;
				else if (strcmp(t, "not_established") == 0)
					r->flow |= IPS_FLOW_NOT_ESTABLISHED;
				else if (strcmp(t, "to_server") == 0 ||
				         strcmp(t, "from_client") == 0)
					r->flow |= IPS_FLOW_TO_SERVER;
				else if (strcmp(t, "to_client") == 0 ||
				         strcmp(t, "from_server") == 0)
					r->flow |= IPS_FLOW_TO_CLIENT;
				else if (strcmp(t, "stateless") == 0)
					r->flow |= IPS_FLOW_STATELESS;
				else if (strcmp(t, "no_stream") == 0 ||
				         strcmp(t, "only_stream") == 0 ||
				         strcmp(t, "no_frag") == 0 || strcmp(t, "only_frag") == 0)
					continue;
				else {
					*why = "flow_option";
					return -1;
				}
			}
		} else if (strcmp(k, "flags") == 0) {
			if (!v || parse_flags(r, v) != 0) {
				*why = "flags_syntax";
				return -1;
			}
		} else if (strcmp(k, "dsize") == 0) {
			if (!v || parse_dsize(r, v) != 0) {
				*why = "dsize_syntax";
				return -1;
			}
		} else if (strcmp(k, "itype") == 0 || strcmp(k, "icode") == 0) {
			int t = k[1] == 't';
			if (!v || ips_num_parse(t ? &r->itype : &r->icode, v) != 0) {
				*why = t ? "itype_syntax" : "icode_syntax";
				return -1;
			}
			if (t)
				r->has_itype = 1;
			else
				r->has_icode = 1;
		} else if (strcmp(k, "urilen") == 0) {
			char *c;
			if (v && (c = strchr(v, ',')) != NULL) {
				/* ",raw" or ",norm": both measure the request line's URI. */
				*c = 0;
			}
			if (!v || ips_num_parse(&r->urilen, v) != 0) {
				*why = "urilen_syntax";
				return -1;
			}
			r->has_urilen = 1;
			if (r->app == 0)
				r->app = IPS_APP_HTTP;
		} else if (strcmp(k, "bsize") == 0) {
			if (!v || add_opt(r, &o) != 0)
				goto bad_val;
			o->type = IPS_OPT_BSIZE;
			o->buf = sticky;
			if (ips_num_parse(&o->bsize, v) != 0) {
				*why = "bsize_syntax";
				return -1;
			}
		} else if (strcmp(k, "threshold") == 0) {
			if (!v || parse_thr(&r->threshold, v, 0, why) != 0)
				return -1;
		} else if (strcmp(k, "detection_filter") == 0) {
			if (!v || parse_thr(&r->detection_filter, v, 1, why) != 0)
				return -1;
		} else if (strcmp(k, "flowbits") == 0) {
			if (!v || parse_flowbits(rs, r, v, why) != 0)
				return -1;
		} else {
			/* Unsupported: name the keyword in the summary. */
			static char kw[64];
			snprintf(kw, sizeof(kw), "%.48s", k);
			*why = kw;
			return -1;
		}
		continue;
	bad_val : {
		static char kw[64];
		snprintf(kw, sizeof(kw), "%.40s_value", k);
		*why = kw;
		return -1;
	}
	nomem:
		*why = "out_of_memory";
		return -1;
	}
	if (r->sid == 0) {
		*why = "no_sid";
		return -1;
	}
	/* Relative pcre/content after a buffer switch, and the fast pattern:
	 * the longest positive content unless one is marked. */
	if (fp_set >= 0 && !r->opts[fp_set].negated) {
		r->fp = fp_set;
	} else {
		uint32_t best = 0;
		for (i = 0; i < r->nopts; i++)
			if (r->opts[i].type == IPS_OPT_CONTENT && !r->opts[i].negated &&
			    r->opts[i].len > best) {
				best = r->opts[i].len;
				r->fp = (int)i;
			}
	}
	if (r->fp >= 0)
		r->opts[r->fp].fast_pattern = 1;
	if (r->msg == NULL)
		r->msg = strdup("");
	if (r->msg == NULL)
		return -1;
	return 0;
}

int
ips_ruleset_add_line(struct ips_ruleset *rs, const struct ips_vars *vars, const char *line,
                     const char *file, int lineno)
{
	struct ips_rule *r;
	char *text, *s;
	const char *why = NULL;
	size_t i;

	while (isspace((unsigned char)*line))
		line++;
	if (*line == 0 || *line == '#')
		return MM_OK;
	rs->lines++;
	if (strlen(line) > MAX_RULE_LEN) {
		count_skip(rs, "too_long");
		return MM_OK;
	}
	r = calloc(1, sizeof(*r));
	text = strdup(line);
	if (r == NULL || text == NULL) {
		free(r);
		free(text);
		return MM_ERR_NOMEM;
	}
	s = trim(text);
	r->text = strdup(s);
	r->file = file ? strdup(file) : NULL;
	r->line = lineno;
	if (parse_rule(rs, vars, r, s, &why) != 0) {
		count_skip(rs, why ? why : "syntax");
		rule_free(r);
		free(text);
		return MM_OK;
	}
	free(text);
	for (i = 0; i < rs->n; i++)
		if (rs->rules[i]->sid == r->sid && rs->rules[i]->gid == r->gid) {
			/* Suricata keeps the higher revision. */
			rs->duplicates++;
			if (r->rev > rs->rules[i]->rev) {
				r->index = rs->rules[i]->index;
				rule_free(rs->rules[i]);
				rs->rules[i] = r;
			} else {
				rule_free(r);
			}
			return MM_OK;
		}
	if (rs->n == rs->cap) {
		size_t nc = rs->cap ? rs->cap * 2 : 256;
		struct ips_rule **nr = realloc(rs->rules, nc * sizeof(*nr));
		if (nr == NULL) {
			rule_free(r);
			return MM_ERR_NOMEM;
		}
		rs->rules = nr;
		rs->cap = nc;
	}
	r->index = (uint32_t)rs->n;
	rs->rules[rs->n++] = r;
	rs->loaded++;
	return MM_OK;
}

int
ips_ruleset_load_file(struct ips_ruleset *rs, const struct ips_vars *vars, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *acc = NULL;
	size_t cap = 0, acclen = 0;
	ssize_t n;
	int lineno = 0, start = 0, rc = MM_OK;

	if (f == NULL)
		return errno == ENOENT ? MM_ERR_NOTFOUND : MM_ERR_IO;
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *na;
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (acclen == 0)
			start = lineno;
		/* A trailing backslash continues the rule on the next line. */
		if (acclen + (size_t)n + 2 > MAX_RULE_LEN * 2) {
			count_skip(rs, "too_long");
			acclen = 0;
			continue;
		}
		na = realloc(acc, acclen + (size_t)n + 2);
		if (na == NULL) {
			rc = MM_ERR_NOMEM;
			break;
		}
		acc = na;
		memcpy(acc + acclen, line, (size_t)n);
		acclen += (size_t)n;
		acc[acclen] = 0;
		if (n > 0 && line[n - 1] == '\\') {
			acc[--acclen] = 0;
			continue;
		}
		rc = ips_ruleset_add_line(rs, vars, acc, path, start);
		acclen = 0;
		if (rc != MM_OK)
			break;
	}
	if (rc == MM_OK && acclen > 0)
		rc = ips_ruleset_add_line(rs, vars, acc, path, start);
	free(line);
	free(acc);
	fclose(f);
	return rc;
}

static int
cmp_skip(const void *a, const void *b)
{
	const struct ips_skip *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->what, y->what);
}

void
ips_ruleset_summary(const struct ips_ruleset *rs, char *out, size_t outlen)
{
	struct ips_skip *sorted;
	size_t i, off;
	int w;

	w = snprintf(out, outlen, "rules: %llu loaded, %llu skipped",
	             (unsigned long long)rs->loaded, (unsigned long long)rs->skipped);
	if (w < 0 || (size_t)w >= outlen)
		return;
	off = (size_t)w;
	if (rs->nskips == 0)
		return;
	sorted = malloc(rs->nskips * sizeof(*sorted) + 1);
	if (sorted == NULL)
		return;
	memcpy(sorted, rs->skips, rs->nskips * sizeof(*sorted));
	qsort(sorted, rs->nskips, sizeof(*sorted), cmp_skip);
	for (i = 0; i < rs->nskips; i++) {
		w = snprintf(out + off, outlen - off, "%s %s=%llu", i == 0 ? " (" : ",",
		             sorted[i].what, (unsigned long long)sorted[i].count);
		if (w < 0 || (size_t)w >= outlen - off)
			break;
		off += (size_t)w;
	}
	if (rs->nskips > 0 && off + 2 < outlen) {
		out[off++] = ')';
		out[off] = 0;
	}
	free(sorted);
}
