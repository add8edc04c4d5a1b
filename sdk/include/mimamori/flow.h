/*
 * mimamori SDK: flows and TCP stream reassembly.
 *
 * A flow table groups decoded packets (struct mm_packet) into bidirectional
 * flows keyed on (protocol, addresses, ports), the key normalized so both
 * directions land on one entry. It tracks enough TCP state to tell a
 * completed handshake from a refused connection (RST from the responder, or
 * an ICMP/ICMPv6 unreachable that quotes the flow's SYN) and from an
 * unanswered one (timed out with only the SYN seen), and optionally
 * reassembles each direction of a TCP connection in order, delivering
 * contiguous bytes to a callback.
 *
 * A plugin owns its tables: there is no global state, so two plugins (or two
 * tables in one plugin) never see each other's flows. A table is driven from
 * one thread: call mm_flow_table_process() for every packet and
 * mm_flow_table_expire() from a timer (process also expires a few idle flows
 * on its own, so a replay without timers stays bounded).
 *
 * Every table is bounded: max_flows caps the number of flows (when full the
 * least recently seen flow is evicted and the eviction counted), and each
 * direction of a stream buffers at most stream_window bytes of out-of-order
 * data (the rest is skipped as a gap and counted). No input makes the table
 * grow past its caps or crash.
 */
#ifndef MIMAMORI_FLOW_H
#define MIMAMORI_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Direction of a packet within its flow. */
enum mm_flow_dir {
	MM_FLOW_TO_SERVER = 0, /**< from the initiator (the client) */
	MM_FLOW_TO_CLIENT = 1  /**< from the responder (the server) */
};

/** Connection state (TCP; UDP and others use NEW and ESTABLISHED only). */
enum mm_flow_state {
	MM_FLOW_NEW = 0,         /**< first packet seen (TCP: the SYN) */
	MM_FLOW_SYN_ACKED = 1,   /**< TCP: the responder answered SYN-ACK */
	MM_FLOW_ESTABLISHED = 2, /**< TCP: handshake done; UDP: both sides sent */
	MM_FLOW_CLOSING = 3,     /**< TCP: a FIN was seen */
	MM_FLOW_CLOSED = 4,      /**< TCP: both FINs, or a RST after establishment */
	MM_FLOW_REFUSED = 5      /**< TCP: RST or ICMP unreachable before any answer */
};

/** How a connection attempt ended, as far as the table saw it. */
enum mm_flow_outcome {
	MM_FLOW_PENDING = 0,      /**< nothing decided yet */
	MM_FLOW_COMPLETED = 1,    /**< the responder answered (SYN-ACK, or UDP reply) */
	MM_FLOW_REFUSED_RST = 2,  /**< TCP RST from the responder before any answer */
	MM_FLOW_REFUSED_ICMP = 3, /**< ICMP unreachable quoting the flow */
	MM_FLOW_UNANSWERED = 4    /**< expired with no answer at all */
};

/** Why a flow left the table (passed to on_end). */
enum mm_flow_end_reason {
	MM_FLOW_END_TIMEOUT = 0, /**< idle longer than its timeout */
	MM_FLOW_END_EVICTED = 1, /**< pushed out because the table was full */
	MM_FLOW_END_FLUSH = 2    /**< mm_flow_table_free() or mm_flow_table_flush() */
};

/**
 * One flow. The table owns it; plugins read the members and may set user
 * (their per-flow state), which they free in the on_end callback. Members
 * are only ever appended.
 */
struct mm_flow {
	uint8_t proto;        /**< IPPROTO_* */
	uint8_t state;        /**< enum mm_flow_state */
	uint8_t outcome;      /**< enum mm_flow_outcome */
	uint8_t tcp_seen_syn; /**< the client's SYN was seen (else picked up midstream) */
	struct mm_addr cli;   /**< initiator address */
	struct mm_addr srv;   /**< responder address */
	uint16_t cli_port;    /**< initiator port (0 for port-less protocols) */
	uint16_t srv_port;
	uint64_t first_ns;        /**< time of the first packet */
	uint64_t last_ns;         /**< time of the last packet */
	uint64_t pkts[2];         /**< per enum mm_flow_dir */
	uint64_t bytes[2];        /**< payload bytes per direction */
	uint64_t stream_gaps[2];  /**< reassembly: times bytes were skipped */
	uint64_t stream_bytes[2]; /**< reassembly: bytes delivered in order */
	void *user;               /**< the plugin's per-flow data, NULL at creation */
};

/**
 * Called with in-order stream bytes of one direction. data is borrowed for
 * the call. A gap (lost or unbuffered segment) is reported once as a call
 * with data == NULL and len the number of bytes skipped.
 */
