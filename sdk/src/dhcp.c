/*
 * DHCPv4 message parser (dhcp.h). Part of the SDK library: runs in the
 * worker processes of the plugins that watch DHCP (device inventory, legacy
 * OS detection), in the host's tools and in the fuzzers. It allocates
 * nothing: the parsed message points into the caller's UDP payload, and
 * every read is checked against the length of the field it belongs to, so
 * options that lie about their length end option reading instead of
 * reaching into the next field or past the payload.
 */
#include "mimamori/dhcp.h"
#include "mimamori/error.h"

#include <stdio.h>
#include <string.h>

/* Offsets in the fixed BOOTP header (RFC 951, RFC 2131). */
#define OFF_SNAME 44
#define LEN_SNAME 64
#define OFF_FILE 108
#define LEN_FILE 128
#define OFF_COOKIE 236

static const uint8_t magic_cookie[4] = {99, 130, 83, 99};

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
addr4(struct mm_addr *out, const uint8_t *p)
{
	memset(out, 0, sizeof(*out));
	out->family = 4;
	memcpy(out->addr, p, 4);
}

/*
 * One option from area a starting at *off. Returns 1 with *out filled, 0 at
 * the end of the area (option 255 or no bytes left), -1 when the option's
 * length runs past the area. Pads are skipped here; the loop is bounded by
 * the area length since every step advances *off.
 */
static int
area_next(struct mm_dhcp_opt *out, const uint8_t *a, uint32_t alen, uint32_t *off, int *saw_end)
{
	while (*off < alen && a[*off] == MM_DHCP_OPT_PAD)
		(*off)++;
	if (*off >= alen)
		return 0;
	if (a[*off] == MM_DHCP_OPT_END) {
		*saw_end = 1;
		*off = alen;
		return 0;
	}
	if (alen - *off < 2 || (uint32_t)a[*off + 1] > alen - *off - 2) {
		*off = alen;
		return -1;
	}
	out->code = a[*off];
	out->len = a[*off + 1];
	out->value = a + *off + 2;
	*off += 2u + out->len;
	return 1;
}

static int
iter_step(struct mm_dhcp_opt *out, struct mm_dhcp_iter *it, uint32_t *flags)
{
	const struct mm_dhcp_msg *m = it->msg;

	while (it->area < 3) {
		int saw_end = 0;
		int r;

		if (m->area[it->area] == NULL) {
			it->area++;
			it->off = 0;
			continue;
		}
		if (it->count >= MM_DHCP_MAX_OPTIONS) {
			if (flags != NULL)
				*flags |= MM_DHCP_F_TOO_MANY;
			it->area = 3;
			return 0;
		}
		r = area_next(out, m->area[it->area], m->area_len[it->area], &it->off, &saw_end);
		if (r == 1) {
			it->count++;
			return 1;
		}
		if (flags != NULL) {
			if (r < 0)
				*flags |= MM_DHCP_F_BAD_OPTION;
			else if (it->area == 0 && !saw_end)
				*flags |= MM_DHCP_F_NO_END;
		}
		it->area++;
		it->off = 0;
	}
	return 0;
}

int
mm_dhcp_opt_first(struct mm_dhcp_opt *out, struct mm_dhcp_iter *it, const struct mm_dhcp_msg *msg)
{
	if (out == NULL || it == NULL || msg == NULL)
		return 0;
	memset(it, 0, sizeof(*it));
	it->msg = msg;
	return iter_step(out, it, NULL);
}

int
mm_dhcp_opt_next(struct mm_dhcp_opt *out, struct mm_dhcp_iter *it)
{
	if (out == NULL || it == NULL || it->msg == NULL)
		return 0;
	return iter_step(out, it, NULL);
}

int
mm_dhcp_find(struct mm_dhcp_opt *out, const struct mm_dhcp_msg *msg, uint8_t code)
{
	/* Initialised: gcc -O3 cannot see that a failed first() ends the loop. */
	struct mm_dhcp_iter it = {0};
	int r;

	for (r = mm_dhcp_opt_first(out, &it, msg); r == 1; r = mm_dhcp_opt_next(out, &it))
		if (out->code == code)
			return 1;
	return 0;
}

static void
set_bytes(struct mm_dhcp_bytes *b, const struct mm_dhcp_opt *o)
{
	/* The first instance wins; an empty option is treated as absent. */
	if (b->p != NULL || o->len == 0)
		return;
	b->p = o->value;
	b->len = o->len;
}

static void
pick(struct mm_dhcp_msg *m, const struct mm_dhcp_opt *o, uint32_t area, const uint8_t *payload)
{
	switch (o->code) {
	case MM_DHCP_OPT_MSG_TYPE:
		if (o->len == 1 && m->msg_type == 0)
			m->msg_type = o->value[0];
		break;
	case MM_DHCP_OPT_OVERLOAD:
		/* Only the options field may say that sname and file hold
		 * options (RFC 2131 4.1); a second or misplaced 52 is ignored
		 * rather than followed, so areas are never visited twice. */
		if (area != 0 || m->overload != 0)
			break;
		if (o->len != 1 || o->value[0] < 1 || o->value[0] > 3) {
			m->flags_parse |= MM_DHCP_F_BAD_OVERLOAD;
			break;
		}
		m->overload = o->value[0];
		m->flags_parse |= MM_DHCP_F_OVERLOAD;
		if (m->overload & 1) {
			m->area[1] = payload + OFF_FILE;
			m->area_len[1] = LEN_FILE;
		}
		if (m->overload & 2) {
			m->area[2] = payload + OFF_SNAME;
			m->area_len[2] = LEN_SNAME;
		}
		break;
	case MM_DHCP_OPT_HOSTNAME:
		set_bytes(&m->hostname, o);
		break;
	case MM_DHCP_OPT_PARAM_LIST:
		set_bytes(&m->param_list, o);
		break;
	case MM_DHCP_OPT_VENDOR_CLASS:
		set_bytes(&m->vendor_class, o);
		break;
	case MM_DHCP_OPT_CLIENT_ID:
		set_bytes(&m->client_id, o);
		break;
	case MM_DHCP_OPT_CLIENT_FQDN:
		set_bytes(&m->client_fqdn, o);
		break;
	case MM_DHCP_OPT_REQUESTED_IP:
		if (o->len == 4 && m->requested_ip.family == 0)
			addr4(&m->requested_ip, o->value);
		break;
	case MM_DHCP_OPT_SERVER_ID:
		if (o->len == 4 && m->server_id.family == 0)
			addr4(&m->server_id, o->value);
		break;
	default:
		break;
	}
}

