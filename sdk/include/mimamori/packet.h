/*
 * mimamori SDK: decoded packets.
 *
 * The host captures (live interface or capture file, see mm_packets_open() in
 * plugin.h), decodes each frame once with mm_packet_decode() and hands every
 * packet plugin a borrowed, read-only struct mm_packet. Plugins never open
 * pcap and never parse link, network or transport headers themselves.
 *
 * The decoder never reads past caplen: a header that is truncated, or whose
 * length fields lie, stops decoding at the last good layer and sets
 * decode_error. Layers decoded before the error stay valid.
 */
#ifndef MIMAMORI_PACKET_H
#define MIMAMORI_PACKET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Link types the decoder understands (the values are libpcap's DLT_*). */
enum mm_linktype {
	MM_LINK_NULL = 0, /**< BSD loopback */
	MM_LINK_ETHERNET = 1,
	MM_LINK_RAW = 101, /**< raw IPv4/IPv6 */
	MM_LINK_IEEE802_11 = 105,
	MM_LINK_LINUX_SLL = 113,
	MM_LINK_IEEE802_11_RADIOTAP = 127,
	MM_LINK_IPV4 = 228,
	MM_LINK_IPV6 = 229
};

/** Bits of mm_packet.layers: which headers were decoded. */
enum mm_layer {
	MM_L_ETH = 1u << 0,
	MM_L_VLAN = 1u << 1,
	MM_L_ARP = 1u << 2,
	MM_L_IPV4 = 1u << 3,
	MM_L_IPV6 = 1u << 4,
	MM_L_TCP = 1u << 5,
	MM_L_UDP = 1u << 6,
	MM_L_ICMP = 1u << 7, /**< ICMPv4 */
	MM_L_ICMP6 = 1u << 8,
	MM_L_RADIOTAP = 1u << 9,
	MM_L_WLAN = 1u << 10,      /**< 802.11 MAC header */
	MM_L_LLC = 1u << 11,       /**< 802.2 LLC/SNAP below 802.11 data frames */
	MM_L_FRAG = 1u << 12,      /**< IP fragment (not the first): no L4 */
	MM_L_ICMP_INNER = 1u << 13 /**< ICMP error quoting an IP header: see icmp_inner */
};

/** Why decoding stopped early (0 when it did not). Counted by the host. */
enum mm_decode_error {
	MM_DEC_OK = 0,
	MM_DEC_TRUNCATED_LINK, /**< link header (Ethernet, SLL, VLAN) cut short */
	MM_DEC_TRUNCATED_IP,   /**< IPv4/IPv6 header cut short */
	MM_DEC_BAD_IP,         /**< IP version, header length or total length lies */
	MM_DEC_TRUNCATED_L4,   /**< TCP/UDP/ICMP header cut short */
	MM_DEC_BAD_L4,         /**< TCP data offset or UDP length lies */
	MM_DEC_TRUNCATED_RADIOTAP,
	MM_DEC_BAD_RADIOTAP,   /**< radiotap length or field alignment lies */
	MM_DEC_TRUNCATED_WLAN, /**< 802.11 header cut short */
	MM_DEC_TRUNCATED_ARP,
	MM_DEC_UNSUPPORTED_LINK, /**< link type the decoder does not know */
	MM_DEC_TOO_MANY_HEADERS, /**< VLAN or IPv6 extension chain too long */
	MM_DEC__COUNT
};

/** TCP flag bits as in the TCP header. */
enum mm_tcp_flag {
	MM_TCP_FIN = 0x01,
	MM_TCP_SYN = 0x02,
	MM_TCP_RST = 0x04,
	MM_TCP_PSH = 0x08,
	MM_TCP_ACK = 0x10,
	MM_TCP_URG = 0x20,
	MM_TCP_ECE = 0x40,
	MM_TCP_CWR = 0x80
};

/** An IPv4 or IPv6 address. IPv4 uses the first 4 bytes of addr. */
struct mm_addr {
	uint8_t family; /**< 4, 6, or 0 when absent */
	uint8_t addr[16];
};

/** 802.11 frame types (mm_packet.wlan_type). */
enum mm_wlan_type { MM_WLAN_MGMT = 0, MM_WLAN_CTRL = 1, MM_WLAN_DATA = 2, MM_WLAN_EXT = 3 };

/** 802.11 management subtypes used by detectors (mm_packet.wlan_subtype). */
enum mm_wlan_mgmt_subtype {
	MM_WLAN_ASSOC_REQ = 0,
	MM_WLAN_ASSOC_RESP = 1,
	MM_WLAN_REASSOC_REQ = 2,
	MM_WLAN_REASSOC_RESP = 3,
	MM_WLAN_PROBE_REQ = 4,
	MM_WLAN_PROBE_RESP = 5,
	MM_WLAN_BEACON = 8,
	MM_WLAN_DISASSOC = 10,
	MM_WLAN_AUTH = 11,
	MM_WLAN_DEAUTH = 12,
	MM_WLAN_ACTION = 13
};

/**
 * One decoded frame. Every pointer points into the captured data and is
 * borrowed for the duration of the callback; NULL/0 means "absent".
 * New members are only ever appended; check size before reading a member
 * added after v1.
 */
struct mm_packet {
	uint32_t size;         /**< sizeof(struct mm_packet) as the host built it */
	uint32_t layers;       /**< enum mm_layer bits */
	int linktype;          /**< enum mm_linktype */
	uint32_t decode_error; /**< enum mm_decode_error */
	uint64_t ts_ns;        /**< capture time, ns since the epoch */
	const uint8_t *data;   /**< the captured bytes */
	uint32_t caplen;       /**< bytes captured */
	uint32_t wirelen;      /**< bytes on the wire */

