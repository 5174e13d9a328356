/*
 * diag: a list of positioned diagnostics, printed compiler-style as
 * FILE:LINE:COL: error: MESSAGE.  Validation collects every error it finds
 * into one list instead of stopping at the first.
 */
#ifndef TEND_DIAG_H
#define TEND_DIAG_H

#include <stdio.h>

#include "util.h"

struct diag {
	char *file;		/* owned */
	int line;		/* 1-based; 0 when the file as a whole */
	int col;		/* 1-based; 0 when unknown */
	char *msg;		/* owned */
};

/* At most this many are kept; the rest are only counted. */
#define DIAGS_MAX 200

struct diags {
	struct diag *v;
	size_t n, cap;
	size_t dropped;			/* past DIAGS_MAX */
};

#define DIAGS_INIT { NULL, 0, 0, 0 }

void diags_add(struct diags *d, const char *file, int line, int col,
    const char *fmt, ...) PRINTF_LIKE(5, 6);
/* Sort by file, line, column, drop exact duplicates, print each with
 * control characters escaped; returns how many lines it printed. */
size_t diags_print(struct diags *d, FILE *out);
void diags_free(struct diags *d);

#endif
