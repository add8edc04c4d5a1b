/*
 * The PC-side checks: is this OS past its end of life, is an antivirus
 * present with fresh signatures (ClamAV's database age as the worked
 * example), are security updates pending (apt), is a host firewall
 * filtering inbound traffic. Every source is a path below a configurable
 * root or a configurable command, so tests run on fixture trees and never
 * see the test machine's own state. Runs in the legacy module's worker
 * process.
 */
#include "legacy.h"

#include <mimamori/error.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CMD_OUTPUT_MAX (4u << 20)
#define CVD_HEADER_LEN 512

int
legacy_clamav_header_time(int64_t *out, const char *hdr, size_t len)
{
	char buf[CVD_HEADER_LEN + 1];
	char *field[10];
	char *p;
	int n = 0;

	if (len > CVD_HEADER_LEN)
		len = CVD_HEADER_LEN;
	if (len < 11 || memcmp(hdr, "ClamAV-VDB:", 11) != 0)
		return MM_ERR_PARSE;
	memcpy(buf, hdr, len);
	buf[len] = '\0';
	/* ClamAV-VDB:build date:version:sigs:flevel:md5:dsig:builder:stime,
	 * space-padded to 512 bytes. The date uses "06-23" for the time, so
	 * the colon split is safe; stime (seconds) is the exact build time. */
	for (p = buf; n < 10;) {
		field[n++] = p;
		p = strchr(p, ':');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	if (n >= 9) {
		char *end;
		long long st = strtoll(legacy_trim(field[8]), &end, 10);
		if (end != field[8] && st > 0 && st < 7258118400LL) {
			*out = st;
			return MM_OK;
		}
	}
	if (n >= 2) {
		/* Older headers: "14 Nov 2026 06-23 +0000". */
		static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
		char mon[4] = "";
		int d, y, hh, mm;
		if (sscanf(field[1], "%d %3s %d %d-%d", &d, mon, &y, &hh, &mm) == 5) {
			const char *mp = strstr(months, mon);
			if (mp != NULL && mon[0] != '\0' && (mp - months) % 3 == 0 && y >= 1990 &&
			    y < 2200 && d >= 1 && d <= 31 && hh >= 0 && hh < 24 && mm >= 0 &&
			    mm < 60) {
				unsigned m = (unsigned)((mp - months) / 3 + 1);
				*out = legacy_days_from_civil(y, m, (unsigned)d) * 86400 +
				       hh * 3600 + mm * 60;
				return MM_OK;
			}
		}
	}
	return MM_ERR_PARSE;
}

/* Newest signature time of the ClamAV databases in dir. */
static int
clamav_check(struct legacy_pc_report *r, const char *dir)
{
	static const char *const names[] = {"daily.cld", "daily.cvd", "main.cld", "main.cvd"};
	char path[4096];
	int64_t best = -1;
	int found = 0;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char hdr[CVD_HEADER_LEN];
		struct stat st;
		int64_t t = -1;
		size_t n;
		FILE *f;

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path))
			continue;
		f = fopen(path, "rb");
		if (f == NULL)
			continue;
		found = 1;
		n = fread(hdr, 1, sizeof(hdr), f);
		/* A header without a usable date (a .cld after an incremental
		 * update keeps the header) falls back to the file time. */
		if (legacy_clamav_header_time(&t, hdr, n) != MM_OK && fstat(fileno(f), &st) == 0)
			t = (int64_t)st.st_mtime;
		fclose(f);
		if (t > best)
			best = t;
		/* daily.* is the freshness signal; main.* only counts when no
		 * daily database exists. */
		if (i == 1 && best >= 0)
			break;
	}
	legacy_strlcpy(r->av_name, "clamav", sizeof(r->av_name));
	r->av_present = found ? LEGACY_YES : LEGACY_NO;
	if (best < 0)
		return MM_ERR_NOTFOUND;
	r->av_sig_day = best / 86400;
	return MM_OK;
}

void
legacy_apt_count(int *out_total, int *out_security, const char *text, size_t len)
{
	char line[1024];
	size_t pos = 0;
	int total = 0, sec = 0;

	while (legacy_next_line(line, sizeof(line), text, len, &pos)) {
		if (strncmp(line, "Inst ", 5) != 0)
			continue;
		total++;
		/* "Inst libssl3 [3.0.11-1] (3.0.13-1~deb12u1 Debian-Security:12/stable-security
		 * [amd64])", Ubuntu: "(... Ubuntu:24.04/noble-security [amd64])". */
		if (strstr(line, "-security") != NULL || strstr(line, "Debian-Security") != NULL)
			sec++;
	}
	*out_total = total;
	*out_security = sec;
}

static int
has_word(const char *line, const char *word)
{
	size_t n = strlen(word);
	const char *p = line;

	while ((p = strstr(p, word)) != NULL) {
		int before = p == line || p[-1] == ' ' || p[-1] == '\t';
		int after = p[n] == '\0' || p[n] == ' ' || p[n] == ';' || p[n] == '\t';
		if (before && after)
			return 1;
		p += n;
	}
	return 0;
}