	/* Link layer (Ethernet / SLL). */
	const uint8_t *src_mac; /**< 6 bytes */
	const uint8_t *dst_mac; /**< 6 bytes */
	uint16_t ethertype;     /**< innermost, after VLAN tags */
	uint8_t vlan_count;
	uint16_t vlan_id[2]; /**< outer first */

	/* ARP (Ethernet/IPv4 only). */
	uint16_t arp_op;        /**< 1 request, 2 reply */
	const uint8_t *arp_sha; /**< sender hardware address, 6 bytes */
	const uint8_t *arp_tha; /**< target hardware address, 6 bytes */
	struct mm_addr arp_spa; /**< sender protocol address */
	struct mm_addr arp_tpa; /**< target protocol address */

	/* Network layer. */
	const uint8_t *l3;      /**< start of the IP header */
	uint8_t ip_version;     /**< 4 or 6 */
	uint8_t ip_proto;       /**< IPPROTO_* after IPv6 extension headers */
	uint8_t ip_ttl;         /**< TTL or hop limit */
	uint8_t ip_tos;         /**< TOS or traffic class */
	uint16_t ip_id;         /**< IPv4 identification */
	uint8_t ip_df;          /**< IPv4 don't-fragment bit */
	uint8_t ip_hdr_len;     /**< IPv4 header length in bytes (20 + options) */
	uint16_t ip_total_len;  /**< IPv4 total length / IPv6 40 + payload length */
	uint32_t ip_flow_label; /**< IPv6 */
	struct mm_addr src;
	struct mm_addr dst;

	/* Transport layer. */
	const uint8_t *l4; /**< start of the TCP/UDP/ICMP header */
	uint16_t sport;
	uint16_t dport;
	uint8_t tcp_flags;   /**< enum mm_tcp_flag bits */
	uint8_t tcp_hdr_len; /**< bytes, 20 + options */
	uint16_t tcp_window;
	uint16_t tcp_urgent;
	uint32_t tcp_seq;
	uint32_t tcp_ack;
	const uint8_t *tcp_options;
	uint16_t tcp_options_len;
	uint8_t icmp_type;
	uint8_t icmp_code;

	/* The quoted header inside an ICMP/ICMPv6 error (MM_L_ICMP_INNER). */
	struct {
		uint8_t ip_proto;
		struct mm_addr src;
		struct mm_addr dst;
		uint16_t sport;
		uint16_t dport;
	} icmp_inner;

	/* Application payload after the transport header, clipped to the IP
	 * length (Ethernet padding is not payload). */
	const uint8_t *payload;
	uint32_t payload_len;

	/* Radiotap. */
	uint8_t has_signal;
	int8_t signal_dbm;
	uint16_t freq_mhz; /**< 0 when absent */
	uint16_t channel;  /**< derived from freq_mhz, 0 when unknown */

	/* 802.11 MAC header. */
	uint8_t wlan_type; /**< enum mm_wlan_type */
	uint8_t wlan_subtype;
	uint8_t wlan_flags; /**< frame-control flags byte (ToDS=1, FromDS=2, retry=8,
	                       protected=0x40) */
	uint16_t wlan_seq;
	const uint8_t *wlan_addr1; /**< receiver */
	const uint8_t *wlan_addr2; /**< transmitter, NULL for CTS/ACK */
	const uint8_t *wlan_addr3;
	const uint8_t *wlan_addr4;
	const uint8_t *wlan_bssid; /**< picked from addr1..3 by ToDS/FromDS */
	const uint8_t *wlan_sa;    /**< source address */
	const uint8_t *wlan_da;    /**< destination address */
	/* Management frame body (fixed fields + information elements), or the
	 * frame body of data frames (before LLC decoding). FCS excluded. */
	const uint8_t *wlan_body;
	uint32_t wlan_body_len;
};

/**
 * Decode one frame into *out (which is cleared first). Pure function: it
 * allocates nothing and keeps no state, so plugins and fuzzers may call it
 * directly. Returns MM_OK when every present layer decoded, or a negative
 * code when decoding stopped early (out->decode_error says where; the layers
 * before it are still filled in).
 */
int mm_packet_decode(struct mm_packet *out, int linktype, uint64_t ts_ns, const uint8_t *data,
                     uint32_t caplen, uint32_t wirelen);

/** Name of a decode error, for counters ("truncated_ip"...). */
const char *mm_decode_error_name(uint32_t err);

/**
 * Iterate over 802.11 information elements in a management frame body.
 * start: offset of the first element in body (12 for beacons and probe
 * responses, 0 for probe requests, 4 for association requests).
 * Returns a pointer to the element with the given id (and sets *out_len),
 * or NULL if absent or if an element length runs past the end.
 */
const uint8_t *mm_wlan_find_ie(const uint8_t *body, uint32_t body_len, uint32_t start, uint8_t id,
                               uint8_t *out_len);

/** Buffer size for mm_addr_format(): fits any IPv6 text form. */
#define MM_ADDR_STRLEN 46
/** Buffer size for mm_mac_format(): "aa:bb:cc:dd:ee:ff". */
#define MM_MAC_STRLEN 18

/** Format an address as text into out (MM_ADDR_STRLEN bytes). Returns out. */
char *mm_addr_format(char *out, const struct mm_addr *addr);
/** Parse "192.0.2.1" or "2001:db8::1". Returns MM_OK or MM_ERR_PARSE. */
int mm_addr_parse(struct mm_addr *out, const char *text);
/** Format 6 bytes as "aa:bb:cc:dd:ee:ff" into out (MM_MAC_STRLEN bytes). */
char *mm_mac_format(char *out, const uint8_t *mac);

#ifdef __cplusplus
}
#endif

#endif
