/*
 * Packet sources behind mm_capture_open(): a live interface or a capture
 * file (pcap or pcapng) through libpcap, with a BPF filter, and the
 * per-source statistics replay prints at the end. Runs in workers and in
 * replay; decoding is sdk/src/packet.c.
 */
#ifndef MM_CORE_CAPTURE_H
#define MM_CORE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "mimamori/packet.h"
#include "mimamori/plugin.h"

struct mm_capture;

/* Running totals over every packet a source returned. */
struct mm_capture_stats {
	uint64_t packets;
	uint64_t bytes; /* wire length */
	uint64_t ipv4, ipv6, arp, tcp, udp, icmp, other;
	uint64_t wlan_mgmt, wlan_ctrl, wlan_data;
	uint64_t decode_errors; /* sum of the array below */
	uint64_t decode_error[MM_DEC__COUNT];
	uint64_t kernel_drops; /* live capture: pcap_stats ps_drop + ps_ifdrop */
};

/*
 * Open a source. Live (opts->interface): pcap_create + options +
 * pcap_activate, non-blocking. File (opts->file): pcap_open_offline, which
 * reads both pcap and pcapng. A bad filter, a missing file or interface, or
 * no permission is an error with libpcap's reason written to err.
 */
int mm_capture_open(struct mm_capture **out, const struct mm_capture_opts *opts, char *err,
                    size_t errlen);

/* A file descriptor to poll for readability (live), or -1 (files). */
int mm_capture_fd(const struct mm_capture *c);
int mm_capture_linktype(const struct mm_capture *c);

/*
 * Read and decode the next packet into *pkt (borrowed until the next call).
 * Returns 1 with a packet, 0 when a live source has nothing now,
 * MM_ERR_CLOSED at the end of a file, or another negative error. Frames that
 * fail to decode are still returned (pkt->decode_error set) and counted.
 */
int mm_capture_next(struct mm_capture *c, struct mm_packet *pkt);

/* Apply a BPF filter to packets fed through mm_capture_filter_match (used by
 * replay, where one file feeds several plugin captures with their own
 * filters). Returns MM_OK or MM_ERR_PARSE with the reason in err. */
struct mm_bpf;
int mm_bpf_compile(struct mm_bpf **out, int linktype, int snaplen, const char *expr, char *err,
                   size_t errlen);
int mm_bpf_match(const struct mm_bpf *f, const struct mm_packet *pkt);
void mm_bpf_free(struct mm_bpf *f);

const struct mm_capture_stats *mm_capture_stats(const struct mm_capture *c);
/* Add one decoded packet to stats (also used by replay for its summary). */
void mm_capture_stats_add(struct mm_capture_stats *s, const struct mm_packet *pkt);
void mm_capture_close(struct mm_capture *c);

#endif
