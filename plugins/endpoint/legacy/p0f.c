/*
 * Passive TCP fingerprinting with p0f v3 signatures: a parser for the
 * [tcp:request] and [tcp:response] sections of p0f.fp (read as data at
 * run time from a configured path, plus our own supplement file in the same
 * format), the observation of a SYN or SYN+ACK in p0f's terms (TTL, option
 * layout, window, quirks) and the matcher. Runs in the legacy module's
 * worker process.
 */
#include "legacy.h"

#include <mimamori/error.h>
#include <mimamori/packet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define P0F_FILE_MAX (4u << 20)
/* How many hops an initial TTL may have lost before a match turns fuzzy. */
#define P0F_MAX_DIST 35

static int
parse_uint(long *out, const char *s, long max)
{
	char *end;
	long v;

	if (s[0] < '0' || s[0] > '9')
		return MM_ERR_PARSE;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 0 || v > max)
		return MM_ERR_PARSE;
	*out = v;
	return MM_OK;
}

static int
grow(void **v, size_t n, size_t elem)
{
	void *nv;
	size_t cap;

	/* Capacity is max(16, the next power of two), so growth happens when
	 * n is 0 or reaches a power of two of at least 16. */
	if (n != 0 && (n < 16 || (n & (n - 1)) != 0))
		return MM_OK;
	cap = n == 0 ? 16 : n * 2;
	nv = realloc(*v, cap * elem);
	if (nv == NULL)
		return MM_ERR_NOMEM;
	*v = nv;
	return MM_OK;
}

static int
parse_label(struct legacy_p0f_label *out, char *s)
{
	char *f[4];
	int n = 0;
	char *p = s;

	memset(out, 0, sizeof(*out));
	/* type:class:name:flavor; the flavor keeps any further colons. */
	while (n < 3) {
		f[n++] = p;
		p = strchr(p, ':');
		if (p == NULL)
			return MM_ERR_PARSE;
		*p++ = '\0';
	}
	f[3] = p;
	if ((f[0][0] != 's' && f[0][0] != 'g') || f[0][1] != '\0' || f[2][0] == '\0')
		return MM_ERR_PARSE;
	out->generic = f[0][0] == 'g';
	legacy_strlcpy(out->cls, f[1], sizeof(out->cls));
	legacy_strlcpy(out->name, f[2], sizeof(out->name));
	legacy_strlcpy(out->flavor, legacy_trim(f[3]), sizeof(out->flavor));
	return MM_OK;
}

static int
parse_olayout(struct legacy_p0f_sig *sig, char *s)
{
	char *tok, *save = NULL;
	long v;

	sig->nopt = 0;
	sig->eol_pad = 0;
	if (s[0] == '\0')
		return MM_OK;
	for (tok = strtok_r(s, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		uint8_t kind;

		if (sig->nopt >= LEGACY_P0F_MAX_OPTS)
			return MM_ERR_PARSE;
		if (strcmp(tok, "nop") == 0) {
			kind = O_NOP;
		} else if (strcmp(tok, "mss") == 0) {
			kind = O_MSS;
		} else if (strcmp(tok, "ws") == 0) {
			kind = O_WS;
		} else if (strcmp(tok, "sok") == 0) {
			kind = O_SOK;
		} else if (strcmp(tok, "sack") == 0) {
			kind = O_SACK;
		} else if (strcmp(tok, "ts") == 0) {
			kind = O_TS;
		} else if (strncmp(tok, "eol+", 4) == 0) {
			if (parse_uint(&v, tok + 4, 255) != MM_OK)
				return MM_ERR_PARSE;
			kind = O_EOL;
			sig->eol_pad = (uint8_t)v;
		} else if (tok[0] == '?') {
			if (parse_uint(&v, tok + 1, 255) != MM_OK)
				return MM_ERR_PARSE;
			kind = (uint8_t)v;
		} else {
			return MM_ERR_PARSE;
		}
		sig->opt[sig->nopt++] = kind;
		/* Nothing follows end-of-options. */
		if (kind == O_EOL && strtok_r(NULL, ",", &save) != NULL)
			return MM_ERR_PARSE;
		if (kind == O_EOL)
			break;
	}
	return MM_OK;
}

static int
parse_quirks(uint32_t *out, char *s)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} names[] = {{"df", Q_DF},
	             {"id+", Q_NZ_ID},
	             {"id-", Q_ZERO_ID},
	             {"ecn", Q_ECN},
	             {"0+", Q_NZ_MBZ},
	             {"flow", Q_FLOW},
	             {"seq-", Q_ZERO_SEQ},
	             {"ack+", Q_NZ_ACK},
	             {"ack-", Q_ZERO_ACK},
	             {"uptr+", Q_NZ_URG},
	             {"urgf+", Q_URG},
	             {"pushf+", Q_PUSH},
	             {"ts1-", Q_OPT_ZERO_TS1},
	             {"ts2+", Q_OPT_NZ_TS2},
	             {"opt+", Q_OPT_EOL_NZ},
	             {"exws", Q_OPT_EXWS},
	             {"bad", Q_OPT_BAD}};
	char *tok, *save = NULL;
	size_t i;

	*out = 0;
	for (tok = strtok_r(s, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strcmp(tok, names[i].name) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return MM_ERR_PARSE;
		*out |= names[i].bit;
	}
	return MM_OK;
}

