/*
 * Application-layer parsers of the ips plugin (ips worker, replay, tests):
 * DNS messages (query name, answer addresses and names, with compression
 * pointers followed at most a fixed number of times), TLS ClientHello
 * server_name, and the HTTP/1 request line with the Host and User-Agent
 * headers. Every read is checked against the buffer end; a malformed
 * message just yields fewer fields.
 */
#include <stddef.h>
#include <string.h>

#include "ips_app.h"
#include "ips_rule.h"

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Decode a DNS name at off into out (dotted, lower case kept as sent).
 * Returns the offset after the name in the original position, or -1. */
static long
dns_name(const uint8_t *m, size_t len, size_t off, char *out, uint32_t *outlen)
{
	size_t o = 0, pos = off;
	long after = -1;
	int jumps = 0;

	for (;;) {
		uint8_t l;
		if (pos >= len)
			return -1;
		l = m[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len || ++jumps > 16)
				return -1;
			if (after < 0)
				after = (long)pos + 2;
			pos = (size_t)((l & 0x3f) << 8 | m[pos + 1]);
			continue;
		}
		if (l & 0xc0)
			return -1;
		if (l == 0) {
			if (after < 0)
				after = (long)pos + 1;
			break;
		}
		if (pos + 1 + l > len || o + l + 2 > IPS_DNS_NAME_MAX)
			return -1;
		if (o > 0)
			out[o++] = '.';
		memcpy(out + o, m + pos + 1, l);
		o += l;
		pos += 1 + (size_t)l;
	}
	out[o] = 0;
	*outlen = (uint32_t)o;
	return after;
}

int
ips_app_dns(struct ips_app_info *out, const uint8_t *p, size_t len)
{
	uint16_t qd, an, i;
	long off;
	char tmp[IPS_DNS_NAME_MAX];
	uint32_t tl;

	if (len < 12)
		return 0;
	qd = rd16(p + 4);
	an = rd16(p + 6);
	if (qd != 1 || (p[2] & 0x78) != 0) /* one question, standard opcode */
		return 0;
	off = dns_name(p, len, 12, out->dns_query, &out->dns_query_len);
	if (off < 0 || (size_t)off + 4 > len)
		return 0;
	off += 4;
	out->app = IPS_APP_DNS;
	out->dns_response = (p[2] & 0x80) != 0;
	for (i = 0; i < an && i < 64; i++) {
		uint16_t type, rdlen;
		off = dns_name(p, len, (size_t)off, tmp, &tl);
		if (off < 0 || (size_t)off + 10 > len)
			break;
		type = rd16(p + off);
		rdlen = rd16(p + off + 8);
		off += 10;
		if ((size_t)off + rdlen > len)
			break;
		if (type == 1 && rdlen == 4 && out->dns_naddrs < IPS_DNS_ANS_MAX) {
			struct mm_addr *a = &out->dns_addrs[out->dns_naddrs++];
			memset(a, 0, sizeof(*a));
			a->family = 4;
			memcpy(a->addr, p + off, 4);
		} else if (type == 28 && rdlen == 16 && out->dns_naddrs < IPS_DNS_ANS_MAX) {
			struct mm_addr *a = &out->dns_addrs[out->dns_naddrs++];
			memset(a, 0, sizeof(*a));
			a->family = 6;
			memcpy(a->addr, p + off, 16);
		} else if (type == 5 && out->dns_nnames < IPS_DNS_ANS_MAX) {
			if (dns_name(p, len, (size_t)off, out->dns_names[out->dns_nnames], &tl) >=
			    0)
				out->dns_nnames++;
		}
		off += rdlen;
	}
	return 1;
}

