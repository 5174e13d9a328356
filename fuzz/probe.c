/*
 * fuzz/probe: libFuzzer target for what comes back from a host: the
 * probe's output (probe_parse, with the on-host record inside it) and
 * the files probe_fetch reads for diffs (probe_fetch_parse).  Both
 * parsers get the same bytes.
 *
 * Beyond "no crash, no leak", it checks what callers rely on: every path
 * parsed is found again, and a record read from a host survives being
 * written back and read again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The nonce of the seed corpus's section headers. */
#define NONCE "0123456789abcdef"
#define FETCH_FILES 4

static void
check_record(const struct record *r)
{
	struct record *again;
	char *text;

	text = record_encode(r);
	if ((again = record_parse(text, strlen(text))) == NULL ||
	    again->nres != r->nres || again->nowed != r->nowed)
		abort();
	record_free(again);
	free(text);
}

static void
check_observed(const struct observed *o)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if (observed_find(o, o->v[i].path) != &o->v[i] ||
		    strchr("fdlo", o->v[i].type) == NULL ||
		    o->v[i].mode > 07777 || o->v[i].size < 0)
			abort();
	for (i = 0; i < o->nrel; i++)
		if (observed_release(o, o->rel[i].path) == NULL)
			abort();
	for (i = 0; i < o->nsvc; i++)
		if (observed_service(o, o->svc[i].unit) == NULL)
			abort();
	if (o->rec)
		check_record(o->rec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct buf contents[FETCH_FILES];
	struct observed o;
	size_t i;

	memset(&o, 0, sizeof(o));
	if (probe_parse(&o, text, size, NONCE) == 0)
		check_observed(&o);
	observed_free(&o);

	for (i = 0; i < FETCH_FILES; i++)
		buf_init(&contents[i]);
	/* An empty output arrives as a NULL buffer, as from ssh_exec. */
	probe_fetch_parse(contents, FETCH_FILES, size ? text : NULL, size);
	for (i = 0; i < FETCH_FILES; i++)
		buf_free(&contents[i]);
	err_clear();
	return 0;
}
