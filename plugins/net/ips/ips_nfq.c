/*
 * NFQUEUE source of the ips plugin's inline mode (runs in the ips worker).
 * It binds one netfilter queue with libnetfilter_queue, asks for whole
 * packets (NFQNL_COPY_PACKET) and sets NFQA_CFG_F_FAIL_OPEN so that a full
 * queue makes the kernel accept packets rather than drop them; together
 * with --queue-bypass in the iptables rule (no listener: accept), a slow or
 * stopped sensor never cuts the customer's traffic. Every packet read is
 * given a verdict before the next one is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ips_nfq.h"
#include "mimamori/error.h"

#ifdef MM_IPS_HAVE_NFQ
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <sys/socket.h>

/* Packets handled per read call before returning to the event loop. */
#define MAX_BATCH 256

struct ips_nfq {
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	int fd;
	ips_nfq_cb cb;
	void *user;
	struct ips_nfq_stats st;
	char buf[65536 + 4096];
};

static int
on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
	struct ips_nfq *q = data;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	unsigned char *payload = NULL;
	int len, drop = 0;
	uint32_t id;

	(void)msg;
	if (ph == NULL)
		return 0;
	id = ntohl(ph->packet_id);
	len = nfq_get_payload(nfa, &payload);
	q->st.packets++;
	if (len > 0 && payload != NULL)
		drop = q->cb(q->user, payload, (size_t)len);
	if (drop)
		q->st.dropped++;
	else
		q->st.accepted++;
	if (nfq_set_verdict(qh, id, drop ? NF_DROP : NF_ACCEPT, 0, NULL) < 0)
		q->st.verdict_errors++;
	return 0;
}

int
ips_nfq_open(struct ips_nfq **out, uint16_t num, ips_nfq_cb cb, void *user, char *err,
             size_t errlen)
{
	struct ips_nfq *q = calloc(1, sizeof(*q));
	int rc = MM_ERR_IO, fl;

	if (q == NULL)
		return MM_ERR_NOMEM;
	q->cb = cb;
	q->user = user;
	q->h = nfq_open();
	if (q->h == NULL) {
		snprintf(err, errlen, "nfq_open: %s", strerror(errno));
		rc = errno == EPERM ? MM_ERR_PERM : MM_ERR_IO;
		goto fail;
	}
	/* Needed by kernels before 3.8, harmless (and failing) after. */
	nfq_unbind_pf(q->h, AF_INET);
	nfq_bind_pf(q->h, AF_INET);
	nfq_unbind_pf(q->h, AF_INET6);
	nfq_bind_pf(q->h, AF_INET6);
	q->qh = nfq_create_queue(q->h, num, on_packet, q);
	if (q->qh == NULL) {
		snprintf(err, errlen,
		         "nfq_create_queue %u: %s (another listener, or no permission)",
		         (unsigned)num, strerror(errno));
		rc = errno == EPERM ? MM_ERR_PERM : MM_ERR_IO;
		goto fail;
	}
	if (nfq_set_mode(q->qh, NFQNL_COPY_PACKET, 0xffff) < 0) {
		snprintf(err, errlen, "nfq_set_mode: %s", strerror(errno));
		goto fail;
	}
	nfq_set_queue_maxlen(q->qh, 4096);
	/* Fail open: a full queue accepts instead of dropping. */
	if (nfq_set_queue_flags(q->qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN) < 0) {
		snprintf(err, errlen, "NFQA_CFG_F_FAIL_OPEN: %s", strerror(errno));
		goto fail;
	}
	q->fd = nfq_fd(q->h);
	fl = fcntl(q->fd, F_GETFL);
	if (fl < 0 || fcntl(q->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		goto fail;
	}
	*out = q;
	return MM_OK;
fail:
	ips_nfq_close(q);
	return rc;
}

int
ips_nfq_fd(const struct ips_nfq *q)
{
	return q->fd;
}

int
ips_nfq_read(struct ips_nfq *q)
{
	int n = 0;

	while (n < MAX_BATCH) {
		ssize_t rv = recv(q->fd, q->buf, sizeof(q->buf), MSG_DONTWAIT);
		if (rv < 0) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS: the kernel dropped messages for us (the queue
			 * itself fails open); count it and go on. */
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				q->st.recv_errors++;
			if (errno == ENOBUFS)
				continue;
			break;
		}
		nfq_handle_packet(q->h, q->buf, (int)rv);
		n++;
	}
	return n;
}

const struct ips_nfq_stats *
ips_nfq_stats(const struct ips_nfq *q)
{
	return &q->st;
}

void
ips_nfq_close(struct ips_nfq *q)
{
	if (q == NULL)
		return;
	if (q->qh)
		nfq_destroy_queue(q->qh);
	if (q->h)
		nfq_close(q->h);
	free(q);
}

#else /* !MM_IPS_HAVE_NFQ */

struct ips_nfq {
	struct ips_nfq_stats st;
};

int
ips_nfq_open(struct ips_nfq **out, uint16_t num, ips_nfq_cb cb, void *user, char *err,
             size_t errlen)
{
	(void)out;
	(void)num;
	(void)cb;
	(void)user;
	snprintf(err, errlen, "built without libnetfilter-queue");
	return MM_ERR_UNSUPPORTED;
}

int
ips_nfq_fd(const struct ips_nfq *q)
{
	(void)q;
	return -1;
}

int
ips_nfq_read(struct ips_nfq *q)
{
	(void)q;
	return 0;
}

const struct ips_nfq_stats *
ips_nfq_stats(const struct ips_nfq *q)
{
	return &q->st;
}

void
ips_nfq_close(struct ips_nfq *q)
{
	(void)q;
}

#endif
