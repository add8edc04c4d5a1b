/*
 * Unit tests for core/event.c: the event tree and its schema checks, the
 * msgpack encoding (checked with msgpack-c's own reader), the strict
 * decoder against every class of malformed input, JSON and pretty
 * rendering, UUIDv7 ids and stamping.
 */
#include <check.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "mimamori/error.h"

#define FIXED_ID "01890a5d-ac96-774b-bcce-b302099a8057"
#define FIXED_TS INT64_C(1795799496123456789) /* 2026-11-27T17:11:36.123456789Z */
/* Later than any clock these tests run under, so that ids made for it are
 * never pushed forward by ids made before. */
#define FUTURE_TS INT64_C(4102444800123456789) /* 2100-01-01T00:00:00.123456789Z */
#define FUTURE_ID_PREFIX "03bb2cc3-d87b"

/* An event with every key of the schema set. */
static struct mm_event *
full_event(void)
{
	struct mm_event *ev = mm_event_create(MM_KIND_ALERT);
	struct mm_event_stamp st = {
	        .ts_ns = (uint64_t)FIXED_TS,
	        .seq = 7,
	        .sensor_id = "s-0001",
	        .sensor_host = "utm1",
	        .sensor_role = "utm",
	        .sensor_site = "本社",
	        .plugin_name = "ips",
	        .plugin_version = "0.1.0",
	        .plugin_vendor = "mimamori",
	};

	ck_assert_ptr_nonnull(ev);
	/* Set in an order unlike the encoding order on purpose. */
	ck_assert_int_eq(mm_event_set_int(ev, "first_ts", FIXED_TS - 60000000000), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "count", 12), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "attrs.ssid", "office-wifi"), MM_OK);
	ck_assert_int_eq(mm_event_set_double(ev, "attrs.score", 0.75), MM_OK);
	ck_assert_int_eq(mm_event_set_bool(ev, "attrs.nested.flag", 1), MM_OK);
	ck_assert_int_eq(mm_event_add_int(ev, "attrs.ports", 5228), MM_OK);
	ck_assert_int_eq(mm_event_add_str(ev, "attrs.ports", "https"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "dev.mac", "02:11:22:33:44:55"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "dev.ip", "192.168.1.23"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "dev.vendor", "Apple"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "dev.os", "iOS"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "dev.hostname", "iPhone"), MM_OK);
	ck_assert_int_eq(mm_event_set_bool(ev, "dev.randomized_mac", 1), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "file.name", "請求書.docm"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "file.mime", "application/zip"), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "file.size", 48213), MM_OK);
	ck_assert_int_eq(
	        mm_event_set_str(
	                ev, "file.sha256",
	                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
	        MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "file.path", "a.zip>b.docm>word/vbaProject.bin"),
	                 MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "mail.mid", "<abc@example.jp>"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "mail.from", "keiri@example.jp"), MM_OK);
	ck_assert_int_eq(mm_event_add_str(ev, "mail.to", "a@example.co.jp"), MM_OK);
	ck_assert_int_eq(mm_event_add_str(ev, "mail.to", "b@example.co.jp"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "mail.subj", "賞与支払届"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "msg_id", "ips.scan"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "msg_ja", "ポートスキャンを検知しました。"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "msg", "A port scan was detected."), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "app", "smb"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "proto", "tcp"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "dst.ip", "10.0.0.5"), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "dst.port", 445), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "dst.mac", "00:11:22:33:44:55"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "dst.host", "fileserver"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "src.ip", "2001:db8::7"), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "src.port", 51234), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "src.mac", "00:aa:bb:cc:dd:ee"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "src.host", "scanner"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "rule.ns", "ips"), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "rule.id", 2001219), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "rule.rev", 20), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "rule.name", "ET SCAN Potential SSH Scan"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "action", "blocked"), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "sev", MM_SEV_HIGH), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "cat", "scan"), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "ocsf", MM_OCSF_DETECTION_FINDING), MM_OK);
	ck_assert_int_eq(mm_event_stamp(ev, &st), MM_OK);
	return ev;
}

static void
encode(const struct mm_event *ev, struct mm_buf *b)
{
	mm_buf_reset(b);
	ck_assert_int_eq(mm_event_encode(ev, b), MM_OK);
}

static const char *
json(const struct mm_event *ev, struct mm_buf *b)
{
	mm_buf_reset(b);
	ck_assert_int_eq(mm_event_to_json(ev, b), MM_OK);
	return mm_buf_cstr(b);
}

