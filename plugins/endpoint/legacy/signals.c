/*
 * Passive signals of the legacy-OS watcher: the signal table that maps
 * what was seen (a p0f label, a DHCP fingerprint, an SMB dialect offer or
 * NativeOS string, an HTTP User-Agent) to an OS and an end-of-life key, and
 * the extractors that pull those facts out of one packet's payload with
 * bounds checks on every read. Runs in the legacy module's worker process.
 */
#include "legacy.h"

#include <mimamori/dhcp.h>
#include <mimamori/error.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIGTAB_FILE_MAX (1u << 20)
/* How far into a payload the HTTP header search goes. */
#define HTTP_SCAN_MAX 8192
#define SMB_MAX_DIALECTS 64

const char *
legacy_family_name(int family)
{
	static const char *const names[LF__COUNT] = {"tcp", "dhcp", "smb", "http"};

	return family >= 0 && family < LF__COUNT ? names[family] : "?";
}

int
legacy_sigtab_parse(struct legacy_sigtab *out, const char *text, size_t len)
{
	char line[512];
	char *f[6];
	size_t pos = 0, cap = out->n;

	while (legacy_next_line(line, sizeof(line), text, len, &pos)) {
		struct legacy_sigrow *r;
		char *s = line, *end;
		long w;

		if (s[0] == '#' || legacy_trim(s)[0] == '\0')
			continue;
		if (legacy_split_tabs(f, 6, s) != 6) {
			out->bad_lines++;
			continue;
		}
		w = strtol(f[5], &end, 10);
		if (end == f[5] || *end != '\0' || w < 0 || w > 100 || f[0][0] == '\0' ||
		    f[1][0] == '\0' || strlen(f[0]) >= sizeof(r->kind) ||
		    strlen(f[1]) >= sizeof(r->pattern)) {
			out->bad_lines++;
			continue;
		}
		if (out->n >= LEGACY_SIGTAB_MAX)
			return MM_ERR_FULL;
		if (out->n >= cap) {
			size_t ncap = cap < 32 ? 64 : cap * 2;
			struct legacy_sigrow *nv = realloc(out->v, ncap * sizeof(*nv));
			if (nv == NULL)
				return MM_ERR_NOMEM;
			out->v = nv;
			cap = ncap;
		}
		r = &out->v[out->n++];
		memset(r, 0, sizeof(*r));
		legacy_strlcpy(r->kind, f[0], sizeof(r->kind));
		legacy_strlcpy(r->pattern, f[1], sizeof(r->pattern));
		legacy_strlcpy(r->os, f[2], sizeof(r->os));
		legacy_strlcpy(r->product, f[3], sizeof(r->product));
		legacy_strlcpy(r->version, f[4], sizeof(r->version));
		r->weight = (int)w;
	}
	return MM_OK;
}

int
legacy_sigtab_load(struct legacy_sigtab *out, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = legacy_read_file(&text, &len, path, SIGTAB_FILE_MAX);
	if (rc != MM_OK)
		return rc;
	rc = legacy_sigtab_parse(out, text, len);
	free(text);
	return rc;
}

void
legacy_sigtab_clear(struct legacy_sigtab *t)
{
	if (t == NULL)
		return;
	free(t->v);
	memset(t, 0, sizeof(*t));
}

