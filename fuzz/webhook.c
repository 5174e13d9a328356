/*
 * fuzz/webhook: libFuzzer target for webhook deliveries: hook_verify and
 * hook_parse for each forge, on headers and a body from the input.
 *
 * Input: header lines "Name: value" up to an empty line, then the body,
 * as on the wire.  Two header values are placeholders the fuzzer could
 * never guess: "@sign" becomes the body's HMAC-SHA256 under the fixed
 * secret (after "sha256=" when it starts so), "@secret" the secret; the
 * seed corpus uses them to reach past verification.
 *
 * Beyond "no crash, no leak", it checks the promises of hooks.h: an empty
 * secret never verifies, and a parsed push has a ref and a 40-digit
 * lower-case commit id.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "hooks.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "It's a Secret to Everybody"
#define MAX_HEADERS 32

struct hdrs {
	char *name[MAX_HEADERS];
	char *value[MAX_HEADERS];
	size_t n;
};

static const char *
lookup(void *ctx, const char *name)
{
	struct hdrs *h = ctx;
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->name[i], name) == 0)
			return h->value[i];
	return NULL;
}

static char *
hmac_hex(const char *prefix, const char *body, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	struct buf b = BUF_INIT;

	if (HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
	    (const unsigned char *)(body ? body : ""), len, md, &n) == NULL)
		abort();
	buf_adds(&b, prefix);
	for (i = 0; i < n; i++)
		buf_addf(&b, "%02x", md[i]);
	return buf_detach(&b, NULL);
}

/* Split "Name: value" lines off the front; returns the body's offset. */
static size_t
split(struct hdrs *h, const char *s, size_t len, const char **body)
{
	size_t off = 0;

	while (off < len) {
		const char *nl = memchr(s + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - s) : len, lend = end;
		const char *colon;

		if (lend > off && s[lend - 1] == '\r')
			lend--;
		if (lend == off) {		/* the empty line */
			off = end + 1;
			break;
		}
		colon = memchr(s + off, ':', lend - off);
		if (colon && h->n < MAX_HEADERS) {
			const char *v = colon + 1;

			while (v < s + lend && (*v == ' ' || *v == '\t'))
				v++;
			h->name[h->n] = xstrndup(s + off,
			    (size_t)(colon - (s + off)));
			h->value[h->n] = xstrndup(v, (size_t)(s + lend - v));
			h->n++;
		}
		off = end + 1;
	}
	if (off > len)
		off = len;
	*body = off < len ? s + off : NULL;
	return off;
}

static void
check_event(const struct hook_event *ev, enum forge f)
{
	size_t i;

	if (ev->forge != f || memchr(ev->kind, '\0', sizeof(ev->kind)) == NULL
	    || memchr(ev->delivery, '\0', sizeof(ev->delivery)) == NULL)
		abort();
	if (strcmp(ev->kind, "push") != 0)
		return;
	if (ev->ref == NULL || *ev->ref == '\0' || strlen(ev->after) != 40)
		abort();
	for (i = 0; i < 40; i++)
		if (strchr("0123456789abcdef", ev->after[i]) == NULL)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hdrs h;
	struct hook_event ev;
	const char *body;
	size_t i, off, len;
	int f;

	memset(&h, 0, sizeof(h));
	off = split(&h, (const char *)data, size, &body);
	/* An empty body arrives as a NULL buffer, as from httpd. */
	len = body ? size - off : 0;
	for (i = 0; i < h.n; i++) {
		char *v = NULL;

		if (strcmp(h.value[i], "@secret") == 0)
			v = xstrdup(SECRET);
		else if (strcmp(h.value[i], "@sign") == 0)
			v = hmac_hex("", body, len);
		else if (strcmp(h.value[i], "sha256=@sign") == 0)
			v = hmac_hex("sha256=", body, len);
		if (v) {
			free(h.value[i]);
			h.value[i] = v;
		}
	}
	for (f = 0; f < FORGE_COUNT; f++) {
		if (hook_verify((enum forge)f, "", lookup, &h, body, len) == 0)
			abort();
		hook_verify((enum forge)f, SECRET, lookup, &h, body, len);
		/* Parsed whatever the verdict: no input may break it. */
		if (hook_parse((enum forge)f, lookup, &h, body, len, &ev) == 0) {
			check_event(&ev, (enum forge)f);
			hook_event_free(&ev);
		}
	}
	for (i = 0; i < h.n; i++) {
		free(h.name[i]);
		free(h.value[i]);
	}
	err_clear();
	return 0;
}