START_TEST(test_roundtrip_full)
{
	struct mm_event *ev = full_event(), *d1 = NULL, *d2 = NULL;
	struct mm_buf b1 = MM_BUF_INIT, b2 = MM_BUF_INIT, j1 = MM_BUF_INIT, j2 = MM_BUF_INIT;
	int64_t v;

	encode(ev, &b1);
	ck_assert_int_eq(mm_event_decode(&d1, b1.data, b1.len), MM_OK);
	encode(d1, &b2);
	ck_assert_uint_eq(b1.len, b2.len);
	ck_assert_mem_eq(b1.data, b2.data, b1.len);
	ck_assert_str_eq(json(ev, &j1), json(d1, &j2));
	/* And once more from the decoded copy. */
	ck_assert_int_eq(mm_event_decode(&d2, b2.data, b2.len), MM_OK);
	ck_assert_str_eq(json(d2, &j2), mm_buf_cstr(&j1));

	ck_assert_str_eq(mm_event_get_str(d1, "sensor.site"), "本社");
	ck_assert_str_eq(mm_event_get_str(d1, "mail.subj"), "賞与支払届");
	ck_assert_int_eq(mm_event_get_int(d1, "rule.id", &v), MM_OK);
	ck_assert_int_eq(v, 2001219);
	ck_assert_int_eq(mm_event_ts(d1), FIXED_TS);
	ck_assert_int_eq(mm_event_sev(d1), MM_SEV_HIGH);
	ck_assert_int_eq(mm_event_kind(d1), MM_KIND_ALERT);
	ck_assert_str_eq(mm_event_id(d1), mm_event_id(ev));
	ck_assert_ptr_nonnull(
	        strstr(mm_buf_cstr(&j1), "\"to\":[\"a@example.co.jp\",\"b@example.co.jp\"]"));
	ck_assert_ptr_nonnull(strstr(mm_buf_cstr(&j1), "\"ports\":[5228,\"https\"]"));
	ck_assert_ptr_nonnull(strstr(mm_buf_cstr(&j1), "\"score\":0.75"));
	mm_event_free(d2);
	mm_event_free(d1);
	mm_event_free(ev);
	mm_buf_free(&b1);
	mm_buf_free(&b2);
	mm_buf_free(&j1);
	mm_buf_free(&j2);
}
END_TEST

/* The encoding read back with msgpack-c's own unpacker: "v" first, the
 * documented order, ts as an integer. */
START_TEST(test_encoding_order)
{
	static const char *const order[] = {
	        "v",      "id",     "seq",  "ts",  "sensor", "plugin", "kind",    "ocsf", "cat",
	        "sev",    "action", "rule", "src", "dst",    "proto",  "app",     "msg",  "msg_ja",
	        "msg_id", "mail",   "file", "dev", "attrs",  "count",  "first_ts"};
	struct mm_event *ev = full_event();
	struct mm_buf b = MM_BUF_INIT;
	msgpack_unpacked u;
	size_t off = 0, i;
	msgpack_object_map *m;

	encode(ev, &b);
	msgpack_unpacked_init(&u);
	ck_assert_int_eq(msgpack_unpack_next(&u, (const char *)b.data, b.len, &off),
	                 MSGPACK_UNPACK_SUCCESS);
	ck_assert_uint_eq(off, b.len);
	ck_assert_int_eq(u.data.type, MSGPACK_OBJECT_MAP);
	m = &u.data.via.map;
	ck_assert_uint_eq(m->size, sizeof(order) / sizeof(order[0]));
	for (i = 0; i < m->size; i++) {
		const msgpack_object *k = &m->ptr[i].key;

		ck_assert_int_eq(k->type, MSGPACK_OBJECT_STR);
		ck_assert_uint_eq(k->via.str.size, strlen(order[i]));
		ck_assert(memcmp(k->via.str.ptr, order[i], k->via.str.size) == 0);
	}
	ck_assert_int_eq(m->ptr[0].val.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(m->ptr[0].val.via.u64, 1);
	ck_assert_int_eq(m->ptr[3].val.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	ck_assert_uint_eq(m->ptr[3].val.via.u64, (uint64_t)FIXED_TS);
	ck_assert_int_eq(m->ptr[6].val.type, MSGPACK_OBJECT_STR);
	ck_assert(memcmp(m->ptr[6].val.via.str.ptr, "alert", 5) == 0);
	/* Sub-keys follow the schema too: src is {ip, port, mac, host}. */
	ck_assert_int_eq(m->ptr[12].val.type, MSGPACK_OBJECT_MAP);
	ck_assert(memcmp(m->ptr[12].val.via.map.ptr[1].key.via.str.ptr, "port", 4) == 0);
	ck_assert(memcmp(m->ptr[12].val.via.map.ptr[3].key.via.str.ptr, "host", 4) == 0);
	msgpack_unpacked_destroy(&u);
	mm_event_free(ev);
	mm_buf_free(&b);
}
END_TEST

START_TEST(test_json_exact)
{
	struct mm_event *ev = mm_event_create(MM_KIND_ALERT);
	struct mm_buf b = MM_BUF_INIT;
	const char *want =
	        "{\"v\":1,\"id\":\"" FIXED_ID
	        "\",\"seq\":42,\"ts\":\"2026-11-27T17:11:36.123456Z\","
	        "\"kind\":\"alert\",\"cat\":\"scan\",\"sev\":4,\"action\":\"detected\","
	        "\"src\":{\"ip\":\"192.0.2.7\",\"port\":51234},\"dst\":{\"ip\":\"10.0.0.5\","
	        "\"port\":445},"
	        "\"msg\":\"Scan \\\"q\\\" \\\\ t\\tn\\n\\u0001\\u001f del\x7f bad\xef\xbf\xbd end "
	        "cut\xef\xbf\xbdx sur\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd ok\xf0\x9f\x98\x80\","
	        "\"msg_ja\":\"ポートスキャンを検知しました\","
	        "\"attrs\":{\"rate\":0.1,\"nan\":null,\"big\":1e+300,\"whole\":2.0,\"ok\":true,"
	        "\"ports\":[22,445]},"
	        "\"count\":3,\"first_ts\":\"1969-12-31T23:59:59.999999Z\"}";

	ck_assert_int_eq(mm_event_set_int(ev, "first_ts", -1000), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "count", 3), MM_OK);
	ck_assert_int_eq(mm_event_set_double(ev, "attrs.rate", 0.1), MM_OK);
	ck_assert_int_eq(mm_event_set_double(ev, "attrs.nan", NAN), MM_OK);
	ck_assert_int_eq(mm_event_set_double(ev, "attrs.big", 1e300), MM_OK);
	ck_assert_int_eq(mm_event_set_double(ev, "attrs.whole", 2.0), MM_OK);
	ck_assert_int_eq(mm_event_set_bool(ev, "attrs.ok", 1), MM_OK);
	ck_assert_int_eq(mm_event_add_int(ev, "attrs.ports", 22), MM_OK);
	ck_assert_int_eq(mm_event_add_int(ev, "attrs.ports", 445), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "msg_ja", "ポートスキャンを検知しました"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "msg",
	                                  "Scan \"q\" \\ t\tn\n\x01\x1f del\x7f bad\xff end "
	                                  "cut\xf0\x9f\x98x sur\xed\xa0\x80 ok\xf0\x9f\x98\x80"),
	                 MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "dst.port", 445), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "dst.ip", "10.0.0.5"), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "src.port", 51234), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "src.ip", "192.0.2.7"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "action", "detected"), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "sev", 4), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "cat", "scan"), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "ts", FIXED_TS), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "seq", 42), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "id", FIXED_ID), MM_OK);
	ck_assert_str_eq(json(ev, &b), want);
	mm_event_free(ev);
	mm_buf_free(&b);
}
END_TEST

