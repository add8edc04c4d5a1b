/*
 * A growable byte buffer used across the host (encoding, JSON, messages).
 */
#ifndef MM_CORE_BUF_H
#define MM_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct mm_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

#define MM_BUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/** Make room for n more bytes. Returns MM_OK or MM_ERR_NOMEM. */
int mm_buf_reserve(struct mm_buf *b, size_t n);
int mm_buf_append(struct mm_buf *b, const void *data, size_t n);
int mm_buf_putc(struct mm_buf *b, char c);
int mm_buf_puts(struct mm_buf *b, const char *s);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int
mm_buf_printf(struct mm_buf *b, const char *fmt, ...);
/** NUL-terminate without counting the NUL in len; returns the data. */
const char *mm_buf_cstr(struct mm_buf *b);
void mm_buf_reset(struct mm_buf *b);
void mm_buf_free(struct mm_buf *b);

#endif