int
mm_dhcp_parse(struct mm_dhcp_msg *out, const uint8_t *payload, size_t len)
{
	struct mm_dhcp_iter it;
	struct mm_dhcp_opt o;
	size_t olen;

	if (out == NULL)
		return MM_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	if (payload == NULL)
		return MM_ERR_INVAL;
	if (len < OFF_COOKIE)
		return MM_ERR_TRUNCATED;

	out->op = payload[0];
	out->htype = payload[1];
	out->hlen = payload[2];
	out->hops = payload[3];
	out->xid = be32(payload + 4);
	out->secs = (uint16_t)(payload[8] << 8 | payload[9]);
	out->flags = (uint16_t)(payload[10] << 8 | payload[11]);
	addr4(&out->ciaddr, payload + 12);
	addr4(&out->yiaddr, payload + 16);
	addr4(&out->siaddr, payload + 20);
	addr4(&out->giaddr, payload + 24);
	out->chaddr = payload + 28;
	out->chaddr_len = out->hlen;
	if (out->chaddr_len > 16) {
		out->chaddr_len = 16;
		out->flags_parse |= MM_DHCP_F_BAD_HLEN;
	}

	if (len < MM_DHCP_HEADER_LEN)
		return MM_ERR_TRUNCATED;
	if (memcmp(payload + OFF_COOKIE, magic_cookie, sizeof(magic_cookie)) != 0)
		return MM_ERR_PARSE;

	/* UDP payloads cannot exceed 65507 bytes, but the caller may hand us
	 * anything: clip so the area length fits its 16-bit member. */
	olen = len - MM_DHCP_HEADER_LEN;
	if (olen > 65535)
		olen = 65535;
	out->area[0] = payload + MM_DHCP_HEADER_LEN;
	out->area_len[0] = (uint16_t)olen;

	memset(&it, 0, sizeof(it));
	it.msg = out;
	while (iter_step(&o, &it, &out->flags_parse) == 1) {
		out->n_options++;
		pick(out, &o, it.area, payload);
	}
	return MM_OK;
}

int
mm_dhcp_fingerprint(char *out, size_t outsz, const struct mm_dhcp_msg *msg)
{
	size_t used = 0;
	uint32_t i;

	if (out == NULL || outsz == 0)
		return MM_ERR_INVAL;
	out[0] = '\0';
	if (msg == NULL || msg->param_list.p == NULL)
		return 0;
	/* Written by hand rather than with snprintf: this runs for every
	 * DHCP request on the packet path, and formatting was most of its
	 * cost. */
	for (i = 0; i < msg->param_list.len; i++) {
		char num[5];
		unsigned v = msg->param_list.p[i];
		size_t n = 0;
		if (i > 0)
			num[n++] = ',';
		if (v >= 100)
			num[n++] = (char)('0' + v / 100);
		if (v >= 10)
			num[n++] = (char)('0' + v / 10 % 10);
		num[n++] = (char)('0' + v % 10);
		if (n >= outsz - used)
			return MM_ERR_FULL;
		memcpy(out + used, num, n);
		used += n;
		out[used] = '\0';
	}
	return (int)used;
}

char *
mm_dhcp_text(char *out, size_t outsz, const struct mm_dhcp_bytes *b)
{
	size_t n, i;

	if (out == NULL || outsz == 0)
		return out;
	out[0] = '\0';
	if (b == NULL || b->p == NULL)
		return out;
	n = b->len;
	while (n > 0 && b->p[n - 1] == '\0')
		n--;
	if (n > outsz - 1)
		n = outsz - 1;
	for (i = 0; i < n; i++)
		out[i] = (b->p[i] >= 0x20 && b->p[i] < 0x7f) ? (char)b->p[i] : '?';
	out[n] = '\0';
	return out;
}

const char *
mm_dhcp_msg_type_name(int type)
{
	static const char *const names[] = {"",
	                                    "DISCOVER",
	                                    "OFFER",
	                                    "REQUEST",
	                                    "DECLINE",
	                                    "ACK",
	                                    "NAK",
	                                    "RELEASE",
	                                    "INFORM",
	                                    "FORCERENEW",
	                                    "LEASEQUERY",
	                                    "LEASEUNASSIGNED",
	                                    "LEASEUNKNOWN",
	                                    "LEASEACTIVE"};

	if (type >= MM_DHCP_DISCOVER && type <= MM_DHCP_LEASEACTIVE)
		return names[type];
	return "UNKNOWN";
}
