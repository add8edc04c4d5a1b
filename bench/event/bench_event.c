/*
 * Throughput of the event path's codec: encoding a typical IPS alert with
 * mm_event_encode() and decoding it with mm_event_decode(), each against a
 * baseline measured in the same run: the same map packed directly with
 * msgpack_pack_*() (the cost of the bytes alone) and unpacked with
 * msgpack_unpack_next() (msgpack-c's own reader, no schema checks, no
 * tree). The baseline's bytes are checked to be identical to ours, so both
 * sides do the same work on the wire. It also times mm_event_to_json() on
 * the decoded event and the aggregator's whole per-event CPU work (decode,
 * id, kind and sev lookups, JSON line), with no baseline: that is what the
 * file sink path costs. Usage: bench_event [iterations].
 */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "event.h"
#include "mimamori/error.h"

static struct mm_event *
typical_alert(void)
{
	struct mm_event *ev = mm_event_create(MM_KIND_ALERT);
	struct mm_event_stamp st = {
	        .ts_ns = 1795799496123456789ull,
	        .seq = 123456,
	        .sensor_id = "s-0001",
	        .sensor_host = "utm1",
	        .sensor_role = "utm",
	        .sensor_site = "本社",
	        .plugin_name = "ips",
	        .plugin_version = "0.1.0",
	        .plugin_vendor = "mimamori",
	};
	int rc = MM_OK;

	rc |= mm_event_set_int(ev, "ocsf", MM_OCSF_DETECTION_FINDING);
	rc |= mm_event_set_str(ev, "cat", "scan");
	rc |= mm_event_set_int(ev, "sev", MM_SEV_HIGH);
	rc |= mm_event_set_str(ev, "action", "detected");
	rc |= mm_event_set_str(ev, "rule.ns", "ips");
	rc |= mm_event_set_int(ev, "rule.id", 2001219);
	rc |= mm_event_set_int(ev, "rule.rev", 20);
	rc |= mm_event_set_str(ev, "rule.name", "ET SCAN Potential SSH Scan");
	rc |= mm_event_set_str(ev, "src.ip", "192.0.2.7");
	rc |= mm_event_set_int(ev, "src.port", 51234);
	rc |= mm_event_set_str(ev, "dst.ip", "10.0.0.5");
	rc |= mm_event_set_int(ev, "dst.port", 22);
	rc |= mm_event_set_str(ev, "proto", "tcp");
	rc |= mm_event_set_str(
	        ev, "msg", "Someone on the internet is probing this network for open services.");
	rc |= mm_event_set_str(
	        ev, "msg_ja",
	        "インターネット上の第三者が、このネットワークで開いているサービスを探っています。");
	rc |= mm_event_set_str(ev, "msg_id", "ips.scan");
	rc |= mm_event_add_int(ev, "attrs.ports", 22);
	rc |= mm_event_add_int(ev, "attrs.ports", 2222);
	rc |= mm_event_stamp(ev, &st);
	if (rc != MM_OK || ev == NULL) {
		fprintf(stderr, "bench_event: cannot build the event\n");
		exit(1);
	}
	return ev;
}

static int
write_buf(void *data, const char *buf, size_t len)
{
	return mm_buf_append(data, buf, len) == MM_OK ? 0 : -1;
}

static void
s(msgpack_packer *pk, const char *str)
{
	size_t n = strlen(str);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, str, n);
}