int
ips_app_tls(struct ips_app_info *out, const uint8_t *p, size_t len)
{
	size_t off, end, hlen;
	uint8_t sidlen;
	uint16_t cslen, extlen;

	/* Record: handshake(22), version 3.x; handshake: client_hello(1). */
	if (len < 9 || p[0] != 0x16 || p[1] != 3 || p[5] != 1)
		return 0;
	out->app = IPS_APP_TLS;
	hlen = (size_t)p[6] << 16 | (size_t)p[7] << 8 | p[8];
	end = 9 + hlen;
	if (end > len)
		end = len; /* a ClientHello split over segments: use what is here */
	off = 9 + 2 + 32;
	if (off + 1 > end)
		return 1;
	sidlen = p[off];
	off += 1 + sidlen;
	if (off + 2 > end)
		return 1;
	cslen = rd16(p + off);
	off += 2 + cslen;
	if (off + 1 > end)
		return 1;
	off += 1 + p[off];
	if (off + 2 > end)
		return 1;
	extlen = rd16(p + off);
	off += 2;
	if (off + extlen < end)
		end = off + extlen;
	while (off + 4 <= end) {
		uint16_t type = rd16(p + off), elen = rd16(p + off + 2);
		off += 4;
		if (off + elen > end)
			break;
		if (type == 0 && elen >= 5) {
			/* server_name_list: len(2) type(1) name_len(2) name */
			uint16_t nlen = rd16(p + off + 3);
			if (p[off + 2] == 0 && (size_t)5 + nlen <= elen && nlen > 0) {
				out->sni.p = p + off + 5;
				out->sni.len = nlen;
			}
			break;
		}
		off += elen;
	}
	return 1;
}

static int
is_method(const uint8_t *p, size_t len)
{
	static const struct {
		const char *s;
		size_t n;
	} m[] = {{"GET ", 4},     {"POST ", 5},    {"HEAD ", 5},  {"PUT ", 4},   {"DELETE ", 7},
	         {"OPTIONS ", 8}, {"CONNECT ", 8}, {"PATCH ", 6}, {"TRACE ", 6}, {"PROPFIND ", 9}};
	size_t i;

	/* Every method starts with a capital between C and T and is at least
	 * four bytes with its space: most payloads are turned down by their
	 * first byte. */
	if (len < 4 || p[0] < 'C' || p[0] > 'T')
		return 0;
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (p[0] == (uint8_t)m[i].s[0] && len >= m[i].n && memcmp(p, m[i].s, m[i].n) == 0)
			return (int)m[i].n - 1;
	return 0;
}

static int
hdr_is(const uint8_t *p, size_t len, const char *name)
{
	size_t n = strlen(name), i;

	if (len < n + 1 || p[n] != ':')
		return 0;
	for (i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		if (c != (uint8_t)name[i])
			return 0;
	}
	return 1;
}

