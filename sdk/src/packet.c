/*
 * Frame decoding for every packet plugin: link layer (BSD loopback,
 * Ethernet with up to two VLAN tags, Linux cooked, raw IP, 802.11 with or
 * without radiotap), ARP, IPv4, IPv6 with its extension headers, TCP, UDP,
 * ICMP and ICMPv6 including the header quoted by error messages. Part of the
 * SDK library; it runs wherever a frame is decoded: the host's workers, the
 * replay command, plugins and fuzzers.
 *
 * Each layer gets the bytes captured for it (len) and the bytes the frame
 * had on the wire from that point (wire). A length field larger than what
 * was captured but within the wire length is a short capture (truncated);
 * one larger than the wire length is a lie (bad). Nothing is ever read at
 * or beyond len.
 */
#include "mimamori/error.h"
#include "mimamori/packet.h"

#include <stddef.h>
#include <string.h>

/* Nesting bounds: two VLAN tags (802.1ad + 802.1Q) and eight IPv6
 * extension headers cover real traffic; longer chains are refused. */
#define MAX_VLAN 2
#define MAX_V6_EXT 8
/* Radiotap present words; 16 is far beyond any real capture. */
#define MAX_RT_WORDS 16

/* libpcap's DLT_RAW on most systems: pcap_datalink() reports it for files
 * whose header says LINKTYPE_RAW (MM_LINK_RAW), so both are accepted. */
#define DLT_RAW_ALIAS 12

#define ETH_HLEN 14
#define SLL_HLEN 16

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_SCTP 132
#define PROTO_ICMP6 58

#define WLAN_FLAG_TODS 0x01
#define WLAN_FLAG_FROMDS 0x02
#define WLAN_FLAG_PROTECTED 0x40
#define WLAN_FLAG_ORDER 0x80