/* The aggregator's one-pass check renders the sensor and plugin maps from
 * a per-thread memory when their bytes repeat: whatever the order of the
 * events, each line must be exactly mm_event_to_json()'s. */
START_TEST(test_check_repeated_maps)
{
	struct mm_event *a = full_event(), *b = full_event(), *d = NULL;
	struct mm_buf ea = MM_BUF_INIT, eb = MM_BUF_INIT, line = MM_BUF_INIT, want = MM_BUF_INIT;
	const struct mm_buf *seq[] = {&ea, &ea, &eb, &ea, &eb, &eb};
	struct mm_event_view v;
	size_t i;

	/* The same maps up to the last value: a prefix of a's sensor bytes. */
	ck_assert_int_eq(mm_event_set_str(b, "sensor.site", "支社"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(b, "plugin.vendor", "mimamori-x"), MM_OK);
	encode(a, &ea);
	encode(b, &eb);
	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		mm_buf_reset(&line);
		ck_assert_int_eq(mm_event_check(&v, seq[i]->data, seq[i]->len, &line), MM_OK);
		ck_assert_int_eq(mm_event_decode(&d, seq[i]->data, seq[i]->len), MM_OK);
		json(d, &want);
		ck_assert_uint_eq(line.len, want.len);
		ck_assert(memcmp(line.data, want.data, line.len) == 0);
		ck_assert(strstr((const char *)want.data, seq[i] == &eb ? "支社" : "本社") != NULL);
		mm_event_free(d);
		d = NULL;
	}
	mm_buf_free(&ea);
	mm_buf_free(&eb);
	mm_buf_free(&line);
	mm_buf_free(&want);
	mm_event_free(a);
	mm_event_free(b);
}
END_TEST

/* Patch the first occurrence of what in the encoded bytes. */
static void
patch(struct mm_buf *b, const char *what, const char *with)
{
	size_t n = strlen(what), i;

	for (i = 0; i + n <= b->len; i++)
		if (memcmp(b->data + i, what, n) == 0) {
			memcpy(b->data + i, with, n);
			return;
		}
	ck_abort_msg("%s not in the encoding", what);
}

/* The one-pass check leaves the search for NUL bytes in rendered strings
 * to the renderer and reads the id's bytes while checking it: a NUL in a
 * rendered value, in a free-form key or in an unrendered check, and an id
 * in upper case, are rejected as the decoder rejects them, and the line
 * buffer is left as it was. */
START_TEST(test_check_rejects_like_decoder)
{
	static const char *const from[] = {"office-wifi", "office-wifi", "ssid", "ips.scan"};
	static const char *const to[] = {"office\0wifi", "office-wif\0", "s\0id", "\0ps.scan"};
	struct mm_event *ev = full_event(), *d = NULL;
	struct mm_buf e = MM_BUF_INIT, line = MM_BUF_INIT;
	struct mm_event_view v;
	char up[MM_EVENT_ID_LEN + 1];
	size_t i, k;

	for (i = 0; i <= sizeof(from) / sizeof(from[0]); i++) {
		mm_buf_reset(&e);
		encode(ev, &e);
		if (i < sizeof(from) / sizeof(from[0])) {
			patch(&e, from[i], to[i]);
		} else {
			/* The id in upper case. */
			memcpy(up, mm_event_id(ev), sizeof(up));
			for (k = 0; k < MM_EVENT_ID_LEN; k++)
				if (up[k] >= 'a' && up[k] <= 'f')
					up[k] = (char)(up[k] - 'a' + 'A');
			patch(&e, mm_event_id(ev), up);
		}
		ck_assert_int_eq(mm_event_decode(&d, e.data, e.len), MM_ERR_PARSE);
		mm_buf_reset(&line);
		ck_assert_int_eq(mm_buf_append(&line, "x", 1), MM_OK);
		ck_assert_int_eq(mm_event_check(&v, e.data, e.len, &line), MM_ERR_PARSE);
		ck_assert_uint_eq(line.len, 1);
		ck_assert_int_eq(mm_event_check(&v, e.data, e.len, NULL), MM_ERR_PARSE);
	}
	mm_buf_free(&e);
	mm_buf_free(&line);
	mm_event_free(ev);
}
END_TEST

