/*
 * Socket options shared by the worker's DEALER and the aggregator's ROUTER.
 * Runs in workers and in the aggregator.
 */
#include "zsock.h"

#include <zmq.h>

#include "event.h"
#include "mimamori/error.h"
#include "wire.h"

int
mm_zsock_setup(void *sock, int role)
{
	int zero = 0, one = 1, ivl = 100, ivl_max = 2000, hwm = 1000;
	int64_t maxmsg;

	if (zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) != 0)
		return MM_ERR_IO;
	if (role == MM_ZSOCK_WORKER) {
		/* Without IMMEDIATE a DEALER queues batches into a pipe to a peer
		 * that may never come; with it, a send fails while disconnected
		 * and the batch stays in our own bounded buffer. */
		if (zmq_setsockopt(sock, ZMQ_IMMEDIATE, &one, sizeof(one)) != 0)
			return MM_ERR_IO;
		if (zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)) != 0 ||
		    zmq_setsockopt(sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max)) != 0)
			return MM_ERR_IO;
		maxmsg = 17 + 4 * MM_WIRE_MAX_BATCH_EVENTS + 1 + MM_WIRE_MAX_REASON;
	} else {
		/* Frames a little over the batch limit are received, refused
		 * and counted; far larger ones are cut off by ZeroMQ itself (it
		 * disconnects that peer) before anything is allocated. */
		maxmsg = (int64_t)MM_WIRE_MAX_BATCH_BYTES + 1024 * 1024;
		/* A ROUTER silently drops acks to a peer that is gone; that is
		 * what we want, the worker resends. */
	}
	if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0)
		return MM_ERR_IO;
	if (zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0)
		return MM_ERR_IO;
	/* CURVE: ZMQ_CURVE_SERVER / ZMQ_CURVE_SECRETKEY on the aggregator and
	 * ZMQ_CURVE_SERVERKEY / PUBLICKEY / SECRETKEY on workers go here. */
	return MM_OK;
}
