/*
 * The durable spool of the aggregator (SQLite, WAL, synchronous=FULL).
 * One row per received batch: its events as length-prefixed records, each
 * with a CRC-32 over its header and payload, so bytes flipped on disk that
 * SQLite itself cannot notice are caught per event; the ids of the row in
 * a blob of their own, from which the in-memory dedup set is rebuilt at
 * start-up. A file SQLite reports as damaged is moved aside at start-up and
 * everything still readable is copied into a fresh one. Both are counted,
 * never fatal.
 *
 * Writes run in the aggregator process; `events tail` and `status` open the
 * spool read-only from the CLI.
 */
#include "spool.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "crc32.h"
#include "event.h"
#include "mimamori/error.h"

#define SALVAGE_MAX_GAPS 10000   /* damaged regions probed before giving up */
#define REC_HDR MM_SPOOL_REC_HDR /* u32 len, u32 crc, u8 kind, u8 sev, u8 flags, u8 0 */
#define REC_SKIPPED 1            /* flags: damaged, counted at start-up */
#define ID_BYTES 16
#define PREFETCH_AHEAD 8 /* dedup slots fetched this many events ahead */

/* Dedup set: open addressing over the 16 id bytes. An entry is live while
 * its seq is inside [low, next_seq) of the spool; entries of pruned rows
 * or of a rolled-back transaction are dead and are dropped on rehash. */
struct idslot {
	uint8_t id[ID_BYTES];
	uint64_t seq; /* 0: empty; UINT64_MAX: dead */
};

struct idset {
	struct idslot *t;
	size_t cap, used; /* used: non-empty slots, dead ones included */
	uint64_t key;
	/* The next, larger table, made ready on a thread of its own. */
	struct spare {
		struct idslot *t;
		size_t cap;
		pthread_t th;
		int busy; /* the thread runs (or ran and was not joined) */
	} spare;
};

struct mm_spool {
	sqlite3 *db;
	char *path;
	struct mm_spool_opts o;
	sqlite3_stmt *put, *read, *cur_get, *cur_set;
	uint64_t next_seq, saved_seq, low;
	uint64_t nrows, payload; /* events and their payload bytes */
	uint64_t delivered;
	int in_txn;
	int wal_frames;     /* pages in the WAL after the last commit */
	uint64_t page_size; /* of the database file, for wal_frames */
	struct idset ids;
	struct mm_buf data, idbuf;
	struct mm_buf parsed; /* the ids of the batch being stored, as bytes */
};

static const char SCHEMA[] =
        "CREATE TABLE IF NOT EXISTS batch(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL,"
        " rx INTEGER, bytes INTEGER, ids BLOB NOT NULL, data BLOB NOT NULL);"
        "CREATE TABLE IF NOT EXISTS cursor(name TEXT PRIMARY KEY, seq INTEGER, pos INTEGER);"
        "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER);";

int64_t
mm_spool_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The checksum of one record: its length, kind and severity, then the
 * payload, so that a changed length is caught too. */
static uint32_t
rec_crc(const uint8_t *hdr, const uint8_t *payload, size_t len)
{
	uint8_t h[6] = {hdr[0], hdr[1], hdr[2], hdr[3], hdr[8], hdr[9]};

	return mm_crc32(mm_crc32(0, h, sizeof(h)), payload, len);
}

static void wr32(uint8_t *p, uint32_t v);

/* An event's record header, checksum included. */
static void
rec_header(uint8_t *hdr, int kind, int sev, const uint8_t *data, size_t len)
{
	wr32(hdr, (uint32_t)len);
	hdr[8] = (uint8_t)kind;
	hdr[9] = (uint8_t)sev;
	hdr[10] = hdr[11] = 0;
	wr32(hdr + 4, rec_crc(hdr, data, len));
}

void
mm_spool_record(uint8_t *out, int kind, int sev, const uint8_t *data, size_t len)
{
	rec_header(out, kind, sev, data, len);
	memcpy(out + REC_HDR, data, len);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* ---- dedup set ---- */

/* UUID text (8-4-4-4-12, either case) to its 16 bytes. Every stored event
 * comes through here: the 32 digits go through a table, and one OR of the
 * looked-up values tells whether any was not a digit. */
static uint8_t hex_tab[256];
static pthread_once_t hex_once = PTHREAD_ONCE_INIT;

/* Filled once, by the first mm_spool_open(), before any id is parsed. */
static void
hex_init(void)
{
	size_t i;

	memset(hex_tab, 0x10, sizeof(hex_tab));
	for (i = 0; i < 10; i++)
		hex_tab['0' + i] = (uint8_t)i;
	for (i = 0; i < 6; i++)
		hex_tab['a' + i] = hex_tab['A' + i] = (uint8_t)(10 + i);
}

static int
id_parse(uint8_t out[ID_BYTES], const char *text)
{
	static const uint8_t dash_at[4] = {8, 13, 18, 23};
	const uint8_t *hex = hex_tab;
	const uint8_t *t = (const uint8_t *)text;
	unsigned bad = 0;
	size_t i, k = 0;

	if (text == NULL || memchr(text, '\0', MM_EVENT_ID_LEN) != NULL ||
	    text[MM_EVENT_ID_LEN] != '\0')
		return MM_ERR_PARSE;
	for (i = 0; i < 4; i++)
		bad |= t[dash_at[i]] != '-';
	for (i = 0; i < MM_EVENT_ID_LEN; i += 2) {
		uint8_t hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23)
			i++;
		hi = hex[t[i]];
		lo = hex[t[i + 1]];
		bad |= (unsigned)(hi | lo) & 0x10;
		out[k++] = (uint8_t)(hi << 4 | lo);
	}
	return bad == 0 && k == ID_BYTES ? MM_OK : MM_ERR_PARSE;
}