START_TEST(test_double_roundtrip)
{
	static const double values[] = {
	        0.1, 1.0 / 3.0, 1e-310, -0.0, 123456789.125, 5e-324, 1.7976931348623157e308};
	struct mm_buf b = MM_BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct mm_event *ev = mm_event_create(MM_KIND_STAT);
		const char *j, *p;

		ck_assert_int_eq(mm_event_set_double(ev, "attrs.x", values[i]), MM_OK);
		j = json(ev, &b);
		p = strstr(j, "\"x\":");
		ck_assert_ptr_nonnull(p);
		ck_assert(strtod(p + 4, NULL) == values[i]);
		ck_assert(signbit(strtod(p + 4, NULL)) == signbit(values[i]));
		mm_event_free(ev);
	}
	mm_buf_free(&b);
}
END_TEST

START_TEST(test_pretty)
{
	struct mm_event *ev = full_event();
	struct mm_buf b = MM_BUF_INIT;

	setenv("TZ", "UTC0", 1);
	tzset();
	setenv("LANG", "C.UTF-8", 1);
	ck_assert_int_eq(mm_event_to_pretty(ev, &b), MM_OK);
	ck_assert_str_eq(mm_buf_cstr(&b), "2026-11-27 17:11:36 HIGH alert/scan [2001:db8::7]:51234 "
	                                  "-> 10.0.0.5:445 A port scan was detected.");
	mm_buf_reset(&b);
	setenv("LANG", "ja_JP.UTF-8", 1);
	setenv("TZ", "JST-9", 1);
	tzset();
	ck_assert_int_eq(mm_event_set_str(ev, "msg_ja", "スキャン\x1b[31m です"), MM_OK);
	ck_assert_int_eq(mm_event_to_pretty(ev, &b), MM_OK);
	ck_assert_str_eq(mm_buf_cstr(&b), "2026-11-28 02:11:36 HIGH alert/scan [2001:db8::7]:51234 "
	                                  "-> 10.0.0.5:445 スキャン?[31m です");
	mm_buf_free(&b);
	mm_event_free(ev);
}
END_TEST

START_TEST(test_schema_setters)
{
	struct mm_event *ev = mm_event_create(MM_KIND_ASSET);
	struct mm_buf b = MM_BUF_INIT;
	int64_t v;

	ck_assert_ptr_null(mm_event_create(0));
	ck_assert_ptr_null(mm_event_create(5));
	ck_assert_int_eq(mm_event_kind(ev), MM_KIND_ASSET);
	ck_assert_int_eq(mm_event_set_str(ev, "color", "red"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "src.colour", "red"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "sev", "high"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_int(ev, "sev", 0), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_int(ev, "sev", 6), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_int(ev, "sev", 5), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "action", "ignored"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "kind", "warning"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "kind", "health"), MM_OK);
	ck_assert_int_eq(mm_event_kind(ev), MM_KIND_HEALTH);
	ck_assert_int_eq(mm_event_set_int(ev, "v", 2), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "id", "not-a-uuid"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "id", "01890A5D-AC96-774B-BCCE-B302099A8057"),
	                 MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_int(ev, "src.port", 65536), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_int(ev, "src.port", -1), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "rule.id", "2001219"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_double(ev, "count", 1.5), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "dev.randomized_mac", "yes"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "src", "10.0.0.1"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "attrs", "x"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "msg.x", "x"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_add_str(ev, "msg", "x"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_add_int(ev, "mail.to", 3), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "mail.to", "x@example.jp"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "", "x"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "attrs..x", "x"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "attrs.x.", "x"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, NULL, "x"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "msg", NULL), MM_ERR_INVAL);
	/* A refused setter leaves nothing behind: no empty "rule" map. */
	ck_assert_int_eq(mm_event_set_str(ev, "rule.rev", "x"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_set_str(ev, "attrs.a.b", "x"), MM_OK);
	ck_assert_int_eq(mm_event_set_str(ev, "attrs.a.b.c", "x"), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_add_str(ev, "attrs.a.b", "x"), MM_ERR_INVAL);
	ck_assert_ptr_null(strstr(json(ev, &b), "rule"));
	ck_assert_ptr_null(strstr(mm_buf_cstr(&b), "\"c\""));
	/* Free-form attrs take any type and may change it. */
	ck_assert_int_eq(mm_event_set_int(ev, "attrs.a.b", 3), MM_OK);
	ck_assert_int_eq(mm_event_get_int(ev, "attrs.a.b", &v), MM_OK);
	ck_assert_int_eq(v, 3);
	ck_assert_ptr_null(mm_event_get_str(ev, "attrs.a.b"));
	ck_assert_int_eq(mm_event_unset(ev, "attrs.a"), MM_OK);
	ck_assert_int_eq(mm_event_get_int(ev, "attrs.a.b", &v), MM_ERR_NOTFOUND);
	ck_assert_int_eq(mm_event_unset(ev, "attrs.nothing.here"), MM_OK);
	/* An unstamped event is refused by the encoder like by the decoder. */
	mm_buf_reset(&b);
	ck_assert_int_eq(mm_event_encode(ev, &b), MM_ERR_STATE);
	ck_assert_uint_eq(b.len, 0);
	mm_event_free(ev);
	mm_event_free(NULL);
	mm_buf_free(&b);
}
END_TEST