int
ips_app_http(struct ips_app_info *out, const uint8_t *p, size_t len)
{
	int mlen = is_method(p, len);
	size_t off, ustart, eol;

	if (mlen == 0 && len > 12 && memcmp(p, "HTTP/1.", 7) == 0) {
		/* A response: only its headers are a buffer (http.header). */
		out->app = IPS_APP_HTTP;
		for (off = 0; off < len && p[off] != '\n'; off++)
			;
		if (++off >= len)
			return 1;
		out->headers.p = p + off;
		out->headers.len = (uint32_t)(len - off);
		for (eol = off; eol + 1 < len; eol++)
			if (p[eol] == '\n' &&
			    (p[eol + 1] == '\n' ||
			     (p[eol + 1] == '\r' && eol + 2 < len && p[eol + 2] == '\n'))) {
				out->headers.len = (uint32_t)(eol + 1 - off);
				break;
			}
		return 1;
	}
	if (mlen == 0)
		return 0;
	out->app = IPS_APP_HTTP;
	out->method.p = p;
	out->method.len = (uint32_t)mlen;
	off = ustart = (size_t)mlen + 1;
	while (off < len && p[off] != '\n')
		off++;
	eol = off;
	{
		/* The URI may contain spaces: it ends at the last " HTTP/". */
		size_t e = eol, s;
		while (e > ustart && (p[e - 1] == '\r' || p[e - 1] == ' '))
			e--;
		for (s = e; s > ustart; s--)
			if (p[s - 1] == ' ' && e - s >= 5 && memcmp(p + s, "HTTP/", 5) == 0)
				break;
		if (s > ustart)
			e = s - 1;
		while (e > ustart && p[e - 1] == ' ')
			e--;
		out->uri.p = p + ustart;
		out->uri.len = (uint32_t)(e - ustart);
	}
	off++;
	if (off < len) {
		out->headers.p = p + off;
		out->headers.len = (uint32_t)(len - off);
	}
	/* Headers up to the empty line. */
	while (off < len) {
		size_t v;
		eol = off;
		while (eol < len && p[eol] != '\n')
			eol++;
		if (eol == off || (eol == off + 1 && p[off] == '\r')) {
			out->headers.len = (uint32_t)(off - (size_t)(out->headers.p - p));
			break;
		}
		v = off;
		while (v < eol && p[v] != ':')
			v++;
		v++;
		while (v < eol && (p[v] == ' ' || p[v] == '\t'))
			v++;
		{
			size_t e = eol;
			while (e > v && (p[e - 1] == '\r' || p[e - 1] == ' '))
				e--;
			if (hdr_is(p + off, eol - off, "host")) {
				out->host.p = p + v;
				out->host.len = (uint32_t)(e - v);
			} else if (hdr_is(p + off, eol - off, "user-agent")) {
				out->ua.p = p + v;
				out->ua.len = (uint32_t)(e - v);
			}
		}
		off = eol + 1;
	}
	ips_app_http_normalize(out);
	return 1;
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
ips_app_http_normalize(struct ips_app_info *out)
{
	const uint8_t *u = out->uri.p;
	uint8_t *o = out->uri_buf;
	size_t n = out->uri.len, i = 0, w = 0, path_end, seg;

	/* Path: percent-decoded, then dot segments removed (RFC 3986 5.2.4)
	 * segment by segment as they are written; the query stays as sent. */
	for (path_end = 0; path_end < n && u[path_end] != '?'; path_end++)
		;
	while (i < path_end && w + 1 < sizeof(out->uri_buf)) {
		uint8_t c = u[i];
		if (c == '%' && i + 2 < path_end + 1 && i + 2 < n && hexval(u[i + 1]) >= 0 &&
		    hexval(u[i + 2]) >= 0) {
			c = (uint8_t)(hexval(u[i + 1]) << 4 | hexval(u[i + 2]));
			i += 3;
		} else {
			i++;
		}
		o[w++] = c;
		/* At a segment end, drop "." and resolve "..". */
		if (c == '/' || i >= path_end) {
			size_t end = c == '/' ? w - 1 : w;
			for (seg = end; seg > 0 && o[seg - 1] != '/'; seg--)
				;
			if (end - seg == 1 && o[seg] == '.') {
				w = seg;
			} else if (end - seg == 2 && o[seg] == '.' && o[seg + 1] == '.') {
				w = seg;
				if (w > 1) {
					w--; /* the slash before ".." */
					while (w > 0 && o[w - 1] != '/')
						w--;
				}
				if (w == 0 && n > 0 && u[0] == '/')
					o[w++] = '/';
			}
		}
	}
	for (i = path_end; i < n && w < sizeof(out->uri_buf); i++)
		o[w++] = u[i];
	out->uri_norm.p = o;
	out->uri_norm.len = (uint32_t)w;
	if (out->host.p) {
		size_t h = 0, hl = out->host.len;
		/* Drop a ":port" (not inside an IPv6 literal). */
		for (i = hl; i > 0; i--) {
			if (out->host.p[i - 1] == ':') {
				hl = i - 1;
				break;
			}
			if (out->host.p[i - 1] < '0' || out->host.p[i - 1] > '9')
				break;
		}
		for (i = 0; i < hl && h < sizeof(out->host_buf); i++) {
			uint8_t c = out->host.p[i];
			out->host_buf[h++] = c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
		}
		out->host_norm.p = out->host_buf;
		out->host_norm.len = (uint32_t)h;
	}
}

void
ips_app_clear(struct ips_app_info *out)
{
	memset(out, 0, offsetof(struct ips_app_info, dns_query));
	out->dns_query[0] = 0;
}

int
ips_app_parse(struct ips_app_info *out, const struct mm_packet *pkt)
{
	const uint8_t *p = pkt->payload;
	size_t len = pkt->payload_len;

	ips_app_clear(out);
	if (p == NULL || len == 0)
		return 0;
	if (pkt->layers & MM_L_UDP) {
		if (pkt->sport == 53 || pkt->dport == 53 || pkt->sport == 5353 ||
		    pkt->dport == 5353)
			return ips_app_dns(out, p, len);
		return 0;
	}
	if (!(pkt->layers & MM_L_TCP))
		return 0;
	if ((pkt->sport == 53 || pkt->dport == 53) && len > 2) {
		size_t l = (size_t)rd16(p);
		if (l + 2 <= len && ips_app_dns(out, p + 2, l))
			return 1;
		ips_app_clear(out);
	}
	if (p[0] == 0x16)
		return ips_app_tls(out, p, len);
	return ips_app_http(out, p, len);
}