static int
parse_sig(struct legacy_p0f_sig *sig, char *s)
{
	char *f[8], *p = s, *ws, *plus;
	long v;
	int n = 0;

	while (n < 8) {
		f[n++] = p;
		p = strchr(p, ':');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	if (n != 8)
		return MM_ERR_PARSE;

	if (strcmp(f[0], "*") == 0)
		sig->ver = 0;
	else if (strcmp(f[0], "4") == 0 || strcmp(f[0], "6") == 0)
		sig->ver = (uint8_t)(f[0][0] - '0');
	else
		return MM_ERR_PARSE;

	/* ittl: "64", "64-" (TTL could not be guessed), "54+10" (observed
	 * plus distance, as p0f prints new signatures). */
	sig->bad_ttl = 0;
	v = (long)strlen(f[1]);
	if (v > 0 && f[1][v - 1] == '-') {
		f[1][v - 1] = '\0';
		sig->bad_ttl = 1;
	}
	plus = strchr(f[1], '+');
	if (plus != NULL) {
		long a, b;
		*plus = '\0';
		if (parse_uint(&a, f[1], 255) != MM_OK || parse_uint(&b, plus + 1, 255) != MM_OK ||
		    a + b > 255)
			return MM_ERR_PARSE;
		v = a + b;
	} else if (parse_uint(&v, f[1], 255) != MM_OK) {
		return MM_ERR_PARSE;
	}
	if (v == 0)
		return MM_ERR_PARSE;
	sig->ttl = (uint8_t)v;

	if (parse_uint(&v, f[2], 255) != MM_OK)
		return MM_ERR_PARSE;
	sig->olen = (int16_t)v;

	if (strcmp(f[3], "*") == 0)
		sig->mss = -1;
	else if (parse_uint(&v, f[3], 65535) == MM_OK)
		sig->mss = (int32_t)v;
	else
		return MM_ERR_PARSE;

	ws = strchr(f[4], ',');
	if (ws == NULL)
		return MM_ERR_PARSE;
	*ws++ = '\0';
	if (strcmp(f[4], "*") == 0) {
		sig->wtype = P0F_W_ANY;
		sig->wsize = 0;
	} else if (strncmp(f[4], "mss*", 4) == 0 && parse_uint(&v, f[4] + 4, 65535) == MM_OK) {
		sig->wtype = P0F_W_MSS;
		sig->wsize = (int32_t)v;
	} else if (strncmp(f[4], "mtu*", 4) == 0 && parse_uint(&v, f[4] + 4, 65535) == MM_OK) {
		sig->wtype = P0F_W_MTU;
		sig->wsize = (int32_t)v;
	} else if (f[4][0] == '%' && parse_uint(&v, f[4] + 1, 65535) == MM_OK && v > 0) {
		sig->wtype = P0F_W_MOD;
		sig->wsize = (int32_t)v;
	} else if (parse_uint(&v, f[4], 65535) == MM_OK) {
		sig->wtype = P0F_W_FIXED;
		sig->wsize = (int32_t)v;
	} else {
		return MM_ERR_PARSE;
	}
	if (strcmp(ws, "*") == 0)
		sig->scale = -1;
	else if (parse_uint(&v, ws, 255) == MM_OK)
		sig->scale = (int16_t)v;
	else
		return MM_ERR_PARSE;

	if (parse_olayout(sig, f[5]) != MM_OK || parse_quirks(&sig->quirks, f[6]) != MM_OK)
		return MM_ERR_PARSE;

	if (strcmp(f[7], "*") == 0)
		sig->pclass = -1;
	else if (strcmp(f[7], "0") == 0)
		sig->pclass = 0;
	else if (strcmp(f[7], "+") == 0)
		sig->pclass = 1;
	else
		return MM_ERR_PARSE;
	return MM_OK;
}

int
legacy_p0f_parse(struct legacy_p0f *db, const char *text, size_t len)
{
	char line[1024];
	size_t pos = 0;
	int section = -1; /* -1 other, 0 tcp:request, 1 tcp:response */
	int have_label = 0;

	while (legacy_next_line(line, sizeof(line), text, len, &pos)) {
		char *s = legacy_trim(line), *eq, *key, *val;

		if (s[0] == ';' || s[0] == '\0')
			continue;
		if (s[0] == '[') {
			section = strcmp(s, "[tcp:request]") == 0    ? 0
			          : strcmp(s, "[tcp:response]") == 0 ? 1
			                                             : -1;
			have_label = 0;
			continue;
		}
		if (section < 0)
			continue;
		eq = strchr(s, '=');
		if (eq == NULL) {
			db->bad_lines++;
			continue;
		}
		*eq = '\0';
		key = legacy_trim(s);
		val = legacy_trim(eq + 1);
		if (strcmp(key, "label") == 0) {
			struct legacy_p0f_label l;
			have_label = 0;
			if (parse_label(&l, val) != MM_OK) {
				db->bad_lines++;
				continue;
			}
			if (db->nlabel >= LEGACY_P0F_MAX_SIGS)
				return MM_ERR_FULL;
			if (grow((void **)&db->label, db->nlabel, sizeof(*db->label)) != MM_OK)
				return MM_ERR_NOMEM;
			db->label[db->nlabel++] = l;
			have_label = 1;
		} else if (strcmp(key, "sig") == 0) {
			struct legacy_p0f_sig sig;
			memset(&sig, 0, sizeof(sig));
			if (!have_label || parse_sig(&sig, val) != MM_OK) {
				db->bad_lines++;
				continue;
			}
			sig.label = (uint16_t)(db->nlabel - 1);
			sig.response = (uint8_t)section;
			if (db->nsig >= LEGACY_P0F_MAX_SIGS)
				return MM_ERR_FULL;
			if (grow((void **)&db->sig, db->nsig, sizeof(*db->sig)) != MM_OK)
				return MM_ERR_NOMEM;
			db->sig[db->nsig++] = sig;
		}
		/* "sys" (the OS a tool runs on) and unknown keys are not needed. */
	}
	return MM_OK;
}

int
legacy_p0f_load(struct legacy_p0f *db, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = legacy_read_file(&text, &len, path, P0F_FILE_MAX);
	if (rc != MM_OK)
		return rc;
	rc = legacy_p0f_parse(db, text, len);
	free(text);
	return rc;
}

void
legacy_p0f_clear(struct legacy_p0f *db)
{
	if (db == NULL)
		return;
	free(db->sig);
	free(db->label);
	memset(db, 0, sizeof(*db));
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void
legacy_tcp_parse_options(struct legacy_tcp_obs *obs, const uint8_t *p, size_t len,
                         uint32_t ack_flag_set)
{
	size_t i = 0, j;

	obs->nopt = 0;
	obs->eol_pad = 0;
	obs->mss = -1;
	obs->scale = 0;
	while (i < len) {
		uint8_t kind = p[i], olen;

		if (obs->nopt >= LEGACY_P0F_MAX_OPTS) {
			obs->quirks |= Q_OPT_BAD;
			return;
		}
		obs->opt[obs->nopt++] = kind;
		if (kind == O_EOL) {
			obs->eol_pad = (uint8_t)(len - i - 1);
			for (j = i + 1; j < len; j++)
				if (p[j] != 0)
					obs->quirks |= Q_OPT_EOL_NZ;
			return;
		}
		if (kind == O_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len) {
			obs->quirks |= Q_OPT_BAD;
			return;
		}
		olen = p[i + 1];
		if (olen < 2 || i + olen > len) {
			obs->quirks |= Q_OPT_BAD;
			return;
		}
		switch (kind) {
		case O_MSS:
			if (olen != 4)
				obs->quirks |= Q_OPT_BAD;
			else
				obs->mss = (int32_t)(p[i + 2] << 8 | p[i + 3]);
			break;
		case O_WS:
			if (olen != 3) {
				obs->quirks |= Q_OPT_BAD;
			} else {
				obs->scale = p[i + 2];
				if (obs->scale > 14)
					obs->quirks |= Q_OPT_EXWS;
			}
			break;
		case O_SOK:
			if (olen != 2)
				obs->quirks |= Q_OPT_BAD;
			break;
		case O_TS:
			if (olen != 10) {
				obs->quirks |= Q_OPT_BAD;
			} else {
				if (be32(p + i + 2) == 0)
					obs->quirks |= Q_OPT_ZERO_TS1;
				/* The echo field means nothing on the first SYN. */
				if (!ack_flag_set && be32(p + i + 6) != 0)
					obs->quirks |= Q_OPT_NZ_TS2;
			}
			break;
		default:
			break;
		}
		i += olen;
	}
}

int
legacy_tcp_observe(struct legacy_tcp_obs *out, const struct mm_packet *pkt)
{
	uint8_t f = pkt->tcp_flags;

	memset(out, 0, sizeof(*out));
	if (!(pkt->layers & MM_L_TCP) || !(f & MM_TCP_SYN) || (f & (MM_TCP_RST | MM_TCP_FIN)))
		return MM_ERR_INVAL;
	out->response = (f & MM_TCP_ACK) != 0;
	out->ver = pkt->ip_version;
	out->ttl = pkt->ip_ttl;
	out->win = pkt->tcp_window;
	if (pkt->ip_version == 4) {
		out->olen = (int16_t)(pkt->ip_hdr_len > 20 ? pkt->ip_hdr_len - 20 : 0);
		if (pkt->ip_df)
			out->quirks |= Q_DF;
		if (pkt->ip_df && pkt->ip_id != 0)
			out->quirks |= Q_NZ_ID;
		if (!pkt->ip_df && pkt->ip_id == 0)
			out->quirks |= Q_ZERO_ID;
		if (pkt->l3 != NULL && (pkt->l3[6] & 0x80))
			out->quirks |= Q_NZ_MBZ;
	} else if (pkt->ip_version == 6) {
		if (pkt->ip_flow_label != 0)
			out->quirks |= Q_FLOW;
	} else {
		return MM_ERR_INVAL;
	}
	if ((pkt->ip_tos & 3) != 0 || (f & (MM_TCP_ECE | MM_TCP_CWR)))
		out->quirks |= Q_ECN;
	if (pkt->tcp_seq == 0)
		out->quirks |= Q_ZERO_SEQ;
	if (!(f & MM_TCP_ACK) && pkt->tcp_ack != 0)
		out->quirks |= Q_NZ_ACK;
	if ((f & MM_TCP_ACK) && pkt->tcp_ack == 0)
		out->quirks |= Q_ZERO_ACK;
	if (!(f & MM_TCP_URG) && pkt->tcp_urgent != 0)
		out->quirks |= Q_NZ_URG;
	if (f & MM_TCP_URG)
		out->quirks |= Q_URG;
	if (f & MM_TCP_PSH)
		out->quirks |= Q_PUSH;
	out->has_payload = pkt->payload_len > 0;
	legacy_tcp_parse_options(out, pkt->tcp_options,
	                         pkt->tcp_options != NULL ? pkt->tcp_options_len : 0,
	                         f & MM_TCP_ACK);
	return MM_OK;
}

static int
window_matches(const struct legacy_p0f_sig *s, const struct legacy_tcp_obs *o)
{
	switch (s->wtype) {
	case P0F_W_ANY:
		return 1;
	case P0F_W_FIXED:
		return o->win == s->wsize;
	case P0F_W_MSS:
		return o->mss > 0 && (int64_t)o->win == (int64_t)o->mss * s->wsize;
	case P0F_W_MTU:
		return o->mss > 0 &&
		       (int64_t)o->win == (int64_t)(o->mss + (o->ver == 6 ? 60 : 40)) * s->wsize;
	case P0F_W_MOD:
		return s->wsize > 0 && o->win % s->wsize == 0;
	default:
		return 0;
	}
}

const struct legacy_p0f_label *
legacy_p0f_match(const struct legacy_p0f *db, const struct legacy_tcp_obs *obs, int *out_fuzzy)
{
	const struct legacy_p0f_sig *generic = NULL, *fuzzy = NULL;
	/* Stacks and middleboxes that clear DF or rewrite the ID or ECN bits
	 * still leave the rest of the signature intact. */
	const uint32_t soft = Q_DF | Q_NZ_ID | Q_ZERO_ID | Q_ECN;
	size_t i;

	*out_fuzzy = 0;
	if (db == NULL)
		return NULL;
	for (i = 0; i < db->nsig; i++) {
		const struct legacy_p0f_sig *s = &db->sig[i];
		int exact = 1;

		if (s->response != obs->response || (s->ver != 0 && s->ver != obs->ver))
			continue;
		if (s->olen != obs->olen || s->nopt != obs->nopt || s->eol_pad != obs->eol_pad ||
		    memcmp(s->opt, obs->opt, obs->nopt) != 0)
			continue;
		if ((s->mss >= 0 && s->mss != obs->mss) ||
		    (s->scale >= 0 && s->scale != obs->scale))
			continue;
		if (!window_matches(s, obs))
			continue;
		if ((s->pclass == 0 && obs->has_payload) || (s->pclass == 1 && !obs->has_payload))
			continue;
		if (s->quirks != obs->quirks) {
			if (((s->quirks ^ obs->quirks) & ~soft) != 0)
				continue;
			exact = 0;
		}
		/* A TTL only ever goes down on the way. */
		if (obs->ttl > s->ttl)
			continue;
		if (!s->bad_ttl && s->ttl - obs->ttl > P0F_MAX_DIST)
			exact = 0;
		if (exact) {
			if (!db->label[s->label].generic)
				return &db->label[s->label];
			if (generic == NULL)
				generic = s;
		} else if (fuzzy == NULL) {
			fuzzy = s;
		}
	}
	if (generic != NULL)
		return &db->label[generic->label];
	if (fuzzy != NULL) {
		*out_fuzzy = 1;
		return &db->label[fuzzy->label];
	}
	return NULL;
}

void
legacy_p0f_label_format(char *out, size_t outlen, const struct legacy_p0f_label *l)
{
	snprintf(out, outlen, "%c:%s:%s:%s", l->generic ? 'g' : 's', l->cls, l->name, l->flavor);
}