START_TEST(test_builder_limits)
{
	struct mm_event *ev = mm_event_create(MM_KIND_STAT);
	char key[32];
	int i;

	/* Eight keys put the leaf in a map of level 8, the deepest allowed. */
	ck_assert_int_eq(mm_event_set_int(ev, "attrs.a.b.c.d.e.f.g", 1), MM_OK);
	ck_assert_int_eq(mm_event_set_int(ev, "attrs.a.b.c.d.e.f.g.h", 1), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_add_int(ev, "attrs.a.b.c.d.e.f.x", 1), MM_ERR_INVAL);
	ck_assert_int_eq(mm_event_add_int(ev, "attrs.a.b.c.d.e.x", 1), MM_OK);
	for (i = 0; i < MM_EVENT_MAX_ITEMS; i++)
		ck_assert_int_eq(mm_event_add_int(ev, "attrs.list", i), MM_OK);
	ck_assert_int_eq(mm_event_add_int(ev, "attrs.list", i), MM_ERR_FULL);
	for (i = 0; i < MM_EVENT_MAX_ITEMS - 2; i++) {
		snprintf(key, sizeof(key), "attrs.k%d", i);
		ck_assert_int_eq(mm_event_set_int(ev, key, i), MM_OK);
	}
	ck_assert_int_eq(mm_event_set_int(ev, "attrs.one_more", 1), MM_ERR_FULL);
	mm_event_free(ev);
}
END_TEST

/* The builder's total-value limit is the decoder's: whatever is built up
 * to it encodes and decodes; replacing a value does not count twice. */
START_TEST(test_value_limit_matches_decoder)
{
	struct mm_event *ev = full_event(), *d = NULL;
	struct mm_buf b = MM_BUF_INIT;
	char key[32];
	int i, k, rc = MM_OK;
	long added = 0;

	for (i = 0; i < 100000; i++)
		ck_assert_int_eq(mm_event_set_int(ev, "attrs.same", i), MM_OK);
	for (k = 0; rc == MM_OK && k < 32; k++) {
		snprintf(key, sizeof(key), "attrs.l%d", k);
		for (i = 0; i < MM_EVENT_MAX_ITEMS; i++) {
			rc = mm_event_add_int(ev, key, i);
			if (rc != MM_OK)
				break;
			added++;
		}
	}
	ck_assert_int_eq(rc, MM_ERR_FULL);
	ck_assert_int_gt(added, 60000);
	ck_assert_int_lt(added, 65536);
	encode(ev, &b);
	ck_assert_int_eq(mm_event_decode(&d, b.data, b.len), MM_OK);
	/* Removing one value makes room for exactly one more. */
	mm_event_free(d);
	d = NULL;
	ck_assert_int_eq(mm_event_unset(ev, "attrs.same"), MM_OK);
	ck_assert_int_eq(mm_event_add_int(ev, key, 1), MM_OK);
	ck_assert_int_eq(mm_event_add_int(ev, key, 1), MM_ERR_FULL);
	mm_event_free(ev);
	mm_buf_free(&b);
}
END_TEST

START_TEST(test_clone_and_stamp)
{
	struct mm_event *ev = full_event(), *c;
	struct mm_buf b1 = MM_BUF_INIT, b2 = MM_BUF_INIT;
	struct mm_event_stamp st = {.ts_ns = 1000000000, .seq = 8, .plugin_name = "other"};
	const char *id;
	int64_t v;

	c = mm_event_clone(ev);
	ck_assert_ptr_nonnull(c);
	encode(ev, &b1);
	encode(c, &b2);
	ck_assert_uint_eq(b1.len, b2.len);
	ck_assert_mem_eq(b1.data, b2.data, b1.len);
	/* The clone is independent. */
	ck_assert_int_eq(mm_event_set_str(c, "msg", "changed"), MM_OK);
	ck_assert_str_eq(mm_event_get_str(ev, "msg"), "A port scan was detected.");
	/* Stamping again keeps id and ts, refreshes seq and the plugin. */
	id = mm_event_id(ev);
	ck_assert_ptr_nonnull(id);
	ck_assert_int_eq(mm_event_stamp(c, &st), MM_OK);
	ck_assert_str_eq(mm_event_id(c), id);
	ck_assert_int_eq(mm_event_ts(c), FIXED_TS);
	ck_assert_int_eq(mm_event_get_int(c, "seq", &v), MM_OK);
	ck_assert_int_eq(v, 8);
	ck_assert_str_eq(mm_event_get_str(c, "plugin.name"), "other");
	ck_assert_str_eq(mm_event_get_str(c, "plugin.vendor"), "mimamori");
	mm_event_free(c);
	mm_event_free(ev);

	/* A fresh event gets ts and an id carrying the stamp's time. */
	ev = mm_event_create(MM_KIND_HEALTH);
	ck_assert_ptr_null(mm_event_id(ev));
	ck_assert_int_eq(mm_event_ts(ev), 0);
	st.ts_ns = (uint64_t)FUTURE_TS;
	ck_assert_int_eq(mm_event_stamp(ev, &st), MM_OK);
	ck_assert_int_eq(mm_event_ts(ev), FUTURE_TS);
	ck_assert_int_eq(strncmp(mm_event_id(ev), FUTURE_ID_PREFIX, 13), 0);
	mm_event_free(ev);
	mm_buf_free(&b1);
	mm_buf_free(&b2);
}
END_TEST

static int
uuid7_shape(const char *s)
{
	size_t i;

	if (strlen(s) != 36 || s[14] != '7' || strchr("89ab", s[19]) == NULL)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (strchr("0123456789abcdef", s[i]) == NULL) {
			return 0;
		}
	}
	return 1;
}

