/*
 * The durable spool of the aggregator (SQLite, WAL, synchronous=FULL).
 * Every row carries a CRC-32 of its payload, so bytes flipped on disk that
 * SQLite itself cannot notice are caught; a file SQLite reports as damaged
 * is moved aside at start-up and everything still readable is copied into
 * a fresh one. Both are counted, never fatal.
 *
 * Writes run in the aggregator process; `events tail` and `status` open the
 * spool read-only from the CLI.
 */
#include "spool.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "mimamori/error.h"

#define SALVAGE_MAX_GAPS 10000 /* damaged regions probed before giving up */

struct mm_spool {
	sqlite3 *db;
	char *path;
	struct mm_spool_opts o;
	sqlite3_stmt *put, *read, *cur_get, *cur_set;
	uint64_t next_seq, saved_seq;
	uint64_t nrows, payload;
	uint64_t delivered;
	int in_txn;
};

static const char SCHEMA[] =
        "CREATE TABLE IF NOT EXISTS ev(seq INTEGER PRIMARY KEY, id TEXT NOT NULL,"
        " kind INTEGER, sev INTEGER, rx INTEGER, crc INTEGER, data BLOB NOT NULL);"
        "CREATE UNIQUE INDEX IF NOT EXISTS ev_id ON ev(id);"
        "CREATE TABLE IF NOT EXISTS cursor(name TEXT PRIMARY KEY, seq INTEGER, pos INTEGER);"
        "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER);";

uint32_t
mm_spool_crc32(const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	static int ready;
	uint32_t c = 0xffffffffu;
	size_t i;

	if (!ready) {
		for (i = 0; i < 256; i++) {
			uint32_t v = (uint32_t)i;
			int k;
			for (k = 0; k < 8; k++)
				v = (v & 1) ? 0xedb88320u ^ (v >> 1) : v >> 1;
			table[i] = v;
		}
		ready = 1;
	}
	for (i = 0; i < n; i++)
		c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

int64_t
mm_spool_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
init_schema(sqlite3 *db)
{
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
	uint64_t last = 0;
	int gaps = 0, n = 0;

	if (sqlite3_prepare_v2(old,
	                       "SELECT seq, id, kind, sev, rx, crc, data FROM ev WHERE seq > ?"
	                       " ORDER BY seq",
	                       -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(old, "SELECT seq FROM ev WHERE seq > ? ORDER BY seq LIMIT 1", -1,
	                       &probe, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO ev VALUES(?,?,?,?,?,?,?)", -1, &ins,
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
			const void *data = sqlite3_column_blob(sel, 6);
			int len = sqlite3_column_bytes(sel, 6);
			const unsigned char *id = sqlite3_column_text(sel, 1);
			int c;

			last = seq;
			if (data == NULL || id == NULL ||
			    strlen((const char *)id) != MM_EVENT_ID_LEN ||
			    mm_spool_crc32(data, (size_t)len) !=
			            (uint32_t)sqlite3_column_int64(sel, 5)) {
				rec->corrupt_records++;
				continue;
			}
			sqlite3_reset(ins);
			for (c = 0; c < 7; c++)
				sqlite3_bind_value(ins, c + 1, sqlite3_column_value(sel, c));
			sqlite3_step(ins);
			if (++n % 10000 == 0) {
				exec(db, "COMMIT");
				exec(db, "BEGIN");
			}
		}
		if (rc == SQLITE_DONE)
			break;
		/* A damaged page: find the next sequence number we can reach,
		 * looking further ahead each time. */
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
		rec->unreadable_events += next - last - 1;
		last = next - 1;
	}
	exec(db, "COMMIT");
out:
	if (last > *maxseq)
		*maxseq = last;
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
	if ((rc = init_schema(s->db)) != MM_OK)
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

/* Drop rows whose checksum does not match: bytes changed on disk. */
static void
verify_rows(struct mm_spool *s, struct mm_spool_recovery *rec)
{
	sqlite3_stmt *st = NULL, *del = NULL;

	if (sqlite3_prepare_v2(s->db, "SELECT seq, id, crc, data FROM ev", -1, &st, NULL) !=
	            SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM ev WHERE seq = ?", -1, &del, NULL) != SQLITE_OK)
		goto out;
	exec(s->db, "BEGIN");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const void *data = sqlite3_column_blob(st, 3);
		int len = sqlite3_column_bytes(st, 3);
		const unsigned char *id = sqlite3_column_text(st, 1);

		if (data != NULL && id != NULL && strlen((const char *)id) == MM_EVENT_ID_LEN &&
		    mm_spool_crc32(data, (size_t)len) == (uint32_t)sqlite3_column_int64(st, 2))
			continue;
		rec->corrupt_records++;
		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, sqlite3_column_int64(st, 0));
		sqlite3_step(del);
	}
	exec(s->db, "COMMIT");
out:
	sqlite3_finalize(st);
	sqlite3_finalize(del);
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
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT seq, rx, kind, sev, crc, data FROM ev WHERE seq > ?"
	                       " ORDER BY seq LIMIT ?",
	                       -1, &s->read, NULL) != SQLITE_OK)
		return MM_ERR_IO;
	if (sqlite3_prepare_v2(s->db, "SELECT seq, pos FROM cursor WHERE name = ?", -1, &s->cur_get,
	                       NULL) != SQLITE_OK)
		return MM_ERR_IO;
	if (s->o.readonly)
		return MM_OK;
	if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO ev VALUES(?,?,?,?,?,?,?)", -1, &s->put,
	                       NULL) != SQLITE_OK)
		return MM_ERR_IO;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO cursor VALUES(?,?,?)", -1,
	                       &s->cur_set, NULL) != SQLITE_OK)
		return MM_ERR_IO;
	return MM_OK;
}