int
legacy_fw_parse(char *out_kind, size_t kindlen, const char *text, size_t len)
{
	char line[1024];
	size_t pos = 0;
	int nft = 0, ipt = 0, active = 0, in_input = 0;

	while (legacy_next_line(line, sizeof(line), text, len, &pos)) {
		char *s = legacy_trim(line);

		if (strncmp(s, "table ", 6) == 0)
			nft = 1;
		if (s[0] == '*' || strncmp(s, ":INPUT", 6) == 0 || strncmp(s, "-A ", 3) == 0)
			ipt = 1;
		/* nftables: a filter chain on the input hook that drops by policy
		 * or holds a drop/reject rule. */
		if (strstr(s, "hook input") != NULL) {
			in_input = 1;
			if (strstr(s, "policy drop") != NULL)
				active = 1;
			continue;
		}
		if (strncmp(s, "chain ", 6) == 0)
			in_input = 0;
		if (in_input && (has_word(s, "drop") || has_word(s, "reject")))
			active = 1;
		/* iptables-save: a dropping INPUT policy, or any DROP/REJECT rule
		 * (ufw and firewalld put theirs in chains INPUT jumps to). */
		if (strncmp(s, ":INPUT DROP", 11) == 0 || strncmp(s, ":INPUT REJECT", 13) == 0)
			active = 1;
		if (strncmp(s, "-A ", 3) == 0 &&
		    (strstr(s, "-j DROP") != NULL || strstr(s, "-j REJECT") != NULL))
			active = 1;
	}
	legacy_strlcpy(out_kind, nft ? "nftables" : ipt ? "iptables" : "", kindlen);
	return active;
}

/* Read a source: the file below root when configured, else the command's
 * output on the live system only. */
static int
read_source(char **out, size_t *out_len, const char *root, const char *file, const char *command)
{
	char path[4096];
	char *buf = NULL;
	size_t n = 0;
	FILE *p;
	int status;

	*out = NULL;
	*out_len = 0;
	if (file != NULL && file[0] != '\0') {
		legacy_path(path, sizeof(path), root, file);
		return legacy_read_file(out, out_len, path, CMD_OUTPUT_MAX);
	}
	if (command == NULL || command[0] == '\0' || (root != NULL && strcmp(root, "/") != 0))
		return MM_ERR_NOTFOUND;
	p = popen(command, "r");
	if (p == NULL)
		return MM_ERR_IO;
	buf = malloc(CMD_OUTPUT_MAX + 1);
	if (buf == NULL) {
		pclose(p);
		return MM_ERR_NOMEM;
	}
	n = fread(buf, 1, CMD_OUTPUT_MAX, p);
	/* Drain what is left so the child is not killed by SIGPIPE mid-way. */
	while (fgetc(p) != EOF)
		;
	status = pclose(p);
	buf[n] = '\0';
	if (status != 0 && n == 0) {
		free(buf);
		return MM_ERR_IO;
	}
	*out = buf;
	*out_len = n;
	return MM_OK;
}

static void
eol_check(struct legacy_pc_report *r, const struct legacy_eol *eol, int64_t now_s)
{
	const struct legacy_eol_entry *e;
	char like[sizeof(r->os.id_like)];
	char *tok, *save = NULL;

	e = legacy_eol_find(eol, r->os.id, r->os.version_id);
	if (e == NULL) {
		/* Derivatives (Rocky, Alma, Mint...) fall back to what they are
		 * like, in the order os-release lists. */
		legacy_strlcpy(like, r->os.id_like, sizeof(like));
		for (tok = strtok_r(like, " ", &save); tok != NULL && e == NULL;
		     tok = strtok_r(NULL, " ", &save))
			e = legacy_eol_find(eol, tok, r->os.version_id);
	}
	if (e == NULL)
		return;
	r->eol_known = 1;
	r->eol_past = now_s / 86400 > e->eol_day;
	legacy_strlcpy(r->eol_product, e->product, sizeof(r->eol_product));
	legacy_strlcpy(r->eol_version, e->version, sizeof(r->eol_version));
	legacy_format_date(r->eol_date, sizeof(r->eol_date), e->eol_day);
	legacy_strlcpy(r->eol_source, e->source, sizeof(r->eol_source));
}

int
legacy_pc_check(struct legacy_pc_report *out, const struct legacy_pc_opts *opts,
                const struct legacy_eol *eol, int64_t now_s)
{
	const char *root = opts->root != NULL ? opts->root : "/";
	char path[4096];
	char *text = NULL;
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	out->av_present = LEGACY_UNKNOWN;
	out->av_sig_day = -1;
	out->av_age_days = -1;
	out->fw_active = LEGACY_UNKNOWN;

	legacy_platform_os(&out->os, root);
	eol_check(out, eol, now_s);

	legacy_path(path, sizeof(path), root,
	            opts->clamav_dir != NULL ? opts->clamav_dir : "var/lib/clamav");
	if (clamav_check(out, path) == MM_OK) {
		out->av_age_days = now_s / 86400 - out->av_sig_day;
		if (out->av_age_days < 0)
			out->av_age_days = 0;
		out->av_stale = out->av_age_days > opts->av_max_age_days;
	}

	if (read_source(&text, &len, root, opts->apt_file, opts->apt_command) == MM_OK) {
		out->updates_known = 1;
		legacy_apt_count(&out->updates_total, &out->updates_security, text, len);
		free(text);
		text = NULL;
	}
	if (read_source(&text, &len, root, opts->fw_file, opts->fw_command) == MM_OK) {
		out->fw_active = legacy_fw_parse(out->fw_kind, sizeof(out->fw_kind), text, len)
		                         ? LEGACY_YES
		                         : LEGACY_NO;
		free(text);
	}
	return MM_OK;
}