START_TEST(test_uuid7)
{
	enum { N = 100000 };
	char(*ids)[MM_EVENT_ID_LEN + 1] = malloc((size_t)N * sizeof(*ids));
	char a[MM_EVENT_ID_LEN + 1], b[MM_EVENT_ID_LEN + 1];
	struct timespec t;
	uint64_t now;
	size_t i;

	ck_assert_ptr_nonnull(ids);
	clock_gettime(CLOCK_REALTIME, &t);
	now = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
	/* 100000 ids over a few real milliseconds: many share one ms. */
	for (i = 0; i < N; i++) {
		mm_uuid7(ids[i], now + i * 1000);
		ck_assert_msg(uuid7_shape(ids[i]), "bad id %s", ids[i]);
		if (i > 0)
			ck_assert_msg(strcmp(ids[i - 1], ids[i]) < 0, "%s !< %s", ids[i - 1],
			              ids[i]);
	}
	free(ids);

	/* The 48-bit prefix is the ms timestamp of a later time. */
	mm_uuid7(a, (uint64_t)FUTURE_TS);
	ck_assert_int_eq(strncmp(a, FUTURE_ID_PREFIX, 13), 0);
	/* Same ms: rand_a counts up by one. */
	mm_uuid7(b, (uint64_t)FUTURE_TS);
	ck_assert_int_eq(strncmp(b, FUTURE_ID_PREFIX, 13), 0);
	ck_assert_int_eq(strtol(b + 15, NULL, 16), strtol(a + 15, NULL, 16) + 1);
	ck_assert_int_ne(strcmp(a + 19, b + 19), 0);
	/* A clock stepping back still gives a later id. */
	mm_uuid7(a, (uint64_t)FUTURE_TS - 3600000000000);
	ck_assert_int_gt(strcmp(a, b), 0);
}
END_TEST

/* A forked child must not hand out its parent's next id: both continue the
 * same ms counter, so only fresh random bytes keep them apart. */
START_TEST(test_uuid7_fork)
{
	char a[MM_EVENT_ID_LEN + 1], mine[MM_EVENT_ID_LEN + 1], theirs[MM_EVENT_ID_LEN + 1];
	int fd[2], st;
	pid_t pid;

	mm_uuid7(a, (uint64_t)FUTURE_TS + 7000000000);
	ck_assert_int_eq(pipe(fd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		mm_uuid7(theirs, (uint64_t)FUTURE_TS + 7000000000);
		_exit(write(fd[1], theirs, sizeof(theirs)) == (ssize_t)sizeof(theirs) ? 0 : 1);
	}
	mm_uuid7(mine, (uint64_t)FUTURE_TS + 7000000000);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(read(fd[0], theirs, sizeof(theirs)), (ssize_t)sizeof(theirs));
	close(fd[0]);
	close(fd[1]);
	ck_assert_str_ne(mine, theirs);
}
END_TEST

/* ---- malformed input ---- */

static int
write_sb(void *data, const char *buf, size_t len)
{
	return mm_buf_append(data, buf, len) == MM_OK ? 0 : -1;
}

static void
pstr(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* A valid minimal event head: v, id, ts, kind, followed by extra entries
 * that the caller packs. */
static void
head(msgpack_packer *pk, struct mm_buf *b, size_t extra)
{
	mm_buf_reset(b);
	msgpack_packer_init(pk, b, write_sb);
	msgpack_pack_map(pk, 4 + extra);
	pstr(pk, "v");
	msgpack_pack_int64(pk, 1);
	pstr(pk, "id");
	pstr(pk, FIXED_ID);
	pstr(pk, "ts");
	msgpack_pack_int64(pk, FIXED_TS);
	pstr(pk, "kind");
	pstr(pk, "alert");
}

static int
dec(const struct mm_buf *b)
{
	struct mm_event *ev = NULL;
	int rc = mm_event_decode(&ev, b->data, b->len);

	if (rc != MM_OK)
		ck_assert_ptr_null(ev);
	mm_event_free(ev);
	return rc;
}

START_TEST(test_decode_minimal_and_forward_compatible)
{
	struct mm_buf b = MM_BUF_INIT, j = MM_BUF_INIT;
	msgpack_packer pk;
	struct mm_event *ev = NULL;

	head(&pk, &b, 0);
	ck_assert_int_eq(dec(&b), MM_OK);
	/* A key a later schema version may add is kept, after the known ones. */
	head(&pk, &b, 2);
	pstr(&pk, "future");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	pstr(&pk, "cat");
	pstr(&pk, "scan");
	ck_assert_int_eq(mm_event_decode(&ev, b.data, b.len), MM_OK);
	ck_assert_str_eq(json(ev, &j),
	                 "{\"v\":1,\"id\":\"" FIXED_ID "\",\"ts\":\"2026-11-27T17:11:36.123456Z\","
	                 "\"kind\":\"alert\",\"cat\":\"scan\",\"future\":[null]}");
	mm_event_free(ev);
	mm_buf_free(&b);
	mm_buf_free(&j);
}
END_TEST

START_TEST(test_decode_truncated_everywhere)
{
	struct mm_event *ev = full_event(), *d;
	struct mm_buf b = MM_BUF_INIT;
	uint8_t *copy;
	size_t n;

	encode(ev, &b);
	/* A private copy of each prefix so that a read past its end is an
	 * ASan report, not a silent read of the rest of the buffer. */
	for (n = 0; n < b.len; n++) {
		copy = malloc(n ? n : 1);
		memcpy(copy, b.data, n);
		d = NULL;
		ck_assert_msg(mm_event_decode(&d, copy, n) == MM_ERR_PARSE, "prefix %zu accepted",
		              n);
		ck_assert_ptr_null(d);
		free(copy);
	}
	/* One extra byte is trailing garbage. */
	mm_buf_putc(&b, 0);
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);
	mm_event_free(ev);
	mm_buf_free(&b);
}
END_TEST

START_TEST(test_decode_rejects_header)
{
	struct mm_buf b = MM_BUF_INIT;
	msgpack_packer pk;
	struct mm_event *ev = NULL;

	ck_assert_int_eq(mm_event_decode(&ev, "", 0), MM_ERR_PARSE);
	ck_assert_int_eq(mm_event_decode(&ev, "\x93\x01\x02\x03", 4), MM_ERR_PARSE);
	ck_assert_int_eq(mm_event_decode(&ev, "\xa1v", 2), MM_ERR_PARSE);
	ck_assert_int_eq(mm_event_decode(&ev, "\x80", 1), MM_ERR_PARSE);

	/* "v" not first. */
	mm_buf_reset(&b);
	msgpack_packer_init(&pk, &b, write_sb);
	msgpack_pack_map(&pk, 4);
	pstr(&pk, "id");
	pstr(&pk, FIXED_ID);
	pstr(&pk, "v");
	msgpack_pack_int64(&pk, 1);
	pstr(&pk, "ts");
	msgpack_pack_int64(&pk, FIXED_TS);
	pstr(&pk, "kind");
	pstr(&pk, "alert");
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);

	/* v == 2, and v as a boolean. */
	mm_buf_reset(&b);
	msgpack_packer_init(&pk, &b, write_sb);
	msgpack_pack_map(&pk, 4);
	pstr(&pk, "v");
	msgpack_pack_int64(&pk, 2);
	pstr(&pk, "id");
	pstr(&pk, FIXED_ID);
	pstr(&pk, "ts");
	msgpack_pack_int64(&pk, FIXED_TS);
	pstr(&pk, "kind");
	pstr(&pk, "alert");
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);
	b.data[3] = 0xc3; /* true */
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);

	/* Missing id, bad id, unknown kind, ts not an int. */
	mm_buf_reset(&b);
	msgpack_packer_init(&pk, &b, write_sb);
	msgpack_pack_map(&pk, 3);
	pstr(&pk, "v");
	msgpack_pack_int64(&pk, 1);
	pstr(&pk, "ts");
	msgpack_pack_int64(&pk, FIXED_TS);
	pstr(&pk, "kind");
	pstr(&pk, "alert");
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);

	head(&pk, &b, 0);
	b.data[10] = 'g'; /* a non-hex digit inside the id */
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);
	head(&pk, &b, 0);
	memcpy(b.data + b.len - 5, "alarm", 5);
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);

	mm_buf_reset(&b);
	msgpack_packer_init(&pk, &b, write_sb);
	msgpack_pack_map(&pk, 4);
	pstr(&pk, "v");
	msgpack_pack_int64(&pk, 1);
	pstr(&pk, "id");
	pstr(&pk, FIXED_ID);
	pstr(&pk, "ts");
	msgpack_pack_double(&pk, 1.5e18);
	pstr(&pk, "kind");
	pstr(&pk, "alert");
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);
	mm_buf_free(&b);
}
END_TEST

