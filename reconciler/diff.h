/*
 * diff: unified diffs of text, for showing what a file change does.
 */
#ifndef TEND_DIFF_H
#define TEND_DIFF_H

#include "buf.h"

/* Whether data looks like text: no NUL bytes, valid UTF-8. */
int diff_is_text(const char *data, size_t len);

/*
 * Append to out a unified diff (3 lines of context, "@@" hunk headers)
 * of old and new, each line prefixed with indent.  Lines are marked with
 * a leading '-', '+' or ' '.  Returns 0, or -1 (nothing appended) when
 * the files are too large to compare line by line.
 */
int diff_unified(struct buf *out, const char *old, size_t oldlen,
    const char *new, size_t newlen, const char *indent);

#endif