static uint64_t
id_hash(const struct idset *set, const uint8_t *id)
{
	uint64_t a, b, x;

	memcpy(&a, id, 8);
	memcpy(&b, id + 8, 8);
	/* Keyed, so that ids chosen by a hostile sender cannot pile up in one
	 * chain; splitmix64's finaliser spreads the bits. */
	x = a ^ (b * 0x9e3779b97f4a7c15ull) ^ set->key;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static int
live(const struct mm_spool *s, uint64_t seq)
{
	return seq != 0 && seq != UINT64_MAX && seq >= s->low && seq < s->next_seq;
}

static int idset_rehash(struct mm_spool *s, size_t want);

#define SPARE_MIN_BYTES (1u << 20) /* smaller tables are made when needed */
#define PAGE_STRIDE 4096

/*
 * A burst grows the set by doubling, and the first write to each page of
 * a new table costs the kernel (and, on a virtual machine, the host) a
 * page fault: about 18 us per page on the VM the benchmarks run on, or
 * 0.11-0.14 s of the storing thread per 200,000 new ids. So once the set
 * is 40% full, the table it will grow into is allocated and each of its
 * pages written once on a short-lived thread, while storing goes on; the
 * rehash then finds it ready. Only that thread touches the spare until it
 * is joined.
 */
static void *
spare_fill(void *arg)
{
	struct spare *sp = arg;
	size_t bytes = sp->cap * sizeof(struct idslot), off;

	sp->t = calloc(sp->cap, sizeof(struct idslot));
	if (sp->t != NULL)
		for (off = 0; off < bytes; off += PAGE_STRIDE)
			((volatile uint8_t *)sp->t)[off] = 0;
	return NULL;
}

static void
spare_start(struct idset *set)
{
	struct spare *sp = &set->spare;

	if (sp->busy || sp->t != NULL || set->cap * 2 * sizeof(struct idslot) < SPARE_MIN_BYTES)
		return;
	sp->cap = set->cap * 2;
	sp->busy = pthread_create(&sp->th, NULL, spare_fill, sp) == 0;
}

/* The spare table if it has cap slots (else NULL, and it goes). */
static struct idslot *
spare_take(struct idset *set, size_t cap)
{
	struct spare *sp = &set->spare;
	struct idslot *t;

	if (sp->busy)
		pthread_join(sp->th, NULL);
	sp->busy = 0;
	t = sp->t;
	sp->t = NULL;
	if (t != NULL && sp->cap != cap) {
		free(t);
		t = NULL;
	}
	return t;
}

/* 1 when id is live in the set; else it is added with seq (if seq != 0)
 * and 0 returned. Negative on allocation failure. */
static int
idset_check_add(struct mm_spool *s, const uint8_t *id, uint64_t seq)
{
	struct idset *set = &s->ids;
	struct idslot *free_slot = NULL;
	size_t i, mask;

	if (set->cap == 0 || (set->used + 1) * 10 > set->cap * 7) {
		if (idset_rehash(s, set->used + 1) != MM_OK)
			return MM_ERR_NOMEM;
	} else if (set->used * 5 > set->cap * 2) {
		spare_start(set);
	}
	mask = set->cap - 1;
	for (i = (size_t)id_hash(set, id) & mask;; i = (i + 1) & mask) {
		struct idslot *e = &set->t[i];

		if (e->seq == 0)
			break;
		if (live(s, e->seq)) {
			if (memcmp(e->id, id, ID_BYTES) == 0)
				return 1;
		} else if (free_slot == NULL) {
			free_slot = e;
		}
	}
	if (seq == 0)
		return 0;
	if (free_slot == NULL) {
		free_slot = &set->t[i];
		set->used++;
	}
	memcpy(free_slot->id, id, ID_BYTES);
	free_slot->seq = seq;
	return 0;
}

/* Room for about want live entries; dead ones go. */
static int
idset_rehash(struct mm_spool *s, size_t want)
{
	struct idset *set = &s->ids;
	struct idslot *old = set->t, *t;
	size_t old_cap = set->cap, cap = 1024, i, live_n = 0;

	for (i = 0; i < old_cap; i++)
		live_n += live(s, old[i].seq);
	if (want < live_n + 1)
		want = live_n + 1;
	while (cap < want * 2)
		cap *= 2;
	t = spare_take(set, cap);
	if (t == NULL && (t = calloc(cap, sizeof(*t))) == NULL)
		return MM_ERR_NOMEM;
	set->t = t;
	set->cap = cap;
	set->used = 0;
	for (i = 0; i < old_cap; i++) {
		const struct idslot *e = &old[i];
		size_t k;

		if (!live(s, e->seq))
			continue;
		for (k = (size_t)id_hash(set, e->id) & (cap - 1); t[k].seq != 0;
		     k = (k + 1) & (cap - 1))
			;
		t[k] = *e;
		set->used++;
	}
	free(old);
	return MM_OK;
}

/* After a rollback the sequence numbers from next_seq on are handed out
 * again: entries of the undone transaction must not claim them. */
static void
idset_forget_from(struct mm_spool *s, uint64_t from)
{
	size_t i;

	for (i = 0; i < s->ids.cap; i++)
		if (s->ids.t[i].seq >= from && s->ids.t[i].seq != UINT64_MAX)
			s->ids.t[i].seq = UINT64_MAX;
}

static int
exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? MM_OK : MM_ERR_IO;
}

static int64_t
query_int(sqlite3 *db, const char *sql, int64_t arg, int64_t def)
{
	sqlite3_stmt *st = NULL;
	int64_t v = def;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return def;
	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, arg);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
open_db(sqlite3 **out, const char *path, int readonly)
{
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

	*out = NULL;
	if (sqlite3_open_v2(path, out, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sqlite3_close(*out);
		*out = NULL;
		return MM_ERR_IO;
	}
	sqlite3_busy_timeout(*out, 5000);
	return MM_OK;
}

static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct mm_spool *s = arg;

	(void)db;
	(void)name;
	s->wal_frames = frames;
	return SQLITE_OK;
}

