/*
 * Fuzz target for the event decoder (core/event.c), the code that turns
 * bytes from another process into an event in the aggregator. Whatever
 * decodes must re-encode, decode again to the same bytes and render as JSON
 * and as a pretty line without error. The one-pass checker the aggregator
 * uses (mm_event_check) must agree with the decoder on every input: the
 * same verdict, the same id, kind and severity, and byte for byte the JSON
 * mm_event_to_json renders from the decoded event.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "mimamori/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* mm_event_check against the decoder; rc is what the decoder said. */
static void
check_agrees(const uint8_t *data, size_t size, int rc, const struct mm_event *ev)
{
	struct mm_event_view v1, v2;
	struct mm_buf j = MM_BUF_INIT, want = MM_BUF_INIT;
	int rc1, rc2;

	/* Something already in the buffer must stay as it is. */
	if (mm_buf_append(&j, "x", 1) != MM_OK)
		abort();
	rc1 = mm_event_check(&v1, data, size, NULL);
	rc2 = mm_event_check(&v2, data, size, &j);
	if (rc1 != rc || rc2 != rc)
		abort();
	if (rc != MM_OK) {
		if (j.len != 1)
			abort();
		goto out;
	}
	if (mm_buf_append(&want, "x", 1) != MM_OK || mm_event_to_json(ev, &want) != MM_OK)
		abort();
	if (j.len != want.len || memcmp(j.data, want.data, j.len) != 0)
		abort();
	if (strcmp(v1.id, mm_event_id(ev)) != 0 || strcmp(v2.id, v1.id) != 0 ||
	    v1.kind != mm_event_kind(ev) || v2.kind != v1.kind || v1.sev != mm_event_sev(ev) ||
	    v2.sev != v1.sev)
		abort();
	/* The id's bytes, as the spool would parse its text. */
	for (size_t i = 0, k = 0; i < 36 && k < 32; i++) {
		int c = v1.id[i], n = c >= 'a' ? c - 'a' + 10 : c - '0';
		if (c == '-')
			continue;
		if (((v1.idb[k / 2] >> (k % 2 ? 0 : 4)) & 15) != n ||
		    v2.idb[k / 2] != v1.idb[k / 2])
			abort();
		k++;
	}
out:
	mm_buf_free(&j);
	mm_buf_free(&want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_event *ev = NULL, *ev2 = NULL;
	struct mm_buf b1 = MM_BUF_INIT, b2 = MM_BUF_INIT, j1 = MM_BUF_INIT, j2 = MM_BUF_INIT;
	int rc;

	rc = mm_event_decode(&ev, data, size);
	check_agrees(data, size, rc, ev);
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