typedef void (*mm_flow_data_cb)(void *user, struct mm_flow *flow, int dir, const uint8_t *data,
                                size_t len);
/** Called when a flow's state changes (old and new enum mm_flow_state). */
typedef void (*mm_flow_state_cb)(void *user, struct mm_flow *flow, int old_state, int new_state);
/**
 * Called once when a flow leaves the table (enum mm_flow_end_reason); the
 * plugin frees flow->user here. The flow is freed after the call.
 */
typedef void (*mm_flow_end_cb)(void *user, struct mm_flow *flow, int reason);

/**
 * Table options. Zero-initialize, set size = sizeof(struct
 * mm_flow_table_opts); every zero member takes the default in brackets.
 */
struct mm_flow_table_opts {
	uint32_t size;
	uint32_t max_flows;             /**< cap on live flows [65536] */
	uint64_t tcp_syn_timeout_ns;    /**< TCP before any answer [30 s] */
	uint64_t tcp_timeout_ns;        /**< TCP established [3600 s] */
	uint64_t tcp_closed_timeout_ns; /**< after RST/FIN/refusal [10 s] */
	uint64_t udp_timeout_ns;        /**< UDP [120 s] */
	uint64_t other_timeout_ns;      /**< other protocols [60 s] */
	int reassemble;                 /**< non-zero: deliver TCP streams to on_data */
	uint32_t stream_window;         /**< out-of-order bytes buffered per direction [65536] */
	uint64_t stream_memcap;         /**< out-of-order bytes buffered in total [64 MiB] */
	mm_flow_data_cb on_data;        /**< may be NULL */
	mm_flow_state_cb on_state;      /**< may be NULL */
	mm_flow_end_cb on_end;          /**< may be NULL */
	void *user;                     /**< passed to the callbacks */
};

/** Counters of a table (mm_flow_table_stats). */
struct mm_flow_stats {
	uint64_t packets; /**< packets given to process */
	uint64_t no_flow; /**< packets without IP (ARP, 802.11, errors) */
	uint64_t flows_created;
	uint64_t flows_expired;
	uint64_t flows_evicted; /**< memory cap hits: flows pushed out when full */
	uint64_t flows_active;
	uint64_t icmp_matched;       /**< ICMP errors attributed to a flow */
	uint64_t stream_gaps;        /**< gaps skipped (loss, window or memcap) */
	uint64_t stream_memcap_hits; /**< segments dropped by stream_memcap */
	uint64_t stream_window_hits; /**< segments beyond stream_window */
	uint64_t stream_buffered;    /**< out-of-order bytes buffered now */
};

struct mm_flow_table;

/**
 * Create a table. *out is owned by the caller and freed with
 * mm_flow_table_free(). Returns MM_OK, MM_ERR_INVAL or MM_ERR_NOMEM.
 */
int mm_flow_table_new(struct mm_flow_table **out, const struct mm_flow_table_opts *opts);

/**
 * Free a table: every live flow gets on_end(MM_FLOW_END_FLUSH) first.
 * NULL is a no-op.
 */
void mm_flow_table_free(struct mm_flow_table *table);

/**
 * Account one decoded packet: find or create its flow, update TCP state and
 * reassembly (which may call on_data and on_state), and expire a few idle
 * flows. Packets without IP are counted and ignored. ICMP errors quoting a
 * known flow update that flow (refusal) instead of creating one.
 * Returns MM_OK, or MM_ERR_INVAL for a NULL argument.
 */
int mm_flow_table_process(struct mm_flow_table *table, const struct mm_packet *pkt,
                          uint64_t now_ns);

/**
 * Like mm_flow_table_process(), also returning the packet's flow (borrowed:
 * valid until the next call on the table; NULL when the packet has none)
 * and its direction (enum mm_flow_dir). out and out_dir may be NULL.
 */
int mm_flow_table_update(struct mm_flow **out, int *out_dir, struct mm_flow_table *table,
                         const struct mm_packet *pkt, uint64_t now_ns);

/**
 * Expire every flow idle longer than its timeout at now_ns (calls on_end).
 * Returns the number of flows expired.
 */
size_t mm_flow_table_expire(struct mm_flow_table *table, uint64_t now_ns);

/** End every flow now (on_end with MM_FLOW_END_FLUSH), keeping the table. */
void mm_flow_table_flush(struct mm_flow_table *table);

/** The table's counters (borrowed, updated in place). */
const struct mm_flow_stats *mm_flow_table_stats(const struct mm_flow_table *table);

/** Name of an outcome ("completed", "refused_rst"...), never NULL. */
const char *mm_flow_outcome_name(int outcome);

#ifdef __cplusplus
}
#endif

#endif