static int
init_schema(sqlite3 *db, uint32_t page_size)
{
	char sql[64];

	/* See MM_SPOOL_PAGE_SIZE. It takes effect when the file is created;
	 * an existing spool keeps its page size. */
	snprintf(sql, sizeof(sql), "PRAGMA page_size=%u", page_size);
	if (exec(db, sql) != MM_OK)
		return MM_ERR_IO;
	/* WAL + FULL: a commit is on disk (WAL fsynced) before it returns, which
	 * is what "ack after persist" needs; one commit covers many batches. */
	if (exec(db, "PRAGMA journal_mode=WAL") != MM_OK)
		return MM_ERR_IO;
	if (exec(db, "PRAGMA synchronous=FULL; PRAGMA cache_size=-16384;") != MM_OK)
		return MM_ERR_IO;
	return exec(db, SCHEMA);
}

/* 1 when SQLite considers the file sound. */
static int
quick_check(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int ok = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		ok = t != NULL && strcmp((const char *)t, "ok") == 0;
	}
	sqlite3_finalize(st);
	return ok;
}

static void
move_aside(const char *path, const char *to)
{
	char a[600], b[600];
	const char *sfx[] = {"-wal", "-shm"};
	size_t i;

	if (rename(path, to) != 0 && errno != ENOENT)
		unlink(path);
	for (i = 0; i < 2; i++) {
		snprintf(a, sizeof(a), "%s%s", path, sfx[i]);
		snprintf(b, sizeof(b), "%s%s", to, sfx[i]);
		if (rename(a, b) != 0 && errno != ENOENT)
			unlink(a);
	}
}

/* Copy the readable rows of the damaged file old into db, probing past
 * damaged regions of the table. */
static void
salvage_rows(sqlite3 *old, sqlite3 *db, struct mm_spool_recovery *rec, uint64_t *maxseq)
{
	sqlite3_stmt *sel = NULL, *probe = NULL, *ins = NULL;
	uint64_t last = 0, last_end = 0;
	int gaps = 0, n = 0;

	if (sqlite3_prepare_v2(old,
	                       "SELECT seq, n, rx, bytes, ids, data FROM batch WHERE seq > ?"
	                       " ORDER BY seq",
	                       -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(old, "SELECT seq FROM batch WHERE seq > ? ORDER BY seq LIMIT 1", -1,
	                       &probe, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO batch VALUES(?,?,?,?,?,?)", -1, &ins,
	                       NULL) != SQLITE_OK) {
		rec->unreadable_ranges++;
		goto out;
	}
	exec(db, "BEGIN");
	while (gaps < SALVAGE_MAX_GAPS) {
		int rc;
		uint64_t step, next = 0;

		sqlite3_reset(sel);
		sqlite3_bind_int64(sel, 1, (sqlite3_int64)last);
		while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
			uint64_t seq = (uint64_t)sqlite3_column_int64(sel, 0);
			int64_t cnt = sqlite3_column_int64(sel, 1);
			int c;

			last = seq;
			if (cnt < 1 || cnt > MM_SPOOL_MAX_ROW_EVENTS) {
				rec->corrupt_records++;
				last_end = seq;
				continue;
			}
			last_end = seq + (uint64_t)cnt - 1;
			/* The records themselves are checked by verify_rows. */
			sqlite3_reset(ins);
			for (c = 0; c < 6; c++)
				sqlite3_bind_value(ins, c + 1, sqlite3_column_value(sel, c));
			sqlite3_step(ins);
			if (++n % 200 == 0) {
				exec(db, "COMMIT");
				exec(db, "BEGIN");
			}
		}
		if (rc == SQLITE_DONE)
			break;
		/* A damaged page: find the next row we can reach, looking
		 * further ahead each time. */
		gaps++;
		rec->unreadable_ranges++;
		for (step = 1; step < (1ull << 40); step *= 2) {
			sqlite3_reset(probe);
			sqlite3_bind_int64(probe, 1, (sqlite3_int64)(last + step));
			rc = sqlite3_step(probe);
			if (rc == SQLITE_ROW) {
				next = (uint64_t)sqlite3_column_int64(probe, 0);
				break;
			}
			if (rc == SQLITE_DONE)
				break;
		}
		if (next == 0)
			break;
		if (last_end < last)
			last_end = last;
		rec->unreadable_events += next > last_end + 1 ? next - last_end - 1 : 0;
		last = next - 1;
		last_end = last;
	}
	exec(db, "COMMIT");
out:
	if (last_end > *maxseq)
		*maxseq = last_end;
	sqlite3_finalize(sel);
	sqlite3_finalize(probe);
	sqlite3_finalize(ins);
}

/* SQLite refuses a file shorter than the page count in its header; padded
 * back with zeros, the pages that remain are readable again. */
static void
pad_truncated(const char *path)
{
	unsigned char h[100];
	struct stat st;
	uint64_t psize, pages;
	FILE *f = fopen(path, "r+b");

	if (f == NULL)
		return;
	if (fread(h, 1, sizeof(h), f) == sizeof(h) && memcmp(h, "SQLite format 3", 16) == 0 &&
	    fstat(fileno(f), &st) == 0) {
		psize = (uint64_t)h[16] << 8 | h[17];
		if (psize == 1)
			psize = 65536;
		pages = (uint64_t)h[28] << 24 | (uint64_t)h[29] << 16 | (uint64_t)h[30] << 8 |
		        h[31];
		/* Bounded: a damaged header must not make us write a huge file. */
		if (psize >= 512 && pages > 0 && psize * pages > (uint64_t)st.st_size &&
		    psize * pages <= (uint64_t)st.st_size * 4 + (64u << 20))
			if (ftruncate(fileno(f), (off_t)(psize * pages)) != 0)
				(void)0;
	}
	fclose(f);
}