START_TEST(test_decode_rejects_types)
{
	struct mm_buf b = MM_BUF_INIT;
	msgpack_packer pk;

#define BAD(stmts)                                                                                 \
	do {                                                                                       \
		head(&pk, &b, 1);                                                                  \
		stmts;                                                                             \
		ck_assert_int_eq(dec(&b), MM_ERR_PARSE);                                           \
	} while (0)

	BAD(pstr(&pk, "sev"); pstr(&pk, "high"));
	BAD(pstr(&pk, "sev"); msgpack_pack_int64(&pk, 9));
	BAD(pstr(&pk, "seq"); msgpack_pack_double(&pk, 1.0));
	BAD(pstr(&pk, "action"); pstr(&pk, "maybe"));
	BAD(pstr(&pk, "src"); pstr(&pk, "10.0.0.1"));
	BAD(pstr(&pk, "src"); msgpack_pack_map(&pk, 1); pstr(&pk, "port");
	    msgpack_pack_int64(&pk, 70000));
	BAD(pstr(&pk, "rule"); msgpack_pack_map(&pk, 1); pstr(&pk, "id"); pstr(&pk, "1"));
	BAD(pstr(&pk, "mail"); msgpack_pack_map(&pk, 1); pstr(&pk, "to");
	    msgpack_pack_array(&pk, 2); pstr(&pk, "a@example.jp"); msgpack_pack_int64(&pk, 1));
	BAD(pstr(&pk, "mail"); msgpack_pack_map(&pk, 1); pstr(&pk, "to");
	    pstr(&pk, "a@example.jp"));
	BAD(pstr(&pk, "dev"); msgpack_pack_map(&pk, 1); pstr(&pk, "randomized_mac");
	    msgpack_pack_int64(&pk, 1));
	BAD(pstr(&pk, "attrs"); msgpack_pack_array(&pk, 0));
	BAD(pstr(&pk, "msg"); msgpack_pack_nil(&pk));
	/* Duplicate key, empty key, key with a dot, binary and ext values,
	 * uint64 beyond int64, a NUL inside a string. */
	BAD(pstr(&pk, "kind"); pstr(&pk, "alert"));
	BAD(pstr(&pk, ""); msgpack_pack_int64(&pk, 1));
	BAD(pstr(&pk, "attrs"); msgpack_pack_map(&pk, 1); pstr(&pk, "a.b");
	    msgpack_pack_int64(&pk, 1));
	BAD(pstr(&pk, "attrs"); msgpack_pack_map(&pk, 1); pstr(&pk, "a"); msgpack_pack_bin(&pk, 1);
	    msgpack_pack_bin_body(&pk, "x", 1));
	BAD(pstr(&pk, "attrs"); msgpack_pack_map(&pk, 1); pstr(&pk, "a");
	    msgpack_pack_ext(&pk, 1, 1); msgpack_pack_ext_body(&pk, "x", 1));
	BAD(pstr(&pk, "count"); msgpack_pack_uint64(&pk, UINT64_MAX));
	BAD(pstr(&pk, "msg"); msgpack_pack_str(&pk, 3); msgpack_pack_str_body(&pk, "a\0b", 3));
	BAD(msgpack_pack_int64(&pk, 1); msgpack_pack_int64(&pk, 1));
#undef BAD

	/* Type checks end at attrs: anything is fine below it. */
	head(&pk, &b, 1);
	pstr(&pk, "attrs");
	msgpack_pack_map(&pk, 4);
	pstr(&pk, "sev");
	pstr(&pk, "anything");
	pstr(&pk, "f");
	msgpack_pack_float(&pk, 0.5f);
	pstr(&pk, "neg");
	msgpack_pack_int64(&pk, INT64_MIN);
	pstr(&pk, "nil");
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(dec(&b), MM_OK);
	mm_buf_free(&b);
}
END_TEST