const struct legacy_sigrow *
legacy_sigtab_find(const struct legacy_sigtab *t, const char *kind, const char *text)
{
	size_t i;

	if (t == NULL || text == NULL)
		return NULL;
	for (i = 0; i < t->n; i++) {
		const struct legacy_sigrow *r = &t->v[i];
		size_t pl = strlen(r->pattern);

		if (strcmp(r->kind, kind) != 0)
			continue;
		if (strcmp(kind, "p0f") == 0 || strcmp(kind, "smb") == 0 ||
		    strcmp(kind, "port") == 0 || strcmp(kind, "dhcp55") == 0) {
			/* Exact keys, or a prefix when the pattern ends in '*'. */
			if (pl > 0 && r->pattern[pl - 1] == '*') {
				if (strncmp(r->pattern, text, pl - 1) == 0)
					return r;
			} else if (strcmp(r->pattern, text) == 0) {
				return r;
			}
		} else if (strstr(text, r->pattern) != NULL) {
			return r;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* SMB. */

static uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Read a NUL-terminated string at *off in msg (UTF-16LE aligned to an even
 * offset from the SMB header when unicode), as printable ASCII. */
static int
smb_string(char *out, size_t outlen, const uint8_t *msg, size_t mlen, size_t *off, int unicode)
{
	size_t o = *off, w = 0;

	out[0] = '\0';
	if (unicode && (o & 1))
		o++;
	if (o >= mlen)
		return MM_ERR_TRUNCATED;
	if (unicode) {
		while (o + 1 < mlen) {
			uint16_t c = le16(msg + o);
			o += 2;
			if (c == 0) {
				*off = o;
				out[w] = '\0';
				return MM_OK;
			}
			if (w + 1 < outlen)
				out[w++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
	} else {
		while (o < mlen) {
			uint8_t c = msg[o++];
			if (c == 0) {
				*off = o;
				out[w] = '\0';
				return MM_OK;
			}
			if (w + 1 < outlen)
				out[w++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
	}
	/* A string cut by the end of the segment is still useful. */
	out[w] = '\0';
	*off = o;
	return w > 0 ? MM_OK : MM_ERR_TRUNCATED;
}

static void
smb_negotiate_request(struct legacy_smb_info *out, const uint8_t *d, size_t dlen)
{
	size_t i = 0;

	out->negotiate_req = 1;
	while (i < dlen && out->ndialects < SMB_MAX_DIALECTS) {
		const uint8_t *name;
		size_t n = 0;

		if (d[i] != 0x02)
			break;
		name = d + i + 1;
		while (i + 1 + n < dlen && name[n] != 0)
			n++;
		out->ndialects++;
		if (n >= 4 && memcmp(name, "SMB ", 4) == 0)
			out->offers_smb2 = 1;
		else if (n == 10 && memcmp(name, "NT LM 0.12", 10) == 0)
			out->offers_nt_lm = 1;
		else if (n == 5 && memcmp(name, "Samba", 5) == 0)
			out->offers_samba = 1;
		i += 1 + n + 1;
	}
}

static void
smb_session_setup(struct legacy_smb_info *out, const uint8_t *msg, size_t mlen, size_t off_params,
                  unsigned wc, size_t off_data, size_t bcc_end, int unicode)
{
	const uint8_t *pp = msg + off_params;
	size_t off = off_data, skip = 0, nskip_strings = 0, i;
	char tmp[96];

	if (out->is_reply) {
		if (wc == 4)
			skip = le16(pp + 6); /* security blob */
		else if (wc != 3)
			return;
	} else if (wc == 12) {
		skip = le16(pp + 14);
	} else if (wc == 13) {
		skip = (size_t)le16(pp + 14) + le16(pp + 16);
		nskip_strings = 2; /* account, primary domain */
	} else if (wc == 10) {
		skip = le16(pp + 14);
		nskip_strings = 2;
	} else {
		return;
	}
	off += skip;
	if (off > bcc_end)
		return;
	for (i = 0; i < nskip_strings; i++)
		if (smb_string(tmp, sizeof(tmp), msg, bcc_end, &off, unicode) != MM_OK)
			return;
	if (smb_string(out->native_os, sizeof(out->native_os), msg, bcc_end, &off, unicode) !=
	    MM_OK)
		return;
	smb_string(out->native_lanman, sizeof(out->native_lanman), msg, bcc_end, &off, unicode);
}

int
legacy_smb_extract(struct legacy_smb_info *out, const uint8_t *p, size_t len)
{
	const uint8_t *msg;
	size_t mlen, nb, off_params, off_data, bcc_end;
	unsigned wc, bcc;
	int unicode;

	memset(out, 0, sizeof(*out));
	/* NetBIOS session message: type 0, 17-bit length. */
	if (len < 8 || p[0] != 0x00)
		return MM_ERR_NOTFOUND;
	nb = (size_t)(p[1] & 1) << 16 | (size_t)p[2] << 8 | p[3];
	msg = p + 4;
	mlen = len - 4 < nb ? len - 4 : nb;
	if (mlen >= 4 && msg[0] == 0xfe && memcmp(msg + 1, "SMB", 3) == 0) {
		out->is_smb2 = 1;
		return MM_OK;
	}
	if (mlen < 35 || msg[0] != 0xff || memcmp(msg + 1, "SMB", 3) != 0)
		return MM_ERR_NOTFOUND;
	out->is_smb1 = 1;
	out->is_reply = (msg[9] & 0x80) != 0;
	unicode = (le16(msg + 10) & 0x8000) != 0;
	wc = msg[32];
	off_params = 33;
	if (off_params + 2 * wc + 2 > mlen)
		return MM_OK;
	bcc = le16(msg + off_params + 2 * wc);
	off_data = off_params + 2 * wc + 2;
	bcc_end = off_data + bcc < mlen ? off_data + bcc : mlen;

	switch (msg[4]) {
	case 0x72: /* negotiate */
		if (!out->is_reply && wc == 0)
			smb_negotiate_request(out, msg + off_data, bcc_end - off_data);
		break;
	case 0x73: /* session setup andx */
		smb_session_setup(out, msg, mlen, off_params, wc, off_data, bcc_end, unicode);
		break;
	default:
		break;
	}
	return MM_OK;
}

/* ------------------------------------------------------------------ */
/* HTTP. */

int
legacy_http_user_agent(char *out, size_t outlen, const uint8_t *p, size_t len)
{
	static const char *const methods[] = {"GET ",     "POST ",    "HEAD ",   "PUT ",
	                                      "OPTIONS ", "CONNECT ", "DELETE ", "PATCH "};
	static const char ua[] = "user-agent:";
	size_t i, n = len < HTTP_SCAN_MAX ? len : HTTP_SCAN_MAX;
	int is_req = 0;

	if (outlen == 0)
		return MM_ERR_INVAL;
	out[0] = '\0';
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t ml = strlen(methods[i]);
		if (n >= ml && memcmp(p, methods[i], ml) == 0) {
			is_req = 1;
			break;
		}
	}
	if (!is_req)
		return MM_ERR_NOTFOUND;
	for (i = 0; i + 1 < n; i++) {
		size_t j, w = 0;

		if (p[i] != '\n')
			continue;
		/* An empty line ends the header. */
		if (p[i + 1] == '\n' || (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n'))
			break;
		if (n - (i + 1) < sizeof(ua) - 1 ||
		    strncasecmp((const char *)p + i + 1, ua, sizeof(ua) - 1) != 0)
			continue;
		j = i + 1 + sizeof(ua) - 1;
		while (j < n && (p[j] == ' ' || p[j] == '\t'))
			j++;
		while (j < n && p[j] != '\r' && p[j] != '\n') {
			if (w + 1 < outlen)
				out[w++] = p[j] >= 0x20 && p[j] < 0x7f ? (char)p[j] : '?';
			j++;
		}
		while (w > 0 && out[w - 1] == ' ')
			w--;
		out[w] = '\0';
		return w > 0 ? MM_OK : MM_ERR_NOTFOUND;
	}
	return MM_ERR_NOTFOUND;
}

/* ------------------------------------------------------------------ */
/* DHCP, through the SDK's parser. */

int
legacy_dhcp_extract(struct legacy_dhcp_info *out, const uint8_t *p, size_t len)
{
	struct mm_dhcp_msg m;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = mm_dhcp_parse(&m, p, len);
	if (rc != MM_OK)
		return rc;
	if (m.op != 1 || m.htype != 1 || m.chaddr == NULL || m.chaddr_len < 6)
		return MM_ERR_NOTFOUND;
	memcpy(out->chaddr, m.chaddr, 6);
	if (m.param_list.p != NULL) {
		out->has_55 = 1;
		out->nprl =
		        m.param_list.len < sizeof(out->prl) ? m.param_list.len : sizeof(out->prl);
		memcpy(out->prl, m.param_list.p, out->nprl);
	}
	if (m.vendor_class.p != NULL) {
		out->has_60 = 1;
		mm_dhcp_text(out->vendor, sizeof(out->vendor), &m.vendor_class);
	}
	if (m.hostname.p != NULL)
		mm_dhcp_text(out->hostname, sizeof(out->hostname), &m.hostname);
	if (m.requested_ip.family == 4)
		out->requested = m.requested_ip;
	else if (m.ciaddr.family == 4 && memcmp(m.ciaddr.addr, "\0\0\0\0", 4) != 0)
		out->requested = m.ciaddr;
	return MM_OK;
}
