/*
 * Fuzz target for the event decoder (core/event.c), the code that turns
 * bytes from another process into an event in the aggregator. Whatever
 * decodes must re-encode, decode again to the same bytes and render as JSON
 * and as a pretty line without error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "mimamori/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_event *ev = NULL, *ev2 = NULL;
	struct mm_buf b1 = MM_BUF_INIT, b2 = MM_BUF_INIT, j1 = MM_BUF_INIT, j2 = MM_BUF_INIT;
	int rc;

	rc = mm_event_decode(&ev, data, size);
	if (rc != MM_OK) {
		if (ev != NULL || (rc != MM_ERR_PARSE && rc != MM_ERR_TOOBIG))
			abort();
		return 0;
	}
	rc = mm_event_encode(ev, &b1);
	/* float32 values grow to float64 on re-encoding: an input close to
	 * the limit may legitimately no longer fit. */
	if (rc == MM_ERR_TOOBIG)
		goto out;
	if (rc != MM_OK || mm_event_decode(&ev2, b1.data, b1.len) != MM_OK)
		abort();
	if (mm_event_encode(ev2, &b2) != MM_OK || b1.len != b2.len ||
	    memcmp(b1.data, b2.data, b1.len) != 0)
		abort();
	if (mm_event_to_json(ev, &j1) != MM_OK || mm_event_to_json(ev2, &j2) != MM_OK ||
	    j1.len != j2.len || memcmp(j1.data, j2.data, j1.len) != 0)
		abort();
	mm_buf_reset(&j1);
	if (mm_event_to_pretty(ev2, &j1) != MM_OK)
		abort();
out:
	mm_event_free(ev);
	mm_event_free(ev2);
	mm_buf_free(&b1);
	mm_buf_free(&b2);
	mm_buf_free(&j1);
	mm_buf_free(&j2);
	return 0;
}
