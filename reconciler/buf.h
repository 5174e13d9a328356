/*
 * buf: the one growable byte buffer.  Always NUL-terminated, so data can
 * be used as a C string when it holds text.
 *
 *	struct buf b = BUF_INIT;
 *	buf_addf(&b, "%s:%d", file, line);
 *	use(b.data);
 *	buf_free(&b);
 *
 * The buffer owns data until buf_detach() hands it to the caller.
 */
#ifndef TEND_BUF_H
#define TEND_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "util.h"

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addch(struct buf *b, int c);
/* Insert s at byte offset pos (at most len). */
void buf_insert(struct buf *b, size_t pos, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
void buf_vaddf(struct buf *b, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
/* Give the caller the data (free() it); the buffer is empty after. */
char *buf_detach(struct buf *b, size_t *len);
/* A C string for the buffer's contents, "" when empty; owned by b. */
const char *buf_str(const struct buf *b);

#endif