static int
salvage(struct mm_spool *s, struct mm_spool_recovery *rec)
{
	sqlite3 *old = NULL;
	uint64_t maxseq = 0;
	int rc;

	sqlite3_close(s->db);
	s->db = NULL;
	snprintf(rec->moved_to, sizeof(rec->moved_to), "%s.corrupt-%lld", s->path,
	         (long long)mm_spool_wall_ms());
	move_aside(s->path, rec->moved_to);
	rec->rebuilt = 1;
	if ((rc = open_db(&s->db, s->path, 0)) != MM_OK)
		return rc;
	if ((rc = init_schema(s->db, s->o.page_size)) != MM_OK)
		return rc;
	pad_truncated(rec->moved_to);
	if (open_db(&old, rec->moved_to, 0) == MM_OK) {
		sqlite3_stmt *st = NULL;

		maxseq = (uint64_t)query_int(old, "SELECT v FROM meta WHERE k='seq'", 0, 0);
		if (sqlite3_prepare_v2(old, "SELECT name, seq, pos FROM cursor", -1, &st, NULL) ==
		    SQLITE_OK) {
			while (sqlite3_step(st) == SQLITE_ROW) {
				sqlite3_stmt *ins = NULL;
				uint64_t cs = (uint64_t)sqlite3_column_int64(st, 1);

				if (sqlite3_prepare_v2(
				            s->db, "INSERT OR REPLACE INTO cursor VALUES(?,?,?)",
				            -1, &ins, NULL) == SQLITE_OK) {
					sqlite3_bind_value(ins, 1, sqlite3_column_value(st, 0));
					sqlite3_bind_int64(ins, 2, (sqlite3_int64)cs);
					sqlite3_bind_value(ins, 3, sqlite3_column_value(st, 2));
					sqlite3_step(ins);
				}
				sqlite3_finalize(ins);
				if (cs > maxseq)
					maxseq = cs;
			}
		}
		sqlite3_finalize(st);
		salvage_rows(old, s->db, rec, &maxseq);
	} else {
		rec->unreadable_ranges++;
	}
	sqlite3_close(old);
	s->saved_seq = maxseq;
	return MM_OK;
}

/*
 * Check every record of one row. Returns the number of records found
 * damaged now; *fixed is set to a copy of the data with them flagged (or
 * cut at a record whose header no longer makes sense) when there were any.
 */
static uint64_t
check_row(const uint8_t *data, size_t len, int64_t n, struct mm_buf *fixed)
{
	size_t off = 0;
	int64_t i;
	uint64_t bad = 0;

	mm_buf_reset(fixed);
	for (i = 0; i < n; i++) {
		uint32_t rl;

		if (len - off < REC_HDR || (rl = rd32(data + off)) > len - off - REC_HDR) {
			/* Whatever follows cannot be framed: cut it. */
			bad += (uint64_t)(n - i);
			break;
		}
		if (mm_buf_append(fixed, data + off, REC_HDR + rl) != MM_OK)
			return 0;
		if (!(data[off + 10] & REC_SKIPPED) &&
		    rec_crc(data + off, data + off + REC_HDR, rl) != rd32(data + off + 4)) {
			fixed->data[fixed->len - REC_HDR - rl + 10] |= REC_SKIPPED;
			bad++;
		}
		off += REC_HDR + rl;
	}
	return bad;
}

/* Flag records whose checksum does not match (bytes changed on disk) and
 * drop rows that cannot be read at all. Counted once, here. */
static void
verify_rows(struct mm_spool *s, struct mm_spool_recovery *rec)
{
	sqlite3_stmt *st = NULL, *upd = NULL, *del = NULL;
	struct mm_buf fixed = MM_BUF_INIT;

	if (sqlite3_prepare_v2(s->db, "SELECT seq, n, ids, data FROM batch", -1, &st, NULL) !=
	            SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "UPDATE batch SET data = ? WHERE seq = ?", -1, &upd, NULL) !=
	            SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM batch WHERE seq = ?", -1, &del, NULL) !=
	            SQLITE_OK)
		goto out;
	exec(s->db, "BEGIN");
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t n = sqlite3_column_int64(st, 1);
		const uint8_t *data = sqlite3_column_blob(st, 3);
		size_t len = (size_t)sqlite3_column_bytes(st, 3);
		uint64_t bad;

		if (n < 1 || n > MM_SPOOL_MAX_ROW_EVENTS ||
		    (size_t)sqlite3_column_bytes(st, 2) != (size_t)n * ID_BYTES || data == NULL) {
			rec->corrupt_records +=
			        n >= 1 && n <= MM_SPOOL_MAX_ROW_EVENTS ? (uint64_t)n : 1;
			sqlite3_reset(del);
			sqlite3_bind_int64(del, 1, sqlite3_column_int64(st, 0));
			sqlite3_step(del);
			continue;
		}
		bad = check_row(data, len, n, &fixed);
		if (bad == 0)
			continue;
		rec->corrupt_records += bad;
		sqlite3_reset(upd);
		sqlite3_bind_blob(upd, 1, fixed.data ? (const void *)fixed.data : "",
		                  (int)fixed.len, SQLITE_TRANSIENT);
		sqlite3_bind_int64(upd, 2, sqlite3_column_int64(st, 0));
		sqlite3_step(upd);
	}
	exec(s->db, "COMMIT");
out:
	mm_buf_free(&fixed);
	sqlite3_finalize(st);
	sqlite3_finalize(upd);
	sqlite3_finalize(del);
}

/* A spool written by the first version (one row per event, table ev) is
 * carried over, one event per row. */