START_TEST(test_decode_rejects_limits)
{
	struct mm_buf b = MM_BUF_INIT;
	msgpack_packer pk;
	struct mm_event *ev = NULL;
	uint8_t *big;
	int i;

	/* Oversized input, whatever it holds. */
	big = calloc(1, MM_EVENT_MAX_BYTES + 1);
	big[0] = 0x80;
	ck_assert_int_eq(mm_event_decode(&ev, big, MM_EVENT_MAX_BYTES + 1), MM_ERR_TOOBIG);
	free(big);

	/* Nesting: attrs is level 2, so six more maps reach level 8. */
	head(&pk, &b, 1);
	pstr(&pk, "attrs");
	for (i = 0; i < 6; i++) {
		msgpack_pack_map(&pk, 1);
		pstr(&pk, "n");
	}
	msgpack_pack_map(&pk, 0);
	ck_assert_int_eq(dec(&b), MM_OK);
	head(&pk, &b, 1);
	pstr(&pk, "attrs");
	for (i = 0; i < 7; i++) {
		msgpack_pack_map(&pk, 1);
		pstr(&pk, "n");
	}
	msgpack_pack_array(&pk, 0);
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);
	/* Very deep nesting does not recurse deeper than the limit. */
	head(&pk, &b, 1);
	pstr(&pk, "attrs");
	msgpack_pack_map(&pk, 1);
	pstr(&pk, "a");
	for (i = 0; i < 100000; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);

	/* Huge declared lengths with a small input. */
	head(&pk, &b, 1);
	pstr(&pk, "attrs");
	mm_buf_append(&b, "\xdf\xff\xff\xff\xff\xa1x\xc0", 8);
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);
	head(&pk, &b, 1);
	pstr(&pk, "attrs");
	mm_buf_append(&b, "\x81\xa1x\xdd\xff\xff\xff\xff\xc0", 9);
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);
	head(&pk, &b, 1);
	pstr(&pk, "msg");
	mm_buf_append(&b, "\xdb\xff\xff\xff\xf0xyz", 8);
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);
	mm_buf_reset(&b);
	mm_buf_append(&b, "\xdf\x7f\xff\xff\xff\xa1v\x01", 8);
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);

	/* Entries of one array: the limit passes, one more fails. */
	for (i = 0; i < 2; i++) {
		int k;

		head(&pk, &b, 1);
		pstr(&pk, "attrs");
		msgpack_pack_map(&pk, 1);
		pstr(&pk, "a");
		msgpack_pack_array(&pk, MM_EVENT_MAX_ITEMS + i);
		for (k = 0; k < MM_EVENT_MAX_ITEMS + i; k++)
			msgpack_pack_nil(&pk);
		ck_assert_int_eq(dec(&b), i == 0 ? MM_OK : MM_ERR_PARSE);
	}
	/* Many distinct keys, then the same map with one repeated key. */
	head(&pk, &b, 1);
	pstr(&pk, "attrs");
	msgpack_pack_map(&pk, 1000);
	for (i = 0; i < 1000; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		pstr(&pk, k);
		msgpack_pack_int64(&pk, i);
	}
	ck_assert_int_eq(dec(&b), MM_OK);
	b.data[b.len - 6] = '8'; /* k999 becomes k899 */
	ck_assert_int_eq(dec(&b), MM_ERR_PARSE);
	mm_buf_free(&b);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_roundtrip_full);
	tcase_add_test(tc, test_encoding_order);
	tcase_add_test(tc, test_json_exact);
	tcase_add_test(tc, test_check_repeated_maps);
	tcase_add_test(tc, test_check_rejects_like_decoder);
	tcase_add_test(tc, test_double_roundtrip);
	tcase_add_test(tc, test_pretty);
	tcase_add_test(tc, test_schema_setters);
	tcase_add_test(tc, test_builder_limits);
	tcase_add_test(tc, test_value_limit_matches_decoder);
	tcase_add_test(tc, test_clone_and_stamp);
	tcase_add_test(tc, test_uuid7);
	tcase_add_test(tc, test_uuid7_fork);
	tcase_add_test(tc, test_decode_minimal_and_forward_compatible);
	tcase_add_test(tc, test_decode_truncated_everywhere);
	tcase_add_test(tc, test_decode_rejects_header);
	tcase_add_test(tc, test_decode_rejects_types);
	tcase_add_test(tc, test_decode_rejects_limits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