/* The same event packed by hand, key by key. */
static void
bare_pack(struct mm_buf *b, const char *id)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, b, write_buf);
	msgpack_pack_map(&pk, 19);
	s(&pk, "v");
	msgpack_pack_int64(&pk, 1);
	s(&pk, "id");
	s(&pk, id);
	s(&pk, "seq");
	msgpack_pack_int64(&pk, 123456);
	s(&pk, "ts");
	msgpack_pack_int64(&pk, 1795799496123456789ll);
	s(&pk, "sensor");
	msgpack_pack_map(&pk, 4);
	s(&pk, "id");
	s(&pk, "s-0001");
	s(&pk, "host");
	s(&pk, "utm1");
	s(&pk, "role");
	s(&pk, "utm");
	s(&pk, "site");
	s(&pk, "本社");
	s(&pk, "plugin");
	msgpack_pack_map(&pk, 3);
	s(&pk, "name");
	s(&pk, "ips");
	s(&pk, "version");
	s(&pk, "0.1.0");
	s(&pk, "vendor");
	s(&pk, "mimamori");
	s(&pk, "kind");
	s(&pk, "alert");
	s(&pk, "ocsf");
	msgpack_pack_int64(&pk, 2004);
	s(&pk, "cat");
	s(&pk, "scan");
	s(&pk, "sev");
	msgpack_pack_int64(&pk, 4);
	s(&pk, "action");
	s(&pk, "detected");
	s(&pk, "rule");
	msgpack_pack_map(&pk, 4);
	s(&pk, "ns");
	s(&pk, "ips");
	s(&pk, "id");
	msgpack_pack_int64(&pk, 2001219);
	s(&pk, "rev");
	msgpack_pack_int64(&pk, 20);
	s(&pk, "name");
	s(&pk, "ET SCAN Potential SSH Scan");
	s(&pk, "src");
	msgpack_pack_map(&pk, 2);
	s(&pk, "ip");
	s(&pk, "192.0.2.7");
	s(&pk, "port");
	msgpack_pack_int64(&pk, 51234);
	s(&pk, "dst");
	msgpack_pack_map(&pk, 2);
	s(&pk, "ip");
	s(&pk, "10.0.0.5");
	s(&pk, "port");
	msgpack_pack_int64(&pk, 22);
	s(&pk, "proto");
	s(&pk, "tcp");
	s(&pk, "msg");
	s(&pk, "Someone on the internet is probing this network for open services.");
	s(&pk, "msg_ja");
	s(&pk, "インターネット上の第三者が、このネットワークで開いているサービスを探っています。");
	s(&pk, "msg_id");
	s(&pk, "ips.scan");
	s(&pk, "attrs");
	msgpack_pack_map(&pk, 1);
	s(&pk, "ports");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int64(&pk, 22);
	msgpack_pack_int64(&pk, 2222);
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000, i;
	struct mm_event *ev = typical_alert(), *d;
	struct mm_buf b = MM_BUF_INIT, base = MM_BUF_INIT;
	double t0, enc, bare_enc, dec, bare_dec, json, agg, check;
	struct mm_buf line = MM_BUF_INIT;
	long sum = 0, sum2 = 0;
	msgpack_unpacked u;
	size_t off;

	if (n <= 0)
		n = 200000;
	if (mm_event_encode(ev, &b) != MM_OK)
		return 1;
	bare_pack(&base, mm_event_id(ev));
	if (b.len != base.len || memcmp(b.data, base.data, b.len) != 0) {
		fprintf(stderr, "bench_event: baseline bytes differ from the event's\n");
		return 1;
	}

	t0 = mm_bench_now();
	for (i = 0; i < n; i++) {
		mm_buf_reset(&b);
		if (mm_event_encode(ev, &b) != MM_OK)
			return 1;
	}
	enc = mm_bench_now() - t0;
	t0 = mm_bench_now();
	for (i = 0; i < n; i++) {
		mm_buf_reset(&base);
		bare_pack(&base, mm_event_id(ev));
	}
	bare_enc = mm_bench_now() - t0;

	t0 = mm_bench_now();
	for (i = 0; i < n; i++) {
		if (mm_event_decode(&d, b.data, b.len) != MM_OK)
			return 1;
		mm_event_free(d);
	}
	dec = mm_bench_now() - t0;
	msgpack_unpacked_init(&u);
	t0 = mm_bench_now();
	for (i = 0; i < n; i++) {
		off = 0;
		if (msgpack_unpack_next(&u, (const char *)b.data, b.len, &off) !=
		    MSGPACK_UNPACK_SUCCESS)
			return 1;
	}
	bare_dec = mm_bench_now() - t0;
	msgpack_unpacked_destroy(&u);

	if (mm_event_decode(&d, b.data, b.len) != MM_OK)
		return 1;
	t0 = mm_bench_now();
	for (i = 0; i < n; i++) {
		mm_buf_reset(&line);
		if (mm_event_to_json(d, &line) != MM_OK)
			return 1;
	}
	json = mm_bench_now() - t0;
	mm_event_free(d);
	/* What the aggregator does for each event it stores and writes to the
	 * file sink; lines accumulate as in one sink batch. */
	mm_buf_reset(&line);
	t0 = mm_bench_now();
	for (i = 0; i < n; i++) {
		if (mm_event_decode(&d, b.data, b.len) != MM_OK)
			return 1;
		sum += (long)strlen(mm_event_id(d)) + mm_event_kind(d) + mm_event_sev(d);
		if (i % 4096 == 0)
			mm_buf_reset(&line);
		if (mm_event_to_json(d, &line) != MM_OK || mm_buf_putc(&line, '\n') != MM_OK)
			return 1;
		mm_event_free(d);
	}
	agg = mm_bench_now() - t0;
	/* The same with the one-pass check and rendering the aggregator uses. */
	mm_buf_reset(&line);
	t0 = mm_bench_now();
	for (i = 0; i < n; i++) {
		struct mm_event_view v;

		if (i % 4096 == 0)
			mm_buf_reset(&line);
		if (mm_event_check(&v, b.data, b.len, &line) != MM_OK ||
		    mm_buf_putc(&line, '\n') != MM_OK)
			return 1;
		sum2 += (long)strlen(v.id) + v.kind + v.sev;
	}
	check = mm_bench_now() - t0;

	printf("event: %zu bytes, %ld iterations\n", b.len, n);
	printf("encode  mm_event_encode     %10.0f events/s\n", n / enc);
	printf("encode  bare msgpack_pack   %10.0f events/s   ratio %.2f\n", n / bare_enc,
	       enc / bare_enc);
	printf("decode  mm_event_decode     %10.0f events/s\n", n / dec);
	printf("decode  msgpack_unpack_next %10.0f events/s   ratio %.2f\n", n / bare_dec,
	       dec / bare_dec);
	printf("json    mm_event_to_json    %10.0f events/s\n", n / json);
	printf("agg     decode+lookups+json %10.0f events/s   (check %ld)\n", n / agg, sum / n);
	printf("agg     mm_event_check+json %10.0f events/s   ratio %.2f (check %ld)\n", n / check,
	       agg / check, sum2 / n);
	mm_event_free(ev);
	mm_buf_free(&line);
	mm_buf_free(&b);
	mm_buf_free(&base);
	return 0;
}