static void
migrate_v1(struct mm_spool *s)
{
	sqlite3_stmt *st = NULL, *ins = NULL;
	uint8_t hdr[REC_HDR], id[ID_BYTES];

	if (query_int(s->db, "SELECT count(*) FROM sqlite_master WHERE name='ev'", 0, 0) == 0)
		return;
	if (sqlite3_prepare_v2(s->db, "SELECT seq, id, kind, sev, rx, data FROM ev", -1, &st,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO batch VALUES(?,1,?,?,?,?)", -1, &ins,
	                       NULL) != SQLITE_OK)
		goto out;
	exec(s->db, "BEGIN");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const uint8_t *data = sqlite3_column_blob(st, 5);
		size_t len = (size_t)sqlite3_column_bytes(st, 5);

		if (data == NULL || id_parse(id, (const char *)sqlite3_column_text(st, 1)) != MM_OK)
			continue;
		mm_buf_reset(&s->data);
		rec_header(hdr, sqlite3_column_int(st, 2), sqlite3_column_int(st, 3), data, len);
		if (mm_buf_append(&s->data, hdr, REC_HDR) != MM_OK ||
		    mm_buf_append(&s->data, data, len) != MM_OK)
			break;
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, sqlite3_column_int64(st, 0));
		sqlite3_bind_int64(ins, 2, sqlite3_column_int64(st, 4));
		sqlite3_bind_int64(ins, 3, (sqlite3_int64)len);
		sqlite3_bind_blob(ins, 4, id, ID_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(ins, 5, s->data.data, (int)s->data.len, SQLITE_STATIC);
		sqlite3_step(ins);
	}
	exec(s->db, "DROP TABLE ev");
	exec(s->db, "COMMIT");
out:
	sqlite3_finalize(st);
	sqlite3_finalize(ins);
}

static int
mkdirs(const char *dir)
{
	char tmp[512];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp))
		return MM_ERR_INVAL;
	memcpy(tmp, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] == '/' || tmp[i] == '\0') {
			char c = tmp[i];
			tmp[i] = '\0';
			if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
				return MM_ERR_IO;
			tmp[i] = c;
		}
	}
	return MM_OK;
}

static int
prepare_all(struct mm_spool *s)
{
	/* The row holding after + 1, and the ones after it. */
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT seq, n, rx, data FROM batch WHERE seq >= "
	                       "(SELECT coalesce(max(seq), 0) FROM batch WHERE seq <= ?1 + 1)"
	                       " ORDER BY seq LIMIT ?2",
	                       -1, &s->read, NULL) != SQLITE_OK)
		return MM_ERR_IO;
	if (sqlite3_prepare_v2(s->db, "SELECT seq, pos FROM cursor WHERE name = ?", -1, &s->cur_get,
	                       NULL) != SQLITE_OK)
		return MM_ERR_IO;
	if (s->o.readonly)
		return MM_OK;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO batch VALUES(?,?,?,?,?,?)", -1, &s->put, NULL) !=
	    SQLITE_OK)
		return MM_ERR_IO;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO cursor VALUES(?,?,?)", -1,
	                       &s->cur_set, NULL) != SQLITE_OK)
		return MM_ERR_IO;
	return MM_OK;
}

static void
load_counts(struct mm_spool *s)
{
	s->nrows = (uint64_t)query_int(s->db, "SELECT coalesce(sum(n), 0) FROM batch", 0, 0);
	s->payload = (uint64_t)query_int(s->db, "SELECT coalesce(sum(bytes), 0) FROM batch", 0, 0);
}

static uint64_t
max_seq(struct mm_spool *s)
{
	return (uint64_t)query_int(s->db, "SELECT coalesce(max(seq + n - 1), 0) FROM batch", 0, 0);
}

static void
update_low(struct mm_spool *s)
{
	int64_t v = query_int(s->db, "SELECT min(seq) FROM batch", 0, 0);

	s->low = v > 0 ? (uint64_t)v : s->next_seq;
}

/* Every stored id into the dedup set. */
static int
load_ids(struct mm_spool *s)
{
	sqlite3_stmt *st = NULL;
	int rc = MM_OK;

	if (sqlite3_prepare_v2(s->db, "SELECT seq, n, ids FROM batch", -1, &st, NULL) != SQLITE_OK)
		return MM_ERR_IO;
	while (rc == MM_OK && sqlite3_step(st) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
		int64_t n = sqlite3_column_int64(st, 1), i;
		const uint8_t *ids = sqlite3_column_blob(st, 2);

		if (ids == NULL || sqlite3_column_bytes(st, 2) != n * ID_BYTES)
			continue;
		for (i = 0; i < n; i++)
			if (idset_check_add(s, ids + i * ID_BYTES, seq + (uint64_t)i) < 0) {
				rc = MM_ERR_NOMEM;
				break;
			}
	}
	sqlite3_finalize(st);
	return rc;
}

int
mm_spool_open(struct mm_spool **out, const struct mm_spool_opts *opts,
              struct mm_spool_recovery *rec)
{
	struct mm_spool *s;
	struct mm_spool_recovery dummy;
	uint64_t v;
	int rc = MM_ERR_NOMEM;

