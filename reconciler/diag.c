/* diag: collected, positioned diagnostics. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

void
diags_add(struct diags *d, const char *file, int line, int col,
    const char *fmt, ...)
{
	struct diag *g;
	va_list ap;

	if (d->n >= DIAGS_MAX) {
		d->dropped++;
		return;
	}
	GROW(d->v, d->n + 1, d->cap);
	g = &d->v[d->n++];
	g->file = xstrdup(file);
	g->line = line;
	g->col = col;
	va_start(ap, fmt);
	g->msg = xvasprintf(fmt, ap);
	va_end(ap);
}

static int
diag_cmp(const void *a, const void *b)
{
	const struct diag *x = a, *y = b;
	int c;

	if ((c = strcmp(x->file, y->file)) != 0)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return strcmp(x->msg, y->msg);
}

/* A message as one safe line: control bytes escaped, length bounded, so
 * a value echoed from a hostile manifest cannot forge output. */
static void
print_msg(FILE *out, const char *msg)
{
	size_t n = 0;

	for (; *msg && n < 400; msg++, n++) {
		unsigned char ch = (unsigned char)*msg;

		if (ch == '\n')
			fputs("\\n", out);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(out, "\\x%02x", ch);
		else
			fputc(ch, out);
	}
	if (*msg)
		fputs("...", out);
	fputc('\n', out);
}

size_t
diags_print(struct diags *d, FILE *out)
{
	size_t i, printed = 0;

	/* Stable order, so output is the same from run to run.  An empty
	 * list has no array, and qsort must not be handed NULL. */
	if (d->n > 1)
		qsort(d->v, d->n, sizeof(*d->v), diag_cmp);
	for (i = 0; i < d->n; i++) {
		struct diag *g = &d->v[i];

		if (i > 0 && diag_cmp(g, &d->v[i - 1]) == 0)
			continue;
		if (g->line > 0)
			fprintf(out, "%s:%d:%d: error: ", g->file, g->line,
			    g->col);
		else
			fprintf(out, "%s: error: ", g->file);
		print_msg(out, g->msg);
		printed++;
	}
	if (d->dropped)
		fprintf(out, "... and %zu more error%s not shown\n", d->dropped,
		    d->dropped == 1 ? "" : "s");
	return printed + d->dropped;
}

void
diags_free(struct diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = d->dropped = 0;
}
