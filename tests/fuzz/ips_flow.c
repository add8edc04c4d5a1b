/*
 * libFuzzer target for the SDK flow table: the input is read as a sequence
 * of packet records (addresses, ports, flags, sequence numbers, a time step
 * and a payload slice), so every TCP state transition, ICMP attribution,
 * reassembly path and the flow cap are reached with hostile values.
 */
#include <stdint.h>
#include <string.h>

#include "mimamori/flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_data(void *user, struct mm_flow *f, int dir, const uint8_t *d, size_t len)
{
	size_t *sum = user;
	size_t i;

	/* Touch every delivered byte so a bad pointer is caught. */
	if (d != NULL)
		for (i = 0; i < len; i++)
			*sum += d[i];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_flow_table *t = NULL;
	struct mm_flow_table_opts o;
	size_t sum = 0, off = 0;
	uint64_t now = 1000000000ull;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.max_flows = 8;
	o.reassemble = 1;
	o.stream_window = 256;
	o.stream_memcap = 1024;
	o.on_data = on_data;
	o.user = &sum;
	if (mm_flow_table_new(&t, &o) != 0)
		return 0;
	while (size - off >= 16) {
		const uint8_t *r = data + off;
		struct mm_packet p;
		uint32_t plen = r[15] % 64;

		memset(&p, 0, sizeof(p));
		p.size = sizeof(p);
		p.layers = MM_L_IPV4;
		p.ip_version = 4;
		p.src.family = p.dst.family = 4;
		p.src.addr[3] = r[0] & 3;
		p.dst.addr[3] = (r[0] >> 2) & 3;
		p.sport = (uint16_t)(r[1] & 7);
		p.dport = (uint16_t)((r[1] >> 3) & 7);
		switch (r[2] % 4) {
		case 0:
			p.ip_proto = 6;
			p.layers |= MM_L_TCP;
			break;
		case 1:
			p.ip_proto = 17;
			p.layers |= MM_L_UDP;
			break;
		case 2:
			p.ip_proto = 1;
			p.layers |= MM_L_ICMP | MM_L_ICMP_INNER;
			p.icmp_type = r[3] & 3 ? 3 : 11;
			p.icmp_inner.ip_proto = r[3] & 4 ? 6 : 17;
			p.icmp_inner.src = p.dst;
			p.icmp_inner.dst = p.src;
			p.icmp_inner.sport = p.dport;
			p.icmp_inner.dport = p.sport;
			break;
		default:
			p.ip_proto = r[3];
			if (r[3] & 1)
				p.layers |= MM_L_FRAG;
			break;
		}
		p.tcp_flags = r[4];
		memcpy(&p.tcp_seq, r + 5, 4);
		p.tcp_seq &= 0x800003ffu; /* near values, and a far jump now and then */
		now += (uint64_t)r[9] * r[10] * 10000000ull;
		off += 16;
		if (plen > size - off)
			plen = (uint32_t)(size - off);
		p.payload = plen ? data + off : NULL;
		p.payload_len = plen;
		off += plen;
		mm_flow_table_process(t, &p, now);
		if (r[11] == 0xff)
			mm_flow_table_expire(t, now + 4000000000000ull);
	}
	mm_flow_table_free(t);
	return (int)(sum & 0);
}
