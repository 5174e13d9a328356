/*
 * shell: the one way tend builds text for a remote POSIX shell.  Every
 * value that goes into a remote command passes through sh_quote, so
 * spaces, quotes, $, backquotes, newlines and any other bytes arrive
 * literally.
 */
#ifndef TEND_SHELL_H
#define TEND_SHELL_H

#include "buf.h"

/* Append s as one single-quoted shell word. */
void sh_quote(struct buf *b, const char *s);
/* Append fmt where each %Q takes a const char * to quote; %s, %d, %u,
 * %o (as 4 digits), %zu, %ld and %% work as in printf (for values tend itself made). */
void sh_addf(struct buf *b, const char *fmt, ...);

#endif
