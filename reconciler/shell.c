/* shell: quoting for remote shells. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "shell.h"

void
sh_quote(struct buf *b, const char *s)
{
	/* Inside '...' every byte is literal except ' itself: '\'' */
	buf_addch(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_adds(b, "'\\''");
		else
			buf_addch(b, *s);
	}
	buf_addch(b, '\'');
}

void
sh_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	const char *p;

	va_start(ap, fmt);
	for (p = fmt; *p; p++) {
		if (*p != '%') {
			buf_addch(b, *p);
			continue;
		}
		switch (*++p) {
		case 'Q':
			sh_quote(b, va_arg(ap, const char *));
			break;
		case 's':
			buf_adds(b, va_arg(ap, const char *));
			break;
		case 'd':
			buf_addf(b, "%d", va_arg(ap, int));
			break;
		case 'u':
			buf_addf(b, "%u", va_arg(ap, unsigned));
			break;
		case 'o':
			buf_addf(b, "%04o", va_arg(ap, unsigned));
			break;
		case 'z':
			p++;	/* %zu */
			buf_addf(b, "%zu", va_arg(ap, size_t));
			break;
		case 'l':
			p++;	/* %ld */
			buf_addf(b, "%ld", va_arg(ap, long));
			break;
		case '%':
			buf_addch(b, '%');
			break;
		default:
			bug("sh_addf: bad format '%%%c'", *p);
		}
	}
	va_end(ap);
}
