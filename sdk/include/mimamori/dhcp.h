/*
 * mimamori SDK: DHCPv4 message parsing.
 *
 * mm_dhcp_parse() reads a BOOTP/DHCPv4 message from a UDP payload (for
 * example mm_packet.payload of a packet to or from port 67 or 68) into a
 * struct mm_dhcp_msg whose pointers borrow from that payload: keep the
 * payload alive while using the result. Nothing is allocated; every length
 * is checked against the payload, so a message that lies about its lengths
 * is refused or cut at the last well-formed option, never read past.
 *
 * The options most detectors need are picked out (message type, host name,
 * parameter request list, vendor class, client id, requested IP, server
 * id); every option, including those in the sname and file fields when
 * option 52 ("overload") says so, is reachable through the iterator
 * mm_dhcp_opt_first() / mm_dhcp_opt_next(). When an option appears more
 * than once (RFC 3396 long options), the fixed members keep the first
 * instance; the iterator returns each instance.
 */
#ifndef MIMAMORI_DHCP_H
#define MIMAMORI_DHCP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "packet.h"

#ifdef __cplusplus
extern "C" {
#endif

/** UDP ports of DHCPv4. */
#define MM_DHCP_SERVER_PORT 67
#define MM_DHCP_CLIENT_PORT 68

/** Size of the fixed BOOTP header, up to and including the magic cookie. */
#define MM_DHCP_HEADER_LEN 240

/** Option codes the parser picks out (RFC 2132). */
enum mm_dhcp_option {
	MM_DHCP_OPT_PAD = 0,
	MM_DHCP_OPT_SUBNET_MASK = 1,
	MM_DHCP_OPT_ROUTER = 3,
	MM_DHCP_OPT_DNS = 6,
	MM_DHCP_OPT_HOSTNAME = 12,
	MM_DHCP_OPT_DOMAIN = 15,
	MM_DHCP_OPT_REQUESTED_IP = 50,
	MM_DHCP_OPT_LEASE_TIME = 51,
	MM_DHCP_OPT_OVERLOAD = 52,
	MM_DHCP_OPT_MSG_TYPE = 53,
	MM_DHCP_OPT_SERVER_ID = 54,
	MM_DHCP_OPT_PARAM_LIST = 55,
	MM_DHCP_OPT_MAX_SIZE = 57,
	MM_DHCP_OPT_VENDOR_CLASS = 60,
	MM_DHCP_OPT_CLIENT_ID = 61,
	MM_DHCP_OPT_CLIENT_FQDN = 81,
	MM_DHCP_OPT_END = 255
};

/** DHCP message types (option 53). */
enum mm_dhcp_msg_type {
	MM_DHCP_DISCOVER = 1,
	MM_DHCP_OFFER = 2,
	MM_DHCP_REQUEST = 3,
	MM_DHCP_DECLINE = 4,
	MM_DHCP_ACK = 5,
	MM_DHCP_NAK = 6,
	MM_DHCP_RELEASE = 7,
	MM_DHCP_INFORM = 8,
	MM_DHCP_FORCERENEW = 9,  /**< RFC 3203 */
	MM_DHCP_LEASEQUERY = 10, /**< RFC 4388 */
	MM_DHCP_LEASEUNASSIGNED = 11,
	MM_DHCP_LEASEUNKNOWN = 12,
	MM_DHCP_LEASEACTIVE = 13
};

/** Flags of mm_dhcp_msg.flags_parse: what was odd about the message. */
enum mm_dhcp_parse_flag {
	MM_DHCP_F_NO_END = 1u << 0,       /**< options ended without option 255 */
	MM_DHCP_F_BAD_OPTION = 1u << 1,   /**< an option length ran past its field:
	                                       options after it were not read */
	MM_DHCP_F_OVERLOAD = 1u << 2,     /**< option 52 present and honoured */
	MM_DHCP_F_BAD_OVERLOAD = 1u << 3, /**< option 52 malformed: ignored */
	MM_DHCP_F_BAD_HLEN = 1u << 4,     /**< hlen > 16: chaddr_len clipped */
	MM_DHCP_F_TOO_MANY = 1u << 5      /**< more than MM_DHCP_MAX_OPTIONS options */
};

/** Options read per message at most; the rest are ignored (flagged). */
#define MM_DHCP_MAX_OPTIONS 255

/** A byte string borrowed from the payload; len 0 and p NULL when absent. */
struct mm_dhcp_bytes {
	const uint8_t *p;
	uint8_t len;
};

/**
 * A parsed DHCPv4 message. Every pointer borrows from the payload given
 * to mm_dhcp_parse(). Addresses equal to 0.0.0.0 in the header are still
 * family 4 (the header always carries them); option addresses have family
 * 0 when the option is absent or malformed.
 */
struct mm_dhcp_msg {
	uint8_t op;    /**< 1 BOOTREQUEST, 2 BOOTREPLY */
	uint8_t htype; /**< 1 for Ethernet */
	uint8_t hlen;  /**< as sent */
	uint8_t hops;
	uint32_t xid; /**< host byte order */
	uint16_t secs;
	uint16_t flags; /**< 0x8000: broadcast */
	struct mm_addr ciaddr;
	struct mm_addr yiaddr;
	struct mm_addr siaddr;
	struct mm_addr giaddr;
	const uint8_t *chaddr; /**< client hardware address (chaddr_len bytes) */
	uint8_t chaddr_len;    /**< hlen clipped to 16 */

	uint8_t msg_type;                  /**< option 53, 0 if absent (plain BOOTP) */
	uint8_t overload;                  /**< option 52: 1 file, 2 sname, 3 both */
	struct mm_dhcp_bytes hostname;     /**< option 12 (not NUL-terminated) */
	struct mm_dhcp_bytes param_list;   /**< option 55: requested option codes */
	struct mm_dhcp_bytes vendor_class; /**< option 60 */
	struct mm_dhcp_bytes client_id;    /**< option 61: type byte then id */
	struct mm_dhcp_bytes client_fqdn;  /**< option 81: 3 flag bytes then name */
	struct mm_addr requested_ip;       /**< option 50 */
	struct mm_addr server_id;          /**< option 54 */
	uint16_t n_options;                /**< options seen, pads and end excluded */
	uint32_t flags_parse;              /**< enum mm_dhcp_parse_flag bits */

	/* For the iterator: the option areas (options field, then file and
	 * sname when overloaded). */
	const uint8_t *area[3];
	uint16_t area_len[3];
};

/** One option, as returned by the iterator. */
struct mm_dhcp_opt {
	uint8_t code;
	uint8_t len;
	const uint8_t *value; /**< len bytes, borrowed from the payload */
};

/** Iterator state over the options of a parsed message. */
struct mm_dhcp_iter {
	const struct mm_dhcp_msg *msg;
	uint32_t area;
	uint32_t off;
	uint32_t count;
};

/**
 * Parse a DHCPv4 message from a UDP payload.
 * Returns MM_OK, MM_ERR_TRUNCATED when the payload is shorter than the
 * 240-byte header, or MM_ERR_PARSE when the magic cookie is missing (a
 * plain BOOTP message without options: the header fields are still filled
 * in). Malformed options do not fail the parse: they stop option reading
 * and set a bit in out->flags_parse.
 */
int mm_dhcp_parse(struct mm_dhcp_msg *out, const uint8_t *payload, size_t len);

/**
 * Start iterating over all options of msg (in wire order: options field,
 * then file, then sname when option 52 overloads them). Pads and the end
 * option are skipped. Returns 1 and fills *out when there is an option, 0 at
 * the end.
 */
int mm_dhcp_opt_first(struct mm_dhcp_opt *out, struct mm_dhcp_iter *it,
                      const struct mm_dhcp_msg *msg);
/** The next option after mm_dhcp_opt_first(): 1 and *out filled, 0 at the end. */
int mm_dhcp_opt_next(struct mm_dhcp_opt *out, struct mm_dhcp_iter *it);

/**
 * Find the first instance of option code. Returns 1 and fills *out, or 0.
 */
int mm_dhcp_find(struct mm_dhcp_opt *out, const struct mm_dhcp_msg *msg, uint8_t code);

/** Buffer size that fits any fingerprint string (255 codes of "255,"). */
#define MM_DHCP_FINGERPRINT_MAX 1024

/**
 * Write the parameter request list (option 55) as the comma-separated
 * decimal fingerprint ("1,3,6,15,119,252") into out (outsz bytes, always
 * NUL-terminated). Returns the string length, 0 when the option is absent,
 * or MM_ERR_FULL when it did not fit (out holds the codes that did, without
 * a trailing comma).
 */
int mm_dhcp_fingerprint(char *out, size_t outsz, const struct mm_dhcp_msg *msg);

/**
 * Copy a byte string (host name, vendor class) into out as printable text
 * for events and logs: bytes outside printable ASCII become '?', trailing
 * NULs (some clients send them) are dropped, and the copy is cut to fit
 * outsz - 1. Returns out.
 */
char *mm_dhcp_text(char *out, size_t outsz, const struct mm_dhcp_bytes *b);

/** Name of a message type ("DISCOVER"...), "UNKNOWN" otherwise. Static. */
const char *mm_dhcp_msg_type_name(int type);

#ifdef __cplusplus
}
#endif

#endif