	*out = NULL;
	if (rec == NULL)
		rec = &dummy;
	memset(rec, 0, sizeof(*rec));
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return MM_ERR_NOMEM;
	s->o = *opts;
	/* SQLite takes powers of two from 512 to 65536 bytes. */
	if (s->o.page_size < 512 || s->o.page_size > 65536 ||
	    (s->o.page_size & (s->o.page_size - 1)) != 0)
		s->o.page_size = MM_SPOOL_PAGE_SIZE;
	pthread_once(&hex_once, hex_init);
	s->ids.key = (uint64_t)mm_spool_wall_ms() * 0x2545f4914f6cdd1dull ^ (uint64_t)getpid();
	if (asprintf(&s->path, "%s/spool.db", opts->dir) < 0) {
		s->path = NULL;
		goto out;
	}
	if (opts->readonly) {
		rc = open_db(&s->db, s->path, 1);
		if (rc != MM_OK)
			goto out;
	} else {
		if ((rc = mkdirs(opts->dir)) != MM_OK)
			goto out;
		rc = open_db(&s->db, s->path, 0);
		if (rc == MM_OK &&
		    (init_schema(s->db, s->o.page_size) != MM_OK || !quick_check(s->db)))
			rc = MM_ERR_PARSE;
		if (rc != MM_OK && (rc = salvage(s, rec)) != MM_OK)
			goto out;
		migrate_v1(s);
		verify_rows(s, rec);
	}
	if ((rc = prepare_all(s)) != MM_OK)
		goto out;
	if (!opts->readonly) {
		/* Checkpoints copy the WAL into the database file: the aggregator
		 * runs them between bursts (mm_spool_checkpoint), not inside
		 * the commit that an ack waits for. */
		exec(s->db, "PRAGMA wal_autocheckpoint=0");
		sqlite3_wal_hook(s->db, wal_hook, s);
	}
	s->page_size = (uint64_t)query_int(s->db, "PRAGMA page_size", 0, 4096);
	s->next_seq = max_seq(s);
	v = (uint64_t)query_int(s->db, "SELECT v FROM meta WHERE k='seq'", 0, 0);
	if (v > s->next_seq)
		s->next_seq = v;
	v = (uint64_t)query_int(s->db, "SELECT max(seq) FROM cursor", 0, 0);
	if (v > s->next_seq)
		s->next_seq = v;
	if (s->saved_seq > s->next_seq)
		s->next_seq = s->saved_seq;
	s->saved_seq = 0;
	s->next_seq++;
	load_counts(s);
	update_low(s);
	if (!opts->readonly && (rc = load_ids(s)) != MM_OK)
		goto out;
	*out = s;
	return MM_OK;
out:
	mm_spool_close(s);
	return rc;
}

void
mm_spool_close(struct mm_spool *s)
{
	if (s == NULL)
		return;
	if (s->in_txn)
		mm_spool_rollback(s);
	sqlite3_finalize(s->put);
	sqlite3_finalize(s->read);
	sqlite3_finalize(s->cur_get);
	sqlite3_finalize(s->cur_set);
	sqlite3_close(s->db);
	free(spare_take(&s->ids, 0));
	free(s->ids.t);
	mm_buf_free(&s->data);
	mm_buf_free(&s->idbuf);
	mm_buf_free(&s->parsed);
	free(s->path);
	free(s);
}

int
mm_spool_begin(struct mm_spool *s)
{
	if (s->in_txn)
		return MM_ERR_STATE;
	if (exec(s->db, "BEGIN IMMEDIATE") != MM_OK)
		return MM_ERR_IO;
	s->in_txn = 1;
	return MM_OK;
}

int
mm_spool_commit(struct mm_spool *s)
{
	if (!s->in_txn)
		return MM_ERR_STATE;
	/* The sequence high-water mark survives pruning of every row, so
	 * sequence numbers never go back below a sink cursor. */
	if (s->next_seq - 1 != s->saved_seq) {
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta VALUES('seq', ?)", -1,
		                       &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, (sqlite3_int64)(s->next_seq - 1));
			sqlite3_step(st);
		}
		sqlite3_finalize(st);
	}
	if (exec(s->db, "COMMIT") != MM_OK) {
		mm_spool_rollback(s);
		return MM_ERR_IO;
	}
	s->saved_seq = s->next_seq - 1;
	s->in_txn = 0;
	return MM_OK;
}

void
mm_spool_rollback(struct mm_spool *s)
{
	exec(s->db, "ROLLBACK");
	s->in_txn = 0;
	/* Counts may have moved inside the failed transaction. */
	load_counts(s);
	s->next_seq = max_seq(s);
	if (s->saved_seq > s->next_seq)
		s->next_seq = s->saved_seq;
	s->next_seq++;
	idset_forget_from(s, s->next_seq);
	update_low(s);
}

static uint64_t
used(const struct mm_spool *s)
{
	return s->payload + s->nrows * MM_SPOOL_ROW_OVERHEAD;
}

/* Delete every row that ends at or before upto, keeping the counts right.
 * *rows gets the events deleted. */
static int
delete_upto(struct mm_spool *s, uint64_t upto, uint64_t *rows)
{
	sqlite3_stmt *st = NULL;
	uint64_t n = 0, bytes = 0;
	int rc = MM_ERR_IO;

	*rows = 0;
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT coalesce(sum(n),0), coalesce(sum(bytes),0) FROM batch"
	                       " WHERE seq <= ?1 AND seq + n - 1 <= ?1",
	                       -1, &st, NULL) != SQLITE_OK)
		return MM_ERR_IO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)upto);
	if (sqlite3_step(st) == SQLITE_ROW) {
		n = (uint64_t)sqlite3_column_int64(st, 0);
		bytes = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (n == 0)
		return MM_OK;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM batch WHERE seq <= ?1 AND seq + n - 1 <= ?1", -1,
	                       &st, NULL) != SQLITE_OK)
		return MM_ERR_IO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)upto);
	if (sqlite3_step(st) == SQLITE_DONE) {
		s->nrows -= n < s->nrows ? n : s->nrows;
		s->payload -= bytes < s->payload ? bytes : s->payload;
		*rows = n;
		rc = MM_OK;
	}
	sqlite3_finalize(st);
	update_low(s);
	return rc;
}

