/*
 * NFQUEUE packet source of the ips plugin's inline mode: packets the
 * kernel queues (iptables ... -j NFQUEUE --queue-num N --queue-bypass) are
 * handed to a callback that returns the verdict. The queue is opened
 * fail-open (NFQA_CFG_F_FAIL_OPEN): when it is full the kernel accepts
 * instead of dropping.
 */
#ifndef MM_IPS_NFQ_H
#define MM_IPS_NFQ_H

#include <stddef.h>
#include <stdint.h>

/* Returns 1 to drop the packet, 0 to accept it. data is the IP packet. */
typedef int (*ips_nfq_cb)(void *user, const uint8_t *data, size_t len);

struct ips_nfq_stats {
	uint64_t packets, accepted, dropped, recv_errors, verdict_errors;
};

struct ips_nfq;

/* Open queue num. MM_ERR_UNSUPPORTED when built without libnetfilter-queue,
 * MM_ERR_PERM/MM_ERR_IO when the kernel refuses (err says why). */
int ips_nfq_open(struct ips_nfq **out, uint16_t num, ips_nfq_cb cb, void *user, char *err,
                 size_t errlen);
/* The descriptor to watch for reading. */
int ips_nfq_fd(const struct ips_nfq *q);
/* Handle every queued packet available now (non-blocking). Returns the
 * number handled. */
int ips_nfq_read(struct ips_nfq *q);
const struct ips_nfq_stats *ips_nfq_stats(const struct ips_nfq *q);
void ips_nfq_close(struct ips_nfq *q);

#endif
