/*
 * Device names from name-service traffic: mDNS (5353/UDP) and LLMNR
 * (5355/UDP) share the DNS message format; NetBIOS name service (137/UDP)
 * uses it too, with first-level encoded names. Runs on the packet path of
 * the byod worker. Every read is bounded by the message length, name
 * compression pointers may only point backwards and are followed a fixed
 * number of times, and the record loop is bounded.
 */
#include "byod.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_RECORDS 64
#define MAX_JUMPS 16

/* Reads a DNS name at *off into out (dotted, printable); advances *off past
 * the name in the record. Returns 0 or -1 on a malformed name. */
static int
read_name(char *out, size_t outsz, const uint8_t *m, size_t len, size_t *off)
{
	size_t p = *off, o = 0;
	int jumps = 0, jumped = 0;

	out[0] = '\0';
	for (;;) {
		uint8_t l;

		if (p >= len)
			return -1;
		l = m[p];
		if (l == 0) {
			p++;
			break;
		}
		if ((l & 0xc0) == 0xc0) {
			size_t target;
			if (p + 1 >= len || ++jumps > MAX_JUMPS)
				return -1;
			target = (size_t)(l & 0x3f) << 8 | m[p + 1];
			if (target >= p)
				return -1;
			if (!jumped)
				*off = p + 2;
			jumped = 1;
			p = target;
			continue;
		}
		if ((l & 0xc0) != 0 || p + 1 + l > len)
			return -1;
		if (o > 0 && o + 1 < outsz)
			out[o++] = '.';
		for (size_t i = 0; i < l && o + 1 < outsz; i++) {
			uint8_t c = m[p + 1 + i];
			out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
		}
		out[o] = '\0';
		p += 1u + l;
	}
	if (!jumped)
		*off = p;
	return 0;
}

/* NetBIOS first-level decoding: 32 letters 'A'..'P' -> 16 bytes, the last
 * one the service suffix; trailing spaces dropped. */
static int
nb_decode(char *out, size_t outsz, const char *enc)
{
	size_t i, n = 0;

	if (strlen(enc) < 32)
		return -1;
	for (i = 0; i < 30 && n + 1 < outsz; i += 2) {
		int hi = enc[i] - 'A', lo = enc[i + 1] - 'A';
		if (hi < 0 || hi > 15 || lo < 0 || lo > 15)
			return -1;
		out[n++] = (char)(hi << 4 | lo);
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	for (i = 0; i < n; i++)
		if (!isprint((unsigned char)out[i]))
			out[i] = '?';
	return n > 0 ? 0 : -1;
}

static int
is_service_name(const char *name)
{
	/* Service browsing ("_ipp._tcp.local") and reverse lookups do not
	 * name a device. */
	return name[0] == '_' || strstr(name, "._") != NULL || strstr(name, ".arpa") != NULL;
}

static void
strip_local(char *name)
{
	size_t n = strlen(name);
	if (n > 6 && strcasecmp(name + n - 6, ".local") == 0)
		name[n - 6] = '\0';
}

int
byod_dns_names(const uint8_t *m, size_t len, int nbns, byod_name_cb cb, void *user)
{
	size_t off = 12, i;
	unsigned qd, an, ns, ar, total;
	int found = 0;

	if (m == NULL || len < 12)
		return -1;
	qd = (unsigned)(m[4] << 8 | m[5]);
	an = (unsigned)(m[6] << 8 | m[7]);
	ns = (unsigned)(m[8] << 8 | m[9]);
	ar = (unsigned)(m[10] << 8 | m[11]);
	/* Questions carry no addresses, except NetBIOS registrations whose
	 * additional record holds the address; they are skipped. */
	for (i = 0; i < qd && i < MAX_RECORDS; i++) {
		char name[256];
		if (read_name(name, sizeof(name), m, len, &off) < 0 || off + 4 > len)
			return found;
		off += 4;
	}
	total = an + ns + ar;
	for (i = 0; i < total && i < MAX_RECORDS; i++) {
		char name[256], dev[BYOD_STR];
		uint16_t type, rdlen;

		if (read_name(name, sizeof(name), m, len, &off) < 0 || off + 10 > len)
			return found;
		type = (uint16_t)(m[off] << 8 | m[off + 1]);
		rdlen = (uint16_t)(m[off + 8] << 8 | m[off + 9]);
		off += 10;
		if (off + rdlen > len)
			return found;
		if (nbns) {
			/* NB record: 2 flag bytes then the IPv4 address. */
			if (type == 0x20 && rdlen >= 6 && nb_decode(dev, sizeof(dev), name) == 0) {
				cb(user, dev, m + off + 2);
				found++;
			}
		} else if (type == 1 && rdlen == 4 && !is_service_name(name)) {
			/* Names longer than the inventory keeps are cut. */
			name[sizeof(dev) - 1] = '\0';
			memcpy(dev, name, sizeof(dev));
			strip_local(dev);
			cb(user, dev, m + off);
			found++;
		}
		off += rdlen;
	}
	return found;
}