int
mm_spool_make_room(struct mm_spool *s, size_t bytes, uint64_t *dropped)
{
	sqlite3_stmt *st = NULL;
	uint64_t rows, freed = 0, need, last = 0;
	int rc;

	*dropped = 0;
	if (used(s) + bytes <= s->o.max_bytes)
		return MM_OK;
	if (bytes > s->o.max_bytes)
		return MM_ERR_FULL;
	/* Delivered rows first, dedup window or not: space wins over
	 * catching a late duplicate. */
	if ((rc = delete_upto(s, s->delivered, &rows)) != MM_OK)
		return rc;
	if (used(s) + bytes <= s->o.max_bytes)
		return MM_OK;
	if (s->o.policy != MM_SPOOL_DROP_OLDEST)
		return MM_ERR_FULL;
	need = used(s) + bytes - s->o.max_bytes;
	if (sqlite3_prepare_v2(s->db, "SELECT seq, n, bytes FROM batch ORDER BY seq", -1, &st,
	                       NULL) != SQLITE_OK)
		return MM_ERR_IO;
	while (freed < need && sqlite3_step(st) == SQLITE_ROW) {
		uint64_t n = (uint64_t)sqlite3_column_int64(st, 1);
		last = (uint64_t)sqlite3_column_int64(st, 0) + n - 1;
		freed += (uint64_t)sqlite3_column_int64(st, 2) + n * MM_SPOOL_ROW_OVERHEAD;
	}
	sqlite3_finalize(st);
	if (last == 0)
		return MM_ERR_FULL;
	if ((rc = delete_upto(s, last, &rows)) != MM_OK)
		return rc;
	*dropped = rows;
	return used(s) + bytes <= s->o.max_bytes ? MM_OK : MM_ERR_FULL;
}

int
mm_spool_put_batch(struct mm_spool *s, const struct mm_spool_item *items, size_t n, uint8_t *dup,
                   uint64_t *first_seq, size_t *stored)
{
	sqlite3_stmt *st = s->put;
	uint64_t seq = s->next_seq, bytes = 0;
	uint8_t id[ID_BYTES], hdr[REC_HDR];
	const uint8_t *run = NULL, *blob; /* run: the caller's records not copied yet */
	size_t i, k = 0, run_len = 0, blob_len;
	int rc;

	*first_seq = seq;
	*stored = 0;
	if (!s->in_txn || st == NULL)
		return MM_ERR_STATE;
	if (n > MM_SPOOL_MAX_ROW_EVENTS)
		return MM_ERR_TOOBIG;
	mm_buf_reset(&s->data);
	mm_buf_reset(&s->idbuf);
	/* All ids first: a bad one then stops the batch before anything is
	 * added, and the dedup slots can be fetched ahead (the set is larger
	 * than the caches, and each lookup is a miss otherwise). */
	mm_buf_reset(&s->parsed);
	if (mm_buf_reserve(&s->parsed, n * ID_BYTES) != MM_OK)
		return MM_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		if (items[i].idb != NULL)
			memcpy(s->parsed.data + i * ID_BYTES, items[i].idb, ID_BYTES);
		else if (id_parse(s->parsed.data + i * ID_BYTES, items[i].id) != MM_OK)
			return MM_ERR_PARSE;
		if (items[i].len > UINT32_MAX - REC_HDR)
			return MM_ERR_PARSE;
	}
	for (i = 0; i < n; i++) {
		const struct mm_spool_item *it = &items[i];

		if (dup)
			dup[i] = 0;
#if defined(__GNUC__)
		if (i + PREFETCH_AHEAD < n && s->ids.cap > 0)
			__builtin_prefetch(
			        &s->ids.t[id_hash(&s->ids, s->parsed.data + (i + PREFETCH_AHEAD) *
			                                                            ID_BYTES) &
			                  (s->ids.cap - 1)]);
#endif
		memcpy(id, s->parsed.data + i * ID_BYTES, ID_BYTES);
		/* next_seq moves with each stored event so that the ids added
		 * here count as live for the rest of the batch. */
		rc = idset_check_add(s, id, seq + k);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			if (dup)
				dup[i] = 1;
			continue;
		}
		s->next_seq = seq + k + 1;
		if (it->rec != NULL && run_len > 0 && it->rec == run + run_len) {
			run_len += REC_HDR + it->len;
		} else if (mm_buf_append(&s->data, run, run_len) != MM_OK) {
			rc = MM_ERR_NOMEM;
			goto fail;
		} else if (it->rec != NULL) {
			run = it->rec;
			run_len = REC_HDR + it->len;
		} else {
			run_len = 0;
			rec_header(hdr, it->kind, it->sev, it->data, it->len);
			if (mm_buf_append(&s->data, hdr, REC_HDR) != MM_OK ||
			    mm_buf_append(&s->data, it->data, it->len) != MM_OK) {
				rc = MM_ERR_NOMEM;
				goto fail;
			}
		}
		if (mm_buf_append(&s->idbuf, id, ID_BYTES) != MM_OK) {
			rc = MM_ERR_NOMEM;
			goto fail;
		}
		bytes += it->len;
		k++;
	}
	if (k == 0)
		return MM_OK;
	/* One run of the caller's records is bound where it lies. */
	if (s->data.len == 0) {
		blob = run;
		blob_len = run_len;
	} else if (mm_buf_append(&s->data, run, run_len) != MM_OK) {
		rc = MM_ERR_NOMEM;
		goto fail;
	} else {
		blob = s->data.data;
		blob_len = s->data.len;
	}
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)k);
	sqlite3_bind_int64(st, 3, mm_spool_wall_ms());
	sqlite3_bind_int64(st, 4, (sqlite3_int64)bytes);
	sqlite3_bind_blob(st, 5, s->idbuf.data, (int)s->idbuf.len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, blob, (int)blob_len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_reset(st);
		rc = MM_ERR_IO;
		goto fail;
	}
	sqlite3_reset(st);
	s->nrows += k;
	s->payload += bytes;
	*stored = k;
	return MM_OK;
fail:
	/* The caller rolls back; until then these ids must not count. */
	s->next_seq = seq;
	idset_forget_from(s, seq);
	return rc;
}

int
mm_spool_put(struct mm_spool *s, const char *id, int kind, int sev, const uint8_t *data, size_t len,
             int *dup)
{
	struct mm_spool_item it = {id, kind, sev, data, len, NULL, NULL};
	uint64_t first;
	size_t stored;
	uint8_t d = 0;
	int rc = mm_spool_put_batch(s, &it, 1, &d, &first, &stored);

	*dup = d;
	return rc;
}

