/*
 * Growable byte buffer. Runs in every mimamori process.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mimamori/error.h"

int
mm_buf_reserve(struct mm_buf *b, size_t n)
{
	size_t want, cap;
	uint8_t *p;

	if (n > SIZE_MAX - b->len - 1)
		return MM_ERR_NOMEM;
	want = b->len + n + 1; /* room for a terminating NUL */
	if (want <= b->cap)
		return MM_OK;
	cap = b->cap ? b->cap : 64;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return MM_ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return MM_OK;
}

int
mm_buf_append(struct mm_buf *b, const void *data, size_t n)
{
	int rc = mm_buf_reserve(b, n);

	if (rc != MM_OK)
		return rc;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	return MM_OK;
}

int
mm_buf_putc(struct mm_buf *b, char c)
{
	return mm_buf_append(b, &c, 1);
}

int
mm_buf_puts(struct mm_buf *b, const char *s)
{
	return mm_buf_append(b, s, strlen(s));
}

int
mm_buf_printf(struct mm_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MM_ERR_INVAL;
	rc = mm_buf_reserve(b, (size_t)n);
	if (rc != MM_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return MM_OK;
}

const char *
mm_buf_cstr(struct mm_buf *b)
{
	if (mm_buf_reserve(b, 0) != MM_OK)
		return "";
	b->data[b->len] = '\0';
	return (const char *)b->data;
}

void
mm_buf_reset(struct mm_buf *b)
{
	b->len = 0;
}

void
mm_buf_free(struct mm_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
