/*
 * Fuzz target for the worker-to-aggregator frame parsers: the batch parser
 * the aggregator runs on every received frame (then iterating its records
 * and decoding each event, as the aggregator does) and the ack parser
 * workers run.
 */
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "mimamori/error.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_wire_batch b;
	struct mm_wire_ack a;
	struct mm_wire_iter it;
	const uint8_t *ev;
	size_t len;
	uint32_t i, n = 0;

	if (mm_wire_parse_batch(&b, data, size) == MM_OK) {
		mm_wire_iter_init(&it, &b);
		while (mm_wire_iter_next(&it, &ev, &len)) {
			struct mm_event *e = NULL;
			if (mm_event_decode(&e, ev, len) == MM_OK)
				(void)mm_event_id(e);
			mm_event_free(e);
			n++;
		}
		if (n != b.count)
			__builtin_trap();
	}
	if (mm_wire_parse_ack(&a, data, size) == MM_OK)
		for (i = 0; i < a.nrej; i++)
			(void)mm_wire_ack_rej(&a, i);
	return 0;
}