int
mm_spool_read(struct mm_spool *s, uint64_t after, size_t max,
              int (*fn)(void *arg, const struct mm_spool_row *row), void *arg)
{
	sqlite3_stmt *st = s->read;
	size_t n = 0;
	int rc = SQLITE_DONE, stop = 0;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)after);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(max + 1));
	while (!stop && n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
		int64_t cnt = sqlite3_column_int64(st, 1), i;
		int64_t rx = sqlite3_column_int64(st, 2);
		const uint8_t *data = sqlite3_column_blob(st, 3);
		size_t len = (size_t)sqlite3_column_bytes(st, 3), off = 0;

		if (cnt > MM_SPOOL_MAX_ROW_EVENTS)
			cnt = MM_SPOOL_MAX_ROW_EVENTS;
		for (i = 0; i < cnt && n < max; i++) {
			struct mm_spool_row r;
			uint32_t rl = 0;
			int framed = data != NULL && len - off >= REC_HDR &&
			             (rl = rd32(data + off)) <= len - off - REC_HDR;

			memset(&r, 0, sizeof(r));
			r.seq = seq + (uint64_t)i;
			r.rx_ms = rx;
			if (framed) {
				const uint8_t *h = data + off;
				r.kind = h[8];
				r.sev = h[9];
				r.data = h + REC_HDR;
				r.len = rl;
				r.skip = (h[10] & REC_SKIPPED) != 0;
				r.corrupt = !r.skip && rec_crc(h, r.data, rl) != rd32(h + 4);
				off += REC_HDR + rl;
			} else {
				/* Cut at start-up (counted then) when the data ends
				 * at a record boundary; damaged since otherwise. */
				r.skip = data != NULL && off == len;
				r.corrupt = !r.skip;
				off = len;
			}
			if (r.seq <= after)
				continue;
			n++;
			if (fn(arg, &r) != 0) {
				stop = 1;
				break;
			}
		}
	}
	if (!stop && n < max && rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite3_reset(st);
		return MM_ERR_IO;
	}
	sqlite3_reset(st);
	return (int)n;
}

int
mm_spool_cursor_get(struct mm_spool *s, const char *sink, uint64_t *seq, int64_t *pos)
{
	sqlite3_stmt *st = s->cur_get;
	int rc = MM_ERR_NOTFOUND;

	*seq = 0;
	*pos = 0;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, sink, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*seq = (uint64_t)sqlite3_column_int64(st, 0);
		*pos = sqlite3_column_int64(st, 1);
		rc = MM_OK;
	}
	sqlite3_reset(st);
	return rc;
}

int
mm_spool_cursor_set(struct mm_spool *s, const char *sink, uint64_t seq, int64_t pos)
{
	sqlite3_stmt *st = s->cur_set;
	int rc;

	if (st == NULL)
		return MM_ERR_STATE;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, sink, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	sqlite3_bind_int64(st, 3, pos);
	rc = sqlite3_step(st) == SQLITE_DONE ? MM_OK : MM_ERR_IO;
	sqlite3_reset(st);
	return rc;
}

void
mm_spool_set_delivered(struct mm_spool *s, uint64_t upto)
{
	s->delivered = upto;
}

int
mm_spool_prune(struct mm_spool *s, uint64_t upto)
{
	int64_t cutoff = mm_spool_wall_ms() - s->o.dedup_window_ms;
	int64_t recent;
	uint64_t rows = 0;
	int rc;

	if (upto == 0)
		return 0;
	/* rx grows with seq, so the first row still inside the dedup window
	 * bounds what may go. */
	recent = query_int(s->db, "SELECT seq FROM batch WHERE rx >= ? ORDER BY seq LIMIT 1",
	                   cutoff, 0);
	if (recent > 0 && (uint64_t)recent - 1 < upto)
		upto = (uint64_t)recent - 1;
	if (upto == 0 || upto < s->low)
		return 0;
	if ((rc = mm_spool_begin(s)) != MM_OK)
		return rc;
	if ((rc = delete_upto(s, upto, &rows)) != MM_OK) {
		mm_spool_rollback(s);
		return rc;
	}
	if ((rc = mm_spool_commit(s)) != MM_OK)
		return rc;
	return (int)(rows > INT32_MAX ? INT32_MAX : rows);
}

int
mm_spool_stats(struct mm_spool *s, struct mm_spool_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (s->o.readonly) {
		load_counts(s);
		s->next_seq = max_seq(s) + 1;
	}
	out->events = s->nrows;
	out->bytes = used(s);
	out->max_bytes = s->o.max_bytes;
	out->last_seq = s->next_seq - 1;
	out->undelivered = (uint64_t)query_int(
	        s->db,
	        "SELECT coalesce(sum(CASE WHEN seq > ?1 THEN n ELSE seq + n - 1 - ?1 END), 0)"
	        " FROM batch WHERE seq + n - 1 > ?1",
	        (int64_t)s->delivered, 0);
	out->oldest_undelivered_rx_ms =
	        query_int(s->db, "SELECT rx FROM batch WHERE seq + n - 1 > ? ORDER BY seq LIMIT 1",
	                  (int64_t)s->delivered, 0);
	return MM_OK;
}

int
mm_spool_checkpoint(struct mm_spool *s, uint64_t min_bytes)
{
	int log = 0, done = 0;

	if (s->o.readonly || s->in_txn || s->wal_frames == 0 ||
	    (uint64_t)s->wal_frames * s->page_size < min_bytes)
		return MM_OK;
	/* PASSIVE never waits for readers (events tail); what it could not
	 * copy stays in the WAL for the next round. */
	if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done) !=
	    SQLITE_OK)
		return MM_ERR_IO;
	s->wal_frames = log > done ? log - done : 0;
	return MM_OK;
}

uint64_t
mm_spool_last_seq(const struct mm_spool *s)
{
	return s->next_seq - 1;
}
