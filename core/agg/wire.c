/*
 * Encoding and validating parsing of the worker-to-aggregator frames. The
 * batch parser runs in the aggregator on bytes from any local (or, with
 * tcp://, remote) peer, so it checks every length against the frame and the
 * limits before anything is read. The ack parser runs in workers.
 */
#include "wire.h"

#include <string.h>

#include "event.h"
#include "mimamori/error.h"

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static int
module_ok(const char *m, size_t n)
{
	size_t i;

	if (n == 0 || n > MM_WIRE_MAX_MODULE)
		return 0;
	for (i = 0; i < n; i++) {
		char c = m[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == '/'))
			return 0;
	}
	return 1;
}

size_t
mm_wire_batch_header_len(const char *module)
{
	return 4 + 8 + 4 + 1 + strlen(module);
}

int
mm_wire_batch_begin(struct mm_buf *out, uint64_t id, const char *module)
{
	size_t mlen = strlen(module);
	uint8_t hdr[17];
	int rc;

	if (!module_ok(module, mlen))
		return MM_ERR_INVAL;
	memcpy(hdr, MM_WIRE_BATCH_MAGIC, 4);
	put_u64(hdr + 4, id);
	put_u32(hdr + 12, 0);
	hdr[16] = (uint8_t)mlen;
	mm_buf_reset(out);
	if ((rc = mm_buf_append(out, hdr, sizeof(hdr))) != MM_OK)
		return rc;
	return mm_buf_append(out, module, mlen);
}

int
mm_wire_put_event(struct mm_buf *out, const uint8_t *ev, size_t len)
{
	uint8_t l[4];
	int rc;

	if (len == 0 || len > MM_EVENT_MAX_BYTES)
		return MM_ERR_TOOBIG;
	put_u32(l, (uint32_t)len);
	if ((rc = mm_buf_append(out, l, 4)) != MM_OK)
		return rc;
	return mm_buf_append(out, ev, len);
}

void
mm_wire_batch_end(struct mm_buf *out, uint32_t count)
{
	if (out->len >= 16)
		put_u32(out->data + 12, count);
}

int
mm_wire_parse_batch(struct mm_wire_batch *out, const uint8_t *data, size_t len)
{
	const uint8_t *p, *end;
	uint32_t i, n;
	size_t mlen;

	memset(out, 0, sizeof(*out));
	if (len > MM_WIRE_MAX_BATCH_BYTES)
		return MM_ERR_TOOBIG;
	if (len < 17)
		return MM_ERR_TRUNCATED;
	if (memcmp(data, MM_WIRE_BATCH_MAGIC, 4) != 0)
		return MM_ERR_PARSE;
	out->id = get_u64(data + 4);
	n = get_u32(data + 12);
	mlen = data[16];
	if (n == 0 || n > MM_WIRE_MAX_BATCH_EVENTS)
		return MM_ERR_RANGE;
	if (len < 17 + mlen)
		return MM_ERR_TRUNCATED;
	if (!module_ok((const char *)data + 17, mlen))
		return MM_ERR_PARSE;
	memcpy(out->module, data + 17, mlen);
	out->module[mlen] = '\0';
	p = data + 17 + mlen;
	end = data + len;
	out->events = p;
	for (i = 0; i < n; i++) {
		uint32_t l;

		if ((size_t)(end - p) < 4)
			return MM_ERR_TRUNCATED;
		l = get_u32(p);
		p += 4;
		if (l == 0 || l > MM_EVENT_MAX_BYTES)
			return MM_ERR_TOOBIG;
		if ((size_t)(end - p) < l)
			return MM_ERR_TRUNCATED;
		p += l;
	}
	if (p != end)
		return MM_ERR_PARSE; /* trailing bytes: the count is wrong */
	out->count = n;
	out->events_len = (size_t)(end - out->events);
	return MM_OK;
}

void
mm_wire_iter_init(struct mm_wire_iter *it, const struct mm_wire_batch *b)
{
	it->p = b->events;
	it->end = b->events ? b->events + b->events_len : NULL;
}

int
mm_wire_iter_next(struct mm_wire_iter *it, const uint8_t **ev, size_t *len)
{
	uint32_t l;

	if (it->p == NULL || (size_t)(it->end - it->p) < 4)
		return 0;
	l = get_u32(it->p);
	if ((size_t)(it->end - it->p) - 4 < l)
		return 0;
	*ev = it->p + 4;
	*len = l;
	it->p += 4 + (size_t)l;
	return 1;
}

int
mm_wire_encode_ack(struct mm_buf *out, uint64_t id, int status, const uint32_t *rej, uint32_t nrej,
                   const char *reason)
{
	uint8_t hdr[17], v[4];
	size_t rlen = reason ? strlen(reason) : 0;
	uint32_t i;
	int rc;

	if (rlen > MM_WIRE_MAX_REASON)
		rlen = MM_WIRE_MAX_REASON;
	if (nrej > MM_WIRE_MAX_BATCH_EVENTS)
		return MM_ERR_RANGE;
	memcpy(hdr, MM_WIRE_ACK_MAGIC, 4);
	put_u64(hdr + 4, id);
	hdr[12] = (uint8_t)status;
	put_u32(hdr + 13, nrej);
	mm_buf_reset(out);
	if ((rc = mm_buf_append(out, hdr, sizeof(hdr))) != MM_OK)
		return rc;
	for (i = 0; i < nrej; i++) {
		put_u32(v, rej[i]);
		if ((rc = mm_buf_append(out, v, 4)) != MM_OK)
			return rc;
	}
	if ((rc = mm_buf_putc(out, (char)rlen)) != MM_OK)
		return rc;
	return mm_buf_append(out, reason, rlen);
}

int
mm_wire_parse_ack(struct mm_wire_ack *out, const uint8_t *data, size_t len)
{
	size_t need, rlen;

	memset(out, 0, sizeof(*out));
	if (len < 18)
		return MM_ERR_TRUNCATED;
	if (memcmp(data, MM_WIRE_ACK_MAGIC, 4) != 0)
		return MM_ERR_PARSE;
	out->id = get_u64(data + 4);
	out->status = data[12];
	if (out->status > MM_WIRE_BUSY)
		return MM_ERR_PARSE;
	out->nrej = get_u32(data + 13);
	if (out->nrej > MM_WIRE_MAX_BATCH_EVENTS)
		return MM_ERR_RANGE;
	need = 17 + (size_t)out->nrej * 4 + 1;
	if (len < need)
		return MM_ERR_TRUNCATED;
	out->rej = data + 17;
	rlen = data[need - 1];
	if (rlen > MM_WIRE_MAX_REASON || len != need + rlen)
		return MM_ERR_PARSE;
	memcpy(out->reason, data + need, rlen);
	out->reason[rlen] = '\0';
	return MM_OK;
}

uint32_t
mm_wire_ack_rej(const struct mm_wire_ack *a, uint32_t i)
{
	return i < a->nrej ? get_u32(a->rej + (size_t)i * 4) : UINT32_MAX;
}