int
mm_spool_open(struct mm_spool **out, const struct mm_spool_opts *opts,
              struct mm_spool_recovery *rec)
{
	struct mm_spool *s;
	struct mm_spool_recovery dummy;
	int64_t v;
	int rc = MM_ERR_NOMEM;

	*out = NULL;
	if (rec == NULL)
		rec = &dummy;
	memset(rec, 0, sizeof(*rec));
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return MM_ERR_NOMEM;
	s->o = *opts;
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
		if (rc == MM_OK && (init_schema(s->db) != MM_OK || !quick_check(s->db)))
			rc = MM_ERR_PARSE;
		if (rc != MM_OK && (rc = salvage(s, rec)) != MM_OK)
			goto out;
		verify_rows(s, rec);
	}
	if ((rc = prepare_all(s)) != MM_OK)
		goto out;
	v = query_int(s->db, "SELECT max(seq) FROM ev", 0, 0);
	s->next_seq = (uint64_t)v;
	v = query_int(s->db, "SELECT v FROM meta WHERE k='seq'", 0, 0);
	if ((uint64_t)v > s->next_seq)
		s->next_seq = (uint64_t)v;
	v = query_int(s->db, "SELECT max(seq) FROM cursor", 0, 0);
	if ((uint64_t)v > s->next_seq)
		s->next_seq = (uint64_t)v;
	if (s->saved_seq > s->next_seq)
		s->next_seq = s->saved_seq;
	s->saved_seq = 0;
	s->next_seq++;
	s->nrows = (uint64_t)query_int(s->db, "SELECT count(*) FROM ev", 0, 0);
	s->payload = (uint64_t)query_int(s->db, "SELECT sum(length(data)) FROM ev", 0, 0);
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
	s->nrows = (uint64_t)query_int(s->db, "SELECT count(*) FROM ev", 0, 0);
	s->payload = (uint64_t)query_int(s->db, "SELECT sum(length(data)) FROM ev", 0, 0);
	s->next_seq = (uint64_t)query_int(s->db, "SELECT max(seq) FROM ev", 0, 0);
	if (s->saved_seq > s->next_seq)
		s->next_seq = s->saved_seq;
	s->next_seq++;
}

static uint64_t
used(const struct mm_spool *s)
{
	return s->payload + s->nrows * MM_SPOOL_ROW_OVERHEAD;
}

