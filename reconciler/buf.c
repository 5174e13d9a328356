/* buf: the growable byte buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
buf_grow(struct buf *b, size_t extra)
{
	GROW(b->data, b->len + extra + 1, b->cap);
}

void
buf_add(struct buf *b, const void *data, size_t len)
{
	buf_grow(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addch(struct buf *b, int c)
{
	char ch = (char)c;

	buf_add(b, &ch, 1);
}

void
buf_insert(struct buf *b, size_t pos, const char *s)
{
	size_t n = strlen(s);

	if (pos >= b->len) {
		buf_adds(b, s);
		return;
	}
	buf_grow(b, n);
	memmove(b->data + pos + n, b->data + pos, b->len - pos + 1);
	memcpy(b->data + pos, s, n);
	b->len += n;
}

void
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	buf_grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

char *
buf_detach(struct buf *b, size_t *len)
{
	char *p;

	/* An empty buffer has no array yet: the one made here needs its
	 * NUL, or the caller gets eight bytes of garbage for "". */
	buf_grow(b, 0);
	b->data[b->len] = '\0';
	p = b->data;
	if (len)
		*len = b->len;
	buf_init(b);
	return p;
}

const char *
buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}