#define RT_FLAG_DATAPAD 0x20
#define RT_FLAG_FCS 0x10

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
le32(const uint8_t *p)
{
	return p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t
min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static void
set_addr(struct mm_addr *a, int family, const uint8_t *src)
{
	a->family = (uint8_t)family;
	memcpy(a->addr, src, family == 4 ? 4 : 16);
}

static uint32_t decode_ethertype(struct mm_packet *p, uint16_t type, const uint8_t *d, uint32_t len,
                                 uint32_t wire);

/*
 * The quoted datagram of an ICMP error: the original IP header and at least
 * the first 8 bytes after it. A short quote is legal (routers may quote
 * less), so a quote that does not parse is simply not reported.
 */
static void
decode_icmp_inner(struct mm_packet *p, const uint8_t *d, uint32_t len)
{
	uint8_t proto;
	uint32_t off, n;

	if (len < 1)
		return;
	if ((d[0] >> 4) == 4) {
		if (len < 20)
			return;
		off = (uint32_t)(d[0] & 0x0f) * 4;
		if (off < 20 || off > len)
			return;
		proto = d[9];
		set_addr(&p->icmp_inner.src, 4, d + 12);
		set_addr(&p->icmp_inner.dst, 4, d + 16);
	} else if ((d[0] >> 4) == 6) {
		if (len < 40)
			return;
		proto = d[6];
		off = 40;
		/* Skip the common extension headers so that the quoted ports are
		 * found behind them too; a fragment header ends the walk. */
		for (n = 0; n < MAX_V6_EXT && (proto == 0 || proto == 43 || proto == 60); n++) {
			if (off + 2 > len)
				break;
			proto = d[off];
			off += ((uint32_t)d[off + 1] + 1) * 8;
		}
		if (off > len)
			return;
		set_addr(&p->icmp_inner.src, 6, d + 8);
		set_addr(&p->icmp_inner.dst, 6, d + 24);
	} else {
		return;
	}
	p->icmp_inner.ip_proto = proto;
	if ((proto == PROTO_TCP || proto == PROTO_UDP || proto == PROTO_SCTP) && len - off >= 4) {
		p->icmp_inner.sport = be16(d + off);
		p->icmp_inner.dport = be16(d + off + 2);
	}
	p->layers |= MM_L_ICMP_INNER;
}

/*
 * Transport layer. avail is what was captured of the IP payload (already
 * clipped to the IP length), declared what the IP header says it is. In a
 * first fragment (more_frags) the transport data legitimately continues in
 * later fragments, so a short one is truncation, not a lie.
 */
static uint32_t
decode_l4(struct mm_packet *p, uint8_t proto, const uint8_t *d, uint32_t avail, uint32_t declared,
          int more_frags)
{
	uint32_t bad = more_frags ? MM_DEC_TRUNCATED_L4 : MM_DEC_BAD_L4;
	uint32_t hl, ulen;

	if (proto == PROTO_TCP) {
		if (declared < 20)
			return bad;
		if (avail < 20)
			return MM_DEC_TRUNCATED_L4;
		hl = (uint32_t)(d[12] >> 4) * 4;
		if (hl < 20)
			return MM_DEC_BAD_L4;
		if (hl > declared)
			return bad;
		if (hl > avail)
			return MM_DEC_TRUNCATED_L4;
		p->l4 = d;
		p->sport = be16(d);
		p->dport = be16(d + 2);
		p->tcp_seq = be32(d + 4);
		p->tcp_ack = be32(d + 8);
		p->tcp_flags = d[13];
		p->tcp_window = be16(d + 14);
		p->tcp_urgent = be16(d + 18);
		p->tcp_hdr_len = (uint8_t)hl;
		if (hl > 20) {
			p->tcp_options = d + 20;
			p->tcp_options_len = (uint16_t)(hl - 20);
		}
		p->payload = d + hl;
		p->payload_len = avail - hl;
		p->layers |= MM_L_TCP;
		return MM_DEC_OK;
	}
	if (proto == PROTO_UDP) {
		if (declared < 8)
			return bad;
		if (avail < 8)
			return MM_DEC_TRUNCATED_L4;
		ulen = be16(d + 4);
		if (ulen < 8)
			return MM_DEC_BAD_L4;
		if (ulen > declared && !more_frags)
			return MM_DEC_BAD_L4;
		p->l4 = d;
		p->sport = be16(d);
		p->dport = be16(d + 2);
		p->payload = d + 8;
		/* The UDP length clips the payload further: bytes after it are
		 * padding inside the IP datagram. */
		p->payload_len = (more_frags ? avail : min32(ulen, avail)) - 8;
		p->layers |= MM_L_UDP;
		return MM_DEC_OK;
	}
	if (proto == PROTO_ICMP || proto == PROTO_ICMP6) {
		/* Type, code, checksum and the 4 bytes of "rest of header"
		 * every ICMP and ICMPv6 message has. */
		if (declared < 8)
			return bad;
		if (avail < 8)
			return MM_DEC_TRUNCATED_L4;
		p->l4 = d;
		p->icmp_type = d[0];
		p->icmp_code = d[1];
		p->payload = d + 8;
		p->payload_len = avail - 8;
		if (proto == PROTO_ICMP) {
			p->layers |= MM_L_ICMP;
			/* Unreachable, source quench, redirect, time exceeded,
			 * parameter problem: the body quotes the original. */
			if (d[0] == 3 || d[0] == 4 || d[0] == 5 || d[0] == 11 || d[0] == 12)
				decode_icmp_inner(p, d + 8, avail - 8);
		} else {
			p->layers |= MM_L_ICMP6;
			/* Unreachable, packet too big, time exceeded, parameter
			 * problem. */
			if (d[0] >= 1 && d[0] <= 4)
				decode_icmp_inner(p, d + 8, avail - 8);
		}
		return MM_DEC_OK;
	}
	return MM_DEC_OK;
}

static uint32_t
decode_ipv4(struct mm_packet *p, const uint8_t *d, uint32_t len, uint32_t wire)
{
	uint32_t hl, total, end;
	uint16_t frag;

	if (len < 20)
		return MM_DEC_TRUNCATED_IP;
	if ((d[0] >> 4) != 4)
		return MM_DEC_BAD_IP;
	hl = (uint32_t)(d[0] & 0x0f) * 4;
	total = be16(d + 2);
	/* A total length of 0 (TCP segmentation offload on the capturing
	 * host) is counted as a lie too: nothing after it can be trusted. */
	if (hl < 20 || total < hl || total > wire)
		return MM_DEC_BAD_IP;
	if (hl > len)
		return MM_DEC_TRUNCATED_IP;
	p->l3 = d;
	p->ip_version = 4;
	p->ip_hdr_len = (uint8_t)hl;
	p->ip_tos = d[1];
	p->ip_total_len = (uint16_t)total;
	p->ip_id = be16(d + 4);
	frag = be16(d + 6);
	p->ip_df = (frag & 0x4000) != 0;
	p->ip_ttl = d[8];
	p->ip_proto = d[9];
	set_addr(&p->src, 4, d + 12);
	set_addr(&p->dst, 4, d + 16);
	p->layers |= MM_L_IPV4;
	if ((frag & 0x1fff) != 0) {
		/* Not the first fragment: its bytes continue a transport
		 * header or payload that is not here. */
		p->layers |= MM_L_FRAG;
		return MM_DEC_OK;
	}
	end = min32(total, len);
	return decode_l4(p, p->ip_proto, d + hl, end - hl, total - hl, (frag & 0x2000) != 0);
}

static uint32_t
decode_ipv6(struct mm_packet *p, const uint8_t *d, uint32_t len, uint32_t wire)
{
	uint32_t total, end, off, hl, n;
	uint8_t nh;
	int more_frags = 0;

	if (len < 40)
		return MM_DEC_TRUNCATED_IP;
	if ((d[0] >> 4) != 6)
		return MM_DEC_BAD_IP;
	total = 40u + be16(d + 4);
	/* Payload length 0 with a hop-by-hop header is a jumbogram, whose
	 * length is in an option: take the frame's length instead. */
	if (total == 40 && d[6] == 0)
		total = wire;
	if (total > wire)
		return MM_DEC_BAD_IP;
	p->l3 = d;
	p->ip_version = 6;
	p->ip_tos = (uint8_t)((be16(d) >> 4) & 0xff);
	p->ip_flow_label = be32(d) & 0xfffff;
	p->ip_total_len = (uint16_t)min32(total, 0xffff);
	p->ip_ttl = d[7];
	set_addr(&p->src, 6, d + 8);
	set_addr(&p->dst, 6, d + 24);
	p->layers |= MM_L_IPV6;
	end = min32(total, len);
	nh = d[6];
	p->ip_proto = nh;
	off = 40;
	for (n = 0;; n++) {
		if (nh != 0 && nh != 43 && nh != 44 && nh != 51 && nh != 60)
			break;
		if (n == MAX_V6_EXT)
			return MM_DEC_TOO_MANY_HEADERS;
		if (off + 2 > total)
			return MM_DEC_BAD_IP;
		if (off + 2 > end)
			return MM_DEC_TRUNCATED_IP;
		if (nh == 44)
			hl = 8;
		else if (nh == 51)
			hl = ((uint32_t)d[off + 1] + 2) * 4;
		else
			hl = ((uint32_t)d[off + 1] + 1) * 8;
		if (off + hl > total)
			return MM_DEC_BAD_IP;
		if (off + hl > end)
			return MM_DEC_TRUNCATED_IP;
		p->ip_proto = d[off];
		if (nh == 44) {
			uint16_t fo = be16(d + off + 2);

			if ((fo & 0xfff8) != 0) {
				p->layers |= MM_L_FRAG;
				return MM_DEC_OK;
			}
			more_frags = fo & 1;
		}
		nh = d[off];
		off += hl;
	}
	return decode_l4(p, nh, d + off, end - off, total - off, more_frags);
}

static uint32_t
decode_arp(struct mm_packet *p, const uint8_t *d, uint32_t len)
{
	uint32_t hlen, plen;

	if (len < 8)
		return MM_DEC_TRUNCATED_ARP;
	hlen = d[4];
	plen = d[5];
	if (8 + 2 * hlen + 2 * plen > len)
		return MM_DEC_TRUNCATED_ARP;
	p->arp_op = be16(d + 6);
	p->layers |= MM_L_ARP;
	/* Only Ethernet-sized hardware and IPv4 protocol addresses are
	 * exposed; other combinations keep just the operation. */
	if (hlen == 6 && plen == 4 && be16(d + 2) == ETHERTYPE_IPV4) {
		p->arp_sha = d + 8;
		set_addr(&p->arp_spa, 4, d + 14);
		p->arp_tha = d + 18;
		set_addr(&p->arp_tpa, 4, d + 24);
	}
	return MM_DEC_OK;
}

/* Network layer chosen by an ethertype. */
static uint32_t
decode_l3(struct mm_packet *p, uint16_t type, const uint8_t *d, uint32_t len, uint32_t wire)
{
	switch (type) {
	case ETHERTYPE_IPV4:
		return decode_ipv4(p, d, len, wire);
	case ETHERTYPE_IPV6:
		return decode_ipv6(p, d, len, wire);
	case ETHERTYPE_ARP:
		return decode_arp(p, d, len);
	default:
		return MM_DEC_OK;
	}
}

/*
 * 802.2 LLC after an 802.3 length field or an 802.11 data header. Only SNAP
 * carries an ethertype; other SAPs (spanning tree, NetBIOS) end decoding.
 */
static uint32_t
decode_llc(struct mm_packet *p, const uint8_t *d, uint32_t len, uint32_t wire)
{
	if (len < 3)
		return MM_DEC_TRUNCATED_LINK;
	p->layers |= MM_L_LLC;
	if (d[0] != 0xaa || d[1] != 0xaa || d[2] != 0x03)
		return MM_DEC_OK;
	if (len < 8)
		return MM_DEC_TRUNCATED_LINK;
	p->ethertype = be16(d + 6);
	return decode_ethertype(p, p->ethertype, d + 8, len - 8, wire - 8);
}

/* VLAN tags (at most MAX_VLAN), then the network layer. */
static uint32_t
decode_ethertype(struct mm_packet *p, uint16_t type, const uint8_t *d, uint32_t len, uint32_t wire)
{
	uint32_t off = 0;

	while (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD) {
		if (p->vlan_count == MAX_VLAN) {
			p->ethertype = type;
			return MM_DEC_TOO_MANY_HEADERS;
		}
		if (off + 4 > len)
			return MM_DEC_TRUNCATED_LINK;
		p->vlan_id[p->vlan_count++] = be16(d + off) & 0x0fff;
		type = be16(d + off + 2);
		off += 4;
		p->layers |= MM_L_VLAN;
	}
	p->ethertype = type;
	return decode_l3(p, type, d + off, len - off, wire - off);
}

static uint32_t
decode_ethernet(struct mm_packet *p, const uint8_t *d, uint32_t len, uint32_t wire)
{
	uint16_t type;

	if (len < ETH_HLEN)
		return MM_DEC_TRUNCATED_LINK;
	p->dst_mac = d;
	p->src_mac = d + 6;
	p->layers |= MM_L_ETH;
	type = be16(d + 12);
	if (type <= 1500) {
		/* An 802.3 length, so LLC follows; the length also bounds the
		 * frame, which keeps the Ethernet padding out of it. */
		return decode_llc(p, d + ETH_HLEN, min32(len - ETH_HLEN, type),
		                  min32(wire - ETH_HLEN, type));
	}
	if (type < 0x0600)
		return MM_DEC_OK;
	/* Untagged IPv4, by far the most common frame, skips the VLAN walk
	 * and the ethertype switch. */
	if (type == ETHERTYPE_IPV4) {
		p->ethertype = type;
		return decode_ipv4(p, d + ETH_HLEN, len - ETH_HLEN, wire - ETH_HLEN);
	}
	/* VLAN tags of an 802.3 frame are walked by decode_ethertype. */
	return decode_ethertype(p, type, d + ETH_HLEN, len - ETH_HLEN, wire - ETH_HLEN);
}

static uint32_t
decode_sll(struct mm_packet *p, const uint8_t *d, uint32_t len, uint32_t wire)
{
	uint16_t hatype, halen, proto;

	if (len < SLL_HLEN)
		return MM_DEC_TRUNCATED_LINK;
	hatype = be16(d + 2);
	halen = be16(d + 4);
	proto = be16(d + 14);
	/* Only the sender's address is recorded by the kernel. */
	if (halen == 6 && (hatype == 1 || hatype == 772))
		p->src_mac = d + 6;
	if (proto == 0x0004)
		return decode_llc(p, d + SLL_HLEN, len - SLL_HLEN, wire - SLL_HLEN);
	if (proto < 0x0600)
		return MM_DEC_OK;
	return decode_ethertype(p, proto, d + SLL_HLEN, len - SLL_HLEN, wire - SLL_HLEN);
}

/* Raw IP: the version nibble says which. */
static uint32_t
decode_raw(struct mm_packet *p, const uint8_t *d, uint32_t len, uint32_t wire)
{
	if (len < 1)
		return MM_DEC_TRUNCATED_IP;
	if ((d[0] >> 4) == 4)
		return decode_ipv4(p, d, len, wire);
	if ((d[0] >> 4) == 6)
		return decode_ipv6(p, d, len, wire);
	return MM_DEC_BAD_IP;
}

/*
 * BSD loopback: a 4-byte address family in the byte order of the host that
 * captured, so both orders are tried. AF_INET6 differs between systems
 * (Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30).
 */
static uint32_t
decode_null(struct mm_packet *p, const uint8_t *d, uint32_t len, uint32_t wire)
{
	uint32_t fam;

	if (len < 4)
		return MM_DEC_TRUNCATED_LINK;
	fam = le32(d);
	if (fam > 0xffff)
		fam = be32(d);
	if (fam == 2)
		return decode_ipv4(p, d + 4, len - 4, wire - 4);
	if (fam == 10 || fam == 24 || fam == 28 || fam == 30)
		return decode_ipv6(p, d + 4, len - 4, wire - 4);
	return MM_DEC_OK;
}

static uint16_t
freq_to_channel(uint16_t f)
{
	if (f == 2484)
		return 14;
	if (f >= 2412 && f <= 2472)
		return (uint16_t)((f - 2407) / 5);
	/* Japan's 4.9 GHz channels 184-196. */
	if (f >= 4910 && f <= 4980)
		return (uint16_t)((f - 4000) / 5);
	if (f >= 5150 && f <= 5925)
		return (uint16_t)((f - 5000) / 5);
	if (f == 5935)
		return 2;
	if (f >= 5955 && f <= 7115)
		return (uint16_t)((f - 5950) / 5);
	return 0;
}

/*
 * 802.11 MAC header. datapad: the driver padded the header to a multiple of
 * 4 bytes before the body (radiotap flag 0x20).
 */
static uint32_t
decode_wlan(struct mm_packet *p, const uint8_t *d, uint32_t len, uint32_t wire, int datapad)
{
	uint8_t type, sub, flags;
	uint32_t hl, body;
	int qos = 0, amsdu = 0;
	const uint8_t *a1, *a2, *a3;

	if (len < 2)
		return MM_DEC_TRUNCATED_WLAN;
	type = (d[0] >> 2) & 3;
	sub = d[0] >> 4;
	flags = d[1];
	switch (type) {
	case MM_WLAN_MGMT:
		/* The order bit of a management frame announces HT control. */
		hl = 24 + ((flags & WLAN_FLAG_ORDER) ? 4 : 0);
		break;
	case MM_WLAN_CTRL:
		/* CTS, ACK, control wrapper and extension carry one address,
		 * the others a receiver and a transmitter. */
		hl = (sub == 12 || sub == 13 || sub == 7 || sub == 6) ? 10 : 16;
		break;
	case MM_WLAN_DATA:
		hl = 24;
		if ((flags & (WLAN_FLAG_TODS | WLAN_FLAG_FROMDS)) ==
		    (WLAN_FLAG_TODS | WLAN_FLAG_FROMDS))
			hl += 6;
		if (sub & 0x08) {
			qos = 1;
			hl += 2;
			if (flags & WLAN_FLAG_ORDER)
				hl += 4;
		}
		break;
	default:
		/* Extension frames (DMG beacon) start with one address. */
		hl = 10;
		break;
	}
	if (len < hl)
		return MM_DEC_TRUNCATED_WLAN;
	p->wlan_type = type;
	p->wlan_subtype = sub;
	p->wlan_flags = flags;
	p->layers |= MM_L_WLAN;
	a1 = d + 4;
	a2 = hl >= 16 ? d + 10 : NULL;
	a3 = hl >= 24 ? d + 16 : NULL;
	p->wlan_addr1 = a1;
	p->wlan_addr2 = a2;
	p->wlan_addr3 = a3;
	if (type == MM_WLAN_CTRL) {
		if (sub == 10) /* PS-Poll */
			p->wlan_bssid = a1;
		else if (sub == 14 || sub == 15) /* CF-End */
			p->wlan_bssid = a2;
		return MM_DEC_OK;
	}
	if (type == MM_WLAN_EXT) {
		p->wlan_bssid = a1;
		p->wlan_body = d + hl;
		p->wlan_body_len = len - hl;
		return MM_DEC_OK;
	}
	p->wlan_seq = le16(d + 22) >> 4;
	if (type == MM_WLAN_MGMT) {
		p->wlan_da = a1;
		p->wlan_sa = a2;
		p->wlan_bssid = a3;
	} else {
		switch (flags & (WLAN_FLAG_TODS | WLAN_FLAG_FROMDS)) {
		case 0:
			p->wlan_da = a1;
			p->wlan_sa = a2;
			p->wlan_bssid = a3;
			break;
		case WLAN_FLAG_FROMDS:
			p->wlan_da = a1;
			p->wlan_bssid = a2;
			p->wlan_sa = a3;
			break;
		case WLAN_FLAG_TODS:
			p->wlan_bssid = a1;
			p->wlan_sa = a2;
			p->wlan_da = a3;
			break;
		default:
			/* Wireless distribution system: no single BSSID. */
			p->wlan_addr4 = d + 24;
			p->wlan_da = a3;
			p->wlan_sa = d + 24;
			break;
		}
		if (qos)
			amsdu = (d[hl - ((flags & WLAN_FLAG_ORDER) ? 6 : 2)] & 0x80) != 0;
	}
	body = datapad ? (hl + 3) & ~3u : hl;
	if (body > len)
		return MM_DEC_TRUNCATED_WLAN;
	p->wlan_body = d + body;
	p->wlan_body_len = len - body;
	if (p->wlan_body_len == 0)
		p->wlan_body = NULL;
	/* Only unprotected data frames that carry one MSDU start with LLC;
	 * null-function subtypes (bit 2 set) have no body at all. */
	if (type != MM_WLAN_DATA || (sub & 0x04) || (flags & WLAN_FLAG_PROTECTED) || amsdu)
		return MM_DEC_OK;
	/* An empty body is fine when the frame really had none. */
	if (p->wlan_body_len == 0 && wire <= body)
		return MM_DEC_OK;
	return decode_llc(p, d + body, len - body, wire > body ? wire - body : 0);
}

/* Size and alignment of the radiotap fields defined in the default
 * namespace, by bit number (radiotap.org). */
static const struct {
	uint8_t align;
	uint8_t size;
} rt_fields[] = {
        {8, 8},  /* 0 TSFT */
        {1, 1},  /* 1 flags */
        {1, 1},  /* 2 rate */
        {2, 4},  /* 3 channel */
        {2, 2},  /* 4 FHSS */
        {1, 1},  /* 5 dBm antenna signal */
        {1, 1},  /* 6 dBm antenna noise */
        {2, 2},  /* 7 lock quality */
        {2, 2},  /* 8 TX attenuation */
        {2, 2},  /* 9 dB TX attenuation */
        {1, 1},  /* 10 dBm TX power */
        {1, 1},  /* 11 antenna */
        {1, 1},  /* 12 dB antenna signal */
        {1, 1},  /* 13 dB antenna noise */
        {2, 2},  /* 14 RX flags */
        {2, 2},  /* 15 TX flags */
        {1, 1},  /* 16 RTS retries */
        {1, 1},  /* 17 data retries */
        {4, 8},  /* 18 XChannel */
        {1, 3},  /* 19 MCS */
        {4, 8},  /* 20 A-MPDU status */
        {2, 12}, /* 21 VHT */
        {8, 12}, /* 22 timestamp */
        {2, 12}, /* 23 HE */
        {2, 12}, /* 24 HE-MU */
        {2, 6},  /* 25 HE-MU-other-user */
        {1, 1},  /* 26 zero-length PSDU */
        {2, 4},  /* 27 L-SIG */
};

#define RT_NFIELDS (sizeof(rt_fields) / sizeof(rt_fields[0]))
_Static_assert(RT_NFIELDS < 29, "radiotap field table overlaps the namespace bits");

#define RT_NS_RADIOTAP (1u << 29)
#define RT_NS_VENDOR (1u << 30)
#define RT_EXT (1u << 31)
/* Fields exported: flags (1), channel (3), dBm antenna signal (5). */
#define RT_WANTED ((1u << 1) | (1u << 3) | (1u << 5))

/*
 * Radiotap: walk the present words (extended ones included), keeping the
 * default namespace's fields and skipping vendor namespaces by their
 * skip_length. A field the table does not know (bit 28 TLVs, bits past it
 * in an extended word) has an unknown size, so the walk stops there; the
 * header length still locates the 802.11 frame. Kept out of line: inlined,
 * its many live values made mm_packet_decode() save six registers on every
 * frame of every link type.
 */
static __attribute__((noinline)) uint32_t
decode_radiotap(struct mm_packet *p, const uint8_t *d, uint32_t len, uint32_t wire)
{
	uint32_t itlen, nwords = 0, off, i, base = 0, vendor_end = 0, flen, fwire;
	uint32_t w, bits, stop;
	uint32_t want = RT_WANTED;
	int in_vendor = 0;
	uint8_t rtflags = 0;

	if (len < 8)
		return MM_DEC_TRUNCATED_RADIOTAP;
	if (d[0] != 0)
		return MM_DEC_BAD_RADIOTAP;
	itlen = le16(d + 2);
	if (itlen < 8 || itlen > wire)
		return MM_DEC_BAD_RADIOTAP;
	if (itlen > len)
		return MM_DEC_TRUNCATED_RADIOTAP;
	do {
		if (nwords == MAX_RT_WORDS || 8 + 4 * nwords > itlen)
			return MM_DEC_BAD_RADIOTAP;
		w = le32(d + 4 + 4 * nwords);
		nwords++;
	} while (w & RT_EXT);
	off = 4 + 4 * nwords;
	for (i = 0; i < nwords; i++) {
		w = le32(d + 4 + 4 * i);
		if ((w & RT_NS_RADIOTAP) && (w & RT_NS_VENDOR))
			return MM_DEC_BAD_RADIOTAP;
		/* Visit only the bits that are set: most words have a few. A
		 * bit past the table (bit 28 of a default word, any bit of an
		 * extended one) ends the walk after the bits below it. */
		bits = in_vendor ? 0 : (w & ((1u << 29) - 1));
		stop = base != 0 ? bits : bits & ~((1u << RT_NFIELDS) - 1);
		for (bits &= ~stop; bits; bits &= bits - 1) {
			uint32_t idx, a, sz;

			idx = (uint32_t)__builtin_ctz(bits);
			a = rt_fields[idx].align;
			sz = rt_fields[idx].size;
			off = (off + a - 1) & ~(a - 1);
			if (off + sz > itlen)
				return MM_DEC_BAD_RADIOTAP;
			/* Later namespaces repeat fields per antenna; the
			 * first occurrence is the combined value. One test
			 * for the three fields kept, so that the others cost
			 * a single, well predicted branch. */
			if ((want >> idx) & 1) {
				want &= ~(1u << idx);
				if (idx == 1) {
					rtflags = d[off];
				} else if (idx == 3) {
					p->freq_mhz = le16(d + off);
					p->channel = freq_to_channel(p->freq_mhz);
				} else {
					p->signal_dbm = (int8_t)d[off];
					p->has_signal = 1;
				}
			}
			off += sz;
		}
		if (stop != 0)
			break;
		if (w & (RT_NS_RADIOTAP | RT_NS_VENDOR)) {
			/* Leaving a vendor namespace resumes after its data. */
			if (in_vendor)
				off = vendor_end;
			base = 0;
			in_vendor = 0;
			if (w & RT_NS_VENDOR) {
				/* OUI, sub-namespace, skip_length; 2-aligned. */
				off = (off + 1) & ~1u;
				if (off + 6 > itlen)
					return MM_DEC_BAD_RADIOTAP;
				vendor_end = off + 6 + le16(d + off + 4);
				if (vendor_end > itlen)
					return MM_DEC_BAD_RADIOTAP;
				in_vendor = 1;
			}
		} else {
			base += 32;
		}
	}
	p->layers |= MM_L_RADIOTAP;
	flen = len - itlen;
	fwire = wire - itlen;
	if (rtflags & RT_FLAG_FCS) {
		/* The FCS is the frame's last 4 bytes on the wire; whatever of
		 * it was captured is not part of the frame. */
		if (fwire < 4)
			return MM_DEC_TRUNCATED_WLAN;
		fwire -= 4;
		flen = min32(flen, fwire);
	}
	return decode_wlan(p, d + itlen, flen, fwire, (rtflags & RT_FLAG_DATAPAD) != 0);
}

/* The return code for each decode error, by enum mm_decode_error. */
static const signed char error_codes[MM_DEC__COUNT] = {
        [MM_DEC_OK] = MM_OK,
        [MM_DEC_TRUNCATED_LINK] = MM_ERR_TRUNCATED,
        [MM_DEC_TRUNCATED_IP] = MM_ERR_TRUNCATED,
        [MM_DEC_BAD_IP] = MM_ERR_PARSE,
        [MM_DEC_TRUNCATED_L4] = MM_ERR_TRUNCATED,
        [MM_DEC_BAD_L4] = MM_ERR_PARSE,
        [MM_DEC_TRUNCATED_RADIOTAP] = MM_ERR_TRUNCATED,
        [MM_DEC_BAD_RADIOTAP] = MM_ERR_PARSE,
        [MM_DEC_TRUNCATED_WLAN] = MM_ERR_TRUNCATED,
        [MM_DEC_TRUNCATED_ARP] = MM_ERR_TRUNCATED,
        [MM_DEC_UNSUPPORTED_LINK] = MM_ERR_UNSUPPORTED,
        [MM_DEC_TOO_MANY_HEADERS] = MM_ERR_RANGE,
};

/*
 * Clear everything after the members mm_packet_decode() always writes.
 * A plain memset() of the struct compiles to `rep stos`, whose start-up
 * cost was a quarter of the decoding time of a small 802.11 frame; fixed
 * 16-byte stores are several times cheaper. The empty asm hides the
 * pointer's provenance from the optimiser so that it cannot fold the
 * stores back into a memset() call.
 */
typedef uint8_t zero16 __attribute__((vector_size(16), aligned(1), may_alias));

#define CLEAR_FROM offsetof(struct mm_packet, src_mac)

_Static_assert(CLEAR_FROM == 40 && sizeof(struct mm_packet) >= CLEAR_FROM + 16,
               "mm_packet_decode() writes the members before src_mac itself");

static void
clear_packet(struct mm_packet *p)
{
	unsigned char *b = (unsigned char *)p;
	size_t off;

#pragma GCC unroll 32
	for (off = CLEAR_FROM; off + 16 <= sizeof(*p); off += 16) {
		__asm__("" : "+r"(b));
		*(zero16 *)(b + off) = (zero16){0};
	}
	/* A tail shorter than 16 bytes (none with the current layout). */
	if (off < sizeof(*p))
		*(zero16 *)(b + sizeof(*p) - 16) = (zero16){0};
}

int
mm_packet_decode(struct mm_packet *out, int linktype, uint64_t ts_ns, const uint8_t *data,
                 uint32_t caplen, uint32_t wirelen)
{
	uint32_t err, wire;

	if (out == NULL)
		return MM_ERR_INVAL;
	clear_packet(out);
	if (data == NULL)
		caplen = 0;
	/* Every member before CLEAR_FROM is written here. */
	out->size = sizeof(*out);
	out->layers = 0;
	out->linktype = linktype;
	out->decode_error = MM_DEC_OK;
	out->ts_ns = ts_ns;
	out->data = data;
	out->caplen = caplen;
	out->wirelen = wirelen;
	/* A file may claim fewer bytes on the wire than it captured; the
	 * captured bytes are real, so they bound the wire length from below. */
	wire = wirelen > caplen ? wirelen : caplen;
	switch (linktype) {
	case MM_LINK_NULL:
		err = decode_null(out, data, caplen, wire);
		break;
	case MM_LINK_ETHERNET:
		err = decode_ethernet(out, data, caplen, wire);
		break;
	case MM_LINK_RAW:
	case DLT_RAW_ALIAS:
		err = decode_raw(out, data, caplen, wire);
		break;
	case MM_LINK_IPV4:
		err = decode_ipv4(out, data, caplen, wire);
		break;
	case MM_LINK_IPV6:
		err = decode_ipv6(out, data, caplen, wire);
		break;
	case MM_LINK_LINUX_SLL:
		err = decode_sll(out, data, caplen, wire);
		break;
	case MM_LINK_IEEE802_11:
		err = decode_wlan(out, data, caplen, wire, 0);
		break;
	case MM_LINK_IEEE802_11_RADIOTAP:
		err = decode_radiotap(out, data, caplen, wire);
		break;
	default:
		err = MM_DEC_UNSUPPORTED_LINK;
		break;
	}
	out->decode_error = err;
	return error_codes[err];
}

const char *
mm_decode_error_name(uint32_t err)
{
	static const char *const names[MM_DEC__COUNT] = {
	        [MM_DEC_OK] = "ok",
	        [MM_DEC_TRUNCATED_LINK] = "truncated_link",
	        [MM_DEC_TRUNCATED_IP] = "truncated_ip",
	        [MM_DEC_BAD_IP] = "bad_ip",
	        [MM_DEC_TRUNCATED_L4] = "truncated_l4",
	        [MM_DEC_BAD_L4] = "bad_l4",
	        [MM_DEC_TRUNCATED_RADIOTAP] = "truncated_radiotap",
	        [MM_DEC_BAD_RADIOTAP] = "bad_radiotap",
	        [MM_DEC_TRUNCATED_WLAN] = "truncated_wlan",
	        [MM_DEC_TRUNCATED_ARP] = "truncated_arp",
	        [MM_DEC_UNSUPPORTED_LINK] = "unsupported_link",
	        [MM_DEC_TOO_MANY_HEADERS] = "too_many_headers",
	};

	if (err >= MM_DEC__COUNT || names[err] == NULL)
		return "unknown";
	return names[err];
}

const uint8_t *
mm_wlan_find_ie(const uint8_t *body, uint32_t body_len, uint32_t start, uint8_t id,
                uint8_t *out_len)
{
	uint32_t off = start;

	if (body == NULL)
		return NULL;
	/* off grows by at least 2 per element, so the loop ends. */
	while (off < body_len && body_len - off >= 2) {
		uint32_t l = body[off + 1];

		if (l > body_len - off - 2)
			return NULL;
		if (body[off] == id) {
			if (out_len != NULL)
				*out_len = (uint8_t)l;
			return body + off + 2;
		}
		off += 2 + l;
	}
	return NULL;
}
