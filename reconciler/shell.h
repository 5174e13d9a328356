/*
 * shell: the one way tend builds text for a remote POSIX shell.  Every
 * value that goes into a remote command passes through sh_quote, so
 * spaces, quotes, $, backquotes, newlines and any other bytes arrive
 * literally (C strings hold no NUL, the one byte no shell word can).
 *
 * Quoting keeps a word one word, not from reading as an option: every
 * command that takes a path or name from a manifest, a repository or a
 * host gets it after "--" (sh -c -- CMD, rm -f -- PATH, systemctl start
 * -- UNIT), or in a place no option can be (a redirection, [ -f PATH ]).
 * tests/unit/t-shell.c runs every byte through dash and bash.
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