/* Delete every row with seq <= upto, keeping the counts right. */
static int
delete_upto(struct mm_spool *s, uint64_t upto, uint64_t *rows)
{
	sqlite3_stmt *st = NULL;
	uint64_t n = 0, bytes = 0;
	int rc = MM_ERR_IO;

	*rows = 0;
	if (sqlite3_prepare_v2(
	            s->db, "SELECT count(*), coalesce(sum(length(data)),0) FROM ev WHERE seq <= ?",
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
	if (sqlite3_prepare_v2(s->db, "DELETE FROM ev WHERE seq <= ?", -1, &st, NULL) != SQLITE_OK)
		return MM_ERR_IO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)upto);
	if (sqlite3_step(st) == SQLITE_DONE) {
		s->nrows -= n < s->nrows ? n : s->nrows;
		s->payload -= bytes < s->payload ? bytes : s->payload;
		*rows = n;
		rc = MM_OK;
	}
	sqlite3_finalize(st);
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
	if (sqlite3_prepare_v2(s->db, "SELECT seq, length(data) FROM ev ORDER BY seq", -1, &st,
	                       NULL) != SQLITE_OK)
		return MM_ERR_IO;
	while (freed < need && sqlite3_step(st) == SQLITE_ROW) {
		last = (uint64_t)sqlite3_column_int64(st, 0);
		freed += (uint64_t)sqlite3_column_int64(st, 1) + MM_SPOOL_ROW_OVERHEAD;
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
mm_spool_put(struct mm_spool *s, const char *id, int kind, int sev, const uint8_t *data, size_t len,
             int *dup)
{
	sqlite3_stmt *st = s->put;

	*dup = 0;
	if (!s->in_txn || st == NULL)
		return MM_ERR_STATE;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)s->next_seq);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, kind);
	sqlite3_bind_int(st, 4, sev);
	sqlite3_bind_int64(st, 5, mm_spool_wall_ms());
	sqlite3_bind_int64(st, 6, (sqlite3_int64)mm_spool_crc32(data, len));
	sqlite3_bind_blob(st, 7, data, (int)len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return MM_ERR_IO;
	if (sqlite3_changes(s->db) == 0) {
		*dup = 1;
		return MM_OK;
	}
	s->next_seq++;
	s->nrows++;
	s->payload += len;
	return MM_OK;
}

int
mm_spool_read(struct mm_spool *s, uint64_t after, size_t max,
              int (*fn)(void *arg, const struct mm_spool_row *row), void *arg)
{
	sqlite3_stmt *st = s->read;
	int n = 0, rc;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)after);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mm_spool_row r;

		r.seq = (uint64_t)sqlite3_column_int64(st, 0);
		r.rx_ms = sqlite3_column_int64(st, 1);
		r.kind = sqlite3_column_int(st, 2);
		r.sev = sqlite3_column_int(st, 3);
		r.data = sqlite3_column_blob(st, 5);
		r.len = (size_t)sqlite3_column_bytes(st, 5);
		r.corrupt = r.data == NULL ||
		            mm_spool_crc32(r.data, r.len) != (uint32_t)sqlite3_column_int64(st, 4);
		n++;
		if (fn(arg, &r) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite3_reset(st);
		return MM_ERR_IO;
	}
	sqlite3_reset(st);
	return n;
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

	if (st == NULL)
		return MM_ERR_STATE;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, sink, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	sqlite3_bind_int64(st, 3, pos);
	return sqlite3_step(st) == SQLITE_DONE ? MM_OK : MM_ERR_IO;
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
	 * bounds what may go; the scan stops there. */
	recent = query_int(s->db, "SELECT seq FROM ev WHERE rx >= ? ORDER BY seq LIMIT 1", cutoff,
	                   0);
	if (recent > 0 && (uint64_t)recent - 1 < upto)
		upto = (uint64_t)recent - 1;
	if (upto == 0)
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
		s->nrows = (uint64_t)query_int(s->db, "SELECT count(*) FROM ev", 0, 0);
		s->payload = (uint64_t)query_int(s->db, "SELECT sum(length(data)) FROM ev", 0, 0);
	}
	out->events = s->nrows;
	out->bytes = used(s);
	out->max_bytes = s->o.max_bytes;
	out->last_seq = s->next_seq - 1;
	out->undelivered = (uint64_t)query_int(s->db, "SELECT count(*) FROM ev WHERE seq > ?",
	                                       (int64_t)s->delivered, 0);
	out->oldest_undelivered_rx_ms =
	        query_int(s->db, "SELECT rx FROM ev WHERE seq > ? ORDER BY seq LIMIT 1",
	                  (int64_t)s->delivered, 0);
	return MM_OK;
}

uint64_t
mm_spool_last_seq(const struct mm_spool *s)
{
	return s->next_seq - 1;
}
