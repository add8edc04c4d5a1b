/*
 * Helpers shared by the attach plugin's tests: reading files, building a
 * test mail around attachments (base64), and running external tools.
 */
#ifndef MM_ATTACH_TEST_UTIL_H
#define MM_ATTACH_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline uint8_t *
tu_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;
	*len = 0;
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = 0;
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

static inline const char *
tu_env(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

/* Appends base64 of data to out (76-char lines). */
static inline size_t
tu_b64(char *out, const uint8_t *d, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, col = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) |
		             (i + 2 < n ? d[i + 2] : 0);
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
		if ((col += 4) >= 76) {
			out[o++] = '\r';
			out[o++] = '\n';
			col = 0;
		}
	}
	out[o++] = '\r';
	out[o++] = '\n';
	out[o] = 0;
	return o;
}

/* A multipart/mixed mail with a text body and one attachment. */
static inline char *
tu_mail(size_t *len, const char *subject, const char *from, const char *body, const char *name,
        const char *mime, const uint8_t *data, size_t n)
{
	size_t cap = 4096 + strlen(body) + strlen(subject) + n * 2;
	char *m = malloc(cap);
	int o;
	*len = 0;
	if (m == NULL)
		return NULL;
	o = snprintf(m, cap,
	             "From: %s\r\nTo: user@example.jp\r\nSubject: %s\r\n"
	             "Message-ID: <test-1@example.jp>\r\nMIME-Version: 1.0\r\n"
	             "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
	             "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"
	             "--b1\r\nContent-Type: %s; name=\"%s\"\r\n"
	             "Content-Disposition: attachment; filename=\"%s\"\r\n"
	             "Content-Transfer-Encoding: base64\r\n\r\n",
	             from, subject, body, mime, name, name);
	o += (int)tu_b64(m + o, data, n);
	o += snprintf(m + o, cap - (size_t)o, "--b1--\r\n");
	*len = (size_t)o;
	return m;
}

#endif
